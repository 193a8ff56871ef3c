/**
 * Runs a command line the way `fiberline` does: `NodeRuntime.runMain`
 * turns SIGINT/SIGTERM into interruption, so a server drains through its
 * scope's finalizers; a second signal exits at once with 1; mistakes on the
 * command line go to stderr, short, never into a `--stdio` protocol stream;
 * the exit code follows `exit.ts`.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import { CliConfig, type CliError, CliOutput, Command, GlobalFlag } from "effect/cli"
import * as Logging from "../services/Logging.ts"
import { firstLine, setProgramName, teardown } from "./exit.ts"
import { LogLevelSetting } from "./logLevel.ts"
import * as WorkerLink from "./workerLink.ts"

/** A flag's name as the user gave it: `--name`, or the `FIBERLINE_*` variable it fell back to. */
const given = (option: string) => (/^[A-Z][A-Z0-9_]*$/.test(option) ? option : `--${option}`)

/**
 * One line for a command-line mistake: a bad value names the flag (or its
 * variable), the value and what was expected; effect/cli's own messages
 * lose the command it appends.
 */
const mistake = (error: CliError.NonShowHelpErrors): string =>
  error._tag === "InvalidValue" && error.kind === "flag"
    ? `invalid ${given(error.option)} "${error.value}": ${error.expected.startsWith("expected ") ? "" : "expected "}${error.expected}`
    : firstLine(error).replace(/ in command .*$/, "")

/**
 * Help and version go to stdout as usual. A command-line mistake goes to
 * stderr as its error lines (with a pointer to `--help` unless every one is
 * a bad value, which says all there is to say), never the whole help; so
 * does a command run without its subcommand: its usage and subcommands.
 */
const presenter = CliOutput.layerPresenter({
  present: (event) => {
    if (event._tag === "InvalidInvocation") {
      return Effect.sync(() => {
        const command = event.commandPath.join(" ")
        const lines = event.errors.map((error) => `${command}: ${mistake(error)}`)
        const values = event.errors.every((error) => error._tag === "InvalidValue")
        process.stderr.write(`${lines.join("\n")}\n${values ? "" : `Try '${command} --help' for the flags.\n`}`)
      })
    }
    if (event._tag === "Help" && event.reason === "Implicit") {
      return Effect.sync(() => {
        const command = event.commandPath.join(" ")
        const subcommands = (event.helpDoc.subcommands ?? []).flatMap((group) => group.commands.map((doc) => doc.name))
        process.stderr.write(
          `Usage: ${event.helpDoc.usage}\n${subcommands.length === 0 ? "" : `Subcommands: ${subcommands.join(", ")}\n`}` +
            `Try '${command} --help' for more.\n`
        )
      })
    }
    return CliOutput.defaultPresenter.present(event)
  }
})

/** effect/cli's own global flags, but `--log-level`: ours has a variable (`logLevel.ts`). */
const builtIns = CliConfig.layer({ builtIns: GlobalFlag.BuiltIns.filter((flag) => flag !== GlobalFlag.LogLevel) })

/**
 * The arguments, with a negative value joined to its flag (`--idle-timeout
 * -1s` as `--idle-timeout=-1s`): read apart, the value would be taken for
 * flags of its own, and the mistake reported as three wrong ones.
 */
const joinNegativeValues = (args: ReadonlyArray<string>): ReadonlyArray<string> => {
  const joined: Array<string> = []
  for (const arg of args) {
    const previous = joined.at(-1)
    if (/^-\d/.test(arg) && previous !== undefined && /^--[a-z][a-z0-9-]*$/.test(previous)) joined[joined.length - 1] = `${previous}=${arg}`
    else joined.push(arg)
  }
  return joined
}

let signalsInstalled = false
let secondSignalHandler: (() => void) | undefined

/**
 * Replaces "exit 1 now" on a second SIGINT/SIGTERM by `handler`, until the
 * returned function is called. The exit code is already set to 1; the
 * handler must end the process soon (a third signal exits at once anyway).
 * The `--workers` primary uses it to stop its workers before it exits.
 *
 * @since 0.1.0
 */
export const takeOverSecondSignal = (handler: () => void): () => void => {
  secondSignalHandler = handler
  return () => {
    if (secondSignalHandler === handler) secondSignalHandler = undefined
  }
}

/** The first signal is runMain's: it interrupts the program, which drains. A second one means "now". */
const installSecondSignalExit = (name: string) => {
  if (signalsInstalled) return
  signalsInstalled = true
  let signals = 0
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals < 2) return
    if (signals === 2) process.stderr.write(`${name}: second ${signal}, exiting without draining\n`)
    process.exitCode = 1
    if (signals === 2 && secondSignalHandler !== undefined) return secondSignalHandler()
    process.exit(1)
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
}

/**
 * A cluster worker must exit by itself when its program ends: its IPC
 * channel to the primary would keep it alive after a drain that the
 * primary (not a signal) asked for.
 */
const workerTeardown: typeof teardown = (exit, onExit) =>
  teardown(exit, (code) => {
    onExit(code)
    process.exit(code)
  })

/**
 * Runs `command` with the process's arguments, to the end of the process.
 *
 * **Example** (An app's own binary with fiberline's flags and exit codes)
 *
 * ```ts
 * import { Cli } from "fiberline/Cli"
 *
 * Cli.main(Cli.serveCommand({ name: "kv", description: "A key-value server", setup: () => Effect.succeed({ handler }) }), {
 *   version: "1.0.0"
 * })
 * ```
 *
 * @since 0.1.0
 */
export const main = <Name extends string, Input, E>(
  command: Command.Command<Name, Input, unknown, E, NodeServices.NodeServices | GlobalFlag.Setting.Identifier<"log-level">>,
  options: { readonly version: string }
): void => {
  installSecondSignalExit(command.name)
  setProgramName(command.name)
  Command.runWith(Command.withGlobalFlags(command, [LogLevelSetting]), { version: options.version })(
    joinNegativeValues(process.argv.slice(2))
  ).pipe(
    // Commands report their own failures on stderr (stdout may be a protocol
    // stream); this keeps any other log line off stdout as well.
    Effect.provide(Logging.layer("pretty")),
    Effect.provide(presenter),
    Effect.provide(builtIns),
    Effect.provide(NodeServices.layer),
    NodeRuntime.runMain({
      teardown: WorkerLink.workerSlot() === undefined ? teardown : workerTeardown,
      disableErrorReporting: true
    })
  )
}
