/**
 * A TCP line server: binds, accepts, and runs a handler per connection, each
 * in its own fiber, supervised by the scope that built the server.
 *
 * `make` starts serving in the current scope and `layer` wraps it for apps
 * that provide the server beside their own services; closing the scope
 * drains and stops it (see {@link make}).
 *
 * @since 0.1.0
 */
import type * as Crypto from "node:crypto"
import * as Net from "node:net"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { Admission, type WhenFull as AdmissionWhenFull } from "../internal/server/admission.ts"
import { BurstLog } from "../internal/server/burstLog.ts"
import { Connections } from "../internal/server/connections.ts"
import * as Shutdown from "../internal/server/shutdown.ts"
import * as Limits from "../internal/io/limits.ts"
import * as Transport from "../internal/io/transport.ts"
import * as Descriptors from "../internal/server/descriptors.ts"
import * as Listener from "../internal/server/listener.ts"
import { type ProxyOptions, trustedSet } from "../internal/server/intake.ts"
import { ServerTls } from "../internal/tlsEngine.ts"
import { registerAll } from "../internal/traffic.ts"
import * as Address from "./Address.ts"
import type { Connection, ConnectionOptions, Handler } from "./Connection.ts"
import { ServerError, TlsConfigError } from "./Errors.ts"
import * as ServerMetrics from "./ServerMetrics.ts"
import type { TlsMode, TlsOptions } from "./Tls.ts"

/**
 * What to do with a connection that arrives when `maxConnections` are being
 * served: `refuse` accepts and closes it at once (after the busy message, if
 * any); `queue` holds it, unread, until a slot frees.
 *
 * @since 0.1.0
 */
export type WhenFull = AdmissionWhenFull

/**
 * Options of {@link make}; every limit of `ConnectionOptions` applies to
 * each connection.
 *
 * @since 0.1.0
 */
export interface LineServerOptions<E, R> extends ConnectionOptions {
  /**
   * Runs once per connection, in a scope of its own: a function of the
   * connection, or an Effect that reads the `Connection` service (see
   * `Connection.Handler`).
   */
  readonly handler: Handler<E, R>
  /**
   * A name for this server, added to every log line it writes (annotation
   * `server`), for apps that run several. Default: none.
   */
  readonly name?: string | undefined
  /**
   * Interface to bind: an IPv4 or IPv6 address (`::1`, `::`) or a host name.
   * Default `127.0.0.1`. An empty string is refused (say `0.0.0.0` or `::`).
   */
  readonly host?: string | undefined
  /** Port to bind; `0` picks a free one (read it from `address`). Default `1234`. */
  readonly port?: number | undefined
  /** With `host: "::"`, accept IPv6 connections only (no IPv4-mapped ones). Default false. */
  readonly ipv6Only?: boolean | undefined
  /**
   * Let several processes bind the same port (`SO_REUSEPORT`, Linux and
   * some BSDs); the kernel spreads connections among them. Default false.
   */
  readonly reusePort?: boolean | undefined
  /**
   * Listen on a Unix domain socket at this path instead of TCP (`host` and
   * `port` must then be absent). A stale socket file left by a killed
   * server is removed at start; a live server's socket is never taken over
   * (`ServerError` with code `EADDRINUSE`). The file is removed at shutdown.
   */
  readonly path?: string | undefined
  /** File mode of the Unix socket, e.g. `0o660`; default: the process umask decides. */
  readonly socketMode?: number | undefined
  /**
   * Expect a PROXY protocol header (HAProxy's, versions `v1`, `v2` or
   * `any`) at the start of every connection, as sent by a load balancer in
   * front (HAProxy `send-proxy-v2`, nginx `proxy_protocol on`). The
   * connection's `peer` and `remoteAddress` are then the real client's (for a
   * `LOCAL` or `UNKNOWN` header: the socket's own). A connection without a
   * valid header in time is closed before the handler runs (close reason
   * `proxy-header`). Default: no header expected.
   */
  readonly proxyProtocol?: "v1" | "v2" | "any" | undefined
  /** How long a PROXY header may take to arrive. Default 3 s. */
  readonly proxyHeaderTimeout?: Duration.Input | undefined
  /**
   * Addresses of the proxies allowed to connect when `proxyProtocol` is on;
   * a connection from any other source is closed before the handler runs,
   * so a client cannot claim to be someone else. Default: any source.
   */
  readonly trustedProxies?: ReadonlyArray<string> | undefined
  /**
   * Serve TLS with these settings (certificates from files or PEM data,
   * client certificates, ALPN, SNI, session ticket keys, handshake timeout;
   * see `Tls.TlsOptions`), at once or on `startTls` as `tlsMode` says. The
   * handshake runs after any PROXY header and holds the connection's slot
   * from accept; one that fails or times out closes the connection before
   * the handler runs (close reason `tls-handshake`). Files are read when the
   * server starts and again by `reloadTls`; settings that cannot be used
   * fail `make` with a `ServerError` whose `cause` is the `TlsConfigError`.
   * Default: plaintext.
   */
  readonly tls?: TlsOptions | undefined
  /**
   * `implicit` (default): TLS from the first byte. `starttls`: connections
   * start in plaintext and the handler upgrades them with `conn.startTls()`,
   * which uses `tls`.
   */
  readonly tlsMode?: TlsMode | undefined
  /** Kernel accept backlog, and the length of the `queue` when full. Default 511. */
  readonly backlog?: number | undefined
  /**
   * Connections served at once. Default: the process's file-descriptor limit
   * minus a reserve for everything else (an eighth of it, between 64 and
   * 1024), so running out of descriptors shows as counted, logged refusals
   * rather than connections the OS drops silently; unlimited where the limit
   * is unknown. `Infinity` lifts the cap.
   */
  readonly maxConnections?: number | undefined
  /** Beyond `maxConnections`: `refuse` (default) or `queue`. */
  readonly whenFull?: WhenFull | undefined
  /** Line sent to a refused client before closing (a `\n` is added). */
  readonly busyMessage?: string | undefined
  /** How long shutdown waits for busy connections before forcing them. Default 10 s. */
  readonly shutdownTimeout?: Duration.Input | undefined
}

