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
import * as References from "effect/References"
import * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import { checked, Connection, type Handler } from "../../services/Connection.ts"
import * as ServerMetrics from "../../services/ServerMetrics.ts"
import * as Internal from "../io/connection.ts"
import type { Limits } from "../io/limits.ts"
import * as Transport from "../io/transport.ts"
import type { ServerTls } from "../tlsEngine.ts"
import { BurstLog, type Fork } from "./burstLog.ts"
import { classify, type CloseKind, logClose } from "./closeReason.ts"
import * as Span from "./connectionSpan.ts"
import * as Intake from "./intake.ts"
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
  readonly proxy: Intake.ProxyOptions | undefined
  /** The peer of a socket that has no address of its own (a Unix socket's client). */
  readonly fallbackPeer: string
  /** The server's name, for connection spans. */
  readonly name: string | undefined
  /** TLS: handshaken before the handler when implicit, else for `startTls`. */
  readonly tls: ServerTls | undefined
}

/** The connections of one server; see the module doc. */
export class Connections<E, R> implements Intake.IntakeHost {
  /** Connections handed to the handler. */
  accepted = 0
  /** Connections that ended by themselves during shutdown. */
  drained = 0
  /** Connections interrupted at the shutdown deadline. */
  forced = 0
  /** The drain has begun: connections are told, new ones are refused. */
  shuttingDown = false
  /** The connection fibers, in the server's scope. */
  readonly fibers: FiberSet.FiberSet<void, unknown>
  /** Connections whose handler runs: told when shutdown starts. */
  readonly serving = new Set<Internal.ConnectionImpl>()
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
  /** The peer of a socket that has no address of its own (a Unix socket's client). */
  readonly fallbackPeer: string
  /** Runs housekeeping (log summaries, closes of refused sockets) in a fiber of the server's scope. */
  readonly fork: Fork
  private readonly options: ConnectionsOptions<E, R>
  private readonly context: Context.Context<Exclude<R, Connection | Scope.Scope>>
  private readonly run: (effect: Effect.Effect<void, never, Exclude<R, Connection | Scope.Scope>>) => Fiber.Fiber<void, never>
  /** One burst log per close reason a peer can cause at will. */
  private readonly closeBursts = new Map<string, BurstLog>()
  /** A tracer is installed: every connection gets a span. */
  private readonly tracing: boolean
  /** The server's name and the span it was started in, which connection spans link to. */
  private readonly server: { readonly name: string | undefined; readonly span: Tracer.AnySpan | undefined }

  private constructor(
    options: ConnectionsOptions<E, R>,
    fibers: FiberSet.FiberSet<void, unknown>,
    run: (effect: Effect.Effect<void, never, Exclude<R, Connection | Scope.Scope>>) => Fiber.Fiber<void, never>,
    context: Context.Context<Exclude<R, Connection | Scope.Scope>>,
    scope: Scope.Scope
  ) {
    this.options = options
    this.fallbackPeer = options.fallbackPeer
    this.fibers = fibers
    this.run = run
    this.context = context
    this.tracing = Context.get(context, Tracer.Tracer) !== Tracer.nativeTracer
    this.server = { name: options.name, span: Context.getOrUndefined(context, Tracer.ParentSpan) }
    // Not in `fibers`: the drain waits for connections, not for a summary's next window.
    this.fork = (effect) => Fiber.runIn(Effect.runForkWith(context)(effect), scope)
  }

  /** The connections of a server, in the current scope (closing it interrupts them all). */
  static make<E, R>(
    options: ConnectionsOptions<E, R>
  ): Effect.Effect<Connections<E, R>, never, Scope.Scope | Exclude<R, Connection | Scope.Scope>> {
    return Effect.gen(function*() {
      const fibers = yield* FiberSet.make<void, unknown>()
      const run = yield* FiberSet.runtime(fibers)<Exclude<R, Connection | Scope.Scope>>()
      const context = yield* Effect.context<Exclude<R, Connection | Scope.Scope>>()
      // A scope of their own, made now: closed after the drain, whenever they were forked.
      const housekeeping = yield* Scope.fork(yield* Effect.scope)
      return new Connections(options, fibers, (effect) => run(effect), context, housekeeping)
    })
  }

  /**
   * Serves `socket`: its handler runs in a fiber of its own, in the set. A
   * listener that reads PROXY headers or handshakes TLS first runs that
   * intake in a fiber of the set, which then starts the handler's.
   */
  start(socket: Net.Socket): void {
    this.accepted++
    ServerMetrics.connectionsAccepted.updateUnsafe(1, this.context)
    ServerMetrics.connectionsActive.modifyUnsafe(1, this.context)
    this.admitting.add(socket)
    const { proxy, tls } = this.options
    const implicit = tls !== undefined && tls.implicit ? tls : undefined
    if (proxy === undefined && implicit === undefined) {
      return this.launch(socket, this.makeConnection(Transport.fromSocket(socket, undefined, this.fallbackPeer)))
    }
    const intake = proxy !== undefined ? Intake.proxied(this, socket, proxy, implicit) : Intake.handshaken(this, socket, implicit!)
    this.run(Effect.matchEffect(intake, {
      onFailure: (refusal) => this.refuse(socket, refusal),
      onSuccess: (core) => Effect.sync(() => this.launch(socket, core))
    }) as Effect.Effect<void, never, Exclude<R, Connection | Scope.Scope>>)
  }

