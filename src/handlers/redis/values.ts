/**
 * The four kinds of value a key holds, and the containers behind them:
 *
 * - a string: a {@link ByteString};
 * - a list: a {@link List}, a ring-buffer deque (O(1) push and pop at both
 *   ends, O(1) indexing for `LRANGE` and `LINDEX`);
 * - a set: a {@link MemberSet}, whose random pop is O(1) (`SPOP`);
 * - a hash: a {@link Hash}, a `Map` from field to value.
 *
 * Containers are never empty in the keyspace: the command that removes the
 * last element deletes the key, as Redis does. Each knows its size as
 * `memory.ts` counts it, and while it is in the keyspace reports every
 * change to the keyspace's total (its {@link Container.meter}).
 *
 * @since 0.1.0
 */
import type { ByteString } from "./bytes.ts"
import { type Meter, overhead } from "./memory.ts"

/**
 * What lists, sets and hashes share: their counted size, the meter that
 * size goes to while they are in the keyspace, and the signal that they
 * changed (for `WATCH`).
 *
 * **Details**
 *
 * Every change of a container goes through {@link grow} — with 0 when it
 * changes nothing counted (a score, a value of the same length) — which
 * both counts it and signals it.
 *
 * @since 0.1.0
 */
export abstract class Container {
  /** Bytes counted for the container and what it holds (`memory.ts`). */
  bytes: number = overhead.container
  /** Set by the keyspace while the container is stored in it. */
  meter: Meter | undefined = undefined
  /** Set by the keyspace while the container is stored in it: tells that its key changed. */
  changed: (() => void) | undefined = undefined

  /** A copy holding the same elements, not stored anywhere (`COPY`). */
  abstract clone(): Container

  /** Counts `delta` more bytes, here and in the meter, and signals the change. */
  protected grow(delta: number): void {
    this.bytes += delta
    if (this.meter !== undefined) this.meter.bytes += delta
    if (this.changed !== undefined) this.changed()
  }
}

/**
 * An end of a list: `left` is its head (`LPUSH`, `LPOP`), `right` its tail.
 *
 * @since 0.1.0
 */
export type Side = "left" | "right"

/**
 * A list of byte strings.
 *
 * @since 0.1.0
 */
export class List extends Container {
  private items: Array<ByteString | undefined> = Array.from({ length: 8 })
  private head = 0
  private count = 0

  /** Number of elements. */
  get length(): number {
    return this.count
  }

  /** Adds `value` before the first element. */
  pushLeft(value: ByteString): void {
    if (this.count === this.items.length) this.resize(this.items.length * 2)
    this.head = (this.head - 1 + this.items.length) % this.items.length
    this.items[this.head] = value
    this.count++
    this.grow(overhead.listElement + value.length)
  }

  /** Adds `value` after the last element. */
  pushRight(value: ByteString): void {
    if (this.count === this.items.length) this.resize(this.items.length * 2)
    this.items[(this.head + this.count) % this.items.length] = value
    this.count++
    this.grow(overhead.listElement + value.length)
  }

  /** Removes and returns the first element. */
  popLeft(): ByteString | undefined {
    if (this.count === 0) return undefined
    const value = this.items[this.head]!
    this.items[this.head] = undefined
    this.head = (this.head + 1) % this.items.length
    this.count--
    this.shrink()
    this.grow(-overhead.listElement - value.length)
    return value
  }

  /** Removes and returns the last element. */
  popRight(): ByteString | undefined {
    if (this.count === 0) return undefined
    const at = (this.head + this.count - 1) % this.items.length
    const value = this.items[at]!
    this.items[at] = undefined
    this.count--
    this.shrink()
    this.grow(-overhead.listElement - value.length)
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
    return this.items[(this.head + index) % this.items.length]!
  }

  /** Elements `start` to `stop`, both included and within bounds. */
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

  // A list that grew large and was popped down gives its memory back.
  private shrink(): void {
    if (this.items.length > 64 && this.count < this.items.length / 4) this.resize(this.items.length / 2)
  }

