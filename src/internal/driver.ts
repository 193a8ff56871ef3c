/**
 * The I/O state of one connection: its framed input, its pending output, and
 * the fibers parked on it: at most one reader waiting for input (reads of one
 * connection are sequential), and any number of fibers waiting for output to
 * drain. Everything here is synchronous; `Connection` wraps it in Effects.
 * Keeping the state in one place is what makes the hot path cheap: a line
 * already buffered is returned without suspending, and output is handed to
 * the transport once per batch, when the fiber is about to wait.
 *
 * Timeouts do not cost a timer per wait: a wait records when it started,
 * and a watchdog fiber sleeping on Effect's `Clock` (so `TestClock` drives
 * it) checks the earliest deadline; it is started only when no watchdog is
 * due at or before a new wait's deadline.
 *
 * The transport can be swapped once, for STARTTLS: the driver detaches from
 * the plaintext socket, holds output, and attaches to the TLS socket over it
 * (see `startTls.ts` for the order and why).
 *
 * @internal
 */
import { Buffer } from "node:buffer"
import type * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import {
  ConnectionError,
  IdleTimeout,
  LineTimeout,
  ServerShuttingDown,
  type LineWaitError,
  type WriteError,
  WriteTimeout
} from "../services/Errors.ts"
import { type Endpoint, timerMillis } from "./endpoint.ts"
import { LineBuffer } from "./lineBuffer.ts"
import { type Traffic, trafficFor } from "./traffic.ts"

/** Limits of one connection, already validated. */
export interface Limits {
  readonly maxLineLength: number
  readonly idleTimeout: Duration.Duration | undefined
  readonly lineTimeout: Duration.Duration | undefined
  readonly writeTimeout: Duration.Duration
  readonly writeHighWaterMark: number
  readonly lingerTimeout: Duration.Duration
  /** What `writeLine` appends. */
  readonly lineEnding: "\n" | "\r\n"
}

/**
 * Ends a wait: with no argument when it may go on (input may be available,
 * output drained), or with the typed failure that ended it.
 */
export type Resume<E = LineWaitError> = (failure?: E) => void

const LF = 10
const EMPTY = new Uint8Array(0)

/** Input bytes received ahead of the handler before the input is paused. */
const readAhead = 64 * 1024

const toConnectionError = (operation: "read" | "write", cause: unknown): ConnectionError =>
  new ConnectionError({
    operation,
    cause,
    ...(cause instanceof Error && "code" in cause && typeof cause.code === "string" ? { code: cause.code } : {})
  })

const closedError = (operation: "read" | "write"): ConnectionError =>
  new ConnectionError({ operation, code: "ECLOSED", cause: new Error("connection closed") })

/** The synchronous core of a connection. */
export class Driver {
  readonly lines: LineBuffer
  readonly limits: Limits
  /** Whether the connection was told the server is shutting down. */
  shuttingDown = false
  /** A write timed out: the peer does not read, so the connection cannot be flushed. */
  stalled = false
  /** The handler aborted the connection. */
  aborted = false
  /** Totals this connection adds to (the metrics read them). */
  readonly traffic: Traffic

