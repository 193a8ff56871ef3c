/**
 * Single-bit access to strings: `SETBIT` and `GETBIT`. Bit 0 is the most
 * significant bit of the first byte, as in Redis; setting a bit past the
 * end pads the string with zero bytes, reading one there gives 0.
 *
 * @since 0.1.0
 */
import type { ByteString } from "../bytes.ts"
import { type Command, type CommandContext, define, getString } from "../command.ts"
import { rejected } from "../errors.ts"
import type { Arguments } from "../parse.ts"
import * as Reply from "../reply.ts"

/**
 * A bit offset as Redis's `getBitOffsetFromArgument` reads it: an integer,
 * not negative, whose byte lies below `protoMaxBulkLen`.
 */
const bitOffset = (ctx: CommandContext, args: Arguments): number => {
  const message = "bit offset is not an integer or out of range"
  const offset = args.nextInteger(message)
  if (offset < 0n || offset >> 3n >= BigInt(ctx.settings.protoMaxBulkLen)) throw rejected(message)
  return Number(offset)
}

/** The bit at `offset` of `value`: 0 past its end. */
const bitAt = (value: ByteString, offset: number): 0 | 1 => {
  const byte = offset >> 3
  if (byte >= value.length) return 0
  return ((value.charCodeAt(byte) >> (7 - (offset & 7))) & 1) as 0 | 1
}

/** `SETBIT key offset 0|1`: the bit's old value; the key changes only if the string grew or the bit did. */
const setbit = define("setbit", 4, ["write", "denyoom"], [1, 1, 1], (ctx, args) => {
  const key = args.nextString()
  const offset = bitOffset(ctx, args)
  const on = args.nextInteger("bit is not an integer or out of range")
  if (on !== 0n && on !== 1n) throw rejected("bit is not an integer or out of range")
  const old = getString(ctx, key)
  const byte = offset >> 3
  const current = old === undefined || old.length <= byte
    ? (old ?? "") + "\0".repeat(byte + 1 - (old?.length ?? 0))
    : old
  const was = bitAt(current, offset)
  if (current !== old || BigInt(was) !== on) {
    const mask = 1 << (7 - (offset & 7))
    const code = current.charCodeAt(byte)
    const updated = String.fromCharCode(on === 1n ? code | mask : code & ~mask)
    ctx.keyspace.set(key, current.slice(0, byte) + updated + current.slice(byte + 1), true)
  }
  return was === 1 ? Reply.one : Reply.zero
})

/** `GETBIT key offset`: 0 or 1; 0 for a missing key. */
const getbit = define("getbit", 3, ["readonly", "fast"], [1, 1, 1], (ctx, args) => {
  const key = args.nextString()
  const offset = bitOffset(ctx, args)
  return bitAt(getString(ctx, key) ?? "", offset) === 1 ? Reply.one : Reply.zero
})

/** The bit commands. */
export const commands: ReadonlyArray<Command> = [setbit, getbit]
