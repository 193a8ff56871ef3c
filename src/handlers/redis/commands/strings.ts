/**
 * String commands: `SET` (with `NX XX GET EX PX EXAT PXAT KEEPTTL`), `SETNX`,
 * `SETEX`, `PSETEX`, `GET`, `GETEX` (with `EX PX EXAT PXAT PERSIST`),
 * `GETDEL`, `GETSET`, `MSET`, `MSETNX`, `MGET`, `APPEND`, `STRLEN`,
 * `SETRANGE`, `GETRANGE` and `SUBSTR`. (Counters: `counters.ts`; bits: `bits.ts`.)
 *
 * @since 0.1.0
 */
import { type ByteString, int64Max, is } from "../bytes.ts"
import { type Command, type CommandContext, define, getString } from "../command.ts"
import { rejected } from "../errors.ts"
import { type Arguments, integer, syntaxError } from "../parse.ts"
import * as Reply from "../reply.ts"

type ExpiryOption = "ex" | "px" | "exat" | "pxat"
const expiryOptions: ReadonlyArray<ExpiryOption> = ["ex", "px", "exat", "pxat"]

/** The options `SET` and `GETEX` share (Redis's `parseExtendedStringArgumentsOrReply`). */
interface StringOptions {
  nx: boolean
  xx: boolean
  get: boolean
  keepTtl: boolean
  persist: boolean
  expiry: { readonly option: ExpiryOption; readonly arg: ByteString } | undefined
}

/**
 * Reads the options after `SET key value` or `GETEX key`: any order, one
 * given again is accepted, two that contradict each other (or one the
 * command does not take) are `ERR syntax error`.
 */
const stringOptions = (args: Arguments, command: "set" | "getex"): StringOptions => {
  const options: StringOptions = { nx: false, xx: false, get: false, keepTtl: false, persist: false, expiry: undefined }
  const set = command === "set"
  while (args.hasNext()) {
    const option = args.nextString()
    const timed = expiryOptions.find((name) => is(option, name))
    const { expiry } = options
    if (set && is(option, "nx") && !options.xx) options.nx = true
    else if (set && is(option, "xx") && !options.nx) options.xx = true
    else if (set && is(option, "get")) options.get = true
    else if (set && is(option, "keepttl") && expiry === undefined) options.keepTtl = true
    else if (!set && is(option, "persist") && expiry === undefined) options.persist = true
    else if (
      timed !== undefined && !options.keepTtl && !options.persist &&
      (expiry === undefined || expiry.option === timed) && args.hasNext()
    ) {
      options.expiry = { option: timed, arg: args.nextString() }
    } else {
      syntaxError()
    }
  }
  return options
}

/**
 * When an expiry option's time falls, in milliseconds since the epoch, with
 * Redis's checks (`getExpireMillisecondsOrReply`): not an integer, not
 * positive, or past a 64-bit millisecond count is refused, naming `command`.
 */
const expiryTime = (
  ctx: CommandContext,
  command: string,
  expiry: { readonly option: ExpiryOption; readonly arg: ByteString }
): number => {
  const invalid = () => rejected(`invalid expire time in '${command}' command`)
  const seconds = expiry.option === "ex" || expiry.option === "exat"
  let millis = integer(expiry.arg)
  if (millis <= 0n || (seconds && millis > int64Max / 1000n)) throw invalid()
  if (seconds) millis *= 1000n
  if (expiry.option === "ex" || expiry.option === "px") millis += BigInt(ctx.keyspace.now())
  if (millis > int64Max) throw invalid()
  return Number(millis)
}

/**
 * Redis's `setGenericCommand`: sets `key` to `value` unless `NX`/`XX` says
 * not to, with the expiry of `options` (read first, as Redis does); answers
 * `ok` when set, `aborted` when not — or, with `GET`, the old value either
 * way.
 */
const setString = (
  ctx: CommandContext,
  command: string,
  key: ByteString,
  value: ByteString,
  options: Readonly<StringOptions>,
  ok: Uint8Array = Reply.ok,
  aborted: Uint8Array = Reply.nullBulk
): Uint8Array => {
  const at = options.expiry === undefined ? undefined : expiryTime(ctx, command, options.expiry)
  const old = options.get ? getString(ctx, key) : undefined
  const exists = ctx.keyspace.get(key) !== undefined
  if ((options.nx && exists) || (options.xx && !exists)) return options.get ? Reply.bulk(old) : aborted
  ctx.keyspace.set(key, value, options.keepTtl)
  if (at !== undefined) ctx.keyspace.expire(key, at)
  return options.get ? Reply.bulk(old) : ok
}

/** No option given: shared, never modified. */
const noOptions: Readonly<StringOptions> = { nx: false, xx: false, get: false, keepTtl: false, persist: false, expiry: undefined }

/** `SETEX`/`PSETEX key time value`. */
const setWithExpiry = (name: string, option: "ex" | "px") =>
  define(name, 4, ["write", "denyoom"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const arg = args.nextString()
    return setString(ctx, name, key, args.nextString(), { ...noOptions, expiry: { option, arg } })
  })

