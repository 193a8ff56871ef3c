/**
 * A connection: the `Connection` a handler sees, composed of its transport,
 * reader, writer, deadlines and in-place completions, and its release when
 * the handler's scope closes.
 *
 * At most one read waits at a time (reads of one connection are
 * sequential) and any number of fibers may wait for output to drain. A read
 * whose frame is buffered completes in place (`inPlace.ts`); one that must
 * wait first flushes pending output (the fiber is about to suspend), waits
 * for it to drain if the peer is slow, then parks until input arrives: each
 * chunk is decoded right in the transport's `data` event, and the read is
 * resumed only once its frame is complete (or its wait fails), so a frame
 * that trickles in costs no fiber wake-up per chunk.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { type Decoder, exactly, Failure, NeedMore, until, type UntilOptions } from "../../Decoder.ts"
import * as Address from "../../services/Address.ts"
import {
  EmbeddedLineBreak,
  IdleTimeout,
  LineTimeout,
  type FrameTooLong,
  type ReadError,
  type ReadExactlyError,
  type ReadLineError,
  ServerShuttingDown,
  type StartTlsError,
  type WriteError,
  type WriteLineError,
  WriteTimeout
} from "../../services/Errors.ts"
import type { StartTlsOptions, TlsInfo } from "../../services/Tls.ts"
import type { ServerTls } from "../tlsEngine.ts"
import { type Traffic, trafficFor } from "../traffic.ts"
import type { ClientTls } from "./clientTls.ts"
import type { ProxyHeader } from "../proxy/header.ts"
import { Deadlines } from "./deadlines.ts"
import { closedError, failureOf } from "./failures.ts"
import * as Events from "./events.ts"
import { InPlace, prototype, type Stepped } from "./inPlace.ts"
import { nextFrame } from "./decoding.ts"
import type { Limits } from "./limits.ts"
import { Reader } from "./reader.ts"
import { startTls } from "./startTls.ts"
import type { Transport } from "./transport.ts"
import { type DrainWaiter, Writer } from "./writer.ts"

let nextId = 0

/** A second read while one waits: a defect. (Built when it happens: an `Error` carries a stack string.) */
const concurrentRead = Effect.suspend(() =>
  Effect.die(new Error("concurrent reads on one connection: read from one fiber at a time"))
)

/** Index of the first `\n` or `\r` in a line to write, or -1. */
const lineBreakIndex = (line: string | Uint8Array): number => {
  if (typeof line === "string") return line.search(/[\r\n]/)
  const lf = line.indexOf(10)
  const cr = line.indexOf(13)
  return lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr)
}

// The effects handlers run on every frame: one object each, no closures
// (see `inPlace.ts`).
class ReadEffect implements Stepped {
  readonly inPlace: InPlace
  readonly core: ConnectionCore
  readonly decoder: Decoder<unknown, unknown>
  constructor(core: ConnectionCore, decoder: Decoder<unknown, unknown>) {
    this.inPlace = core.inPlace
    this.core = core
    this.decoder = decoder
  }
}
Object.setPrototypeOf(ReadEffect.prototype, prototype("fiberline/Connection/read", (self: ReadEffect) => self.core.readStep(self.decoder)))

class WriteEffect implements Stepped {
  readonly inPlace: InPlace
  readonly core: ConnectionCore
  readonly data: string | Uint8Array
  readonly line: boolean
  constructor(core: ConnectionCore, data: string | Uint8Array, line: boolean) {
    this.inPlace = core.inPlace
    this.core = core
    this.data = data
    this.line = line
  }
}
Object.setPrototypeOf(WriteEffect.prototype, prototype("fiberline/Connection/write", (self: WriteEffect) => self.core.writeStep(self.data, self.line)))

