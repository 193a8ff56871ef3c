/**
 * `HSCAN` and `SSCAN`: the cursor keeps Redis's guarantee under churn — as a
 * property, deletes, re-inserts and inserts between the calls of an iteration
 * over a set or a hash never make it miss an element present throughout —
 * then exact bytes over TCP as Redis 7.0.15 gives them (argument errors,
 * missing keys, MATCH), and full iterations over a real socket, one of them
 * with most of the set deleted midway (Redis's regression test for #4906).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { scanPositions } from "../../../src/handlers/redis/scanPositions.ts"
import { Hash, MemberSet } from "../../../src/handlers/redis/values.ts"
import { cmd } from "./support.ts"
import { call, exchange, ioredis, provided, redisServer } from "./tcp.ts"

/** What the property needs of a container: adding, removing, and the element at a position. */
interface Positional {
  readonly size: number
  readonly add: (element: string) => void
  readonly delete: (element: string) => void
  readonly at: (index: number) => string
}

const asSet = (): Positional => {
  const set = new MemberSet()
  return {
    get size() {
      return set.size
    },
    add: (element) => set.add(element),
    delete: (element) => set.delete(element),
    at: (index) => set.at(index)
  }
}

const asHash = (): Positional => {
  const hash = new Hash()
  return {
    get size() {
      return hash.size
    },
    add: (element) => hash.set(element, `value of ${element}`),
    delete: (element) => hash.delete(element),
    at: (index) => hash.fieldAt(index)
  }
}

describe("the position cursor under churn", () => {
  const Element = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 40 }))
  const Change = Schema.Struct({ add: Schema.Boolean, element: Element })
  const Count = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 12 }))
  const PerCall = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 6 }))

  for (const [name, make] of [["set", asSet], ["hash", asHash]] as const) {
    it.effect.prop(
      `${name}: every element present for the whole iteration is returned, and only elements that were there`,
      [Schema.Array(Element), Schema.Array(Change), Count, PerCall],
      ([initial, changes, count, perCall]) =>
        Effect.sync(() => {
          const container = make()
          for (const element of initial) container.add(String(element))
          const throughout = new Set(initial.map(String))
          const ever = new Set(throughout)
          const seen = new Set<string>()
          let cursor = 0
          let next = 0
          let calls = 0
          do {
            const page = scanPositions(container.size, cursor, count)
            for (let at = page.from; at < page.to; at++) seen.add(container.at(at))
            cursor = page.cursor
            calls++
            for (let i = 0; i < perCall && next < changes.length; i++, next++) {
              const { add, element } = changes[next]!
              if (add) {
                container.add(String(element))
                ever.add(String(element))
              } else {
                container.delete(String(element))
                throughout.delete(String(element))
              }
            }
          } while (cursor !== 0)
          for (const element of throughout) assert.isTrue(seen.has(element), `${element} was missed`)
          for (const element of seen) assert.isTrue(ever.has(element), `${element} was never there`)
          assert.isAtMost(calls, Math.ceil(new Set(initial).size / count) + 1, "each call moves the cursor down")
        })
    )
  }
})

describe("the position cursor when the container shrinks below it", () => {
  it("resumes from the top of what is left, so nothing left is missed", () => {
    const set = new MemberSet()
    for (let i = 0; i < 100; i++) set.add(`${i}`)
    const first = scanPositions(set.size, 0, 10)
    assert.deepStrictEqual([first.from, first.to, first.cursor], [90, 100, 90])
    for (let i = 5; i < 100; i++) set.delete(`${i}`)
    const second = scanPositions(set.size, first.cursor, 10)
    assert.deepStrictEqual([second.from, second.to, second.cursor], [0, 5, 0])
  })
})

