/**
 * Counters on string values: `INCR`, `DECR`, `INCRBY`, `DECRBY` over 64-bit
 * integers, and `INCRBYFLOAT` in C's `long double`, as Redis computes and
 * prints it (`longDouble.ts`). A counter updated in place keeps its TTL.
 *
 * @since 0.1.0
 */
import { type ByteString, int64Min } from "../bytes.ts"
import { add, type Command, type CommandContext, define, getString } from "../command.ts"
import { NotAFloat, rejected } from "../errors.ts"
import * as LongDouble from "../longDouble.ts"
import { integer } from "../parse.ts"
import * as Reply from "../reply.ts"

const incrementBy = (ctx: CommandContext, key: ByteString, by: bigint): Uint8Array => {
  const current = getString(ctx, key)
  const value = add(current === undefined ? 0n : integer(current), by)
  ctx.keyspace.set(key, value.toString(), true)
  return Reply.integer(value)
}

/** A stored value or an argument as a `long double`, or `ERR value is not a valid float`. */
const longDouble = (text: ByteString) => {
  const value = LongDouble.parse(text)
  if (value === undefined) throw new NotAFloat()
  return value
}

/** `INCRBYFLOAT key increment`: the new value, as it is stored. */
const incrbyfloat = define("incrbyfloat", 3, ["write", "denyoom", "fast"], [1, 1, 1], (ctx, args) => {
  const key = args.nextString()
  const increment = args.nextString()
  const current = longDouble(getString(ctx, key) ?? "0")
  const by = longDouble(increment)
  // An infinity in, or a sum past the largest long double, is refused.
  const sum = typeof current === "string" || typeof by === "string" ? undefined : LongDouble.add(current, by)
  if (sum === undefined) throw rejected("increment would produce NaN or Infinity")
  const value = LongDouble.format(sum)
  ctx.keyspace.set(key, value, true)
  return Reply.bulk(value)
})

/**
 * The counter commands.
 *
 * @since 0.1.0
 */
export const commands: ReadonlyArray<Command> = [
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
  incrbyfloat
]
