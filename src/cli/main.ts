#!/usr/bin/env node
/**
 * The `fiberline` command: composes the subcommands and runs them with
 * `NodeRuntime.runMain`, which turns SIGINT/SIGTERM into interruption, so a
 * server drains through its scope's finalizers.
 *
 * Exit codes: 0 after a clean run or a clean drain on a signal; 1 after a
 * forced drain, a failure, or a second signal (which exits at once).
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"
import { Command } from "effect/cli"
import packageJson from "../../package.json" with { type: "json" }
import { echo } from "../handlers/Echo.ts"
import * as Logging from "../services/Logging.ts"
import { serveCommand } from "./serve.ts"

const fiberline = Command.make("fiberline").pipe(
  Command.withDescription("Line-protocol servers in blocking style on Effect fibers"),
  Command.withSubcommands([
    serveCommand("echo", "Echo every line back, byte for byte, until the client ends its input", echo)
  ])
)

// The first signal is runMain's: it interrupts the program, which drains.
// A second one means "now": exit without waiting for the drain.
let signals = 0
const onSignal = (signal: NodeJS.Signals) => {
  if (++signals < 2) return
  process.stderr.write(`fiberline: second ${signal}, exiting without draining\n`)
  process.exit(1)
}
process.on("SIGINT", onSignal)
process.on("SIGTERM", onSignal)

/** Interruption by a signal is a normal stop: its code is what the drain decided. */
const teardown: Runtime.Teardown = (exit, onExit) => {
  if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) return Runtime.defaultTeardown(exit, onExit)
  onExit(typeof process.exitCode === "number" ? process.exitCode : 0)
}

fiberline.pipe(
  Command.run({ version: packageJson.version }),
  // Commands report their own failures on stderr (stdout may be a protocol
  // stream); this keeps any other log line off stdout as well.
  Effect.provide(Logging.layer("pretty")),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({ teardown, disableErrorReporting: true })
)
