/**
 * When, and how loudly, a crashed worker of `--workers` is restarted: the
 * backoff (a delay that doubles with every crash of a slot, capped, and
 * starts over after a worker stayed up a while) and the restart log (the
 * first restart of a burst in full, the rest summed up). A crash loop thus
 * costs one fork per delay and a few log lines, never a tight loop of forks
 * or a line per crash.
 *
 * Apart from the supervisor (`workers.ts`) so that the policy reads on its
 * own and is tested without processes. A slot's uptime and its wait before a
 * restart are both read from Effect's `Clock`, so `TestClock` drives them.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import { BurstLog } from "../services/Logging.ts"

/**
 * When a crashed worker is restarted: after `initialMillis`, doubling with
 * every further crash of its slot up to `maxMillis`; the doubling starts
 * over once a worker of the slot has been listening for `resetAfterMillis`.
 *
 * @since 0.1.0
 */
export interface Backoff {
  readonly initialMillis: number
  readonly maxMillis: number
  readonly resetAfterMillis: number
}

/**
 * The restart backoff of `--workers`: 100 ms, doubling up to 10 s, reset
 * after 30 s up.
 *
 * @since 0.1.0
 */
export const backoff: Backoff = { initialMillis: 100, maxMillis: 10_000, resetAfterMillis: 30_000 }

/**
 * The delay before the restart that follows `streak` crashes in a row
 * (0 for the first crash).
 *
 * @since 0.1.0
 */
export const restartDelay = (policy: Backoff, streak: number): number =>
  Math.min(policy.maxMillis, policy.initialMillis * 2 ** Math.min(streak, 52))

/**
 * The restart after a crash of a worker that had been listening for
 * `upForMillis`, its slot having crashed `streak` times in a row before:
 * the delay, and the slot's streak from now on.
 *
 * @since 0.1.0
 */
export const nextRestart = (
  policy: Backoff,
  streak: number,
  upForMillis: number
): { readonly delayMillis: number; readonly streak: number } => {
  const current = upForMillis >= policy.resetAfterMillis ? 0 : streak
  return { delayMillis: restartDelay(policy, current), streak: current + 1 }
}

/**
 * One slot's restarts under a {@link Backoff}, timed on the Clock: how long
 * its worker has been listening, and the wait before its replacement.
 *
 * @since 0.1.0
 */
export class SlotRestarts {
  private readonly policy: Backoff
  /** Crashes in a row: the exponent of the next delay. */
  private streak = 0
  /** When the slot's current worker began listening (Clock millis); `undefined` until it does. */
  private listeningSince: number | undefined

  constructor(policy: Backoff) {
    this.policy = policy
  }

  /** The slot's worker is listening: its uptime counts from now. */
  readonly listening: Effect.Effect<void> = Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.sync(() => {
      this.listeningSince = now
    }))

  /**
   * The slot's worker crashed: works out the delay due (the streak starts
   * over if the worker had been listening for `resetAfterMillis`), hands it
   * to `announce` at once (the restart log), then waits it out. The caller
   * starts the replacement when this completes; interrupting it cancels the
   * restart.
   */
  afterCrash(announce: (delay: Duration.Duration) => Effect.Effect<void>): Effect.Effect<void> {
    return Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const upFor = this.listeningSince === undefined ? 0 : now - this.listeningSince
      const next = nextRestart(this.policy, this.streak, upFor)
      this.streak = next.streak
      this.listeningSince = undefined
      const delay = Duration.millis(next.delayMillis)
      return Effect.andThen(announce(delay), Effect.sleep(delay))
    })
  }
}

/**
 * One restart, as logged.
 *
 * @since 0.1.0
 */
export interface Restart {
  readonly worker: number
  readonly pid: number | undefined
  readonly exitCode: number | null
  readonly signal: string | null
  readonly delayMillis: number
}

/** How often a burst of restarts is summed up in the log, at most. */
const summaryInterval = "5 seconds"

/**
 * The restart log: `restarting worker {worker, pid, exitCode, signal,
 * restartIn}` for the first restart of a burst, then `restarted workers
 * {restarts, longestDelay}` at most every 5 s while the burst lasts.
 *
 * The summary is timed by `BurstLog` (shared with the server's refusal
 * logs), on Effect's Clock, in a fiber of the primary's.
 *
 * @since 0.1.0
 */
export class RestartLog {
  private readonly log: (effect: Effect.Effect<void>) => Fiber.Fiber<void, unknown>
  private readonly burst: BurstLog
  /** The longest delay among the restarts not logged yet. */
  private longestDelay = 0

  /** `log` runs a log effect in a fiber of the primary's (it is called from Node callbacks). */
  constructor(log: (effect: Effect.Effect<void>) => Fiber.Fiber<void, unknown>) {
    this.log = log
    this.burst = new BurstLog(summaryInterval, (count) =>
      Effect.suspend(() => {
        const longestDelay = Duration.format(Duration.millis(this.longestDelay))
        this.longestDelay = 0
        return Effect.logWarning("restarted workers", { restarts: count, longestDelay })
      }), log)
  }

  /** Records one restart: logged now if it starts a burst, else counted for the summary. */
  report(restart: Restart): void {
    if (!this.burst.report()) {
      this.longestDelay = Math.max(this.longestDelay, restart.delayMillis)
      return
    }
    const { delayMillis, ...fields } = restart
    this.log(Effect.logWarning("restarting worker", { ...fields, restartIn: Duration.format(Duration.millis(delayMillis)) }))
  }

  /** Sums up what is left of a burst now (the primary is stopping). */
  get close(): Effect.Effect<void> {
    return this.burst.close
  }
}
