/**
 * The drain at the kernel boundary, and accepting under load. Input that
 * reaches a connection after its handler ended at shutdown is never
 * discarded behind a clean FIN: the close is decided by the kernel
 * (it resets for what is unread), or, while output is still going out,
 * late input resets it. And a server busy with many pipelining clients
 * still accepts and answers a new one while they are served, rather than
 * after them.
 */
import * as Net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type { Connection } from "../../src/services/Connection.ts"
import * as LineServer from "../../src/services/LineServer.ts"
import { cmd, eventually } from "../protocols/redis/support.ts"
import { listeningPort, spawnCli } from "../fixtures/cli.ts"
import { captureLogs } from "../fixtures/server.ts"

const within = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.timeout(effect, Duration.seconds(30))

describe("shutdown at the kernel boundary", () => {
  it.live("a request that reaches the server as its connection closes is reset, never discarded behind a clean FIN", () =>
    Effect.gen(function*() {
      const state = { socket: undefined as Net.Socket | undefined, gotEnd: false, error: undefined as string | undefined }
      // The connection's last finalizer (before its release) has the client
      // send one more request: it reaches the server's kernel right as the
      // connection is released, before the next turn of the event loop.
      const handler = (conn: Connection) =>
        Effect.gen(function*() {
          yield* Effect.addFinalizer(() => Effect.sync(() => queueMicrotask(() => state.socket?.write("late request\n"))))
          while (true) yield* conn.writeLine(yield* conn.readLine)
        }).pipe(Effect.catchTag("ServerShuttingDown", () => Effect.void))
      const scope = yield* Scope.make()
      const server = yield* LineServer.make({ handler, port: 0 }).pipe(Scope.provide(scope))
      const socket = state.socket = Net.connect({ port: LineServer.port(server), host: "127.0.0.1", allowHalfOpen: true })
      let echoed = ""
      socket.on("data", (chunk: Buffer) => (echoed += chunk.toString("latin1")))
      socket.on("end", () => (state.gotEnd = true))
      socket.on("error", (error: NodeJS.ErrnoException) => (state.error = error.code ?? error.message))
      yield* Effect.addFinalizer(() => Effect.sync(() => socket.destroy()))
      socket.write("hi\n")
      yield* eventually("the echo", () => echoed === "hi\n")
      yield* within(Scope.close(scope, Exit.void))
      yield* eventually("the server's close", () => state.gotEnd || state.error !== undefined)
      // A reset that follows the FIN is seen by the next write: it fails at
      // once (a lingering server would read and drop it, with no error).
      yield* Effect.sleep("100 millis")
      socket.write("anyone there?\n")
      yield* Effect.sleep("100 millis")
      assert.oneOf(state.error, ["ECONNRESET", "EPIPE"], "the unanswered request was told with a reset")
      assert.strictEqual(echoed, "hi\n")
    }).pipe(Effect.scoped, Effect.provide(captureLogs().layer)))
})

describe("accepting under load", () => {
  it.live("a new client is accepted and answered while pipelining clients are still being served", () =>
    Effect.gen(function*() {
      // The server in a process of its own: the clients here do not share its event loop.
      const cli = yield* spawnCli(["redis", "--port", "0", "--log-format", "json"])
      const port = yield* listeningPort(cli)
      const pings = 20_000
      const replies = pings * "+PONG\r\n".length
      let busyDone = 0
      const busy = Array.from({ length: 100 }, () => {
        const socket = Net.connect({ port, host: "127.0.0.1" })
        let received = 0
        socket.on("error", () => {})
        socket.on("data", (chunk: Buffer) => {
          received += chunk.length
          if (received === replies) busyDone++
        })
        socket.write(cmd("PING").repeat(pings))
        return socket
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => busy.forEach((socket) => socket.destroy())))
      // Once the server is busy with them, a fresh client asks for one PONG.
      yield* Effect.sleep("200 millis")
      const doneWhenAnswered = yield* within(Effect.callback<number>((resume) => {
        const fresh = Net.connect({ port, host: "127.0.0.1" }, () => fresh.write(cmd("PING")))
        fresh.on("error", () => {})
        fresh.once("data", () => {
          resume(Effect.succeed(busyDone))
          fresh.destroy()
        })
      }))
      // Each busy client needs many turns of the event loop; the fresh one, one.
      assert.strictEqual(doneWhenAnswered, 0, "answered before any busy client was done")
    }).pipe(Effect.scoped))
})
