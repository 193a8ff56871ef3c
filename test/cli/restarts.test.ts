/**
 * The restart policy of `--workers`, without processes: the backoff's delays
 * as arithmetic, then one slot's restarts on a TestClock — the uptime that
 * makes the doubling start over and the wait before each replacement are
 * both the Clock's, so the test moves time itself and sees each replacement
 * start exactly when it is due, never a millisecond before.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { TestClock } from "effect/testing"
import { backoff, nextRestart, restartDelay, SlotRestarts } from "../../src/cli/restarts.ts"

/**
 * Crashes the slot's worker: checks that the delay is announced before any
 * time passes and that the wait ends exactly when it is due; returns the
 * delay in milliseconds.
 */
const crash = (restarts: SlotRestarts) =>
  Effect.gen(function*() {
    const announced: Array<Duration.Duration> = []
    const wait = yield* Effect.forkChild(restarts.afterCrash((delay) => Effect.sync(() => announced.push(delay))))
    yield* Effect.yieldNow
    assert.strictEqual(announced.length, 1, "the delay is announced at once, before the wait")
    const millis = Duration.toMillis(announced[0]!)
    yield* TestClock.adjust(millis - 1)
    assert.isUndefined(wait.pollUnsafe(), `still waiting 1 ms before ${millis} ms`)
    yield* TestClock.adjust(1)
    assert.isDefined(wait.pollUnsafe(), `done at ${millis} ms`)
    return millis
  })

/** The slot's worker listens for `upFor`, then crashes; returns the delay before its replacement. */
const crashAfter = (restarts: SlotRestarts, upFor: Duration.Input) =>
  Effect.gen(function*() {
    yield* restarts.listening
    yield* TestClock.adjust(upFor)
    return yield* crash(restarts)
  })

describe("restarts", () => {
  describe("the backoff, as arithmetic", () => {
    it("the restart delay doubles from 100 ms and stops at 10 s", () => {
      assert.deepStrictEqual(
        [0, 1, 2, 3, 6, 7, 8, 100, 2000].map((streak) => restartDelay(backoff, streak)),
        [100, 200, 400, 800, 6400, 10_000, 10_000, 10_000, 10_000]
      )
    })

    it("the doubling starts over after a worker of the slot stayed up 30 s", () => {
      assert.deepStrictEqual(nextRestart(backoff, 0, 50), { delayMillis: 100, streak: 1 })
      assert.deepStrictEqual(nextRestart(backoff, 3, 29_999), { delayMillis: 800, streak: 4 })
      assert.deepStrictEqual(nextRestart(backoff, 3, 30_000), { delayMillis: 100, streak: 1 })
    })
  })

  describe("one slot on the Clock", () => {
    it.effect("each crash in a row waits the next delay: 100 ms, doubling, up to 10 s", () =>
      Effect.gen(function*() {
        const restarts = new SlotRestarts(backoff)
        const delays: Array<number> = []
        for (let i = 0; i < 9; i++) delays.push(yield* crashAfter(restarts, "50 millis"))
        assert.deepStrictEqual(delays, [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000])
      }))

    it.effect("the doubling starts over once the slot's worker has listened for 30 s by the Clock", () =>
      Effect.gen(function*() {
        const restarts = new SlotRestarts(backoff)
        for (const expected of [100, 200, 400]) assert.strictEqual(yield* crashAfter(restarts, "1 second"), expected)
        assert.strictEqual(yield* crashAfter(restarts, "29999 millis"), 800, "29.999 s up: still a crash loop")
        assert.strictEqual(yield* crashAfter(restarts, "30 seconds"), 100, "30 s up: starts over")
        assert.strictEqual(yield* crashAfter(restarts, "0 millis"), 200)
      }))

    it.effect("interrupting the wait cancels the restart (the primary is stopping)", () =>
      Effect.gen(function*() {
        const restarts = new SlotRestarts(backoff)
        let started = false
        const wait = yield* Effect.forkChild(
          restarts.afterCrash(() => Effect.void).pipe(Effect.andThen(Effect.sync(() => {
            started = true
          })))
        )
        yield* TestClock.adjust("50 millis")
        yield* Fiber.interrupt(wait)
        yield* TestClock.adjust("1 minute")
        assert.isFalse(started)
      }))
  })
})
