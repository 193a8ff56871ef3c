/**
 * The hash value: fields and their values in two parallel arrays, for O(1)
 * access by position (random picks for `HRANDFIELD`, cursors for `HSCAN`),
 * and each field's position in a map. Removal moves the last field into the
 * hole, as the set does (`values/set.ts`).
 *
 * @since 0.1.0
 */
import type { ByteString } from "../bytes.ts"
import { overhead } from "../memory.ts"
import { Container } from "./container.ts"

/**
 * A hash: field to value.
 *
 * **Gotchas**
 *
 * Fields are in insertion order until one is removed; then the last one
 * takes the removed one's position.
 *
 * @since 0.1.0
 */
export class Hash extends Container {
  private readonly names: Array<ByteString> = []
  private readonly values: Array<ByteString> = []
  private readonly positions = new Map<ByteString, number>()

  /** Number of fields. */
  get size(): number {
    return this.names.length
  }

  /** The value of `field`, or `undefined`. */
  get(field: ByteString): ByteString | undefined {
    const at = this.positions.get(field)
    return at === undefined ? undefined : this.values[at]
  }

  /** Whether `field` is set. */
  has(field: ByteString): boolean {
    return this.positions.has(field)
  }

  /** Sets `field` to `value`; `true` if the field was not set before. */
  set(field: ByteString, value: ByteString): boolean {
    const at = this.positions.get(field)
    if (at === undefined) {
      this.positions.set(field, this.names.length)
      this.names.push(field)
      this.values.push(value)
      this.grow(overhead.hashField + field.length + value.length)
      return true
    }
    this.grow(value.length - this.values[at]!.length)
    this.values[at] = value
    return false
  }

  /** Removes `field`; `true` if it was set. */
  delete(field: ByteString): boolean {
    const at = this.positions.get(field)
    if (at === undefined) return false
    this.grow(-overhead.hashField - field.length - this.values[at]!.length)
    this.positions.delete(field)
    const lastName = this.names.pop()!
    const lastValue = this.values.pop()!
    if (at < this.names.length) {
      this.names[at] = lastName
      this.values[at] = lastValue
      this.positions.set(lastName, at)
    }
    return true
  }

  /** The field at position `index` (0 ≤ index < size). */
  fieldAt(index: number): ByteString {
    return this.names[index]!
  }

  /** The value of the field at position `index` (0 ≤ index < size). */
  valueAt(index: number): ByteString {
    return this.values[index]!
  }

  /** The fields, by position, without a copy: read it before the hash changes again. */
  fieldsView(): ReadonlyArray<ByteString> {
    return this.names
  }

  /** The values, by position (as {@link fieldsView}), without a copy. */
  valuesView(): ReadonlyArray<ByteString> {
    return this.values
  }

  /** A copy with the same fields and values, in the same positions. */
  clone(): Hash {
    const copy = new Hash()
    for (let i = 0; i < this.names.length; i++) copy.set(this.names[i]!, this.values[i]!)
    return copy
  }

  /** Fields and values, by position, as `field, value, field, value…`. */
  flat(): Array<ByteString> {
    const out: Array<ByteString> = []
    for (let i = 0; i < this.names.length; i++) out.push(this.names[i]!, this.values[i]!)
    return out
  }
}