/** One connection; see the module doc. */
export class ConnectionCore {
  readonly id = ++nextId
  readonly inPlace = new InPlace()
  readonly reader: Reader
  readonly writer: Writer
  readonly deadlines: Deadlines
  readonly limits: Limits
  /** The transport; replaced once by STARTTLS. */
  transport: Transport
  /** Input and output are one stream (a socket): one 'error', one 'close'. */
  duplex: boolean
  /** Whether the connection was told the server is shutting down. */
  shuttingDown = false
  /** The reader was failed with `ServerShuttingDown` and has not waited again since. */
  shutdownNotified = false
  /** Called whenever a read parks during shutdown (the drain policy decides when it is quiet). */
  shutdownWatch: ((core: ConnectionCore) => void) | undefined = undefined
  /** A write timed out: the peer does not read, so the connection cannot be flushed. */
  stalled = false
  /** The handler aborted the connection. */
  aborted = false
  released = false
  /** What `startTls` upgrades with when given no settings: the server's, or the client's (`LineClient`). */
  readonly tlsSettings: ServerTls | ClientTls | undefined
  /** Totals of every connection reporting to the same metric registry. */
  readonly traffic: Traffic
  /** Frames this connection read. */
  framesRead = 0
  /** The parked read's decoder, and how to resume it. */
  private parked: Decoder<unknown, unknown> | undefined = undefined
  private resumeRead: ((effect: Effect.Effect<unknown, unknown>) => void) | undefined = undefined
  /** The parked read waits for output to drain before it waits for input. */
  private readAwaitsDrain = false
  private woken: unknown = undefined
  private inputEndWaiters: Array<() => void> | undefined = undefined
  /** Who the peer is when a PROXY header said so (else the transport's own peer). */
  private client: { readonly peer: string; readonly remoteAddress: Address.Address | undefined } | undefined = undefined
  private proxyHeader: ProxyHeader | undefined = undefined
  private lastDecoder: Decoder<unknown, unknown> | undefined = undefined
  private lastRead: Effect.Effect<unknown, unknown> | undefined = undefined
  private cached: {
    readLine?: Effect.Effect<string, ReadLineError>
    readLineBytes?: Effect.Effect<Uint8Array, ReadLineError>
    flush?: Effect.Effect<void, WriteError>
    abort?: Effect.Effect<void>
    awaitInputEnd?: Effect.Effect<void>
    wait?: Effect.Effect<unknown, unknown>
    takeWoken?: Effect.Effect<unknown>
    cancelRead?: Effect.Effect<void>
    onReadDrain?: DrainWaiter
  } = {}

  constructor(transport: Transport, limits: Limits, tlsSettings: ServerTls | ClientTls | undefined, context: Context.Context<never>) {
    this.transport = transport
    this.duplex = (transport.input as unknown) === transport.output
    this.limits = limits
    this.tlsSettings = tlsSettings
    const traffic = this.traffic = trafficFor(context)
    this.reader = new Reader(transport.input)
    this.writer = new Writer(transport.output, limits.writeHighWaterMark, limits.lineEnding, traffic)
    this.deadlines = new Deadlines(limits, this, Context.get(context, Clock.Clock), context, Context.get(context as Context.Context<Scope.Scope>, Scope.Scope))
    Events.attach(this)
  }

  get peer(): string {
    return this.client?.peer ?? this.transport.peer
  }

  get remoteAddress(): Address.Address | undefined {
    return this.client === undefined ? this.transport.remoteAddress : this.client.remoteAddress
  }

  get localAddress(): Address.Address | undefined {
    const socket = this.transport.socket
    return socket === undefined ? undefined : Address.tcp(socket.localAddress, socket.localPort, socket.localFamily)
  }

  /** The PROXY protocol header the connection arrived with, if its listener reads one. */
  get proxy(): ProxyHeader | undefined {
    return this.proxyHeader
  }

  /** The connection came through a proxy whose header says this: its client is the connection's peer. */
  proxied(header: ProxyHeader): void {
    this.proxyHeader = header
    const source = header.source
    if (source !== undefined) this.client = { peer: Address.format(source), remoteAddress: source }
  }

  get tls(): TlsInfo | undefined {
    return this.transport.tls
  }

  /** Whether the transport failed (reset, broken pipe, closed under us). */
  get failed(): boolean {
    return this.reader.failure !== undefined || this.writer.failure !== undefined
  }

  get pendingOutput(): number {
    return this.writer.queued
  }

  get inputEnded(): boolean {
    return this.reader.streamEnded || this.reader.failure !== undefined
  }

