/**
 * What lists, sets and hashes share: a count of their bytes as `memory.ts`
 * estimates them, reported to the keyspace's total while they are stored in
 * it. A module of its own so that each container's module and `values.ts`
 * (which re-exports them all) can import it without an import cycle.
 *
 * @since 0.1.0
 */
import { type Meter, overhead } from "../memory.ts"

/**
 * A container's counted size, and the meter that size goes to while it is
 * in the keyspace.
 *
 * @since 0.1.0
 */
export abstract class Container {
  /** Bytes counted for the container and what it holds (`memory.ts`). */
  bytes: number = overhead.container
  /** Set by the keyspace while the container is stored in it. */
  meter: Meter | undefined = undefined

  /** Counts `delta` more bytes, here and in the meter. */
  protected grow(delta: number): void {
    this.bytes += delta
    if (this.meter !== undefined) this.meter.bytes += delta
  }
}
