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
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { ClientTls } from "../internal/io/clientTls.ts"
import * as Internal from "../internal/io/connection.ts"
import * as Dial from "../internal/io/dial.ts"
import * as Limits from "../internal/io/limits.ts"
import * as Transport from "../internal/io/transport.ts"
import { infoOf } from "../internal/tlsEngine.ts"
import { ConnectError, type ConnectErrorReason, ConnectFailed, ConnectTimeout, TlsVerificationFailed } from "../ConnectError.ts"
import * as Options from "../Options.ts"
import type { Connection } from "./Connection.ts"
import type { TlsConfigError, TlsHandshakeError } from "../Errors.ts"
import { ClientTlsOptions, TlsMode } from "../Tls.ts"

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
} from "../ConnectError.ts"

/** A port a client connects to: 1 to 65535. */
const ServerPort = Schema.Number.check(
  Schema.makeFilter((n: number) => Number.isInteger(n) && n >= 1 && n <= 65535, { expected: "an integer from 1 to 65535" })
)

/**
 * Where to connect and how; every limit of `ConnectionOptions` applies to
 * the connection (`lineEnding`, `maxLineLength`, the idle, line and write
 * timeouts…).
 *
 * @since 0.2.0
 */
export const LineClientOptions = Schema.Struct({
  /** The server's host name or IP address. Default `127.0.0.1`. */
  host: Schema.optional(Options.Host),
  /** The server's port; needed unless `path` is given. */
  port: Schema.optional(ServerPort),
  /** A Unix domain socket to connect to instead of TCP (`host` and `port` must then be absent). */
  path: Schema.optional(Options.Path),
  ...Options.ConnectionOptions.fields,
  /**
   * TLS settings: the server's certificate is verified (against `ca`, or
   * Node's bundled roots) unless they say `verify: false`. With them the
   * connection speaks TLS from the first byte, unless `tlsMode` is
   * `starttls`.
   */
  tls: Schema.optional(ClientTlsOptions),
  /**
   * `implicit` (the default): TLS from the first byte, when `tls` is given.
   * `starttls`: plaintext until the client calls `conn.startTls()` (SMTP,
   * IMAP), with `tls` (or defaults) as its settings.
   */
  tlsMode: Schema.optional(TlsMode),
  /**
   * How long opening may take, all of it: the name lookup, the TCP (or
   * Unix) connect and, with implicit TLS, the handshake. On Effect's
   * `Clock`. Default: no limit but the system's (and the TLS handshake
   * timeout).
   */
  connectTimeout: Schema.optional(Options.TimeoutOrNone)
}).check(Schema.makeFilter((options) => {
  if (options.path !== undefined) {
    const tcp = options.host !== undefined ? "host" : options.port !== undefined ? "port" : undefined
    return tcp === undefined ? undefined : { path: [tcp], issue: "no host or port with path: a Unix socket takes neither" }
  }
  return options.port === undefined ? { path: ["port"], issue: "a port (or a path to a Unix socket)" } : undefined
}))

/**
 * Where to connect and how, as given (see the schema above).
 *
 * @since 0.2.0
 */
export interface LineClientOptions extends Schema.Codec.Encoded<typeof LineClientOptions> {}

/** Default host: the loopback address, as `LineServer` binds by default. */
const defaultHost = "127.0.0.1"

/** Where decoded options say to connect. */
const targetOf = (options: typeof LineClientOptions.Type): Dial.Target =>
  options.path !== undefined ? { path: options.path } : { host: options.host ?? defaultHost, port: options.port! }

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
  function*(input: LineClientOptions) {
    // Options are the program's own: an invalid one is a defect, never a
    // `ConnectError` that a retry loop would try again.
    const options = Options.decodeUnsafe(LineClientOptions, input)
    const target = targetOf(options)
    const limits = Limits.fromDecoded(options)
    const timeout = options.connectTimeout === undefined || !Duration.isFinite(options.connectTimeout) ? undefined : options.connectTimeout
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
