/**
 * The one input buffer of a connection: the bytes received and not yet
 * taken, as one contiguous `Buffer` that decoders read (`Decoder.Input`).
 * No I/O and no Effect.
 *
 * **Memory.** A chunk appended to an empty buffer becomes the buffer (no
 * copy), so frames inside one chunk are views of it. A chunk appended behind
 * leftover bytes (a frame cut by the chunking) is copied into an owned
 * buffer, grown by doubling (or to what a decoder `reserve`d), so each byte
 * is copied a bounded number of times. Bytes handed out as frames are never
 * written again: an owned buffer is only ever appended to past its end, and
 * replaced, never compacted.
 *
 * **Discarding.** After an over-long frame a decoder may ask for the input
 * to be dropped up to a delimiter (`discardThrough`); chunks are then
 * dropped as they are appended, before any decoder sees them, so nothing of
 * the rejected frame is held.
 *
 * @internal
 */
import { Buffer } from "node:buffer"
import type { Input } from "./decoding.ts"

const EMPTY = Buffer.alloc(0)

/** Smallest owned buffer allocated to join leftover bytes with a new chunk. */
const minimumOwned = 1024

/** The bytes of one connection that decoders take frames from; see the module doc. */
export class InputBuffer implements Input {
  bytes: Buffer = EMPTY
  start = 0
  ended = false
  state: unknown = undefined
  /** The whole allocation behind `bytes` when it is ours (its tail past `bytes` is unused), else `undefined`. */
  private owned: Buffer | undefined
  /** Capacity a decoder asked for, counted from `start`. */
  private reserved = 0
  /** Drop input through this delimiter before decoding (`undefined`: not discarding). */
  private discarding: Buffer | undefined
  /** The end of the input dropped so far, which may hold the start of the delimiter. */
  private discardTail: Buffer = EMPTY

  get length(): number {
    return this.bytes.length - this.start
  }

  /** Appends a received chunk; it must not be modified afterwards. */
  append(chunk: Buffer): void {
    if (this.discarding !== undefined) {
      const rest = this.dropThroughDelimiter(chunk)
      if (rest === undefined) return
      chunk = rest
    }
    const left = this.bytes.length - this.start
    if (left === 0) {
      this.bytes = chunk
      this.start = 0
      this.owned = undefined
      return
    }
    if (chunk.length === 0) return
    const used = this.bytes.length
    const owned = this.owned
    if (owned !== undefined && owned.length - used >= chunk.length) {
      chunk.copy(owned, used)
      this.bytes = owned.subarray(0, used + chunk.length)
      return
    }
    const need = left + chunk.length
    // Room to double what was received, but never past what a decoder said
    // the frame needs: memory follows the bytes that arrive, not a length a
    // peer announces.
    const room = Math.max(2 * need, minimumOwned)
    const grown = Buffer.allocUnsafe(this.reserved >= need ? Math.min(this.reserved, room) : room)
    this.bytes.copy(grown, 0, this.start, used)
    chunk.copy(grown, left)
    this.owned = grown
    this.bytes = grown.subarray(0, need)
    this.start = 0
  }

  /** Marks the end of input: no byte will be appended any more. */
  end(): void {
    this.ended = true
  }

  take(n: number): Buffer {
    const from = this.start
    const to = from + n
    const bytes = this.bytes
    if (n < 0 || to > bytes.length) throw new RangeError(`take(${n}) with ${this.length} bytes buffered`)
    this.consumed(to)
    return bytes.subarray(from, to)
  }

  skip(n: number): void {
    const to = this.start + n
    if (n < 0 || to > this.bytes.length) throw new RangeError(`skip(${n}) with ${this.length} bytes buffered`)
    this.consumed(to)
  }

  indexOf(byte: number, from = 0): number {
    const at = this.bytes.indexOf(byte, this.start + from)
    return at === -1 ? -1 : at - this.start
  }

  reserve(total: number): void {
    this.reserved = total
  }

  discardThrough(delimiter: number | Uint8Array): void {
    const pattern = typeof delimiter === "number" ? Buffer.of(delimiter) : Buffer.from(delimiter)
    const untaken = this.bytes.subarray(this.start)
    this.skip(this.length)
    this.discarding = pattern
    this.discardTail = EMPTY
    const rest = this.dropThroughDelimiter(untaken)
    if (rest !== undefined && rest.length > 0) this.append(rest)
  }

  /**
   * Drops `chunk` through the delimiter being discarded through: the bytes
   * after it, or `undefined` if it is not there yet (then the chunk's end is
   * kept, in case the delimiter straddles two chunks).
   */
  private dropThroughDelimiter(chunk: Buffer): Buffer | undefined {
    const pattern = this.discarding!
    const tail = this.discardTail
    const joined = tail.length === 0 ? chunk : Buffer.concat([tail, chunk])
    const at = joined.indexOf(pattern)
    if (at === -1) {
      const keep = Math.min(pattern.length - 1, joined.length)
      this.discardTail = Buffer.from(joined.subarray(joined.length - keep))
      return undefined
    }
    this.discarding = undefined
    this.discardTail = EMPTY
    return chunk.subarray(at + pattern.length - tail.length)
  }

  /** Every byte still buffered, copied (the partial frame left at end of input). */
  takeRest(): Buffer {
    const rest = Buffer.from(this.bytes.subarray(this.start))
    this.consumed(this.bytes.length)
    return rest
  }

  /** Drops everything and holds no memory any more (the connection is released). */
  clear(): void {
    this.bytes = EMPTY
    this.start = 0
    this.owned = undefined
    this.reserved = 0
    this.state = undefined
    this.discarding = undefined
    this.discardTail = EMPTY
  }

  /** Bytes before `to` were taken: a frame ends there, so the decoding state and reservation go. */
  private consumed(to: number): void {
    this.state = undefined
    this.reserved = 0
    if (to === this.bytes.length) {
      // Nothing left: let go of the chunk (its views stay valid for whoever holds them).
      this.bytes = EMPTY
      this.start = 0
      this.owned = undefined
    } else {
      this.start = to
    }
  }
}
