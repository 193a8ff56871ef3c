/**
 * What the keyspace's memory is counted as — the figure `maxmemory` bounds
 * and `used_memory` reports — and Redis's units for writing it.
 *
 * Keys and values live in the V8 heap as latin1 strings (one byte per byte,
 * plus a header), in `Map`s and arrays. The count is an estimate, not a
 * measurement: each key, list element, set member and hash field is its
 * bytes plus the overhead below, measured on Node 24 (64-bit, no pointer
 * compression) and rounded up, so the estimate stays at or above the heap the
 * keyspace really takes for ordinary shapes. Strings of a megabyte or more
 * are held outside the V8 heap by Node; they are counted all the same.
 *
 * @since 0.1.0
 */

/**
 * Bytes counted for each thing the keyspace holds, besides its own bytes.
 *
 * @since 0.1.0
 */
export const overhead = {
  /** A key: its entry in the keyspace's map and its string's header (and the value's, for a string). */
  key: 96,
  /** A key's expiry: its entry in the map of TTLs. */
  ttl: 56,
  /** A list, set or hash itself, empty. */
  container: 160,
  /** An element of a list: its slot and string header. */
  listElement: 32,
  /** A member of a set: its slot, map entry and string header. */
  setMember: 72,
  /** A field of a hash: its map entry, its two array slots and two string headers. */
  hashField: 104
} as const

/**
 * Where a container adds what it grows by and takes what it shrinks by: the
 * keyspace's running total, while the container is in it.
 *
 * @since 0.1.0
 */
export interface Meter {
  bytes: number
}

const units: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  k: 1000,
  kb: 1024,
  m: 1000 ** 2,
  mb: 1024 ** 2,
  g: 1000 ** 3,
  gb: 1024 ** 3
}

/**
 * A memory size as Redis's configuration reads it (`memtoull`): digits, then
 * optionally a unit, any case — `b`, `k` (1000), `kb` (1024), `m`, `mb`, `g`,
 * `gb`. `undefined` for anything else, and past 2^53.
 *
 * @since 0.1.0
 */
export const parseMemory = (text: string): number | undefined => {
  const match = /^([0-9]+)([a-z]*)$/i.exec(text)
  const unit = match === null ? undefined : units[match[2]!.toLowerCase()]
  if (match === null || unit === undefined) return undefined
  const bytes = Number(match[1]) * unit
  return Number.isSafeInteger(bytes) ? bytes : undefined
}
