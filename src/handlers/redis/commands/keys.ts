/**
 * Commands on keys of any type: `DEL`, `EXISTS`, `KEYS`, `TYPE`, `EXPIRE`,
 * `PEXPIRE` (with `NX XX GT LT`), `TTL`, `PTTL`, `PERSIST`, `DBSIZE`,
 * `FLUSHDB`, `FLUSHALL`.
 *
 * @since 0.1.0
 */
import { int64Max, int64Min, is } from "../bytes.ts"
import { type Command, type CommandContext, define } from "../command.ts"
import { rejected } from "../errors.ts"
import { integer, syntaxError } from "../parse.ts"
import * as Reply from "../reply.ts"
import { typeName } from "../values.ts"

/** `EXPIRE`/`PEXPIRE key time [NX|XX|GT|LT]`, as Redis's `expireGenericCommand`. */
const expire = (name: string, unit: "seconds" | "millis") => {
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
    if (when > int64Max - BigInt(now)) throw invalid()
    const at = Number(when) + now
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

/** `TTL`/`PTTL`: -2 without the key, -1 without a TTL. */
const ttl = (ctx: CommandContext, key: string, unit: "seconds" | "millis") => {
  if (ctx.keyspace.get(key) === undefined) return Reply.integer(-2)
  const at = ctx.keyspace.expiresAt(key)
  if (at === undefined) return Reply.integer(-1)
  const left = Math.max(0, at - ctx.keyspace.now())
  // Seconds round to nearest, as Redis's (ttl + 500) / 1000.
  return Reply.integer(unit === "millis" ? left : Math.floor((left + 500) / 1000))
}

/** `FLUSHDB`/`FLUSHALL [ASYNC|SYNC]`: one database, so both empty it. */
const flush = (name: string) =>
  define(name, -1, ["write"], [0, 0, 0], (ctx, args) => {
    if (args.hasNext() && !args.nextIs("sync") && !args.nextIs("async")) syntaxError()
    args.finish()
    ctx.keyspace.flush()
    return Reply.ok
  })

/**
 * The key commands.
 *
 * @since 0.1.0
 */
export const commands: ReadonlyArray<Command> = [
  define("del", -2, ["write"], [1, -1, 1], (ctx, args) => {
    let deleted = 0
    for (const key of args.rest()) if (ctx.keyspace.delete(key)) deleted++
    return Reply.integer(deleted)
  }),
  define("exists", -2, ["readonly", "fast"], [1, -1, 1], (ctx, args) =>
    // A key named twice counts twice.
    Reply.integer(args.rest().filter((key) => ctx.keyspace.get(key) !== undefined).length)),
  define("keys", 2, ["readonly"], [0, 0, 0], (ctx, args) => Reply.bulkArray(ctx.keyspace.keys(args.nextString()))),
  define("type", 2, ["readonly", "fast"], [1, 1, 1], (ctx, args) =>
    Reply.simple(typeName(ctx.keyspace.get(args.nextString())))),
  expire("expire", "seconds"),
  expire("pexpire", "millis"),
  define("ttl", 2, ["readonly", "fast"], [1, 1, 1], (ctx, args) => ttl(ctx, args.nextString(), "seconds")),
  define("pttl", 2, ["readonly", "fast"], [1, 1, 1], (ctx, args) => ttl(ctx, args.nextString(), "millis")),
  define("persist", 2, ["write", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    return ctx.keyspace.get(key) !== undefined && ctx.keyspace.persist(key) ? Reply.one : Reply.zero
  }),
  define("dbsize", 1, ["readonly", "fast"], [0, 0, 0], (ctx) => Reply.integer(ctx.keyspace.size())),
  flush("flushdb"),
  flush("flushall")
]
