/**
 * The connections of one server: each accepted socket is served by a fiber
 * forked into the server's scope (a `FiberSet`), from its intake (PROXY
 * header, TLS handshake) through the handler to the socket's release; how
 * each one ended is counted and logged (`closeReason.ts`), once per burst
 * for what a peer can cause at will. A failing or dying handler is logged
 * and closes only its own connection: nothing reaches the accept loop or
 * `unhandledRejection`. How they end at shutdown is `shutdown.ts`'s.
 *
 * @internal
 */
import type * as Net from "node:net"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import type { TlsHandshakeError } from "../../services/Errors.ts"
import { type Connection, type Handler, runHandler } from "../../services/Connection.ts"
import * as ServerMetrics from "../../services/ServerMetrics.ts"
import * as Internal from "../io/connection.ts"
import type { Limits } from "../io/limits.ts"
import * as Transport from "../io/transport.ts"
import { implicitTls } from "../io/startTls.ts"
import { infoOf, type ServerTls } from "../tlsEngine.ts"
import { BurstLog, type Fork } from "./burstLog.ts"
import { classify, type CloseKind, type ConnectionStats, logClose } from "./closeReason.ts"
import { type ProxyOptions, readProxyHeader } from "./intake.ts"
import * as Shutdown from "./shutdown.ts"

/** How often closes a peer can cause at will are summarised in the log, at most. */
const closeLogInterval = "5 seconds"

/** What the connections of a server run, and how. */
export interface ConnectionsOptions<E, R> {
  readonly handler: Handler<E, R>
  readonly limits: Limits
  /** Runs after each connection is fully released. */
  readonly onEnded: () => void
  /** Read a PROXY protocol header before the handler runs. */
  readonly proxy: ProxyOptions | undefined
  /** The peer of a socket that has no address of its own (a Unix socket's client). */
  readonly fallbackPeer: string
  /** The server's name, for connection spans. */
  readonly name: string | undefined
  /** TLS: handshaken before the handler when implicit, else for `startTls`. */
  readonly tls: ServerTls | undefined
}

/** How connections closed before their handler ran are reported. */
const proxyRefusal: CloseKind = { reason: "proxy-header", level: "Warn", peerCaused: true }
const tlsRefusal: CloseKind = { reason: "tls-handshake", level: "Info", peerCaused: true }
/** A handshake the server's own certificate made fail: every one is logged. */
const tlsServerFault: CloseKind = { reason: "tls-handshake", level: "Error", peerCaused: false }
const shutdownRefusal: CloseKind = { reason: "shutdown", level: "Debug", peerCaused: false }

/** A connection span's attributes when it starts (OpenTelemetry's names where there is one). */
const spanStart = (core: Internal.ConnectionCore, server: string | undefined): Record<string, unknown> => {
  const address = core.remoteAddress
  const tls = core.tls
  return {
    "fiberline.connection.id": core.id,
    "fiberline.peer": core.peer,
    ...(server === undefined ? {} : { "fiberline.server": server }),
    ...(address === undefined
      ? {}
      : address.family === "unix"
      ? { "network.transport": "unix", "network.peer.address": address.path }
      : { "network.transport": "tcp", "network.peer.address": address.host, "network.peer.port": address.port }),
    ...(core.proxy === undefined ? {} : { "fiberline.proxy.version": core.proxy.version }),
    ...(tls === undefined ? {} : {
      "tls.protocol.version": tls.protocol,
      "tls.cipher": tls.cipher,
      "tls.resumed": tls.resumed,
      ...(tls.alpnProtocol === undefined ? {} : { "tls.next_protocol": tls.alpnProtocol }),
      ...(tls.peerCertificate === undefined ? {} : { "tls.client.subject": tls.peerCertificate.subject })
    })
  }
}

/** A connection span's attributes when it ends: how, and what it carried. */
const spanEnd = (kind: CloseKind, stats: ConnectionStats): Record<string, unknown> => ({
  "fiberline.close.reason": kind.reason,
  "fiberline.bytes.in": stats.bytesIn,
  "fiberline.bytes.out": stats.bytesOut,
  "fiberline.lines.in": stats.linesIn,
  "fiberline.lines.out": stats.linesOut
})

