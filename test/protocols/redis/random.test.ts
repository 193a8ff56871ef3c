/**
 * Random picks (`SRANDMEMBER`, `HRANDFIELD`): the sampler's guarantees as
 * properties — distinct picks are distinct and in range, every position and
 * every pair of positions equally likely (chi-square on a seeded generator,
 * so the check is deterministic) — then the count rules over a real socket:
 * how many come back, from where, with their values; and the bound on a
 * reply of repeated picks.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { isCommandError, words } from "../../../src/handlers/redis/errors.ts"
import { distinct, repeated } from "../../../src/handlers/redis/sample.ts"
import { cmd } from "./support.ts"
import { call, exchange, ioredis, provided, redisServer } from "./tcp.ts"

/** A seeded generator of numbers in [0, 1) (mulberry32), so the statistics below are reproducible. */
const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** Pearson's chi-square of `counts` against a uniform expectation. */
const chiSquare = (counts: ReadonlyArray<number>): number => {
  const total = counts.reduce((a, b) => a + b, 0)
  const expected = total / counts.length
  return counts.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0)
}

/** What the client is told when `pick` refuses. */
const refusal = (pick: () => unknown): string | undefined => {
  try {
    pick()
    return undefined
  } catch (error) {
    return isCommandError(error) ? words(error) : String(error)
  }
}

describe("the sampler", () => {
  const Size = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 60 }))
  const Count = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 80 }))

  it.effect.prop("distinct: min(count, size) different positions in range; all of them in order when count >= size", [
    Size,
    Count
  ], ([size, count]) =>
    Effect.sync(() => {
      const picks = distinct(size, count)
      assert.strictEqual(picks.length, Math.min(count, size))
      assert.strictEqual(new Set(picks).size, picks.length)
      assert.isTrue(picks.every((at) => Number.isInteger(at) && at >= 0 && at < size))
      if (count >= size) assert.deepStrictEqual(picks, Array.from({ length: size }, (_, i) => i))
    }))

  it.effect.prop("repeated: exactly the count, each in range", [Size, Count], ([size, count]) =>
    Effect.sync(() => {
      const picks = repeated(size, BigInt(count), () => 1, Number.MAX_SAFE_INTEGER)
      assert.strictEqual(picks.length, count)
      assert.isTrue(picks.every((at) => Number.isInteger(at) && at >= 0 && at < size))
    }))

  // Thresholds: chi-square with df = 9 passes 40 with probability 1e-5, df = 44 passes 100 with about 1e-6;
  // with a fixed seed the outcome is fixed, and a biased sampler lands far above them.
  it("distinct picks: every position, and every pair, equally likely", () => {
    const random = seeded(17)
    const positions = Array.from({ length: 10 }, () => 0)
    const pairs = new Map<string, number>()
    for (let i = 0; i < 9000; i++) {
      const [a, b] = distinct(10, 2, random).toSorted((x, y) => x - y)
      positions[a!]!++
      positions[b!]!++
      pairs.set(`${a},${b}`, (pairs.get(`${a},${b}`) ?? 0) + 1)
    }
    assert.strictEqual(pairs.size, 45)
    assert.isBelow(chiSquare(positions), 40)
    assert.isBelow(chiSquare([...pairs.values()]), 100)
  })

  it("distinct picks near the whole (8 of 10) are uniform too", () => {
    const random = seeded(5)
    const positions = Array.from({ length: 10 }, () => 0)
    for (let i = 0; i < 2000; i++) for (const at of distinct(10, 8, random)) positions[at]!++
    assert.isBelow(chiSquare(positions), 40)
  })

  it("repeated picks are uniform", () => {
    const random = seeded(99)
    const positions = Array.from({ length: 10 }, () => 0)
    for (const at of repeated(10, 10_000n, () => 1, Number.MAX_SAFE_INTEGER, random)) positions[at]!++
    assert.isBelow(chiSquare(positions), 40)
  })

  it("repeated picks stop at the reply bound, naming the count", () => {
    assert.strictEqual(repeated(3, 10n, () => 7, 70).length, 10)
    assert.strictEqual(
      refusal(() => repeated(3, 11n, () => 7, 70)),
      "ERR count -11 would make a reply over proto-max-bulk-len (70 bytes)"
    )
    // A count past 2^53 ends at the bound all the same.
    assert.strictEqual(
      refusal(() => repeated(3, 2n ** 63n - 1n, () => 7, 70)),
      "ERR count -9223372036854775807 would make a reply over proto-max-bulk-len (70 bytes)"
    )
  })
})

