/**
 * Line framing over a byte stream: append chunks as they arrive, take the next
 * line or the next `n` bytes. No I/O and no Effect, so every rule here is
 * testable with plain values and property-tested against any chunking.
 *
 * Rules:
 * - `\n` ends a line; a `\r` right before it belongs to the terminator.
 * - A line whose content (without terminator) exceeds `maxLineLength` is
 *   reported as {@link TooLong} as soon as that is certain, whatever the
 *   chunking; the rest of that line is then skipped, so the next take starts
 *   at the following line.
 * - After {@link LineBuffer.end}, unterminated bytes are the final line; then
 *   every take reports {@link End}.
 * - Memory: bytes of an unfinished line are copied into one owned buffer that
 *   never grows past `maxLineLength + 2` for lines (or `n` for
 *   {@link LineBuffer.takeExactly}), so with the current chunk the buffer holds
 *   at most the limit plus one chunk.
 *
 * Lines that lie inside one chunk are returned as views of that chunk (no
 * copy); lines that span chunks are returned as a buffer the caller owns.
 * Either way the bytes are never reused by this module.
 *
 * @internal
 */
import { Buffer } from "node:buffer"

/** No complete frame is buffered: push more input (or call `end`). */
export const NeedMore = 0
/** The line being taken is longer than `maxLineLength`. */
export const TooLong = 1
/** The input has ended and nothing (or not enough, for `takeExactly`) is left. */
export const End = 2
/** Result of a take that produced no bytes. */
export type Outcome = typeof NeedMore | typeof TooLong | typeof End

const LF = 10
const CR = 13
const EMPTY = Buffer.alloc(0)

/**
 * Length of a line's content: the line without its `\n` or `\r\n`
 * terminator. A final line delivered at end of input has no terminator, so a
 * trailing `\r` there is content.
 */
export const contentLength = (line: Uint8Array): number => {
  const n = line.length
  if (n === 0 || line[n - 1] !== LF) return n
  return n >= 2 && line[n - 2] === CR ? n - 2 : n - 1
}

/** Buffered input of one connection, framed into lines or fixed-size blocks. */
export class LineBuffer {
  /** The limit passed to the constructor, in bytes of line content. */
  readonly maxLineLength: number
  /** The chunk being consumed, from `pos` on. */
  private head: Buffer = EMPTY
  private pos = 0
  /** Owned bytes that precede `head[pos]`: the start of an unfinished frame. */
  private carry: Buffer = EMPTY
  private carryLen = 0
  /** `carry[0, scanned)` is known to contain no `\n`. */
  private scanned = 0
  /** Skipping the rest of a line reported as too long. */
  private discarding = false
  private ended = false

  constructor(maxLineLength: number) {
    if (!Number.isSafeInteger(maxLineLength) || maxLineLength < 0) {
      throw new RangeError(`maxLineLength must be a non-negative integer, got ${maxLineLength}`)
    }
    this.maxLineLength = maxLineLength
  }

  /** Bytes buffered and not yet taken. */
  get buffered(): number {
    return this.carryLen + this.head.length - this.pos
  }

  /** Whether {@link end} was called. */
  get isEnded(): boolean {
    return this.ended
  }

  /** Appends a chunk of input. The chunk must not be modified afterwards. */
  push(chunk: Buffer): void {
    if (this.pos < this.head.length) this.stash(this.head.length, this.head.length - this.pos)
    this.head = chunk
    this.pos = 0
  }

  /** Marks the end of input. */
  end(): void {
    this.ended = true
  }

