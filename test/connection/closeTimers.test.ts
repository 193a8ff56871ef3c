/**
 * The time limits of a connection's close and of STARTTLS's plaintext
 * flush sleep on Effect's Clock (`TestClock` drives them): a lingering close
 * of a socket whose peer never closes ends at the linger limit, and a "go
 * ahead" reply the peer never takes fails the upgrade with `WriteTimeout`
 * at the write timeout.
 */
import * as Net from "node:net"
import { Readable, Writable } from "node:stream"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/testing/TestClock"
import * as Internal from "../../src/internal/io/connection.ts"
import * as Limits from "../../src/internal/io/limits.ts"
import * as Transport from "../../src/internal/io/transport.ts"
import { serverA } from "../fixtures/tls.ts"

/** A connected pair of loopback sockets: the server's end, and a client that neither reads nor closes. */
const socketPair = Effect.acquireRelease(
  Effect.callback<{ readonly server: Net.Socket; readonly client: Net.Socket; readonly listener: Net.Server }>((resume) => {
    const listener = Net.createServer({ allowHalfOpen: true, pauseOnConnect: true })
    listener.listen(0, "127.0.0.1", () => {
      const client = Net.connect({ port: (listener.address() as Net.AddressInfo).port, host: "127.0.0.1", allowHalfOpen: true })
      client.pause()
      client.on("error", () => {})
      listener.once("connection", (server) => resume(Effect.succeed({ server, client, listener })))
    })
  }),
  ({ client, listener, server }) =>
    Effect.sync(() => {
      server.destroy()
      client.destroy()
      listener.close()
    })
)

/** Lets socket events queued so far run (real time; the TestClock does not move). */
const settle = Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 50)))

describe("close limits on the Clock", () => {
  it.effect("a lingering close ends at the linger limit when the peer never closes", () =>
    Effect.gen(function*() {
      const { server } = yield* socketPair
      const close = Transport.fromSocket(server).close({
        flush: Duration.seconds(30),
        linger: Duration.seconds(2),
        resetOnLateInput: false
      })
      const closing = yield* Effect.forkChild(close)
      yield* settle
      yield* TestClock.adjust("1999 millis")
      yield* settle
      assert.isUndefined(closing.pollUnsafe(), "still lingering")
      assert.isFalse(server.destroyed)
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(closing)
      assert.isTrue(server.destroyed)
    }))
})

describe("STARTTLS plaintext flush on the Clock", () => {
  it.effect("a go-ahead the peer never takes fails the upgrade with WriteTimeout at the write timeout", () =>
    Effect.gen(function*() {
      // The certificate's validity is checked on the Clock too.
      yield* TestClock.setTime(Date.now())
      const input = new Readable({ read() {} })
      // The transport accepts the reply and never says it went out.
      const output = new Writable({ write() {} })
      const transport: Transport.Transport = {
        input,
        output,
        peer: "memory",
        remoteAddress: undefined,
        socket: new Net.Socket(),
        close: () => Effect.void,
        destroy: () => {
          input.destroy()
          output.destroy()
        }
      }
      const conn = yield* Internal.make(transport, Limits.resolve({ writeTimeout: "10 seconds" }))
      const upgrade = yield* Effect.forkChild(Effect.flip(conn.startTls({ reply: "220 go ahead", tls: serverA })))
      yield* settle
      yield* TestClock.adjust("9 seconds")
      assert.isUndefined(upgrade.pollUnsafe())
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(upgrade)
      assert.strictEqual(error._tag, "WriteTimeout")
    }))
})
