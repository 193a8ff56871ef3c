/**
 * Hash commands: `HSET`, `HMSET`, `HSETNX`, `HGET`, `HMGET`, `HDEL`, `HLEN`,
 * `HSTRLEN`, `HEXISTS`, `HKEYS`, `HVALS`, `HGETALL`, `HINCRBY`,
 * `HINCRBYFLOAT` (in `long double`, as Redis: `longDouble.ts`),
 * `HRANDFIELD` (with a count and `WITHVALUES`) and `HSCAN`
 * (`scanPositions.ts`).
 *
 * @since 0.1.0
 */
import type { ByteString } from "../bytes.ts"
import { add, type Command, type CommandContext, define, getHash } from "../command.ts"
import { emptyScan, parseCursor, scanOptions, scanReply } from "../cursor.ts"
import { NotAFloat, rejected } from "../errors.ts"
import * as LongDouble from "../longDouble.ts"
import { parseInteger } from "../parse.ts"
import * as Reply from "../reply.ts"
import { distinct, position, randomCount, repeated } from "../sample.ts"
import { scanPositions } from "../scanPositions.ts"
import { Hash } from "../values.ts"

/** The hash at `key`, created (empty, in the keyspace) if there is none; throws `WrongType` for another type. */
const hashFor = (ctx: CommandContext, key: ByteString): Hash => {
  let hash = getHash(ctx, key)
  if (hash === undefined) {
    hash = new Hash()
    ctx.keyspace.set(key, hash)
  }
  return hash
}

/** `HSET`/`HMSET key field value…`: the number of fields added, or `+OK` for `HMSET`. */
const hset = (name: "hset" | "hmset") =>
  define(name, -4, ["write", "denyoom", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const pairs = args.restPairs()
    const hash = hashFor(ctx, key)
    let added = 0
    for (const [field, value] of pairs) if (hash.set(field, value)) added++
    return name === "hset" ? Reply.integer(added) : Reply.ok
  })

/** `HKEYS`, `HVALS`, `HGETALL`: what each field gives, in the hash's order. */
const listing = (name: string, of: (hash: Hash) => ReadonlyArray<ByteString>) =>
  define(name, 2, ["readonly"], [1, 1, 1], (ctx, args) => {
    const hash = getHash(ctx, args.nextString())
    return hash === undefined ? Reply.emptyArray : Reply.bulkArray(of(hash))
  })

/** What a missing field counts as in `HINCRBYFLOAT`. */
const zero: LongDouble.LongDouble = { negative: false, significand: 0n, exponent: 0 }

/**
 * Redis's bounds for `HRANDFIELD key count WITHVALUES`: half of `LONG_MAX`
 * either way, so that the reply's length (two per field) is a `long`.
 */
const withValuesMax = 4611686018427387903n

/** The reply for `HRANDFIELD key count [WITHVALUES]`, `count` not 0. */
const randomFields = (ctx: CommandContext, hash: Hash, n: bigint, withValues: boolean): Uint8Array => {
  const picks = n > 0n
    ? distinct(hash.size, Number(n))
    : repeated(
      hash.size,
      -n,
      (at) => Reply.bulkBytes(hash.fieldAt(at)) + (withValues ? Reply.bulkBytes(hash.valueAt(at)) : 0),
      ctx.settings.protoMaxBulkLen
    )
  const out: Array<ByteString> = []
  for (const at of picks) {
    out.push(hash.fieldAt(at))
    if (withValues) out.push(hash.valueAt(at))
  }
  return Reply.bulkArray(out)
}

/**
 * The hash commands.
 *
 * @since 0.1.0
 */
