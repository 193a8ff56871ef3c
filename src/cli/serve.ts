/**
 * A CLI command that serves one handler: over TCP with `LineServer` (plus an
 * optional metrics endpoint), or over stdin/stdout with `--stdio`.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Command } from "effect/cli"
import type { ServeError } from "effect/http/HttpServerError"
import * as Connection from "../services/Connection.ts"
import type { ServerError } from "../services/Errors.ts"
import * as LineServer from "../services/LineServer.ts"
import * as Logging from "../services/Logging.ts"
import { serverFlags } from "./flags.ts"

type Flags = Command.Command.Config.Infer<typeof serverFlags>

const connectionOptions = (flags: Flags): Connection.ConnectionOptions => ({
  maxLineLength: flags.maxLineLength,
  idleTimeout: Duration.isZero(flags.idleTimeout) ? undefined : flags.idleTimeout,
  lineTimeout: Duration.isZero(flags.lineTimeout) ? undefined : flags.lineTimeout,
  writeTimeout: flags.writeTimeout
})

const serveTcp = <E>(handler: Effect.Effect<void, E, Connection.Connection>, flags: Flags) =>
  Effect.gen(function*() {
    // oxlint-disable-next-line prefer-const -- assigned below, after the finalizer that reads it
    let server: LineServer.LineServer | undefined
    // Registered first, so it runs after the server's drain (finalizers run
    // in reverse): a forced drain makes the process exit non-zero.
    yield* Effect.addFinalizer(() =>
      server === undefined ? Effect.void : Effect.flatMap(server.stats, ({ forced }) =>
        Effect.sync(() => {
          if (forced > 0) process.exitCode = 1
        }))
    )
    // Before the server, so it closes after the drain (finalizers run in
    // reverse) and the drain can be watched.
    if (Option.isSome(flags.metricsPort)) {
      // Loaded only when asked for: the HTTP stack costs ~10 MiB of memory.
      const MetricsHttp = yield* Effect.promise(() => import("../services/MetricsHttp.ts"))
      const url = yield* MetricsHttp.serve({ port: flags.metricsPort.value })
      yield* Effect.logInfo("serving metrics", { address: url })
    }
    server = yield* LineServer.make({
      ...connectionOptions(flags),
      handler,
      host: flags.host,
      port: flags.port,
      maxConnections: Option.getOrUndefined(flags.maxConnections),
      whenFull: flags.whenFull,
      busyMessage: Option.getOrUndefined(flags.busyMessage),
      shutdownTimeout: flags.shutdownTimeout
    })
    return yield* Effect.never
  }).pipe(Effect.scoped)

const serveStdio = <E>(handler: Effect.Effect<void, E, Connection.Connection>, flags: Flags) =>
  Connection.stdio(connectionOptions(flags)).pipe(
    Effect.flatMap((connection) => Effect.provideService(handler, Connection.Connection, connection)),
    Effect.scoped
  )

/**
 * A subcommand `name` that runs `handler` for every connection, configured by
 * the server flags (see `--help`).
 *
 * @since 0.1.0
 */
export const serveCommand = <const Name extends string, E>(
  name: Name,
  description: string,
  handler: Effect.Effect<void, E, Connection.Connection>
) =>
  Command.make(name, serverFlags, (flags) => {
    const serve: Effect.Effect<void, E | ServerError | ServeError> = flags.stdio
      ? serveStdio(handler, flags)
      : serveTcp(handler, flags)
    // Report a fatal failure here, through the chosen logger on stderr: the
    // runtime's own report would go to stdout, into the protocol stream.
    return serve.pipe(
      Effect.tapCause((cause) => Cause.hasInterruptsOnly(cause) ? Effect.void : Effect.logError("fatal", cause)),
      Effect.provide(Logging.layer(flags.logFormat))
    )
  }).pipe(Command.withDescription(description))
