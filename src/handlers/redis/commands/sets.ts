/**
 * Set commands: `SADD`, `SREM`, `SMEMBERS`, `SISMEMBER`, `SCARD`, `SPOP`
 * (with a count).
 *
 * @since 0.1.0
 */
import type { ByteString } from "../bytes.ts"
import { type Command, define, getSet } from "../command.ts"
import { count } from "../parse.ts"
import * as Reply from "../reply.ts"
import { MemberSet } from "../values.ts"

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
  define("scard", 2, ["readonly", "fast"], [1, 1, 1], (ctx, args) =>
    Reply.integer(getSet(ctx, args.nextString())?.size ?? 0)),
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
  })
]
