/**
 * The rolling restart's steps without processes, over a pool of fake
 * workers on a TestClock: one slot at a time, the new worker must listen
 * before the old one is asked to drain, and the next slot waits until the
 * old one has exited; a new worker that exits first, or does not listen
 * within the start timeout, stops the roll and leaves the old workers
 * alone; an old worker that does not drain in time is killed. (The real
 * thing, with processes and clients, is in `workers.test.ts`.)
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { TestClock } from "effect/testing"
import { type Exited, roll, type RollTarget, type RollWorker } from "../../src/cli/rollingRestart.ts"
import { captureLogs } from "../fixtures/server.ts"

const options = { startTimeout: Duration.seconds(60), drainTimeout: Duration.seconds(40) }

/** What a fake worker does when forked, and when asked to drain. */
interface Behaviour {
  /** On fork: listen at once, exit at once with this code, or neither. */
  readonly start: "listen" | number | "silent"
  /** On a drain request: exit 0 at once, or never (until killed). */
  readonly drains: boolean
}

interface FakeWorker extends RollWorker {
  readonly name: string
  ended: Exited | undefined
}

/**
 * A pool of `slots` listening workers, `old1..` (pids 11, 12, …), whose
 * replacements `new1..` (pids 21, 22, …) behave as `behaviour(slot)` says.
 */
const makePool = (slots: number, behaviour: (slot: number) => Behaviour, oldDrains = true) => {
  const events: Array<string> = []
  const fake = (name: string, pid: number, drains: boolean): FakeWorker => {
    const ready = Deferred.makeUnsafe<void, Exited>()
    const gone = Deferred.makeUnsafe<Exited>()
    const worker: FakeWorker = {
      name,
      pid,
      ended: undefined,
      listening: Deferred.await(ready),
      exited: Deferred.await(gone),
      drain: Effect.sync(() => {
        events.push(`drain ${name}`)
        if (drains) exit({ code: 0, signal: null })
      }),
      kill: Effect.sync(() => {
        events.push(`kill ${name}`)
        exit({ code: null, signal: "SIGKILL" })
      })
    }
    const exit = (ended: Exited) => {
      worker.ended = ended
      Deferred.doneUnsafe(ready, Effect.fail(ended))
      Deferred.doneUnsafe(gone, Effect.succeed(ended))
    }
    return Object.assign(worker, { listen: () => Deferred.doneUnsafe(ready, Effect.void), exit })
  }
  const current = new Map<number, FakeWorker>()
  for (let slot = 1; slot <= slots; slot++) current.set(slot, fake(`old${slot}`, 10 + slot, oldDrains))
  const target: RollTarget<FakeWorker> = {
    slots: [...current.keys()],
    serving: (slot) => current.get(slot),
    fork: (slot) =>
      Effect.sync(() => {
        const { drains, start } = behaviour(slot)
        const worker = fake(`new${slot}`, 20 + slot, drains) as FakeWorker & { listen(): void; exit(ended: Exited): void }
        events.push(`fork ${slot}`)
        if (start === "listen") worker.listen()
        else if (typeof start === "number") worker.exit({ code: start, signal: null })
        return worker
      }),
    adopt: (slot, worker) =>
      Effect.suspend(() => {
        if (worker.ended !== undefined) return Effect.fail(worker.ended)
        events.push(`adopt ${slot}`)
        const replaced = current.get(slot)
        current.set(slot, worker)
        return Effect.succeed(replaced)
      })
  }
  return { events, current, target }
}

const healthy: Behaviour = { start: "listen", drains: true }

