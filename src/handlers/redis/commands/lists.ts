/**
 * List commands, as Redis 7.0 has them: pushes (`LPUSH`, `RPUSH`, `LPUSHX`,
 * `RPUSHX`, `LINSERT`), pops with counts (`LPOP`, `RPOP`, `LMPOP`), moves
 * (`LMOVE`, `RPOPLPUSH`), reads (`LLEN`, `LRANGE`, `LINDEX`, `LPOS`),
 * edits in place (`LSET`, `LTRIM`, `LREM`), and the blocking `BLPOP`,
 * `BRPOP`, `BLMPOP`, `BLMOVE` and `BRPOPLPUSH`.
 *
 * A blocking command that finds every list empty waits in the keyspace
 * (`command.ts`'s `block`) with a function that does, when a list appears,
 * what the command would have done had it been there: a pop, or a pop and a
 * push for a move, whose destination's type is checked again then. A
 * command that empties a list deletes its key, as Redis does. (Past 300
 * lines because the blocking forms share their pops and moves with the
 * others: one module keeps both sides of each command in step.)
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import { type ByteString, is } from "../bytes.ts"
import { block, type Command, type CommandContext, type CommandResult, define, getList } from "../command.ts"
import { rejected } from "../errors.ts"
import { type Arguments, count, integer, syntaxError, timeout } from "../parse.ts"
import * as Reply from "../reply.ts"
import { List, type Side } from "../values.ts"

/** `LEFT` or `RIGHT`, any case; anything else is a syntax error. */
const sideOf = (arg: ByteString): Side => is(arg, "left") ? "left" : is(arg, "right") ? "right" : syntaxError()

/** A whole number in 1..2^63-1 (`numkeys`, `COUNT` of LMPOP), else `ERR message`. */
const positive = (arg: ByteString, message: string): number => {
  const value = integer(arg, message)
  if (value < 1n) throw rejected(message)
  return Number(value)
}

/** A whole number in 0..2^63-1 (`COUNT`, `MAXLEN` of LPOS), else `ERR message`. */
const nonNegative = (arg: ByteString, message: string): number => {
  const value = integer(arg, message)
  if (value < 0n) throw rejected(message)
  return Number(value)
}

/**
 * `start` and `stop` (negative: from the end) clamped to a list of
 * `length`, as `LRANGE` and `LTRIM` read them; `undefined` for an empty range.
 */
const range = (length: number, start: number, stop: number): readonly [number, number] | undefined => {
  if (start < 0) start = Math.max(0, length + start)
  if (stop < 0) stop = length + stop
  if (start > stop || start >= length) return undefined
  return [start, Math.min(stop, length - 1)]
}

/** Removes up to `n` elements from one end; deletes the key when the list empties. */
const take = (ctx: CommandContext, key: ByteString, list: List, side: Side, n: number): Array<ByteString> => {
  const taken: Array<ByteString> = []
  while (taken.length < n && list.length > 0) taken.push(list.pop(side)!)
  if (list.length === 0) ctx.keyspace.delete(key)
  return taken
}

/**
 * Pops from `list` at `key` the way a (blocking) pop replies: `[key,
 * element]` without a count (`BLPOP`), `[key, [elements…]]` with one (`LMPOP`).
 */
const popReply = (ctx: CommandContext, key: ByteString, list: List, side: Side, n: number | undefined): Uint8Array =>
  n === undefined
    ? Reply.bulkArray([key, take(ctx, key, list, side, 1)[0]])
    : Reply.array([Reply.bulk(key), Reply.bulkArray(take(ctx, key, list, side, n))])

/**
 * Moves an element from the end `from` of `list` (at `source`, not empty) to
 * the end `to` of the list at `destination`, creating it; its reply is the
 * element. A destination of another type throws `WrongType` before anything
 * changes. The same key for both rotates the list.
 */
const move = (
  ctx: CommandContext,
  source: ByteString,
  list: List,
  destination: ByteString,
  from: Side,
  to: Side
): Uint8Array => {
  let target = getList(ctx, destination)
  const element = list.pop(from)!
  if (target === undefined) {
    target = new List()
    ctx.keyspace.set(destination, target)
  }
  target.push(to, element)
  if (list.length === 0) ctx.keyspace.delete(source)
  return Reply.bulk(element)
}

/**
 * `BLPOP`, `BRPOP` (`n` undefined) and `BLMPOP`: pops from the first of
 * `keys` that holds a list (a key of another type before it fails), else
 * blocks until one gets a list.
 */
const popOrBlock = (
  ctx: CommandContext,
  keys: ReadonlyArray<ByteString>,
  side: Side,
  n: number | undefined,
  wait: Duration.Duration | undefined
): CommandResult => {
  for (const key of keys) {
    const list = getList(ctx, key)
    if (list !== undefined) return popReply(ctx, key, list, side, n)
  }
  return block(ctx, {
    keys,
    timeout: wait,
    timedOut: Reply.nullArray,
    serve: (key) => {
      const filled = ctx.keyspace.get(key)
      return filled instanceof List ? popReply(ctx, key, filled, side, n) : undefined
    }
  })
}

