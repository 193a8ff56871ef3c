/**
 * The PROXY intake through the connection's own reader: the handler sees the
 * parsed header as `conn.proxy` (TLVs included) and the header's client as
 * its peer; the bytes after the header are the handler's, unread; and the
 * header's deadline runs on Effect's Clock (`TestClock` drives it).
 */
import * as Net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/testing/TestClock"
import type { Connection } from "../../src/services/Connection.ts"
import * as LineServer from "../../src/services/LineServer.ts"
import { concat, inet, tlv, v2 } from "../fixtures/proxyHeader.ts"
import { captureLogs } from "../fixtures/server.ts"

/** Writes what the connection knows of its PROXY header, then echoes one line. */
const describeProxy = (conn: Connection) =>
  Effect.gen(function*() {
    const header = conn.proxy
    const tlvs = header?.tlvs.map((t) => `${t.type}=${Buffer.from(t.value).toString("latin1")}`).join(",") ?? ""
    yield* conn.writeLine(`v${header?.version} ${header?.command} ${conn.peer} tlvs:${tlvs}`)
    yield* conn.writeLine(yield* conn.readLine)
  })

/** Connects, writes `bytes`, and collects what comes back until the server closes. */
const exchange = (port: number, bytes: Uint8Array | string) =>
  Effect.callback<{ readonly data: string; readonly error: string | undefined }>((resume) => {
    const socket = Net.connect({ port, host: "127.0.0.1", allowHalfOpen: true })
    const chunks: Array<Buffer> = []
    let error: string | undefined
    socket.on("data", (chunk: Buffer) => chunks.push(chunk))
    socket.on("error", (cause: NodeJS.ErrnoException) => {
      error = cause.code ?? cause.message
    })
    socket.on("close", () => resume(Effect.succeed({ data: Buffer.concat(chunks).toString("latin1"), error })))
    socket.once("connect", () => socket.end(bytes))
    return Effect.sync(() => socket.destroy())
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
      const { data } = yield* within(exchange(LineServer.port(server), concat(header, Buffer.from("after the header\n"))))
      assert.strictEqual(data, "v2 proxy 198.51.100.9:40000 tlvs:2=api.example,5=id-7\nafter the header\n")
    }).pipe(Effect.scoped, Effect.provide(captureLogs().layer)))

  it.live("a connection without a PROXY listener has no header", () =>
    Effect.gen(function*() {
      const server = yield* LineServer.make({ handler: describeProxy, port: 0 })
      const { data } = yield* within(exchange(LineServer.port(server), "hi\n"))
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
      const { data } = yield* within(exchange(LineServer.port(server), concat(header, tlv(0x04, []))))
      assert.strictEqual(data, "", "the handler never ran")
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 50)))
      const refused = logs.lines.find((line) => line.message.startsWith("connection refused"))
      assert.include(refused?.message, "CRC32C mismatch")
    }).pipe(Effect.scoped, Effect.provide(logs.layer))
  })
})