describe("rolling restart", () => {
  it.effect("slot by slot: the new worker listens, takes the slot, then the old one drains and exits", () =>
    Effect.gen(function*() {
      const logs = captureLogs()
      const pool = makePool(3, () => healthy)
      assert.isTrue(yield* Effect.provide(roll(pool.target, options), logs.layer))
      assert.deepStrictEqual(pool.events, [
        "fork 1",
        "adopt 1",
        "drain old1",
        "fork 2",
        "adopt 2",
        "drain old2",
        "fork 3",
        "adopt 3",
        "drain old3"
      ])
      assert.deepStrictEqual([...pool.current.values()].map((worker) => worker.name), ["new1", "new2", "new3"])
      assert.deepStrictEqual(logs.lines.map((line) => `${line.level} ${line.message}`), [
        "Info rolling restart {\"pids\":[11,12,13]}",
        ...[1, 2, 3].map((slot) =>
          `Info worker replaced {"worker":${slot},"pid":${10 + slot},"by":${20 + slot},"exitCode":0,"signal":null}`
        ),
        "Info rolling restart done {\"pids\":[21,22,23]}"
      ])
    }))

  it.effect("a new worker that exits before it listens stops the roll: one line, no old worker touched", () =>
    Effect.gen(function*() {
      const logs = captureLogs()
      const pool = makePool(3, (slot) => (slot === 2 ? { start: 2, drains: true } : healthy))
      assert.isFalse(yield* Effect.provide(roll(pool.target, options), logs.layer))
      assert.deepStrictEqual(pool.events, ["fork 1", "adopt 1", "drain old1", "fork 2"])
      assert.deepStrictEqual([...pool.current.values()].map((worker) => worker.name), ["new1", "old2", "old3"])
      const errors = logs.lines.filter((line) => line.level === "Error").map((line) => line.message)
      assert.deepStrictEqual(errors, [
        "rolling restart stopped: the new worker did not start, the old ones keep serving {\"worker\":2,\"pid\":22,\"exitCode\":2,\"signal\":null}"
      ])
    }))

  it.effect("a new worker that does not listen within the start timeout is killed, and the roll stops", () =>
    Effect.gen(function*() {
      const logs = captureLogs()
      const pool = makePool(2, () => ({ start: "silent", drains: true }))
      const rolling = yield* Effect.forkChild(Effect.provide(roll(pool.target, options), logs.layer))
      yield* TestClock.adjust("59999 millis")
      assert.isUndefined(rolling.pollUnsafe(), "still waiting for it to listen")
      assert.deepStrictEqual(pool.events, ["fork 1"])
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(pool.events, ["fork 1", "kill new1"])
      assert.isFalse(yield* Fiber.join(rolling))
      assert.deepStrictEqual([...pool.current.values()].map((worker) => worker.name), ["old1", "old2"])
      assert.include(logs.lines.at(-1)?.message, "{\"worker\":1,\"pid\":21,\"notListeningAfter\":\"1m\"}")
    }))

  it.effect("an old worker that does not drain within the drain timeout is killed; the roll goes on", () =>
    Effect.gen(function*() {
      const logs = captureLogs()
      const pool = makePool(2, () => healthy, false)
      const rolling = yield* Effect.forkChild(Effect.provide(roll(pool.target, options), logs.layer))
      yield* TestClock.adjust("39999 millis")
      assert.deepStrictEqual(pool.events, ["fork 1", "adopt 1", "drain old1"], "slot 2 waits for old1 to exit")
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(pool.events, ["fork 1", "adopt 1", "drain old1", "kill old1", "fork 2", "adopt 2", "drain old2"])
      yield* TestClock.adjust("40 seconds")
      assert.isTrue(yield* Fiber.join(rolling))
      const replaced = logs.lines.filter((line) => line.message.startsWith("worker replaced"))
      assert.deepStrictEqual(replaced.map((line) => line.level), ["Warn", "Warn"], "killed: a warning each")
      assert.include(replaced[0]?.message, "\"signal\":\"SIGKILL\"")
    }))

  it.effect("a slot whose worker is not listening (it is restarting) is skipped: its next worker loads the new code anyway", () =>
    Effect.gen(function*() {
      const pool = makePool(2, () => healthy)
      const target: RollTarget<FakeWorker> = { ...pool.target, serving: (slot) => (slot === 1 ? undefined : pool.current.get(slot)) }
      assert.isTrue(yield* Effect.provide(roll(target, options), captureLogs().layer))
      assert.deepStrictEqual(pool.events, ["fork 2", "adopt 2", "drain old2"])
    }))
})
