/**
 * Sorted-set range commands: `ZRANGE` in all its forms (by rank, `BYSCORE`,
 * `BYLEX`, `REV`, `LIMIT`, `WITHSCORES`), the older `ZREVRANGE`,
 * `ZRANGEBYSCORE`, `ZREVRANGEBYSCORE`, `ZRANGEBYLEX`, `ZREVRANGEBYLEX`,
 * `ZRANGESTORE`, the counts `ZCOUNT` and `ZLEXCOUNT`, and the range deletes
 * `ZREMRANGEBYRANK`, `ZREMRANGEBYSCORE` and `ZREMRANGEBYLEX`.
 *
 * Every form is one reading of the arguments, as Redis's
 * `zrangeGenericCommand`: the older commands fix the kind of range or the
 * direction, and then accept only the options left. Ranges are checked
 * before the key is looked up, so a bad range is refused on any key.
 *
 * @since 0.1.0
 */
import type { ByteString } from "../../bytes.ts"
import { type Command, type CommandContext, define } from "../../command.ts"
import { parseStrtod } from "../../double.ts"
import { rejected } from "../../errors.ts"
import { type Arguments, integer, syntaxError } from "../../parse.ts"
import * as Reply from "../../reply.ts"
import {
  type LexBound,
  type LexRange,
  listpackLimits,
  type ScoreRange,
  type SkipNode,
  SortedSet
} from "../../values/zset.ts"
import { getSortedSet, membersReply, store } from "./shared.ts"

/** A score bound: `(` for exclusive, then what `strtod` reads. */
const scoreBound = (arg: ByteString): readonly [number, boolean] => {
  const exclusive = arg.startsWith("(")
  const value = parseStrtod(exclusive ? arg.slice(1) : arg)
  if (value === undefined) throw rejected("min or max is not a float")
  return [value, exclusive]
}

/**
 * A score range as `zslParseRange` reads it; `ERR min or max is not a float`
 * otherwise.
 *
 * @since 0.1.0
 */
export const scoreRange = (minArg: ByteString, maxArg: ByteString): ScoreRange => {
  const [min, minExclusive] = scoreBound(minArg)
  const [max, maxExclusive] = scoreBound(maxArg)
  return { min, max, minExclusive, maxExclusive }
}

/** A lex bound: `-`, `+` (alone, up to a NUL), or `[`/`(` then the bytes. */
const lexBound = (arg: ByteString): LexBound => {
  const first = arg[0]
  const alone = arg.length === 1 || arg[1] === "\0"
  if ((first === "-" || first === "+") && alone) return first
  if (first === "[" || first === "(") return { value: arg.slice(1), exclusive: first === "(" }
  throw rejected("min or max not valid string range item")
}

/**
 * A lex range as `zslParseLexRange` reads it; `ERR min or max not valid
 * string range item` otherwise.
 *
 * @since 0.1.0
 */
export const lexRange = (minArg: ByteString, maxArg: ByteString): LexRange => ({
  min: lexBound(minArg),
  max: lexBound(maxArg)
})

/** Ranks `start`..`stop` (negative from the end) within a set of `size`, or `undefined` if none. */
const ranks = (start: number, stop: number, size: number): readonly [number, number] | undefined => {
  if (start < 0) start += size
  if (stop < 0) stop += size
  if (start < 0) start = 0
  if (start > stop || start >= size) return undefined
  return [start, Math.min(stop, size - 1)]
}

type Kind = "rank" | "score" | "lex"

/**
 * The range commands' one reading, for `ZRANGE` (`kind` and `reverse` open),
 * the older commands (fixed) and `ZRANGESTORE` (`storing`: no `WITHSCORES`).
 */