/** `BLMOVE` and `BRPOPLPUSH`: moves at once if `source` holds a list, else blocks on it. */
const moveOrBlock = (
  ctx: CommandContext,
  source: ByteString,
  destination: ByteString,
  from: Side,
  to: Side,
  wait: Duration.Duration | undefined
): CommandResult => {
  const list = getList(ctx, source)
  if (list !== undefined) return move(ctx, source, list, destination, from, to)
  return block(ctx, {
    keys: [source],
    timeout: wait,
    timedOut: Reply.nullArray,
    denied: Reply.nullBulk,
    serve: (key) => {
      const filled = ctx.keyspace.get(key)
      return filled instanceof List ? move(ctx, key, filled, destination, from, to) : undefined
    }
  })
}

/** `numkeys key… LEFT|RIGHT [COUNT count]`, as `LMPOP` and `BLMPOP` take them, checked in Redis's order. */
const mpopArguments = (args: Arguments) => {
  const numkeys = positive(args.nextString(), "numkeys should be greater than 0")
  if (numkeys >= args.remaining) syntaxError()
  const keys: Array<ByteString> = []
  for (let i = 0; i < numkeys; i++) keys.push(args.nextString())
  const side = sideOf(args.nextString())
  let n: number | undefined
  while (args.hasNext()) {
    if (n === undefined && args.remaining >= 2 && args.nextIs("count")) {
      n = positive(args.nextString(), "count should be greater than 0")
    } else {
      syntaxError()
    }
  }
  return { keys, side, n: n ?? 1 }
}

const push = (name: string, side: Side, onlyIfExists: boolean) =>
  define(name, -3, ["write", "denyoom", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    let list = getList(ctx, key)
    if (list === undefined) {
      if (onlyIfExists) return Reply.zero
      list = new List()
      ctx.keyspace.set(key, list)
    }
    while (args.hasNext()) list.push(side, args.nextString())
    return Reply.integer(list.length)
  })

const pop = (name: string, side: Side) =>
  define(name, -2, ["write", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const countArg = args.hasNext() ? args.nextString() : undefined
    args.finishArity()
    const n = countArg === undefined ? undefined : count(countArg)
    const list = getList(ctx, key)
    if (list === undefined) return n === undefined ? Reply.nullBulk : Reply.nullArray
    if (n === undefined) return Reply.bulk(take(ctx, key, list, side, 1)[0])
    return Reply.bulkArray(take(ctx, key, list, side, n))
  })

const blockingPop = (name: string, side: Side) =>
  define(name, -3, ["write", "noscript", "blocking"], [1, -2, 1], (ctx, args) => {
    const wait = timeout(args.lastString(), ctx.keyspace.now())
    return popOrBlock(ctx, args.rest(), side, undefined, wait)
  })

const lpos = define("lpos", -3, ["readonly"], [1, 1, 1], (ctx, args) => {
  const key = args.nextString()
  const element = args.nextString()
  let rank = 1
  let matchesWanted: number | undefined
  let maxlen = 0
  while (args.hasNext()) {
    if (args.remaining >= 2 && args.nextIs("rank")) {
      rank = Number(args.nextInteger())
      if (rank === 0) {
        throw rejected(
          "RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"
        )
      }
    } else if (args.remaining >= 2 && args.nextIs("count")) {
      matchesWanted = nonNegative(args.nextString(), "COUNT can't be negative")
    } else if (args.remaining >= 2 && args.nextIs("maxlen")) {
      maxlen = nonNegative(args.nextString(), "MAXLEN can't be negative")
    } else {
      syntaxError()
    }
  }
  const list = getList(ctx, key)
  if (list === undefined) return matchesWanted === undefined ? Reply.nullBulk : Reply.emptyArray
  // A negative rank counts matches from the tail; positions are always from the head.
  const length = list.length
  // MAXLEN 0 scans the whole list.
  const scan = maxlen === 0 ? length : Math.min(maxlen, length)
  const skip = Math.abs(rank)
  const found: Array<Uint8Array> = []
  let matches = 0
  for (let scanned = 0; scanned < scan; scanned++) {
    const index = rank > 0 ? scanned : length - 1 - scanned
    if (list.at(index) !== element || ++matches < skip) continue
    if (matchesWanted === undefined) return Reply.integer(index)
    found.push(Reply.integer(index))
    if (matchesWanted !== 0 && found.length >= matchesWanted) break
  }
  return matchesWanted === undefined ? Reply.nullBulk : Reply.array(found)
})

/**
 * The list commands.
 *
 * @since 0.1.0
 */
