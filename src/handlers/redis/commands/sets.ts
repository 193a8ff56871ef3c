/**
 * Set commands: `SADD`, `SREM`, `SMEMBERS`, `SISMEMBER`, `SMISMEMBER`,
 * `SCARD`, `SMOVE`, `SPOP` and `SRANDMEMBER` (with a count), `SSCAN`
 * (`scanPositions.ts`), and the algebra — `SINTER`, `SINTERCARD`, `SUNION`,
 * `SDIFF` and the `STORE` forms, which replace the destination whatever it
 * held, or delete it for an empty result.
 *
 * Order: Redis's is its hash table's (sorted, for sets of integers small
 * enough to be intsets), which no client can rely on. Here an intersection
 * comes in the order of the smallest set, as Redis walks it; a difference in
 * the first set's; a union set by set.
 *
 * @since 0.1.0
 */
import type { ByteString } from "../bytes.ts"
import { type Command, type CommandContext, define, getSet } from "../command.ts"
import { emptyScan, parseCursor, scanOptions, scanReply } from "../cursor.ts"
import { rejected } from "../errors.ts"
import { count, integer, syntaxError } from "../parse.ts"
import * as Reply from "../reply.ts"
import { distinct, position, randomCount, repeated } from "../sample.ts"
import { scanPositions } from "../scanPositions.ts"
import { MemberSet } from "../values.ts"

/** The sets at `keys`, `undefined` for a missing key; every key's type is checked first, as Redis does. */
const setsAt = (ctx: CommandContext, keys: ReadonlyArray<ByteString>): Array<MemberSet | undefined> =>
  keys.map((key) => getSet(ctx, key))

/**
 * The members of every set at `keys`, smallest set first and in its order,
 * stopping once `limit` are found (0: no limit).
 */
const intersection = (ctx: CommandContext, keys: ReadonlyArray<ByteString>, limit = 0): Array<ByteString> => {
  const sets = setsAt(ctx, keys)
  if (sets.includes(undefined)) return []
  const [smallest, ...others] = (sets as Array<MemberSet>).toSorted((a, b) => a.size - b.size)
  const found: Array<ByteString> = []
  for (const member of smallest!.view()) {
    if (others.every((set) => set === smallest || set.has(member))) {
      found.push(member)
      if (found.length === limit) break
    }
  }
  return found
}

/** The members of the sets at `keys`, each once: set by set, each in its order. */
const union = (ctx: CommandContext, keys: ReadonlyArray<ByteString>): MemberSet => {
  const result = new MemberSet()
  for (const set of setsAt(ctx, keys)) for (const member of set?.view() ?? []) result.add(member)
  return result
}

/** The members of the first set at `keys` in none of the others, in its order. */
const difference = (ctx: CommandContext, keys: ReadonlyArray<ByteString>): Array<ByteString> => {
  const [first, ...others] = setsAt(ctx, keys)
  if (first === undefined) return []
  return first.view().filter((member) => !others.some((set) => set?.has(member) === true))
}

/**
 * `…STORE destination key…`: the result replaces `destination` (its TTL
 * too), or deletes it when empty; the reply is the result's size.
 */
const store = (
  name: string,
  compute: (ctx: CommandContext, keys: ReadonlyArray<ByteString>) => ReadonlyArray<ByteString> | MemberSet
) =>
  define(name, -3, ["write", "denyoom"], [1, -1, 1], (ctx, args) => {
    const destination = args.nextString()
    const computed = compute(ctx, args.rest())
    let result: MemberSet
    if (computed instanceof MemberSet) {
      result = computed
    } else {
      result = new MemberSet()
      for (const member of computed) result.add(member)
    }
    if (result.size === 0) ctx.keyspace.delete(destination)
    else ctx.keyspace.set(destination, result)
    return Reply.integer(result.size)
  })

/** The reply for `SRANDMEMBER key count`. */
const randomMembers = (ctx: CommandContext, set: MemberSet, n: bigint): Uint8Array => {
  if (n >= 0n) return Reply.bulkArray(distinct(set.size, Number(n)).map((at) => set.at(at)))
  const picks = repeated(set.size, -n, (at) => Reply.bulkBytes(set.at(at)), ctx.settings.protoMaxBulkLen)
  return Reply.bulkArray(picks.map((at) => set.at(at)))
}

/**
 * The set commands.
 *
 * @since 0.1.0
 */
