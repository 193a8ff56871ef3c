/**
 * List commands: `LPUSH`, `RPUSH`, `LPOP`, `RPOP` (with a count), `LLEN`,
 * `LRANGE`, `LINDEX`, and the blocking `BLPOP`/`BRPOP`.
 *
 * A blocking pop that finds every list empty waits in the keyspace
 * (`command.ts`'s `block`) with a function that pops, once a list appears
 * under one of its keys; inside `EXEC` it never blocks and answers as on
 * timeout, as Redis does.
 *
 * @since 0.1.0
 */
import type { ByteString } from "../bytes.ts"
import { block, type Command, type CommandContext, define, getList } from "../command.ts"
import { count, integer, timeout } from "../parse.ts"
import * as Reply from "../reply.ts"
import { List, type Side } from "../values.ts"

const push = (name: string, side: Side) =>
  define(name, -3, ["write", "denyoom", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    let list = getList(ctx, key)
    if (list === undefined) {
      list = new List()
      ctx.keyspace.set(key, list)
    }
    while (args.hasNext()) list.push(side, args.nextString())
    return Reply.integer(list.length)
  })

/** Removes up to `n` elements from one end; deletes the key when the list empties. */
const take = (ctx: CommandContext, key: ByteString, list: List, side: Side, n: number): Array<ByteString> => {
  const taken: Array<ByteString> = []
  while (taken.length < n && list.length > 0) taken.push(list.pop(side)!)
  if (list.length === 0) ctx.keyspace.delete(key)
  return taken
}

const pop = (name: string, side: Side) =>
  define(name, -2, ["write", "fast"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const countArg = args.hasNext() ? args.nextString() : undefined
    args.finishArity()
    const n = countArg === undefined ? undefined : count(countArg)
    const list = getList(ctx, key)
    if (list === undefined) return n === undefined ? Reply.nullBulk : Reply.nullArray
    if (n === undefined) return Reply.bulk(take(ctx, key, list, side, 1)[0])
    return Reply.bulkArray(take(ctx, key, list, side, n))
  })

const blockingPop = (name: string, side: Side) =>
  define(name, -3, ["write", "noscript", "blocking"], [1, -2, 1], (ctx, args) => {
    const wait = timeout(args.lastString(), ctx.keyspace.now())
    const keys = args.rest()
    // Checked key by key, as Redis: a wrong type fails only if no earlier list had an element.
    for (const key of keys) {
      const list = getList(ctx, key)
      if (list !== undefined) return Reply.bulkArray([key, take(ctx, key, list, side, 1)[0]])
    }
    return block(ctx, {
      keys,
      timeout: wait,
      timedOut: Reply.nullArray,
      serve: (key) => {
        const list = ctx.keyspace.get(key)
        return list instanceof List ? Reply.bulkArray([key, take(ctx, key, list, side, 1)[0]]) : undefined
      }
    })
  })

/**
 * The list commands.
 *
 * @since 0.1.0
 */
export const commands: ReadonlyArray<Command> = [
  push("lpush", "left"),
  push("rpush", "right"),
  pop("lpop", "left"),
  pop("rpop", "right"),
  blockingPop("blpop", "left"),
  blockingPop("brpop", "right"),
  define("llen", 2, ["readonly", "fast"], [1, 1, 1], (ctx, args) =>
    Reply.integer(getList(ctx, args.nextString())?.length ?? 0)),
  define("lrange", 4, ["readonly"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    // Indices are `long`s: beyond ±2^53 precision no longer matters for clamping.
    let start = Number(args.nextInteger())
    let stop = Number(args.nextInteger())
    const list = getList(ctx, key)
    if (list === undefined) return Reply.emptyArray
    const length = list.length
    if (start < 0) start = Math.max(0, length + start)
    if (stop < 0) stop = length + stop
    if (start > stop || start >= length) return Reply.emptyArray
    return Reply.bulkArray(list.slice(start, Math.min(stop, length - 1)))
  }),
  define("lindex", 3, ["readonly"], [1, 1, 1], (ctx, args) => {
    const key = args.nextString()
    const indexArg = args.nextString()
    // A missing key answers null before the index is read, as Redis.
    const list = getList(ctx, key)
    if (list === undefined) return Reply.nullBulk
    const at = Number(integer(indexArg))
    const position = at < 0 ? list.length + at : at
    return position >= 0 && position < list.length ? Reply.bulk(list.at(position)) : Reply.nullBulk
  })
]
