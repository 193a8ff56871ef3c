/**
 * Connections you open: a client's socket as the same blocking-style
 * `Connection` a server's handler gets — `readLine`, `read(decoder)`,
 * `writeLine`, `startTls`, the same typed errors — over TCP, TLS or a Unix
 * socket, closed when the scope that opened it closes, as a server's
 * connection is (flush, FIN, lingering close; a reset if interrupted).
 *
 * **Example** (A request and its reply)
 *
 * ```ts
 * const reply = Effect.scoped(Effect.gen(function*() {
 *   const conn = yield* LineClient.connect({ host: "127.0.0.1", port: 7000, connectTimeout: "2 seconds" })
 *   yield* conn.writeLine("hello")
 *   return yield* conn.readLine
 * }))
 * ```
 *
 * A failed connect is one `ConnectError` whose `reason` says why (refused,
 * timed out, host not found, the server's certificate did not verify, or
 * another system error); retry it with a `Schedule`:
 * `Effect.retry(connect, { schedule, while: (e) => e._tag === "ConnectError" })`.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import type * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import type * as Duration from "effect/Duration"
import type * as Scope from "effect/Scope"
import { ClientTls } from "../internal/io/clientTls.ts"
import * as Internal from "../internal/io/connection.ts"
import * as Dial from "../internal/io/dial.ts"
import * as Limits from "../internal/io/limits.ts"
import * as Transport from "../internal/io/transport.ts"
import { duration } from "../internal/options.ts"
import { infoOf } from "../internal/tlsEngine.ts"
import { ConnectError, type ConnectErrorReason, ConnectFailed, ConnectTimeout, TlsVerificationFailed } from "./ConnectError.ts"
import type { Connection, ConnectionOptions } from "./Connection.ts"
import type { TlsConfigError, TlsHandshakeError } from "./Errors.ts"
import type { ClientTlsOptions, TlsMode } from "./Tls.ts"

export {
  /** @since 0.2.0 */
  ConnectError,
  /** @since 0.2.0 */
  type ConnectErrorReason,
  /** @since 0.2.0 */
  ConnectFailed,
  /** @since 0.2.0 */
  ConnectionRefused,
  /** @since 0.2.0 */
  ConnectTimeout,
  /** @since 0.2.0 */
  HostNotFound,
  /** @since 0.2.0 */
  TlsVerificationFailed
} from "./ConnectError.ts"

/**
 * Where to connect and how; every limit of `ConnectionOptions` applies to
 * the connection (`lineEnding`, `maxLineLength`, the idle, line and write
 * timeouts…).
 *
 * @since 0.2.0
 */
export interface LineClientOptions extends ConnectionOptions {
  /** The server's host name or IP address. Default `127.0.0.1`. */
  readonly host?: string | undefined
  /** The server's port; needed unless `path` is given. */
  readonly port?: number | undefined
  /** A Unix domain socket to connect to instead of TCP (`host` and `port` must then be absent). */
  readonly path?: string | undefined
  /**
   * TLS settings: the server's certificate is verified (against `ca`, or
   * Node's bundled roots) unless they say `verify: false`. With them the
   * connection speaks TLS from the first byte, unless `tlsMode` is
   * `starttls`.
   */
  readonly tls?: ClientTlsOptions | undefined
  /**
   * `implicit` (the default): TLS from the first byte, when `tls` is given.
   * `starttls`: plaintext until the client calls `conn.startTls()` (SMTP,
   * IMAP), with `tls` (or defaults) as its settings.
   */
  readonly tlsMode?: TlsMode | undefined
  /**
   * How long opening may take, all of it: the name lookup, the TCP (or
   * Unix) connect and, with implicit TLS, the handshake. On Effect's
   * `Clock`. Default: no limit but the system's (and the TLS handshake
   * timeout).
   */
  readonly connectTimeout?: Duration.Input | undefined
}

/** Default host: the loopback address, as `LineServer` binds by default. */
const defaultHost = "127.0.0.1"

/** Where `options` say to connect; an impossible combination is a programming error (a `RangeError`). */
const targetOf = (options: LineClientOptions): Dial.Target => {
  if (options.path !== undefined) {
    if (options.host !== undefined || options.port !== undefined) {
      throw new RangeError(`connect to a Unix socket (path ${JSON.stringify(options.path)}) takes no host or port`)
    }
    if (options.path === "") throw new RangeError("path must not be empty")
    return { path: options.path }
  }
  const port = options.port
  if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`port must be an integer from 1 to 65535, got ${port}`)
  }
  const host = options.host ?? defaultHost
  if (host === "") throw new RangeError("host must not be empty")
  return { host, port }
}

