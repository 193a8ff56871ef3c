/**
 * Loading a user's handler module for `fiberline serve MODULE`: a `.js`,
 * `.mjs`, `.ts` or `.mts` file (TypeScript through Node's own type
 * stripping, no build step) whose default export — or the export
 * `--export` names — is a handler, and which may export `layer`: a `Layer`
 * providing what the handler needs, built once per server; and
 * `connection`: the connection options its protocol needs (`{ lineEnding:
 * "\r\n" }` for SMTP, IRC, POP3…), which flags such as `--line-ending`
 * override.
 *
 * Every way this can go wrong is a {@link UsageError} with one line naming
 * the file and what was wrong, before anything is bound.
 *
 * @since 0.1.0
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Url from "node:url"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Options from "../Options.ts"
import { type ConnectionOptions, type Handler, isHandler } from "../services/Connection.ts"
import { firstLine, UsageError } from "./exit.ts"

/**
 * A loaded handler module.
 *
 * @since 0.1.0
 */
export interface HandlerModule {
  /**
   * The handler to serve. Its requirements cannot be known from a module
   * loaded at run time: they are typed as none, and must come from `layer`.
   */
  readonly handler: Handler<unknown, never>
  /** What the handler needs, if the module exports `layer`. */
  readonly layer: Layer.Layer<never, unknown> | undefined
  /** The connection options of its protocol, if the module exports `connection`. */
  readonly connection: ConnectionOptions | undefined
}

/**
 * The files `fiberline serve` loads, by extension.
 *
 * @since 0.2.0
 */
export const extensions = [".js", ".mjs", ".ts", ".mts"] as const

/**
 * {@link extensions} as a sentence says them: `.js, .mjs, .ts or .mts`.
 *
 * @since 0.2.0
 */
export const extensionList = `${extensions.slice(0, -1).join(", ")} or ${extensions.at(-1)}`

/** Whether this Node runs `.ts` files by itself (type stripping, on by default since 22.18 and 23.6). */
const stripsTypes = (): boolean => {
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number)
  return major > 23 || (major === 23 && minor >= 6) || (major === 22 && minor >= 18)
}

const describe = (value: unknown): string =>
  value === null
    ? "null"
    : Array.isArray(value)
    ? "an array"
    : Context.isKey(value)
    ? "a service tag"
    : typeof value === "function" && Function.prototype.toString.call(value).startsWith("class")
    ? "a class"
    : `a ${typeof value}`

/**
 * Imports `path` (relative to the working directory) and picks its handler:
 * the export named `exportName`, or the default export.
 *
 * @since 0.1.0
 */
export const load = (path: string, exportName = "default"): Effect.Effect<HandlerModule, UsageError> =>
  Effect.gen(function*() {
    const file = Path.resolve(path)
    const fail = (message: string) => Effect.fail(new UsageError({ message: `handler module ${path}: ${message}` }))
    if (!Fs.existsSync(file)) return yield* fail("no such file")
    if (!extensions.some((extension) => file.endsWith(extension))) return yield* fail(`expected a ${extensionList} file`)
    if (/\.m?ts$/.test(file) && !stripsTypes()) {
      return yield* fail(
        `loading TypeScript needs Node 22.18 or later (type stripping); this is Node ${process.versions.node} (in a clone, run the pinned one: npx node dist/cli/main.js …)`
      )
    }
    const loaded = yield* Effect.tryPromise({
      try: () => import(Url.pathToFileURL(file).href) as Promise<Record<string, unknown>>,
      catch: (error) => new UsageError({ message: `handler module ${path}: cannot load it: ${firstLine(error)}` })
    })
    if (!(exportName in loaded)) {
      const names = Object.keys(loaded)
      return yield* fail(
        `no export named "${exportName}" (it exports: ${names.length === 0 ? "nothing" : names.join(", ")})`
      )
    }
    const handler = loaded[exportName]
    if (!isHandler(handler)) {
      return yield* fail(
        `export "${exportName}" is not a handler (an Effect, or a function of the connection): it is ${describe(handler)}`
      )
    }
    const layer = loaded.layer
    if (layer !== undefined && !Layer.isLayer(layer)) {
      return yield* fail(`export "layer" is not a Layer: it is ${describe(layer)}`)
    }
    const connection = loaded.connection
    if (connection !== undefined) {
      const invalid = Options.decodeResult(Options.ConnectionOptions, connection)
      if (invalid._tag === "Failure") return yield* fail(`export "connection": ${invalid.failure.message}`)
    }
    // See `HandlerModule`: checked at run time, typed as needing nothing.
    return {
      handler: handler as Handler<unknown, never>,
      layer: layer as Layer.Layer<never, unknown> | undefined,
      connection: connection as ConnectionOptions | undefined
    }
  })
