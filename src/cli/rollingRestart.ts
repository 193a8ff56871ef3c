/**
 * The rolling restart of `--workers` (SIGUSR2 to the primary): a new
 * version goes live without a restart of the whole server and without
 * dropping a connection. One slot at a time, a new worker is forked (it
 * loads the code from disk again) beside the old one; once it reports that
 * it listens, it takes the slot and the old worker drains as on SIGTERM — its
 * connections finish what they started and get their goodbye, and their
 * clients reconnect to the workers that listen. Capacity never drops below N
 * workers, and at most N + 1 run.
 *
 * A new worker that exits before it listens, or does not listen within the
 * start timeout (it is killed), stops the roll: the slots not reached yet
 * keep their old workers, and one line says why. The rolled slots keep their
 * new workers, which did listen.
 *
 * Written against {@link RollTarget} rather than `node:cluster`, so the
 * order of the steps and the bounds are tested without processes.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"

/**
 * How a worker process ended: its exit code, or the signal that killed it.
 *
 * @since 0.1.0
 */
export interface Exited {
  readonly code: number | null
  readonly signal: string | null
}

/**
 * One worker process, as the roll handles it.
 *
 * @since 0.1.0
 */
export interface RollWorker {
  readonly pid: number | undefined
  /** Succeeds once the worker reports it listens; fails with how it ended if it exits first. */
  readonly listening: Effect.Effect<void, Exited>
  /** Succeeds once the worker has exited. */
  readonly exited: Effect.Effect<Exited>
  /** Asks the worker to drain, as SIGTERM does. */
  readonly drain: Effect.Effect<void>
  /** Kills the worker (SIGKILL). */
  readonly kill: Effect.Effect<void>
}

/**
 * What the roll needs of the primary's workers.
 *
 * @since 0.1.0
 */
export interface RollTarget<W extends RollWorker> {
  readonly slots: ReadonlyArray<number>
  /**
   * The slot's worker if it listens. `undefined` while the slot's worker is
   * starting or waiting to restart after a crash: that one loads the new
   * code anyway, so the roll skips the slot.
   */
  readonly serving: (slot: number) => W | undefined
  /** Forks a new worker for `slot`, beside the slot's current one. */
  readonly fork: (slot: number) => Effect.Effect<W>
  /**
   * Makes `worker`, which listens, the slot's worker; returns the one it
   * replaces (if any), for the roll to drain. Fails with how `worker` ended
   * if it has exited meanwhile.
   */
  readonly adopt: (slot: number, worker: W) => Effect.Effect<W | undefined, Exited>
}

/**
 * The bounds of a roll.
 *
 * @since 0.1.0
 */
export interface RollOptions {
  /** How long a new worker may take to listen before it is killed and the roll stops. */
  readonly startTimeout: Duration.Duration
  /** How long an old worker may take to drain before it is killed. */
  readonly drainTimeout: Duration.Duration
}

const pids = <W extends RollWorker>(target: RollTarget<W>) =>
  target.slots.flatMap((slot) => {
    const worker = target.serving(slot)
    return worker === undefined ? [] : [worker.pid]
  })

/** The new worker did not listen within the start timeout. */
const timedOut = "timeout" as const

/** Drains the worker `next` replaced, bounded: one that does not drain in time is killed. */
const retire = (slot: number, old: RollWorker, next: RollWorker, options: RollOptions) =>
  Effect.gen(function*() {
    yield* old.drain
    const drained = yield* Effect.timeoutOption(old.exited, options.drainTimeout)
    const { code, signal } = Option.isSome(drained) ? drained.value : yield* Effect.andThen(old.kill, old.exited)
    const fields = { worker: slot, pid: old.pid, by: next.pid, exitCode: code, signal }
    yield* code === 0 ? Effect.logInfo("worker replaced", fields) : Effect.logWarning("worker replaced", fields)
  })

/**
 * Replaces every listening worker of `target` by a new one, slot by slot
 * (see the module doc). Completes with `true` when every slot was rolled,
 * `false` when a new worker did not start and the roll stopped.
 *
 * @since 0.1.0
 */
export const roll = <W extends RollWorker>(target: RollTarget<W>, options: RollOptions): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    yield* Effect.logInfo("rolling restart", { pids: pids(target) })
    for (const slot of target.slots) {
      if (target.serving(slot) === undefined) continue
      const next = yield* target.fork(slot)
      const started = yield* Effect.result(next.listening.pipe(
        Effect.timeoutOrElse({ duration: options.startTimeout, orElse: () => Effect.fail(timedOut) }),
        Effect.andThen(target.adopt(slot, next))
      ))
      if (Result.isFailure(started)) {
        const why = started.failure
        if (why === timedOut) yield* next.kill
        yield* Effect.logError("rolling restart stopped: the new worker did not start, the old ones keep serving", {
          worker: slot,
          pid: next.pid,
          ...(why === timedOut
            ? { notListeningAfter: Duration.format(options.startTimeout) }
            : { exitCode: why.code, signal: why.signal })
        })
        return false
      }
      if (started.success !== undefined) yield* retire(slot, started.success, next, options)
    }
    yield* Effect.logInfo("rolling restart done", { pids: pids(target) })
    return true
  })
