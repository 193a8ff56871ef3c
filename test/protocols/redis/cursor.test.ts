/**
 * The SCAN-family cursor keeps Redis's guarantee under churn — against a
 * model, random deletes, re-inserts and runs of inserts between the calls of
 * an iteration never make it skip an element present throughout, never make
 * it return one twice or one that was gone, and never let its memory pass
 * the stated bound — and reads cursors as Redis's `strtoul` does.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import { blockSlots, parseCursor, ScanOrder, scanOverhead } from "../../../src/handlers/redis/cursor.ts"
import { isCommandError, words } from "../../../src/handlers/redis/errors.ts"

/** What `f` throws, in Redis's words. */
const refusal = (f: () => unknown): string => {
  try {
    f()
  } catch (error) {
    if (isCommandError(error)) return words(error)
    throw error
  }
  return "nothing thrown"
}

/** The most bytes the module's doc allows for `n` elements: one slot each, at most 2n / blockSlots + 1 blocks. */
const bound = (n: number) =>
  n * (scanOverhead.element + scanOverhead.slot) + (Math.floor((2 * n) / blockSlots) + 1) * scanOverhead.block

describe("ScanOrder", () => {
  it("returns elements in insertion order, COUNT at a time, and 0 at the end", () => {
    const order = ScanOrder.from(["a", "b", "c", "d", "e"])
    const first = order.scan(0, 2)
    assert.deepStrictEqual(first.elements, ["a", "b"])
    const second = order.scan(first.cursor, 2)
    assert.deepStrictEqual(second.elements, ["c", "d"])
    assert.deepStrictEqual(order.scan(second.cursor, 2), { cursor: 0, elements: ["e"] })
    assert.deepStrictEqual(order.scan(0, 5), { cursor: 0, elements: ["a", "b", "c", "d", "e"] }, "COUNT reaching the end")
    assert.deepStrictEqual(order.scan(2 ** 64, 10), { cursor: 0, elements: [] }, "a cursor past every element")
  })

  it("keeps an element's place while earlier ones are deleted, and a re-inserted one goes last", () => {
    const order = ScanOrder.from(["a", "b", "c", "d"])
    const page = order.scan(0, 2)
    order.delete("a")
    order.delete("b")
    order.add("a")
    // A position-based cursor would now point past c.
    assert.deepStrictEqual(order.scan(page.cursor, 10).elements, ["c", "d", "a"])
  })

  it("gives its memory back: blocks merge as elements leave", () => {
    const order = new ScanOrder<number>()
    for (let i = 0; i < 100_000; i++) order.add(i)
    for (let i = 0; i < 100_000; i++) if (i % 1000 !== 0) order.delete(i)
    assert.strictEqual(order.size, 100)
    assert.isAtMost(order.bytes, bound(100))
    assert.deepStrictEqual(order.scan(0, 1000).elements, Array.from({ length: 100 }, (_, i) => i * 1000))
    order.clear()
    assert.strictEqual(order.bytes, 0)
  })

  const Op = Schema.Struct({
    kind: Schema.Literals(["scan", "delete", "add", "deleteRun", "addRun", "readd"]),
    at: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 1999 })),
    length: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 400 })),
    count: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 60 }))
  })
  it.prop(
    "an iteration under churn returns every element present throughout once, nothing twice, nothing that was gone",
    [Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 1500 })), Schema.Array(Op).check(Schema.isMaxLength(80))],
    ([initial, ops]) => {
      const order = new ScanOrder<number>()
      const present = new Set<number>()
      // Each time an element enters, a new life of it: an iteration returns each life at most once.
      const lives = new Map<number, number>()
      const add = (element: number) => {
        order.add(element)
        if (!present.has(element)) lives.set(element, (lives.get(element) ?? 0) + 1)
        present.add(element)
      }
      const remove = (element: number) => {
        order.delete(element)
        present.delete(element)
      }
      for (let i = 0; i < initial; i++) add(i)
      // Present from the first call to the last: the initial elements not deleted since.
      const throughout = new Set(present)
      const seen = new Map<string, number>()
      const life = (element: number) => `${element} (life ${lives.get(element)})`
      let cursor = 0
      let started = false
      const call = (count: number) => {
        const page = order.scan(cursor, count)
        assert.isAtMost(page.elements.length, count)
        for (const element of page.elements) {
          assert.isTrue(present.has(element), `returned ${element}, which is not in`)
          seen.set(life(element), (seen.get(life(element)) ?? 0) + 1)
        }
        started = true
        cursor = page.cursor
      }
      for (const { at, count, kind, length } of ops) {
        if (started && cursor === 0) break
        switch (kind) {
          case "scan":
            call(count)
            break
          case "delete":
            remove(at)
            throughout.delete(at)
            break
          case "add":
            add(at)
            break
          case "deleteRun":
            for (let i = at; i < at + length; i++) {
              remove(i)
              throughout.delete(i)
            }
            break
          case "addRun":
            for (let i = at; i < at + length; i++) add(i)
            break
          case "readd":
            remove(at)
            throughout.delete(at)
            add(at)
            break
        }
        assert.strictEqual(order.size, present.size)
        assert.isAtMost(order.bytes, bound(present.size))
      }
      // Finish the iteration without churn.
      for (let done = started && cursor === 0; !done; done = cursor === 0) call(7)
      for (const element of throughout) assert.strictEqual(seen.get(life(element)), 1, life(element))
      for (const [element, times] of seen) assert.strictEqual(times, 1, `${element} returned ${times} times`)
      // With no churn, a whole iteration is the model's insertion order.
      const all: Array<number> = []
      cursor = 0
      do {
        const page = order.scan(cursor, 13)
        all.push(...page.elements)
        cursor = page.cursor
      } while (cursor !== 0)
      assert.deepStrictEqual(all, [...present])
    },
    { arbitrary: { runs: 300 } }
  )
})

describe("parseCursor", () => {
  // Checked against redis-server 7.0.15.
  const valid: ReadonlyArray<readonly [string, number]> = [
    ["0", 0],
    ["", 0],
    ["+5", 5],
    ["-0", 0],
    ["42", 42],
    ["18446744073709551615", 2 ** 64],
    ["-1", 2 ** 64],
    ["-18446744073709551615", 1],
    ["7\0junk", 7]
  ]
  it.each(valid)("%j reads as %d", (arg, expected) => {
    assert.strictEqual(parseCursor(arg), expected)
  })
  const invalid = [" 1", "1 ", "abc", "+", "-", "0x10", "1.5", "18446744073709551616", "-18446744073709551616"]
  it.each(invalid)("%j is an invalid cursor", (arg) => {
    assert.strictEqual(refusal(() => parseCursor(arg)), "ERR invalid cursor")
  })
})
