/**
 * What lists, sets and hashes share: their counted size, and the meter that
 * size goes to while they are in the keyspace. A module of its own, under
 * `values.ts` (which re-exports it), so that each container's module can
 * extend it without importing `values.ts`, which imports them all.
 *
 * @since 0.1.0
 */
import { type Meter, overhead } from "../memory.ts"

/**
 * A value that holds elements: it counts its bytes as `memory.ts` estimates
 * them and, while the keyspace holds it, reports every change to the
 * keyspace's total (its {@link Container.meter}) and signals it to `WATCH`
 * (its {@link Container.changed}). Every change goes through
 * {@link Container.grow} — with 0 when it changes nothing counted (a value of
 * the same length) — which does both.
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
