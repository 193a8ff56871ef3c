/**
 * A short soak (about 3 s) over real sockets: while hostile clients send
 * lines with no newline, reset mid-line, trickle one byte at a time, and
 * connect-and-reset in a loop, normal clients keep getting exact echoes with
 * no error, the server stays up, and a fresh client is served afterwards.
 */
import { Buffer } from "node:buffer"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { echo } from "../../src/handlers/echo/Echo.ts"
import { connect } from "../fixtures/client.ts"
import { captureLogs, serve } from "../fixtures/server.ts"

const within = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.timeout(effect, Duration.seconds(10))

/** Repeats `body` until `deadline` (ms since epoch), at most `max` times. */
const until = <E, R>(deadline: number, max: number, body: (i: number) => Effect.Effect<void, E, R>) =>
  Effect.gen(function*() {
    for (let i = 0; i < max && Date.now() < deadline; i++) yield* body(i)
  })

describe("hostile clients", () => {
  it.live("do not disturb normal clients (soak)", () =>
    Effect.gen(function*() {
      const server = yield* serve(echo, { maxLineLength: 4096, idleTimeout: "2 seconds", maxConnections: 500 })
      const { port } = server
      const deadline = Date.now() + 3_000
      const junk = Buffer.alloc(64 * 1024, 0x78)

      const oversized = until(deadline, 200, () =>
        Effect.scoped(Effect.gen(function*() {
          const client = yield* connect(port)
          for (let i = 0; i < 4; i++) yield* client.write(junk)
          yield* within(client.closed)
        })))

      const resetMidLine = until(deadline, 2_000, () =>
        Effect.scoped(Effect.gen(function*() {
          const client = yield* connect(port)
          yield* client.write("half a li")
          yield* client.reset
        })))

      const connectAndReset = until(deadline, 2_000, () =>
        Effect.scoped(Effect.flatMap(connect(port), (client) => client.reset)))

      const trickle = Effect.scoped(Effect.gen(function*() {
        const client = yield* connect(port)
        yield* until(deadline, 100, () => Effect.andThen(client.write("z"), Effect.sleep("50 millis")))
      }))

      const normal = (id: number) =>
        Effect.scoped(Effect.gen(function*() {
          const client = yield* connect(port)
          let expected = ""
          let rounds = 0
          yield* until(deadline, 100_000, (i) =>
            Effect.gen(function*() {
              const line = `normal ${id} request ${i}\r\n`
              expected += line
              yield* client.write(line)
              yield* within(client.readUntil(line))
              rounds++
            }))
          yield* client.end
          const { data, gotEnd, error } = yield* within(client.closed)
          assert.strictEqual(data.toString(), expected)
          assert.isTrue(gotEnd)
          assert.isUndefined(error)
          return rounds
        }))

      const hostile = [
        ...Array.from({ length: 4 }, () => oversized),
        ...Array.from({ length: 4 }, () => resetMidLine),
        ...Array.from({ length: 4 }, () => connectAndReset),
        ...Array.from({ length: 50 }, () => trickle)
      ]
      const [rounds] = yield* Effect.all([
        Effect.forEach(Array.from({ length: 10 }, (_, id) => id), normal, { concurrency: "unbounded" }),
        Effect.all(hostile, { concurrency: "unbounded", discard: true })
      ], { concurrency: "unbounded" })
      for (const count of rounds) assert.isAbove(count, 0, "every normal client made progress")

      const fresh = yield* connect(port)
      yield* fresh.write("still alive?\n")
      assert.strictEqual(yield* within(fresh.readUntil("still alive?\n")), "still alive?\n")
      const stats = yield* server.stats
      assert.isAbove(stats.accepted, 100)
    }).pipe(Effect.provide(captureLogs().layer)))
})
