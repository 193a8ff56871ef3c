/**
 * Connection semantics over real TCP sockets on 127.0.0.1 (port 0), checked
 * with a raw `node:net` client that asserts exact bytes: byte-exact echo,
 * a banner before the first read, replies after the client's FIN, read and
 * write backpressure, typed failures on reset and on over-long lines, and
 * exactly-once cleanup.
 */
import { Buffer } from "node:buffer"
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import { echo } from "../../src/handlers/echo/Echo.ts"
import { Connection } from "../../src/services/Connection.ts"
import * as ServerMetrics from "../../src/ServerMetrics.ts"
import { connect } from "../fixtures/client.ts"
import { closures, closuresReach, freshRegistry } from "../fixtures/metrics.ts"
import { captureLogs, serve } from "../fixtures/server.ts"

const within = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.timeout(effect, Duration.seconds(10))

const quiet = captureLogs().layer

describe("Connection over TCP", () => {
  it.live("echo is byte-exact: CRLF, NUL, invalid UTF-8, a final unterminated line; then the server closes", () =>
    Effect.gen(function*() {
      const { port } = yield* serve(echo)
      const client = yield* connect(port)
      const sent = [Buffer.from("hello\r\n"), Buffer.from([0x00, 0xff, 0xfe, 0x0a]), Buffer.from("\n"), Buffer.from("tail")]
      for (const part of sent) yield* client.write(part)
      yield* client.end
      const { data, gotEnd, error } = yield* within(client.closed)
      assert.deepStrictEqual(data, Buffer.concat(sent))
      assert.isTrue(gotEnd, "the server sends FIN after the last reply")
      assert.isUndefined(error)
    }).pipe(Effect.provide(quiet)))

  it.live("writes before the first read reach the client (a banner)", () =>
    Effect.gen(function*() {
      const handler = Effect.gen(function*() {
        const conn = yield* Connection
        yield* conn.writeLine("220 welcome")
        yield* conn.writeLine(`you said ${yield* conn.readLine}`)
      })
      const { port } = yield* serve(handler)
      const client = yield* connect(port)
      assert.strictEqual(yield* within(client.readUntil("\n")), "220 welcome\n")
      yield* client.write("hi\n")
      assert.strictEqual((yield* within(client.closed)).data.toString(), "220 welcome\nyou said hi\n")
    }).pipe(Effect.provide(quiet)))

  it.live("a reply written after the client half-closed is delivered, then the connection closes", () =>
    Effect.gen(function*() {
      const handler = Effect.gen(function*() {
        const conn = yield* Connection
        const line = yield* conn.readLine
        yield* Effect.sleep("100 millis")
        yield* conn.writeLine(line.toUpperCase())
      })
      const { port } = yield* serve(handler)
      const client = yield* connect(port)
      yield* client.write("ping\n")
      yield* client.end
      const { data, gotEnd } = yield* within(client.closed)
      assert.strictEqual(data.toString(), "PING\n")
      assert.isTrue(gotEnd)
    }).pipe(Effect.provide(quiet)))

  it.live("input is read only when the handler reads: TCP pushes back on the client", () =>
    Effect.gen(function*() {
      const readOne = yield* Deferred.make<string>()
      const handler = Effect.gen(function*() {
        const conn = yield* Connection
        yield* Deferred.succeed(readOne, yield* conn.readLine)
        yield* Effect.never
      })
      // The handler never returns: at the end it is forced after the shutdown timeout.
      const { port } = yield* serve(handler, { shutdownTimeout: "50 millis" })
      const client = yield* connect(port)
      const size = 64 * 1024 * 1024
      client.socket.write(Buffer.concat([Buffer.from("first\n"), Buffer.alloc(size, 0x61)]))
      assert.strictEqual(yield* within(Deferred.await(readOne)), "first")
      yield* Effect.sleep("500 millis")
      // Loopback moves 64 MiB in well under 500 ms when the server reads;
      // with nobody reading, kernel and fiberline buffers hold a few MiB at most.
      assert.isAbove(client.socket.writableLength, size - 16 * 1024 * 1024)
      // And the server itself took no more than its read-ahead and one stream buffer.
      const { count } = yield* Metric.value(ServerMetrics.bytesRead)
      assert.isAtMost(count, 256 * 1024)
    }).pipe(freshRegistry, Effect.provide(quiet)))

  it.live("a peer that stops reading makes writes wait, then fail with WriteTimeout; memory stays bounded", () =>
    Effect.gen(function*() {
      const result = yield* Deferred.make<{ readonly written: number; readonly error: string }>()
      const handler = Effect.gen(function*() {
        const conn = yield* Connection
        const chunk = Buffer.alloc(64 * 1024, 0x62)
        let written = 0
        const error = yield* Effect.flip(Effect.forever(Effect.tap(conn.write(chunk), () =>
          Effect.sync(() => {
            written += chunk.length
          }))))
        yield* Deferred.succeed(result, { written, error: error._tag })
      })
      const { port } = yield* serve(handler, { writeTimeout: "300 millis" })
      yield* connect(port, { pause: true })
      const { written, error } = yield* within(Deferred.await(result))
      assert.strictEqual(error, "WriteTimeout")
      assert.isBelow(written, 32 * 1024 * 1024, "writes stopped at the high-water marks instead of buffering")
    }).pipe(Effect.provide(quiet)))

  it.live("a last reply larger than the socket buffers reaches a slow reader before the close", () =>
    Effect.gen(function*() {
      // More than the kernel buffers hold, written in one go below the write
      // high-water mark: the handler ends while most of it is still queued.
      const reply = Buffer.alloc(48 * 1024 * 1024, 0x71)
      const handler = Effect.flatMap(Effect.service(Connection), (conn) => conn.write(reply))
      // A short linger: the close must not start counting before the reply is out.
      const { port } = yield* serve(handler, { lingerTimeout: "50 millis", writeHighWaterMark: 64 * 1024 * 1024 })
      const client = yield* connect(port, { pause: true })
      yield* Effect.sleep("500 millis")
      const chunks: Array<Buffer> = []
      client.socket.on("data", (chunk: Buffer) => chunks.push(chunk))
      const ended = yield* Effect.callback<boolean>((resume) => {
        client.socket.once("end", () => resume(Effect.succeed(true)))
        client.socket.once("close", () => resume(Effect.succeed(false)))
      }).pipe(Effect.timeout("10 seconds"))
      assert.isTrue(ended, "FIN after the whole reply")
      assert.strictEqual(Buffer.concat(chunks).length, reply.length)
    }).pipe(Effect.provide(quiet)))

  it.live("a client reset mid-line fails the read with ConnectionError; other work goes on", () =>
    Effect.gen(function*() {
      const failure = yield* Deferred.make<{ readonly tag: string; readonly operation: string }>()
      const handler = Effect.gen(function*() {
        const conn = yield* Connection
        yield* conn.readLine.pipe(
          Effect.catchTag(
            "ConnectionError",
            (error) => Deferred.succeed(failure, { tag: error._tag, operation: error.operation })
          )
        )
      })
      const { port } = yield* serve(handler)
      const client = yield* connect(port)
      yield* client.write("partial line without newl")
      yield* Effect.sleep("50 millis")
      yield* client.reset
      assert.deepStrictEqual(yield* within(Deferred.await(failure)), { tag: "ConnectionError", operation: "read" })
    }).pipe(Effect.provide(quiet)))

  it.live("a handler recovers from LineTooLong and reads the next line", () =>
    Effect.gen(function*() {
      const handler = Effect.gen(function*() {
        const conn = yield* Connection
        while (true) {
          const reply = yield* conn.readLine.pipe(
            Effect.map((line) => `ok ${line}`),
            Effect.catchTag("LineTooLong", (error) => Effect.succeed(`error: line longer than ${error.limit} bytes`))
          )
          yield* conn.writeLine(reply)
        }
      }).pipe(Effect.catchTag("EndOfInput", () => Effect.void))
      const { port } = yield* serve(handler, { maxLineLength: 1024 })
      const client = yield* connect(port)
      yield* client.write("a\n")
      for (let i = 0; i < 100; i++) yield* client.write("x".repeat(1000))
      yield* client.write("\nb\n")
      yield* client.end
      assert.strictEqual(
        (yield* within(client.closed)).data.toString(),
        "ok a\nerror: line longer than 1024 bytes\nok b\n"
      )
    }).pipe(Effect.provide(quiet)))

  it.live("cleanup runs once on every exit, and the socket is closed gracefully each time", () =>
    Effect.gen(function*() {
      let finalized = 0
      const ends = [Effect.void, Effect.fail("boom"), Effect.die("bug")]
      let next = 0
      const handler = Effect.gen(function*() {
        const conn = yield* Connection
        yield* Effect.addFinalizer(() => Effect.sync(() => finalized++))
        yield* conn.writeLine(`bye ${yield* conn.readLine}`)
        return yield* ends[next++]!
      }).pipe(Effect.scoped)
      const { port } = yield* serve(handler)
      for (let i = 0; i < ends.length; i++) {
        const client = yield* connect(port)
        yield* client.write(`${i}\n`)
        const closed = yield* within(client.closed)
        assert.strictEqual(closed.data.toString(), `bye ${i}\n`)
        assert.isTrue(closed.gotEnd, "closed gracefully with FIN, not reset")
      }
      assert.strictEqual(finalized, ends.length)
    }).pipe(Effect.provide(quiet)))

  it.live("a handler's own typed failure is counted and logged as a handler failure", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const { port } = yield* serve(Effect.fail("typed failure of the handler"))
      const client = yield* connect(port)
      yield* within(client.closed)
      yield* within(closuresReach("handler-failure", 1))
      assert.strictEqual(yield* closures("handler-failure"), 1)
      const logged = logs.lines.find((line) => line.message.includes("handler failed"))
      assert.strictEqual(logged?.level, "Error")
      assert.include(logged?.cause, "typed failure of the handler")
    }).pipe(freshRegistry, Effect.provide(logs.layer))
  })
})