  /** The transport; replaced once by `startTls` (see {@link beginUpgrade}). */
  private endpoint: Endpoint
  /** Input and output are one stream (a socket): one 'error', one 'close'. */
  private duplex: boolean
  private readonly clock: Clock.Clock
  private readonly context: Context.Context<never>
  private readonly idleMillis: number | undefined
  private readonly lineMillis: number | undefined
  private readonly writeMillis: number
  private readonly lingerMillis: number
  private pending: Array<string | Uint8Array> = []
  private pendingBytes = 0
  /**
   * The last pending bytes, kept apart while writes extend them in place:
   * an echoed line is a view of the input chunk, so consecutive lines of one
   * chunk merge into one view and are flushed without copying.
   */
  private run: Uint8Array | undefined
  private runLength = 0
  private inputEnded = false
  /**
   * Chunks received and not yet framed, oldest first. The input flows (its
   * 'data' events arrive straight from the socket read, no extra tick) and is
   * paused once {@link readAhead} bytes wait here, so a handler that stops
   * reading makes TCP push back while memory stays bounded.
   */
  private incoming: Array<Buffer> = []
  /** Index of the oldest unread chunk in `incoming` (cheaper than `shift`). */
  private incomingHead = 0
  private incomingBytes = 0
  private inputPaused = false
  private inputFailure: ConnectionError | undefined
  private outputFailure: ConnectionError | undefined
  private released = false
  /** The reader waiting for input, and since when (for the idle timeout). */
  private inputWaiter: Resume | undefined
  private inputWaitSince = 0
  /**
   * Since when a line has been waiting to be completed: set by the first
   * wait of a line read that finds part of a line buffered, cleared when a
   * frame is taken ({@link frameTaken}).
   */
  private lineStartedAt: number | undefined
  /** Fibers waiting for output to drain, and since when the first waits. */
  private drainWaiters: Array<Resume> = []
  /** The drain waiters being woken now, so that one cancelled meanwhile is skipped. */
  private waking: Array<Resume | undefined> | undefined
  private drainWaitSince = 0
  private watchdog: Fiber.Fiber<void> | undefined
  /** When the running watchdog checks the deadlines (`Infinity`: none runs). */
  private watchdogDeadline = Infinity
  private watchdogGeneration = 0
  /** Chunks received so far: tells a quiet check whether input came meanwhile. */
  private chunksReceived = 0
  private quietCheckPending = false
  /** The reader was failed with `ServerShuttingDown` and has not read since. */
  private shutdownNotified = false
  /**
   * A TLS upgrade is under way: output is held (no plaintext may follow the
   * reply that let the peer start its handshake) until the TLS transport is
   * attached.
   */
  private upgrading = false

  constructor(endpoint: Endpoint, limits: Limits, clock: Clock.Clock, context: Context.Context<never>) {
    this.endpoint = endpoint
    this.duplex = (endpoint.input as unknown) === endpoint.output
    this.limits = limits
    this.clock = clock
    this.context = context
    this.lines = new LineBuffer(limits.maxLineLength)
    this.traffic = trafficFor(context)
    this.idleMillis = limits.idleTimeout === undefined ? undefined : Duration.toMillis(limits.idleTimeout)
    this.lineMillis = limits.lineTimeout === undefined ? undefined : Duration.toMillis(limits.lineTimeout)
    this.writeMillis = Duration.toMillis(limits.writeTimeout)
    this.lingerMillis = Duration.toMillis(limits.lingerTimeout)
    this.attach()
  }

  /** The peer, for logs. */
  get peer(): string {
    return this.endpoint.peer
  }

  /** The peer's network address, if it has one. */
  get remoteAddress(): Endpoint["remoteAddress"] {
    return this.endpoint.remoteAddress
  }

  /** The socket under the transport, which TLS can run over; `undefined` for stdio and memory. */
  get socket(): Endpoint["socket"] {
    return this.endpoint.socket
  }

  /** What TLS negotiated, when the transport is TLS. */
  get tls(): Endpoint["tls"] {
    return this.endpoint.tls
  }

  /** Whether the transport failed (reset, broken pipe, closed under us). */
  get failed(): boolean {
    return this.inputFailure !== undefined || this.outputFailure !== undefined
  }

  /**
   * Moves input that is available now into the line buffer. False when there
   * is none: the caller then waits with {@link awaitInput}.
   */
  fill(): boolean {
    if (this.lines.isEnded) return false
    if (this.incomingHead < this.incoming.length) {
      const chunk = this.incoming[this.incomingHead++]!
      if (this.incomingHead === this.incoming.length) {
        this.incoming.length = 0
        this.incomingHead = 0
      }
      this.incomingBytes -= chunk.length
      if (this.inputPaused && this.incomingBytes < readAhead) {
        this.inputPaused = false
        this.endpoint.input.resume()
      }
      this.lines.push(chunk)
      this.traffic.bytesRead += chunk.length
      return true
    }
    if (this.inputEnded && this.inputFailure === undefined) {
      this.lines.end()
      return true
    }
    return false
  }