  /**
   * Takes the next line, terminator included exactly as received (`\n`,
   * `\r\n`, or none for a final unterminated line), or reports why it cannot.
   */
  takeLine(): Buffer | Outcome {
    if (this.discarding && !this.skipRestOfLine()) return this.ended ? End : NeedMore
    const max = this.maxLineLength
    if (this.scanned < this.carryLen) {
      // Only after an unfinished takeExactly left bytes here.
      const nl = this.carry.subarray(this.scanned, this.carryLen).indexOf(LF)
      if (nl !== -1) {
        const line = this.takeCarry(this.scanned + nl + 1)
        return contentLength(line) > max ? TooLong : line
      }
      this.scanned = this.carryLen
    }
    const head = this.head
    const start = this.pos
    const nl = head.indexOf(LF, start)
    if (nl !== -1) {
      const end = nl + 1
      const total = this.carryLen + end - start
      const beforeLf = nl > start ? head[nl - 1] : this.carry[this.carryLen - 1]
      if (total - 1 - (total >= 2 && beforeLf === CR ? 1 : 0) > max) {
        this.pos = end
        this.dropCarry()
        return TooLong
      }
      if (this.carryLen === 0) {
        this.pos = end
        return head.subarray(start, end)
      }
      this.stash(end, max + 2)
      return this.takeCarry(this.carryLen)
    }
    // No newline buffered: the whole rest is one unfinished line.
    const total = this.carryLen + head.length - start
    const last = head.length > start ? head[head.length - 1] : this.carry[this.carryLen - 1]
    if (this.ended) {
      if (total === 0) return End
      this.pos = head.length
      if (total > max) {
        this.dropCarry()
        return TooLong
      }
      if (this.carryLen === 0) return head.subarray(start)
      this.pos = start
      this.stash(head.length, total)
      return this.takeCarry(total)
    }
    // Over the limit even if a `\n` arrives next (a trailing `\r` may still
    // belong to the terminator): report now, keep nothing.
    if (total > max + 1 || (total === max + 1 && last !== CR)) {
      this.pos = head.length
      this.dropCarry()
      this.discarding = true
      return TooLong
    }
    this.stash(head.length, max + 2)
    this.scanned = this.carryLen
    return NeedMore
  }

  /**
   * Takes exactly `n` bytes, whatever they contain. At end of input with fewer
   * than `n` bytes left it reports {@link End} and leaves them for
   * {@link takeRest}.
   */
  takeExactly(n: number): Buffer | typeof NeedMore | typeof End {
    if (this.discarding && !this.skipRestOfLine()) return this.ended ? End : NeedMore
    if (n === 0) return EMPTY
    const inHead = this.head.length - this.pos
    if (this.carryLen === 0 && inHead >= n) {
      const start = this.pos
      this.pos += n
      return this.head.subarray(start, this.pos)
    }
    if (this.carryLen + inHead >= n) {
      if (this.carryLen < n) this.stash(this.pos + n - this.carryLen, n)
      return this.takeCarry(n)
    }
    if (this.ended) return End
    this.stash(this.head.length, n)
    return NeedMore
  }

  /** Takes every buffered byte (a copy), e.g. the partial frame left at end of input. */
  takeRest(): Buffer {
    this.stash(this.head.length, this.buffered)
    return this.takeCarry(this.carryLen)
  }

  /** Consumes input up to and including the next `\n`; false if none is buffered. */
  private skipRestOfLine(): boolean {
    const nl = this.head.indexOf(LF, this.pos)
    if (nl === -1) {
      this.pos = this.head.length
      return false
    }
    this.pos = nl + 1
    this.discarding = false
    return true
  }

  /** Moves `head[pos, end)` to the end of `carry`, growing it up to `ceiling` bytes at a time. */
  private stash(end: number, ceiling: number): void {
    const len = end - this.pos
    if (len === 0) return
    const need = this.carryLen + len
    if (need > this.carry.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, Math.min(Math.max(this.carry.length * 2, 256), ceiling)))
      this.carry.copy(grown, 0, 0, this.carryLen)
      this.carry = grown
    }
    this.head.copy(this.carry, this.carryLen, this.pos, end)
    this.carryLen = need
    this.pos = end
  }

  /** Removes the first `n` carried bytes and returns them as a buffer nobody else references. */
  private takeCarry(n: number): Buffer {
    if (n === this.carryLen) {
      const out = this.carry.subarray(0, n)
      this.carry = EMPTY
      this.carryLen = 0
      this.scanned = 0
      return out
    }
    const out = Buffer.from(this.carry.subarray(0, n))
    this.carry.copyWithin(0, n, this.carryLen)
    this.carryLen -= n
    this.scanned = Math.max(0, this.scanned - n)
    return out
  }

  private dropCarry(): void {
    this.carry = EMPTY
    this.carryLen = 0
    this.scanned = 0
  }
}
