/**
 * One connection served on stdin/stdout as a server serves one of its own
 * (`LineServer.serveStdio`): for a program that speaks its protocol on a
 * pipe (`inetd`, `socat`, an editor's language server, a test), with a
 * server's close classification, logs and drain.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Limits from "../internal/io/limits.ts"
import * as Stdio from "../internal/server/stdio.ts"
import * as Options from "../Options.ts"
import type { Connection, Handler } from "./Connection.ts"
import { ServerError } from "../ServerError.ts"
import type { CloseReason } from "../ServerMetrics.ts"
import { defaults, StdioOptions } from "../ServerOptions.ts"

/**
 * Options of {@link serveStdio}: the handler, the connection's limits and
 * the shutdown timeout.
 *
 * @since 0.2.0
 */
export interface StdioServerOptions<E, R> extends StdioOptions {
  readonly handler: Handler<E, R>
}

/**
 * The connection served on stdin/stdout.
 *
 * @since 0.2.0
 */
export interface StdioServer {
  /**
   * Completes once the connection has ended and stdout is flushed, with
   * its close reason (`end-of-input`, `line-too-long`, `handler-failure`…,
   * as `ServerMetrics.CloseReason` names them): what an exit code is made of.
   */
  readonly closed: Effect.Effect<CloseReason>
  /** Whether the shutdown had to interrupt the connection at its deadline. */
  readonly forced: Effect.Effect<boolean>
}

/**
 * Serves one connection on stdin/stdout in the current scope.
 *
 * **Details**
 *
 * The handler runs in a fiber of its own; how it ends is classified and
 * logged exactly as a TCP connection's (one line; a peer's doing at
 * warning or info, a handler failure at error with its cause). Closing the
 * scope while it runs (a signal) drains it as `make`'s servers drain: the
 * connection is told, its read fails with `ServerShuttingDown` once it is
 * quiet (a handler may catch it to say goodbye), and after
 * `shutdownTimeout` it is interrupted and counts as forced. Neither stream
 * is closed. Invalid options fail with a `ServerError` (reason
 * `InvalidOption`).
 *
 * **Example** (A program that serves its protocol on a pipe)
 *
 * ```ts
 * const main = Effect.scoped(Effect.gen(function*() {
 *   const stdio = yield* LineServer.serveStdio({ handler: shout, lineEnding: "\r\n" })
 *   const reason = yield* stdio.closed
 *   if (reason !== "end-of-input") process.exitCode = 1
 * }))
 * ```
 *
 * @since 0.2.0
 */
export const serveStdio = <E, R>(
  options: StdioServerOptions<E, R>
): Effect.Effect<StdioServer, ServerError, Scope.Scope | Exclude<R, Connection | Scope.Scope>> => {
  const { handler, ...given } = options
  return Effect.flatMap(
    Effect.mapError(Options.decode(StdioOptions, given), (reason) => new ServerError({ reason })),
    (decoded) =>
      Effect.map(
        Stdio.serve(handler, Limits.fromDecoded(decoded), decoded.shutdownTimeout ?? defaults.shutdownTimeout),
        (served) => ({ closed: served.closed, forced: Effect.sync(served.forced) })
      )
  )
}
