/**
 * Hash commands: `HSET`, `HGET`, `HDEL`, `HGETALL`, `HLEN`, `HINCRBY`.
 *
 * @since 0.1.0
 */
import { add, type Command, define, getHash } from "../command.ts"
import { rejected } from "../errors.ts"
import { parseInteger } from "../parse.ts"
import * as Reply from "../reply.ts"
import { Hash } from "../values.ts"

/**
 * The hash commands.
 *
 * @since 0.1.0
 */
export const commands: ReadonlyArray<Command> = [
  define("hset", -4, ["write", "denyoom", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const pairs = args.restPairs()
    let hash = getHash(ctx, key)
    if (hash === undefined) {
      hash = new Hash()
      ctx.keyspace.set(key, hash)
    }
    let added = 0
    for (const [field, value] of pairs) {
      if (!hash.has(field)) added++
      hash.set(field, value)
    }
    return Reply.integer(added)
  }),
  define("hget", 3, ["readonly", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    return Reply.bulk(getHash(ctx, key)?.get(args.nextString()))
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
  define("hgetall", 2, ["readonly"], [1, 1, 1], (ctx, args) =>
    Reply.bulkArray(getHash(ctx, args.nextString())?.flat() ?? [])),
  define("hlen", 2, ["readonly", "fast"], [1, 1, 1], (ctx, args) =>
    Reply.integer(getHash(ctx, args.nextString())?.size ?? 0)),
  define("hincrby", 4, ["write", "denyoom", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const field = args.nextString()
    const by = args.nextInteger()
    let hash: Hash | undefined = getHash(ctx, key)
    if (hash === undefined) {
      hash = new Hash()
      ctx.keyspace.set(key, hash)
    }
    const current = hash.get(field)
    const value = current === undefined ? 0n : parseInteger(current)
    if (value === undefined) throw rejected("hash value is not an integer")
    const result = add(value, by)
    hash.set(field, result.toString())
    return Reply.integer(result)
  })
]
