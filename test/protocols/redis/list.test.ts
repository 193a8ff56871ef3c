/**
 * The list deque (`values/list.ts`) against an array model: any sequence of
 * pushes and pops at both ends, replacements, inserts, removals of matches
 * from either end and trims — across the ring's wrap-around, its growth and
 * its shrinking — leaves the same elements in the same order as the model,
 * and the bytes it counts are the model's, element by element.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import { overhead } from "../../../src/handlers/redis/memory.ts"
import { List } from "../../../src/handlers/redis/values.ts"

const Value = Schema.Literals(["a", "b", "cc", "", "a\r\n"])
const Seed = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 1000 }))
const Operation = Schema.Union([
  Schema.Tuple([Schema.Literal("pushLeft"), Value]),
  Schema.Tuple([Schema.Literal("pushRight"), Value]),
  // Many at once, so the ring grows past the size at which it shrinks again.
  Schema.Tuple([Schema.Literal("pushMany"), Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 150 })), Schema.Boolean]),
  Schema.Tuple([Schema.Literal("popLeft")]),
  Schema.Tuple([Schema.Literal("popRight")]),
  Schema.Tuple([Schema.Literal("popMany"), Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 150 })), Schema.Boolean]),
  Schema.Tuple([Schema.Literal("set"), Seed, Value]),
  Schema.Tuple([Schema.Literal("insert"), Seed, Value]),
  Schema.Tuple([Schema.Literal("remove"), Value, Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 3 })), Schema.Boolean]),
  Schema.Tuple([Schema.Literal("trim"), Seed, Seed])
])

const bytesOf = (model: ReadonlyArray<string>) =>
  overhead.container + model.reduce((sum, value) => sum + overhead.listElement + value.length, 0)

/** Removes from `model` the first `limit` (0: all) elements equal to `value`, from the tail if `fromTail`. */
const removeFromModel = (model: Array<string>, value: string, limit: number, fromTail: boolean): number => {
  let removed = 0
  const order = model.map((_, i) => i)
  if (fromTail) order.reverse()
  const drop = new Set<number>()
  for (const i of order) {
    if (model[i] === value && (limit === 0 || removed < limit)) {
      drop.add(i)
      removed++
    }
  }
  const kept = model.filter((_, i) => !drop.has(i))
  model.length = 0
  model.push(...kept)
  return removed
}

describe("List (the deque) against an array", () => {
  it.prop(
    "every operation leaves the model's elements, order and byte count",
    [Schema.Array(Operation).check(Schema.isMaxLength(200))],
    ([operations]) => {
      const list = new List()
      const model: Array<string> = []
      for (const operation of operations) {
        const n = model.length
        switch (operation[0]) {
          case "pushLeft":
            list.pushLeft(operation[1])
            model.unshift(operation[1])
            break
          case "pushRight":
            list.pushRight(operation[1])
            model.push(operation[1])
            break
          case "pushMany":
            for (let i = 0; i < operation[1]; i++) {
              const value = `e${i}`
              list.push(operation[2] ? "left" : "right", value)
              if (operation[2]) model.unshift(value)
              else model.push(value)
            }
            break
          case "popLeft":
            assert.strictEqual(list.popLeft(), model.shift())
            break
          case "popRight":
            assert.strictEqual(list.popRight(), model.pop())
            break
          case "popMany":
            for (let i = 0; i < operation[1]; i++) {
              assert.strictEqual(list.pop(operation[2] ? "left" : "right"), operation[2] ? model.shift() : model.pop())
            }
            break
          case "set":
            if (n === 0) break
            list.set(operation[1] % n, operation[2])
            model[operation[1] % n] = operation[2]
            break
          case "insert": {
            const at = operation[1] % (n + 1)
            list.insert(at, operation[2])
            model.splice(at, 0, operation[2])
            break
          }
          case "remove":
            assert.strictEqual(
              list.remove(operation[1], operation[2], operation[3]),
              removeFromModel(model, operation[1], operation[2], operation[3])
            )
            break
          case "trim": {
            if (n === 0) break
            const start = Math.min(operation[1], operation[2]) % n
            const stop = start + (Math.max(operation[1], operation[2]) % (n - start))
            list.trim(start, stop)
            model.splice(stop + 1)
            model.splice(0, start)
            break
          }
        }
        assert.strictEqual(list.length, model.length, operation[0])
        assert.deepStrictEqual(model.length === 0 ? [] : list.slice(0, model.length - 1), model, operation[0])
        for (let i = 0; i < model.length; i++) assert.strictEqual(list.at(i), model[i])
        assert.strictEqual(list.bytes, bytesOf(model), `bytes after ${operation[0]}`)
      }
    },
    { arbitrary: { runs: 500 } }
  )
})
