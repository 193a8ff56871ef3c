/**
 * The PROXY intake through the connection's own reader: the handler sees the
 * parsed header as `conn.proxy` (TLVs included) and the header's client as
 * its peer; the bytes after the header are the handler's, unread; the
 * header's deadline runs on Effect's Clock (`TestClock` drives it); and a
 * burst of refusals is summarised naming every kind of refusal it held.
 */
import * as Net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/testing/TestClock"
import type { Connection } from "../../src/services/Connection.ts"
import * as LineServer from "../../src/services/LineServer.ts"
import { concat, inet, tlv, v2 } from "../fixtures/proxyHeader.ts"
import { captureLogs } from "../fixtures/server.ts"
import { exchange } from "../fixtures/client.ts"

/** Writes what the connection knows of its PROXY header, then echoes one line. */
const describeProxy = (conn: Connection) =>
  Effect.gen(function*() {
    const header = conn.proxy
    const tlvs = header?.tlvs.map((t) => `${t.type}=${Buffer.from(t.value).toString("latin1")}`).join(",") ?? ""
    yield* conn.writeLine(`v${header?.version} ${header?.command} ${conn.peer} tlvs:${tlvs}`)
    yield* conn.writeLine(yield* conn.readLine)
  })

const within = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.timeout(effect, Duration.seconds(10))

describe("PROXY intake", () => {
  it.live("the handler sees the header (TLVs included) as conn.proxy, its client as the peer, and the bytes after it", () =>
    Effect.gen(function*() {
      const server = yield* LineServer.make({ handler: describeProxy, port: 0, proxy: { version: "v2" } })
      const header = v2({
        familyTransport: 0x11,
        addresses: inet("198.51.100.9", "127.0.0.1", 40_000, 1234),
        tlvs: [{ type: 0x02, value: Buffer.from("api.example") }, { type: 0x05, value: Buffer.from("id-7") }]
      })
      const { data } = yield* within(exchange(LineServer.port(server), [concat(header, Buffer.from("after the header\n"))]))
      assert.strictEqual(data, "v2 proxy 198.51.100.9:40000 tlvs:2=api.example,5=id-7\nafter the header\n")
    }).pipe(Effect.scoped, Effect.provide(captureLogs().layer)))

  it.live("a connection without a PROXY listener has no header", () =>
    Effect.gen(function*() {
      const server = yield* LineServer.make({ handler: describeProxy, port: 0 })
      const { data } = yield* within(exchange(LineServer.port(server), ["hi\n"]))
      assert.match(data, /^vundefined undefined 127\.0\.0\.1:\d+ tlvs:\nhi\n$/)
    }).pipe(Effect.scoped, Effect.provide(captureLogs().layer)))

  it.effect("the header deadline runs on the Clock: a header still incomplete when it passes is refused", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const server = yield* LineServer.make({ handler: describeProxy, port: 0, proxy: { version: "v1", headerTimeout: "5 minutes" } })
      const socket = Net.connect({ port: LineServer.port(server), host: "127.0.0.1", allowHalfOpen: true })
      yield* Effect.addFinalizer(() => Effect.sync(() => socket.destroy()))
      socket.on("error", () => {})
      const closed = Effect.callback<void>((resume) => {
        if (socket.closed) return resume(Effect.void)
        socket.once("close", () => resume(Effect.void))
      })
      socket.write("PROXY TCP4 ")
      socket.resume()
      // Real time passes, virtual time does not: the connection stays open.
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 100)))
      assert.isFalse(socket.closed)
      yield* TestClock.adjust("4 minutes")
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 50)))
      assert.isFalse(socket.closed, "before the deadline")
      yield* TestClock.adjust("1 minute")
      yield* closed
      const refused = logs.lines.find((line) => line.message.startsWith("connection refused"))
      assert.include(refused?.message, "no complete PROXY header within 5m (11 bytes)")
    }).pipe(Effect.provide(logs.layer))
  })

  it.live("a TLV-carrying header is refused when its CRC32C is wrong, and logged with both checksums", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const server = yield* LineServer.make({ handler: describeProxy, port: 0, proxy: { version: "v2" } })
      const header = v2({
        familyTransport: 0x11,
        addresses: inet("10.0.0.1", "10.0.0.2", 1, 2),
        tlvs: [{ type: 0x02, value: Buffer.from("x") }],
        crc32c: { after: 0, value: "wrong" }
      })
      const { data } = yield* within(exchange(LineServer.port(server), [concat(header, tlv(0x04, []))]))
      assert.strictEqual(data, "", "the handler never ran")
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 50)))
      const refused = logs.lines.find((line) => line.message.startsWith("connection refused"))
      assert.include(refused?.message, "CRC32C mismatch")
    }).pipe(Effect.scoped, Effect.provide(logs.layer))
  })

  it.live("a burst of refusals is logged once, then summarised as refused with the count of each kind", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const scope = yield* Scope.make()
      const server = yield* LineServer.make({ handler: describeProxy, port: 0, proxy: { version: "v1" } }).pipe(Scope.provide(scope))
      const port = LineServer.port(server)
      const v2Header = v2({ familyTransport: 0x11, addresses: inet("10.0.0.1", "10.0.0.2", 1, 2) })
      for (const bytes of ["hello\r\n", "PROXY TCP4 nonsense\r\n", "PROXY TCP4 nonsense\r\n", v2Header, "hello again\r\n"]) {
        assert.strictEqual((yield* within(exchange(port, [bytes]))).data, "", "the handler never ran")
      }
      yield* Scope.close(scope, Exit.void)
      const messages = logs.lines.map((line) => line.message)
      assert.strictEqual(messages.filter((message) => message.startsWith("connection refused")).length, 1, "the first is logged in full")
      assert.isFalse(messages.some((message) => message.startsWith("more connections closed")), "refusals are not called closes")
      const summaries = messages.filter((message) => message.startsWith("more connections refused "))
        .map((message) => JSON.parse(message.slice("more connections refused ".length)) as { count: number; refusals: Record<string, number> })
      const kinds: Record<string, number> = {}
      for (const summary of summaries) {
        for (const [kind, n] of Object.entries(summary.refusals)) kinds[kind] = (kinds[kind] ?? 0) + n
      }
      assert.strictEqual(summaries.reduce((sum, summary) => sum + summary.count, 0), 4)
      assert.deepStrictEqual(kinds, { "not-a-header": 1, malformed: 2, "version-not-accepted": 1 })
    }).pipe(Effect.scoped, Effect.provide(logs.layer))
  })
})