  read<A, E>(decoder: Decoder<A, E>): Effect.Effect<A, E | ReadError> {
    if (decoder !== this.lastDecoder) {
      this.lastDecoder = decoder
      this.lastRead = new ReadEffect(this, decoder) as unknown as Effect.Effect<unknown, unknown>
    }
    return this.lastRead as Effect.Effect<A, E | ReadError>
  }

  get readLine(): Effect.Effect<string, ReadLineError> {
    return this.cached.readLine ??= new ReadEffect(this, this.limits.line) as unknown as Effect.Effect<string, ReadLineError>
  }

  get readLineBytes(): Effect.Effect<Uint8Array, ReadLineError> {
    return this.cached.readLineBytes ??= new ReadEffect(this, this.limits.lineBytes) as unknown as Effect.Effect<
      Uint8Array,
      ReadLineError
    >
  }

  // Functions handlers may pass around (`Effect.flatMap(x, conn.writeLine)`) are bound.

  readonly readExactly = (n: number): Effect.Effect<Uint8Array, ReadExactlyError> => {
    if (!Number.isSafeInteger(n) || n < 0) return Effect.die(new RangeError(`readExactly needs a non-negative integer, got ${n}`))
    return new ReadEffect(this, exactly(n)) as unknown as Effect.Effect<Uint8Array, ReadExactlyError>
  }

  readonly readUntil = (
    delimiter: string | Uint8Array,
    options?: { readonly maxLength?: UntilOptions["maxLength"] | undefined }
  ): Effect.Effect<Uint8Array, FrameTooLong | ReadError> =>
    new ReadEffect(this, until(delimiter, { maxLength: options?.maxLength ?? this.limits.maxLineLength })) as unknown as Effect.Effect<
      Uint8Array,
      FrameTooLong | ReadError
    >

  readonly write = (data: string | Uint8Array): Effect.Effect<void, WriteError> =>
    new WriteEffect(this, data, false) as unknown as Effect.Effect<void, WriteError>

  readonly writeLine = (line: string | Uint8Array): Effect.Effect<void, WriteLineError> =>
    new WriteEffect(this, line, true) as unknown as Effect.Effect<void, WriteLineError>

  readonly startTls = (options?: StartTlsOptions): Effect.Effect<TlsInfo, StartTlsError> => startTls(this, options)

  get flush(): Effect.Effect<void, WriteError> {
    return this.cached.flush ??= Effect.callback<void, WriteError>((resume) => {
      const waiter: DrainWaiter = (failure) => resume(failure === undefined ? Effect.void : Effect.fail(failure))
      this.syncFailures()
      if (this.writer.flush()) return resume(Effect.void)
      if (this.writer.failure !== undefined) return resume(Effect.fail(this.writer.failure))
      this.writer.park(waiter)
      this.deadlines.drainWaiting()
      return Effect.sync(() => this.writer.cancel(waiter))
    })
  }

  get abort(): Effect.Effect<void> {
    return this.cached.abort ??= Effect.sync(() => {
      if (this.aborted || this.released) return
      this.aborted = true
      this.stalled = true
      this.writer.discard()
      this.reader.failure ??= closedError("read", "EABORTED")
      this.writer.failure ??= closedError("write", "EABORTED")
      this.transport.destroy()
      this.wakeOnFailure()
    })
  }

  get awaitInputEnd(): Effect.Effect<void> {
    return this.cached.awaitInputEnd ??= Effect.callback<void>((resume) => {
      if (this.inputEnded) return resume(Effect.void)
      const waiter = () => resume(Effect.void)
      ;(this.inputEndWaiters ??= []).push(waiter)
      return Effect.sync(() => {
        const index = this.inputEndWaiters?.indexOf(waiter) ?? -1
        if (index !== -1) this.inputEndWaiters!.splice(index, 1)
      })
    })
  }

