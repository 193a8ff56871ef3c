/**
 * Sorted-set commands (Redis 7.0): here the ones on members — `ZADD` (with
 * `NX`, `XX`, `GT`, `LT`, `CH`, `INCR`), `ZINCRBY`, `ZREM`, `ZCARD`,
 * `ZSCORE`, `ZMSCORE`, `ZRANK`, `ZREVRANK`, `ZRANDMEMBER`, `ZSCAN` — and the
 * pops `ZPOPMIN`, `ZPOPMAX`, `ZMPOP` and their blocking forms `BZPOPMIN`,
 * `BZPOPMAX`, `BZMPOP`; the range commands are in `zsets/ranges.ts`, the
 * algebra (`ZUNION`…) in `zsets/algebra.ts`. Scores are doubles, replied as
 * Redis writes them (`double.ts`).
 *
 * A blocking pop that finds every key empty waits in the keyspace
 * (`command.ts`'s `block`) with a function that pops once a sorted set
 * appears under one of its keys; inside `EXEC` it answers as on timeout.
 *
 * @since 0.1.0
 */
import type { ByteString } from "../bytes.ts"
import { block, type Command, type CommandContext, define } from "../command.ts"
import { emptyScan, parseCursor, scanOptions, scanReply } from "../cursor.ts"
import { formatDouble } from "../double.ts"
import { NotAFloat, rejected } from "../errors.ts"
import { type Arguments, count, integer, parseDouble, syntaxError, timeout } from "../parse.ts"
import * as Reply from "../reply.ts"
import { distinct, position, randomCount, repeated } from "../sample.ts"
import { listpackLimits, SortedSet } from "../values/zset.ts"
import * as Algebra from "./zsets/algebra.ts"
import * as Ranges from "./zsets/ranges.ts"
import { getSortedSet, keyedPairsReply, membersReply, pop } from "./zsets/shared.ts"

const nanScore = "resulting score is not a number (NaN)"

/** `ZADD` and `ZINCRBY` (which is `ZADD … INCR` with one pair, options and all, as in Redis). */
const zadd = (name: string, arity: number, incrementing: boolean) =>
  define(name, arity, ["write", "denyoom", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    let nx = false, xx = false, gt = false, lt = false, ch = false, incr = incrementing
    for (;;) {
      if (args.nextIs("nx")) nx = true
      else if (args.nextIs("xx")) xx = true
      else if (args.nextIs("ch")) ch = true
      else if (args.nextIs("incr")) incr = true
      else if (args.nextIs("gt")) gt = true
      else if (args.nextIs("lt")) lt = true
      else break
    }
    if (args.remaining === 0 || args.remaining % 2 !== 0) syntaxError()
    if (nx && xx) throw rejected("XX and NX options at the same time are not compatible")
    if ((gt || lt) && nx || (gt && lt)) {
      throw rejected("GT, LT, and/or NX options at the same time are not compatible")
    }
    if (incr && args.remaining > 2) throw rejected("INCR option supports a single increment-element pair")
    // Every score is read before anything is added: all or nothing.
    const pairs = args.restPairs().map(([scoreArg, member]) => {
      const score = parseDouble(scoreArg)
      if (score === undefined) throw new NotAFloat()
      return [score, member] as const
    })
    let set = getSortedSet(ctx, key)
    if (set === undefined) {
      if (xx) return incr ? Reply.nullBulk : Reply.zero
      // As Redis: a listpack unless the first member is too long for one.
      set = new SortedSet(pairs[0]![1].length > listpackLimits.value ? "skiplist" : "listpack")
      ctx.keyspace.set(key, set)
    }
    let added = 0
    let updated = 0
    let result: number | undefined
    for (const [given, member] of pairs) {
      const current = set.score(member)
      if (current === undefined) {
        if (xx) continue
        set.set(member, given)
        added++
        result = given
        continue
      }
      if (nx) continue
      const score = incr ? given + current : given
      if (Number.isNaN(score)) throw rejected(nanScore)
      if ((lt && score >= current) || (gt && score <= current)) continue
      result = score
      if (score !== current) {
        set.set(member, score)
        updated++
      }
    }
    if (incr) return result === undefined ? Reply.nullBulk : Reply.bulk(formatDouble(result))
    return Reply.integer(ch ? added + updated : added)
  })

