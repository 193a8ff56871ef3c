/**
 * The command line and the protocols are built on the public API alone: no
 * module of `src/cli` or `src/handlers` imports from `src/internal`, so what
 * the CLI and the built-in protocols do, an app's own binary and handlers
 * can do too.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"

const src = Path.join(import.meta.dirname, "..", "..", "src")

/** The lines of the modules under `src/<folder>` that import from `src/internal`. */
const internalImports = (folder: string) => {
  const dir = Path.join(src, folder)
  return Fs.readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts"))
    .flatMap((file) =>
      Fs.readFileSync(Path.join(dir, file), "utf8").split("\n")
        .filter((line) => /\bfrom\s+"[^"]*\/internal\//.test(line) || /import\("[^"]*\/internal\//.test(line))
        .map((line) => `${folder}/${file}: ${line.trim()}`)
    )
}

describe("the public API", () => {
  it("is all src/cli imports", () => {
    assert.deepStrictEqual(internalImports("cli"), [])
  })

  it("is all src/handlers imports", () => {
    assert.deepStrictEqual(internalImports("handlers"), [])
  })
})
