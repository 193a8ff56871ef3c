/**
 * Sorted sets where one connection's pipelined requests cannot show it:
 * blocked pops woken by other clients (in the order they blocked, each with
 * its count, and not by a set that came and went inside one EXEC), ZSCAN's
 * guarantee while the set changes between calls, the bound on a reply of
 * repeated random picks, and round trips through ioredis.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { connect, type TestClient } from "../../fixtures/client.ts"
import { cmd, eventually } from "./support.ts"
import { call, ioredis, provided, redisServer, within } from "./tcp.ts"

/** Sends `requests` on `client` and waits for `expected`, the whole of what it receives from then on. */
const expect = (client: TestClient, requests: ReadonlyArray<ReadonlyArray<string>>, expected: string) =>
  Effect.gen(function*() {
    const before = (yield* client.received).length
    yield* client.write(requests.map((request) => cmd(...request)).join(""))
    const data = yield* within(client.readBytes(before + expected.length))
    assert.strictEqual(data.toString("latin1", before), expected)
  })

describe("blocked pops", () => {
  it.live("BZPOPMIN waits until another client adds to one of its keys; a timeout gives a null array", () =>
    provided(Effect.gen(function*() {
      const { keyspace, port } = yield* redisServer()
      const waiter = yield* connect(port)
      const writer = yield* connect(port)
      yield* expect(waiter, [["bzpopmax", "nokey", "0.05"]], "*-1\r\n")
      yield* waiter.write(cmd("bzpopmin", "z1", "z2", "0"))
      yield* eventually("the pop blocks", () => keyspace.waiting() === 1)
      yield* expect(writer, [["set", "z1", "not a set"], ["zadd", "z2", "2", "b", "1", "a"]], "+OK\r\n:2\r\n")
      yield* within(waiter.readUntil("*3\r\n$2\r\nz2\r\n$1\r\na\r\n$1\r\n1\r\n"))
      yield* expect(writer, [["zrange", "z2", "0", "-1"]], "*1\r\n$1\r\nb\r\n")
      assert.strictEqual(keyspace.waiting(), 0)
    })))

  it.live("BZMPOP waiters are served in the order they blocked, each with its count, until the key empties", () =>
    provided(Effect.gen(function*() {
      const { keyspace, port } = yield* redisServer()
      const clients = [yield* connect(port), yield* connect(port), yield* connect(port)]
      const pops = [["min", "1"], ["max", "10"], ["min", "10"]]
      for (const [i, [where, n]] of pops.entries()) {
        yield* clients[i]!.write(cmd("bzmpop", "0", "2", "a", "b", where!, "count", n!))
        yield* eventually("the pop blocks", () => keyspace.waiting() === i + 1)
      }
      const writer = yield* connect(port)
      yield* expect(
        writer,
        [["multi"], ["zadd", "a", "1", "x", "2", "y", "3", "z"], ["zadd", "b", "5", "w"], ["exec"]],
        "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:3\r\n:1\r\n"
      )
      yield* within(clients[0]!.readUntil("*2\r\n$1\r\na\r\n*1\r\n*2\r\n$1\r\nx\r\n$1\r\n1\r\n"))
      yield* within(clients[1]!.readUntil("*2\r\n$1\r\na\r\n*2\r\n*2\r\n$1\r\nz\r\n$1\r\n3\r\n*2\r\n$1\r\ny\r\n$1\r\n2\r\n"))
      yield* within(clients[2]!.readUntil("*2\r\n$1\r\nb\r\n*1\r\n*2\r\n$1\r\nw\r\n$1\r\n5\r\n"))
      yield* expect(writer, [["exists", "a", "b"]], ":0\r\n")
    })))

  it.live("a set added and deleted inside one EXEC wakes nobody; the next ZADD does", () =>
    provided(Effect.gen(function*() {
      const { keyspace, port } = yield* redisServer()
      const waiter = yield* connect(port)
      yield* waiter.write(cmd("bzpopmin", "z", "0"))
      yield* eventually("the pop blocks", () => keyspace.waiting() === 1)
      const writer = yield* connect(port)
      yield* expect(
        writer,
        [["multi"], ["zadd", "z", "0", "foo"], ["del", "z"], ["exec"], ["zadd", "z", "1", "bar"]],
        "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:1\r\n:1\r\n:1\r\n"
      )
      yield* within(waiter.readUntil("*3\r\n$1\r\nz\r\n$3\r\nbar\r\n$1\r\n1\r\n"))
      assert.strictEqual((yield* waiter.received).toString("latin1"), "*3\r\n$1\r\nz\r\n$3\r\nbar\r\n$1\r\n1\r\n")
    })))
})

