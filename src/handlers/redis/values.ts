/**
 * The four kinds of value a key holds, and the containers behind them:
 *
 * - a string: a {@link ByteString};
 * - a list: a {@link List}, a ring-buffer deque (O(1) push and pop at both
 *   ends, O(1) indexing for `LRANGE` and `LINDEX`);
 * - a set: a {@link MemberSet} (`values/set.ts`), with O(1) membership and
 *   O(1) access by position (random picks, cursors);
 * - a hash: a {@link Hash} (`values/hash.ts`), the same for fields.
 *
 * Containers are never empty in the keyspace: the command that removes the
 * last element deletes the key, as Redis does. Each knows its size as
 * `memory.ts` counts it, and while it is in the keyspace reports every
 * change to the keyspace's total (its {@link Container.meter};
 * `values/container.ts`). This module re-exports the containers that live in
 * modules of their own.
 *
 * @since 0.1.0
 */
import type { ByteString } from "./bytes.ts"
import { overhead } from "./memory.ts"
import { Container } from "./values/container.ts"
import { Hash } from "./values/hash.ts"
import { MemberSet } from "./values/set.ts"

export { Container, Hash, MemberSet }

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
