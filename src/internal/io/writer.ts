/**
 * The write side of a connection: output batched in memory and handed to
 * the transport as one write per batch (when the fiber is about to wait, at
 * the high-water mark, on `flush`, at close), and the fibers waiting for the
 * transport to drain (any number: a writer fiber beside the reader).
 *
 * **Zero copy for echoes.** The last bytes written are kept apart while
 * further writes extend them in place: an echoed line is a view of the
 * input chunk, so consecutive lines of one chunk merge into one view and are
 * flushed without copying.
 *
 * @internal
 */
import { Buffer } from "node:buffer"
import type { Writable } from "node:stream"
import type { ConnectionError, WriteError } from "../../Errors.ts"
import type { Traffic } from "../serverSeries.ts"

/** Ends a wait for drain: with no argument when the output drained, else with the failure. */
export type DrainWaiter = (failure?: WriteError) => void

const LF = 10

/** The write side of one connection; see the module doc. */
export class Writer {
  /** The transport's output; replaced once by STARTTLS. */
  stream: Writable
  /** The output failed or was closed. */
  failure: ConnectionError | undefined = undefined
  /** Output is held (a TLS upgrade is under way): nothing is handed to the transport. */
  held = false
  /** Bytes this connection handed to the transport (see {@link written}). */
  bytesWritten = 0
  /** Lines this connection wrote (writes that end with `\n`). */
  linesWritten = 0
  private readonly highWaterMark: number
  private readonly lineEnding: string
  private readonly traffic: Traffic
  private pending: Array<string | Uint8Array> = []
  private pendingBytes = 0
  private run: Uint8Array | undefined = undefined
  private runLength = 0
  private waiters: Array<DrainWaiter> = []
  /** The waiters being woken now, so that one cancelled meanwhile is skipped. */
  private waking: Array<DrainWaiter | undefined> | undefined = undefined

  constructor(stream: Writable, highWaterMark: number, lineEnding: string, traffic: Traffic) {
    this.stream = stream
    this.highWaterMark = highWaterMark
    this.lineEnding = lineEnding
    this.traffic = traffic
  }

  /** Bytes written and not yet sent: the batch, and what the transport still queues. */
  get queued(): number {
    return this.pendingBytes + this.stream.writableLength
  }

  /** Bytes the handler wrote: handed to the transport, or still in the batch. */
  get written(): number {
    return this.bytesWritten + this.pendingBytes
  }

  /** Whether any fiber waits for drain. */
  get draining(): boolean {
    return this.waiters.length > 0
  }

  /** Adds output to the batch; true when the batch reached the high-water mark. */
  enqueue(data: string | Uint8Array): boolean {
    let size: number
    if (typeof data === "string") {
      size = Buffer.byteLength(data)
      this.closeRun()
      this.pending.push(data)
      if (data.charCodeAt(data.length - 1) === LF) this.lineWritten()
    } else {
      size = data.length
      const run = this.run
      if (run !== undefined && data.buffer === run.buffer && data.byteOffset === run.byteOffset + this.runLength) {
        this.runLength += size
      } else {
        this.closeRun()
        this.run = data
        this.runLength = size
      }
      if (data[size - 1] === LF) this.lineWritten()
    }
    this.pendingBytes += size
    return this.pendingBytes >= this.highWaterMark
  }

  /** Adds a line and the line ending to the batch; true at the high-water mark. */
  enqueueLine(line: string | Uint8Array): boolean {
    this.closeRun()
    const ending = this.lineEnding
    this.pending.push(line, ending)
    this.pendingBytes += (typeof line === "string" ? Buffer.byteLength(line) : line.length) + ending.length
    this.lineWritten()
    return this.pendingBytes >= this.highWaterMark
  }

  /**
   * Hands the batch to the transport (one write). False while the transport
   * is above its high-water mark, the output is held, or it failed.
   */
  flush(): boolean {
    if (this.failure !== undefined || this.held) return false
    const stream = this.stream
    if (this.pendingBytes === 0) return !stream.writableNeedDrain
    return stream.write(this.takeBatch())
  }

  /** Drops the batch (an abortive end: nothing more will be sent). */
  discard(): void {
    this.pending.length = 0
    this.pendingBytes = 0
    this.run = undefined
  }

  /** The batch as one buffer; the batch is then empty. */
  takeBatch(): Uint8Array {
    this.closeRun()
    const pending = this.pending
    let batch: Uint8Array
    if (pending.length === 1 && typeof pending[0] !== "string") {
      batch = pending[0]!
    } else {
      const buffer = Buffer.allocUnsafe(this.pendingBytes)
      let offset = 0
      for (let i = 0; i < pending.length; i++) {
        const piece = pending[i]!
        if (typeof piece === "string") {
          offset += buffer.write(piece, offset)
        } else {
          buffer.set(piece, offset)
          offset += piece.length
        }
      }
      batch = buffer
    }
    this.traffic.bytesWritten += this.pendingBytes
    this.bytesWritten += this.pendingBytes
    pending.length = 0
    this.pendingBytes = 0
    return batch
  }

  /** Parks `waiter` until the transport drains (or fails). */
  park(waiter: DrainWaiter): void {
    this.waiters.push(waiter)
  }

  /** Forgets a waiting fiber (it was interrupted). */
  cancel(waiter: DrainWaiter): void {
    const index = this.waiters.indexOf(waiter)
    if (index !== -1) this.waiters.splice(index, 1)
    const waking = this.waking?.indexOf(waiter) ?? -1
    if (waking !== -1) this.waking![waking] = undefined
  }

  /** Wakes every drain waiter: drained, or with `failure`. */
  wake(failure?: WriteError): void {
    if (this.waiters.length === 0) return
    const waiters: Array<DrainWaiter | undefined> = this.waiters
    this.waiters = []
    this.waking = waiters
    try {
      // A resumed fiber runs at once, inside this loop, and may interrupt
      // another waiter of the list (a writer's failure ending the reader it
      // races): `cancel` marks it, and it is skipped.
      for (let i = 0; i < waiters.length; i++) {
        const waiter = waiters[i]
        waiters[i] = undefined
        waiter?.(failure)
      }
    } finally {
      this.waking = undefined
    }
  }

  private lineWritten(): void {
    this.linesWritten++
    this.traffic.linesWritten++
  }

  /** Moves the run of merged views into the batch. */
  private closeRun(): void {
    const run = this.run
    if (run === undefined) return
    this.pending.push(this.runLength === run.length ? run : Buffer.from(run.buffer, run.byteOffset, this.runLength))
    this.run = undefined
  }
}