/** A handshake that failed at connect, as the reason of the `ConnectError`. */
const handshakeReason = (error: TlsHandshakeError, timeout: Duration.Duration): ConnectErrorReason =>
  error.reason === "server-certificate"
    ? new TlsVerificationFailed({ code: error.code ?? "UNKNOWN", detail: error.detail })
    : error.reason === "timeout"
    ? new ConnectTimeout({ timeout })
    : new ConnectFailed({ cause: error, ...(error.code === undefined ? {} : { code: error.code }) })

/**
 * Opens a connection in the current scope; closing the scope closes it as a
 * server's connection is closed (flush, FIN, lingering close; a reset when
 * the scope closes by interruption).
 *
 * **Details**
 *
 * Fails with a {@link ConnectError} (`address`, `reason`) when the server
 * cannot be reached or its certificate does not verify, and with a
 * `TlsConfigError` when the TLS settings' files are unusable. An
 * interrupted connect (a timeout of the caller's, a race lost) destroys its
 * socket: nothing is left behind. Invalid options are defects.
 *
 * **Gotchas**
 *
 * The connection does not reconnect: once the server closes it, reads fail
 * with `EndOfInput` (or `ConnectionError`). Open a new one, e.g. in a loop
 * retried with a `Schedule`.
 *
 * @since 0.2.0
 */
export const connect: (
  options: LineClientOptions
) => Effect.Effect<Connection, ConnectError | TlsConfigError, Scope.Scope> = Effect.fn("LineClient.connect")(
  function*(options: LineClientOptions) {
    const target = targetOf(options)
    const limits = Limits.resolve(options)
    const timeout = options.connectTimeout === undefined ? undefined : duration("connectTimeout", options.connectTimeout, false)
    const implicit = options.tls !== undefined && (options.tlsMode ?? "implicit") === "implicit"
    const tls = yield* ClientTls.load(options.tls ?? {}, "host" in target ? target.host : undefined)
    const address = Dial.address(target)
    const remote = "path" in target ? { family: "unix" as const, path: target.path } : undefined
    return yield* Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(Effect.sync(() => Dial.open(target)), (socket) => {
        const opening = Effect.flatMap(Dial.connected(socket, target), () =>
          implicit
            ? Effect.mapBoth(tls.handshake(socket), {
              onFailure: (error) => handshakeReason(error, tls.handshakeTimeout),
              onSuccess: (tlsSocket) => ({ socket: tlsSocket, info: infoOf(tlsSocket) })
            })
            : Effect.succeed(undefined))
        const bounded = timeout === undefined
          ? opening
          : Effect.timeoutOrElse(opening, { duration: timeout, orElse: () => Effect.fail(new ConnectTimeout({ timeout })) })
        return restore(bounded).pipe(
          Effect.mapError((reason) => new ConnectError({ address, reason })),
          // Interruption included: the socket of an abandoned connect is destroyed.
          Effect.onError(() => Effect.sync(() => Transport.abort(socket))),
          Effect.flatMap((secure) => Internal.make(Transport.fromSocket(socket, remote, address, secure), limits, tls))
        )
      })
    )
  }
)

/**
 * A connection opened when the layer is built and closed with it, under a
 * tag of the app's own: a long-lived client connection the app's services
 * use (`yield* Cache`).
 *
 * **Example** (One connection, provided to the app)
 *
 * ```ts
 * class Cache extends Context.Service<Cache, Connection.Connection>()("app/Cache") {}
 *
 * const CacheLive = LineClient.layer(Cache, { host: "127.0.0.1", port: 11211, lineEnding: "\r\n" })
 * ```
 *
 * **Gotchas**
 *
 * One connection, shared: its reads are sequential, so services that each
 * send a request and read its reply take turns (a `Semaphore` of 1 around
 * each exchange). The layer does not reconnect.
 *
 * @since 0.2.0
 */
export const layer = <I>(
  tag: Context.Key<I, Connection>,
  options: LineClientOptions
): Layer.Layer<I, ConnectError | TlsConfigError> => Layer.effect(tag, connect(options))
