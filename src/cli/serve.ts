/**
 * A CLI command that serves one handler: over TCP with `LineServer` (plus
 * an optional metrics endpoint), or over stdin/stdout with `--stdio`,
 * configured by the server settings (see `settings.ts`), with the
 * handler's services built once per run. With `--workers N` (N > 1) the
 * process supervises N worker processes instead (`workers.ts`), each of
 * which runs the command as a single process does.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as References from "effect/References"
import type * as Scope from "effect/Scope"
import { Command } from "effect/cli"
import type { ServeError } from "effect/http/HttpServerError"
import * as Address from "../Address.ts"
import type { Connection, ConnectionOptions, Handler } from "../services/Connection.ts"
import * as LineServer from "../services/LineServer.ts"
import * as Tls from "../Tls.ts"
import * as Logging from "../services/Logging.ts"
import { ExitCode, UsageError, usagePrefix } from "./exit.ts"
import { reloadTlsOnHangup } from "./hangup.ts"
import { LogLevelSetting } from "./logLevel.ts"
import * as Settings from "./settings.ts"
import * as WorkerLink from "./workerLink.ts"
import * as Workers from "./workers.ts"
import { encodeTicketKeys, ticketKeysVariable } from "./tlsSettings.ts"

/**
 * What a command serves: the handler, and optionally the layer that
 * provides what it needs (built once per run, not per connection) and
 * connection options of the protocol's own (e.g. `lineEnding: "\r\n"`).
 *
 * @since 0.1.0
 */
export type Served<E, R, LE = never> =
  & {
    readonly handler: Handler<E, R>
    readonly connection?: ConnectionOptions | undefined
  }
  // A handler that needs services must come with the layer that provides them.
  & ([Exclude<R, Connection | Scope.Scope>] extends [never]
    ? { readonly layer?: Layer.Layer<never, LE> | undefined }
    : { readonly layer: Layer.Layer<Exclude<R, Connection | Scope.Scope>, LE> })

/**
 * A command that serves a handler.
 *
 * @since 0.1.0
 */
export interface ServeCommandSpec<Name extends string, Extra extends Command.Command.Config, E, R, LE> {
  readonly name: Name
  readonly description: string
  /** Defaults of the server flags for this command, e.g. `{ port: 6379 }`. */
  readonly defaults?: Settings.CommandDefaults | undefined
  /** Flags and arguments of this command beyond the server flags. */
  readonly config?: Extra | undefined
  /** What to serve, given the values of `config`; runs before anything is bound. */
  readonly setup: (options: Command.Command.Config.Infer<Extra>) => Effect.Effect<Served<E, R, LE>, UsageError>
}

/** The connection was closed for something its peer did: exit code 3 with `--stdio`. */
const peerReasons = new Set([
  "unexpected-end-of-input",
  "idle-timeout",
  "line-timeout",
  "line-too-long",
  "write-timeout",
  "reset"
])

/**
 * Serves one connection on stdin/stdout (`LineServer.serveStdio`: classified,
 * logged and drained as over TCP). How it ended decides the exit code: 0
 * for a clean end (or a clean drain), 1 for a handler failure or a forced
 * drain, 3 for a peer-caused close.
 */
const serveStdio = <E, R>(handler: Handler<E, R>, settings: Settings.ServerSettings, options: ConnectionOptions) =>
  Effect.gen(function*() {
    // oxlint-disable-next-line prefer-const -- assigned below, after the finalizer that reads it
    let stdio: LineServer.StdioServer | undefined
    // Registered first, so it runs after the drain (finalizers run in reverse).
    yield* Effect.addFinalizer(() =>
      stdio === undefined ? Effect.void : Effect.flatMap(stdio.forced, (forced) =>
        Effect.sync(() => {
          if (forced) process.exitCode = ExitCode.failure
        }))
    )
    stdio = yield* LineServer.serveStdio({ ...options, shutdownTimeout: settings.server.shutdownTimeout, handler })
    const reason = yield* stdio.closed
    process.exitCode = reason === "handler-failure" ? ExitCode.failure : peerReasons.has(reason) ? ExitCode.peer : ExitCode.ok
  })

/**
 * Serves over TCP until interrupted. In a `--workers` worker (`link`) it
 * tells the primary once it listens, and its metrics go to the primary
 * rather than to an endpoint of its own.
 */
const serveTcp = <E, R>(
  handler: Handler<E, R>,
  settings: Settings.ServerSettings,
  options: ConnectionOptions,
  link: WorkerLink.WorkerLink | undefined
) =>
  Effect.gen(function*() {
    // oxlint-disable-next-line prefer-const -- assigned below, after the finalizer that reads it
    let server: LineServer.LineServer | undefined
    // Registered first, so it runs after the server's drain (finalizers run
    // in reverse): a forced drain makes the process exit non-zero.
    yield* Effect.addFinalizer(() =>
      server === undefined ? Effect.void : Effect.flatMap(server.stats, ({ forced }) =>
        Effect.sync(() => {
          if (forced > 0) process.exitCode = ExitCode.failure
        }))
    )
    // Before the server, so it closes after the drain (finalizers run in
    // reverse) and the drain can be watched.
    if (settings.metricsPort !== undefined && link !== undefined) {
      const ClusterMetrics = yield* Effect.promise(() => import("./clusterMetrics.ts"))
      yield* ClusterMetrics.answer(link)
    } else if (settings.metricsPort !== undefined) {
      // Loaded only when asked for: the HTTP stack costs ~10 MiB of memory.
      const MetricsHttp = yield* Effect.promise(() => import("../services/MetricsHttp.ts"))
      const url = yield* MetricsHttp.serve({ port: settings.metricsPort })
      yield* Effect.logInfo("serving metrics", { address: url })
    }
    if (settings.server.tls !== undefined) yield* reloadTlsOnHangup(() => server)
    server = yield* LineServer.make({ ...settings.server, ...options, handler })
    if (link !== undefined) yield* link.ready(Address.format(server.address))
    return yield* Effect.never
  })

