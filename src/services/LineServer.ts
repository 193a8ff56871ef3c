/**
 * A TCP line server: binds, accepts, and runs a handler per connection, each
 * in its own fiber, supervised by the scope that built the server.
 *
 * `make` starts serving in the current scope and `layer` wraps it for apps
 * that provide the server beside their own services; closing the scope
 * drains and stops it (see {@link make}). `serveStdio` serves one
 * connection on stdin/stdout the same way. (Past 300 lines: `make` wires
 * the pieces of `internal/server` together, and its doc is the server's
 * contract — limits, shutdown — in one place.)
 *
 * @since 0.1.0
 */
import type * as Crypto from "node:crypto"
import * as Context from "effect/Context"
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
import { type ProxyOptions as ProxyIntake, trustedSet } from "../internal/server/intake.ts"
import { ServerTls } from "../internal/tlsEngine.ts"
import { ServerSeries } from "../internal/serverSeries.ts"
import * as Address from "../Address.ts"
import * as Options from "../Options.ts"
import type { Connection, Handler } from "./Connection.ts"
import * as Readiness from "./Readiness.ts"
import { TlsConfigError } from "../Errors.ts"
import { ServerError } from "../ServerError.ts"
import { defaults, ServerOptions } from "../ServerOptions.ts"
import type { TlsOptions } from "../Tls.ts"

/**
 * What to do with a connection that arrives when `maxConnections` are being
 * served: `refuse` accepts and closes it at once (after the busy message, if
 * any); `queue` holds it, unread, until a slot frees.
 *
 * @since 0.1.0
 */
export type WhenFull = AdmissionWhenFull

/**
 * Options of {@link make}: the handler, and the {@link ServerOptions}
 * (where to listen, the limits of each connection, admission, shutdown,
 * `proxy`, `tls`), decoded by their schema.
 *
 * @since 0.1.0
 */
