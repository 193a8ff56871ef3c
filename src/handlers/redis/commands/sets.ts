/**
 * Set commands: `SADD`, `SREM`, `SMEMBERS`, `SISMEMBER`, `SCARD`, `SPOP`
 * (with a count).
 *
 * @since 0.1.0
 */
import type { ByteString } from "../bytes.ts"
import { type Command, count, define, getSet, syntaxError } from "../command.ts"
import * as Reply from "../reply.ts"
import { MemberSet } from "../values.ts"

/**
 * The set commands.
 *
 * @since 0.1.0
 */
export const commands: ReadonlyArray<Command> = [
  define("sadd", -3, "write denyoom fast", [1, 1, 1], (ctx, args) => {
    let set = getSet(ctx, args[1]!)
    if (set === undefined) {
      set = new MemberSet()
      ctx.keyspace.set(args[1]!, set)
    }
    let added = 0
    for (const member of args.slice(2)) if (set.add(member)) added++
    return Reply.integer(added)
  }),
  define("srem", -3, "write fast", [1, 1, 1], (ctx, args) => {
    const set = getSet(ctx, args[1]!)
    if (set === undefined) return Reply.zero
    let removed = 0
    for (const member of args.slice(2)) if (set.delete(member)) removed++
    if (set.size === 0) ctx.keyspace.delete(args[1]!)
    return Reply.integer(removed)
  }),
  define("smembers", 2, "readonly", [1, 1, 1], (ctx, args) =>
    Reply.bulkArray(getSet(ctx, args[1]!)?.toArray() ?? [])),
  define("sismember", 3, "readonly fast", [1, 1, 1], (ctx, args) =>
    getSet(ctx, args[1]!)?.has(args[2]!) === true ? Reply.one : Reply.zero),
  define("scard", 2, "readonly fast", [1, 1, 1], (ctx, args) => Reply.integer(getSet(ctx, args[1]!)?.size ?? 0)),
  define("spop", -2, "write fast", [1, 1, 1], (ctx, args) => {
    if (args.length > 3) syntaxError()
    const n = args.length === 3 ? count(args[2]!) : undefined
    const set = getSet(ctx, args[1]!)
    if (set === undefined) return n === undefined ? Reply.nullBulk : Reply.emptyArray
    const popped: Array<ByteString> = []
    while (popped.length < (n ?? 1) && set.size > 0) popped.push(set.popRandom(Math.random())!)
    if (set.size === 0) ctx.keyspace.delete(args[1]!)
    return n === undefined ? Reply.bulk(popped[0]) : Reply.bulkArray(popped)
  })
]
