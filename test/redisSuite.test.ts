/**
 * The Redis test-suite harness's pure parts (`bench/lib/suite-*.ts`):
 * reading runtest's output into per-test outcomes (failures, tag exclusions,
 * an exception that ends a unit, a timeout, an error outside any test), and
 * counting failures by the unknown command they name.
 */
import { assert, describe, it } from "@effect/vitest"
import { parseUnitOutput } from "../bench/lib/suite-output.ts"
import { causeOf } from "../bench/lib/suite-report.ts"

describe("runtest output", () => {
  it("reads outcomes, repeated names and failure reasons", () => {
    const output = parseUnitOutput([
      "Testing unit/type/demo",
      "[ok]: A works (3 ms)",
      "[ok]: A works (0 ms)",
      "[ignore]: B needs debug: Tag: needs:debug denied",
      "[ignore]: Not supported on external server",
      "[skip]: C",
      "[err]: D compares in tests/unit/type/demo.tcl",
      "Expected 'x' to be equal to 'y' (context: type eval line 2)",
      // --durable: a non-assertion error loses its first 10 characters; errorInfo has it whole.
      "[err]: E calls in tests/unit/type/demo.tcl",
      "n command 'nope', with args beginning with: ",
      "ERR unknown command 'nope', with args beginning with: ",
      "    while executing",
      "[err]: ror in setup",
      "Some error in setup",
      "    while executing",
      "[1/1 done]: unit/type/demo (1 seconds)"
    ].join("\n"))
    assert.deepStrictEqual(output.tests, [
      { name: "A works", key: "A works", outcome: "ok" },
      { name: "A works", key: "A works (#2)", outcome: "ok" },
      { name: "B needs debug", key: "B needs debug", outcome: "ignore", reason: "Tag: needs:debug denied" },
      { name: "C", key: "C", outcome: "skip" },
      { name: "D compares", key: "D compares", outcome: "err", reason: "Expected 'x' to be equal to 'y' (context: type eval line 2)" },
      { name: "E calls", key: "E calls", outcome: "err", reason: "ERR unknown command 'nope', with args beginning with: " }
    ])
    assert.deepStrictEqual(output.blockErrors, ["Some error in setup"])
    assert.strictEqual(output.completed, true)
    assert.strictEqual(output.exception, undefined)
  })

  it("reads an exception that ends the run, and a timeout", () => {
    const aborted = parseUnitOutput([
      "Testing unit/demo",
      "[exception]: Executing test client: ERR unknown command 'function', with args beginning with: 'flush'.",
      "ERR unknown command 'function', with args beginning with: 'flush'",
      "    while executing"
    ].join("\n"))
    assert.strictEqual(aborted.exception, "ERR unknown command 'function', with args beginning with: 'flush'")
    assert.strictEqual(aborted.completed, false)
    const stuck = parseUnitOutput("[ok]: A (1 ms)\n[TIMEOUT]: clients state report follows.\nsock55 => (IN PROGRESS) B waits\n")
    assert.deepStrictEqual(stuck.timeout, { inProgress: "B waits" })
  })

  it("counts a failure under the unknown command or subcommand it names", () => {
    assert.strictEqual(causeOf("ERR unknown command 'object', with args beginning with: 'encoding' 'k' "), "unknown command OBJECT")
    assert.strictEqual(causeOf("ERR unknown subcommand 'set'. Try CONFIG HELP."), "unknown subcommand CONFIG SET")
    assert.strictEqual(causeOf("Expected '1' to be equal to '2'"), "other")
  })
})
