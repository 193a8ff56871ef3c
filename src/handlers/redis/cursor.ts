/**
 * Cursors for the SCAN family (`SCAN`, `HSCAN`, `SSCAN`, `ZSCAN`) over
 * collections kept in insertion order — the keyspace, hash fields, set and
 * sorted-set members — with Redis's guarantee: an element present for the
 * whole of an iteration is returned by it (here exactly once). The cursor is
 * an opaque unsigned 64-bit decimal, `0` to start and at the end; `COUNT` is
 * a hint of how much one call does; `MATCH` and `TYPE` filter what it found.
 *
 * **Why not the `Map`'s own order.** A position in a `Map`'s iteration order
 * moves under a cursor: deleting an element shifts every later one back, so
 * an element the cursor had not reached slips behind it and is never
 * returned. A {@link ScanOrder} instead numbers each element as it enters
 * (1, 2, 3…, never reused) and keeps the number while the element stays; the
 * cursor is the number to resume at, and a call returns the live elements
 * numbered from there on. An element present throughout keeps its number and
 * the cursor passes that number once, in the call that returns it. Elements
 * that enter during an iteration are numbered after all the others, and are
 * returned if the iteration gets to them.
 *
 * **The bound.** Elements are kept in order of number in blocks of at most
 * {@link blockSlots}; a delete takes the element out of its block, and a
 * block merges with a neighbour as soon as the two fit in one. So any two
 * neighbouring blocks hold more than `blockSlots` elements: for n elements
 * there are at most 2n / blockSlots + 1 blocks, and one slot per element.
 * Costs: `add` O(1) amortized, `delete` O(log n + blockSlots + n / blockSlots)
 * (the last for the block list's splice when blocks merge), a call
 * O(log n + COUNT).
 *
 * **Gotcha.** An iteration ends when it passes the newest element. Elements
 * inserted while it runs come after it, so a collection that gains new
 * elements faster than one `COUNT` per call keeps an iteration going until
 * the inserts slow down (Redis's table scan ends whenever the size stays
 * bounded).
 *
 * @since 0.1.0
 */
import type { ByteString } from "./bytes.ts"
import { rejected } from "./errors.ts"
import { compile, type Glob } from "./glob.ts"
import { type Arguments, syntaxError } from "./parse.ts"
import * as Reply from "./reply.ts"

/**
 * Most slots in one block of a {@link ScanOrder}.
 *
 * @since 0.1.0
 */
export const blockSlots = 256

/**
 * Bytes a {@link ScanOrder} is counted as, as `memory.ts` counts the
 * keyspace: measured on Node 24 (64-bit), rounded up.
 *
 * @since 0.1.0
 */
export const scanOverhead = {
  /** An element's entry in the map from element to number. */
  element: 40,
  /** An element's slot and its number's, in its block's two arrays. */
  slot: 16,
  /** A block and its two arrays, empty. */
  block: 96
} as const

/** Elements and their numbers, in ascending order of number. */
interface Block<K> {
  readonly keys: Array<K>
  readonly seqs: Array<number>
}

/** The first index in `0..length` at which `at(index) >= target` (`at` ascending), or `length`. */
const firstAtLeast = (length: number, at: (index: number) => number, target: number): number => {
  let low = 0
  let high = length
  while (low < high) {
    const mid = (low + high) >>> 1
    if (at(mid) < target) low = mid + 1
    else high = mid
  }
  return low
}

/**
 * What one call of {@link ScanOrder.scan} found: the elements, and the cursor
 * to resume at (0: the iteration is over).
 *
 * @since 0.1.0
 */
export interface ScanPage<K> {
  readonly cursor: number
  readonly elements: Array<K>
}

/**
 * The scan order of a collection's elements: the collection calls
 * {@link add} when an element enters and {@link delete} when it leaves
 * (updating an element in place is neither); SCAN-family commands call
 * {@link scan}.
 *
 * @since 0.1.0
 */
export class ScanOrder<K extends NonNullable<unknown>> {
  readonly #numbers = new Map<K, number>()
  #blocks: Array<Block<K>> = []
  #next = 1

  /**
   * An order of `elements` as they come: for an index built on the first
   * scan of a collection, from its `Map`'s or `Set`'s insertion order.
   */
  static from<K extends NonNullable<unknown>>(elements: Iterable<K>): ScanOrder<K> {
    const order = new ScanOrder<K>()
    for (const element of elements) order.add(element)
    return order
  }

  /** Number of elements. */
  get size(): number {
    return this.#numbers.size
  }

  /** Bytes it takes, as {@link scanOverhead} counts them. */
  get bytes(): number {
    return this.#numbers.size * (scanOverhead.element + scanOverhead.slot) + this.#blocks.length * scanOverhead.block
  }

