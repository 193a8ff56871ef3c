#!/usr/bin/env node
/**
 * The `fiberline` command: the built-in servers and `serve MODULE`,
 * composed and run (see `run.ts` for signals and `exit.ts` for exit codes).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { Argument, Command, Flag } from "effect/cli"
import packageJson from "../../package.json" with { type: "json" }
import { echo } from "../handlers/Echo.ts"
import * as HandlerModule from "./handlerModule.ts"
import { main } from "./run.ts"
import { serveCommand } from "./serve.ts"

const echoCommand = serveCommand({
  name: "echo",
  description: "Echo every line back, byte for byte, until the client ends its input",
  setup: () => Effect.succeed({ handler: echo })
})

const serveModuleCommand = serveCommand({
  name: "serve",
  description:
    "Serve the handler a module exports (default export, or --export NAME); the module may export `layer` for its services",
  config: {
    module: Argument.String("module").pipe(Argument.withDescription("A .js, .mjs or .ts file")),
    exportName: Flag.String("export").pipe(
      Flag.withDefault("default"),
      Flag.withDescription("The export to serve (default: the default export)")
    )
  },
  setup: ({ exportName, module }) => HandlerModule.load(module, exportName)
})

main(
  Command.make("fiberline").pipe(
    Command.withDescription("Line-protocol servers in blocking style on Effect fibers"),
    Command.withSubcommands([echoCommand, serveModuleCommand])
  ),
  { version: packageJson.version }
)