describe("ZSCAN on a set past a listpack", () => {
  it.live("returns every member present throughout, while members come, go and change score between calls", () =>
    provided(Effect.gen(function*() {
      const { port } = yield* redisServer()
      const client = yield* ioredis(port)
      const n = 600
      yield* call(() => client.zadd("z", ...Array.from({ length: n }, (_, i) => [i, `m${i}`]).flat()))
      const throughout = new Set(Array.from({ length: n }, (_, i) => `m${i}`))
      const seen = new Set<string>()
      let cursor = "0"
      let calls = 0
      do {
        const [next, flat] = yield* call(() => client.zscan("z", cursor, "COUNT", 25))
        for (let i = 0; i < flat.length; i += 2) {
          seen.add(flat[i]!)
          assert.strictEqual(flat[i + 1], (yield* call(() => client.zscore("z", flat[i]!)))!, "each member with its score")
        }
        cursor = next
        calls++
        // Between calls: two low members leave (a cursor by rank would now skip two), a new one
        // comes in at the top, and a member present throughout moves from the top to the bottom.
        for (const gone of [`m${calls * 7}`, `m${calls * 7 + 3}`]) {
          yield* call(() => client.zrem("z", gone))
          throughout.delete(gone)
        }
        yield* call(() => client.zadd("z", 2 * n + calls, `new${calls}`, -calls, `m${n - calls}`))
      } while (cursor !== "0" && calls < 1000)
      assert.isBelow(calls, 1000, "the iteration ends")
      for (const member of throughout) assert.isTrue(seen.has(member), `${member} returned`)
    })))
})

describe("ZRANDMEMBER with a negative count", () => {
  it.live("picks with repeats, and refuses a reply past proto-max-bulk-len before building it", () =>
    provided(Effect.gen(function*() {
      const { port } = yield* redisServer({ protoMaxBulkLen: 10_000 })
      const client = yield* ioredis(port)
      yield* call(() => client.zadd("z", 1, "a", 2, "b"))
      const picks = yield* call(() => client.zrandmember("z", -500))
      assert.strictEqual(picks.length, 500)
      assert.deepStrictEqual(new Set(picks), new Set(["a", "b"]), "both members, repeated")
      const refused = yield* call(() => client.zrandmember("z", "-9223372036854775807").catch(String))
      assert.strictEqual(
        refused,
        "ReplyError: ERR count -9223372036854775807 would make a reply over proto-max-bulk-len (10000 bytes)"
      )
    })))
})

describe("ioredis", () => {
  it.live("round-trips scores, ranges, algebra and a blocked pop woken by another client", () =>
    provided(Effect.gen(function*() {
      const { keyspace, port } = yield* redisServer()
      const client = yield* ioredis(port)
      const other = yield* ioredis(port)
      assert.strictEqual(yield* call(() => client.zadd("z", "1.5", "a", "-2", "b", "+inf", "c")), 3)
      assert.deepStrictEqual(yield* call(() => client.zrange("z", "0", "-1", "WITHSCORES")), ["b", "-2", "a", "1.5", "c", "inf"])
      assert.strictEqual(yield* call(() => client.zincrby("z", 0.1, "a")), "1.6000000000000001")
      assert.deepStrictEqual(yield* call(() => client.zrangebyscore("z", "(-2", "+inf", "LIMIT", 0, 1)), ["a"])
      assert.deepStrictEqual(yield* call(() => client.zrange("z", "+inf", "-inf", "BYSCORE", "REV")), ["c", "a", "b"])
      assert.strictEqual(yield* call(() => client.zunionstore("u", 2, "z", "z", "WEIGHTS", 1, 2)), 3)
      assert.deepStrictEqual(yield* call(() => client.zmscore("u", "a", "b", "x")), ["4.8000000000000007", "-6", null])
      const waiting = yield* Effect.forkChild(call(() => client.bzpopmin("empty", 0)))
      yield* eventually("the pop blocks", () => keyspace.waiting() === 1)
      yield* call(() => other.zadd("empty", 7, "x"))
      assert.deepStrictEqual(yield* within(Fiber.join(waiting)), ["empty", "x", "7"])
    })))
})