/** What one process serves, until interrupted: the handler's layer, then the server. */
const serveOne = <E, R, LE>(
  served: Served<E, R, LE>,
  settings: Settings.ServerSettings,
  connection: ConnectionOptions,
  link: WorkerLink.WorkerLink | undefined
) =>
  Effect.gen(function*() {
    // Built first, so it is released after the drain.
    const context = served.layer === undefined ? undefined : yield* Layer.build(served.layer)
    const serve = settings.stdio
      ? serveStdio(served.handler, settings, connection)
      : serveTcp(served.handler, settings, connection, link)
    // The layer provides what the handler needs beyond its connection and scope.
    const provided = context === undefined
      ? serve
      : Effect.provideContext(serve as Effect.Effect<void, unknown, unknown>, context as never)
    return yield* (provided as Effect.Effect<void, E | LE | LineServer.ServerError | ServeError, Scope.Scope>)
  })

/**
 * A subcommand that serves what `spec.setup` returns for every connection,
 * configured by the server flags (see `--help`): over TCP, or over
 * stdin/stdout with `--stdio`.
 *
 * **Details**
 *
 * Settings are resolved and the handler set up before anything is bound; a
 * usage error is one line on stderr and exit code 2. A fatal failure (the
 * port is taken) is one log line on stderr and exit code 1; see `exit.ts`
 * for every code.
 *
 * With `--workers N` (N > 1) the process is a `node:cluster` primary: it
 * resolves the settings and loads the handler as above (so a mistake is one
 * usage error before anything is forked), then forks N workers that run
 * this same command, each building the handler's layer and serving the
 * shared port; see `workers.ts`.
 *
 * @since 0.1.0
 */
export const serveCommand = <const Name extends string, Extra extends Command.Command.Config, E, R, LE>(
  spec: ServeCommandSpec<Name, Extra, E, R, LE>
) =>
  Command.make(
    spec.name,
    { server: Settings.serverFlags(spec.defaults), options: spec.config ?? ({} as Extra) },
    ({ options, server }) =>
      Effect.gen(function*() {
        const settings = yield* Settings.resolve(server, spec.defaults)
        const logLevel = yield* LogLevelSetting
        // The nested config's inferred value is `Infer<Extra>`; TypeScript cannot see it for a generic `Extra`.
        const served = yield* spec.setup(options as Command.Command.Config.Infer<Extra>)
        const connection = Settings.connectionOptions(settings, served.connection)
        const slot = WorkerLink.workerSlot()
        // The primary loads the handler module above (a bad one is one usage
        // error, before anything is forked) but builds no layer: workers do.
        const run = settings.workers > 1 && slot === undefined
          ? Effect.andThen(
            // The workers share one Unix socket: a stale file is cleared once, here.
            settings.server.path === undefined
              ? Effect.void
              : LineServer.clearStaleSocket(settings.server.path),
            Workers.primary({
              count: settings.workers,
              shutdownTimeout: Duration.fromInputUnsafe(settings.server.shutdownTimeout ?? LineServer.defaults.shutdownTimeout),
              metricsPort: settings.metricsPort,
              forwardHangup: settings.server.tls !== undefined,
              // Workers share one set of TLS ticket keys, so a session resumes on any of them.
              sharedEnv: settings.server.tls === undefined
                ? {}
                : { [ticketKeysVariable]: encodeTicketKeys(settings.server.tls.ticketKeys ?? Tls.generateTicketKeys()) }
            })
          )
          : slot === undefined
          ? serveOne(served, settings, connection, undefined)
          : Effect.gen(function*() {
            // First, so that the primary's requests are heard from now on.
            const link = yield* WorkerLink.connect(slot)
            // The primary's drain request stops the run as a signal does;
            // the scope below closes, and the server drains.
            return yield* Effect.raceFirst(serveOne(served, settings, connection, link), link.drainRequested)
          })
        return yield* run.pipe(
          Effect.scoped,
          // Reported here, through the chosen logger on stderr: the runtime's
          // own report would go to stdout, into the protocol stream.
          Effect.tapCause((cause) => {
            if (Cause.hasInterruptsOnly(cause)) return Effect.void
            const error = Cause.findErrorOption(cause)
            return error._tag === "Some" && error.value instanceof Error
              ? Effect.logError(error.value.message)
              : Effect.logError("fatal", cause)
          }),
          // Every line a worker logs names its slot.
          slot === undefined ? identity : Effect.annotateLogs({ worker: slot }),
          Effect.provide(Logging.layer(settings.logFormat)),
          // `--log-level` (or its variable), when given.
          Option.isSome(logLevel) ? Effect.provideService(References.MinimumLogLevel, logLevel.value) : identity
        )
      }).pipe(
        // Usage errors are one plain line: the log format may be what was wrong.
        Effect.tapError((error) =>
          error instanceof UsageError
            ? Effect.sync(() => process.stderr.write(`${usagePrefix(spec.name)} ${error.message}\n`))
            : Effect.void
        )
      )
  ).pipe(
    Command.withDescription(spec.description),
    // Declared here too, so that the command's own help lists it.
    Command.withGlobalFlags([LogLevelSetting])
  )