  /** A read: its frame, or {@link Deferred} (a failure, a wait). */
  readStep(decoder: Decoder<unknown, unknown>): unknown {
    if (this.parked !== undefined) return this.inPlace.defer(concurrentRead)
    const step = this.attempt(decoder)
    if (step === NeedMore) {
      this.parked = decoder
      return this.inPlace.defer(this.cached.wait ??= Effect.callback<unknown, unknown>((resume) => {
        this.resumeRead = resume
        this.awaitInput()
        return this.cached.cancelRead ??= Effect.sync(() => this.cancelRead())
      }))
    }
    this.deadlines.frameDone()
    if (step instanceof Failure) return this.inPlace.defer(Effect.fail(step.error))
    this.framesRead++
    this.traffic.linesRead++
    return step
  }

  /** A write: nothing, or {@link Deferred} (a failure, or a wait for drain at the high-water mark). */
  writeStep(data: string | Uint8Array, line: boolean): unknown {
    const failure = this.writer.failure
    if (failure !== undefined) return this.inPlace.defer(Effect.fail(failure))
    if (line) {
      const index = lineBreakIndex(data)
      if (index !== -1) return this.inPlace.defer(Effect.fail(new EmbeddedLineBreak({ index })))
    }
    return (line ? this.writer.enqueueLine(data) : this.writer.enqueue(data)) ? this.inPlace.defer(this.flush) : undefined
  }

  /** Decodes what is buffered, moving queued input into the buffer while the decoder needs more. */
  private attempt(decoder: Decoder<unknown, unknown>): unknown {
    const input = this.reader.input
    for (;;) {
      const step = nextFrame(decoder, input)
      if (step !== NeedMore || !this.reader.fill()) return step
    }
  }

  /** The parked read flushes, then waits for input (see the module doc). */
  private awaitInput(): void {
    this.syncFailures()
    const { reader, writer } = this
    if (reader.failure !== undefined) return this.wakeRead(reader.failure)
    if (!writer.flush()) {
      if (writer.failure !== undefined) return this.wakeRead(writer.failure)
      this.readAwaitsDrain = true
      writer.park(this.cached.onReadDrain ??= (failure) => {
        this.readAwaitsDrain = false
        return failure === undefined ? this.awaitInput() : this.wakeRead(failure)
      })
      return this.deadlines.drainWaiting()
    }
    // Input may have arrived during the flush (a peer answering at once).
    if (reader.hasMore) return this.inputArrived()
    this.shutdownNotified = false
    this.inPlace.forget()
    this.deadlines.readWaiting(reader.input.length > 0)
    if (this.shuttingDown) this.shutdownWatch?.(this)
  }

  /** Input (or its end) arrived: the parked read is resumed once its frame is complete. */
  inputArrived(): void {
    const decoder = this.parked
    if (decoder === undefined || this.resumeRead === undefined || this.readAwaitsDrain) return
    let step: unknown
    try {
      step = this.attempt(decoder)
    } catch (defect) {
      return this.resume(Effect.die(defect))
    }
    if (step === NeedMore) {
      this.deadlines.readWaiting(this.reader.input.length > 0)
      if (this.shuttingDown) this.shutdownWatch?.(this)
      return
    }
    this.deadlines.frameDone()
    if (step instanceof Failure) return this.resume(Effect.fail(step.error))
    this.framesRead++
    this.traffic.linesRead++
    this.woken = step
    this.resume(this.cached.takeWoken ??= Effect.sync(() => {
      const value = this.woken
      this.woken = undefined
      return value
    }))
  }

  /** Fails the parked read with `failure`. */
  wakeRead(failure: unknown): void {
    if (this.readAwaitsDrain) {
      this.readAwaitsDrain = false
      this.writer.cancel(this.cached.onReadDrain!)
    }
    this.resume(Effect.fail(failure))
  }

  private resume(effect: Effect.Effect<unknown, unknown>): void {
    const resume = this.resumeRead
    if (resume === undefined) return
    this.resumeRead = undefined
    this.parked = undefined
    this.deadlines.readDone()
    resume(effect)
  }

  private cancelRead(): void {
    if (this.readAwaitsDrain) this.writer.cancel(this.cached.onReadDrain!)
    this.readAwaitsDrain = false
    this.resumeRead = undefined
    this.parked = undefined
    this.deadlines.readDone()
  }

