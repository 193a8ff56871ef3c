/**
 * Logging for events a remote peer can cause at will (refusals, protocol
 * violations, crashes of a worker that keeps restarting): the first event of
 * a burst is reported at once, the rest are counted and summarised at most
 * once per interval, so a flood of them costs a few log lines, never one per
 * event. Events reported with a kind (why a PROXY header was refused) are
 * also counted per kind, so a summary names every kind the burst held. The
 * interval runs on Effect's `Clock` (a fiber forked by the owner, in its
 * scope), so `TestClock` drives it.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"

/** Runs an effect in a fiber of the owner's (a server's or the workers' primary's scope). */
export type Fork = (effect: Effect.Effect<void>) => Fiber.Fiber<void, unknown>

/**
 * Logs how many more events happened in the last interval, and how many of
 * each kind when they were reported with one.
 */
export type Summary = (count: number, kinds: Readonly<Record<string, number>> | undefined) => Effect.Effect<void>

/** Reports one kind of event; see the module doc. */
export class BurstLog {
  private readonly interval: Duration.Duration
  private readonly summary: Summary
  private readonly fork: Fork
  /** The fiber that closes the current window (`undefined`: no burst under way). */
  private window: Fiber.Fiber<void, unknown> | undefined = undefined
  private countSinceLog = 0
  /** Counts since the last summary by kind, for events reported with one. */
  private kindsSinceLog: Map<string, number> | undefined = undefined

  /** A burst ends after an interval with no event. */
  constructor(interval: Duration.Input, summary: Summary, fork: Fork) {
    this.interval = Duration.fromInputUnsafe(interval)
    this.summary = summary
    this.fork = fork
  }

  /**
   * Records one event (of `kind`, if given): true when it is the first of a
   * burst (the caller logs it in full), false when it was counted for the
   * summary.
   */
  report(kind?: string): boolean {
    if (this.window !== undefined) {
      this.countSinceLog++
      if (kind !== undefined) {
        const kinds = this.kindsSinceLog ??= new Map()
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1)
      }
      return false
    }
    this.window = this.fork(this.windows)
    return true
  }

  /** Ends the burst: what was counted since the last summary is summarised now. */
  readonly close: Effect.Effect<void> = Effect.suspend(() => {
    const window = this.window
    this.window = undefined
    if (window === undefined) return Effect.void
    window.interruptUnsafe()
    return Effect.asVoid(this.flush)
  })

  /** Summarises the count, if any; whether there was one. */
  private readonly flush: Effect.Effect<boolean> = Effect.suspend(() => {
    if (this.countSinceLog === 0) return Effect.succeed(false)
    const count = this.countSinceLog
    const kinds = this.kindsSinceLog === undefined ? undefined : Object.fromEntries(this.kindsSinceLog)
    this.countSinceLog = 0
    this.kindsSinceLog = undefined
    return Effect.as(this.summary(count, kinds), true)
  })

  /** One window after another while events keep coming; then the burst is over. */
  private readonly windows: Effect.Effect<void> = Effect.suspend(() =>
    Effect.flatMap(Effect.andThen(Effect.sleep(this.interval), this.flush), (more) => {
      if (more) return this.windows
      this.window = undefined
      return Effect.void
    })
  )
}
