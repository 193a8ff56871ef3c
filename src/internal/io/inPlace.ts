/**
 * Effects that complete inside `yield*` when their outcome is known at once:
 * a read whose frame is already buffered, a write below the high-water mark.
 * A loop over a buffered pipeline then costs what a callback state
 * machine's loop costs: no fiber suspension, no run-loop trip, no `Exit`.
 *
 * **How.** `yield* effect` inside `Effect.gen` first asks the effect for its
 * iterator. Here the iterator computes the outcome right then — which is when
 * the effect runs anyway — and when it is a value, its first `next` says
 * `done` with that value, so the generator goes on without suspending. An
 * outcome that needs the run loop (a failure, a wait) is handed to
 * `Effect.gen` as an effect. Run any other way (`flatMap`, `forever`…), the
 * effect computes its outcome when the run loop evaluates it.
 *
 * **Fairness.** Every {@link budget}-th completion in a row goes through the
 * run loop with a yield instead, so a fiber working through much buffered
 * input still lets other fibers (and new connections) in and sees
 * interruption, as Effect's own operation budget would have it.
 *
 * One {@link InPlace} per connection: nothing here is shared between
 * connections, and `yield*` calls `next` synchronously right after asking for
 * the iterator, so the one iterator result an instance reuses cannot be read
 * by anyone else in between.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Effectable from "effect/Effectable"
import * as Utils from "effect/Utils"

/**
 * Returned by a step instead of a value when its outcome is the effect it
 * passed to {@link InPlace.defer}.
 */
export const Deferred: unique symbol = Symbol.for("fiberline/InPlace/Deferred")

/** Completions in place in a row before one goes through the run loop and yields. */
export const budget = 128

/** The in-place completions of one connection; see the module doc. */
export class InPlace {
  /** The iterator result handed back by every in-place completion (`next` is called once, at once). */
  private readonly result: IteratorReturnResult<unknown> = { done: true, value: undefined }
  private deferred: Effect.Effect<unknown, unknown> | undefined = undefined
  private inARow = 0

  /** Says the outcome is `effect` (a failure, a wait): return the result from the step. */
  defer(effect: Effect.Effect<unknown, unknown>): typeof Deferred {
    this.deferred = effect
    return Deferred
  }

  /** The effect a step deferred to, handed over once. */
  takeDeferred(): Effect.Effect<unknown, unknown> {
    const effect = this.deferred!
    this.deferred = undefined
    return effect
  }

  /**
   * Drops the reference to the last value completed in place (an idle
   * connection must not keep its last frame alive).
   */
  forget(): void {
    this.result.value = undefined
  }

  /** This instance as the iterator of a value: `next` says done with it. */
  next(): IteratorReturnResult<unknown> {
    return this.result
  }

  /** The iterator `yield*` gets for a step's outcome. */
  iterate(outcome: unknown): Iterator<Effect.Effect<unknown, unknown>, unknown> {
    if (outcome === Deferred) return new Utils.SingleShotGen(this.takeDeferred())
    if (++this.inARow >= budget) {
      this.inARow = 0
      return new Utils.SingleShotGen(Effect.as(Effect.yieldNow, outcome))
    }
    this.result.value = outcome
    return this
  }
}

/** An effect made by {@link prototype}: it knows its connection's {@link InPlace}. */
export interface Stepped {
  readonly inPlace: InPlace
}

/**
 * The prototype of effects whose outcome `step(this)` computes when they run
 * (a value, or {@link Deferred}), completing in place under `yield*`. A
 * class whose prototype this is makes one object per effect, with no
 * closures.
 */
export const prototype = <T extends Stepped>(label: string, step: (self: T) => unknown): object => {
  const base = Effectable.Prototype<Effect.Effect<unknown, unknown>>({
    label,
    evaluate(this: Effect.Effect<unknown, unknown>) {
      const self = this as unknown as T
      const outcome = step(self)
      return outcome === Deferred ? self.inPlace.takeDeferred() : Effect.succeed(outcome)
    }
  })
  return Object.create(base, {
    [Symbol.iterator]: {
      value(this: T) {
        return this.inPlace.iterate(step(this))
      }
    }
  })
}
