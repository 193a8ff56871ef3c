/**
 * The read side of a connection: chunks from the transport's input, queued
 * as they arrive and moved into the one {@link InputBuffer} when a decoder
 * needs more, with a bounded read-ahead.
 *
 * **Read-ahead.** The input flows (its `data` events arrive straight from the
 * socket read, with no extra tick, which a paused-mode `readable` pull would
 * add) and is paused once {@link readAhead} bytes wait in the queue, so a
 * handler that stops reading makes TCP push back while memory stays bounded.
 * Below that bound the input is read even while the handler does something
 * else, so the end of input (or a reset) is seen by a handler that waits for
 * it (`awaitInputEnd`), with frames before it still unread.
 *
 * **Chunks are appended lazily**: a chunk queued behind a partial frame is
 * joined to it only when the decoder asks, so a handler that lags copies
 * nothing more than one that keeps up.
 *
 * @internal
 */
import { Buffer } from "node:buffer"
import type { Readable } from "node:stream"
import type { ConnectionError } from "../../Errors.ts"
import { InputBuffer } from "./inputBuffer.ts"

/** Input bytes received ahead of the handler before the input is paused. */
export const readAhead = 64 * 1024

/** The read side of one connection; see the module doc. */
export class Reader {
  readonly input = new InputBuffer()
  /** The transport's input; replaced once by STARTTLS. */
  stream: Readable
  /** The stream said 'end': once the queue is empty, the input ends. */
  streamEnded = false
  /** The input failed (a reset, a stream error, a close before its end). */
  failure: ConnectionError | undefined = undefined
  /** Chunks received so far: tells the shutdown's quiet check whether input came meanwhile. */
  chunksReceived = 0
  /** Bytes received so far. */
  bytesReceived = 0
  /** Chunks received and not yet appended, oldest first, from `head` on (cheaper than `shift`). */
  private queue: Array<Buffer> = []
  private head = 0
  private queued = 0
  private paused = false

  constructor(stream: Readable) {
    this.stream = stream
  }

  /**
   * Moves input that is available now into the buffer: one queued chunk, or
   * the end of input. False when there is none.
   */
  fill(): boolean {
    if (this.input.ended) return false
    if (this.head < this.queue.length) {
      const chunk = this.queue[this.head++]!
      if (this.head === this.queue.length) {
        this.queue.length = 0
        this.head = 0
      }
      this.queued -= chunk.length
      if (this.paused && this.queued < readAhead) {
        this.paused = false
        this.stream.resume()
      }
      this.input.append(chunk)
      return true
    }
    if (this.streamEnded && this.failure === undefined) {
      this.input.end()
      return true
    }
    return false
  }

  /** Whether there is input to move into the buffer ({@link fill} would succeed). */
  get hasMore(): boolean {
    return this.head < this.queue.length || (this.streamEnded && !this.input.ended && this.failure === undefined)
  }

  /** Bytes received that the handler has not taken, wherever they wait (the stream's own buffer included). */
  get unread(): number {
    return this.input.length + this.queued + this.stream.readableLength
  }

  /** A chunk arrived. */
  received(chunk: Buffer): void {
    this.chunksReceived++
    this.bytesReceived += chunk.length
    this.queue.push(chunk)
    this.queued += chunk.length
    if (this.queued >= readAhead && !this.paused) {
      this.paused = true
      this.stream.pause()
    }
  }

  /**
   * Every byte received and not taken, oldest first, taken out (TLS
   * follows a PROXY header in the same bytes: they are the handshake's).
   */
  takeUnread(): Buffer {
    const chunks: Array<Buffer> = []
    if (this.input.length > 0) chunks.push(this.input.take(this.input.length))
    for (let i = this.head; i < this.queue.length; i++) chunks.push(this.queue[i]!)
    this.drop()
    return Buffer.concat(chunks)
  }

  /** Stops reading and forgets every byte received (STARTTLS refused them, or the connection is released). */
  drop(): void {
    this.queue = []
    this.head = 0
    this.queued = 0
    this.input.clear()
  }

  /** Runs over `stream` from now on (STARTTLS: the TLS socket); it starts unpaused. */
  replaceStream(stream: Readable): void {
    this.stream = stream
    this.paused = false
  }
}
