/**
 * String commands: `SET` (with `NX XX GET EX PX EXAT PXAT KEEPTTL`), `GET`,
 * `GETDEL`, `SETNX`, `MSET`, `MGET`, `INCR`/`DECR` and their `BY` forms,
 * `APPEND`, `STRLEN`.
 *
 * @since 0.1.0
 */
import { type ByteString, int64Max, int64Min, is } from "../bytes.ts"
import { add, type Command, type CommandContext, define, getString } from "../command.ts"
import { rejected } from "../errors.ts"
import { integer, syntaxError } from "../parse.ts"
import * as Reply from "../reply.ts"

/**
 * The absolute expiry time (ms) for `SET`'s `EX`/`PX` (relative, from now)
 * or `EXAT`/`PXAT` (absolute), with Redis's range checks.
 */
const expiryTime = (ctx: CommandContext, arg: ByteString, unit: "seconds" | "millis", relative: boolean): number => {
  let millis = integer(arg)
  if (millis <= 0n || (unit === "seconds" && millis > int64Max / 1000n)) throw rejected("invalid expire time in 'set' command")
  if (unit === "seconds") millis *= 1000n
  if (relative) millis += BigInt(ctx.keyspace.now())
  if (millis > int64Max) throw rejected("invalid expire time in 'set' command")
  return Number(millis)
}

type ExpiryOption = "ex" | "px" | "exat" | "pxat"

const set = define("set", -3, ["write", "denyoom"], [1, 1, 1], (ctx, args) => {
  const key = args.nextString()
  const value = args.nextString()
  let nx = false
  let xx = false
  let get = false
  let keepTtl = false
  let expiry: { readonly option: ExpiryOption; readonly arg: ByteString } | undefined
  // Redis accepts an option again, but not two that contradict each other.
  // The expiry time is read after every option is known, as Redis does.
  while (args.hasNext()) {
    const option = args.nextString()
    const timeOption = (["ex", "px", "exat", "pxat"] as const).find((name) => is(option, name))
    if (is(option, "nx") && !xx) nx = true
    else if (is(option, "xx") && !nx) xx = true
    else if (is(option, "get")) get = true
    else if (is(option, "keepttl") && expiry === undefined) keepTtl = true
    else if (
      timeOption !== undefined && !keepTtl && (expiry === undefined || expiry.option === timeOption) && args.hasNext()
    ) {
      expiry = { option: timeOption, arg: args.nextString() }
    } else syntaxError()
  }
  const at = expiry === undefined
    ? undefined
    : expiryTime(ctx, expiry.arg, expiry.option.startsWith("e") ? "seconds" : "millis", !expiry.option.endsWith("at"))
  const old = get ? getString(ctx, key) : undefined
  const exists = ctx.keyspace.get(key) !== undefined
  if ((nx && exists) || (xx && !exists)) return get ? Reply.bulk(old) : Reply.nullBulk
  ctx.keyspace.set(key, value, keepTtl)
  if (at !== undefined) ctx.keyspace.expire(key, at)
  return get ? Reply.bulk(old) : Reply.ok
})

const incrementBy = (ctx: CommandContext, key: ByteString, by: bigint): Uint8Array => {
  const current = getString(ctx, key)
  const value = add(current === undefined ? 0n : integer(current), by)
  // An update in place keeps the key's TTL.
  ctx.keyspace.set(key, value.toString(), true)
  return Reply.integer(value)
}

/**
 * The string commands.
 *
 * @since 0.1.0
 */
export const commands: ReadonlyArray<Command> = [
  set,
  define("get", 2, ["readonly", "fast"], [1, 1, 1], (ctx, args) => Reply.bulk(getString(ctx, args.nextString()))),
  define("getdel", 2, ["write", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const value = getString(ctx, key)
    if (value !== undefined) ctx.keyspace.delete(key)
    return Reply.bulk(value)
  }),
  define("setnx", 3, ["write", "denyoom", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    if (ctx.keyspace.get(key) !== undefined) return Reply.zero
    ctx.keyspace.set(key, args.nextString())
    return Reply.one
  }),
  define("mset", -3, ["write", "denyoom"], [1, -1, 2], (ctx, args) => {
    for (const [key, value] of args.restPairs()) ctx.keyspace.set(key, value)
    return Reply.ok
  }),
  define("mget", -2, ["readonly", "fast"], [1, -1, 1], (ctx, args) =>
    Reply.bulkArray(args.rest().map((key) => {
      const value = ctx.keyspace.get(key)
      return typeof value === "string" ? value : undefined
    }))),
  define("incr", 2, ["write", "denyoom", "fast"], [1, 1, 1], (ctx, args) => incrementBy(ctx, args.nextString(), 1n)),
  define("decr", 2, ["write", "denyoom", "fast"], [1, 1, 1], (ctx, args) => incrementBy(ctx, args.nextString(), -1n)),
  define("incrby", 3, ["write", "denyoom", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    return incrementBy(ctx, key, args.nextInteger())
  }),
  define("decrby", 3, ["write", "denyoom", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const by = args.nextInteger()
    if (by === int64Min) throw rejected("decrement would overflow")
    return incrementBy(ctx, key, -by)
  }),
  define("append", 3, ["write", "denyoom", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const suffix = args.nextString()
    const old = getString(ctx, key) ?? ""
    // Checked before concatenating: the limit is at most the longest string V8 can build.
    if (old.length + suffix.length > ctx.settings.protoMaxBulkLen) {
      throw rejected("string exceeds maximum allowed size (proto-max-bulk-len)")
    }
    const value = old + suffix
    ctx.keyspace.set(key, value, true)
    return Reply.integer(value.length)
  }),
  define("strlen", 2, ["readonly", "fast"], [1, 1, 1], (ctx, args) =>
    Reply.integer(getString(ctx, args.nextString())?.length ?? 0))
]