/** Why a connection was closed before its handler ran, for its log line. */
class Refusal {
  readonly kind: CloseKind
  readonly client: string
  readonly detail: string
  constructor(kind: CloseKind, client: string, detail: string) {
    this.kind = kind
    this.client = client
    this.detail = detail
  }
}

/** The connections of one server; see the module doc. */
export class Connections<E, R> {
  /** Connections handed to the handler. */
  accepted = 0
  /** Connections that ended by themselves during shutdown. */
  drained = 0
  /** Connections interrupted at the shutdown deadline. */
  forced = 0
  /** The drain has begun: connections are told, new ones are refused. */
  shuttingDown = false
  /** The connection fibers, in the server's scope. */
  readonly fibers: FiberSet.FiberSet<void, never>
  /** Connections whose handler runs: told when shutdown starts. */
  readonly serving = new Set<Internal.ConnectionCore>()
  /** Sockets before their handler (PROXY header, TLS handshake): closed when shutdown starts. */
  readonly admitting = new Set<Net.Socket>()
  /** Sockets whose handler runs: reset at the deadline. */
  readonly sockets = new Set<Net.Socket>()
  /**
   * Sockets whose handler has ended but that are still closing (lingering):
   * destroyed at the deadline, without a reset, since every reply is out.
   */
  readonly closing = new Set<Net.Socket>()
  /** Sockets whose handler was interrupted by the shutdown deadline. */
  readonly forcedSockets = new WeakSet<Net.Socket>()
  /** Runs housekeeping (log summaries, closes of refused sockets) in a fiber of the server's scope. */
  readonly fork: Fork
  private readonly options: ConnectionsOptions<E, R>
  private readonly context: Context.Context<Exclude<R, Connection | Scope.Scope>>
  private readonly run: (effect: Effect.Effect<void, never, Exclude<R, Connection | Scope.Scope>>) => Fiber.Fiber<void, never>
  /** One burst log per close reason a peer can cause at will. */
  private readonly closeBursts = new Map<string, BurstLog>()
  /** A tracer is installed: every connection gets a span. */
  private readonly tracing: boolean
  /** The span the server was started in, which connection spans link to. */
  private readonly serverSpan: Tracer.AnySpan | undefined

  private constructor(
    options: ConnectionsOptions<E, R>,
    fibers: FiberSet.FiberSet<void, never>,
    run: (effect: Effect.Effect<void, never, Exclude<R, Connection | Scope.Scope>>) => Fiber.Fiber<void, never>,
    context: Context.Context<Exclude<R, Connection | Scope.Scope>>,
    scope: Scope.Scope
  ) {
    this.options = options
    this.fibers = fibers
    this.run = run
    this.context = context
    this.tracing = Context.get(context, Tracer.Tracer) !== Tracer.nativeTracer
    this.serverSpan = Context.getOrUndefined(context, Tracer.ParentSpan)
    // Not in `fibers`: the drain waits for connections, not for a summary's next window.
    this.fork = (effect) => Fiber.runIn(Effect.runForkWith(context)(effect), scope)
  }

  /** The connections of a server, in the current scope (closing it interrupts them all). */
  static make<E, R>(
    options: ConnectionsOptions<E, R>
  ): Effect.Effect<Connections<E, R>, never, Scope.Scope | Exclude<R, Connection | Scope.Scope>> {
    return Effect.gen(function*() {
      const fibers = yield* FiberSet.make<void, never>()
      const run = yield* FiberSet.runtime(fibers)<Exclude<R, Connection | Scope.Scope>>()
      const context = yield* Effect.context<Exclude<R, Connection | Scope.Scope>>()
      // A scope of their own, made now: closed after the drain, whenever they were forked.
      const housekeeping = yield* Scope.fork(yield* Effect.scope)
      return new Connections(options, fibers, (effect) => run(effect), context, housekeeping)
    })
  }

  /** Serves `socket` in a fiber of its own. */
  start(socket: Net.Socket): void {
    this.accepted++
    ServerMetrics.connectionsAccepted.updateUnsafe(1, this.context)
    ServerMetrics.connectionsActive.modifyUnsafe(1, this.context)
    this.admitting.add(socket)
    this.run(this.serve(socket))
  }

