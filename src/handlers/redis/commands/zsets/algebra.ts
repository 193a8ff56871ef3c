/**
 * Sorted-set algebra: `ZUNION`, `ZINTER`, `ZDIFF` and their `*STORE` forms,
 * with `WEIGHTS`, `AGGREGATE SUM|MIN|MAX` and `WITHSCORES`, and
 * `ZINTERCARD … [LIMIT n]` — over sorted sets and plain sets alike (a set's
 * members score 1), as Redis's `zunionInterDiffGenericCommand`.
 *
 * Scores are combined in Redis's order, so sums round the same way: the
 * inputs of a union or intersection are taken from the smallest to the
 * largest (ties in the order given), each score times its input's weight; a
 * product or sum that is NaN (`inf × 0`, `inf + -inf`) counts as 0.
 *
 * @since 0.1.0
 */
import { type ByteString, is } from "../../bytes.ts"
import { type Command, type CommandContext, define } from "../../command.ts"
import { rejected, WrongType } from "../../errors.ts"
import { type Arguments, integer, parseDouble, syntaxError } from "../../parse.ts"
import * as Reply from "../../reply.ts"
import { MemberSet } from "../../values.ts"
import { SortedSet } from "../../values/zset.ts"
import { membersReply, type Scored, store } from "./shared.ts"

/** One input: what a key holds (nothing, a set or a sorted set) and its weight. */
interface Input {
  readonly value: SortedSet | MemberSet | undefined
  weight: number
}

const sizeOf = ({ value }: Input): number => value?.size ?? 0

/** The score of `member` in the input, its weight aside; `undefined` if it is not in. */
const find = ({ value }: Input, member: ByteString): number | undefined =>
  value instanceof SortedSet ? value.score(member) : value?.has(member) === true ? 1 : undefined

/** The input's members with their scores, its weight aside. */
function* elements({ value }: Input): Generator<Scored> {
  if (value instanceof SortedSet) {
    for (let node = value.first; node !== undefined; node = node.following) yield node
  } else if (value !== undefined) {
    for (const member of value.toArray()) yield { member, score: 1 }
  }
}

type Aggregate = "sum" | "min" | "max"

/** Redis's `zunionInterAggregate`. */
const combine = (aggregate: Aggregate, total: number, value: number): number => {
  if (aggregate === "sum") {
    const sum = total + value
    return Number.isNaN(sum) ? 0 : sum
  }
  return aggregate === "min" ? (value < total ? value : total) : value > total ? value : total
}

/** A weighted score; NaN (`inf × 0`) counts as 0. */
const weighted = (score: number, weight: number): number => {
  const product = score * weight
  return Number.isNaN(product) ? 0 : product
}

type Operation = "union" | "inter" | "diff"

interface Options {
  readonly name: string
  readonly operation: Operation
  readonly storing: boolean
  /** `ZINTERCARD`: only the size of the intersection. */
  readonly cardinality?: boolean
}

/** The intersection's members (all of them, or up to `limit` when it is not 0), scored. */
const intersect = (inputs: ReadonlyArray<Input>, aggregate: Aggregate, limit: number): Array<Scored> => {
  const [first, ...others] = inputs
  const found: Array<Scored> = []
  if (first === undefined || sizeOf(first) === 0) return found
  each: for (const { member, score } of elements(first)) {
    let total = weighted(score, first.weight)
    for (const other of others) {
      const value = other.value === first.value ? score : find(other, member)
      if (value === undefined) continue each
      total = combine(aggregate, total, value * other.weight)
    }
    found.push({ member, score: total })
    if (found.length === limit) break
  }
  return found
}

const union = (inputs: ReadonlyArray<Input>, aggregate: Aggregate): Map<ByteString, number> => {
  const totals = new Map<ByteString, number>()
  for (const input of inputs) {
    for (const { member, score } of elements(input)) {
      const value = weighted(score, input.weight)
      const total = totals.get(member)
      totals.set(member, total === undefined ? value : combine(aggregate, total, value))
    }
  }
  return totals
}

