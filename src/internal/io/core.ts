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
 * Past 300 lines because it is where the reader, writer, deadlines and
 * transport meet: each wiring is a few lines, kept beside the others.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import type { Decoder } from "../../Decoder.ts"
import * as Address from "../../Address.ts"
import {
  IdleTimeout,
  LineTimeout,
  ServerShuttingDown,
  WriteTimeout
} from "../../Errors.ts"
import type { TlsInfo } from "../../Tls.ts"
import type { ServerTls } from "../tlsEngine.ts"
import { type Traffic, trafficFor } from "../serverSeries.ts"
import type { ClientTls } from "./clientTls.ts"
import type { ProxyHeader } from "../proxy/header.ts"
import { Deadlines } from "./deadlines.ts"
import { closedError, failureOf } from "./failures.ts"
import * as Events from "./events.ts"
import { InPlace } from "./inPlace.ts"
import type { Limits } from "./limits.ts"
import { Reader } from "./reader.ts"
import { ReadWait } from "./readWait.ts"
import type { Transport } from "./transport.ts"
import { Writer } from "./writer.ts"

let nextId = 0

/** One connection; see the module doc. */
export class ConnectionCore {
  readonly id = ++nextId
  readonly inPlace = new InPlace()
  readonly reader: Reader
  readonly writer: Writer
  /** The Clock the connection's time is read from. */
  readonly clock: Clock.Clock
  /** The services the connection was made with (its scope among them). */
  readonly context: Context.Context<never>
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
  /** Totals of every connection reporting to the same series (its server's, or its registry's). */
  readonly traffic: Traffic
  /** Frames this connection read. */
  framesRead = 0
  /** When the connection was made (milliseconds on its Clock). */
  readonly openedAt: number
  /** The scope the connection's handler runs in, when a server made it. */
  scope: Scope.Closeable | undefined = undefined
  /** The read that waits, if one does. */
  private readonly readWait: ReadWait
  inputEndWaiters: Array<() => void> | undefined = undefined
  private deadlinesMade: Deadlines | undefined = undefined
  /** Who the peer is when a PROXY header said so (else the transport's own peer). */
  private client: { readonly peer: string; readonly remoteAddress: Address.Address | undefined } | undefined = undefined
  private proxyHeader: ProxyHeader | undefined = undefined

  /** `traffic`: the server's counters; by default, those of the registry in `context`. */
  constructor(
    transport: Transport,
    limits: Limits,
    tlsSettings: ServerTls | ClientTls | undefined,
    context: Context.Context<never>,
    traffic: Traffic = trafficFor(context)
  ) {
    this.transport = transport
    this.duplex = (transport.input as unknown) === transport.output
    this.limits = limits
    this.tlsSettings = tlsSettings
    this.traffic = traffic
    this.reader = new Reader(transport.input)
    this.readWait = new ReadWait(this)
    this.writer = new Writer(transport.output, limits.writeHighWaterMark, limits.lineEnding, traffic)
    this.context = context
    this.clock = Context.get(context, Clock.Clock)
    this.openedAt = this.clock.currentTimeMillisUnsafe()
    Events.attach(this)
  }

  /**
   * The connection's deadlines, made when a wait first has one: an idle
   * connection with no idle timeout never needs them.
   */
  get deadlines(): Deadlines {
    return this.deadlinesMade ??= new Deadlines(
      this.limits,
      this,
      this.clock,
      this.context,
      Context.get(this.context as Context.Context<Scope.Scope>, Scope.Scope)
    )
  }

  /** Whether a read waiting now has a deadline (so the deadlines must know). */
  private readTimed(partial: boolean): boolean {
    return this.limits.idleTimeout !== undefined || (partial && this.limits.lineTimeout !== undefined) || this.deadlinesMade !== undefined
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

  /** What the connection did so far: for its closing log line and its span. */
  get stats(): { readonly durationMs: number; readonly bytesIn: number; readonly bytesOut: number; readonly linesIn: number; readonly linesOut: number } {
    return {
      durationMs: this.clock.currentTimeMillisUnsafe() - this.openedAt,
      bytesIn: this.reader.bytesReceived,
      bytesOut: this.writer.written,
      linesIn: this.framesRead,
      linesOut: this.writer.linesWritten
    }
  }

  get pendingOutput(): number {
    return this.writer.queued
  }

  get inputEnded(): boolean {
    return this.reader.streamEnded || this.reader.failure !== undefined
  }

  /** A read: its frame, or `Deferred` (a failure, a wait); see `readWait.ts`. */
  readStep(decoder: Decoder<unknown, unknown>): unknown {
    return this.readWait.step(decoder)
  }

  /** Input (or its end) arrived: the waiting read may have its frame now. */
  inputArrived(): void {
    this.readWait.inputArrived()
  }

  /** Fails the waiting read with `failure`. */
  wakeRead(failure: unknown): void {
    this.readWait.fail(failure)
  }

  /**
   * The read parked waiting for input (`fresh`), or got part of a frame and
   * waits on.
   */
  readParked(fresh: boolean): void {
    const partial = this.reader.input.length > 0
    if (fresh) {
      // A reader told about shutdown that reads again is told afresh when quiet.
      this.shutdownNotified = false
      this.inPlace.forget()
    }
    if (this.readTimed(partial)) this.deadlines.readWaiting(partial)
    if (this.shuttingDown) this.shutdownWatch?.(this)
  }

  /** The read stopped waiting. */
  readEnded(): void {
    this.deadlinesMade?.readDone()
  }

  /** A frame was taken: the next one's deadline starts with its first byte. */
  frameEnded(): void {
    this.deadlinesMade?.frameDone()
  }

  /** Wakes whoever waits on a failed side (and those waiting for the input to end). */
  wakeOnFailure(): void {
    if (this.reader.failure !== undefined) {
      this.inputEndedNow()
      this.wakeRead(this.reader.failure)
    }
    if (this.writer.failure !== undefined) {
      this.deadlinesMade?.drainDone()
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

  /** The output drained: the write timeout stops. */
  drainEnded(): void {
    this.deadlinesMade?.drainDone()
  }

  // Deadlines (called by the watchdog).

  frameExpired(): void {
    // A handler that catches it and reads on gets a fresh window.
    this.deadlinesMade?.frameDone()
    this.wakeRead(new LineTimeout({ timeout: this.limits.lineTimeout!, received: this.reader.input.length }))
  }

  idleExpired(): void {
    this.wakeRead(new IdleTimeout({ timeout: this.limits.idleTimeout! }))
  }

  writeExpired(): void {
    this.stalled = true
    this.deadlinesMade?.drainDone()
    this.writer.wake(new WriteTimeout({ timeout: this.limits.writeTimeout, pendingBytes: this.writer.queued }))
  }

  // Shutdown (driven by the server's drain policy).

  /** Whether a read waits for input now (not for drain). */
  get readWaiting(): boolean {
    return this.readWait.waiting
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
      this.deadlinesMade?.stop()
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
