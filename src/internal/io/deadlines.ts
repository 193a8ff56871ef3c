/**
 * The time limits of one connection's waits, on Effect's `Clock` (so
 * `TestClock` drives them):
 *
 * - **idle**: a read waits for input longer than `idleTimeout` (every byte
 *   restarts it);
 * - **frame**: a frame, once its first byte has arrived, is not complete
 *   within `lineTimeout` — a line, a block, a whole request, header and body
 *   (a peer trickling bytes to hold a slot: slowloris);
 * - **write**: output stays above the high-water mark longer than
 *   `writeTimeout` (the peer does not read).
 *
 * Waits do not cost a timer each: a wait records when it started, and one
 * watchdog fiber, in the connection's scope, sleeps until the earliest
 * deadline, checks, and sleeps again for what is left. A new wait starts a
 * watchdog only when none is due by its deadline.
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"

/** What a connection does when a deadline passes. */
export interface Expiry {
  /** The frame being read is not complete in time. */
  readonly frameExpired: () => void
  /** The read waited too long for input. */
  readonly idleExpired: () => void
  /** The output did not drain in time. */
  readonly writeExpired: () => void
}

/** The deadlines of one connection; see the module doc. */
export class Deadlines {
  readonly clock: Clock.Clock
  /** Since when the waiting read waits (`undefined`: no read waits). */
  readSince: number | undefined = undefined
  /** Since when the frame being read has been arriving (`undefined`: none started). */
  frameSince: number | undefined = undefined
  /** Since when a fiber waits for drain (`undefined`: none waits). */
  drainSince: number | undefined = undefined
  private readonly idleMillis: number | undefined
  private readonly frameMillis: number | undefined
  private readonly writeMillis: number
  private readonly expiry: Expiry
  private readonly context: Context.Context<never>
  private readonly scope: Scope.Scope
  private watchdog: Fiber.Fiber<void> | undefined = undefined
  /** When the running watchdog checks (`Infinity`: none runs). */
  private watchdogAt = Infinity
  /** Tells a superseded watchdog apart, even one that ended before `runForkWith` returned. */
  private generation = 0

  constructor(
    limits: {
      readonly idleTimeout: Duration.Duration | undefined
      readonly lineTimeout: Duration.Duration | undefined
      readonly writeTimeout: Duration.Duration
    },
    expiry: Expiry,
    clock: Clock.Clock,
    context: Context.Context<never>,
    scope: Scope.Scope
  ) {
    this.idleMillis = limits.idleTimeout === undefined ? undefined : Duration.toMillis(limits.idleTimeout)
    this.frameMillis = limits.lineTimeout === undefined ? undefined : Duration.toMillis(limits.lineTimeout)
    this.writeMillis = Duration.toMillis(limits.writeTimeout)
    this.expiry = expiry
    this.clock = clock
    this.context = context
    this.scope = scope
  }

  /** Whether reads have any deadline at all (else the read side needs no clock). */
  get timesReads(): boolean {
    return this.idleMillis !== undefined || this.frameMillis !== undefined
  }

  /** A read waits now, or input arrived while it waits; `partial`: part of a frame is buffered. */
  readWaiting(partial: boolean): void {
    if (!this.timesReads) return
    const now = this.clock.currentTimeMillisUnsafe()
    this.readSince = now
    if (partial) this.frameSince ??= now
    this.arm(this.readDeadline)
  }

  /** The read stopped waiting. */
  readDone(): void {
    this.readSince = undefined
  }

  /** A frame was taken: the next one's deadline starts with its first byte. */
  frameDone(): void {
    this.frameSince = undefined
  }

  /** A fiber waits for drain (the first one starts the write timeout). */
  drainWaiting(): void {
    this.drainSince ??= this.clock.currentTimeMillisUnsafe()
    this.arm(this.drainDeadline)
  }

  /** No fiber waits for drain any more. */
  drainDone(): void {
    this.drainSince = undefined
  }

  /** Stops the watchdog (the connection is released). */
  stop(): void {
    this.generation++
    this.watchdog?.interruptUnsafe()
    this.watchdog = undefined
    this.watchdogAt = Infinity
  }

  private get readDeadline(): number {
    if (this.readSince === undefined) return Infinity
    const idle = this.idleMillis === undefined ? Infinity : this.readSince + this.idleMillis
    const frame = this.frameMillis === undefined || this.frameSince === undefined ? Infinity : this.frameSince + this.frameMillis
    return Math.min(idle, frame)
  }

  private get drainDeadline(): number {
    return this.drainSince === undefined ? Infinity : this.drainSince + this.writeMillis
  }

  /** Makes sure a watchdog checks by `deadline`: keeps the running one if it is due by then. */
  private arm(deadline: number): void {
    if (deadline >= this.watchdogAt) return
    this.watchdog?.interruptUnsafe()
    this.watchdogAt = deadline
    const generation = ++this.generation
    const delay = Duration.millis(Math.max(0, deadline - this.clock.currentTimeMillisUnsafe()))
    const fiber = Effect.runForkWith(this.context)(
      Effect.flatMap(this.clock.sleep(delay), () => Effect.sync(() => this.check(generation)))
    )
    this.watchdog = this.generation === generation ? Fiber.runIn(fiber, this.scope) : undefined
  }

  /** Fails the waits whose deadline passed, then watches those still pending. */
  private check(generation: number): void {
    if (generation !== this.generation) return
    this.generation++
    this.watchdog = undefined
    this.watchdogAt = Infinity
    const now = this.clock.currentTimeMillisUnsafe()
    if (this.readSince !== undefined) {
      if (this.frameMillis !== undefined && this.frameSince !== undefined && now >= this.frameSince + this.frameMillis) {
        this.expiry.frameExpired()
      } else if (this.idleMillis !== undefined && now >= this.readSince + this.idleMillis) {
        this.expiry.idleExpired()
      }
    }
    if (now >= this.drainDeadline) this.expiry.writeExpired()
    // Infinity (nothing left to watch) arms nothing.
    this.arm(Math.min(this.readDeadline, this.drainDeadline))
  }
}
