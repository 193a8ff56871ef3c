/**
 * The blocking mechanism (`blocking.ts`) through the keyspace, on the
 * TestClock: waiters are served after the change, first come first served on
 * each key, keys in the order they got values, in rounds when serving fills
 * more keys; a waiter that cannot be served from a key is passed over, and so
 * is one whose peer has gone, which leaves the element in the list; a timeout
 * or an interruption leaves no waiter behind.
 */
import { Buffer } from "node:buffer"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { TestClock } from "effect/testing"
import type { Client, Wait } from "../../../src/handlers/redis/blocking.ts"
import * as Keyspace from "../../../src/handlers/redis/keyspace.ts"
import { List } from "../../../src/handlers/redis/values.ts"

const text = (reply: Uint8Array) => Buffer.from(reply).toString("latin1")
const bytes = (value: string) => Buffer.from(value, "latin1")

/** A client of its own, connected unless `connected` says otherwise. */
const client = (connected: () => boolean = () => true): Client => ({ connected })

/** Stores `elements` on the list `key` (creating it), as a push command does, without serving. */
const push = (keyspace: Keyspace.Keyspace, key: string, ...elements: Array<string>) => {
  let list = keyspace.get(key)
  if (!(list instanceof List)) {
    list = new List()
    keyspace.set(key, list)
  }
  for (const element of elements) list.pushRight(element)
}

/** A BLPOP-like wait: pops the head of the first list among `keys`, replying `key:element`. */
const popWait = (
  keyspace: Keyspace.Keyspace,
  keys: ReadonlyArray<string>,
  options?: { readonly client?: Client; readonly timeout?: Duration.Input; readonly tried?: Array<string> }
): Wait => ({
  keys,
  timeout: options?.timeout === undefined ? undefined : Duration.fromInputUnsafe(options.timeout),
  timedOut: bytes("timed out"),
  client: options?.client ?? client(),
  serve: (key) => {
    options?.tried?.push(key)
    const list = keyspace.get(key)
    if (!(list instanceof List)) return undefined
    const element = list.popLeft()!
    if (list.length === 0) keyspace.delete(key)
    return bytes(`${key}:${element}`)
  }
})

/** Starts a wait in its own fiber, registered by the time this returns. */
const blocked = (keyspace: Keyspace.Keyspace, wait: Wait) =>
  Effect.forkChild(Effect.map(keyspace.block(wait), text), { startImmediately: true })

