/**
 * What the adversarial pass broke in `fiberline redis`'s read path, pinned:
 * a client that pipelines a command after BLPOP and leaves no longer strands
 * its waiter, its socket or the next push, and a push that comes after its
 * peer ended its input but before its wait was interrupted is not handed to
 * it; a bulk body trickled byte by byte
 * is closed at the frame deadline, like a trickled line; the memory of
 * half-sent bulks is returned when their clients leave.
 */
import { Buffer } from "node:buffer"
import * as Net from "node:net"
import * as V8 from "node:v8"
import * as Vm from "node:vm"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Keyspace from "../../../src/handlers/redis/keyspace.ts"
import * as Redis from "../../../src/handlers/redis/Redis.ts"
import type { Connection } from "../../../src/services/Connection.ts"
import * as TestConnection from "../../../src/testing/TestConnection.ts"
import { connect } from "../../fixtures/client.ts"
import { captureLogs, serve, waitForActive } from "../../fixtures/server.ts"
import { cmd, eventually } from "./support.ts"

const within = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.timeout(effect, Duration.seconds(20))

const provided = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.provide(Layer.merge(Redis.layer(), captureLogs().layer)))

/** Sends `request` on a fresh connection and returns the reply's first `bytes` bytes. */
const ask = (port: number, request: string, bytes: number) =>
  Effect.scoped(Effect.gen(function*() {
    const client = yield* connect(port)
    yield* client.write(request)
    return (yield* within(client.readBytes(bytes))).toString("latin1")
  }))

describe("a client blocked in BLPOP that pipelined more, then left", () => {
  for (const [what, after] of [["a PING", cmd("PING")], ["a malformed frame", "*1\r\n$x\r\n"]] as const) {
    it.live(`after ${what}: no waiter, no socket and no lost push is left behind`, () =>
      provided(Effect.gen(function*() {
        const server = yield* serve(Redis.handler())
        const keyspace = yield* Keyspace.Keyspace
        const clients = 50
        for (let i = 0; i < clients; i++) {
          // BLPOP and the next frame in one write, then FIN.
          const socket = Net.connect({ port: server.port, host: "127.0.0.1" })
          socket.on("error", () => {})
          socket.end(cmd("BLPOP", "q", "0") + after)
        }
        yield* within(waitForActive(server, 0))
        yield* eventually("every waiter gone", () => keyspace.waiting() === 0)
        assert.strictEqual(yield* ask(server.port, cmd("RPUSH", "q", "precious"), 4), ":1\r\n")
        assert.strictEqual(yield* ask(server.port, cmd("LLEN", "q"), 4), ":1\r\n", "the element was handed to nobody")
      })))
  }
})

describe("a push after the blocked client's peer ended its input, before its wait is interrupted", () => {
  it.live("is not handed to that client: the element stays in the list", () =>
    Effect.gen(function*() {
      const keyspace = yield* Keyspace.Keyspace
      const peer = yield* TestConnection.make()
      // The connection as the handler sees it, but its wait for the end of input never completes:
      // the moment between the peer's FIN and the interruption of the blocked command, held open.
      const held = new Proxy(peer.connection, {
        get: (target, name) => {
          if (name === "awaitInputEnd") return Effect.never
          const value: unknown = Reflect.get(target, name, target)
          return typeof value === "function" ? value.bind(target) : value
        }
      }) as Connection
      yield* Effect.forkScoped(Redis.handler()(held))
      yield* peer.send(cmd("BLPOP", "q", "0"))
      yield* eventually("the BLPOP waits", () => keyspace.waiting() === 1)
      yield* peer.end
      yield* eventually("the end of input is seen", () => peer.connection.inputEnded)
      const pusher = yield* TestConnection.start(Redis.handler())
      yield* pusher.send(cmd("RPUSH", "q", "precious") + cmd("LLEN", "q"))
      assert.strictEqual(yield* within(pusher.awaitOutput(":1\r\n:")), ":1\r\n:1\r\n", "the element was handed to nobody")
      assert.strictEqual(Buffer.from(yield* peer.output).toString("latin1"), "", "the gone client got no reply")
      assert.strictEqual(keyspace.waiting(), 1, "still registered until its wait is interrupted")
    }).pipe(Effect.provide(Redis.layer())))
})

describe("the frame deadline covers a request's bulk bodies", () => {
  it.live("a body trickled a byte at a time is closed at lineTimeout, though every byte resets the idle timeout", () =>
    provided(Effect.gen(function*() {
      const server = yield* serve(Redis.handler(), { lineTimeout: "600 millis", idleTimeout: "5 seconds" })
      const client = yield* connect(server.port)
      yield* client.write("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1000\r\n")
      let sent = 0
      const started = Date.now()
      // At most ten seconds of trickling, a byte every 100 ms.
      while (!client.socket.readableEnded && !client.socket.destroyed && Date.now() - started < 10_000) {
        yield* client.write("x")
        sent++
        yield* Effect.sleep("100 millis")
      }
      assert.isBelow(sent, 40, "closed long before the body, or ten seconds, was complete")
      assert.isTrue(client.socket.readableEnded || client.socket.destroyed)
    })))
})

describe("half-sent bulks", () => {
  it.live("their memory is returned when their clients leave", () =>
    provided(Effect.gen(function*() {
      V8.setFlagsFromString("--expose-gc")
      const gc = Vm.runInNewContext("gc") as () => void
      const server = yield* serve(Redis.handler())
      const clients = 20
      const body = Buffer.alloc(2 * 1024 * 1024, 120)
      const sockets: Array<Net.Socket> = []
      gc()
      const before = process.memoryUsage().arrayBuffers
      for (let i = 0; i < clients; i++) {
        const socket = Net.connect({ port: server.port, host: "127.0.0.1" })
        socket.on("error", () => {})
        // 2 MiB of a 4 MiB value: the request waits for the rest.
        socket.write(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${4 * 1024 * 1024}\r\n`)
        socket.write(body)
        sockets.push(socket)
      }
      yield* within(waitForActive(server, clients))
      yield* Effect.sleep("300 millis")
      const held = process.memoryUsage().arrayBuffers - before
      assert.isAbove(held, clients * body.length / 2, "the partial bulks are held while their clients wait")
      for (const socket of sockets) socket.destroy()
      sockets.length = 0
      yield* within(waitForActive(server, 0))
      // Twice, with a turn between: what the closed sockets held goes with them.
      gc()
      yield* Effect.sleep("50 millis")
      gc()
      const after = process.memoryUsage().arrayBuffers - before
      assert.isBelow(after, clients * body.length / 10, "and returned once they left")
    })))
})