describe("SRANDMEMBER and HRANDFIELD over TCP", () => {
  const members = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]

  it.live("SRANDMEMBER: negative counts repeat, positive ones are distinct and at most the set", () =>
    provided(Effect.gen(function*() {
      const { port } = yield* redisServer()
      const client = yield* ioredis(port)
      yield* call(() => client.sadd("s", ...members))
      const repeats = yield* call(() => client.srandmember("s", -1000))
      assert.strictEqual(repeats.length, 1000)
      assert.isTrue(repeats.every((member) => members.includes(member)))
      assert.strictEqual(new Set(repeats).size, 10, "1000 picks of 10 members reach them all")
      for (const count of [1, 2, 8, 9]) {
        const picks = yield* call(() => client.srandmember("s", count))
        assert.strictEqual(picks.length, count)
        assert.strictEqual(new Set(picks).size, count)
        assert.isTrue(picks.every((member) => members.includes(member)))
      }
      for (const count of [10, 20]) {
        assert.deepStrictEqual(yield* call(() => client.srandmember("s", count)), members)
      }
      const seen = new Set<string>()
      for (let i = 0; i < 1000 && seen.size < 10; i++) seen.add((yield* call(() => client.srandmember("s")))!)
      assert.strictEqual(seen.size, 10, "single picks reach every member")
    })))

  it.live("HRANDFIELD: fields with their own values, by the same count rules", () =>
    provided(Effect.gen(function*() {
      const { port } = yield* redisServer()
      const client = yield* ioredis(port)
      const hash = Object.fromEntries(members.map((field, i) => [field, `v${i}`]))
      yield* call(() => client.hset("h", hash))
      const pairs = (yield* call(() => client.hrandfield("h", -21, "WITHVALUES"))) as Array<string>
      assert.strictEqual(pairs.length, 42)
      for (let i = 0; i < pairs.length; i += 2) assert.strictEqual(hash[pairs[i]!], pairs[i + 1])
      for (const count of [2, 8]) {
        const fields = (yield* call(() => client.hrandfield("h", count))) as Array<string>
        assert.strictEqual(new Set(fields).size, count)
        assert.isTrue(fields.every((field) => field in hash))
        const withValues = (yield* call(() => client.hrandfield("h", count, "WITHVALUES"))) as Array<string>
        assert.strictEqual(withValues.length, 2 * count)
        for (let i = 0; i < withValues.length; i += 2) assert.strictEqual(hash[withValues[i]!], withValues[i + 1])
      }
      const all = (yield* call(() => client.hrandfield("h", 20, "WITHVALUES"))) as Array<string>
      assert.deepStrictEqual(all, members.flatMap((field) => [field, hash[field]!]))
    })))

  it.live("a reply of repeated picks past proto-max-bulk-len is refused, and the connection goes on", () =>
    provided(Effect.gen(function*() {
      const { port } = yield* redisServer({ protoMaxBulkLen: 1000 })
      const input = cmd("sadd", "s", "member") + cmd("srandmember", "s", "-100") + cmd("hset", "h", "f", "v") +
        cmd("hrandfield", "h", "-1000000000000", "withvalues") + cmd("srandmember", "s", "-2")
      const expected = ":1\r\n-ERR count -100 would make a reply over proto-max-bulk-len (1000 bytes)\r\n:1\r\n" +
        "-ERR count -1000000000000 would make a reply over proto-max-bulk-len (1000 bytes)\r\n" +
        "*2\r\n$6\r\nmember\r\n$6\r\nmember\r\n"
      assert.strictEqual(yield* exchange(port, input, expected.length), expected)
    })))
})