describe("blocked clients are served", () => {
  it.effect("after the change, first come first served on a key; the rest keep waiting", () =>
    Effect.gen(function*() {
      const keyspace = yield* Keyspace.make()
      const first = yield* blocked(keyspace, popWait(keyspace, ["q"]))
      const second = yield* blocked(keyspace, popWait(keyspace, ["other", "q"]))
      const third = yield* blocked(keyspace, popWait(keyspace, ["q"]))
      assert.strictEqual(keyspace.waiting(), 3)
      push(keyspace, "q", "a", "b")
      assert.isUndefined(first.pollUnsafe(), "nobody is served before the command that pushed ends")
      keyspace.serveBlocked()
      assert.strictEqual(yield* Fiber.join(first), "q:a")
      assert.strictEqual(yield* Fiber.join(second), "q:b")
      assert.strictEqual(keyspace.get("q"), undefined, "the emptied list is deleted")
      assert.strictEqual(keyspace.waiting(), 1)
      push(keyspace, "other", "c")
      keyspace.serveBlocked()
      assert.strictEqual((keyspace.get("other") as List).length, 1, "the served waiter left every key's queue")
      push(keyspace, "q", "d")
      keyspace.serveBlocked()
      assert.strictEqual(yield* Fiber.join(third), "q:d")
      assert.strictEqual(keyspace.waiting(), 0)
    }))

  it.effect("keys in the order they got values: a client blocked on two is served by the first filled", () =>
    Effect.gen(function*() {
      const keyspace = yield* Keyspace.make()
      const both = yield* blocked(keyspace, popWait(keyspace, ["a", "b"]))
      const onB = yield* blocked(keyspace, popWait(keyspace, ["b"]))
      // One command (a MULTI, say) fills b, then a.
      push(keyspace, "b", "x")
      push(keyspace, "a", "y")
      keyspace.serveBlocked()
      assert.strictEqual(yield* Fiber.join(both), "b:x")
      assert.isUndefined(onB.pollUnsafe(), "b is empty again; a has nobody left to serve")
      assert.strictEqual((keyspace.get("a") as List).at(0), "y")
    }))

  it.effect("what serving fills is served in a further round of the same call (a chain of moves)", () =>
    Effect.gen(function*() {
      const keyspace = yield* Keyspace.make()
      // Moves the head of `a` to a new list `b`, as BLMOVE a b does.
      const mover: Wait = {
        ...popWait(keyspace, ["a"]),
        serve: (key) => {
          const list = keyspace.get(key)
          if (!(list instanceof List)) return undefined
          const element = list.popLeft()!
          keyspace.delete(key)
          push(keyspace, "b", element)
          return bytes(`moved ${element}`)
        }
      }
      const move = yield* blocked(keyspace, mover)
      const onB = yield* blocked(keyspace, popWait(keyspace, ["b"]))
      push(keyspace, "a", "x")
      keyspace.serveBlocked()
      assert.strictEqual(yield* Fiber.join(move), "moved x")
      assert.strictEqual(yield* Fiber.join(onB), "b:x")
      assert.strictEqual(keyspace.size(), 0)
    }))

  it.effect("a waiter the key cannot serve is passed over; once the key is gone nobody else is tried", () =>
    Effect.gen(function*() {
      const keyspace = yield* Keyspace.make()
      const tried: Array<string> = []
      const other = yield* blocked(keyspace, { ...popWait(keyspace, ["k"]), serve: () => undefined })
      const first = yield* blocked(keyspace, popWait(keyspace, ["k"]))
      const second = yield* blocked(keyspace, popWait(keyspace, ["k"], { tried }))
      tried.length = 0
      push(keyspace, "k", "only")
      keyspace.serveBlocked()
      assert.strictEqual(yield* Fiber.join(first), "k:only")
      assert.deepStrictEqual(tried, [], "the list was deleted: the next waiter was not tried")
      assert.isUndefined(other.pollUnsafe())
      assert.isUndefined(second.pollUnsafe())
      assert.strictEqual(keyspace.waiting(), 2)
    }))

  it.effect("a value stored after the command looked but before the wait registered is served at once", () =>
    Effect.gen(function*() {
      const keyspace = yield* Keyspace.make()
      const wait = keyspace.block(popWait(keyspace, ["q"]))
      push(keyspace, "q", "early")
      assert.strictEqual(text(yield* wait), "q:early")
      assert.strictEqual(keyspace.waiting(), 0)
    }))
})

describe("a waiter whose peer has gone", () => {
  it.effect("is skipped: the element stays in the list, for the next waiter", () =>
    Effect.gen(function*() {
      const keyspace = yield* Keyspace.make()
      let peerThere = true
      const gone = yield* blocked(keyspace, popWait(keyspace, ["q"], { client: client(() => peerThere) }))
      const next = yield* blocked(keyspace, popWait(keyspace, ["q"]))
      // The peer half-closed; its connection has not interrupted the wait yet.
      peerThere = false
      push(keyspace, "q", "precious")
      keyspace.serveBlocked()
      assert.isUndefined(gone.pollUnsafe())
      assert.strictEqual(yield* Fiber.join(next), "q:precious")
      push(keyspace, "q", "kept")
      keyspace.serveBlocked()
      assert.strictEqual((keyspace.get("q") as List).at(0), "kept", "nobody alive waits: it stays")
      yield* Fiber.interrupt(gone)
      assert.strictEqual(keyspace.waiting(), 0)
    }))
})

describe("waits that end without a value", () => {
  it.effect("a timeout on the clock gives the timeout reply and leaves no waiter", () =>
    Effect.gen(function*() {
      const keyspace = yield* Keyspace.make()
      const waiter = yield* blocked(keyspace, popWait(keyspace, ["q"], { timeout: "1500 millis" }))
      yield* TestClock.adjust("1499 millis")
      assert.strictEqual(keyspace.waiting(), 1)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Fiber.join(waiter), "timed out")
      assert.strictEqual(keyspace.waiting(), 0)
    }))

  it.effect("an interrupted waiter (a client gone) leaves no waiter: the next push stays in the list", () =>
    Effect.gen(function*() {
      const keyspace = yield* Keyspace.make()
      const gone = yield* blocked(keyspace, popWait(keyspace, ["q", "r"]))
      yield* Fiber.interrupt(gone)
      assert.strictEqual(keyspace.waiting(), 0)
      push(keyspace, "q", "kept")
      keyspace.serveBlocked()
      assert.strictEqual((keyspace.get("q") as List).at(0), "kept")
    }))
})