  /** Numbers `element` after every other, unless it is already in. */
  add(element: K): void {
    if (this.#numbers.has(element)) return
    const seq = this.#next++
    this.#numbers.set(element, seq)
    let last = this.#blocks[this.#blocks.length - 1]
    if (last === undefined || last.keys.length === blockSlots) {
      last = { keys: [], seqs: [] }
      this.#blocks.push(last)
    }
    last.keys.push(element)
    last.seqs.push(seq)
  }

  /** Takes `element` out, if it is in. */
  delete(element: K): void {
    const seq = this.#numbers.get(element)
    if (seq === undefined) return
    this.#numbers.delete(element)
    const b = this.#blockFor(seq)
    const { keys, seqs } = this.#blocks[b]!
    const at = firstAtLeast(seqs.length, (i) => seqs[i]!, seq)
    keys.splice(at, 1)
    seqs.splice(at, 1)
    if (keys.length === 0) {
      this.#blocks.splice(b, 1)
      this.#merge(b - 1)
    } else {
      this.#merge(b)
      this.#merge(b - 1)
    }
  }

  /** The element at `index` (0 ≤ index < size) in scan order: for a pick at random, in O(n / blockSlots). */
  at(index: number): K {
    let left = index
    for (const block of this.#blocks) {
      if (left < block.keys.length) return block.keys[left]!
      left -= block.keys.length
    }
    throw new RangeError(`ScanOrder.at: index ${index} out of 0..${this.size - 1}`)
  }

  /** Takes every element out. Numbers are not reused: elements added later come after any cursor handed out. */
  clear(): void {
    this.#numbers.clear()
    this.#blocks = []
  }

  /**
   * Up to `count` (≥ 1) live elements numbered `cursor` or more, in order,
   * and the number of the next live one (0 if none is left).
   */
  scan(cursor: number, count: number): ScanPage<K> {
    const elements: Array<K> = []
    const first = this.#blockFor(cursor)
    for (let b = first; b < this.#blocks.length; b++) {
      const { keys, seqs } = this.#blocks[b]!
      const start = b === first ? firstAtLeast(seqs.length, (i) => seqs[i]!, cursor) : 0
      for (let i = start; i < keys.length; i++) {
        if (elements.length === count) return { cursor: seqs[i]!, elements }
        elements.push(keys[i]!)
      }
    }
    return { cursor: 0, elements }
  }

  /** The first block whose last number is `seq` or more (the block holding `seq`, if any), or past the last. */
  #blockFor(seq: number): number {
    const blocks = this.#blocks
    return firstAtLeast(blocks.length, (b) => {
      const seqs = blocks[b]!.seqs
      return seqs[seqs.length - 1]!
    }, seq)
  }

  /** Moves block `b + 1` into block `b` if both exist and fit in one block. */
  #merge(b: number): void {
    const left = this.#blocks[b]
    const right = this.#blocks[b + 1]
    if (left === undefined || right === undefined || left.keys.length + right.keys.length > blockSlots) return
    left.keys.push(...right.keys)
    left.seqs.push(...right.seqs)
    this.#blocks.splice(b + 1, 1)
  }
}

const cursorSyntax = /^[+-]?[0-9]+$/
const uint64 = 2n ** 64n

/**
 * A cursor argument as Redis's `parseScanCursorOrReply` reads it (`strtoul`):
 * decimal digits after an optional sign, a negative one wrapping around
 * 2^64 as C's does, nothing after a NUL byte looked at; the empty string is
 * 0. Throws `ERR invalid cursor` for a blank first, anything not a digit,
 * or past 2^64 − 1. Gives a number: exact for the cursors handed out (below
 * 2^53), and for larger ones past every element.
 *
 * @since 0.1.0
 */
export const parseCursor = (arg: ByteString): number => {
  const nul = arg.indexOf("\0")
  const text = nul === -1 ? arg : arg.slice(0, nul)
  if (text === "") return 0
  if (!cursorSyntax.test(text)) throw rejected("invalid cursor")
  let value = BigInt(text)
  if (value >= uint64 || value <= -uint64) throw rejected("invalid cursor")
  if (value < 0n) value += uint64
  return Number(value)
}

/**
 * The options after a SCAN-family cursor.
 *
 * @since 0.1.0
 */
export interface ScanOptions {
  /** How many elements one call looks at (default 10). */
  readonly count: number
  /** Only elements (hash fields, not values) matching it; `undefined` for all (no `MATCH`, or `MATCH *`). */
  readonly match: Glob | undefined
  /** `SCAN … TYPE name`: only keys of that type (compared ignoring case); `undefined` for all. */
  readonly type: ByteString | undefined
}

/**
 * Reads `COUNT n`, `MATCH pattern` and, for the keyspace's `SCAN` only
 * (`withType`), `TYPE name`, in any order, a later one winning; as Redis:
 * a `COUNT` that is not an integer is `ERR value is not an integer or out of
 * range`, one below 1 and anything else `ERR syntax error`.
 *
 * @since 0.1.0
 */
export const scanOptions = (args: Arguments, withType: boolean): ScanOptions => {
  let count = 10
  let match: Glob | undefined
  let type: ByteString | undefined
  while (args.hasNext()) {
    const pair = args.remaining >= 2
    if (pair && args.nextIs("count")) {
      const n = args.nextInteger()
      if (n < 1n) syntaxError()
      count = Number(n)
    } else if (pair && args.nextIs("match")) {
      const pattern = args.nextString()
      match = pattern === "*" ? undefined : compile(pattern)
    } else if (withType && pair && args.nextIs("type")) {
      type = args.nextString()
    } else {
      syntaxError()
    }
  }
  return { count, match, type }
}

/**
 * A SCAN-family reply: the cursor as a bulk string, then the elements.
 *
 * @since 0.1.0
 */
export const scanReply = (cursor: number, elements: ReadonlyArray<ByteString>): Uint8Array =>
  Reply.array([Reply.bulk(String(cursor)), Reply.bulkArray(elements)])

/**
 * The reply for a scan of a key that does not exist: cursor 0, no elements
 * (Redis answers it before reading the options).
 *
 * @since 0.1.0
 */
export const emptyScan: Uint8Array = scanReply(0, [])
