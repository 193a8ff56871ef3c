/**
 * Doubles are written as C's `%.17g` writes them (the table's right column is
 * what glibc's printf gives), ties at the 17th digit rounded to even on the
 * exact value, and score-range bounds are read as `strtod` reads them.
 */
import { assert, describe, it } from "@effect/vitest"
import { formatDouble, parseStrtod } from "../../../src/handlers/redis/double.ts"

describe("formatDouble", () => {
  it("writes what %.17g writes", () => {
    const table: ReadonlyArray<readonly [number, string]> = [
      [0, "0"],
      [-0, "-0"],
      [1, "1"],
      [-42, "-42"],
      [Infinity, "inf"],
      [-Infinity, "-inf"],
      [0.1, "0.10000000000000001"],
      [1.5, "1.5"],
      [-2.25, "-2.25"],
      [1 / 3, "0.33333333333333331"],
      [-1 / 3, "-0.33333333333333331"],
      [2.675, "2.6749999999999998"],
      [1e-4, "0.0001"],
      [0.0001234, "0.00012339999999999999"],
      [1e-5, "1.0000000000000001e-05"],
      [2.5e-8, "2.4999999999999999e-08"],
      [5e-324, "4.9406564584124654e-324"],
      [2 ** 53, "9007199254740992"],
      [1e16, "10000000000000000"],
      [1e16 + 2, "10000000000000002"],
      [2 ** 56, "72057594037927936"],
      [1e17, "1e+17"],
      [123456789012345680, "1.2345678901234568e+17"],
      [1.7976931348623157e308, "1.7976931348623157e+308"],
      // Exact ties at the 17th digit go to the even digit (toExponential would round both up).
      [1000000000000000.25, "1000000000000000.2"],
      [1000000000000000.75, "1000000000000000.8"],
      [-1000000000000000.25, "-1000000000000000.2"]
    ]
    for (const [x, text] of table) assert.strictEqual(formatDouble(x), text, String(x))
  })
})

describe("parseStrtod", () => {
  it("reads a bound to the end of its C string, blanks first allowed, out of range saturating", () => {
    const table: ReadonlyArray<readonly [string, number | undefined]> = [
      ["1.5", 1.5],
      ["", 0],
      [" \t2", 2],
      ["-inf", -Infinity],
      ["+Infinity", Infinity],
      ["1e400", Infinity],
      ["1e-400", 0],
      ["3\0junk", 3],
      ["2 ", undefined],
      ["  ", undefined],
      ["nan", undefined],
      ["abc", undefined],
      ["1e", undefined]
    ]
    for (const [text, value] of table) assert.strictEqual(parseStrtod(text), value, JSON.stringify(text))
  })

  it("reads a long run of digits that ends badly in one pass (it took minutes when the pattern backtracked)", () => {
    assert.isUndefined(parseStrtod(`${"1".repeat(200_000)}x`))
    assert.strictEqual(parseStrtod(`${"0".repeat(200_000)}.5e1`), 5)
  })
})
