/**
 * Commands on a key's time to live: `EXPIRE`, `PEXPIRE`, `EXPIREAT`,
 * `PEXPIREAT` (with `NX XX GT LT`), `TTL`, `PTTL`, `EXPIRETIME`,
 * `PEXPIRETIME`, `PERSIST`.
 *
 * Expiry times are kept as milliseconds in a double: exact up to 2^53 ms
 * (285 000 years); a `PEXPIREAT` past that keeps the nearest double.
 *
 * @since 0.1.0
 */
import { int64Max, int64Min, is } from "../bytes.ts"
import { type Command, type CommandContext, define } from "../command.ts"
import { rejected } from "../errors.ts"
import { integer } from "../parse.ts"
import * as Reply from "../reply.ts"

/**
 * `EXPIRE`, `PEXPIRE`, `EXPIREAT`, `PEXPIREAT key time [NX|XX|GT|LT]`, as
 * Redis's `expireGenericCommand`: a time from now, or (`absolute`) since the
 * epoch.
 */
const expire = (name: string, unit: "seconds" | "millis", absolute: boolean) => {
  const invalid = () => rejected(`invalid expire time in '${name}' command`)
  return define(name, -3, ["write", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    // Read after the options: Redis refuses a bad option first.
    const time = args.nextString()
    let nx = false, xx = false, gt = false, lt = false
    for (const option of args.rest()) {
      if (is(option, "nx")) nx = true
      else if (is(option, "xx")) xx = true
      else if (is(option, "gt")) gt = true
      else if (is(option, "lt")) lt = true
      else throw rejected(`Unsupported option ${option}`)
    }
    if (nx && (xx || gt || lt)) throw rejected("NX and XX, GT or LT options at the same time are not compatible")
    if (gt && lt) throw rejected("GT and LT options at the same time are not compatible")
    let when = integer(time)
    if (unit === "seconds") {
      if (when > int64Max / 1000n || when < int64Min / 1000n) throw invalid()
      when *= 1000n
    }
    const now = ctx.keyspace.now()
    const base = absolute ? 0 : now
    if (when > int64Max - BigInt(base)) throw invalid()
    const at = Number(when) + base
    if (ctx.keyspace.get(key) === undefined) return Reply.zero
    const current = ctx.keyspace.expiresAt(key)
    // A key without a TTL counts as expiring never: GT always fails, LT succeeds.
    if ((nx && current !== undefined) || (xx && current === undefined)) return Reply.zero
    if (gt && (current === undefined || at <= current)) return Reply.zero
    if (lt && current !== undefined && at >= current) return Reply.zero
    if (at <= now) ctx.keyspace.delete(key)
    else ctx.keyspace.expire(key, at)
    return Reply.one
  })
}

/**
 * `TTL`, `PTTL`, `EXPIRETIME`, `PEXPIRETIME`: -2 without the key, -1
 * without a TTL; the time left, or (`absolute`) the time it expires at.
 */
const ttl = (name: string, unit: "seconds" | "millis", absolute: boolean) =>
  define(name, 2, ["readonly", "fast"], [1, 1, 1], (ctx: CommandContext, args) => {
    const key = args.nextString()
    if (ctx.keyspace.get(key) === undefined) return Reply.integer(-2)
    const at = ctx.keyspace.expiresAt(key)
    if (at === undefined) return Reply.integer(-1)
    const millis = Math.max(0, absolute ? at : at - ctx.keyspace.now())
    // Seconds round to nearest, as Redis's (ttl + 500) / 1000.
    return Reply.integer(unit === "millis" ? millis : Math.floor((millis + 500) / 1000))
  })

/**
 * The TTL commands.
 *
 * @since 0.1.0
 */
export const commands: ReadonlyArray<Command> = [
  expire("expire", "seconds", false),
  expire("pexpire", "millis", false),
  expire("expireat", "seconds", true),
  expire("pexpireat", "millis", true),
  ttl("ttl", "seconds", false),
  ttl("pttl", "millis", false),
  ttl("expiretime", "seconds", true),
  ttl("pexpiretime", "millis", true),
  define("persist", 2, ["write", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    return ctx.keyspace.get(key) !== undefined && ctx.keyspace.persist(key) ? Reply.one : Reply.zero
  })
]