export const commands: ReadonlyArray<Command> = [
  push("lpush", "left", false),
  push("rpush", "right", false),
  push("lpushx", "left", true),
  push("rpushx", "right", true),
  pop("lpop", "left"),
  pop("rpop", "right"),
  blockingPop("blpop", "left"),
  blockingPop("brpop", "right"),
  define("lmpop", -4, ["write", "movablekeys"], [0, 0, 0], (ctx, args) => {
    const { keys, n, side } = mpopArguments(args)
    for (const key of keys) {
      const list = getList(ctx, key)
      if (list !== undefined) return popReply(ctx, key, list, side, n)
    }
    return Reply.nullArray
  }),
  define("blmpop", -5, ["write", "blocking", "movablekeys"], [0, 0, 0], (ctx, args) => {
    const timeoutArg = args.nextString()
    const { keys, n, side } = mpopArguments(args)
    return popOrBlock(ctx, keys, side, n, timeout(timeoutArg, ctx.keyspace.now()))
  }),
  define("lmove", 5, ["write", "denyoom"], [1, 2, 1], (ctx, args) => {
    const source = args.nextString()
    const destination = args.nextString()
    const from = sideOf(args.nextString())
    const to = sideOf(args.nextString())
    const list = getList(ctx, source)
    return list === undefined ? Reply.nullBulk : move(ctx, source, list, destination, from, to)
  }),
  define("rpoplpush", 3, ["write", "denyoom"], [1, 2, 1], (ctx, args) => {
    const source = args.nextString()
    const destination = args.nextString()
    const list = getList(ctx, source)
    return list === undefined ? Reply.nullBulk : move(ctx, source, list, destination, "right", "left")
  }),
  define("blmove", 6, ["write", "denyoom", "noscript", "blocking"], [1, 2, 1], (ctx, args) => {
    const source = args.nextString()
    const destination = args.nextString()
    const from = sideOf(args.nextString())
    const to = sideOf(args.nextString())
    return moveOrBlock(ctx, source, destination, from, to, timeout(args.nextString(), ctx.keyspace.now()))
  }),
  define("brpoplpush", 4, ["write", "denyoom", "noscript", "blocking"], [1, 2, 1], (ctx, args) => {
    const source = args.nextString()
    const destination = args.nextString()
    return moveOrBlock(ctx, source, destination, "right", "left", timeout(args.nextString(), ctx.keyspace.now()))
  }),
  define("llen", 2, ["readonly", "fast"], [1, 1, 1], (ctx, args) =>
    Reply.integer(getList(ctx, args.nextString())?.length ?? 0)),
  define("lrange", 4, ["readonly"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    // Indices are `long`s: beyond ±2^53 precision no longer matters for clamping.
    const start = Number(args.nextInteger())
    const stop = Number(args.nextInteger())
    const list = getList(ctx, key)
    const bounds = list === undefined ? undefined : range(list.length, start, stop)
    return bounds === undefined ? Reply.emptyArray : Reply.bulkArray(list!.slice(bounds[0], bounds[1]))
  }),
  define("lindex", 3, ["readonly"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const indexArg = args.nextString()
    // A missing key answers null before the index is read, as Redis.
    const list = getList(ctx, key)
    if (list === undefined) return Reply.nullBulk
    const at = Number(integer(indexArg))
    const position = at < 0 ? list.length + at : at
    return position >= 0 && position < list.length ? Reply.bulk(list.at(position)) : Reply.nullBulk
  }),
  define("lset", 4, ["write", "denyoom"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const indexArg = args.nextString()
    const element = args.nextString()
    const list = getList(ctx, key)
    if (list === undefined) throw rejected("no such key")
    const at = Number(integer(indexArg))
    const position = at < 0 ? list.length + at : at
    if (position < 0 || position >= list.length) throw rejected("index out of range")
    list.set(position, element)
    return Reply.ok
  }),
  define("ltrim", 4, ["write"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const start = Number(args.nextInteger())
    const stop = Number(args.nextInteger())
    const list = getList(ctx, key)
    if (list === undefined) return Reply.ok
    const bounds = range(list.length, start, stop)
    if (bounds === undefined) ctx.keyspace.delete(key)
    else list.trim(bounds[0], bounds[1])
    return Reply.ok
  }),
  define("linsert", 5, ["write", "denyoom"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const where = args.nextString()
    const after = is(where, "after")
    if (!after && !is(where, "before")) syntaxError()
    const pivot = args.nextString()
    const element = args.nextString()
    const list = getList(ctx, key)
    if (list === undefined) return Reply.zero
    for (let i = 0; i < list.length; i++) {
      if (list.at(i) !== pivot) continue
      list.insert(after ? i + 1 : i, element)
      return Reply.integer(list.length)
    }
    return Reply.integer(-1)
  }),
  define("lrem", 4, ["write"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const n = Number(args.nextInteger())
    const element = args.nextString()
    const list = getList(ctx, key)
    if (list === undefined) return Reply.zero
    const removed = list.remove(element, Math.abs(n), n < 0)
    if (list.length === 0) ctx.keyspace.delete(key)
    return Reply.integer(removed)
  }),
  lpos
]