  /** Wakes whoever waits on a failed side (and those waiting for the input to end). */
  wakeOnFailure(): void {
    if (this.reader.failure !== undefined) {
      this.inputEndedNow()
      this.wakeRead(this.reader.failure)
    }
    if (this.writer.failure !== undefined) {
      this.deadlines.drainDone()
      this.writer.wake(this.writer.failure)
    }
  }

  /** The input ended or failed: wake those waiting for it. */
  inputEndedNow(): void {
    const waiters = this.inputEndWaiters
    if (waiters === undefined) return
    this.inputEndWaiters = undefined
    for (const waiter of waiters) waiter()
  }

  /**
   * Picks up a transport failure that happened in this tick: streams report
   * `destroyed`/`errored` at once but emit 'error' and 'close' later.
   */
  syncFailures(): void {
    const input = this.reader.stream
    const output = this.writer.stream
    if (this.reader.failure === undefined && input.destroyed && !this.reader.streamEnded) {
      this.reader.failure = input.errored ? failureOf("read", input.errored) : closedError("read")
    }
    if (this.writer.failure === undefined && (output.destroyed || output.writableEnded)) {
      this.writer.failure = output.errored ? failureOf("write", output.errored) : closedError("write")
    }
  }

  // Deadlines (called by the watchdog).

  frameExpired(): void {
    // A handler that catches it and reads on gets a fresh window.
    this.deadlines.frameDone()
    this.wakeRead(new LineTimeout({ timeout: this.limits.lineTimeout!, received: this.reader.input.length }))
  }

  idleExpired(): void {
    this.wakeRead(new IdleTimeout({ timeout: this.limits.idleTimeout! }))
  }

  writeExpired(): void {
    this.stalled = true
    this.deadlines.drainDone()
    this.writer.wake(new WriteTimeout({ timeout: this.limits.writeTimeout, pendingBytes: this.writer.queued }))
  }

  // Shutdown (driven by the server's drain policy).

  /** Whether a read waits for input now (not for drain). */
  get readWaiting(): boolean {
    return this.resumeRead !== undefined && !this.readAwaitsDrain
  }

  /** Fails the waiting read with `ServerShuttingDown` (the drain policy found the connection quiet). */
  notifyShutdown(): void {
    if (!this.readWaiting) return
    this.shutdownNotified = true
    this.wakeRead(new ServerShuttingDown())
  }

  /**
   * Releases the transport once the handler has ended. Graceful: flush, end
   * the output (FIN), linger. Otherwise, or when the output cannot be
   * flushed, destroy at once. Input that arrived after the reader was told
   * about shutdown will never be answered: a FIN would tell the peer all is
   * well, a reset tells it the truth. Runs once.
   */
  release(graceful: boolean): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.released) return Effect.void
      this.released = true
      this.deadlines.stop()
      this.syncFailures()
      const unanswered = this.shutdownNotified && this.reader.unread > 0
      const gracefully = graceful && !this.stalled && !this.failed && !unanswered
      if (gracefully) this.writer.flush()
      Events.detach(this)
      // From now on, a use of this connection (from a fiber it leaked to)
      // fails at once, and one still waiting on it is woken.
      this.reader.failure ??= closedError("read")
      this.writer.failure ??= closedError("write")
      this.wakeOnFailure()
      this.reader.drop()
      this.inPlace.forget()
      if (!gracefully) {
        this.transport.destroy()
        return Effect.void
      }
      return this.transport.close({
        flush: this.limits.writeTimeout,
        linger: this.limits.lingerTimeout,
        resetOnLateInput: this.shuttingDown
      })
    })
  }
}

/**
 * A connection over `transport`, acquired in the current scope. Closing the
 * scope releases the transport: abortively if the scope closes by
 * interruption, gracefully otherwise. `tlsSettings` (a server's, or a
 * client's) are what `startTls` uses when it is given no settings.
 */
export const make = (
  transport: Transport,
  limits: Limits,
  tlsSettings?: ServerTls | ClientTls
): Effect.Effect<ConnectionCore, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.withFiber((fiber) => Effect.succeed(new ConnectionCore(transport, limits, tlsSettings, fiber.context as Context.Context<never>))),
    (core, exit) => core.release(!Exit.hasInterrupts(exit))
  )
