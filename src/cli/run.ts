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
import { CliOutput, Command } from "effect/cli"
import * as Logging from "../services/Logging.ts"
import { firstLine, setProgramName, teardown } from "./exit.ts"
import * as WorkerLink from "./workerLink.ts"

/**
 * Help and version go to stdout as usual; a command-line mistake goes to
 * stderr as its error lines and a pointer to `--help`, never the whole help.
 */
const presenter = CliOutput.layerPresenter({
  present: (event) =>
    event._tag === "InvalidInvocation"
      ? Effect.sync(() => {
        const command = event.commandPath.join(" ")
        // effect/cli names the command again at the end of some messages.
        const lines = event.errors.map((error) => `${command}: ${firstLine(error).replace(/ in command .*$/, "")}`)
        process.stderr.write(`${lines.join("\n")}\nTry '${command} --help' for the flags.\n`)
      })
      : CliOutput.defaultPresenter.present(event)
})

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
  command: Command.Command<Name, Input, unknown, E, NodeServices.NodeServices>,
  options: { readonly version: string }
): void => {
  installSecondSignalExit(command.name)
  setProgramName(command.name)
  command.pipe(
    Command.run({ version: options.version }),
    // Commands report their own failures on stderr (stdout may be a protocol
    // stream); this keeps any other log line off stdout as well.
    Effect.provide(Logging.layer("pretty")),
    Effect.provide(presenter),
    Effect.provide(NodeServices.layer),
    NodeRuntime.runMain({
      teardown: WorkerLink.workerSlot() === undefined ? teardown : workerTeardown,
      disableErrorReporting: true
    })
  )
}