const table: ReadonlyArray<readonly [string, ReadonlyArray<ReadonlyArray<string>>, string]> = [
  [
    "HSCAN and SSCAN: cursor errors first, then a missing key, then options",
    [
      ["hscan", "nokey", "x"], ["hscan", "nokey", "0", "badopt"], ["sscan", "nokey", "-1", "count", "0"],
      ["sscan", "nokey", "1.5"], ["sscan", "nokey", " 1"], ["set", "str", "v"], ["hscan", "str", "0"],
      ["sscan", "str", "0"], ["hset", "h", "a", "1"], ["sadd", "s", "a"], ["hscan", "h", "0", "count", "0"],
      ["hscan", "h", "0", "count", "x"], ["hscan", "h", "0", "count"], ["sscan", "s", "0", "type", "string"],
      ["sscan", "s", "0", "match"], ["hscan", "h", "18446744073709551616"]
    ],
    "-ERR invalid cursor\r\n*2\r\n$1\r\n0\r\n*0\r\n*2\r\n$1\r\n0\r\n*0\r\n-ERR invalid cursor\r\n" +
      "-ERR invalid cursor\r\n+OK\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n:1\r\n:1\r\n" +
      "-ERR syntax error\r\n-ERR value is not an integer or out of range\r\n-ERR syntax error\r\n" +
      "-ERR syntax error\r\n-ERR syntax error\r\n-ERR invalid cursor\r\n"
  ],
  [
    "a small hash or set in one call, MATCH on fields",
    [
      ["hset", "h", "foo", "1", "fab", "2", "foobar", "3"], ["hscan", "h", "0"],
      ["hscan", "h", "0", "match", "foo*"], ["hscan", "h", "0", "MATCH", "x*", "COUNT", "100"],
      ["sadd", "s", "foo", "fab", "foobar"], ["sscan", "s", "0", "match", "f[a]b"],
      ["sscan", "s", "0", "match", "*bar", "count", "1000"], ["sscan", "s", "0", "match", "zz"]
    ],
    ":3\r\n*2\r\n$1\r\n0\r\n*6\r\n$3\r\nfoo\r\n$1\r\n1\r\n$3\r\nfab\r\n$1\r\n2\r\n$6\r\nfoobar\r\n" +
      "$1\r\n3\r\n*2\r\n$1\r\n0\r\n*4\r\n$3\r\nfoo\r\n$1\r\n1\r\n$6\r\nfoobar\r\n$1\r\n3\r\n*2\r\n$1\r\n" +
      "0\r\n*0\r\n:3\r\n*2\r\n$1\r\n0\r\n*1\r\n$3\r\nfab\r\n*2\r\n$1\r\n0\r\n*1\r\n$6\r\nfoobar\r\n*2\r\n" +
      "$1\r\n0\r\n*0\r\n"
  ]
]

describe("HSCAN and SSCAN over TCP", () => {
  it.live.each(table)("%s, byte for byte as Redis 7.0.15", ([, requests, expected]) =>
    provided(Effect.gen(function*() {
      const { port } = yield* redisServer()
      assert.strictEqual(yield* exchange(port, requests.map((request) => cmd(...request)).join(""), expected.length), expected)
    })))

  it.live("a full HSCAN of 1000 fields, COUNT at a time, gives each field with its value", () =>
    provided(Effect.gen(function*() {
      const { port } = yield* redisServer()
      const client = yield* ioredis(port)
      yield* call(() => client.hset("h", Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`key:${i}`, `${i}`]))))
      const fields = new Set<string>()
      let cursor = "0"
      let calls = 0
      do {
        const [next, found] = yield* call(() => client.hscan("h", cursor, "COUNT", 37))
        for (let i = 0; i < found.length; i += 2) {
          assert.strictEqual(found[i], `key:${found[i + 1]}`)
          fields.add(found[i]!)
        }
        cursor = next
        calls++
      } while (cursor !== "0" && calls < 100)
      assert.strictEqual(fields.size, 1000)
      assert.strictEqual(calls, Math.ceil(1000 / 37))
    })))

  it.live("SSCAN returns every member kept while most of the set is deleted midway (Redis #4906)", () =>
    provided(Effect.gen(function*() {
      const { port } = yield* redisServer()
      const client = yield* ioredis(port)
      for (const deleteAt of [1, 3, 7]) {
        yield* call(() => client.del("set"))
        const kept = Array.from({ length: 100 }, (_, i) => `${i}`)
        const removed = Array.from({ length: 900 }, (_, i) => `${i + 100}`)
        yield* call(() => client.sadd("set", "x", ...kept, ...removed))
        const found = new Set<string>()
        let cursor = "0"
        let calls = 0
        do {
          const [next, members] = yield* call(() => client.sscan("set", cursor))
          for (const member of members) {
            assert.isString(member)
            found.add(member)
          }
          cursor = next
          if (++calls === deleteAt) yield* call(() => client.srem("set", ...removed))
        } while (cursor !== "0" && calls < 1000)
        assert.isTrue(kept.every((member) => found.has(member)), `deleting after call ${deleteAt}`)
      }
    })))
})
