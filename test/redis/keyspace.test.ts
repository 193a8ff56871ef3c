/**
 * The shared keyspace on the TestClock: keys expire lazily (a lookup after
 * the deadline deletes them) and actively (the sweep fiber collects a
 * bounded batch per tick without anyone reading); blocked pops are served
 * first come first served, time out with nothing, and an interrupted waiter
 * leaves no waiter behind; the bytes it counts (`usedBytes`, what `maxmemory`
 * bounds) follow every change to keys, values, TTLs and containers, and come
 * back to zero.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { TestClock } from "effect/testing"
import * as Keyspace from "../../src/handlers/redis/keyspace.ts"
import { overhead } from "../../src/handlers/redis/memory.ts"
import { Hash, List, MemberSet } from "../../src/handlers/redis/values.ts"

/** Pushes `elements` on the list `key` (creating it) and serves blocked pops, as a push command does. */
const push = (keyspace: Keyspace.Keyspace, key: string, ...elements: Array<string>) => {
  let list = keyspace.get(key)
  if (!(list instanceof List)) {
    list = new List()
    keyspace.set(key, list)
  }
  for (const element of elements) list.pushRight(element)
  keyspace.pushed(key)
  keyspace.serveBlocked()
}

/** Starts a blocking pop in its own fiber, registered by the time this returns. */
const blocked = (keyspace: Keyspace.Keyspace, keys: ReadonlyArray<string>, timeout?: Duration.Input) =>
  Effect.forkChild(
    keyspace.blockingPop(keys, "left", timeout === undefined ? undefined : Duration.fromInputUnsafe(timeout)),
    { startImmediately: true }
  )

describe("Keyspace expiry", () => {
  it.effect("a lookup after the deadline deletes the key (lazy); at the deadline it still lives", () =>
    Effect.gen(function*() {
      // A sweep that never comes during the test: only lookups expire keys here.
      const keyspace = yield* Keyspace.make({ sweepInterval: "1 hour" })
      keyspace.set("k", "v")
      keyspace.expire("k", keyspace.now() + 1000)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(keyspace.get("k"), "v", "expired only once the time is past the deadline, as Redis")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(keyspace.size(), 1, "nothing collected it yet")
      assert.strictEqual(keyspace.get("k"), undefined)
      assert.strictEqual(keyspace.size(), 0)
      assert.strictEqual(keyspace.volatileCount(), 0)
    }))

  it.effect("replacing a value clears its TTL unless kept; KEYS leaves expired keys out", () =>
    Effect.gen(function*() {
      const keyspace = yield* Keyspace.make({ sweepInterval: "1 hour" })
      for (const key of ["a", "b", "c"]) {
        keyspace.set(key, "v")
        keyspace.expire(key, keyspace.now() + 10)
      }
      keyspace.set("a", "new")
      keyspace.set("b", "new", true)
      assert.strictEqual(keyspace.expiresAt("a"), undefined)
      yield* TestClock.adjust("11 millis")
      assert.deepStrictEqual(keyspace.keys("*"), ["a"])
    }))

  it.effect("the sweep collects expired keys nobody reads, a bounded batch per tick", () =>
    Effect.gen(function*() {
      const keyspace = yield* Keyspace.make({ sweepInterval: "100 millis", sweepBatch: 200 })
      for (let i = 0; i < 500; i++) {
        keyspace.set(`k${i}`, "v")
        keyspace.expire(`k${i}`, keyspace.now() + 50)
      }
      keyspace.set("forever", "v")
      assert.strictEqual(keyspace.size(), 501)
      yield* TestClock.adjust("100 millis")
      assert.strictEqual(keyspace.size(), 301, "one tick examines 200 keys")
      yield* TestClock.adjust("300 millis")
      assert.strictEqual(keyspace.size(), 1)
      assert.strictEqual(keyspace.volatileCount(), 0)
    }))
})

