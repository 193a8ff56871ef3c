/**
 * The `long double` arithmetic of `HINCRBYFLOAT`: sums formatted byte for
 * byte as Redis 7.0.15 on x86-64 formats them (each expected value below is
 * what that server replied), `strtold`'s refusals, and the property that
 * integers up to 64 bits add exactly, as the 64-bit significand allows.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as LongDouble from "../../../src/handlers/redis/longDouble.ts"

/** `a + b` as HINCRBYFLOAT replies, or why it refuses. */
const sum = (a: string, b: string): string => {
  const x = LongDouble.parse(a)
  const y = LongDouble.parse(b)
  if (typeof x !== "object" || typeof y !== "object") return "refused"
  const result = LongDouble.add(x, y)
  return result === undefined ? "overflow" : LongDouble.format(result)
}

describe("long double sums, as Redis formats them", () => {
  const table: ReadonlyArray<readonly [string, string, string]> = [
    ["0.1", "0.2", "0.3"],
    ["10.5", "0.1", "10.6"],
    ["1.23", "0.77", "2"],
    ["2", "-0.1", "1.9"],
    ["1000.1", "0.2", "1000.29999999999999999"],
    ["17179869184", "17179869184", "34359738368"],
    ["0", "0.000005", "0.000005"],
    ["5.0e3", "2.0e4", "25000"],
    ["0.024390243902439025", "-0.024390243902439025", "0"],
    // Past 17 decimals, and negative zero: `0`.
    ["1e-20", "0", "0"],
    ["-1e-20", "0", "0"],
    ["1.", ".5", "1.5"],
    ["0x10", "0x1.8p1", "19"],
    ["-0X1P+2", "0", "-4"],
    ["9223372036854775807", "1", "9223372036854775808"],
    ["1e4932", "1e4932", "overflow"]
  ]
  it.each(table)("%s + %s = %s", (a, b, expected) => {
    assert.strictEqual(sum(a, b), expected)
  })

  it("the largest value is written out in full", () => {
    const text = sum("1.18973149535723176502e+4932", "0")
    assert.strictEqual(text.length, 4933)
    assert.isTrue(text.startsWith("11897314953572317650212638530309702051690633222946242004403237338917370055229707226"))
  })
})

describe("what strtold refuses", () => {
  const refused = ["", " 1", "1 ", "1\x002", "nan", ".", "e1", "1e", "0x", "0xp3", "1e5000", "1e-4952", "0x1p-16447"]
  it.each(refused)("%j", (text) => {
    assert.isUndefined(LongDouble.parse(text))
  })

  it("infinity is read, with its sign, for the command to refuse", () => {
    for (const text of ["inf", "+Infinity", "INF"]) assert.strictEqual(LongDouble.parse(text), "inf")
    for (const text of ["-inf", "-INFINITY"]) assert.strictEqual(LongDouble.parse(text), "-inf")
  })

  it("the smallest subnormal is read; below half of it underflows", () => {
    assert.isObject(LongDouble.parse("0x1p-16445"))
    assert.isObject(LongDouble.parse("3.7e-4951"))
    assert.isUndefined(LongDouble.parse("1e-4951"))
  })

  it("an exponent of any size is refused without computing it", () => {
    assert.isUndefined(LongDouble.parse(`1e${"9".repeat(4000)}`))
    assert.isUndefined(LongDouble.parse(`0x1p-${"9".repeat(4000)}`))
    assert.strictEqual(sum(`0e${"9".repeat(4000)}`, "1"), "1")
  })
})

describe("long double properties", () => {
  const Int = Schema.BigInt.check(
    Schema.isBetweenBigInt({ minimum: -(2n ** 62n), maximum: 2n ** 62n })
  )
  it.effect.prop("integers below 2^63 add exactly", [Int, Int], ([a, b]) =>
    Effect.sync(() => {
      assert.strictEqual(sum(a.toString(), b.toString()), (a + b).toString())
    }))

  it.effect.prop("addition commutes", [Schema.Finite, Schema.Finite], ([a, b]) =>
    Effect.sync(() => {
      assert.strictEqual(sum(String(a), String(b)), sum(String(b), String(a)))
    }))
})
