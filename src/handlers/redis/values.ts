/**
 * The kinds of value a key holds, and the containers behind them:
 *
 * - a string: a {@link ByteString};
 * - a list: a {@link List} (`values/list.ts`), a ring-buffer deque (O(1)
 *   push and pop at both ends, O(1) indexing for `LRANGE` and `LINDEX`);
 * - a set: a {@link MemberSet}, whose random pop is O(1) (`SPOP`);
 * - a hash: a {@link Hash}, a `Map` from field to value;
 * - a sorted set: a {@link SortedSet} (`values/zset.ts`), members by name
 *   and in order of score (a skip list, `values/skiplist.ts`).
 *
 * Containers are never empty in the keyspace: the command that removes the
 * last element deletes the key, as Redis does. Each knows its size as
 * `memory.ts` counts it, and while it is in the keyspace reports every
 * change to the keyspace's total (its {@link Container.meter}).
 *
 * @since 0.1.0
 */
import type { ByteString } from "./bytes.ts"
import { overhead } from "./memory.ts"
import { Container } from "./values/container.ts"
import { List } from "./values/list.ts"
import { SortedSet } from "./values/zset.ts"

export { Container } from "./values/container.ts"
export { List, type Side } from "./values/list.ts"
export { SortedSet } from "./values/zset.ts"

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
export type Value = ByteString | List | MemberSet | Hash | SortedSet

/**
 * The name `TYPE` replies with.
 *
 * @since 0.1.0
 */
export const typeName = (value: Value | undefined): "string" | "list" | "set" | "hash" | "zset" | "none" =>
  value === undefined
    ? "none"
    : typeof value === "string"
    ? "string"
    : value instanceof List
    ? "list"
    : value instanceof MemberSet
    ? "set"
    : value instanceof SortedSet
    ? "zset"
    : "hash"

/**
 * The bytes `memory.ts` counts for `value` under `key`, its TTL aside.
 *
 * @since 0.1.0
 */
export const entryBytes = (key: ByteString, value: Value): number =>
  overhead.key + key.length + (typeof value === "string" ? value.length : value.bytes)
