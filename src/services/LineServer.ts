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
import * as Net from "node:net"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type * as Scope from "effect/Scope"
import type { Driver } from "../internal/driver.ts"
import * as Endpoint from "../internal/endpoint.ts"
import * as Internal from "../internal/connection.ts"
import { Connection, type ConnectionOptions } from "./Connection.ts"
import { ServerError } from "./Errors.ts"
import * as ServerMetrics from "./ServerMetrics.ts"

/**
 * What to do with a connection that arrives when `maxConnections` are being
 * served: `refuse` accepts and closes it at once (after the busy message, if
 * any); `queue` holds it, unread, until a slot frees.
 *
 * @since 0.1.0
 */
export type WhenFull = "refuse" | "queue"

/**
 * Options of {@link make}; every limit of `ConnectionOptions` applies to
 * each connection.
 *
 * @since 0.1.0
 */
export interface LineServerOptions<E, R> extends ConnectionOptions {
  /** Runs once per connection, with the `Connection` provided. */
  readonly handler: Effect.Effect<void, E, R>
  /** Interface to bind. Default `127.0.0.1`. */
  readonly host?: string | undefined
  /** Port to bind; `0` picks a free one (read it from `address`). Default `1234`. */
  readonly port?: number | undefined
  /** Kernel accept backlog, and the length of the `queue` when full. Default 511. */
  readonly backlog?: number | undefined
  /** Connections served at once; unlimited when absent. */
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
  /** The bound address; `port` is the real one when `0` was asked. */
  readonly address: { readonly host: string; readonly port: number }
  /** Current counts; after shutdown, its final counts. */
  readonly stats: Effect.Effect<ServerStats>
}

/**
 * The `LineServer` service tag, provided by {@link layer}.
 *
 * @since 0.1.0
 */
export const LineServer: Context.Service<LineServer, LineServer> = Context.Service<LineServer>(
  "fiberline/services/LineServer"
)

/**
 * Default server options: 127.0.0.1:1234, backlog 511, no connection limit,
 * refuse when full, 10 s shutdown timeout.
 *
 * @since 0.1.0
 */
export const defaults = {
  host: "127.0.0.1",
  port: 1234,
  backlog: 511,
  whenFull: "refuse",
  shutdownTimeout: Duration.seconds(10)
} as const

/** How often a flood of refusals is summarised in the log, at most. */
const refusalLogInterval = 5_000

/** Refused connections still closing gracefully at once, at most; beyond, they are destroyed. */
const maxClosingRefusals = 256

/** The `_tag` of the typed failure an exit carries, if any. */
const failureTag = (exit: Exit.Exit<unknown, unknown>): string | undefined => {
  const error = Exit.findErrorOption(exit)
  return Option.isSome(error) && Predicate.hasProperty(error.value, "_tag") && typeof error.value._tag === "string"
    ? error.value._tag
    : undefined
}

/** Maps how a handler ended to the close reason recorded in metrics. */
const closeReason = (exit: Exit.Exit<unknown, unknown>, driver: Driver): ServerMetrics.CloseReason => {
  if (Exit.isSuccess(exit)) {
    return driver.lines.isEnded ? "end-of-input" : driver.shuttingDown ? "shutdown" : "handler-done"
  }
  if (Exit.hasInterrupts(exit)) return driver.shuttingDown ? "shutdown" : "handler-failure"
  switch (failureTag(exit)) {
    case "EndOfInput":
    case "UnexpectedEndOfInput":
      return "end-of-input"
    case "IdleTimeout":
      return "idle-timeout"
    case "LineTooLong":
      return "line-too-long"
    case "WriteTimeout":
      return "write-timeout"
    case "ConnectionError":
      return "reset"
    case "ServerShuttingDown":
      return "shutdown"
    default:
      return "handler-failure"
  }
}

/**
 * Logs the end of one connection. Routine ends, and peers that reset (common
 * and uninteresting one by one; counted in metrics), at debug; idle timeouts
 * at info; peers breaking the protocol (an over-long line, input cut in the
 * middle of a block) or not reading at warning; handler failures and defects
 * at error, with their cause. Never payload bytes.
 */
const logClose = (exit: Exit.Exit<unknown, unknown>, reason: ServerMetrics.CloseReason): Effect.Effect<void> => {
  if (reason === "handler-failure") {
    return Exit.isFailure(exit) ? Effect.logError("handler failed", exit.cause) : Effect.void
  }
  const error = Exit.findErrorOption(exit)
  const annotations = Option.isSome(error) && error.value instanceof Error
    ? { reason, error: error.value.message }
    : { reason }
  if (reason === "line-too-long" || reason === "write-timeout" || failureTag(exit) === "UnexpectedEndOfInput") {
    return Effect.logWarning("connection closed", annotations)
  }
  return reason === "idle-timeout"
    ? Effect.logInfo("connection closed", annotations)
    : Effect.logDebug("connection closed", annotations)
}