/**
 * Counts of one server's life, for reports and exit codes.
 *
 * @since 0.1.0
 */
export interface ServerStats {
  /** Connections being served now. */
  readonly active: number
  /** Connections accepted and handed to the handler. */
  readonly accepted: number
  /** Connections refused (or dropped from the queue) because the server was full. */
  readonly refused: number
  /** Connections that ended by themselves during shutdown. */
  readonly drained: number
  /** Connections interrupted at the shutdown deadline. */
  readonly forced: number
}

/**
 * A running line server.
 *
 * @since 0.1.0
 */
export interface LineServer {
  /**
   * The bound address: a TCP address, whose `port` is the real one when `0`
   * was asked, or the Unix socket's path. {@link port} reads a TCP port.
   */
  readonly address: Address.Address
  /** Current counts; after shutdown, its final counts. */
  readonly stats: Effect.Effect<ServerStats>
  /**
   * Reloads the TLS settings without a restart: reads the certificate and
   * key files again (or loads `options`, replacing the settings), and
   * serves them to every handshake that starts afterwards; connections
   * already open keep theirs. Returns the certificate now served.
   *
   * **Details**
   *
   * Settings that cannot be used (a file missing, a key that does not fit
   * its certificate, an expired certificate) fail with `TlsConfigError`, and
   * the server goes on with the settings it had. Session ticket keys are
   * kept unless `options` gives new ones, so sessions keep resuming. A server
   * started without `tls` fails with `TlsConfigError`.
   */
  readonly reloadTls: (options?: TlsOptions) => Effect.Effect<Crypto.X509Certificate, TlsConfigError>
}

/**
 * The `LineServer` service tag, provided by {@link layer}. An app that runs
 * several servers gives each its own tag with {@link layerAs}.
 *
 * @since 0.1.0
 */
export const LineServer: Context.Service<LineServer, LineServer> = Context.Service<LineServer>(
  "fiberline/services/LineServer"
)

