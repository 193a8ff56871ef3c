/**
 * The set and hash containers against models (a `Set`, a `Map`): after any
 * sequence of adds, updates and removals they hold the same elements, every
 * position holds one (fields beside their own values), and their counted
 * bytes are what `memory.ts` says for what they hold; a clone is a copy
 * apart.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { overhead } from "../../../src/handlers/redis/memory.ts"
import { Hash, MemberSet } from "../../../src/handlers/redis/values.ts"

const Element = Schema.Literals(["", "a", "b", "c", "dd", "eee", "\x00", "\r\n", "f", "g"])
const Op = Schema.Struct({ remove: Schema.Boolean, element: Element, value: Element })

describe("containers against models", () => {
  it.effect.prop("MemberSet", [Schema.Array(Op)], ([ops]) =>
    Effect.sync(() => {
      const set = new MemberSet()
      const model = new Set<string>()
      for (const { element, remove } of ops) {
        if (remove) assert.strictEqual(set.delete(element), model.delete(element))
        else {
          assert.strictEqual(set.add(element), !model.has(element))
          model.add(element)
        }
      }
      assert.strictEqual(set.size, model.size)
      assert.deepStrictEqual(Array.from({ length: set.size }, (_, i) => set.at(i)).toSorted(), [...model].toSorted())
      assert.deepStrictEqual([...set.view()], Array.from({ length: set.size }, (_, i) => set.at(i)))
      for (const element of Element.literals) assert.strictEqual(set.has(element), model.has(element))
      let bytes = overhead.container
      for (const member of model) bytes += overhead.setMember + member.length
      assert.strictEqual(set.bytes, bytes)
    }))

  it.effect.prop("Hash", [Schema.Array(Op)], ([ops]) =>
    Effect.sync(() => {
      const hash = new Hash()
      const model = new Map<string, string>()
      for (const { element, remove, value } of ops) {
        if (remove) assert.strictEqual(hash.delete(element), model.delete(element))
        else {
          assert.strictEqual(hash.set(element, value), !model.has(element))
          model.set(element, value)
        }
      }
      assert.strictEqual(hash.size, model.size)
      for (let i = 0; i < hash.size; i++) assert.strictEqual(model.get(hash.fieldAt(i)), hash.valueAt(i))
      assert.deepStrictEqual([...hash.fieldsView()].toSorted(), [...model.keys()].toSorted())
      assert.deepStrictEqual(hash.flat(), hash.fieldsView().flatMap((field, i) => [field, hash.valuesView()[i]!]))
      for (const field of Element.literals) assert.strictEqual(hash.get(field), model.get(field))
      let bytes = overhead.container
      for (const [field, value] of model) bytes += overhead.hashField + field.length + value.length
      assert.strictEqual(hash.bytes, bytes)
    }))

  it("a clone holds the same elements in the same positions, counts the same bytes, and is apart", () => {
    const set = new MemberSet()
    const hash = new Hash()
    for (const element of ["a", "b", "c"]) {
      set.add(element)
      hash.set(element, element.repeat(3))
    }
    set.delete("a")
    hash.delete("a")
    const setCopy = set.clone()
    const hashCopy = hash.clone()
    assert.deepStrictEqual([...setCopy.view()], [...set.view()])
    assert.deepStrictEqual(hashCopy.flat(), hash.flat())
    assert.strictEqual(setCopy.bytes, set.bytes)
    assert.strictEqual(hashCopy.bytes, hash.bytes)
    setCopy.add("z")
    hashCopy.set("b", "changed")
    assert.isFalse(set.has("z"))
    assert.strictEqual(hash.get("b"), "bbb")
  })

  it("fields keep insertion order until one is removed; then the last takes its place", () => {
    const hash = new Hash()
    for (const field of ["a", "b", "c", "d"]) hash.set(field, field.toUpperCase())
    assert.deepStrictEqual(hash.flat(), ["a", "A", "b", "B", "c", "C", "d", "D"])
    hash.delete("b")
    assert.deepStrictEqual(hash.flat(), ["a", "A", "d", "D", "c", "C"])
  })
})
