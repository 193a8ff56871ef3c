/**
 * Helpers shared by the Redis tests: encoding a request as clients do, a
 * pipelined exchange with a fresh server over a socket, exact replies from a
 * raw client's requests, and a bounded wait for a condition that other
 * processes or fibers make true.
 */
import { Buffer } from "node:buffer"
import { assert } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redis from "../../../src/handlers/redis/Redis.ts"
import { connect, type TestClient } from "../../fixtures/client.ts"
import { captureLogs, serve } from "../../fixtures/server.ts"

/** A multibulk request for `args`, as client libraries encode it (arguments as latin1 bytes). */
export const cmd = (...args: ReadonlyArray<string>): string =>
  `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg, "latin1")}\r\n${arg}\r\n`).join("")}`

/** Checks `check` every 10 ms, at most 500 times (5 s); dies if it never holds. */
export const eventually = (what: string, check: () => boolean): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let i = 0; i < 500; i++) {
      if (check()) return
      yield* Effect.sleep("10 millis")
    }
    return yield* Effect.die(new Error(`never happened: ${what}`))
  })

/**
 * Sends `requests` pipelined to a fresh server over a socket and returns as
 * many reply bytes (latin1) as `expected` has: a longer reply shows as a
 * mismatch, a shorter one as a timeout.
 */
export const exchange = (requests: ReadonlyArray<ReadonlyArray<string>>, expected: string) =>
  Effect.gen(function*() {
    const server = yield* serve(Redis.handler())
    const client = yield* connect(server.port)
    yield* client.write(requests.map((request) => cmd(...request)).join(""))
    const received = yield* client.readBytes(Buffer.byteLength(expected, "latin1"))
    return received.toString("latin1")
  }).pipe(Effect.provide(Layer.merge(Redis.layer({ sweepInterval: "1 hour" }), captureLogs().layer)))
/** Sends `requests` and checks that exactly `expected` comes back after what the client had received (bounded: 10 s). */
export const expectReplies = (client: TestClient, requests: string, expected: string): Effect.Effect<void, unknown> =>
  Effect.gen(function*() {
    const before = (yield* client.received).length
    yield* client.write(requests)
    const all = yield* Effect.timeout(client.readBytes(before + expected.length), Duration.seconds(10))
    assert.strictEqual(all.subarray(before).toString("latin1"), expected)
  })