/** `GETEX key [EX|PX|EXAT|PXAT time | PERSIST]`: the value, its TTL changed after. */
const getex = define("getex", -2, ["write", "fast"], [1, 1, 1], (ctx, args) => {
  const key = args.nextString()
  const options = stringOptions(args, "getex")
  const value = getString(ctx, key)
  if (value === undefined) return Reply.nullBulk
  const at = options.expiry === undefined ? undefined : expiryTime(ctx, "getex", options.expiry)
  // A time already past deletes the key (only EXAT and PXAT can give one).
  if (at !== undefined && at <= ctx.keyspace.now()) ctx.keyspace.delete(key)
  else if (at !== undefined) ctx.keyspace.expire(key, at)
  else if (options.persist) ctx.keyspace.persist(key)
  return Reply.bulk(value)
})

/** The string `size` bytes long would pass `proto-max-bulk-len`: Redis's `checkStringLength`. */
const checkLength = (ctx: CommandContext, size: bigint) => {
  if (size > BigInt(ctx.settings.protoMaxBulkLen)) {
    throw rejected("string exceeds maximum allowed size (proto-max-bulk-len)")
  }
}

/** `SETRANGE key offset value`: the string's new length; past its end it is padded with zero bytes. */
const setrange = define("setrange", 4, ["write", "denyoom"], [1, 1, 1], (ctx, args) => {
  const key = args.nextString()
  const offset = args.nextInteger()
  const value = args.nextString()
  if (offset < 0n) throw rejected("offset is out of range")
  const old = getString(ctx, key)
  // Setting nothing changes nothing, and creates no key.
  if (value.length === 0) return Reply.integer(old?.length ?? 0)
  checkLength(ctx, offset + BigInt(value.length))
  const at = Number(offset)
  const current = old ?? ""
  const padded = at > current.length ? current + "\0".repeat(at - current.length) : current.slice(0, at)
  const updated = padded + value + current.slice(at + value.length)
  ctx.keyspace.set(key, updated, true)
  return Reply.integer(updated.length)
})

/** `GETRANGE`/`SUBSTR key start end`: both ends included, negative ones from the end, clamped as Redis does. */
const getrange = (name: string) =>
  define(name, 4, ["readonly"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    let start = args.nextInteger()
    let end = args.nextInteger()
    const value = getString(ctx, key) ?? ""
    const length = BigInt(value.length)
    if (start < 0n && end < 0n && start > end) return Reply.bulk("")
    if (start < 0n) start += length
    if (end < 0n) end += length
    if (start < 0n) start = 0n
    if (end < 0n) end = 0n
    if (end >= length) end = length - 1n
    if (start > end || length === 0n) return Reply.bulk("")
    return Reply.bulk(value.slice(Number(start), Number(end) + 1))
  })

/**
 * The string commands.
 *
 * @since 0.1.0
 */
export const commands: ReadonlyArray<Command> = [
  define("set", -3, ["write", "denyoom"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const value = args.nextString()
    // The hot path: no options, nothing to parse or allocate.
    return setString(ctx, "set", key, value, args.hasNext() ? stringOptions(args, "set") : noOptions)
  }),
  define("setnx", 3, ["write", "denyoom", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    return setString(ctx, "setnx", key, args.nextString(), { ...noOptions, nx: true }, Reply.one, Reply.zero)
  }),
  setWithExpiry("setex", "ex"),
  setWithExpiry("psetex", "px"),
  define("get", 2, ["readonly", "fast"], [1, 1, 1], (ctx, args) => Reply.bulk(getString(ctx, args.nextString()))),
  getex,
  define("getdel", 2, ["write", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const value = getString(ctx, key)
    if (value !== undefined) ctx.keyspace.delete(key)
    return Reply.bulk(value)
  }),
  define("getset", 3, ["write", "denyoom", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const old = getString(ctx, key)
    // As SET: the new value has no TTL.
    ctx.keyspace.set(key, args.nextString())
    return Reply.bulk(old)
  }),
  define("mset", -3, ["write", "denyoom"], [1, -1, 2], (ctx, args) => {
    for (const [key, value] of args.restPairs()) ctx.keyspace.set(key, value)
    return Reply.ok
  }),
  define("msetnx", -3, ["write", "denyoom"], [1, -1, 2], (ctx, args) => {
    const pairs = args.restPairs()
    // All or nothing: one key that exists and none is set.
    if (pairs.some(([key]) => ctx.keyspace.get(key) !== undefined)) return Reply.zero
    for (const [key, value] of pairs) ctx.keyspace.set(key, value)
    return Reply.one
  }),
  define("mget", -2, ["readonly", "fast"], [1, -1, 1], (ctx, args) =>
    Reply.bulkArray(args.rest().map((key) => {
      const value = ctx.keyspace.get(key)
      return typeof value === "string" ? value : undefined
    }))),
  define("append", 3, ["write", "denyoom", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const suffix = args.nextString()
    const old = getString(ctx, key) ?? ""
    // Checked before concatenating: the limit is at most the longest string V8 can build.
    checkLength(ctx, BigInt(old.length + suffix.length))
    const value = old + suffix
    ctx.keyspace.set(key, value, true)
    return Reply.integer(value.length)
  }),
  define("strlen", 2, ["readonly", "fast"], [1, 1, 1], (ctx, args) =>
    Reply.integer(getString(ctx, args.nextString())?.length ?? 0)),
  setrange,
  getrange("getrange"),
  getrange("substr")
]