const difference = (inputs: ReadonlyArray<Input>): Array<Scored> => {
  const [first, ...others] = inputs
  const found: Array<Scored> = []
  if (first === undefined) return found
  for (const element of elements(first)) {
    if (others.every((other) => other.value !== first.value && find(other, element.member) === undefined)) {
      found.push(element)
    }
  }
  return found
}

/** Reads the inputs, then the options, then computes and replies. */
const run = (ctx: CommandContext, args: Arguments, { cardinality = false, name, operation, storing }: Options) => {
  const destination = storing ? args.nextString() : undefined
  const count = integer(args.nextString())
  if (count < 1n) throw rejected(`at least 1 input key is needed for '${name}' command`)
  if (count > BigInt(args.remaining)) syntaxError()
  const inputs: Array<Input> = []
  for (let i = 0; i < count; i++) {
    const value = ctx.keyspace.get(args.nextString())
    if (value !== undefined && !(value instanceof SortedSet) && !(value instanceof MemberSet)) throw new WrongType()
    inputs.push({ value, weight: 1 })
  }
  let aggregate: Aggregate = "sum"
  let withScores = false
  let limit = 0
  const combines = operation !== "diff" && !cardinality
  while (args.hasNext()) {
    if (combines && args.remaining >= inputs.length + 1 && args.nextIs("weights")) {
      for (const input of inputs) {
        const weight = parseDouble(args.nextString())
        if (weight === undefined) throw rejected("weight value is not a float")
        input.weight = weight
      }
    } else if (combines && args.remaining >= 2 && args.nextIs("aggregate")) {
      const word = args.nextString()
      const chosen = (["sum", "min", "max"] as const).find((choice) => is(word, choice))
      if (chosen === undefined) syntaxError()
      aggregate = chosen!
    } else if (!storing && !cardinality && args.nextIs("withscores")) {
      withScores = true
    } else if (cardinality && args.remaining >= 2 && args.nextIs("limit")) {
      const n = integer(args.nextString(), "LIMIT can't be negative")
      if (n < 0n) throw rejected("LIMIT can't be negative")
      limit = Number(n)
    } else {
      syntaxError()
    }
  }
  // From the smallest input to the largest (a stable sort), as Redis.
  const ordered = operation === "diff" ? inputs : inputs.toSorted((a, b) => sizeOf(a) - sizeOf(b))
  if (cardinality) return Reply.integer(intersect(ordered, aggregate, limit).length)
  const result = new SortedSet()
  if (operation === "union") {
    for (const [member, score] of union(ordered, aggregate)) result.set(member, score)
  } else {
    const found = operation === "inter" ? intersect(ordered, aggregate, 0) : difference(ordered)
    for (const { member, score } of found) result.set(member, score)
  }
  if (destination !== undefined) {
    result.compactIfSmall()
    return store(ctx, destination, result)
  }
  const nodes: Array<Scored> = []
  for (let node = result.first; node !== undefined; node = node.following) nodes.push(node)
  return membersReply(nodes, withScores)
}

const reading = (name: string, operation: Operation, cardinality = false) =>
  define(name, -3, ["readonly", "movablekeys"], [0, 0, 0], (ctx, args) => run(ctx, args, { name, operation, storing: false, cardinality }))

const storing = (name: string, operation: Operation) =>
  define(name, -4, ["write", "denyoom", "movablekeys"], [1, 1, 1], (ctx, args) => run(ctx, args, { name, operation, storing: true }))

/**
 * The algebra commands.
 *
 * @since 0.1.0
 */
export const commands: ReadonlyArray<Command> = [
  reading("zunion", "union"),
  reading("zinter", "inter"),
  reading("zdiff", "diff"),
  reading("zintercard", "inter", true),
  storing("zunionstore", "union"),
  storing("zinterstore", "inter"),
  storing("zdiffstore", "diff")
]