/**
 * Default server options: 127.0.0.1:1234, backlog 511, refuse when full,
 * 10 s shutdown timeout, 3 s PROXY header timeout (when headers are
 * expected). The connection limit derives from the descriptor limit (see
 * `maxConnections`).
 *
 * @since 0.1.0
 */
export const defaults = {
  host: "127.0.0.1",
  port: 1234,
  backlog: 511,
  whenFull: "refuse",
  shutdownTimeout: Duration.seconds(10),
  proxyHeaderTimeout: Duration.seconds(3)
} as const

/** How often a flood of refusals is summarised in the log, at most. */
const refusalLogInterval = "5 seconds"

/** Rejects an option value a server cannot run with (a programming error: a defect). */
const check = (name: string, value: number, valid: boolean): number => {
  if (!valid) throw new RangeError(`LineServer option ${name} is invalid: ${value}`)
  return value
}

/** How to read PROXY headers, validated; `undefined` when none are expected. */
const proxyOptions = (options: LineServerOptions<unknown, unknown>): ProxyOptions | undefined => {
  if (options.proxyProtocol === undefined) {
    if (options.trustedProxies !== undefined) throw new RangeError("LineServer option trustedProxies needs proxyProtocol")
    return undefined
  }
  const accept = options.proxyProtocol
  if (accept !== "v1" && accept !== "v2" && accept !== "any") {
    throw new RangeError(`LineServer option proxyProtocol must be "v1", "v2" or "any", got ${JSON.stringify(accept)}`)
  }
  const timeoutMillis = Duration.toMillis(Duration.fromInputUnsafe(options.proxyHeaderTimeout ?? defaults.proxyHeaderTimeout))
  check("proxyHeaderTimeout", timeoutMillis, timeoutMillis > 0 && Number.isFinite(timeoutMillis))
  for (const address of options.trustedProxies ?? []) {
    if (Net.isIP(address) === 0) throw new RangeError(`LineServer option trustedProxies: not an IP address: ${JSON.stringify(address)}`)
  }
  return {
    accept,
    timeout: Duration.millis(timeoutMillis),
    trusted: options.trustedProxies === undefined ? undefined : trustedSet(options.trustedProxies)
  }
}

/** Where to listen, validated: a Unix socket path, or TCP host and port. */
const listenOptions = (options: LineServerOptions<unknown, unknown>): Listener.ListenOptions => {
  const backlog = options.backlog ?? defaults.backlog
  check("backlog", backlog, Number.isSafeInteger(backlog) && backlog > 0)
  if (options.path !== undefined) {
    if (options.host !== undefined || options.port !== undefined) {
      throw new RangeError("LineServer options path and host/port exclude each other: a Unix socket or TCP")
    }
    if (options.path === "") throw new RangeError("LineServer option path is empty")
    const mode = options.socketMode
    if (mode !== undefined) check("socketMode", mode, Number.isInteger(mode) && mode >= 0 && mode <= 0o777)
    return { _tag: "unix", path: options.path, backlog, mode }
  }
  const host = options.host ?? defaults.host
  // An empty host binds every interface; that must be asked for by name.
  if (host.trim() === "") throw new RangeError(`LineServer option host is empty: say "0.0.0.0" or "::" to listen on every interface`)
  const port = options.port ?? defaults.port
  check("port", port, Number.isInteger(port) && port >= 0 && port <= 65535)
  return { _tag: "tcp", host, port, backlog, ipv6Only: options.ipv6Only ?? false, reusePort: options.reusePort ?? false }
}

/**
 * The TCP port `server` listens on (the real one when `0` was asked);
 * fails as a defect if it listens on a Unix socket.
 *
 * @since 0.1.0
 */
export const port = (server: LineServer): number => {
  if (server.address.family === "unix") throw new TypeError(`server listens on a Unix socket: ${server.address.path}`)
  return server.address.port
}

