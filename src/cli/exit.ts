/**
 * How a `fiberline` process ends: its exit codes, the usage error that
 * maps to code 2, and the runtime teardown that turns an exit into a code.
 *
 * | code | meaning |
 * | --- | --- |
 * | 0 | clean stop: the input ended, or a signal and a clean drain |
 * | 1 | failure: cannot listen, a forced drain, a handler failure, a second signal; with `--workers`, also a worker that crashed during the run (even though it was restarted) |
 * | 2 | usage: a bad flag or environment variable, a flag that does not apply, a handler module that cannot be served; nothing was bound |
 * | 3 | `--stdio` only: the connection was closed for something its peer did (a line too long, a timeout, a reset) |
 *
 * With `--workers N`, each worker ends by this table and the primary exits
 * with the worst (highest) code of its workers, or 1 if one of them crashed
 * during the run; see `workers.ts`.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import { CliError } from "effect/cli"

/**
 * The exit codes, by name.
 *
 * @since 0.1.0
 */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  peer: 3
} as const

let program = "fiberline"

/**
 * Names the program in usage errors: `main` sets it to its root command's
 * name, so an app's own binary speaks for itself.
 *
 * @since 0.1.0
 */
export const setProgramName = (name: string): void => {
  program = name
}

/**
 * How a usage error of `command` starts: `fiberline echo:` for a
 * subcommand, `counter:` for a binary whose root command is `counter`.
 *
 * @since 0.1.0
 */
export const usagePrefix = (command: string): string => (command === program ? `${command}:` : `${program} ${command}:`)

/**
 * The command line asked for something that cannot run: a bad value, a
 * flag that does not apply, a handler module that cannot be served.
 * Reported as one line on stderr; exit code 2.
 *
 * @since 0.1.0
 */
export class UsageError extends Schema.TaggedError<UsageError>("fiberline/cli/UsageError")("UsageError", {
  message: Schema.String
}) {}

/**
 * The first line of an error's message: what a one-line usage error quotes.
 *
 * @since 0.1.0
 */
export const firstLine = (error: unknown): string =>
  (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? ""

/**
 * Maps how the program ended to the exit code: interruption by a signal
 * is a normal stop whose code the drain decided (`process.exitCode`); usage
 * and command-line parse errors are 2, reported already; anything else is 1.
 *
 * @since 0.1.0
 */
export const teardown: Runtime.Teardown = (exit, onExit) => {
  if (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)) {
    return onExit(typeof process.exitCode === "number" ? process.exitCode : ExitCode.ok)
  }
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "Some" && (error.value instanceof UsageError || CliError.isCliError(error.value))) {
    return onExit(ExitCode.usage)
  }
  onExit(ExitCode.failure)
}