/** `ZRANK`/`ZREVRANK key member`. */
const ranking = (name: string, reverse: boolean) =>
  define(name, 3, ["readonly", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const at = getSortedSet(ctx, key)?.rank(args.nextString(), reverse)
    return at === undefined ? Reply.nullBulk : Reply.integer(at)
  })

/** The pops' flat `[member, score, …]`, after the key for the blocking ones. */
const popReply = (ctx: CommandContext, key: ByteString, set: SortedSet, max: boolean, n: number, keyed: boolean) => {
  const items: Array<ByteString> = keyed ? [key] : []
  for (const { member, score } of pop(ctx, key, set, max, n)) items.push(member, formatDouble(score))
  return Reply.bulkArray(items)
}

/** `ZPOPMIN`/`ZPOPMAX key [count]`. */
const zpop = (name: string, max: boolean) =>
  define(name, -2, ["write", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    if (args.remaining > 1) syntaxError()
    const n = args.hasNext() ? count(args.nextString()) : 1
    const set = getSortedSet(ctx, key)
    if (set === undefined || n === 0) return Reply.emptyArray
    return popReply(ctx, key, set, max, n, false)
  })

/** `ZMPOP`/`BZMPOP`'s `numkeys key… MIN|MAX [COUNT count]`. */
const multiPopArguments = (args: Arguments) => {
  const numkeys = integer(args.nextString(), "numkeys should be greater than 0")
  if (numkeys < 1n) throw rejected("numkeys should be greater than 0")
  if (numkeys >= BigInt(args.remaining)) syntaxError()
  const keys: Array<ByteString> = []
  for (let i = 0n; i < numkeys; i++) keys.push(args.nextString())
  const max = args.nextIs("max")
  if (!max && !args.nextIs("min")) syntaxError()
  let n: bigint | undefined
  while (args.hasNext()) {
    if (n !== undefined || args.remaining < 2 || !args.nextIs("count")) syntaxError()
    n = integer(args.nextString(), "count should be greater than 0")
    if (n < 1n) throw rejected("count should be greater than 0")
  }
  // Past 2^53 a count only means "all of it".
  return { keys, max, count: Number(n ?? 1n) }
}

/** The first of `keys` holding a sorted set (`WrongType` if the first that exists holds another type). */
const firstSet = (ctx: CommandContext, keys: ReadonlyArray<ByteString>) => {
  for (const key of keys) {
    const set = getSortedSet(ctx, key)
    if (set !== undefined) return [key, set] as const
  }
  return undefined
}

/** `BZPOPMIN`/`BZPOPMAX key… timeout`. */
const bzpop = (name: string, max: boolean) =>
  define(name, -3, ["write", "noscript", "fast", "blocking"], [1, -2, 1], (ctx, args) => {
    const wait = timeout(args.lastString(), ctx.keyspace.now())
    const keys = args.rest()
    const found = firstSet(ctx, keys)
    if (found !== undefined) return popReply(ctx, found[0], found[1], max, 1, true)
    return block(ctx, {
      keys,
      timeout: wait,
      timedOut: Reply.nullArray,
      serve: (key) => {
        const set = ctx.keyspace.get(key)
        return set instanceof SortedSet ? popReply(ctx, key, set, max, 1, true) : undefined
      }
    })
  })

/** `ZRANDMEMBER key count [WITHSCORES]` with a count: Redis's four cases, by `sample.ts`. */
const randomMembers = (ctx: CommandContext, set: SortedSet, n: bigint, withScores: boolean): Uint8Array => {
  const size = set.size
  if (n < 0n || n === 1n) {
    const score = (rank: number) => formatDouble(set.at(rank)!.score)
    const bytes = (rank: number) =>
      Reply.bulkBytes(set.at(rank)!.member) + (withScores ? Reply.bulkBytes(score(rank)) : 0)
    const picks = repeated(size, n < 0n ? -n : n, bytes, ctx.settings.protoMaxBulkLen)
    return membersReply(picks.map((rank) => set.at(rank)!), withScores)
  }
  // The whole set, from the highest score down, as Redis walks it.
  if (n >= BigInt(size)) return membersReply(set.rangeByRank(0, size - 1, true), withScores)
  return membersReply(distinct(size, Number(n)).map((rank) => set.at(rank)!), withScores)
}

