/**
 * The set value: members in an array, for O(1) access by position (random
 * picks for `SPOP` and `SRANDMEMBER`, cursors for `SSCAN`), and their
 * positions in a map, for O(1) membership. Removal moves the last member into
 * the hole, so positions change only for that one member.
 *
 * @since 0.1.0
 */
import type { ByteString } from "../bytes.ts"
import { overhead } from "../memory.ts"
import { Container } from "./container.ts"

/**
 * A set of byte strings.
 *
 * **Gotchas**
 *
 * Members are in insertion order until one is removed; then the last one
 * takes the removed one's position.
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

  /** The member at position `index` (0 ≤ index < size). */
  at(index: number): ByteString {
    return this.members[index]!
  }

  /** Removes and returns a member chosen by `random` (a number in [0, 1)). */
  popRandom(random: number): ByteString | undefined {
    if (this.members.length === 0) return undefined
    const at = Math.floor(random * this.members.length)
    const member = this.members[at]!
    this.removeAt(at)
    return member
  }

  /**
   * The members, by position, without a copy: read it before the set
   * changes again (within the command).
   */
  view(): ReadonlyArray<ByteString> {
    return this.members
  }

  /** The members, by position, as a copy. */
  toArray(): Array<ByteString> {
    return [...this.members]
  }

  /** A copy with the same members, in the same positions. */
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
