/**
 * Connection limits and idle timeouts over real sockets: beyond
 * `maxConnections` clients are refused (with a goodbye line, counted, logged
 * once per burst) or queued unread until a slot frees; idle readers are
 * closed after `idleTimeout` (on the TestClock, and on the real clock).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schedule from "effect/Schedule"
import { TestClock } from "effect/testing"
import { echo } from "../src/handlers/Echo.ts"
import * as LineServer from "../src/services/LineServer.ts"
import { connect, type TestClient } from "./fixtures/client.ts"
import { captureLogs, serve } from "./fixtures/server.ts"

const within = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.timeout(effect, Duration.seconds(10))

/** Connects and proves the connection is being served with one echo. */
const served = (port: number, tag: string) =>
  Effect.gen(function*() {
    const client = yield* connect(port)
    yield* client.write(`${tag}\n`)
    yield* within(client.readUntil(`${tag}\n`))
    return client
  })

/** Waits (bounded) until the server counts at most `n` active connections. */
const activeAtMost = (server: LineServer.LineServer, n: number) =>
  server.stats.pipe(
    Effect.filterOrFail((stats) => stats.active <= n),
    Effect.retry({ schedule: Schedule.spaced("10 millis"), times: 500 })
  )

const closeClient = (client: TestClient) => client.end.pipe(Effect.andThen(within(client.closed)))

/** Lets real socket I/O happen (a close in flight would arrive) while the TestClock stands still. */
const settle = Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 100)))

describe("limits", () => {
  it.live("refuses connections beyond maxConnections with the busy message, and serves again when a slot frees", () =>
    Effect.gen(function*() {
      const server = yield* serve(echo, { maxConnections: 2, busyMessage: "busy, try later" })
      const a = yield* served(server.port, "a")
      yield* served(server.port, "b")
      const refused = yield* connect(server.port)
      const { data, gotEnd } = yield* within(refused.closed)
      assert.strictEqual(data.toString(), "busy, try later\n")
      assert.isTrue(gotEnd)
      assert.strictEqual((yield* server.stats).refused, 1)
      yield* closeClient(a)
      yield* activeAtMost(server, 1)
      yield* served(server.port, "c")
      assert.strictEqual((yield* server.stats).accepted, 3)
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("logs a flood of refusals once, not once per socket", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const server = yield* serve(echo, { maxConnections: 1 })
      yield* served(server.port, "holder")
      for (let i = 0; i < 30; i++) {
        const client = yield* connect(server.port)
        yield* within(client.closed)
      }
      assert.strictEqual((yield* server.stats).refused, 30)
      const refusalLines = logs.lines.filter((line) => line.message.includes("server full"))
      assert.strictEqual(refusalLines.length, 1)
      assert.strictEqual(refusalLines[0]?.level, "Warn")
    }).pipe(Effect.provide(logs.layer))
  })

  it.live("with whenFull queue, holds a connection unread until a slot frees", () =>
    Effect.gen(function*() {
      const server = yield* serve(echo, { maxConnections: 1, whenFull: "queue" })
      const first = yield* served(server.port, "first")
      const queued = yield* connect(server.port)
      yield* queued.write("waiting\n")
      yield* Effect.sleep("200 millis")
      assert.strictEqual((yield* queued.received).length, 0, "not served while the slot is taken")
      yield* closeClient(first)
      assert.strictEqual(yield* within(queued.readUntil("waiting\n")), "waiting\n")
      assert.strictEqual((yield* server.stats).refused, 0)
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("bounds the queue by the backlog and refuses beyond it", () =>
    Effect.gen(function*() {
      const server = yield* serve(echo, { maxConnections: 1, whenFull: "queue", backlog: 2, busyMessage: "full" })
      yield* served(server.port, "first")
      yield* connect(server.port)
      yield* connect(server.port)
      const overflow = yield* connect(server.port)
      assert.strictEqual((yield* within(overflow.closed)).data.toString(), "full\n")
      assert.strictEqual((yield* server.stats).refused, 1)
    }).pipe(Effect.provide(captureLogs().layer)))

  it.effect("closes a connection idle for idleTimeout (TestClock)", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const server = yield* serve(echo, { idleTimeout: "5 minutes" })
      // An echoed line proves the handler is parked in its next read.
      const client = yield* served(server.port, "hi")
      yield* TestClock.adjust("4 minutes")
      yield* client.write("still here\n")
      yield* client.readUntil("still here\n")
      yield* TestClock.adjust("4 minutes")
      yield* settle
      assert.isFalse(client.socket.readableEnded, "the idle clock restarts with each read")
      yield* TestClock.adjust("1 minute")
      const { gotEnd } = yield* client.closed
      assert.isTrue(gotEnd, "closed gracefully")
      const closed = logs.lines.find((line) => line.message.includes("idle-timeout"))
      assert.strictEqual(closed?.level, "Info")
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("rejects options a server cannot run with", () =>
    Effect.gen(function*() {
      for (
        const options of [
          { maxConnections: 0 },
          { backlog: -1 },
          { writeTimeout: "0 millis" },
          { idleTimeout: "-5 seconds" },
          { maxLineLength: 0 }
        ] as const
      ) {
        const exit = yield* Effect.exit(Effect.scoped(serve(echo, options)))
        assert.isTrue(Exit.hasDies(exit), JSON.stringify(options))
      }
      const badPort = yield* Effect.exit(Effect.scoped(LineServer.make({ handler: echo, port: 70000 })))
      assert.isTrue(Exit.hasDies(badPort))
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("closes an idle connection on the real clock too", () =>
    Effect.gen(function*() {
      const server = yield* serve(echo, { idleTimeout: "200 millis" })
      const silent = yield* connect(server.port)
      const { gotEnd, error } = yield* within(silent.closed)
      assert.isTrue(gotEnd)
      assert.isUndefined(error)
    }).pipe(Effect.provide(captureLogs().layer)))
})