/** Rejects an option value a server cannot run with (a programming error: a defect). */
const check = (name: string, value: number, valid: boolean): number => {
  if (!valid) throw new RangeError(`LineServer option ${name} is invalid: ${value}`)
  return value
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
 * 2. connections waiting for input with nothing buffered end now: their read
 *    fails with `ServerShuttingDown` (a handler may catch it and say goodbye);
 *    connections mid-request keep running, and every line already received
 *    is still handled and answered;
 * 3. after `shutdownTimeout` the remaining fibers are interrupted and their
 *    sockets destroyed, so a peer that never reads cannot hold shutdown
 *    hostage;
 * 4. one log line sums up: connections drained and forced.
 *
 * @since 0.1.0
 */
export const make = <E, R>(
  options: LineServerOptions<E, R>
): Effect.Effect<LineServer, ServerError, Scope.Scope | Exclude<R, Connection>> =>
  Effect.gen(function*() {
    const host = options.host ?? defaults.host
    const port = options.port ?? defaults.port
    check("port", port, Number.isInteger(port) && port >= 0 && port <= 65535)
    const backlog = options.backlog ?? defaults.backlog
    check("backlog", backlog, Number.isSafeInteger(backlog) && backlog > 0)
    const maxConnections = options.maxConnections ?? Infinity
    check("maxConnections", maxConnections, maxConnections === Infinity || Number.isSafeInteger(maxConnections) && maxConnections > 0)
    const whenFull = options.whenFull ?? defaults.whenFull
    const shutdownTimeout = Duration.fromInputUnsafe(options.shutdownTimeout ?? defaults.shutdownTimeout)
    check("shutdownTimeout", Duration.toMillis(shutdownTimeout), Duration.toMillis(shutdownTimeout) >= 0)
    const busyLine = options.busyMessage === undefined ? undefined : `${options.busyMessage}\n`
    const limits = Internal.resolveLimits(options)
    const closeTimeouts = {
      flushMillis: Duration.toMillis(limits.writeTimeout),
      lingerMillis: Duration.toMillis(limits.lingerTimeout)
    }
    const context = yield* Effect.context<Exclude<R, Connection>>()
    // Connection fibers, tracked by hand (as `FiberSet` would, at a third of
    // its per-fiber memory): the shutdown below awaits and interrupts them.
    const fibers = new Set<Fiber.Fiber<void>>()
    let onEmpty: (() => void) | undefined
    const awaitEmpty = Effect.callback<void>((resume) => {
      if (fibers.size === 0) return resume(Effect.void)
      onEmpty = () => resume(Effect.void)
      return Effect.sync(() => {
        onEmpty = undefined
      })
    })

    // Drivers of running handlers (told when shutdown starts), and every
    // connection socket until it is released (destroyed at the deadline, even
    // while lingering after its handler is done).
    const drivers = new Set<Driver>()
    const sockets = new Set<Net.Socket>()
    const closingRefusals = new Set<Net.Socket>()
    const queue: Array<Net.Socket> = []
    let active = 0
    let accepted = 0
    let refused = 0
    let drained = 0
    let forced = 0
    let shuttingDown = false
    let refusedSinceLog = 0
    let refusalTimer: ReturnType<typeof setTimeout> | undefined

    /** Runs a log effect from a Node callback, with the server's services and annotations. */
    const logFromCallback = (effect: Effect.Effect<void>) => {
      Effect.runForkWith(context)(effect)
    }

    const summariseRefusals = () => {
      if (refusedSinceLog === 0) {
        refusalTimer = undefined
        return
      }
      logFromCallback(Effect.logWarning("server full: refused connections", {
        refused: refusedSinceLog,
        maxConnections
      }))
      refusedSinceLog = 0
      refusalTimer = setTimeout(summariseRefusals, refusalLogInterval)
      refusalTimer.unref()
    }

    const refuse = (socket: Net.Socket) => {
      refused++
      ServerMetrics.connectionsRefused.updateUnsafe(1, context)
      if (refusalTimer === undefined) {
        logFromCallback(Effect.logWarning("server full: refusing connections", { maxConnections }))
        refusalTimer = setTimeout(summariseRefusals, refusalLogInterval)
        refusalTimer.unref()
      } else {
        refusedSinceLog++
      }
      // A refusal closes gracefully too (the busy line must not be lost to
      // a reset), but a flood of refusals cannot pile up descriptors.
      if (closingRefusals.size >= maxClosingRefusals) return socket.destroy()
      closingRefusals.add(socket)
      if (busyLine !== undefined && !socket.destroyed) socket.write(busyLine)
      Endpoint.fromSocket(socket).close(closeTimeouts, () => closingRefusals.delete(socket))
    }

    /**
     * One connection's whole life, in its own fiber. (Plain combinators
     * rather than `Effect.gen`: a suspended generator per connection costs
     * about 2 KiB, which counts with thousands of idle connections.)
     */
    const serve = (socket: Net.Socket): Effect.Effect<void, never, Exclude<R, Connection>> =>
      Internal.make(Endpoint.fromSocket(socket), limits).pipe(
        Effect.flatMap(([connection, driver]) => {
          drivers.add(driver)
          if (shuttingDown) driver.shutdown()
          return Effect.logDebug("connection opened").pipe(
            Effect.andThen(Effect.provideService(options.handler, Connection, connection)),
            Effect.onExit((exit) => {
              drivers.delete(driver)
              const reason = closeReason(exit, driver)
              ServerMetrics.connectionsClosed[reason].updateUnsafe(1, context)
              if (shuttingDown) {
                if (Exit.hasInterrupts(exit)) forced++
                else drained++
              }
              return logClose(exit, reason)
            }),
            Effect.annotateLogs({ client: connection.peer, connection: connection.id })
          )
        }),
        Effect.scoped,
        Effect.ignoreCause(),
        Effect.ensuring(Effect.sync(() => {
          sockets.delete(socket)
          active--
          ServerMetrics.connectionsActive.modifyUnsafe(-1, context)
          startQueued()
        }))
      )

    const start = (socket: Net.Socket) => {
      accepted++
      active++
      ServerMetrics.connectionsAccepted.updateUnsafe(1, context)
      ServerMetrics.connectionsActive.modifyUnsafe(1, context)
      sockets.add(socket)
      const fiber = Effect.runForkWith(context)(serve(socket))
      fibers.add(fiber)
      fiber.addObserver(() => {
        fibers.delete(fiber)
        if (fibers.size === 0) onEmpty?.()
      })
    }

    /** Starts queued sockets while there is room. */
    const startQueued = () => {
      for (let socket = queue.shift(); socket !== undefined; socket = queue.shift()) {
        if (shuttingDown || active >= maxConnections) return queue.unshift(socket)
        if (!socket.destroyed) start(socket)
      }
    }

    const onConnection = (socket: Net.Socket) => {
      if (shuttingDown) return socket.destroy()
      if (active < maxConnections) return start(socket)
      if (whenFull === "queue" && queue.length < backlog) {
        socket.on("error", () => {})
        socket.once("close", () => {
          const index = queue.indexOf(socket)
          if (index !== -1) queue.splice(index, 1)
        })
        queue.push(socket)
        return
      }
      refuse(socket)
    }

    const stats: Effect.Effect<ServerStats> = Effect.sync(() => ({ active, accepted, refused, drained, forced }))

    // allowHalfOpen: a reply can follow the client's FIN. pauseOnConnect:
    // nothing is read from a queued socket (a served one reads at most
    // 64 KiB ahead of its handler).
    const server = Net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, onConnection)

    const shutdown = Effect.gen(function*() {
      shuttingDown = true
      server.close()
      if (refusalTimer !== undefined) clearTimeout(refusalTimer)
      closingRefusals.forEach((socket) => socket.destroy())
      for (const socket of queue.splice(0)) {
        refused++
        ServerMetrics.connectionsRefused.updateUnsafe(1, context)
        socket.destroy()
      }
      yield* Effect.logInfo("shutting down", { connections: active })
      drivers.forEach((driver) => driver.shutdown())
      const finished = yield* awaitEmpty.pipe(Effect.timeoutOption(shutdownTimeout))
      if (Option.isNone(finished)) {
        sockets.forEach((socket) => socket.destroy())
        yield* Fiber.interruptAll(fibers)
      }
      yield* Effect.logInfo("server stopped", { drained, forced })
    })

    // Acquired with its release: even if this fiber is interrupted while
    // binding, a bound listener is closed again.
    yield* Effect.acquireRelease(
      Effect.callback<void, ServerError>((resume) => {
        const onError = (cause: Error) => resume(Effect.fail(new ServerError({ host, port, cause })))
        server.once("error", onError)
        server.listen({ host, port, backlog }, () => {
          server.off("error", onError)
          // From now on, errors are accept failures (e.g. EMFILE): log them, keep serving.
          server.on("error", (cause) => logFromCallback(Effect.logError("accept failed", cause)))
          resume(Effect.void)
        })
      }),
      () => shutdown
    )
    const bound = server.address() as Net.AddressInfo

    yield* Effect.logInfo("listening", { address: `${bound.address}:${bound.port}` })
    return LineServer.of({ address: { host: bound.address, port: bound.port }, stats })
  })

/**
 * {@link make} as a Layer: building it binds and serves; closing its scope
 * drains and stops the server.
 *
 * @since 0.1.0
 */
export const layer = <E, R>(
  options: LineServerOptions<E, R>
): Layer.Layer<LineServer, ServerError, Exclude<R, Connection>> => Layer.effect(LineServer, make(options))
