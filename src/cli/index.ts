/**
 * The building blocks of the `fiberline` command line, for apps that ship a
 * binary of their own with the same server flags, `FIBERLINE_*` environment
 * fallbacks, logs, metrics, drain and exit codes.
 *
 * **Example** (A binary serving your own handler)
 *
 * ```ts
 * #!/usr/bin/env node
 * import { Effect } from "effect"
 * import { Cli } from "fiberline/Cli"
 * import { handler, Store } from "./handler.ts"
 *
 * Cli.main(
 *   Cli.serveCommand({
 *     name: "kv",
 *     description: "A key-value server",
 *     defaults: { port: 7000 },
 *     setup: () => Effect.succeed({ handler, layer: Store.layer })
 *   }),
 *   { version: "1.0.0" }
 * )
 * ```
 *
 * @since 0.1.0
 *
 * @module fiberline/Cli
 */

/** @since 0.1.0 */
export * as Cli from "./api.ts"