  /** A connection over `transport`, in a scope of its own (closed by {@link launch}'s end, or at a refusal). */
  readonly makeConnection = (transport: Transport.Transport): Internal.ConnectionImpl => {
    const scope = Scope.makeUnsafe()
    const core = new Internal.ConnectionImpl(
      transport,
      this.options.limits,
      this.options.tls,
      Context.add(this.context as Context.Context<never>, Scope.Scope, scope)
    )
    core.scope = scope
    return core
  }

  /**
   * Runs the handler over an admitted connection, in a fiber of the set
   * whose context already holds what the handler needs (the connection, its
   * scope, the log annotations `client` and `connection`): nothing wraps
   * the handler but one `onExit`, so an idle connection costs a few objects
   * beyond its socket and its handler's own state.
   */
  private launch(socket: Net.Socket, core: Internal.ConnectionImpl): void {
    this.admitting.delete(socket)
    this.sockets.add(socket)
    this.serving.add(core)
    if (this.shuttingDown) Shutdown.tell(core)
    // The connection's own context holds its scope already.
    let context: Context.Context<never> = Context.add(core.context, Connection, core)
    context = Context.add(context, References.CurrentLogAnnotations, {
      ...Context.get(context, References.CurrentLogAnnotations),
      client: core.peer,
      connection: core.id
    })
    const handler = this.options.handler
    let handled: Effect.Effect<void, unknown, unknown>
    try {
      handled = Effect.isEffect(handler) ? handler : checked(handler(core))
    } catch (defect) {
      handled = Effect.die(defect)
    }
    // The span (if any) covers the connection's whole life, its close included.
    const life = Effect.onExit(Effect.andThen(Effect.logDebug("connection opened"), handled), this.onExit)
    // Its failure is the handler's, counted and logged by `ended`: the set only tracks it.
    // `context` holds every service the handler and `onExit` need: `R`'s, the connection and its scope.
    const traced = this.tracing ? Span.traced(life, core, this.server) : life
    FiberSet.addUnsafe(this.fibers, Effect.runForkWith(context)(traced as Effect.Effect<void, unknown>))
  }

  /**
   * What runs when a handler ends, one function for every connection of
   * the server: it finds its connection in the fiber's context, as the
   * handler does.
   */
  private readonly onExit = (exit: Exit.Exit<unknown, unknown>): Effect.Effect<void, never, Connection> =>
    Effect.flatMap(Effect.service(Connection), (connection) => {
      const core = connection as Internal.ConnectionImpl
      return this.ended(core.transport.socket!, core, exit)
    })

  /** The handler ended: count and log how, close the connection's scope, release it, and free its slot. */
  private ended(socket: Net.Socket, core: Internal.ConnectionImpl, exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    this.serving.delete(core)
    this.sockets.delete(socket)
    this.closing.add(socket)
    if (this.shuttingDown && Exit.hasInterrupts(exit)) this.forcedSockets.add(socket)
    const kind = classify(exit, { inputEnded: core.reader.input.ended, shuttingDown: core.shuttingDown, aborted: core.aborted })
    ServerMetrics.connectionsClosed[kind.reason].updateUnsafe(1, this.context)
    const stats = core.stats
    const traced = this.tracing ? Span.annotateEnd(kind, stats) : Effect.void
    const logged = this.shouldLog(kind) ? Effect.andThen(traced, logClose(exit, kind, stats)) : traced
    return logged.pipe(
      // The handler's finalizers first (they may still write), then the release.
      Effect.andThen(Scope.close(core.scope!, exit)),
      Effect.andThen(core.release(!Exit.hasInterrupts(exit))),
      Effect.ensuring(Effect.sync(() => this.released(socket)))
    )
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
   * A connection closed before its handler ran: its PROXY header was wrong
   * or its source untrusted, or its TLS handshake failed.
   */
  private refuse(socket: Net.Socket, refusal: Intake.Refusal): Effect.Effect<void> {
    Transport.abort(socket)
    this.released(socket)
    const kind = refusal.kind
    ServerMetrics.connectionsClosed[kind.reason].updateUnsafe(1, this.context)
    return this.shouldLog(kind)
      ? Effect.logWithLevel(kind.level)("connection refused", { reason: kind.reason, error: refusal.detail }).pipe(
        Effect.annotateLogs({ client: refusal.client })
      )
      : Effect.void
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
