/**
 * The read of a connection that has to wait (reads are sequential, so at
 * most one). It first flushes pending output (the fiber is about to
 * suspend), waits for it to drain if the peer is slow, then parks until
 * input arrives: each chunk is decoded right in the transport's `data`
 * event, and the read is resumed only once its frame is complete (or its
 * wait fails), so a frame that trickles in costs no fiber wake-up per chunk.
 * A read whose frame is already buffered never gets here: it completes in
 * place (`inPlace.ts`).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { type Decoder, Failure, NeedMore } from "../../Decoder.ts"
import type { ConnectionCore } from "./core.ts"
import { nextFrame } from "./decoding.ts"
import type { DrainWaiter } from "./writer.ts"

/** A second read while one waits: a defect. (Built when it happens: an `Error` carries a stack string.) */
const concurrentRead = Effect.suspend(() =>
  Effect.die(new Error("concurrent reads on one connection: read from one fiber at a time"))
)

/** The waiting read of one connection; see the module doc. */
export class ReadWait {
  private readonly core: ConnectionCore
  /** The parked read's decoder, and how to resume it. */
  private parked: Decoder<unknown, unknown> | undefined = undefined
  private resumeRead: ((effect: Effect.Effect<unknown, unknown>) => void) | undefined = undefined
  /** The parked read waits for output to drain before it waits for input. */
  private awaitsDrain = false
  private woken: unknown = undefined
  // Made on first use and kept: a connection waits many times.
  private waitEffect: Effect.Effect<unknown, unknown> | undefined = undefined
  private cancelEffect: Effect.Effect<void> | undefined = undefined
  private takeWoken: Effect.Effect<unknown> | undefined = undefined
  private onDrain: DrainWaiter | undefined = undefined

  constructor(core: ConnectionCore) {
    this.core = core
  }

  /** Whether the read waits for input now (not for drain). */
  get waiting(): boolean {
    return this.resumeRead !== undefined && !this.awaitsDrain
  }

  /** A read: its frame, or `Deferred` (a failure, a wait), for the in-place completion. */
  step(decoder: Decoder<unknown, unknown>): unknown {
    const core = this.core
    if (this.parked !== undefined) return core.inPlace.defer(concurrentRead)
    const step = this.attempt(decoder)
    if (step === NeedMore) {
      this.parked = decoder
      return core.inPlace.defer(this.waitEffect ??= Effect.callback<unknown, unknown>((resume) => {
        this.resumeRead = resume
        this.awaitInput()
        return this.cancelEffect ??= Effect.sync(() => this.cancel())
      }))
    }
    return this.taken(step) ? core.inPlace.defer(Effect.fail((step as Failure<unknown>).error)) : step
  }

  /** Input (or its end) arrived: the parked read is resumed once its frame is complete. */
  inputArrived(): void {
    const decoder = this.parked
    if (decoder === undefined || this.resumeRead === undefined || this.awaitsDrain) return
    let step: unknown
    try {
      step = this.attempt(decoder)
    } catch (defect) {
      return this.resume(Effect.die(defect))
    }
    if (step === NeedMore) return this.core.readParked(false)
    if (this.taken(step)) return this.resume(Effect.fail((step as Failure<unknown>).error))
    this.woken = step
    this.resume(this.takeWoken ??= Effect.sync(() => {
      const value = this.woken
      this.woken = undefined
      return value
    }))
  }

  /** Fails the parked read with `failure`. */
  fail(failure: unknown): void {
    if (this.awaitsDrain) {
      this.awaitsDrain = false
      this.core.writer.cancel(this.onDrain!)
    }
    this.resume(Effect.fail(failure))
  }

  /** A frame or a failure was taken: the next frame's deadline starts afresh; whether it is a failure. */
  private taken(step: unknown): boolean {
    const core = this.core
    core.frameEnded()
    if (step instanceof Failure) return true
    core.framesRead++
    core.traffic.linesRead++
    return false
  }

  /** Decodes what is buffered, moving queued input into the buffer while the decoder needs more. */
  private attempt(decoder: Decoder<unknown, unknown>): unknown {
    const reader = this.core.reader
    for (;;) {
      const step = nextFrame(decoder, reader.input)
      if (step !== NeedMore || !reader.fill()) return step
    }
  }

  /** The parked read flushes, then waits for input (see the module doc). */
  private awaitInput(): void {
    const core = this.core
    core.syncFailures()
    const { reader, writer } = core
    if (reader.failure !== undefined) return this.fail(reader.failure)
    if (!writer.flush()) {
      if (writer.failure !== undefined) return this.fail(writer.failure)
      this.awaitsDrain = true
      writer.park(this.onDrain ??= (failure) => {
        this.awaitsDrain = false
        return failure === undefined ? this.awaitInput() : this.fail(failure)
      })
      return core.deadlines.drainWaiting()
    }
    // Input may have arrived during the flush (a peer answering at once).
    if (reader.hasMore) return this.inputArrived()
    core.readParked(true)
  }

  private resume(effect: Effect.Effect<unknown, unknown>): void {
    const resume = this.resumeRead
    if (resume === undefined) return
    this.resumeRead = undefined
    this.parked = undefined
    this.core.readEnded()
    resume(effect)
  }

  private cancel(): void {
    if (this.awaitsDrain) this.core.writer.cancel(this.onDrain!)
    this.awaitsDrain = false
    this.resumeRead = undefined
    this.parked = undefined
    this.core.readEnded()
  }
}
