/**
 * The shared keyspace on the TestClock: keys expire lazily (a lookup after
 * the deadline deletes them) and actively (the sweep fiber collects a
 * bounded batch per tick without anyone reading); the bytes it counts
 * (`usedBytes`, what `maxmemory` bounds) follow every change to keys, values,
 * TTLs and containers, and come back to zero. (Blocked clients:
 * blocking.test.ts.)
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { TestClock } from "effect/testing"
import * as Keyspace from "../../../src/handlers/redis/keyspace.ts"
import { overhead } from "../../../src/handlers/redis/memory.ts"
import { Hash, List, MemberSet } from "../../../src/handlers/redis/values.ts"

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
      const queue = new List()
      keyspace.set("q", queue)
      queue.pushRight("x")
      queue.pushLeft("yz")
      queue.set(1, "abc")
      assert.strictEqual(keyspace.usedBytes(), overhead.key + 1 + overhead.container + 2 * overhead.listElement + 5)
      queue.insert(1, "d")
      queue.remove("d", 0, false)
      queue.trim(1, 1)
      assert.strictEqual(keyspace.usedBytes(), overhead.key + 1 + overhead.container + overhead.listElement + 3)
      queue.popRight()
      keyspace.delete("q")
      assert.strictEqual(keyspace.usedBytes(), 0, "a list emptied and deleted counts for nothing")
    }))
})