/** The largest count `WITHSCORES` takes: `LONG_MAX / 2`, so that twice it is a length. */
const halfLongMax = 4611686018427387903n

/**
 * The sorted-set commands.
 *
 * @since 0.1.0
 */
export const commands: ReadonlyArray<Command> = [
  zadd("zadd", -4, false),
  zadd("zincrby", 4, true),
  define("zrem", -3, ["write", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const set = getSortedSet(ctx, key)
    if (set === undefined) return Reply.zero
    let removed = 0
    while (args.hasNext() && set.size > 0) if (set.delete(args.nextString())) removed++
    if (set.size === 0) ctx.keyspace.delete(key)
    return Reply.integer(removed)
  }),
  define("zcard", 2, ["readonly", "fast"], [1, 1, 1], (ctx, args) =>
    Reply.integer(getSortedSet(ctx, args.nextString())?.size ?? 0)),
  define("zscore", 3, ["readonly", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const score = getSortedSet(ctx, key)?.score(args.nextString())
    return score === undefined ? Reply.nullBulk : Reply.bulk(formatDouble(score))
  }),
  define("zmscore", -3, ["readonly", "fast"], [1, 1, 1], (ctx, args) => {
    const set = getSortedSet(ctx, args.nextString())
    return Reply.bulkArray(args.rest().map((member) => {
      const score = set?.score(member)
      return score === undefined ? undefined : formatDouble(score)
    }))
  }),
  ranking("zrank", false),
  ranking("zrevrank", true),
  zpop("zpopmin", false),
  zpop("zpopmax", true),
  define("zmpop", -4, ["write", "movablekeys"], [0, 0, 0], (ctx, args) => {
    const { count: n, keys, max } = multiPopArguments(args)
    const found = firstSet(ctx, keys)
    return found === undefined ? Reply.nullArray : keyedPairsReply(found[0], pop(ctx, found[0], found[1], max, n))
  }),
  bzpop("bzpopmin", false),
  bzpop("bzpopmax", true),
  define("bzmpop", -5, ["write", "blocking", "movablekeys"], [0, 0, 0], (ctx, args) => {
    const timeoutArg = args.nextString()
    const { count: n, keys, max } = multiPopArguments(args)
    const wait = timeout(timeoutArg, ctx.keyspace.now())
    const found = firstSet(ctx, keys)
    if (found !== undefined) return keyedPairsReply(found[0], pop(ctx, found[0], found[1], max, n))
    return block(ctx, {
      keys,
      timeout: wait,
      timedOut: Reply.nullArray,
      serve: (key) => {
        const set = ctx.keyspace.get(key)
        return set instanceof SortedSet ? keyedPairsReply(key, pop(ctx, key, set, max, n)) : undefined
      }
    })
  }),
  define("zrandmember", -2, ["readonly"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    if (!args.hasNext()) {
      const set = getSortedSet(ctx, key)
      return set === undefined ? Reply.nullBulk : Reply.bulk(set.at(position(set.size))!.member)
    }
    const n = randomCount(args.nextString())
    let withScores = false
    if (args.hasNext()) {
      if (args.remaining > 1 || !args.nextIs("withscores")) syntaxError()
      withScores = true
    }
    if (withScores && (n < -halfLongMax || n > halfLongMax)) throw rejected("value is out of range")
    const set = getSortedSet(ctx, key)
    if (set === undefined || n === 0n) return Reply.emptyArray
    return randomMembers(ctx, set, n, withScores)
  }),
  define("zscan", -3, ["readonly"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const cursor = parseCursor(args.nextString())
    const set = getSortedSet(ctx, key)
    // As Redis: a missing key is answered before the options are read.
    if (set === undefined) return emptyScan
    const { count: perCall, match } = scanOptions(args, false)
    // A listpack is scanned whole in one call, in order, as Redis does.
    const page = set.encoding === "listpack"
      ? { cursor: 0, elements: set.rangeByRank(0, set.size - 1, false).map((node) => node.member) }
      : set.scanOrder().scan(cursor, perCall)
    const found: Array<ByteString> = []
    for (const member of page.elements) {
      if (match === undefined || match.matches(member)) found.push(member, formatDouble(set.score(member)!))
    }
    return scanReply(page.cursor, found)
  }),
  ...Ranges.commands,
  ...Algebra.commands
]