export interface LineServerOptions<E, R> extends ServerOptions {
  /**
   * Runs once per connection, in a scope of its own: a function of the
   * connection, or an Effect that reads the `Connection` service (see
   * `Connection.Handler`).
   */
  readonly handler: Handler<E, R>
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

export {
  /** @since 0.1.0 */
  defaults,
  /** @since 0.2.0 */
  MaxConnections,
  /** @since 0.2.0 */
  ProxyOptions,
  /** @since 0.2.0 */
  ServerOptions,
  /** @since 0.2.0 */
  StdioOptions
} from "../ServerOptions.ts"

export {
  /** @since 0.2.0 */
  serveStdio,
  /** @since 0.2.0 */
  type StdioServer,
  /** @since 0.2.0 */
  type StdioServerOptions
} from "./StdioServer.ts"

export {
  /** @since 0.2.0 */
  ListenError,
  /** @since 0.1.0 */
  ServerError,
  /** @since 0.2.0 */
  type ServerErrorReason
} from "../ServerError.ts"

/** How often a flood of refusals is summarised in the log, at most. */
const refusalLogInterval = "5 seconds"

/** Decoded server options. */
type Decoded = typeof ServerOptions.Type

/** How to read PROXY headers; `undefined` when none are expected. */
const proxyOptions = (proxy: Decoded["proxy"]): ProxyIntake | undefined =>
  proxy === undefined ? undefined : {
    accept: proxy.version,
    timeout: proxy.headerTimeout ?? defaults.proxyHeaderTimeout,
    trusted: proxy.trusted === undefined ? undefined : trustedSet(proxy.trusted)
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
 * Removes the socket file at `path` if a server that was killed left it
 * there: only a socket nobody listens on (a probe is refused) is removed. A
 * live server's socket, one the probe cannot tell about, anything that is
 * not a socket (a symbolic link included), and a missing directory fail
 * with a `ServerError` (a `ListenError` with its code) and are left alone.
 * `make` does this itself; it is for processes that share one socket,
 * cleared once before they start (`node:cluster` workers).
 *
 * @since 0.2.0
 */
export const clearStaleSocket = (path: string): Effect.Effect<void, ServerError> =>
  Listener.clearStaleSocket({ _tag: "unix", path, backlog: 0, mode: undefined })

/**
 * Binds and starts serving in the current scope.
 *
 * **Details**
 *
 * The options are decoded first ({@link ServerOptions}); the server does
 * not start, failing with a {@link ServerError}, when one is invalid
 * (reason `InvalidOption`, naming it and its value), its TLS settings
 * cannot be used (`TlsConfigError`) or its address cannot be bound
 * (`ListenError`, with the system's code). Catch one reason with
 * `Effect.catchReason("ServerError", "ListenError", ...)`.
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
 * **Readiness.** Once bound, the server registers in the `Readiness` of
 * its context (the process's, unless provided), which `/readyz` on the
 * metrics port reports; its shutdown marks it draining before anything
 * else, so a load balancer stops sending new connections.
 *
 * **Shutdown** (closing the scope):
 * 1. report draining (`/readyz` answers 503), stop accepting and release
 *    the port; queued sockets are closed;
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
  const { handler, ...given } = options
  return Effect.flatMap(
    Effect.mapError(Options.decode(ServerOptions, given), (reason) => new ServerError({ reason })),
    (decoded) => {
      const annotate = decoded.name === undefined ? Effect.annotateLogs({}) : Effect.annotateLogs({ server: decoded.name })
      return annotate(serve(handler, decoded))
    }
  )
}

/** {@link make} once the options are decoded. */
const serve = <E, R>(handler: Handler<E, R>, options: Decoded) =>
  Effect.gen(function*() {
    const listen = Listener.fromOptions(options, defaults)
    const backlog = listen.backlog
    const fdLimit = Descriptors.limit()
    const maxConnections = options.maxConnections ?? Descriptors.defaultMaxConnections(fdLimit)
    const shutdownTimeout = options.shutdownTimeout ?? defaults.shutdownTimeout
    const limits = Limits.fromDecoded(options)
    const tlsMode = options.tlsMode ?? "implicit"
    // Unusable TLS settings stop the server from starting, as an address in use does.
    const tls = options.tls === undefined ? undefined : yield* ServerTls.make(options.tls, tlsMode === "implicit").pipe(
      Effect.mapError((reason) => new ServerError({ address: Listener.describe(listen), reason }))
    )
    const context = yield* Effect.context<Exclude<R, Connection | Scope.Scope>>()
    const series = new ServerSeries(context, options.name)
    const readiness = yield* Readiness.Readiness

    // oxlint-disable-next-line prefer-const -- assigned below; the admission's callbacks read it
    let admission: Admission
    // Before the listener, so that its scope closes after the drain (finalizers run in reverse).
    const connections: Connections<E, R> = yield* Connections.make({
      handler,
      limits,
      onEnded: () => {
        for (const socket of admission.release()) connections.start(socket)
        fdWatch?.update(admission.active)
      },
      proxy: proxyOptions(options.proxy),
      fallbackPeer: listen._tag === "unix" ? `unix:${listen.path}` : "unknown",
      name: options.name,
      series,
      tls
    })
    const fork = connections.fork

    let refused = 0
    const refusals = new BurstLog(
      refusalLogInterval,
      (count) => Effect.logWarning("server full: refused connections", { refused: count, maxConnections }),
      fork
    )
    const exhaustion = new Descriptors.Exhaustion(fdLimit, () => series.descriptorsExhausted(), refusalLogInterval, fork)
    const fdWatch = fdLimit === undefined ? undefined : new Descriptors.Watch(fdLimit, () => exhaustion.report, fork)
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
        series.refused()
        if (why === "full" && refusals.report()) fork(Effect.logWarning("server full: refusing connections", { maxConnections }))
      }
    })
    const server = Listener.create((socket) => {
      if (admission.admit(socket)) connections.start(socket)
      fdWatch?.update(admission.active)
    })
    const onAcceptError = (cause: Error & { readonly code?: string }) => {
      fork(cause.code === "EMFILE" || cause.code === "ENFILE" ? exhaustion.report : Effect.logError("accept failed", cause))
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
    let ready: Readiness.Registration | undefined
    const shutdown = Effect.suspend(() => {
      fdWatch?.close()
      return Shutdown.drain({
        close: () => {
          // Not ready first, before the port closes and connections are told.
          ready?.draining()
          server.close()
          admission.close()
        }
      }, connections, shutdownTimeout, address, admission.active)
    }).pipe(Effect.ensuring(Effect.andThen(refusals.close, exhaustion.close)), Effect.ensuring(Effect.sync(() => ready?.stopped())))

    // Acquired with its release: even if this fiber is interrupted while
    // binding, a bound listener is closed again.
    const bound = yield* Effect.acquireRelease(
      Effect.tap(Listener.bind(server, listen, onAcceptError), () =>
        Effect.sync(() => {
          ready = readiness.register()
        })),
      () => shutdown
    )
    address = Address.format(bound)
    yield* Effect.logInfo("listening", { address, maxConnections, ...(tls === undefined ? {} : { tls: tlsMode }) })
    const reloadTls = (tlsOptions?: TlsOptions) =>
      tls === undefined
        ? Effect.fail(new TlsConfigError({ reason: "this server was started without TLS" }))
        : tls.reload(tlsOptions)
    return LineServer.of({ address: bound, stats, reloadTls })
  })

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