/**
 * Binds and starts serving in the current scope.
 *
 * **Details**
 *
 * Each accepted socket gets a fiber that builds a `Connection` in its own
 * scope, runs the handler, logs and counts how it ended, and releases the
 * socket. Logs inside carry `client` (`host:port`) and `connection` (id)
 * annotations. A failing or dying handler is logged and closes only its own
 * connection; nothing reaches the accept loop or `unhandledRejection`.
 *
 * **Limits.** When `maxConnections` are being served, a new connection is
 * refused (accepted, sent `busyMessage`, closed) or, with `whenFull:
 * "queue"`, held unread until a slot frees. Node cannot stop calling
 * `accept(2)` without closing the listener, so the queue lives in the process
 * rather than the kernel backlog: a queued socket is paused (no bytes read,
 * so the client sees TCP backpressure) and the queue is bounded by `backlog`;
 * beyond it connections are refused. Refusals are counted and logged once
 * per burst, then summarised at most every 5 s.
 *
 * **Shutdown** (closing the scope):
 * 1. stop accepting and release the port; queued sockets are closed;
 * 2. a connection ends once it is quiet: its reader waits, nothing it
 *    received waits anywhere in the process, and a full turn of the event
 *    loop brought no input; its read then fails with `ServerShuttingDown` (a
 *    handler may catch it and say goodbye). Connections mid-request keep
 *    running, so every byte that reached the server before that is handled
 *    and answered;
 * 3. after `shutdownTimeout` the remaining fibers are interrupted and their
 *    sockets destroyed, so a peer that never reads cannot hold shutdown
 *    hostage;
 * 4. one log line sums up: connections drained and forced.
 *
 * @since 0.1.0
 */