  /** Summarises, now, the closes counted for the burst logs. */
  readonly closeLogs: Effect.Effect<void> = Effect.suspend(() =>
    Effect.forEach(this.closeBursts.values(), (burst) => burst.close, { discard: true })
  )

  /**
   * Whether this close gets its own log line: always, unless a peer can
   * cause it at will; then only the first of a burst, and the rest are
   * summarised per reason.
   */
  private shouldLog(kind: CloseKind): boolean {
    if (!kind.peerCaused) return true
    let burst = this.closeBursts.get(kind.reason)
    if (burst === undefined) {
      burst = new BurstLog(
        closeLogInterval,
        (count) => Effect.logWithLevel(kind.level)("more connections closed", { reason: kind.reason, count, withinSeconds: 5 }),
        this.fork
      )
      this.closeBursts.set(kind.reason, burst)
    }
    return burst.report()
  }

  /**
   * One connection's whole life: its intake (`intake.ts`), then the
   * handler. A PROXY header is read through the connection itself, so the
   * connection is built first; a TLS listener without one handshakes first
   * and builds the connection over the TLS socket. (Plain combinators
   * rather than `Effect.gen` around the handler: a suspended generator per
   * connection costs about 2 KiB, which counts with thousands of idle ones.)
   */
  private serve(socket: Net.Socket): Effect.Effect<void, never, Exclude<R, Connection | Scope.Scope>> {
    const { proxy, tls } = this.options
    const implicit = tls !== undefined && tls.implicit ? tls : undefined
    const admitted: Effect.Effect<Internal.ConnectionCore, Refusal, Scope.Scope> = proxy !== undefined
      ? this.proxied(socket, proxy, implicit)
      : implicit !== undefined
      ? this.handshaken(socket, implicit)
      : this.make(Transport.fromSocket(socket, undefined, this.options.fallbackPeer))
    const served = this.connection(socket, admitted).pipe(Effect.ensuring(Effect.sync(() => this.released(socket))))
    // `Exclude<Exclude<R, Connection>, Scope>` is this type; TypeScript
    // cannot see it for a generic `R`.
    return served as Effect.Effect<void, never, Exclude<R, Connection | Scope.Scope>>
  }

  private make(transport: Transport.Transport): Effect.Effect<Internal.ConnectionCore, never, Scope.Scope> {
    return Internal.make(transport, this.options.limits, this.options.tls)
  }

  /** Who a socket is from, for logs, before a connection speaks for it. */
  private clientOf(socket: Net.Socket): string {
    return Transport.peerOf(socket, undefined, this.options.fallbackPeer).peer
  }

  /** A TLS listener's handshake, before the connection is built over the TLS socket. */
  private handshaken(socket: Net.Socket, tls: ServerTls): Effect.Effect<Internal.ConnectionCore, Refusal, Scope.Scope> {
    // Read now: a socket closed by a failed handshake no longer knows its peer.
    const client = this.clientOf(socket)
    if (this.shuttingDown) return Effect.fail(new Refusal(shutdownRefusal, client, "server shutting down"))
    return tls.engine.handshake(socket).pipe(
      Effect.mapError((error) => this.tlsRefusal(client, error)),
      Effect.flatMap((tlsSocket) =>
        this.make(Transport.fromSocket(socket, undefined, this.options.fallbackPeer, { socket: tlsSocket, info: infoOf(tlsSocket) }))
      )
    )
  }

  /** A listener behind a proxy: the connection reads its header, then (on a TLS listener) handshakes. */
  private proxied(
    socket: Net.Socket,
    proxy: ProxyOptions,
    tls: ServerTls | undefined
  ): Effect.Effect<Internal.ConnectionCore, Refusal, Scope.Scope> {
    const source = socket.remoteAddress
    return Effect.flatMap(this.make(Transport.fromSocket(socket, undefined, this.options.fallbackPeer)), (core) =>
      readProxyHeader(core, source, proxy).pipe(
        Effect.mapError((error) => new Refusal(proxyRefusal, core.peer, error.message)),
        Effect.flatMap(() => {
          if (tls === undefined) return Effect.succeed(core)
          if (this.shuttingDown) return Effect.fail(new Refusal(shutdownRefusal, core.peer, "server shutting down"))
          return implicitTls(core, tls.engine).pipe(
            Effect.mapError((error) =>
              error._tag === "TlsHandshakeError" ? this.tlsRefusal(core.peer, error) : new Refusal(tlsRefusal, core.peer, error.message)
            ),
            Effect.as(core)
          )
        })
      ))
  }

