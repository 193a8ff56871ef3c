/**
 * The normal clients' output bound (`client-output-buffer-limit normal`)
 * over real sockets: a client that sends GETs of a big value and never
 * reads is cut off once its soft window ends (on the TestClock), logged by
 * name and address, and leaves the server's clients; a client that reads
 * the same traffic is not. A reply past the hard limit ends the connection
 * at once; `normal 0 0 0` lifts the bound.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import { TestClock } from "effect/testing"
import * as Redis from "../../../src/handlers/redis/Redis.ts"
import { connect, type TestClient } from "../../fixtures/client.ts"
import { captureLogs, type LogLine, serve } from "../../fixtures/server.ts"
import { cmd, expectReplies } from "./support.ts"

/** A pause on the real clock (the test's own clock is the TestClock). */
const pause = (millis: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, millis)))

/** The `omem` of the client named `name` in `CLIENT LIST`, read by `admin`; `undefined` once it is gone. */
const omemOf = (admin: TestClient, name: string) =>
  Effect.gen(function*() {
    const before = (yield* admin.received).length
    yield* admin.write(cmd("client", "list"))
    // A bulk reply: header, the lines, CRLF.
    const header = yield* admin.readUntil("\r\n").pipe(Effect.andThen(admin.received))
    const text = header.subarray(before).toString("latin1")
    const length = Number(text.slice(1, text.indexOf("\r\n")))
    const all = yield* admin.readBytes(before + text.indexOf("\r\n") + 2 + length + 2)
    const lines = all.subarray(before).toString("latin1").split("\n")
    const line = lines.find((entry) => entry.includes(` name=${name} `))
    return line === undefined ? undefined : Number(/ omem=(\d+)/.exec(line)![1])
  })

/** Polls (real time, bounded: 30 s) until `client` has received `n` bytes; then returns them (one copy, not one per chunk). */
const receivedAll = (client: TestClient, n: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 3000 && client.socket.bytesRead < n; i++) yield* pause(10)
    return yield* client.readBytes(n)
  })

/** Polls (real time, bounded: 10 s) until `check` holds of the `omem` of the client named `name`. */
const untilOmem = (admin: TestClient, name: string, what: string, check: (omem: number | undefined) => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1000; i++) {
      if (check(yield* omemOf(admin, name))) return
      yield* pause(10)
    }
    return yield* Effect.die(new Error(`never happened: ${what}`))
  })

const mib = 1024 * 1024
const gets = 100
const reply = `$${mib}\r\n${"v".repeat(mib)}\r\n`

describe("client-output-buffer-limit normal", () => {
  it.effect("a client that never reads is cut off at the end of its soft window, one that reads is not", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const { port } = yield* serve(Redis.handler())
      const admin = yield* connect(port)
      yield* expectReplies(
        admin,
        cmd("config", "set", "client-output-buffer-limit", "normal 64mb 512kb 10") + cmd("set", "big", "v".repeat(mib)) +
          cmd("config", "get", "client-output-buffer-limit"),
        "+OK\r\n+OK\r\n*2\r\n$26\r\nclient-output-buffer-limit\r\n$73\r\n" +
          "normal 67108864 524288 10 slave 268435456 67108864 60 pubsub 33554432 0 0\r\n"
      )
      const stalled = yield* connect(port, { pause: true })
      const stalledAddress = `127.0.0.1:${stalled.socket.localPort}`
      const reader = yield* connect(port)
      yield* expectReplies(stalled, cmd("client", "setname", "stuck"), "")
      yield* stalled.write(cmd("get", "big").repeat(gets))
      yield* reader.write(cmd("get", "big").repeat(gets))
      // The reader takes all 100 MiB; the other's output stays pending once the kernel's buffers are full.
      const all = yield* receivedAll(reader, gets * reply.length)
      assert.strictEqual(all.toString("latin1"), reply.repeat(gets))
      yield* untilOmem(admin, "stuck", "the stalled client's output stays pending", (omem) => omem !== undefined && omem > 0)

      yield* TestClock.adjust(Duration.seconds(9))
      assert.isDefined(yield* omemOf(admin, "stuck"), "still connected before the window ends")
      yield* TestClock.adjust(Duration.seconds(1))
      yield* untilOmem(admin, "stuck", "the stalled client is gone", (omem) => omem === undefined)
      // It sees the close once it reads again (what it is sent before the close, it discards).
      stalled.socket.resume()
      yield* stalled.closed
      // The reader, which had the same traffic, goes on.
      yield* expectReplies(reader, cmd("ping"), "+PONG\r\n")

      const cutOffs = logs.lines.filter((line: LogLine) => line.message.startsWith("client cut off"))
      assert.strictEqual(cutOffs.length, 1)
      assert.strictEqual(cutOffs[0]!.level, "Warn")
      assert.include(cutOffs[0]!.message, "normal client output over its soft limit of 524288 bytes")
      // The fields follow the message, as JSON.
      assert.include(cutOffs[0]!.message, `"client":"${stalledAddress}"`)
      assert.include(cutOffs[0]!.message, `"name":"stuck"`)
      assert.isAtLeast((yield* Metric.value(Redis.clientsCutOff)).count, 1)
    }).pipe(Effect.provide(Layer.merge(Redis.layer(), logs.layer)))
  }, 60_000)

  it.live("a reply past the hard limit ends the connection at once; normal 0 0 0 lifts the bound", () =>
    Effect.gen(function*() {
      const { port } = yield* serve(Redis.handler({ normalOutputLimit: { hard: 2 * mib, soft: 0, softSeconds: 0 } }))
      const admin = yield* connect(port)
      yield* expectReplies(admin, cmd("set", "small", "v".repeat(mib)) + cmd("set", "big", "v".repeat(3 * mib)), "+OK\r\n+OK\r\n")
      const client = yield* connect(port)
      yield* expectReplies(client, cmd("get", "small"), reply)
      yield* client.write(cmd("get", "big") + cmd("ping"))
      const closed = yield* Effect.timeout(client.closed, Duration.seconds(10))
      assert.strictEqual(closed.data.length, reply.length, "nothing of the big reply, nor what followed")
      yield* expectReplies(admin, cmd("config", "set", "client-output-buffer-limit", "normal 0 0 0"), "+OK\r\n")
      const unbounded = yield* connect(port)
      yield* expectReplies(unbounded, cmd("strlen", "big"), `:${3 * mib}\r\n`)
      const bigReply = `$${3 * mib}\r\n${"v".repeat(3 * mib)}\r\n`
      yield* expectReplies(unbounded, cmd("get", "big"), bigReply)
    }).pipe(Effect.provide(Layer.merge(Redis.layer(), captureLogs().layer))))
})
