/**
 * Random picks for `SRANDMEMBER` and `HRANDFIELD`, by Redis's rules for
 * their count: a negative count picks that many times, each pick uniform and
 * independent (repeats allowed); a positive one picks that many distinct
 * elements, uniformly among the subsets of that size — the whole collection
 * when it has no more. Containers give O(1) access by position
 * (`values/set.ts`, `values/hash.ts`), so a pick is a position.
 *
 * Repeated picks are the one reply whose size the client chooses regardless
 * of what is stored (`SRANDMEMBER key -1000000000`); Redis streams it out,
 * here a reply is built whole, so {@link repeated} bounds it.
 *
 * @since 0.1.0
 */
import type { ByteString } from "./bytes.ts"
import { rejected } from "./errors.ts"
import { integer } from "./parse.ts"

/** Redis's `-LONG_MAX` … `LONG_MAX`, the range the count is read in. */
const longMax = 9223372036854775807n

/**
 * The count argument, as `getRangeLongFromObjectOrReply(-LONG_MAX,
 * LONG_MAX)` reads it.
 *
 * @since 0.1.0
 */
export const randomCount = (arg: ByteString): bigint => {
  const value = integer(arg)
  if (value < -longMax) throw rejected(`value is out of range, value must between ${-longMax} and ${longMax}`)
  return value
}

/**
 * A position in `[0, size)`, uniformly.
 *
 * @since 0.1.0
 */
export const position = (size: number, random: () => number = Math.random): number => Math.floor(random() * size)

/**
 * `count` distinct positions in `[0, size)`, every subset of that size
 * equally likely, in O(count) (Floyd's algorithm); every position, in order,
 * when `count >= size`.
 *
 * @since 0.1.0
 */
export const distinct = (size: number, count: number, random: () => number = Math.random): Array<number> => {
  if (count >= size) return Array.from({ length: size }, (_, i) => i)
  const chosen = new Set<number>()
  for (let j = size - count; j < size; j++) {
    const at = position(j + 1, random)
    chosen.add(chosen.has(at) ? j : at)
  }
  return [...chosen]
}

/**
 * `picks` positions in `[0, size)`, each uniform and independent — unless
 * the reply they make would pass `limit` bytes (`replyBytes` gives what one
 * position adds to it): then it throws, naming the count, before building
 * the reply.
 *
 * @since 0.1.0
 */
export const repeated = (
  size: number,
  picks: bigint,
  replyBytes: (at: number) => number,
  limit: number,
  random: () => number = Math.random
): Array<number> => {
  const chosen: Array<number> = []
  let bytes = 0
  // Past 2^53 the count is only ever cut short by the limit.
  const n = picks > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(picks)
  for (let i = 0; i < n; i++) {
    const at = position(size, random)
    bytes += replyBytes(at)
    if (bytes > limit) {
      throw rejected(`count -${picks} would make a reply over proto-max-bulk-len (${limit} bytes)`)
    }
    chosen.push(at)
  }
  return chosen
}
