/**
 * Graceful shutdown over real sockets, by closing the server's scope: idle
 * readers end at once (a handler may say goodbye), busy connections finish
 * and every line already read gets its reply, a peer that never reads is
 * forced at the deadline, and closing while a client still sends does not
 * turn into a reset that would destroy the replies it has not read.
 */
import { Buffer } from "node:buffer"
import * as Net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import { echo } from "../../src/handlers/echo/Echo.ts"
import { Connection } from "../../src/services/Connection.ts"
import * as LineServer from "../../src/services/LineServer.ts"
import { connect } from "../fixtures/client.ts"
import { captureLogs } from "../fixtures/server.ts"

const within = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.timeout(effect, Duration.seconds(15))

/** A server in its own scope, so the test decides when shutdown starts. */
const startServer = <E>(
  handler: Effect.Effect<void, E, Connection>,
  options?: Omit<LineServer.LineServerOptions<E, Connection>, "handler">
) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const server = yield* LineServer.make({ ...options, handler, port: 0 }).pipe(Scope.provide(scope))
    return { server, port: LineServer.port(server), shutdown: Scope.close(scope, Exit.void) }
  })

describe("shutdown", () => {
  it.live("ends idle readers at once with ServerShuttingDown; a handler can say goodbye", () =>
    Effect.gen(function*() {
      const handler = Effect.gen(function*() {
        const conn = yield* Connection
        while (true) yield* conn.writeLine(yield* conn.readLine)
      }).pipe(
        Effect.catchTag("ServerShuttingDown", () =>
          Effect.flatMap(Effect.service(Connection), (conn) => conn.writeLine("server going down")))
      )
      const { server, port, shutdown } = yield* startServer(handler, { shutdownTimeout: "30 seconds" })
      const client = yield* connect(port)
      yield* client.write("hello\n")
      yield* within(client.readUntil("hello\n"))
      yield* within(shutdown)
      const { data, gotEnd } = yield* within(client.closed)
      assert.strictEqual(data.toString(), "hello\nserver going down\n")
      assert.isTrue(gotEnd)
      assert.deepStrictEqual(yield* server.stats, { active: 0, accepted: 1, refused: 0, drained: 1, forced: 0 })
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("lets busy connections finish: every line already read gets its reply", () =>
    Effect.gen(function*() {
      const slowEcho = Effect.gen(function*() {
        const conn = yield* Connection
        while (true) {
          const line = yield* conn.readLine
          yield* Effect.sleep("150 millis")
          yield* conn.writeLine(line)
          yield* conn.flush
        }
      })
      const { server, port, shutdown } = yield* startServer(slowEcho, { shutdownTimeout: "30 seconds" })
      const client = yield* connect(port)
      yield* client.write("one\ntwo\nthree\n")
      yield* within(client.readUntil("one\n"))
      yield* within(shutdown)
      const { data, gotEnd } = yield* within(client.closed)
      assert.strictEqual(data.toString(), "one\ntwo\nthree\n")
      assert.isTrue(gotEnd)
      assert.strictEqual((yield* server.stats).forced, 0)
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("forces a connection whose peer never reads, at the shutdown deadline", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const flood = Effect.gen(function*() {
        const conn = yield* Connection
        const chunk = Buffer.alloc(64 * 1024, 0x61)
        while (true) yield* conn.write(chunk)
      })
      const { server, port, shutdown } = yield* startServer(flood, {
        shutdownTimeout: "300 millis",
        writeTimeout: "1 minute"
      })
      // Paused: this client reads nothing, so the handler blocks on backpressure.
      yield* connect(port, { pause: true })
      yield* Effect.sleep("100 millis")
      yield* within(shutdown)
      assert.deepStrictEqual(yield* server.stats, { active: 0, accepted: 1, refused: 0, drained: 0, forced: 1 })
      assert.isDefined(logs.lines.find((line) => line.message.includes("server stopped") && line.message.includes("\"forced\":1")))
    }).pipe(Effect.provide(logs.layer))
  })

  it.live("with 100 clients mid-pipeline, every line read before shutdown is answered, then all close cleanly", () =>
    Effect.gen(function*() {
      let read = 0
      let written = 0
      const countingEcho = Effect.gen(function*() {
        const conn = yield* Connection
        while (true) {
          const line = yield* conn.readLineBytes
          read++
          yield* Effect.sleep("2 millis")
          yield* conn.write(line)
          written++
        }
      }).pipe(Effect.catchTag("EndOfInput", () => Effect.void))
      const { server, port, shutdown } = yield* startServer(countingEcho, { shutdownTimeout: "30 seconds" })
      const lines = 50
      const clients = yield* Effect.forEach(Array.from({ length: 100 }, (_, c) => c), (c) =>
        Effect.gen(function*() {
          const client = yield* connect(port)
          const sent = Array.from({ length: lines }, (_, i) => `client ${c} line ${i}\n`).join("")
          yield* client.write(sent)
          return { client, sent }
        }))
      yield* Effect.forEach(clients, ({ client }) => within(client.readBytes(1)), { discard: true })
      const stopping = yield* Effect.forkChild(shutdown)
      let received = 0
      for (const { client, sent } of clients) {
        const { data, gotEnd, error } = yield* within(client.closed)
        const text = data.toString()
        assert.isTrue(sent.startsWith(text), "replies are a prefix of the requests, in order")
        assert.isTrue(text.endsWith("\n"), "closed at a line boundary")
        assert.isTrue(gotEnd)
        assert.isUndefined(error, "no reset")
        received += text.split("\n").length - 1
      }
      yield* Fiber.join(stopping)
      assert.strictEqual(written, read, "every line read was answered")
      assert.strictEqual(received, written)
      const stats = yield* server.stats
      assert.strictEqual(stats.forced, 0)
      assert.strictEqual(stats.drained, 100)
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("a client whose sending stalled behind our backpressure gets every byte the server read answered", () =>
    Effect.gen(function*() {
      const { server, port, shutdown } = yield* startServer(echo, { shutdownTimeout: "30 seconds" })
      // Paused: the client reads nothing until the shutdown has begun, so the
      // server's output backs up, its input pauses at the read-ahead, and the
      // socket stream, the kernel buffers and finally the client's send fill.
      const client = yield* connect(port, { pause: true })
      // Sends lines until the send blocks: a write is refused and no 'drain'
      // comes for 300 ms. Bounded: at most 64 MiB.
      const piece = Buffer.from(
        Array.from({ length: 2048 }, (_, i) => `line ${String(i).padStart(10, "0")} of the stalled client\n`).join("")
      )
      const pieces: Array<Buffer> = []
      let stalled = false
      while (!stalled && pieces.length * piece.length < 64 * 1024 * 1024) {
        pieces.push(piece)
        if (client.socket.write(piece)) continue
        stalled = yield* Effect.callback<boolean>((resume) => {
          const onDrain = () => {
            clearTimeout(timer)
            resume(Effect.succeed(false))
          }
          const timer = setTimeout(() => {
            client.socket.off("drain", onDrain)
            resume(Effect.succeed(true))
          }, 300)
          client.socket.once("drain", onDrain)
        })
      }
      assert.isTrue(stalled, "the client's send blocked")
      const sent = Buffer.concat(pieces)
      const stopping = yield* Effect.forkChild(shutdown)
      yield* Effect.sleep("50 millis")
      const chunks: Array<Buffer> = []
      client.socket.on("data", (chunk: Buffer) => chunks.push(chunk))
      const { gotEnd, error } = yield* within(client.closed)
      yield* Fiber.join(stopping)
      const received = Buffer.concat(chunks)
      assert.isUndefined(error)
      assert.isTrue(gotEnd)
      assert.strictEqual(received.length, sent.length, "every byte sent was read and answered before the FIN")
      assert.isTrue(received.equals(sent))
      assert.deepStrictEqual(yield* server.stats, { active: 0, accepted: 1, refused: 0, drained: 1, forced: 0 })
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("a connection accepted as shutdown starts is read before it is found idle: its request is answered", () =>
    Effect.gen(function*() {
      const clientCount = 50
      const allStarted = yield* Deferred.make<void>()
      let started = 0
      // Shutdown begins the moment the last handler starts: its socket has
      // not been read yet, though its request is already in the kernel.
      const startCountingEcho = Effect.suspend(() => {
        if (++started === clientCount) Deferred.doneUnsafe(allStarted, Effect.void)
        return echo
      })
      const { port, shutdown } = yield* startServer(startCountingEcho, { shutdownTimeout: "30 seconds" })
      const clients = yield* Effect.forEach(Array.from({ length: clientCount }), () =>
        Effect.gen(function*() {
          const client = yield* connect(port)
          yield* client.write("req\n")
          return client
        }), { concurrency: "unbounded" })
      yield* within(Deferred.await(allStarted))
      const stopping = yield* Effect.forkChild(shutdown)
      for (const client of clients) {
        const { data, gotEnd, error } = yield* within(client.closed)
        // A reset would be honest; a clean FIN without the reply is the bug.
        if (error === undefined) {
          assert.isTrue(gotEnd)
          assert.strictEqual(data.toString(), "req\n", "a clean close comes after the reply")
        }
      }
      yield* Fiber.join(stopping)
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("input that arrives after a reader was told about shutdown is never followed by a clean FIN", () =>
    Effect.gen(function*() {
      // The goodbye takes a while; the client answers it with one more line,
      // which the process reads but the handler never will.
      const slowGoodbye = Effect.gen(function*() {
        const conn = yield* Connection
        while (true) yield* conn.writeLine(yield* conn.readLine)
      }).pipe(
        Effect.catchTag("ServerShuttingDown", () =>
          Effect.gen(function*() {
            const conn = yield* Connection
            yield* conn.writeLine("bye")
            yield* conn.flush
            yield* Effect.sleep("300 millis")
          }))
      )
      const { port, shutdown } = yield* startServer(slowGoodbye, { shutdownTimeout: "30 seconds" })
      const client = yield* connect(port)
      yield* client.write("hello\n")
      yield* within(client.readUntil("hello\n"))
      const stopping = yield* Effect.forkChild(shutdown)
      yield* within(client.readUntil("bye\n"))
      yield* client.write("one more\n")
      const { gotEnd, error } = yield* within(client.closed)
      yield* Fiber.join(stopping)
      assert.isFalse(gotEnd && error === undefined, "a reset, not a clean close, over an unanswered line")
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("closing while the client still sends is a lingering close: FIN after the reply, no reset", () =>
    Effect.gen(function*() {
      const quitter = Effect.gen(function*() {
        const conn = yield* Connection
        yield* conn.readLine
        yield* conn.writeLine("bye")
      })
      const { port } = yield* startServer(quitter)
      const client = yield* connect(port)
      // The rest of the input is still unread when the handler returns.
      yield* client.write(Buffer.concat([Buffer.from("quit\n"), Buffer.alloc(256 * 1024, 0x7a)]))
      const { data, gotEnd, error } = yield* within(client.closed)
      assert.strictEqual(data.toString(), "bye\n")
      assert.isTrue(gotEnd)
      assert.isUndefined(error, "a plain close with unread input would reset the connection")
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("a client that ignores our FIN during the drain is still counted drained, and does not stall shutdown", () =>
    Effect.gen(function*() {
      const { server, port, shutdown } = yield* startServer(echo, { shutdownTimeout: "300 millis" })
      // allowHalfOpen: this client never closes its side after our FIN, so
      // the server's lingering close runs into the shutdown deadline.
      const stubborn = Net.connect({ port, host: "127.0.0.1", allowHalfOpen: true })
      yield* Effect.addFinalizer(() => Effect.sync(() => stubborn.destroy()))
      stubborn.on("error", () => {})
      yield* Effect.callback<void>((resume) => {
        stubborn.once("data", () => resume(Effect.void))
        stubborn.write("hi\n")
      })
      yield* within(shutdown)
      assert.deepStrictEqual(yield* server.stats, { active: 0, accepted: 1, refused: 0, drained: 1, forced: 0 })
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("refused connections still closing are closed at shutdown", () =>
    Effect.gen(function*() {
      // A long linger: only the shutdown can end the refused socket's close in time.
      const { port, shutdown } = yield* startServer(echo, {
        maxConnections: 1,
        busyMessage: "busy",
        lingerTimeout: "30 seconds"
      })
      const holder = yield* connect(port)
      yield* holder.write("x\n")
      yield* within(holder.readUntil("x\n"))
      const refused = Net.connect({ port, host: "127.0.0.1", allowHalfOpen: true })
      yield* Effect.addFinalizer(() => Effect.sync(() => refused.destroy()))
      refused.on("error", () => {})
      const closed = new Promise<void>((resolve) => refused.once("close", () => resolve()))
      yield* Effect.callback<void>((resume) => {
        refused.once("data", () => resume(Effect.void))
      })
      yield* within(shutdown)
      // Its server side is gone (a lingering one would keep reading): a late
      // write is answered with a reset, which the next write reports.
      refused.write("anyone there?")
      yield* Effect.sleep("100 millis")
      refused.write("again?")
      yield* within(Effect.promise(() => closed))
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("stops accepting at once: the port is released before busy connections finish", () =>
    Effect.gen(function*() {
      const { port, shutdown } = yield* startServer(echo, { shutdownTimeout: "1 second" })
      const busy = yield* connect(port)
      yield* busy.write("partial line without newline")
      const stopping = yield* Effect.forkChild(shutdown)
      yield* Effect.sleep("100 millis")
      const refused = yield* Effect.flip(connect(port))
      assert.include(refused.message, "ECONNREFUSED")
      yield* Fiber.join(stopping)
    }).pipe(Effect.provide(captureLogs().layer)))
})
