/**
 * The sorted set's ordered structure (a skip list with spans) agrees with a
 * sorted-array model under random inserts, deletes and score changes: its
 * order both ways, every rank and access by rank, range queries by score and
 * by bytes with offsets and limits, counts, and range deletes; and its byte
 * count returns to empty when the members leave.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import { type LexBound, type LexRange, type ScoreRange, SortedSet } from "../../../src/handlers/redis/values/zset.ts"
import { overhead } from "../../../src/handlers/redis/memory.ts"

/** A member and its score, as the model holds them. */
type Entry = readonly [string, number]

/** Redis's order: by score, then by bytes. */
const byOrder = (a: Entry, b: Entry) => (a[1] - b[1]) || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)

const inScores = (r: ScoreRange, score: number) =>
  (r.minExclusive ? score > r.min : score >= r.min) && (r.maxExclusive ? score < r.max : score <= r.max)

const atOrAfter = (bound: LexBound, member: string) =>
  bound === "-" ? true : bound === "+" ? false : bound.exclusive ? member > bound.value : member >= bound.value
const atOrBefore = (bound: LexBound, member: string) =>
  bound === "+" ? true : bound === "-" ? false : bound.exclusive ? member < bound.value : member <= bound.value
const inLex = (r: LexRange, member: string) => atOrAfter(r.min, member) && atOrBefore(r.max, member)

/** What `ZRANGEBY… LIMIT offset limit` takes from the entries in range, in order. */
const page = (entries: ReadonlyArray<Entry>, offset: number, limit: number) =>
  offset < 0 ? [] : entries.slice(offset, limit < 0 ? undefined : offset + limit)

/** Nodes as the model's entries. */
const entries = (nodes: ReadonlyArray<{ member: string; score: number }>) =>
  nodes.map((node) => [node.member, node.score] as const)

/** Checks every query that has no side effect against the model, sorted. */
const agree = (set: SortedSet, model: ReadonlyArray<Entry>) => {
  assert.strictEqual(set.size, model.length)
  const forward: Array<Entry> = []
  for (let node = set.first; node !== undefined; node = node.following) forward.push([node.member, node.score])
  assert.deepStrictEqual(forward, model, "forward order")
  const backward: Array<Entry> = []
  for (let node = set.last; node !== undefined; node = node.previous) backward.push([node.member, node.score])
  assert.deepStrictEqual(backward, model.toReversed(), "backward links")
  model.forEach(([member, score], rank) => {
    assert.strictEqual(set.rank(member), rank, `rank of ${member}`)
    assert.strictEqual(set.rank(member, true), model.length - 1 - rank, `reverse rank of ${member}`)
    assert.strictEqual(set.at(rank)?.member, member, `at ${rank}`)
    assert.strictEqual(set.score(member), score)
  })
  assert.isUndefined(set.at(model.length))
}

/** Scores with ties, both zeros and both infinities, drawn by index (a literal must be finite). */
const scores = [-Infinity, -2, -1, -0, 0, 0.5, 1, 2, 3, Infinity]
const Score = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: scores.length - 1 }))
const Member = Schema.Literals(["", "a", "aa", "ab", "b", "ba", "c", "\xff", "a\0"])
const Bound = Schema.Union([
  Schema.Literals(["-", "+"]),
  Schema.Struct({ value: Member, exclusive: Schema.Boolean })
])
const Op = Schema.Struct({
  kind: Schema.Literals(["set", "set", "set", "set", "set", "set", "set", "set", "delete", "query", "query", "deleteScores", "deleteLex", "deleteRanks"]),
  member: Member,
  suffix: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 6 })),
  score: Score,
  other: Score,
  minExclusive: Schema.Boolean,
  maxExclusive: Schema.Boolean,
  min: Bound,
  max: Bound,
  offset: Schema.Int.check(Schema.isBetween({ minimum: -1, maximum: 6 })),
  limit: Schema.Int.check(Schema.isBetween({ minimum: -1, maximum: 6 })),
  reverse: Schema.Boolean
})

/** A sorted set that counts the changes it reports. */
class Watched extends SortedSet {
  changes = 0
  protected override grow(delta: number): void {
    this.changes++
    super.grow(delta)
  }
}

