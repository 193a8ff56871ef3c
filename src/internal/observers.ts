/**
 * Waiting for a condition over state that event callbacks change: call
 * `notify` after every change; `waitFor(check)` resumes with `check()`'s value
 * as soon as it is defined (at once if it already is). No polling, no timer.
 *
 * @internal
 */
import * as Effect from "effect/Effect"

/** Waits on conditions over some state; see the module doc. */
export interface Observers {
  readonly notify: () => void
  readonly waitFor: <A>(check: () => A | undefined) => Effect.Effect<A>
}

/** A fresh set of observers. */
export const make = (): Observers => {
  const observers = new Set<() => void>()
  return {
    notify: () => observers.forEach((observer) => observer()),
    waitFor: <A>(check: () => A | undefined) =>
      Effect.callback<A>((resume) => {
        const observer = () => {
          const value = check()
          if (value === undefined) return
          observers.delete(observer)
          resume(Effect.succeed(value))
        }
        observers.add(observer)
        observer()
        return Effect.sync(() => observers.delete(observer))
      })
  }
}
