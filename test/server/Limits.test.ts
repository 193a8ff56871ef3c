/**
 * Connection limits and idle timeouts over real sockets: beyond
 * `maxConnections` clients are refused (with a goodbye line, counted, logged
 * once per burst) or queued unread until a slot frees; idle readers are
 * closed after `idleTimeout` (on the TestClock, and on the real clock).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { TestClock } from "effect/testing"
import { echo } from "../../src/handlers/echo/Echo.ts"
import * as LineServer from "../../src/services/LineServer.ts"
import { connect, type TestClient } from "../fixtures/client.ts"
import { captureLogs, serve, waitForActive } from "../fixtures/server.ts"

const within = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.timeout(effect, Duration.seconds(10))

/** Connects and proves the connection is being served with one echo. */
const served = (port: number, tag: string) =>
  Effect.gen(function*() {
    const client = yield* connect(port)
    yield* client.write(`${tag}\n`)
    yield* within(client.readUntil(`${tag}\n`))
    return client
  })

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
      yield* waitForActive(server, 1)
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
          { maxLineLength: 0 },
          { lineTimeout: "0 millis" },
          { host: "" }
        ] as const
      ) {
        // A typed failure naming the option, not a defect: see test/unit/Options.test.ts for the messages.
        const error = yield* Effect.flip(Effect.scoped(serve(echo, options)))
        assert.strictEqual(error.reason._tag, "InvalidOption", JSON.stringify(options))
        assert.strictEqual(error.reason._tag === "InvalidOption" && error.reason.option, Object.keys(options)[0])
      }
      const badPort = yield* Effect.flip(Effect.scoped(LineServer.make({ handler: echo, port: 70000 })))
      assert.strictEqual(badPort.reason._tag, "InvalidOption")
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("closes a client that trickles a line byte by byte, though each byte restarts the idle clock", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const server = yield* serve(echo, { idleTimeout: "1 second", lineTimeout: "400 millis" })
      const trickler = yield* connect(server.port)
      let sent = 0
      // One byte every 100 ms, far inside the idle timeout; bounded at 50 bytes (5 s).
      const trickling = yield* Effect.forkChild(Effect.gen(function*() {
        for (; sent < 50 && !trickler.socket.destroyed; sent++) {
          yield* trickler.write("x")
          yield* Effect.sleep("100 millis")
        }
      }))
      const { gotEnd } = yield* within(trickler.closed)
      yield* Fiber.interrupt(trickling)
      assert.isTrue(gotEnd)
      // Closed while the trickle went on: a line deadline restarted by each byte
      // would only pass once the trickle ended, with all 50 bytes sent.
      assert.isBelow(sent, 50, "closed before the trickle ended")
      yield* Effect.sleep("20 millis")
      const closed = logs.lines.find((line) => line.message.startsWith("connection closed"))
      assert.include(closed?.message, "line-timeout")
      assert.include(closed?.message, "line not complete within 400ms")
      assert.strictEqual(closed?.level, "Info")
    }).pipe(Effect.provide(logs.layer))
  })

  it.live("logs one line per burst of peer-caused closes, then a summary with the count", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const clients = 50
      yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* serve(echo, { maxLineLength: 16 })
        yield* Effect.forEach(Array.from({ length: clients }), () =>
          Effect.gen(function*() {
            const client = yield* connect(server.port)
            yield* client.write("this line is longer than sixteen bytes\n")
            yield* within(client.closed)
          }), { concurrency: 10 })
        yield* waitForActive(server, 0)
      }))
      const warnings = logs.lines.filter((line) => line.level === "Warn")
      const closed = warnings.filter((line) => line.message.startsWith("connection closed"))
      assert.strictEqual(closed.length, 1, "one full line for the burst")
      assert.include(closed[0]?.message, "line-too-long")
      const summary = warnings.find((line) => line.message.startsWith("more connections closed"))
      assert.include(summary?.message, `"count":${clients - 1}`)
      assert.include(summary?.message, "line-too-long")
    }).pipe(Effect.provide(logs.layer))
  })

  it.live("closes an idle connection on the real clock too", () =>
    Effect.gen(function*() {
      const server = yield* serve(echo, { idleTimeout: "200 millis" })
      const silent = yield* connect(server.port)
      const { gotEnd, error } = yield* within(silent.closed)
      assert.isTrue(gotEnd)
      assert.isUndefined(error)
    }).pipe(Effect.provide(captureLogs().layer)))
})