export const make = <E, R>(
  options: LineServerOptions<E, R>
): Effect.Effect<LineServer, ServerError, Scope.Scope | Exclude<R, Connection | Scope.Scope>> => {
  const annotate = options.name === undefined ? Effect.annotateLogs({}) : Effect.annotateLogs({ server: options.name })
  return annotate(Effect.gen(function*() {
    const listen = listenOptions(options)
    const backlog = listen.backlog
    const fdLimit = Descriptors.limit()
    const maxConnections = options.maxConnections ?? Descriptors.defaultMaxConnections(fdLimit)
    check("maxConnections", maxConnections, maxConnections === Infinity || Number.isSafeInteger(maxConnections) && maxConnections > 0)
    const shutdownTimeout = Duration.fromInputUnsafe(options.shutdownTimeout ?? defaults.shutdownTimeout)
    check("shutdownTimeout", Duration.toMillis(shutdownTimeout), Duration.toMillis(shutdownTimeout) >= 0)
    const limits = Limits.resolve(options)
    const tlsMode = options.tlsMode ?? "implicit"
    if (tlsMode !== "implicit" && tlsMode !== "starttls") {
      throw new RangeError(`LineServer option tlsMode must be "implicit" or "starttls", got ${JSON.stringify(tlsMode)}`)
    }
    if (options.tlsMode !== undefined && options.tls === undefined) throw new RangeError("LineServer option tlsMode needs tls")
    // Unusable TLS settings stop the server from starting, as an address in use does.
    const tls = options.tls === undefined ? undefined : yield* ServerTls.make(options.tls, tlsMode === "implicit").pipe(
      Effect.mapError((cause) => new ServerError({ address: Listener.describe(listen), cause }))
    )
    const context = yield* Effect.context<Exclude<R, Connection | Scope.Scope>>()
    registerAll(context)

    // oxlint-disable-next-line prefer-const -- assigned below; the admission's callbacks read it
    let admission: Admission
    // Before the listener, so that its scope closes after the drain (finalizers run in reverse).
    const connections: Connections<E, R> = yield* Connections.make({
      handler: options.handler,
      limits,
      onEnded: () => {
        for (const socket of admission.release()) connections.start(socket)
        fdWatch?.update(admission.active)
      },
      proxy: proxyOptions(options),
      fallbackPeer: listen._tag === "unix" ? `unix:${listen.path}` : "unknown",
      name: options.name,
      tls
    })
    const fork = connections.fork

    let refused = 0
    const refusals = new BurstLog(
      refusalLogInterval,
      (count) => Effect.logWarning("server full: refused connections", { refused: count, maxConnections }),
      fork
    )
    const exhaustion = new BurstLog(
      refusalLogInterval,
      (count) => Effect.logError("still out of file descriptors", { times: count, fdLimit }),
      fork
    )
    const exhausted = Effect.sync(() => {
      ServerMetrics.descriptorsExhausted.updateUnsafe(1, context)
      return exhaustion.report()
    }).pipe(
      Effect.flatMap((first) =>
        first ? Effect.logError("out of file descriptors: the OS drops new connections", { fdLimit }) : Effect.void
      )
    )
    const fdWatch = fdLimit === undefined ? undefined : new Descriptors.Watch(fdLimit, () => exhausted, fork)
    admission = new Admission({
      maxConnections,
      maxClosingRefusals: Descriptors.maxClosingRefusals(fdLimit),
      whenFull: options.whenFull ?? defaults.whenFull,
      backlog,
      busyLine: options.busyMessage === undefined ? undefined : `${options.busyMessage}\n`,
      closeRefused: (socket, done) => {
        const closing = Transport.fromSocket(socket).close({ flush: limits.writeTimeout, linger: limits.lingerTimeout, resetOnLateInput: false })
        fork(closing).addObserver(done)
      },
      onRefused: (why) => {
        refused++
        ServerMetrics.connectionsRefused.updateUnsafe(1, context)
        if (why === "full" && refusals.report()) fork(Effect.logWarning("server full: refusing connections", { maxConnections }))
      }
    })
    const server = Listener.create((socket) => {
      if (admission.admit(socket)) connections.start(socket)
      fdWatch?.update(admission.active)
    })
    const onAcceptError = (cause: Error & { readonly code?: string }) => {
      fork(cause.code === "EMFILE" || cause.code === "ENFILE" ? exhausted : Effect.logError("accept failed", cause))
    }

    const stats: Effect.Effect<ServerStats> = Effect.sync(() => ({
      active: admission.active,
      accepted: connections.accepted,
      refused,
      drained: connections.drained,
      forced: connections.forced
    }))

    // oxlint-disable-next-line prefer-const -- assigned once bound; the shutdown below reads it
    let address = ""
    const shutdown = Effect.suspend(() => {
      fdWatch?.close()
      return Shutdown.drain({
        close: () => {
          server.close()
          admission.close()
        }
      }, connections, shutdownTimeout, address, admission.active)
    }).pipe(Effect.ensuring(Effect.andThen(refusals.close, exhaustion.close)))

    // Acquired with its release: even if this fiber is interrupted while
    // binding, a bound listener is closed again.
    const bound = yield* Effect.acquireRelease(
      Listener.bind(server, listen, onAcceptError),
      () => shutdown
    )
    address = Address.format(bound)
    yield* Effect.logInfo("listening", { address, maxConnections, ...(tls === undefined ? {} : { tls: tlsMode }) })
    const reloadTls = (tlsOptions?: TlsOptions) =>
      tls === undefined
        ? Effect.fail(new TlsConfigError({ reason: "this server was started without TLS" }))
        : tls.reload(tlsOptions)
    return LineServer.of({ address: bound, stats, reloadTls })
  }))
}

/**
 * {@link make} as a Layer: building it binds and serves; closing its scope
 * drains and stops the server.
 *
 * @since 0.1.0
 */
export const layer = <E, R>(
  options: LineServerOptions<E, R>
): Layer.Layer<LineServer, ServerError, Exclude<R, Connection | Scope.Scope>> => Layer.effect(LineServer, make(options))

/**
 * {@link layer} under a tag of the app's own, so an app can run several
 * servers and reach each one's `address` and `stats`.
 *
 * **Example** (Two servers in one app)
 *
 * ```ts
 * class Admin extends Context.Service<Admin, LineServer.LineServer>()("app/Admin") {}
 *
 * const Servers = Layer.mergeAll(
 *   LineServer.layer({ handler: api, port: 7000, name: "api" }),
 *   LineServer.layerAs(Admin, { handler: admin, port: 7001, name: "admin" })
 * )
 * ```
 *
 * @since 0.1.0
 */
export const layerAs = <I, E, R>(
  tag: Context.Key<I, LineServer>,
  options: LineServerOptions<E, R>
): Layer.Layer<I, ServerError, Exclude<R, Connection | Scope.Scope>> => Layer.effect(tag, make(options))