  private tlsRefusal(client: string, error: TlsHandshakeError): Refusal {
    const kind = this.shuttingDown ? shutdownRefusal : error.reason === "server-certificate" ? tlsServerFault : tlsRefusal
    return new Refusal(kind, client, error.detail)
  }

  /**
   * The connection's span, when a tracer is installed (`Tracer.nativeTracer`
   * records nothing, so then there is none: an idle connection keeps no
   * span): the root of a trace of its own, linked to the span the server was
   * started in, so the handler's own spans nest under their connection
   * rather than under the server's whole life. Hot paths (each read or
   * write) are never traced.
   */
  private traced<A, E2, R2>(core: Internal.ConnectionCore, effect: Effect.Effect<A, E2, R2>): Effect.Effect<A, E2, R2> {
    if (!this.tracing) return effect
    return Effect.withSpan(effect, "fiberline.connection", {
      root: true,
      kind: "server",
      links: this.serverSpan === undefined ? [] : [{ span: this.serverSpan, attributes: {} }],
      attributes: spanStart(core, this.options.name)
    })
  }

  /**
   * A connection closed before its handler ran: its PROXY header was wrong
   * or its source untrusted, or its TLS handshake failed.
   */
  private refuse(socket: Net.Socket, refusal: Refusal): Effect.Effect<void> {
    Transport.abort(socket)
    const kind = refusal.kind
    ServerMetrics.connectionsClosed[kind.reason].updateUnsafe(1, this.context)
    return this.shouldLog(kind)
      ? Effect.logWithLevel(kind.level)("connection refused", { reason: kind.reason, error: refusal.detail }).pipe(
        Effect.annotateLogs({ client: refusal.client })
      )
      : Effect.void
  }

  /** The connection's life once admitted: run the handler, log and count its end; or refuse it. */
  private connection(socket: Net.Socket, admitted: Effect.Effect<Internal.ConnectionCore, Refusal, Scope.Scope>) {
    return admitted.pipe(
      Effect.matchEffect({
        onFailure: (refusal) => this.refuse(socket, refusal),
        onSuccess: (core) => {
          this.admitting.delete(socket)
          this.sockets.add(socket)
          this.serving.add(core)
          if (this.shuttingDown) Shutdown.tell(core)
          return this.traced(core, Effect.logDebug("connection opened").pipe(
            // The handler runs in the connection's own scope (closed below by
            // `Effect.scoped`), which is what satisfies its `Scope`.
            Effect.andThen(runHandler(this.options.handler, core)),
            Effect.onExit((exit) => {
              this.serving.delete(core)
              this.sockets.delete(socket)
              this.closing.add(socket)
              if (this.shuttingDown && Exit.hasInterrupts(exit)) this.forcedSockets.add(socket)
              const kind = classify(exit, { inputEnded: core.reader.input.ended, shuttingDown: core.shuttingDown, aborted: core.aborted })
              ServerMetrics.connectionsClosed[kind.reason].updateUnsafe(1, this.context)
              const stats = core.stats
              const ended = this.tracing ? Effect.annotateCurrentSpan(spanEnd(kind, stats)) : Effect.void
              return this.shouldLog(kind) ? Effect.andThen(ended, logClose(exit, kind, stats)) : ended
            }),
            Effect.annotateLogs({ client: core.peer, connection: core.id })
          ))
        }
      }),
      Effect.scoped,
      Effect.ignoreCause()
    )
  }

  /**
   * A connection is fully released (its handler ended and its socket is
   * closed, lingering included). During shutdown it counts as forced if the
   * deadline interrupted its handler, else as drained, so the two add up to
   * the connections open when shutdown began.
   */
  private released(socket: Net.Socket): void {
    this.admitting.delete(socket)
    this.sockets.delete(socket)
    this.closing.delete(socket)
    if (this.shuttingDown) {
      if (this.forcedSockets.has(socket)) this.forced++
      else this.drained++
    }
    ServerMetrics.connectionsActive.modifyUnsafe(-1, this.context)
    this.options.onEnded()
  }
}