  private resize(capacity: number): void {
    const items: Array<ByteString | undefined> = Array.from({ length: capacity })
    for (let i = 0; i < this.count; i++) items[i] = this.at(i)
    this.items = items
    this.head = 0
  }
}

/**
 * A set of byte strings: members in an array (for O(1) random access) and
 * their positions in a map; removal swaps the last member into the hole.
 *
 * @since 0.1.0
 */
export class MemberSet extends Container {
  private readonly members: Array<ByteString> = []
  private readonly positions = new Map<ByteString, number>()

  /** Number of members. */
  get size(): number {
    return this.members.length
  }

  /** Adds `member`; `true` if it was not there. */
  add(member: ByteString): boolean {
    if (this.positions.has(member)) return false
    this.positions.set(member, this.members.length)
    this.members.push(member)
    this.grow(overhead.setMember + member.length)
    return true
  }

  /** Whether `member` is in the set. */
  has(member: ByteString): boolean {
    return this.positions.has(member)
  }

  /** Removes `member`; `true` if it was there. */
  delete(member: ByteString): boolean {
    const at = this.positions.get(member)
    if (at === undefined) return false
    this.removeAt(at)
    return true
  }

  /** Removes and returns a member chosen by `random` (a number in [0, 1)). */
  popRandom(random: number): ByteString | undefined {
    if (this.members.length === 0) return undefined
    const at = Math.floor(random * this.members.length)
    const member = this.members[at]!
    this.removeAt(at)
    return member
  }

  /** All members, in no particular order. */
  toArray(): Array<ByteString> {
    return [...this.members]
  }

  /** A copy with the same members. */
  clone(): MemberSet {
    const copy = new MemberSet()
    for (const member of this.members) copy.add(member)
    return copy
  }

  private removeAt(at: number): void {
    const member = this.members[at]!
    const last = this.members.pop()!
    this.positions.delete(member)
    this.grow(-overhead.setMember - member.length)
    if (at < this.members.length) {
      this.members[at] = last
      this.positions.set(last, at)
    }
  }
}

/**
 * A hash: field to value.
 *
 * @since 0.1.0
 */
export class Hash extends Container {
  private readonly fields = new Map<ByteString, ByteString>()

  /** Number of fields. */
  get size(): number {
    return this.fields.size
  }

  /** The value of `field`, or `undefined`. */
  get(field: ByteString): ByteString | undefined {
    return this.fields.get(field)
  }

  /** Whether `field` is set. */
  has(field: ByteString): boolean {
    return this.fields.has(field)
  }

  /** Sets `field` to `value`. */
  set(field: ByteString, value: ByteString): void {
    const old = this.fields.get(field)
    this.fields.set(field, value)
    this.grow(old === undefined ? overhead.hashField + field.length + value.length : value.length - old.length)
  }

  /** Removes `field`; `true` if it was set. */
  delete(field: ByteString): boolean {
    const old = this.fields.get(field)
    if (old === undefined) return false
    this.fields.delete(field)
    this.grow(-overhead.hashField - field.length - old.length)
    return true
  }

  /** A copy with the same fields and values. */
  clone(): Hash {
    const copy = new Hash()
    for (const [field, value] of this.fields) copy.set(field, value)
    return copy
  }

  /** Fields and values, in insertion order, as `field, value, field, value…`. */
  flat(): Array<ByteString> {
    const out: Array<ByteString> = []
    for (const [field, value] of this.fields) out.push(field, value)
    return out
  }
}

/**
 * What a key holds.
 *
 * @since 0.1.0
 */
export type Value = ByteString | List | MemberSet | Hash

/**
 * The name `TYPE` replies with.
 *
 * @since 0.1.0
 */
export const typeName = (value: Value | undefined): "string" | "list" | "set" | "hash" | "none" =>
  value === undefined
    ? "none"
    : typeof value === "string"
    ? "string"
    : value instanceof List
    ? "list"
    : value instanceof MemberSet
    ? "set"
    : "hash"

/**
 * The bytes `memory.ts` counts for `value` under `key`, its TTL aside.
 *
 * @since 0.1.0
 */
export const entryBytes = (key: ByteString, value: Value): number =>
  overhead.key + key.length + (typeof value === "string" ? value.length : value.bytes)