describe("SortedSet", () => {
  it.prop(
    "agrees with a sorted array under random inserts, deletes, score changes and range queries, in both encodings",
    [
      Schema.Literals(["listpack", "skiplist"]),
      Schema.Boolean,
      Schema.Array(Op).check(Schema.isMinLength(60), Schema.isMaxLength(150))
    ],
    ([encoding, equalScores, ops]) => {
      // A listpack (these sets never outgrow one) finds ranges by walking, and holds -0 as 0.
      const set = new SortedSet(encoding)
      let model: Array<Entry> = []
      for (const op of ops) {
        const drawn = scores[op.score]!
        // Up to 63 members: enough for nodes of several levels.
        const name = op.suffix === 0 ? op.member : `${op.member}${op.suffix}`
        const range: ScoreRange = {
          min: drawn,
          max: scores[op.other]!,
          minExclusive: op.minExclusive,
          maxExclusive: op.maxExclusive
        }
        const lex: LexRange = { min: op.min, max: op.max }
        const inRange = model.filter(([, score]) => inScores(range, score))
        const inLexRange = model.filter(([member]) => inLex(lex, member))
        switch (op.kind) {
          case "set": {
            // Ranges of bytes are meaningful only among equal scores: one run in two sets them all to 1.
            const given = equalScores ? 1 : encoding === "listpack" && drawn === 0 ? 0 : drawn
            set.set(name, given)
            const old = model.find(([member]) => member === name)
            // An equal score (0 for -0 too) leaves the member as it was.
            if (old === undefined || old[1] !== given) {
              model = [...model.filter(([member]) => member !== name), [name, given] as const]
                .toSorted(byOrder)
            }
            break
          }
          case "delete":
            assert.strictEqual(set.delete(name), model.some(([member]) => member === name))
            model = model.filter(([member]) => member !== name)
            break
          case "deleteScores":
            assert.strictEqual(set.deleteScores(range), inRange.length)
            model = model.filter(([, score]) => !inScores(range, score))
            break
          case "deleteLex":
            if (!equalScores) break
            assert.strictEqual(set.deleteLex(lex), inLexRange.length)
            model = model.filter(([member]) => !inLex(lex, member))
            break
          case "deleteRanks": {
            const start = Math.min(op.offset + 1, model.length - 1)
            const stop = Math.min(start + op.limit + 1, model.length - 1)
            if (start < 0 || stop < start) break
            assert.strictEqual(set.deleteRanks(start, stop), stop - start + 1)
            model = model.filter((_, rank) => rank < start || rank > stop)
            break
          }
          case "query": {
            const ordered = (list: Array<Entry>) => op.reverse ? list.toReversed() : list
            assert.deepStrictEqual(
              entries(set.rangeByScore(range, op.reverse, op.offset, op.limit)),
              page(ordered(inRange), op.offset, op.limit),
              "by score"
            )
            assert.strictEqual(set.countScores(range), inRange.length, "count by score")
            if (equalScores) {
              assert.deepStrictEqual(
                entries(set.rangeByLex(lex, op.reverse, op.offset, op.limit)),
                page(ordered(inLexRange), op.offset, op.limit),
                "by bytes"
              )
              assert.strictEqual(set.countLex(lex), inLexRange.length, "count by bytes")
            }
            const start = Math.max(0, Math.min(op.offset, model.length - 1))
            const stop = Math.min(model.length - 1, start + Math.max(0, op.limit))
            if (model.length > 0) {
              assert.deepStrictEqual(
                entries(set.rangeByRank(start, stop, op.reverse)),
                ordered(model).slice(start, stop + 1),
                "by rank"
              )
            }
            break
          }
        }
        agree(set, model)
      }
      for (const [member] of model) set.delete(member)
      assert.strictEqual(set.bytes, overhead.container, "every member's bytes given back")
    },
    { arbitrary: { runs: 200 } }
  )

  it("clones with its members, scores and encoding; a change of score goes through grow, as every change", () => {
    const set = new Watched()
    set.set("a", -0)
    set.set("b", 2)
    const copy = set.clone()
    assert.deepStrictEqual(entries(copy.rangeByRank(0, 1, false)), [["a", -0], ["b", 2]])
    assert.strictEqual(copy.encoding, "skiplist")
    copy.set("c", 3)
    assert.isUndefined(set.score("c"), "the copy is its own")
    // Through grow the keyspace hears of changes (WATCH): a move changes no size, yet is one.
    const before = set.changes
    set.set("a", 5)
    set.set("a", 5)
    assert.strictEqual(set.changes - before, 1, "one move, one change; an equal score is none")
  })

  it("stays ordered and ranked through thousands of members and score changes", () => {
    const set = new SortedSet()
    const n = 6000
    for (let i = 0; i < n; i++) set.set(`m${i}`, (i * 7919) % n)
    for (let i = 0; i < n; i += 2) set.delete(`m${i}`)
    for (let i = 1; i < n; i += 4) set.set(`m${i}`, -i)
    const model: Array<Entry> = []
    for (let i = 1; i < n; i += 2) model.push([`m${i}`, i % 4 === 1 ? -i : (i * 7919) % n])
    model.sort(byOrder)
    agree(set, model)
    const range: ScoreRange = { min: 100, max: 200, minExclusive: true, maxExclusive: false }
    assert.deepStrictEqual(
      set.rangeByScore(range, false).map((node) => node.member),
      model.filter(([, score]) => inScores(range, score)).map(([member]) => member)
    )
  })
})
