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
import type * as Tls from "node:tls"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Scope from "effect/Scope"
import type * as Address from "../../services/Address.ts"
import { type Connection, type Handler, runHandler } from "../../services/Connection.ts"
import * as ServerMetrics from "../../services/ServerMetrics.ts"
import * as Internal from "../io/connection.ts"
import type { Limits } from "../io/limits.ts"
import * as Transport from "../io/transport.ts"
import { type ProxyOptions, readHeader } from "../proxyIntake.ts"
import { infoOf, type ServerTls } from "../tlsEngine.ts"
import { BurstLog, type Fork } from "./burstLog.ts"
import { classify, type CloseKind, logClose } from "./closeReason.ts"
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
  /** TLS: handshaken before the handler when implicit, else for `startTls`. */
  readonly tls: ServerTls | undefined
}

/** How connections closed before their handler ran are reported. */
const proxyRefusal: CloseKind = { reason: "proxy-header", level: "Warn", peerCaused: true }
const tlsRefusal: CloseKind = { reason: "tls-handshake", level: "Info", peerCaused: true }
/** A handshake the server's own certificate made fail: every one is logged. */
const tlsServerFault: CloseKind = { reason: "tls-handshake", level: "Error", peerCaused: false }
const shutdownRefusal: CloseKind = { reason: "shutdown", level: "Debug", peerCaused: false }

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
   * One connection's whole life: intake, then the handler. (Plain
   * combinators rather than `Effect.gen`: a suspended generator per
   * connection costs about 2 KiB, which counts with thousands of idle
   * connections.)
   */
  private serve(socket: Net.Socket): Effect.Effect<void, never, Exclude<R, Connection | Scope.Scope>> {
    const proxy = this.options.proxy
    const served = (proxy === undefined
      ? this.secured(socket, undefined)
      : readHeader(socket, proxy).pipe(
        Effect.matchEffect({
          onFailure: (rejected) => this.refuse(socket, this.clientOf(socket, undefined), proxyRefusal, rejected.reason),
          onSuccess: (remote) => this.secured(socket, remote)
        })
      )).pipe(Effect.ensuring(Effect.sync(() => this.released(socket))))
    // `Exclude<Exclude<R, Connection>, Scope>` is this type; TypeScript
    // cannot see it for a generic `R`.
    return served as Effect.Effect<void, never, Exclude<R, Connection | Scope.Scope>>
  }

  /**
   * A connection closed before its handler ran: its PROXY header was wrong
   * or its source untrusted, or its TLS handshake failed.
   */
  private refuse(socket: Net.Socket, client: string, kind: CloseKind, error: string): Effect.Effect<void> {
    Transport.abort(socket)
    ServerMetrics.connectionsClosed[kind.reason].updateUnsafe(1, this.context)
    return this.shouldLog(kind)
      ? Effect.logWithLevel(kind.level)("connection refused", { reason: kind.reason, error }).pipe(Effect.annotateLogs({ client }))
      : Effect.void
  }

  /** Who a connection is from, for logs: the PROXY header's client, else the socket's peer. */
  private clientOf(socket: Net.Socket, remote: Address.Address | undefined): string {
    return Transport.peerOf(socket, remote, this.options.fallbackPeer).peer
  }

  /** Once the peer is known: the TLS handshake on a TLS listener, then the connection. */
  private secured(socket: Net.Socket, remote: Address.Address | undefined) {
    const tls = this.options.tls
    if (tls === undefined || !tls.implicit) return this.connection(socket, remote, undefined)
    // Read now: a socket closed by a failed handshake no longer knows its peer.
    const client = this.clientOf(socket, remote)
    if (this.shuttingDown) return this.refuse(socket, client, shutdownRefusal, "server shutting down")
    return tls.engine.handshake(socket).pipe(
      Effect.matchEffect({
        onFailure: (error) => {
          const kind = error.reason === "server-certificate" ? tlsServerFault : tlsRefusal
          return this.refuse(socket, client, this.shuttingDown ? shutdownRefusal : kind, error.detail)
        },
        onSuccess: (tlsSocket) => this.connection(socket, remote, tlsSocket)
      })
    )
  }

  /** The connection's life once its peer is known: build it, run the handler, log and count its end. */
  private connection(socket: Net.Socket, remote: Address.Address | undefined, tlsSocket: Tls.TLSSocket | undefined) {
    const tls = tlsSocket === undefined ? undefined : { socket: tlsSocket, info: infoOf(tlsSocket) }
    this.admitting.delete(socket)
    this.sockets.add(socket)
    return Internal.make(Transport.fromSocket(socket, remote, this.options.fallbackPeer, tls), this.options.limits, this.options.tls).pipe(
      Effect.flatMap((core) => {
        this.serving.add(core)
        if (this.shuttingDown) Shutdown.tell(core)
        return Effect.logDebug("connection opened").pipe(
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
            return this.shouldLog(kind) ? logClose(exit, kind) : Effect.void
          }),
          Effect.annotateLogs({ client: core.peer, connection: core.id })
        )
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