const range = (ctx: CommandContext, args: Arguments, storing: boolean, fixed?: Kind, fixedReverse?: boolean) => {
  const destination = storing ? args.nextString() : undefined
  const key = args.nextString()
  let minArg = args.nextString()
  let maxArg = args.nextString()
  let kind = fixed
  let reverse = fixedReverse
  let withScores = false
  let offset = 0
  let limit = -1
  while (args.hasNext()) {
    if (!storing && args.nextIs("withscores")) withScores = true
    else if (args.remaining >= 3 && args.nextIs("limit")) {
      // Longs: past 2^53 precision no longer matters for an offset or a count.
      offset = Number(args.nextInteger())
      limit = Number(args.nextInteger())
    } else if (reverse === undefined && args.nextIs("rev")) reverse = true
    else if (kind === undefined && args.nextIs("bylex")) kind = "lex"
    else if (kind === undefined && args.nextIs("byscore")) kind = "score"
    else syntaxError()
  }
  kind ??= "rank"
  reverse ??= false
  // As Redis: LIMIT 0 -1 is no limit, and allowed by rank.
  if (limit !== -1 && kind === "rank") {
    throw rejected("syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
  }
  if (withScores && kind === "lex") throw rejected("syntax error, WITHSCORES not supported in combination with BYLEX")
  // By score or bytes, a reversed range is given as max then min.
  if (reverse && kind !== "rank") [minArg, maxArg] = [maxArg, minArg]
  let select: (set: SortedSet) => Array<SkipNode>
  if (kind === "rank") {
    const start = Number(integer(minArg))
    const stop = Number(integer(maxArg))
    select = (set) => {
      const within = ranks(start, stop, set.size)
      return within === undefined ? [] : set.rangeByRank(within[0], within[1], reverse)
    }
  } else if (kind === "score") {
    const scores = scoreRange(minArg, maxArg)
    select = (set) => set.rangeByScore(scores, reverse, offset, limit)
  } else {
    const bytes = lexRange(minArg, maxArg)
    select = (set) => set.rangeByLex(bytes, reverse, offset, limit)
  }
  const set = getSortedSet(ctx, key)
  const nodes = set === undefined ? [] : select(set)
  if (destination === undefined) return membersReply(nodes, withScores)
  // As Redis: a listpack unless a range of ranks is known to be too long for one.
  const result = new SortedSet(kind === "rank" && nodes.length > listpackLimits.entries ? "skiplist" : "listpack")
  for (const node of nodes) result.set(node.member, node.score)
  return store(ctx, destination, result)
}

const rangeCommand = (name: string, arity: number, kind?: Kind, reverse?: boolean) =>
  define(name, arity, ["readonly"], [1, 1, 1], (ctx, args) => range(ctx, args, false, kind, reverse))

/** Deletes `key` if the command emptied its set. */
const dropIfEmpty = (ctx: CommandContext, key: ByteString, set: SortedSet) => {
  if (set.size === 0) ctx.keyspace.delete(key)
}

/**
 * The range commands.
 *
 * @since 0.1.0
 */
export const commands: ReadonlyArray<Command> = [
  rangeCommand("zrange", -4),
  rangeCommand("zrevrange", -4, "rank", true),
  rangeCommand("zrangebyscore", -4, "score", false),
  rangeCommand("zrevrangebyscore", -4, "score", true),
  rangeCommand("zrangebylex", -4, "lex", false),
  rangeCommand("zrevrangebylex", -4, "lex", true),
  define("zrangestore", -5, ["write", "denyoom"], [1, 2, 1], (ctx, args) => range(ctx, args, true)),
  define("zcount", 4, ["readonly", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const scores = scoreRange(args.nextString(), args.nextString())
    return Reply.integer(getSortedSet(ctx, key)?.countScores(scores) ?? 0)
  }),
  define("zlexcount", 4, ["readonly", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const bytes = lexRange(args.nextString(), args.nextString())
    return Reply.integer(getSortedSet(ctx, key)?.countLex(bytes) ?? 0)
  }),
  define("zremrangebyrank", 4, ["write"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const start = Number(args.nextInteger())
    const stop = Number(args.nextInteger())
    const set = getSortedSet(ctx, key)
    const within = set === undefined ? undefined : ranks(start, stop, set.size)
    if (set === undefined || within === undefined) return Reply.zero
    const removed = set.deleteRanks(within[0], within[1])
    dropIfEmpty(ctx, key, set)
    return Reply.integer(removed)
  }),
  define("zremrangebyscore", 4, ["write"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const scores = scoreRange(args.nextString(), args.nextString())
    const set = getSortedSet(ctx, key)
    if (set === undefined) return Reply.zero
    const removed = set.deleteScores(scores)
    dropIfEmpty(ctx, key, set)
    return Reply.integer(removed)
  }),
  define("zremrangebylex", 4, ["write"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const bytes = lexRange(args.nextString(), args.nextString())
    const set = getSortedSet(ctx, key)
    if (set === undefined) return Reply.zero
    const removed = set.deleteLex(bytes)
    dropIfEmpty(ctx, key, set)
    return Reply.integer(removed)
  })
]
