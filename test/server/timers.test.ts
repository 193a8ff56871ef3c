/**
 * The server's housekeeping timers run on Effect's Clock, so `TestClock`
 * drives them: a burst of peer-caused events is logged once and then
 * summarised once per window until a window passes without any, and the
 * descriptor watch checks once a second while over budget, never otherwise.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/testing/TestClock"
import { BurstLog, type Fork } from "../../src/internal/server/burstLog.ts"
import * as Descriptors from "../../src/internal/server/descriptors.ts"

/** Forks into the test's scope, with its services (its TestClock). */
const forker = Effect.gen(function*() {
  const context = yield* Effect.context<never>()
  const scope = yield* Effect.scope
  const fork: Fork = (effect) => Fiber.runIn(Effect.runForkWith(context)(effect), scope)
  return fork
})

describe("BurstLog", () => {
  it.effect("the first event of a burst is reported at once, the rest summarised per window, then the burst ends", () =>
    Effect.gen(function*() {
      const summaries: Array<number> = []
      const burst = new BurstLog("5 seconds", (count) => Effect.sync(() => summaries.push(count)), yield* forker)
      assert.isTrue(burst.report(), "the first is logged in full")
      assert.isFalse(burst.report())
      assert.isFalse(burst.report())
      yield* TestClock.adjust("4999 millis")
      assert.deepStrictEqual(summaries, [], "not before the window ends")
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(summaries, [2])
      assert.isFalse(burst.report(), "the burst goes on: counted")
      yield* TestClock.adjust("5 seconds")
      assert.deepStrictEqual(summaries, [2, 1])
      // A window with nothing in it ends the burst; the next event starts one.
      yield* TestClock.adjust("5 seconds")
      assert.deepStrictEqual(summaries, [2, 1])
      assert.isTrue(burst.report())
      assert.isFalse(burst.report())
      yield* burst.close
      assert.deepStrictEqual(summaries, [2, 1, 1], "close summarises at once")
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual(summaries, [2, 1, 1], "and stops the window")
    }))
})

describe("Descriptors.Watch", () => {
  it.effect("checks once a second while over budget, and stops when back under it", () =>
    Effect.gen(function*() {
      const open = Descriptors.openCount()
      if (open === undefined) return
      // A limit this process is nearly at: every check finds it exhausted.
      const fdLimit = open + 4
      const budget = Descriptors.defaultMaxConnections(fdLimit)
      let checks = 0
      const watch = new Descriptors.Watch(fdLimit, () => Effect.sync(() => checks++), yield* forker)
      watch.update(budget - 1)
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(checks, 0, "under budget: no check at all")
      watch.update(budget)
      yield* Effect.yieldNow
      assert.strictEqual(checks, 1, "one check at once")
      yield* TestClock.adjust("3 seconds")
      assert.strictEqual(checks, 4, "then one a second")
      watch.update(budget - 1)
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(checks, 4, "stopped")
    }))
})