export const commands: ReadonlyArray<Command> = [
  define("sadd", -3, ["write", "denyoom", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    let set = getSet(ctx, key)
    if (set === undefined) {
      set = new MemberSet()
      ctx.keyspace.set(key, set)
    }
    let added = 0
    for (const member of args.rest()) if (set.add(member)) added++
    return Reply.integer(added)
  }),
  define("srem", -3, ["write", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const set = getSet(ctx, key)
    if (set === undefined) return Reply.zero
    let removed = 0
    for (const member of args.rest()) if (set.delete(member)) removed++
    if (set.size === 0) ctx.keyspace.delete(key)
    return Reply.integer(removed)
  }),
  define("smembers", 2, ["readonly"], [1, 1, 1], (ctx, args) =>
    Reply.bulkArray(getSet(ctx, args.nextString())?.view() ?? [])),
  define("sismember", 3, ["readonly", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    return getSet(ctx, key)?.has(args.nextString()) === true ? Reply.one : Reply.zero
  }),
  define("smismember", -3, ["readonly", "fast"], [1, 1, 1], (ctx, args) => {
    const set = getSet(ctx, args.nextString())
    return Reply.array(args.rest().map((member) => set?.has(member) === true ? Reply.one : Reply.zero))
  }),
  define("scard", 2, ["readonly", "fast"], [1, 1, 1], (ctx, args) =>
    Reply.integer(getSet(ctx, args.nextString())?.size ?? 0)),
  define("smove", 4, ["write", "fast"], [1, 2, 1], (ctx, args) => {
    const sourceKey = args.nextString()
    const destinationKey = args.nextString()
    const member = args.nextString()
    // A missing source answers 0 before any type is checked.
    if (ctx.keyspace.get(sourceKey) === undefined) return Reply.zero
    const source = getSet(ctx, sourceKey)!
    let destination = getSet(ctx, destinationKey)
    if (source === destination) return source.has(member) ? Reply.one : Reply.zero
    if (!source.delete(member)) return Reply.zero
    if (source.size === 0) ctx.keyspace.delete(sourceKey)
    if (destination === undefined) {
      destination = new MemberSet()
      ctx.keyspace.set(destinationKey, destination)
    }
    destination.add(member)
    return Reply.one
  }),
  define("spop", -2, ["write", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const countArg = args.hasNext() ? args.nextString() : undefined
    args.finish()
    const n = countArg === undefined ? undefined : count(countArg)
    const set = getSet(ctx, key)
    if (set === undefined) return n === undefined ? Reply.nullBulk : Reply.emptyArray
    const popped: Array<ByteString> = []
    while (popped.length < (n ?? 1) && set.size > 0) popped.push(set.popRandom(Math.random())!)
    if (set.size === 0) ctx.keyspace.delete(key)
    return n === undefined ? Reply.bulk(popped[0]) : Reply.bulkArray(popped)
  }),
  define("srandmember", -2, ["readonly"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const countArg = args.hasNext() ? args.nextString() : undefined
    args.finish()
    const n = countArg === undefined ? undefined : randomCount(countArg)
    const set = getSet(ctx, key)
    if (n !== undefined) return set === undefined || n === 0n ? Reply.emptyArray : randomMembers(ctx, set, n)
    return set === undefined ? Reply.nullBulk : Reply.bulk(set.at(position(set.size)))
  }),
  define("sinter", -2, ["readonly"], [1, -1, 1], (ctx, args) => Reply.bulkArray(intersection(ctx, args.rest()))),
  define("sintercard", -3, ["readonly", "movablekeys"], [0, 0, 0], (ctx, args) => {
    const numkeys = integer(args.nextString(), "numkeys should be greater than 0")
    if (numkeys < 1n) throw rejected("numkeys should be greater than 0")
    if (numkeys > BigInt(args.remaining)) throw rejected("Number of keys can't be greater than number of args")
    const keys: Array<ByteString> = []
    for (let i = 0n; i < numkeys; i++) keys.push(args.nextString())
    let limit = 0n
    while (args.hasNext()) {
      if (!args.nextIs("limit") || !args.hasNext()) syntaxError()
      limit = integer(args.nextString(), "LIMIT can't be negative")
      if (limit < 0n) throw rejected("LIMIT can't be negative")
    }
    return Reply.integer(intersection(ctx, keys, Number(limit)).length)
  }),
  store("sinterstore", intersection),
  define("sunion", -2, ["readonly"], [1, -1, 1], (ctx, args) => Reply.bulkArray(union(ctx, args.rest()).view())),
  store("sunionstore", union),
  define("sdiff", -2, ["readonly"], [1, -1, 1], (ctx, args) => Reply.bulkArray(difference(ctx, args.rest()))),
  store("sdiffstore", difference),
  define("sscan", -3, ["readonly"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const cursor = parseCursor(args.nextString())
    const set = getSet(ctx, key)
    // As Redis: a missing key is answered before the options are read.
    if (set === undefined) return emptyScan
    const { count: perCall, match } = scanOptions(args, false)
    const page = scanPositions(set.size, cursor, perCall)
    const found: Array<ByteString> = []
    for (let at = page.from; at < page.to; at++) {
      const member = set.at(at)
      if (match === undefined || match.matches(member)) found.push(member)
    }
    return scanReply(page.cursor, found)
  })
]