  /** A line or block was taken: the next line's deadline starts with its first wait. */
  frameTaken(): void {
    this.lineStartedAt = undefined
  }

  /**
   * Called when the handler needs input that is not there. Flushes pending
   * output first (the fiber is about to suspend), waits for it to drain if
   * the peer is slow, then parks until input may be available. `inLine`: the
   * read is a line read, so a partly received line is subject to the line
   * timeout.
   */
  awaitInput(resume: Resume, inLine: boolean): void {
    this.syncFailures()
    if (this.inputFailure !== undefined) return resume(this.inputFailure)
    if (!this.flushPending()) {
      if (this.outputFailure !== undefined) return resume(this.outputFailure)
      return this.parkForDrain(resume)
    }
    // Input may have arrived during the flush (a peer answering at once).
    if (this.incomingHead < this.incoming.length || this.inputEnded) return resume()
    this.shutdownNotified = false
    this.inputWaiter = resume
    if (this.shuttingDown) this.awaitQuiet()
    if (this.idleMillis === undefined && this.lineMillis === undefined) return
    const now = this.clock.currentTimeMillisUnsafe()
    this.inputWaitSince = now
    if (inLine && this.lines.buffered > 0) this.lineStartedAt ??= now
    this.armWatchdog(this.inputDeadline)
  }

  /** Adds output to the pending batch; true when the batch reached the high-water mark. */
  enqueue(data: string | Uint8Array): boolean {
    let size: number
    if (typeof data === "string") {
      size = Buffer.byteLength(data)
      this.closeRun()
      this.pending.push(data)
      if (data.charCodeAt(data.length - 1) === LF) this.traffic.linesWritten++
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
      if (data[size - 1] === LF) this.traffic.linesWritten++
    }
    this.pendingBytes += size
    return this.pendingBytes >= this.limits.writeHighWaterMark
  }

  /** Adds a line and the line ending to the pending batch; true at the high-water mark. */
  enqueueLine(line: string | Uint8Array): boolean {
    this.closeRun()
    const ending = this.limits.lineEnding
    this.pending.push(line, ending)
    this.pendingBytes += (typeof line === "string" ? Buffer.byteLength(line) : line.length) + ending.length
    this.traffic.linesWritten++
    return this.pendingBytes >= this.limits.writeHighWaterMark
  }

  /**
   * The failure a write must report now, if the output is known to be gone.
   * (A failure not yet noticed surfaces at the next flush.)
   */
  get writeFailure(): ConnectionError | undefined {
    return this.outputFailure
  }

  /** Hands pending output to the transport and resumes once it is below its high-water mark. */
  awaitDrain(resume: Resume<WriteError>): void {
    this.syncFailures()
    if (this.flushPending()) return resume()
    if (this.outputFailure !== undefined) return resume(this.outputFailure)
    // Sound: a drain wait is only ever failed with WriteTimeout or ConnectionError.
    this.parkForDrain(resume as Resume)
  }

  /** Forgets a waiting fiber (it was interrupted). */
  cancel(resume: Resume | Resume<WriteError>): void {
    // Compared by identity only, so the narrower drain type is fine here.
    const waiter = resume as Resume
    if (this.inputWaiter === waiter) this.inputWaiter = undefined
    const index = this.drainWaiters.indexOf(waiter)
    if (index !== -1) this.drainWaiters.splice(index, 1)
    const waking = this.waking?.indexOf(waiter) ?? -1
    if (waking !== -1) this.waking![waking] = undefined
  }