export const commands: ReadonlyArray<Command> = [
  hset("hset"),
  hset("hmset"),
  define("hsetnx", 4, ["write", "denyoom", "fast"], [1, 1, 1], (ctx, args) => {
    const hash = hashFor(ctx, args.nextString())
    const field = args.nextString()
    if (hash.has(field)) return Reply.zero
    hash.set(field, args.nextString())
    return Reply.one
  }),
  define("hget", 3, ["readonly", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    return Reply.bulk(getHash(ctx, key)?.get(args.nextString()))
  }),
  define("hmget", -3, ["readonly", "fast"], [1, 1, 1], (ctx, args) => {
    const hash = getHash(ctx, args.nextString())
    return Reply.bulkArray(args.rest().map((field) => hash?.get(field)))
  }),
  define("hdel", -3, ["write", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const hash = getHash(ctx, key)
    if (hash === undefined) return Reply.zero
    let deleted = 0
    for (const field of args.rest()) if (hash.delete(field)) deleted++
    if (hash.size === 0) ctx.keyspace.delete(key)
    return Reply.integer(deleted)
  }),
  define("hlen", 2, ["readonly", "fast"], [1, 1, 1], (ctx, args) =>
    Reply.integer(getHash(ctx, args.nextString())?.size ?? 0)),
  define("hstrlen", 3, ["readonly", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    return Reply.integer(getHash(ctx, key)?.get(args.nextString())?.length ?? 0)
  }),
  define("hexists", 3, ["readonly", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    return getHash(ctx, key)?.has(args.nextString()) === true ? Reply.one : Reply.zero
  }),
  listing("hkeys", (hash) => hash.fieldsView()),
  listing("hvals", (hash) => hash.valuesView()),
  listing("hgetall", (hash) => hash.flat()),
  define("hincrby", 4, ["write", "denyoom", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const field = args.nextString()
    const by = args.nextInteger()
    const hash = hashFor(ctx, key)
    const current = hash.get(field)
    const value = current === undefined ? 0n : parseInteger(current)
    if (value === undefined) throw rejected("hash value is not an integer")
    const result = add(value, by)
    hash.set(field, result.toString())
    return Reply.integer(result)
  }),
  define("hincrbyfloat", 4, ["write", "denyoom", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const field = args.nextString()
    const by = LongDouble.parse(args.nextString())
    if (by === undefined) throw new NotAFloat()
    if (by === "inf" || by === "-inf") throw rejected("value is NaN or Infinity")
    const hash = hashFor(ctx, key)
    const current = hash.get(field)
    const value = current === undefined ? zero : LongDouble.parse(current)
    if (value === undefined) throw rejected("hash value is not a float")
    const sum = typeof value === "string" ? undefined : LongDouble.add(value, by)
    if (sum === undefined) throw rejected("increment would produce NaN or Infinity")
    const text = LongDouble.format(sum)
    hash.set(field, text)
    return Reply.bulk(text)
  }),
  define("hrandfield", -2, ["readonly"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    if (!args.hasNext()) {
      const hash = getHash(ctx, key)
      return hash === undefined ? Reply.nullBulk : Reply.bulk(hash.fieldAt(position(hash.size)))
    }
    // As Redis: the count is read before the options are checked.
    const n = randomCount(args.nextString())
    const withValues = args.nextIs("withvalues")
    args.finish()
    if (withValues && (n < -withValuesMax || n > withValuesMax)) throw rejected("value is out of range")
    const hash = getHash(ctx, key)
    return hash === undefined || n === 0n ? Reply.emptyArray : randomFields(ctx, hash, n, withValues)
  }),
  define("hscan", -3, ["readonly"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const cursor = parseCursor(args.nextString())
    const hash = getHash(ctx, key)
    // As Redis: a missing key is answered before the options are read.
    if (hash === undefined) return emptyScan
    const { count: perCall, match } = scanOptions(args, false)
    const page = scanPositions(hash.size, cursor, perCall)
    const found: Array<ByteString> = []
    for (let at = page.from; at < page.to; at++) {
      const field = hash.fieldAt(at)
      if (match === undefined || match.matches(field)) found.push(field, hash.valueAt(at))
    }
    return scanReply(page.cursor, found)
  })
]