describe("Keyspace blocking pops", () => {
  it.effect("waiters are served first come, first served; the rest keep waiting", () =>
    Effect.gen(function*() {
      const keyspace = yield* Keyspace.make()
      const first = yield* blocked(keyspace, ["q"])
      const second = yield* blocked(keyspace, ["other", "q"])
      const third = yield* blocked(keyspace, ["q"])
      assert.strictEqual(keyspace.waiting(), 3)
      push(keyspace, "q", "a", "b")
      assert.deepStrictEqual(yield* Fiber.join(first), ["q", "a"])
      assert.deepStrictEqual(yield* Fiber.join(second), ["q", "b"])
      assert.strictEqual(keyspace.get("q"), undefined, "the emptied list is deleted")
      assert.strictEqual(keyspace.waiting(), 1)
      push(keyspace, "other", "c")
      assert.strictEqual((keyspace.get("other") as List).length, 1, "the served waiter left every key's queue")
      push(keyspace, "q", "d")
      assert.deepStrictEqual(yield* Fiber.join(third), ["q", "d"])
      assert.strictEqual(keyspace.waiting(), 0)
    }))

  it.effect("pops at once from the first non-empty list", () =>
    Effect.gen(function*() {
      const keyspace = yield* Keyspace.make()
      push(keyspace, "b", "x", "y")
      assert.deepStrictEqual(yield* keyspace.blockingPop(["a", "b"], "right", undefined), ["b", "y"])
      assert.strictEqual(keyspace.waiting(), 0)
    }))

  it.effect("times out with nothing, on the clock, leaving no waiter", () =>
    Effect.gen(function*() {
      const keyspace = yield* Keyspace.make()
      const waiter = yield* blocked(keyspace, ["q"], "1500 millis")
      yield* TestClock.adjust("1499 millis")
      assert.strictEqual(keyspace.waiting(), 1)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Fiber.join(waiter), undefined)
      assert.strictEqual(keyspace.waiting(), 0)
    }))

  it.effect("an interrupted waiter (a client gone) leaves no waiter: the next push stays in the list", () =>
    Effect.gen(function*() {
      const keyspace = yield* Keyspace.make()
      const gone = yield* blocked(keyspace, ["q", "r"])
      assert.strictEqual(keyspace.waiting(), 1)
      yield* Fiber.interrupt(gone)
      assert.strictEqual(keyspace.waiting(), 0)
      push(keyspace, "q", "kept")
      assert.strictEqual((keyspace.get("q") as List).at(0), "kept")
    }))
})

describe("Keyspace memory", () => {
  it.effect("strings and TTLs: counted on set, replace, expire, persist, delete, expiry and flush", () =>
    Effect.gen(function*() {
      const keyspace = yield* Keyspace.make({ sweepInterval: "1 hour" })
      keyspace.set("key", "value")
      assert.strictEqual(keyspace.usedBytes(), overhead.key + 3 + 5)
      keyspace.set("key", "longer value", true)
      assert.strictEqual(keyspace.usedBytes(), overhead.key + 3 + 12)
      keyspace.expire("key", keyspace.now() + 10)
      keyspace.expire("key", keyspace.now() + 20)
      assert.strictEqual(keyspace.usedBytes(), overhead.key + 3 + 12 + overhead.ttl, "one TTL, however often set")
      keyspace.set("key", "v")
      assert.strictEqual(keyspace.usedBytes(), overhead.key + 3 + 1, "a replaced value loses its TTL")
      keyspace.expire("key", keyspace.now() + 10)
      assert.isTrue(keyspace.persist("key"))
      assert.strictEqual(keyspace.usedBytes(), overhead.key + 3 + 1)
      keyspace.expire("key", keyspace.now() + 10)
      yield* TestClock.adjust("11 millis")
      assert.strictEqual(keyspace.get("key"), undefined)
      assert.strictEqual(keyspace.usedBytes(), 0, "an expired key is counted out when collected")
      keyspace.set("a", "1")
      assert.isTrue(keyspace.delete("a"))
      assert.strictEqual(keyspace.usedBytes(), 0)
      keyspace.set("b", "2")
      keyspace.flush()
      assert.strictEqual(keyspace.usedBytes(), 0)
    }))

  it.effect("containers report their changes while stored, and nothing once removed", () =>
    Effect.gen(function*() {
      const keyspace = yield* Keyspace.make()
      const list = new List()
      keyspace.set("l", list)
      list.pushRight("abc")
      list.pushLeft("de")
      const set = new MemberSet()
      keyspace.set("s", set)
      set.add("m")
      set.add("m")
      const hash = new Hash()
      keyspace.set("h", hash)
      hash.set("f", "v")
      hash.set("f", "value")
      const expected = 3 * (overhead.key + 1 + overhead.container) + 2 * overhead.listElement + 5 +
        overhead.setMember + 1 + overhead.hashField + 1 + 5
      assert.strictEqual(keyspace.usedBytes(), expected)
      list.popLeft()
      set.delete("m")
      hash.delete("f")
      assert.strictEqual(keyspace.usedBytes(), 3 * (overhead.key + 1 + overhead.container) + overhead.listElement + 3)
      keyspace.delete("l")
      list.pushRight("after")
      keyspace.flush()
      hash.set("g", "after")
      assert.strictEqual(keyspace.usedBytes(), 0, "a container out of the keyspace counts for nothing")
      push(keyspace, "q", "x")
      assert.strictEqual(keyspace.usedBytes(), overhead.key + 1 + overhead.container + overhead.listElement + 1)
      assert.deepStrictEqual(yield* keyspace.blockingPop(["q"], "left", undefined), ["q", "x"])
      assert.strictEqual(keyspace.usedBytes(), 0, "a blocking pop that empties a list counts it out")
    }))
})
