/**
 * Supervision of a server's connections: one fiber per connection that builds
 * the `Connection`, runs the handler, records and logs how it ended and
 * releases the socket; and the drain that ends them all at shutdown.
 *
 * **Isolation.** A failing or dying handler is logged and closes only its own
 * connection: each fiber ignores its cause after logging it, so nothing
 * reaches the accept loop or `unhandledRejection`.
 *
 * **Drain.** Shutdown tells every connection's driver: a reader idle at a
 * frame boundary then fails with `ServerShuttingDown`, busy ones go on. After
 * the deadline the remaining fibers are interrupted and every socket is
 * destroyed, lingering ones included, so a peer that never reads cannot hold
 * shutdown hostage.
 *
 * **Before the handler.** A PROXY protocol header is read first (it comes in
 * plaintext, ahead of everything); then, on a TLS listener, the handshake
 * runs over the same socket. A connection whose header or handshake fails is
 * closed before its handler runs, counted and logged once per burst. Both
 * hold the connection's slot from accept and are bounded by their timeouts,
 * so a peer that sends nothing cannot keep one.
 *
 * @internal
 */
import type * as Net from "node:net"
import type * as Tls from "node:tls"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Address from "../services/Address.ts"
import { type Connection, type Handler, runHandler } from "../services/Connection.ts"
import * as ServerMetrics from "../services/ServerMetrics.ts"
import { BurstLog } from "./burstLog.ts"
import { classify, type CloseKind, logClose } from "./closeReason.ts"
import * as Internal from "./io/connection.ts"
import type { Limits } from "./io/limits.ts"
import * as Endpoint from "./io/transport.ts"
import * as Shutdown from "./server/shutdown.ts"
import { type ProxyOptions, readHeader } from "./proxyIntake.ts"
import { infoOf, type ServerTls } from "./tlsEngine.ts"

/** Counts of connections ended by a shutdown. */
export interface DrainCounts {
  /** Ended by themselves during shutdown. */
  readonly drained: number
  /** Interrupted at the shutdown deadline. */
  readonly forced: number
}

/** How often closes a peer can cause at will are summarised in the log, at most. */
const closeLogInterval = 5_000

/** What a {@link Supervisor} runs, and how. */
export interface SupervisorOptions<E, R> {
  readonly handler: Handler<E, R>
  readonly limits: Limits
  /** The server's services, for every connection fiber. */
  readonly context: Context.Context<Exclude<R, Connection | Scope.Scope>>
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
const tlsServerFault: CloseKind = { reason: "tls-handshake", level: "Error", peerCaused: false }
const shutdownRefusal: CloseKind = { reason: "shutdown", level: "Debug", peerCaused: false }

/** Runs and tracks the connections of one server. */
export class Supervisor<E, R> {
  /** Connections handed to the handler. */
  accepted = 0
  private drained = 0
  private forced = 0
  private shuttingDown = false
  private readonly handler: Handler<E, R>
  private readonly limits: Limits
  private readonly context: Context.Context<Exclude<R, Connection | Scope.Scope>>
  private readonly onEnded: () => void
  /**
   * Connection fibers, tracked by hand (as `FiberSet` would, at a third of
   * its per-fiber memory): the drain awaits and interrupts them.
   */
  private readonly fibers = new Set<Fiber.Fiber<void>>()
  private onEmpty: (() => void) | undefined
  /** Drivers of running handlers, told when shutdown starts. */
  private readonly drivers = new Set<Internal.ConnectionCore>()
  /** Sockets whose handler runs: reset at the deadline. */
  private readonly sockets = new Set<Net.Socket>()
  /** Sockets in their TLS handshake on a TLS listener: reset when shutdown starts. */
  private readonly handshaking = new Set<Net.Socket>()
  /**
   * Sockets whose handler has ended but that are still closing (lingering):
   * destroyed at the deadline, without a reset, since every reply is out.
   */
  private readonly lingering = new Set<Net.Socket>()
  /** Sockets whose handler was interrupted by the shutdown deadline. */
  private readonly forcedSockets = new WeakSet<Net.Socket>()
  /** One burst log per close reason a peer can cause at will. */
  private readonly closeBursts = new Map<string, BurstLog>()

  private readonly proxy: ProxyOptions | undefined
  private readonly fallbackPeer: string
  private readonly tls: ServerTls | undefined

  constructor(options: SupervisorOptions<E, R>) {
    this.handler = options.handler
    this.limits = options.limits
    this.context = options.context
    this.onEnded = options.onEnded
    this.proxy = options.proxy
    this.fallbackPeer = options.fallbackPeer
    this.tls = options.tls
  }

  /** Counts of the drain so far. */
  get counts(): DrainCounts {
    return { drained: this.drained, forced: this.forced }
  }

  /** Serves `socket` in a fiber of its own. */
  start(socket: Net.Socket): void {
    this.accepted++
    ServerMetrics.connectionsAccepted.updateUnsafe(1, this.context)
    ServerMetrics.connectionsActive.modifyUnsafe(1, this.context)
    this.sockets.add(socket)
    const fiber = Effect.runForkWith(this.context)(this.serve(socket))
    this.fibers.add(fiber)
    fiber.addObserver(() => {
      this.fibers.delete(fiber)
      if (this.fibers.size === 0) this.onEmpty?.()
    })
  }

