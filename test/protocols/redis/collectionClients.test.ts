/**
 * Hashes and sets through a real client: ioredis's own encodings of the
 * commands (objects for HSET, Buffers for binary fields and members) round
 * trip through the server, and its reply parsers read what comes back.
 */
import { Buffer } from "node:buffer"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { call, ioredis, provided, redisServer } from "./tcp.ts"

describe("ioredis with hashes and sets", () => {
  it.live("HSET from an object, HGETALL back into one; HMGET, HINCRBY, HINCRBYFLOAT, HSETNX, HDEL", () =>
    provided(Effect.gen(function*() {
      const { port } = yield* redisServer()
      const client = yield* ioredis(port)
      assert.strictEqual(yield* call(() => client.hset("user", { name: "ada", visits: "1", score: "0.1" })), 3)
      assert.deepStrictEqual(yield* call(() => client.hgetall("user")), { name: "ada", visits: "1", score: "0.1" })
      assert.deepStrictEqual(yield* call(() => client.hmget("user", "name", "nope")), ["ada", null])
      assert.strictEqual(yield* call(() => client.hincrby("user", "visits", 41)), 42)
      assert.strictEqual(yield* call(() => client.hincrbyfloat("user", "score", "0.2")), "0.3")
      assert.strictEqual(yield* call(() => client.hsetnx("user", "name", "bob")), 0)
      assert.strictEqual(yield* call(() => client.hdel("user", "name", "nope")), 1)
      assert.deepStrictEqual(yield* call(() => client.hkeys("user")), ["score", "visits"])
      const refused = yield* call(() => client.hincrby("user", "score", 1).then(() => "no error", (e: Error) => e.message))
      assert.strictEqual(refused, "ERR hash value is not an integer")
    })))

  it.live("binary fields, values and members round trip exactly", () =>
    provided(Effect.gen(function*() {
      const { port } = yield* redisServer()
      const client = yield* ioredis(port)
      const field = Buffer.from([0, 13, 10, 255])
      const value = Buffer.from([1, 2, 0, 13, 10])
      yield* call(() => client.hset("h", field, value))
      const back = yield* call(() => client.hgetBuffer("h", field))
      assert.isTrue(back !== null && back.equals(value))
      yield* call(() => client.sadd("s", field, value))
      const members = yield* call(() => client.smembersBuffer("s"))
      assert.deepStrictEqual(members.map((member) => member.toString("hex")), [field.toString("hex"), value.toString("hex")])
    })))

  it.live("SADD, SMISMEMBER, SINTERSTORE over a string key, SMOVE, SPOP with a count", () =>
    provided(Effect.gen(function*() {
      const { port } = yield* redisServer()
      const client = yield* ioredis(port)
      yield* call(() => client.sadd("a", "1", "2", "3"))
      yield* call(() => client.sadd("b", "2", "3", "4"))
      assert.deepStrictEqual(yield* call(() => client.smismember("a", "1", "4")), [1, 0])
      yield* call(() => client.set("dest", "a string"))
      assert.strictEqual(yield* call(() => client.sinterstore("dest", "a", "b")), 2)
      assert.deepStrictEqual((yield* call(() => client.smembers("dest"))).toSorted(), ["2", "3"])
      assert.strictEqual(yield* call(() => client.sintercard(2, "a", "b")), 2)
      assert.strictEqual(yield* call(() => client.smove("a", "b", "1")), 1)
      const popped = yield* call(() => client.spop("b", 10))
      assert.deepStrictEqual(popped.toSorted(), ["1", "2", "3", "4"])
      assert.strictEqual(yield* call(() => client.exists("b")), 0)
    })))
})
