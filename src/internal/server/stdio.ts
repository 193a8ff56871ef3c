/**
 * A server of one connection, on stdin/stdout: the handler runs in a fiber
 * of its own, its end is classified and logged as a TCP connection's
 * (`closeReason.ts`), and closing the scope drains it as a server drains
 * its connections (`shutdown.ts`): it is told, its read fails with
 * `ServerShuttingDown` once it is quiet, and past the timeout it is
 * interrupted (forced).
 *
 * @internal
 */
import type * as Duration from "effect/Duration"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import { type Connection, type Handler, runHandler } from "../../services/Connection.ts"
import type { CloseReason } from "../../ServerMetrics.ts"
import * as Internal from "../io/connection.ts"
import type { Limits } from "../io/limits.ts"
import * as Transport from "../io/transport.ts"
import { classify, logClose } from "./closeReason.ts"
import * as Shutdown from "./shutdown.ts"

/** The connection served, as its owner sees it. */
export interface Stdio {
  /** How the connection ended, once it has and stdout is flushed. */
  readonly closed: Effect.Effect<CloseReason>
  /** Whether the drain had to interrupt it at the deadline. */
  readonly forced: () => boolean
}

/** Serves `handler` on stdin/stdout in the current scope; see the module doc. */
export const serve = <E, R>(
  handler: Handler<E, R>,
  limits: Limits,
  shutdownTimeout: Duration.Duration
): Effect.Effect<Stdio, never, Scope.Scope | Exclude<R, Connection | Scope.Scope>> =>
  Effect.gen(function*() {
    const ended = yield* Deferred.make<CloseReason>()
    let core: Internal.ConnectionImpl | undefined
    let forced = false
    let reason: CloseReason = "shutdown"
    const connection = Effect.flatMap(Internal.make(Transport.fromStdio(), limits), (made) => {
      core = made
      return runHandler(handler, made).pipe(
        Effect.onExit((exit) => {
          const kind = classify(exit, { inputEnded: made.reader.input.ended, shuttingDown: made.shuttingDown, aborted: made.aborted })
          reason = kind.reason
          return logClose(exit, kind)
        })
      )
    }).pipe(
      Effect.scoped,
      Effect.ignoreCause(),
      // Once the connection's scope has closed: stdout is flushed.
      Effect.ensuring(Effect.suspend(() => Deferred.succeed(ended, reason)))
    )
    // A scope of its own, closed after the drain below (finalizers run in reverse).
    const own = yield* Scope.fork(yield* Effect.scope)
    const fiber = yield* Effect.forkIn(connection as Effect.Effect<void, never, Exclude<R, Connection | Scope.Scope>>, own)
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        // Ended by itself: nothing to drain.
        if (Deferred.isDoneUnsafe(ended)) return
        yield* Effect.logInfo("shutting down", { address: "stdio", connections: 1 })
        if (core !== undefined) Shutdown.tell(core)
        const finished = yield* Fiber.await(fiber).pipe(Effect.timeoutOption(shutdownTimeout))
        if (Option.isNone(finished)) {
          forced = true
          yield* Fiber.interrupt(fiber)
        }
        yield* Effect.logInfo("server stopped", { address: "stdio", drained: forced ? 0 : 1, forced: forced ? 1 : 0 })
      })
    )
    return { closed: Deferred.await(ended), forced: () => forced }
  })