  /**
   * Drains: tells every connection, waits up to `timeout` for all fibers to
   * end, then forces the rest.
   */
  shutdown(timeout: Duration.Duration): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.shuttingDown = true
      this.drivers.forEach(Shutdown.tell)
      // Nothing was asked of a connection still in its handshake: it is
      // closed rather than served, like the queued ones.
      this.handshaking.forEach(Endpoint.abort)
      return this.awaitEmpty.pipe(Effect.timeoutOption(timeout))
    }).pipe(
      Effect.flatMap((finished) => {
        if (Option.isSome(finished)) return Effect.void
        this.sockets.forEach(Endpoint.abort)
        this.lingering.forEach((socket) => socket.destroy())
        return Fiber.interruptAll(this.fibers)
      }),
      Effect.ensuring(Effect.sync(() => this.closeBursts.forEach((burst) => burst.close())))
    )
  }

  /**
   * Whether this close gets its own log line: always, unless a peer can
   * cause it at will; then only the first of a burst, and the rest are
   * summarised per reason.
   */
  private shouldLog(kind: CloseKind): boolean {
    if (!kind.peerCaused) return true
    let burst = this.closeBursts.get(kind.reason)
    if (burst === undefined) {
      burst = new BurstLog(closeLogInterval, () => {}, (count) => {
        Effect.runForkWith(this.context)(
          Effect.logWithLevel(kind.level)("more connections closed", { reason: kind.reason, count, withinSeconds: closeLogInterval / 1000 })
        )
      })
      this.closeBursts.set(kind.reason, burst)
    }
    return burst.report()
  }

  private readonly awaitEmpty = Effect.callback<void>((resume) => {
    if (this.fibers.size === 0) return resume(Effect.void)
    this.onEmpty = () => resume(Effect.void)
    return Effect.sync(() => {
      this.onEmpty = undefined
    })
  })

  /**
   * One connection's whole life. (Plain combinators rather than
   * `Effect.gen`: a suspended generator per connection costs about 2 KiB,
   * which counts with thousands of idle connections.)
   */
  private serve(socket: Net.Socket): Effect.Effect<void, never, Exclude<R, Connection | Scope.Scope>> {
    const served = (this.proxy === undefined
      ? this.secured(socket, undefined)
      : readHeader(socket, this.proxy).pipe(
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
    Endpoint.abort(socket)
    ServerMetrics.connectionsClosed[kind.reason].updateUnsafe(1, this.context)
    return this.shouldLog(kind)
      ? Effect.logWithLevel(kind.level)("connection refused", { reason: kind.reason, error }).pipe(Effect.annotateLogs({ client }))
      : Effect.void
  }

  /** Who a connection is from, for logs: the PROXY header's client, else the socket's peer. */
  private clientOf(socket: Net.Socket, remote: Address.Address | undefined): string {
    return Endpoint.peerOf(socket, remote, this.fallbackPeer).peer
  }

  /** Once the peer is known: the TLS handshake on a TLS listener, then the connection. */
  private secured(socket: Net.Socket, remote: Address.Address | undefined) {
    const tls = this.tls
    if (tls === undefined || !tls.implicit) return this.connection(socket, remote, undefined)
    // Read now: a socket closed by a failed handshake no longer knows its peer.
    const client = this.clientOf(socket, remote)
    if (this.shuttingDown) return this.refuse(socket, client, shutdownRefusal, "server shutting down")
    this.handshaking.add(socket)
    return tls.engine.handshake(socket).pipe(
      Effect.ensuring(Effect.sync(() => this.handshaking.delete(socket))),
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
    return Internal.make(Endpoint.fromSocket(socket, remote, this.fallbackPeer, tls), this.limits, this.tls).pipe(
      Effect.flatMap((driver) => {
        const connection = driver
        this.drivers.add(driver)
        if (this.shuttingDown) Shutdown.tell(driver)
        return Effect.logDebug("connection opened").pipe(
          // The handler runs in the connection's own scope (closed below by
          // `Effect.scoped`), which is what satisfies its `Scope`.
          Effect.andThen(runHandler(this.handler, connection)),
          Effect.onExit((exit) => {
            this.drivers.delete(driver)
            this.sockets.delete(socket)
            this.lingering.add(socket)
            if (this.shuttingDown && Exit.hasInterrupts(exit)) this.forcedSockets.add(socket)
            const kind = classify(exit, {
              inputEnded: driver.reader.input.ended,
              shuttingDown: driver.shuttingDown,
              aborted: driver.aborted
            })
            ServerMetrics.connectionsClosed[kind.reason].updateUnsafe(1, this.context)
            return this.shouldLog(kind) ? logClose(exit, kind) : Effect.void
          }),
          Effect.annotateLogs({ client: connection.peer, connection: connection.id })
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
    this.sockets.delete(socket)
    this.lingering.delete(socket)
    if (this.shuttingDown) {
      if (this.forcedSockets.has(socket)) this.forced++
      else this.drained++
    }
    ServerMetrics.connectionsActive.modifyUnsafe(-1, this.context)
    this.onEnded()
  }
}
