/**
 * The command line is built on the public API alone: no module of
 * `src/cli` imports from `src/internal`, so what the CLI can do an app's own
 * binary can do too.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"

const cliDir = Path.join(import.meta.dirname, "..", "src", "cli")

describe("src/cli", () => {
  it("imports nothing from src/internal", () => {
    const offenders = Fs.readdirSync(cliDir, { recursive: true, encoding: "utf8" })
      .filter((file) => file.endsWith(".ts"))
      .flatMap((file) =>
        Fs.readFileSync(Path.join(cliDir, file), "utf8").split("\n")
          .filter((line) => /\bfrom\s+"[^"]*\/internal\//.test(line) || /import\("[^"]*\/internal\//.test(line))
          .map((line) => `${file}: ${line.trim()}`)
      )
    assert.deepStrictEqual(offenders, [])
  })
})
