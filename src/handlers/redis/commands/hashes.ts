/**
 * Hash commands: `HSET`, `HGET`, `HDEL`, `HGETALL`, `HLEN`, `HINCRBY`.
 *
 * @since 0.1.0
 */
import type { ByteString } from "../bytes.ts"
import { add, type Command, define, getHash, integer, parseInteger } from "../command.ts"
import { rejected, WrongArity } from "../errors.ts"
import * as Reply from "../reply.ts"
import type { Hash } from "../values.ts"

/**
 * The hash commands.
 *
 * @since 0.1.0
 */
export const commands: ReadonlyArray<Command> = [
  define("hset", -4, "write denyoom fast", [1, 1, 1], (ctx, args) => {
    if (args.length % 2 === 1) throw new WrongArity({ command: "hset" })
    let hash = getHash(ctx, args[1]!)
    if (hash === undefined) {
      hash = new Map()
      ctx.keyspace.set(args[1]!, hash)
    }
    let added = 0
    for (let j = 2; j < args.length; j += 2) {
      if (!hash.has(args[j]!)) added++
      hash.set(args[j]!, args[j + 1]!)
    }
    return Reply.integer(added)
  }),
  define("hget", 3, "readonly fast", [1, 1, 1], (ctx, args) => Reply.bulk(getHash(ctx, args[1]!)?.get(args[2]!))),
  define("hdel", -3, "write fast", [1, 1, 1], (ctx, args) => {
    const hash = getHash(ctx, args[1]!)
    if (hash === undefined) return Reply.zero
    let deleted = 0
    for (const field of args.slice(2)) if (hash.delete(field)) deleted++
    if (hash.size === 0) ctx.keyspace.delete(args[1]!)
    return Reply.integer(deleted)
  }),
  define("hgetall", 2, "readonly", [1, 1, 1], (ctx, args) =>
    Reply.bulkArray([...(getHash(ctx, args[1]!) ?? new Map<ByteString, ByteString>())].flat())),
  define("hlen", 2, "readonly fast", [1, 1, 1], (ctx, args) => Reply.integer(getHash(ctx, args[1]!)?.size ?? 0)),
  define("hincrby", 4, "write denyoom fast", [1, 1, 1], (ctx, args) => {
    const by = integer(args[3]!)
    let hash: Hash | undefined = getHash(ctx, args[1]!)
    if (hash === undefined) {
      hash = new Map()
      ctx.keyspace.set(args[1]!, hash)
    }
    const current = hash.get(args[2]!)
    const value = current === undefined ? 0n : parseInteger(current)
    if (value === undefined) throw rejected("hash value is not an integer")
    const result = add(value, by)
    hash.set(args[2]!, result.toString())
    return Reply.integer(result)
  })
]
