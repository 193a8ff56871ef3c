/**
 * A Redis list as a deque: a ring buffer whose capacity is a power of two,
 * so both ends push and pop in O(1) (amortised over the doublings) and any
 * index is reached in O(1) (`LINDEX`, `LSET`, `LRANGE`). Inserting in the
 * middle shifts the shorter side (`LINSERT`); removing matches and trimming
 * are one linear pass (`LREM`, `LTRIM`). A list that grew large and shrank
 * gives its slots back.
 *
 * It counts its bytes as `memory.ts` estimates them (a {@link Container}).
 *
 * @since 0.1.0
 */
import type { ByteString } from "../bytes.ts"
import { overhead } from "../memory.ts"
import { Container } from "./container.ts"

/**
 * An end of a list: `left` is its head (`LPUSH`, `LPOP`), `right` its tail.
 *
 * @since 0.1.0
 */
export type Side = "left" | "right"

/** Slots a new list starts with, and the fewest a shrinking list keeps: powers of two. */
const initialCapacity = 8
const smallestShrunk = 64

const elementBytes = (value: ByteString) => overhead.listElement + value.length

const slots = (capacity: number): Array<ByteString | undefined> => Array.from({ length: capacity }, () => undefined)

/**
 * A list of byte strings.
 *
 * @since 0.1.0
 */
export class List extends Container {
  private items = slots(initialCapacity)
  private mask = initialCapacity - 1
  private head = 0
  private count = 0

  /** Number of elements. */
  get length(): number {
    return this.count
  }

  /** Adds `value` before the first element. */
  pushLeft(value: ByteString): void {
    if (this.count === this.items.length) this.resize(this.items.length * 2)
    this.head = (this.head - 1) & this.mask
    this.items[this.head] = value
    this.count++
    this.grow(elementBytes(value))
  }

  /** Adds `value` after the last element. */
  pushRight(value: ByteString): void {
    if (this.count === this.items.length) this.resize(this.items.length * 2)
    this.items[(this.head + this.count) & this.mask] = value
    this.count++
    this.grow(elementBytes(value))
  }

  /** Removes and returns the first element. */
  popLeft(): ByteString | undefined {
    if (this.count === 0) return undefined
    const value = this.items[this.head]!
    this.items[this.head] = undefined
    this.head = (this.head + 1) & this.mask
    this.count--
    this.grow(-elementBytes(value))
    this.shrink()
    return value
  }

  /** Removes and returns the last element. */
  popRight(): ByteString | undefined {
    if (this.count === 0) return undefined
    const at = (this.head + this.count - 1) & this.mask
    const value = this.items[at]!
    this.items[at] = undefined
    this.count--
    this.grow(-elementBytes(value))
    this.shrink()
    return value
  }

  /** Adds `value` at the `side` end. */
  push(side: Side, value: ByteString): void {
    if (side === "left") this.pushLeft(value)
    else this.pushRight(value)
  }

  /** Removes and returns the element at the `side` end. */
  pop(side: Side): ByteString | undefined {
    return side === "left" ? this.popLeft() : this.popRight()
  }

  /** The element at `index` (0 ≤ index < length). */
  at(index: number): ByteString {
    return this.items[(this.head + index) & this.mask]!
  }

  /** Replaces the element at `index` (0 ≤ index < length) with `value`. */
  set(index: number, value: ByteString): void {
    const at = (this.head + index) & this.mask
    this.grow(value.length - this.items[at]!.length)
    this.items[at] = value
  }

  /** Elements `start` to `stop`, both included and within bounds, in order. */
  slice(start: number, stop: number): Array<ByteString> {
    const out: Array<ByteString> = []
    for (let i = start; i <= stop; i++) out.push(this.at(i))
    return out
  }

  /** A copy with the same elements. */
  clone(): List {
    const copy = new List()
    for (let i = 0; i < this.count; i++) copy.pushRight(this.at(i))
    return copy
  }

  /**
   * Inserts `value` before the element at `index` (0 ≤ index ≤ length;
   * `length` appends), shifting whichever side of it is shorter.
   */
  insert(index: number, value: ByteString): void {
    if (this.count === this.items.length) this.resize(this.items.length * 2)
    const items = this.items
    const mask = this.mask
    if (index < this.count / 2) {
      this.head = (this.head - 1) & mask
      for (let i = 0; i < index; i++) items[(this.head + i) & mask] = items[(this.head + i + 1) & mask]
    } else {
      for (let i = this.count; i > index; i--) items[(this.head + i) & mask] = items[(this.head + i - 1) & mask]
    }
    items[(this.head + index) & mask] = value
    this.count++
    this.grow(elementBytes(value))
  }

  /**
   * Removes the elements equal to `value`: the first `limit` of them from
   * the head, or from the tail if `fromTail` (all of them for a `limit` of
   * 0). Returns how many it removed; the others keep their order.
   */
  remove(value: ByteString, limit: number, fromTail: boolean): number {
    const items = this.items
    const mask = this.mask
    const n = this.count
    let removed = 0
    let kept = 0
    // Kept elements are packed towards the end the scan starts from, over slots already read.
    if (!fromTail) {
      for (let i = 0; i < n; i++) {
        const element = this.at(i)
        if (element === value && (limit === 0 || removed < limit)) removed++
        else items[(this.head + kept++) & mask] = element
      }
      for (let i = kept; i < n; i++) items[(this.head + i) & mask] = undefined
    } else {
      for (let i = n - 1; i >= 0; i--) {
        const element = this.at(i)
        if (element === value && (limit === 0 || removed < limit)) removed++
        else items[(this.head + n - 1 - kept++) & mask] = element
      }
      for (let i = 0; i < removed; i++) items[(this.head + i) & mask] = undefined
      this.head = (this.head + removed) & mask
    }
    this.count = kept
    // Removing nothing is no change (for WATCH).
    if (removed > 0) this.grow(-removed * elementBytes(value))
    this.shrink()
    return removed
  }

  /** Keeps only the elements `start` to `stop` (0 ≤ start ≤ stop < length). */
  trim(start: number, stop: number): void {
    const items = this.items
    const mask = this.mask
    let freed = 0
    const drop = (index: number) => {
      const at = (this.head + index) & mask
      freed += elementBytes(items[at]!)
      items[at] = undefined
    }
    for (let i = 0; i < start; i++) drop(i)
    for (let i = stop + 1; i < this.count; i++) drop(i)
    this.head = (this.head + start) & mask
    this.count = stop - start + 1
    this.grow(-freed)
    this.shrink()
  }

  // A list that grew large and was emptied down gives its memory back.
  private shrink(): void {
    let capacity = this.items.length
    while (capacity > smallestShrunk && this.count < capacity / 4) capacity /= 2
    if (capacity !== this.items.length) this.resize(capacity)
  }

  private resize(capacity: number): void {
    const items = slots(capacity)
    for (let i = 0; i < this.count; i++) items[i] = this.at(i)
    this.items = items
    this.mask = capacity - 1
    this.head = 0
  }
}