  /**
   * Server shutdown has begun: from now on a read that waits fails with
   * `ServerShuttingDown` once the connection is quiet (see
   * {@link awaitQuiet}), including the one parked now.
   */
  shutdown(): void {
    this.shuttingDown = true
    if (this.inputWaiter !== undefined) this.awaitQuiet()
  }

  /**
   * STARTTLS, step one: stops reading the transport, lets go of it, and
   * holds output from now on. Returns what was received and not yet taken
   * by the handler — in the line buffer, the queued chunks or the input
   * stream's own buffer — and whether the input ended; or the transport's
   * failure. Bytes found here were sent after the command that asked for TLS
   * and before the reply to it, in plaintext: they must never be read as if
   * they had come over TLS.
   */
  beginUpgrade(): { readonly early: number; readonly inputEnded: boolean } | ConnectionError {
    this.syncFailures()
    const failure = this.inputFailure ?? this.outputFailure
    if (failure !== undefined) return failure
    const input = this.endpoint.input
    input.pause()
    this.detach()
    this.upgrading = true
    return { early: this.lines.buffered + this.incomingBytes + input.readableLength, inputEnded: this.inputEnded }
  }

  /**
   * STARTTLS, step two: writes the held output (the reply that lets the
   * peer start its handshake) to the plaintext transport, and calls `done`
   * once all of it has been handed to the OS, or with the failure: the
   * transport failed, or the peer did not read within the write timeout.
   */
  flushForUpgrade(done: (failure?: WriteError) => void): void {
    const output = this.endpoint.output
    let finished = false
    const finish = (failure?: WriteError) => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      done(failure)
    }
    const timer = setTimeout(() => {
      this.stalled = true
      finish(new WriteTimeout({ timeout: this.limits.writeTimeout, pendingBytes: output.writableLength }))
    }, timerMillis(this.writeMillis))
    if (this.pendingBytes > 0) output.write(this.takeBatch())
    // Writes complete in order: this one's callback runs once all before it are out.
    output.write(EMPTY, (error) => finish(error ? toConnectionError("write", error) : undefined))
  }

  /**
   * STARTTLS, last step: runs over `endpoint` (the TLS socket) from now on;
   * output written meanwhile goes out over TLS.
   */
  finishUpgrade(endpoint: Endpoint): void {
    this.endpoint = endpoint
    this.duplex = (endpoint.input as unknown) === endpoint.output
    this.inputPaused = false
    this.upgrading = false
    this.attach()
    this.syncFailures()
    if (this.flushPending()) this.wakeDrains()
    else this.wakeOnFailure()
  }

  /**
   * STARTTLS failed after it began: input received in plaintext is dropped
   * unread, the transport is destroyed, and every later use fails.
   */
  failUpgrade(): void {
    if (!this.upgrading) return
    this.upgrading = false
    this.lines.takeRest()
    this.incoming = []
    this.incomingHead = 0
    this.incomingBytes = 0
    this.inputFailure ??= closedError("read")
    this.outputFailure ??= closedError("write")
    this.endpoint.destroy()
    this.wakeOnFailure()
  }

  /**
   * Ends the connection now, abortively: pending output is dropped, the
   * transport is reset, and every wait and later use fails with a
   * `ConnectionError` (code `EABORTED`). The handler's own end releases it.
   */
  abort(): void {
    if (this.aborted || this.released) return
    this.aborted = true
    this.stalled = true
    this.pending.length = 0
    this.pendingBytes = 0
    this.run = undefined
    const error = new ConnectionError({ operation: "write", code: "EABORTED", cause: new Error("connection aborted by the handler") })
    this.inputFailure ??= new ConnectionError({ operation: "read", code: "EABORTED", cause: error.cause })
    this.outputFailure ??= error
    this.endpoint.destroy()
    this.wakeOnFailure()
  }

  /**
   * Releases the transport once the handler has ended; calls `done` when it
   * is released. Graceful: flush, end the output (FIN), linger. Otherwise, or
   * when the output cannot be flushed, destroy at once. Runs once.
   */
  release(graceful: boolean, done: () => void): void {
    if (this.released) return done()
    this.released = true
    this.watchdog?.interruptUnsafe()
    this.syncFailures()
    // Input that arrived after the reader was told about shutdown was read
    // by this process and will never be answered: a FIN would tell the peer
    // all is well, a reset tells it the truth.
    const unanswered = this.shutdownNotified && !this.isIdle()
    const gracefully = graceful && !this.stalled && !this.failed && !unanswered
    if (gracefully) this.flushPending()
    this.detach()
    // From now on, a use of this connection (from a fiber it leaked to) fails
    // at once, and one still waiting on it (outside its scope) is woken.
    this.inputFailure ??= closedError("read")
    this.outputFailure ??= closedError("write")
    this.wakeOnFailure()
    if (gracefully) {
      this.endpoint.close({ lingerMillis: this.lingerMillis, flushMillis: this.writeMillis }, done)
    } else {
      this.endpoint.destroy()
      done()
    }
  }

  /**
   * Picks up a transport failure that happened in this tick: streams report
   * `destroyed`/`errored` at once but emit 'error' and 'close' later.
   */
  private syncFailures(): void {
    const { input, output } = this.endpoint
    if (this.inputFailure === undefined && input.destroyed && !this.inputEnded) {
      this.inputFailure = input.errored ? toConnectionError("read", input.errored) : closedError("read")
    }
    if (this.outputFailure === undefined && (output.destroyed || output.writableEnded)) {
      this.outputFailure = output.errored ? toConnectionError("write", output.errored) : closedError("write")
    }
  }

  /**
   * Nothing received is waiting to be handled anywhere in the process: no
   * partial frame, no queued chunk, nothing in the input stream's own buffer
   * (input paused for read-ahead, or resumed but not yet flowing).
   */
  private isIdle(): boolean {
    return this.lines.buffered === 0 && this.incomingBytes === 0 && this.endpoint.input.readableLength === 0
  }

  /**
   * During shutdown, fails the waiting reader with `ServerShuttingDown` once
   * the connection is quiet: idle, and no input arrived during a full turn of
   * the event loop with the input reading. Two `setImmediate` hops put one
   * complete poll phase after this call, so bytes that were in the kernel
   * when the reader parked (a request sent just before the signal, to a
   * connection that had not read yet) are read and answered first. Input
   * that arrives keeps the connection busy; the shutdown deadline bounds it.
   */
  private awaitQuiet(): void {
    if (this.quietCheckPending) return
    this.quietCheckPending = true
    const received = this.chunksReceived
    setImmediate(() =>
      setImmediate(() => {
        this.quietCheckPending = false
        if (this.inputWaiter === undefined || this.released) return
        if (this.chunksReceived !== received || !this.isIdle()) return this.awaitQuiet()
        this.shutdownNotified = true
        this.wakeInput(new ServerShuttingDown())
      })
    )
  }

  /** Moves the run of merged views into the pending list. */
  private closeRun(): void {
    const run = this.run
    if (run === undefined) return
    this.pending.push(this.runLength === run.length ? run : Buffer.from(run.buffer, run.byteOffset, this.runLength))
    this.run = undefined
  }

  /**
   * Writes the pending batch as one buffer (one syscall for many lines).
   * Returns false while the transport is above its high-water mark or failed
   * (callers sync the failures first).
   */
  private flushPending(): boolean {
    const output = this.endpoint.output
    if (this.outputFailure !== undefined || this.upgrading) return false
    if (this.pendingBytes === 0) return !output.writableNeedDrain
    return output.write(this.takeBatch())
  }

  /** The pending output as one buffer; the pending batch is then empty. */
  private takeBatch(): Uint8Array {
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
    pending.length = 0
    this.pendingBytes = 0
    return batch
  }

  private parkForDrain(resume: Resume): void {
    if (this.drainWaiters.length === 0) this.drainWaitSince = this.clock.currentTimeMillisUnsafe()
    this.drainWaiters.push(resume)
    this.armWatchdog(this.drainDeadline)
  }

  /** When the waiting reader times out for want of a new line (`Infinity`: no reader, or no idle timeout). */
  private get idleDeadline(): number {
    return this.inputWaiter === undefined || this.idleMillis === undefined
      ? Infinity
      : this.inputWaitSince + this.idleMillis
  }

  /** When the line being received must be complete (`Infinity`: none started, or no line timeout). */
  private get lineDeadline(): number {
    return this.inputWaiter === undefined || this.lineMillis === undefined || this.lineStartedAt === undefined
      ? Infinity
      : this.lineStartedAt + this.lineMillis
  }

  /** When the waiting reader times out, whichever deadline comes first. */
  private get inputDeadline(): number {
    return Math.min(this.idleDeadline, this.lineDeadline)
  }

  /** When the fibers waiting for drain time out (`Infinity`: none waits). */
  private get drainDeadline(): number {
    return this.drainWaiters.length === 0 ? Infinity : this.drainWaitSince + this.writeMillis
  }

  private wakeInput(failure?: LineWaitError): void {
    const resume = this.inputWaiter
    if (resume === undefined) return
    this.inputWaiter = undefined
    resume(failure)
  }

  private wakeDrains(failure?: WriteError): void {
    if (this.drainWaiters.length === 0) return
    const waiters: Array<Resume | undefined> = this.drainWaiters
    this.drainWaiters = []
    this.waking = waiters
    try {
      // A resumed fiber runs at once, inside this loop, and may interrupt
      // another waiter of the list (a writer's failure ending the reader it
      // races): `cancel` marks it, and it is skipped.
      for (let i = 0; i < waiters.length; i++) {
        const resume = waiters[i]
        waiters[i] = undefined
        resume?.(failure)
      }
    } finally {
      this.waking = undefined
    }
  }

  /**
   * Makes sure a watchdog checks the deadlines by `deadline`: keeps the
   * running one if it is due by then, else replaces it.
   */
  private armWatchdog(deadline: number): void {
    if (deadline >= this.watchdogDeadline) return
    this.watchdog?.interruptUnsafe()
    this.watchdog = undefined
    this.watchdogDeadline = deadline
    // The generation tells a superseded watchdog apart, even one that ran
    // to its end before `runForkWith` returned.
    const generation = ++this.watchdogGeneration
    const sleep = this.clock.sleep(Duration.millis(Math.max(0, deadline - this.clock.currentTimeMillisUnsafe())))
    const fiber = Effect.runForkWith(this.context)(
      Effect.flatMap(sleep, () => Effect.sync(() => this.checkDeadlines(generation)))
    )
    if (this.watchdogGeneration === generation) this.watchdog = fiber
  }

  /** Fails the waits whose deadline passed, then re-arms for those still pending. */
  private checkDeadlines(generation: number): void {
    if (generation !== this.watchdogGeneration) return
    this.watchdogGeneration++
    this.watchdog = undefined
    this.watchdogDeadline = Infinity
    const now = this.clock.currentTimeMillisUnsafe()
    if (now >= this.lineDeadline) {
      // A handler that catches it and reads on gets a fresh window.
      this.lineStartedAt = undefined
      this.wakeInput(new LineTimeout({ timeout: this.limits.lineTimeout!, received: this.lines.buffered }))
    } else if (now >= this.idleDeadline) {
      this.wakeInput(new IdleTimeout({ timeout: this.limits.idleTimeout! }))
    }
    if (now >= this.drainDeadline) {
      this.stalled = true
      const pendingBytes = this.pendingBytes + this.endpoint.output.writableLength
      this.wakeDrains(new WriteTimeout({ timeout: this.limits.writeTimeout, pendingBytes }))
    }
    // Infinity (nothing left to watch) arms nothing.
    this.armWatchdog(Math.min(this.inputDeadline, this.drainDeadline))
  }

  // Stream events, called by the shared listeners at the end of this module.

  onData(chunk: Buffer): void {
    this.chunksReceived++
    this.incoming.push(chunk)
    this.incomingBytes += chunk.length
    if (this.incomingBytes >= readAhead && !this.inputPaused) {
      this.inputPaused = true
      this.endpoint.input.pause()
    }
    this.wakeInput()
  }

  onEnd(): void {
    this.inputEnded = true
    this.wakeInput()
  }

  onDrain(): void {
    this.wakeDrains()
  }

  /** An error after the input ended (EPIPE on a half-closed socket) is the output's. */
  onInputError(error: unknown): void {
    if (!this.inputEnded) this.inputFailure ??= toConnectionError("read", error)
    if (this.duplex) this.outputFailure ??= toConnectionError("write", error)
    this.wakeOnFailure()
  }

  onOutputError(error: unknown): void {
    this.outputFailure ??= toConnectionError("write", error)
    this.wakeOnFailure()
  }

  /**
   * An ended input stream closes too (stdin at EOF, a half-closed test peer):
   * that is a failure only if it closed before its end, and it says nothing
   * about a separate output stream. A socket's 'close' closes both ways.
   */
  onInputClose(): void {
    if (!this.inputEnded) this.inputFailure ??= closedError("read")
    if (this.duplex) this.outputFailure ??= closedError("write")
    this.wakeOnFailure()
  }

  onOutputClose(): void {
    this.outputFailure ??= closedError("write")
    this.wakeOnFailure()
  }

  private wakeOnFailure(): void {
    if (this.inputFailure !== undefined) this.wakeInput(this.inputFailure)
    if (this.outputFailure !== undefined) this.wakeDrains(this.outputFailure)
  }

  /** Listens to the transport and lets its input flow. */
  private attach(): void {
    const { input, output } = this.endpoint
    // The listeners are shared functions that find their driver on the
    // stream: no closures per connection (thousands of idle connections).
    // One connection per stream at a time: a second would get every chunk too.
    if ((input as Listened)[driverOf] !== undefined || (output as Listened)[driverOf] !== undefined) {
      throw new Error("a stream can carry one connection at a time (release the other first)")
    }
    ;(input as Listened)[driverOf] = this
    ;(output as Listened)[driverOf] = this
    input.on("data", onData)
    input.on("end", onEnd)
    input.on("close", onInputClose)
    input.on("error", onInputError)
    if (!this.duplex) {
      output.on("close", onOutputClose)
      output.on("error", onOutputError)
    }
    output.on("drain", onDrain)
    // A socket accepted with pauseOnConnect stays paused until told to flow.
    input.resume()
  }

  private detach(): void {
    const { input, output } = this.endpoint
    input.off("data", onData)
    input.off("end", onEnd)
    input.off("close", onInputClose)
    input.off("error", onInputError)
    output.off("close", onOutputClose)
    output.off("error", onOutputError)
    output.off("drain", onDrain)
    ;(input as Listened)[driverOf] = undefined
    ;(output as Listened)[driverOf] = undefined
  }
}

/** Where a stream keeps the driver listening to it. */
const driverOf = Symbol("fiberline/Driver")

/** A stream a driver listens to. */
type Listened = { [driverOf]?: Driver | undefined }

// The listeners: EventEmitter calls them with the stream as `this`.
function onData(this: Listened, chunk: Buffer): void {
  this[driverOf]?.onData(chunk)
}
function onEnd(this: Listened): void {
  this[driverOf]?.onEnd()
}
function onDrain(this: Listened): void {
  this[driverOf]?.onDrain()
}
function onInputError(this: Listened, error: unknown): void {
  this[driverOf]?.onInputError(error)
}
function onOutputError(this: Listened, error: unknown): void {
  this[driverOf]?.onOutputError(error)
}
function onInputClose(this: Listened): void {
  this[driverOf]?.onInputClose()
}
function onOutputClose(this: Listened): void {
  this[driverOf]?.onOutputClose()
}
