/**
 * The Redis handler on a real server over loopback sockets, seen by a raw
 * `node:net` client asserting exact bytes: each protocol error is answered
 * with Redis's words after every request pipelined before it, then the
 * server closes; QUIT drops what follows it; pub/sub messages arrive in
 * Redis's format; a client blocked in BLPOP gets what it pipelined before the
 * BLPOP answered at once, is woken by another connection's push, still
 * answers what it pipelined behind the BLPOP, and leaves no waiter behind
 * when it disconnects while blocked.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Keyspace from "../../../src/handlers/redis/keyspace.ts"
import * as Redis from "../../../src/handlers/redis/Redis.ts"
import { connect, type TestClient } from "../../fixtures/client.ts"
import { captureLogs, serve } from "../../fixtures/server.ts"
import { cmd, eventually } from "./support.ts"

const within = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.timeout(effect, Duration.seconds(10))

/** Sends `input` and waits for the server to close; returns what came and how it closed. */
const exchange = (client: TestClient, input: string) =>
  Effect.gen(function*() {
    yield* client.write(input)
    const closed = yield* within(client.closed)
    return { data: closed.data.toString("latin1"), gotEnd: closed.gotEnd, error: closed.error }
  })

/** A Redis server on a free port, with its shared state, for the test's scope. */
const redisServer = Effect.gen(function*() {
  const server = yield* serve(Redis.handler())
  return { port: server.port, keyspace: yield* Keyspace.Keyspace }
})

const provided = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.provide(Layer.merge(Redis.layer(), captureLogs().layer)))

describe("Redis protocol errors over TCP", () => {
  const long = "x".repeat(64 * 1024)
  const table: ReadonlyArray<readonly [string, string, string]> = [
    ["invalid multibulk length", "*x\r\n", "-ERR Protocol error: invalid multibulk length\r\n"],
    ["invalid bulk length", "*1\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length\r\n"],
    ["expected '$'", "*1\r\n+PING\r\n", "-ERR Protocol error: expected '$', got '+'\r\n"],
    ["unbalanced quotes", "SET \"a b\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"],
    // The first byte is read on its own (it tells the request type); the line limit applies to the rest.
    ["too big inline request", `${long}xx`, "-ERR Protocol error: too big inline request\r\n"],
    ["too big mbulk count string", `*${long}x`, "-ERR Protocol error: too big mbulk count string\r\n"],
    ["too big bulk count string", `*1\r\n$${long}`, "-ERR Protocol error: too big bulk count string\r\n"]
  ]

  it.live.each(table)("%s: pipelined requests first, then the error, then the close", ([, bad, error]) =>
    provided(Effect.gen(function*() {
      const { port } = yield* redisServer
      const client = yield* connect(port)
      const { data, gotEnd, error: socketError } = yield* exchange(
        client,
        `${cmd("SET", "a", "1")}PING\r\n${cmd("GET", "a")}${bad}`
      )
      assert.strictEqual(data, `+OK\r\n+PONG\r\n$1\r\n1\r\n${error}`)
      assert.isTrue(gotEnd, "a graceful close (FIN), not a reset")
      assert.isUndefined(socketError)
    })))

  it.live("QUIT: +OK, then the close; what was pipelined after it is not run", () =>
    provided(Effect.gen(function*() {
      const { port, keyspace } = yield* redisServer
      const client = yield* connect(port)
      const { data, gotEnd } = yield* exchange(client, `PING\r\nQUIT\r\n${cmd("SET", "after", "quit")}`)
      assert.strictEqual(data, "+PONG\r\n+OK\r\n")
      assert.isTrue(gotEnd)
      assert.strictEqual(keyspace.get("after"), undefined)
    })))
})

describe("Redis pub/sub and blocking over TCP", () => {
  it.live("messages and pattern messages arrive in Redis's RESP2 format; PUBLISH counts receivers", () =>
    provided(Effect.gen(function*() {
      const { port } = yield* redisServer
      const subscriber = yield* connect(port)
      const publisher = yield* connect(port)
      yield* subscriber.write(cmd("SUBSCRIBE", "news") + cmd("PSUBSCRIBE", "n*"))
      yield* within(subscriber.readUntil("$2\r\nn*\r\n:2\r\n"))
      yield* publisher.write(cmd("PUBLISH", "news", "hi") + cmd("PUBLISH", "other", "x"))
      assert.strictEqual((yield* within(publisher.readUntil(":0\r\n"))).toString(), ":2\r\n:0\r\n")
      const message = "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
      const pmessage = "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
      yield* within(subscriber.readUntil(message + pmessage))
      yield* subscriber.write(cmd("UNSUBSCRIBE") + cmd("PUNSUBSCRIBE"))
      const unsubscribed = "*3\r\n$11\r\nunsubscribe\r\n$4\r\nnews\r\n:1\r\n*3\r\n$12\r\npunsubscribe\r\n$2\r\nn*\r\n:0\r\n"
      const all = yield* within(subscriber.readUntil(unsubscribed))
      assert.strictEqual(
        all,
        "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:2\r\n" + message +
          pmessage + unsubscribed
      )
    })))

  it.live("BLPOP is woken by another connection's push, then answers what was pipelined behind it", () =>
    provided(Effect.gen(function*() {
      const { port, keyspace } = yield* redisServer
      const blocked = yield* connect(port)
      const pusher = yield* connect(port)
      yield* blocked.write(`${cmd("BLPOP", "jobs", "0")}PING\r\n`)
      yield* eventually("the BLPOP waits", () => keyspace.waiting() === 1)
      yield* pusher.write(cmd("RPUSH", "jobs", "job1"))
      assert.strictEqual(yield* within(pusher.readUntil("\r\n")), ":1\r\n")
      assert.strictEqual(yield* within(blocked.readUntil("+PONG\r\n")), "*2\r\n$4\r\njobs\r\n$4\r\njob1\r\n+PONG\r\n")
    })))

  it.live("one push serves blocked clients in order, even when a woken client's next request pops at once", () =>
    provided(Effect.gen(function*() {
      const { port, keyspace } = yield* redisServer
      const first = yield* connect(port)
      const second = yield* connect(port)
      const pusher = yield* connect(port)
      // The LPOP is read ahead while the first client waits, and runs as soon as its BLPOP is answered.
      yield* first.write(`${cmd("BLPOP", "jobs", "0")}${cmd("LPOP", "jobs")}`)
      yield* eventually("the first waits", () => keyspace.waiting() === 1)
      yield* second.write(cmd("BLPOP", "jobs", "0"))
      yield* eventually("the second waits", () => keyspace.waiting() === 2)
      yield* pusher.write(cmd("RPUSH", "jobs", "a", "b"))
      assert.strictEqual(yield* within(first.readUntil("$-1\r\n")), "*2\r\n$4\r\njobs\r\n$1\r\na\r\n$-1\r\n")
      assert.strictEqual(yield* within(second.readUntil("$1\r\nb\r\n")), "*2\r\n$4\r\njobs\r\n$1\r\nb\r\n")
    })))

  it.live("replies pipelined before a BLPOP are sent while it waits, not when it ends", () =>
    provided(Effect.gen(function*() {
      const { port, keyspace } = yield* redisServer
      const client = yield* connect(port)
      yield* client.write(`PING\r\n${cmd("SET", "k", "v")}${cmd("BLPOP", "jobs", "0")}`)
      assert.strictEqual(yield* within(client.readUntil("+OK\r\n")), "+PONG\r\n+OK\r\n")
      assert.strictEqual(keyspace.waiting(), 1, "and the BLPOP still waits")
    })))

  it.live("BLPOP times out with a null array", () =>
    provided(Effect.gen(function*() {
      const { port, keyspace } = yield* redisServer
      const client = yield* connect(port)
      yield* client.write(cmd("BLPOP", "jobs", "0.05"))
      assert.strictEqual(yield* within(client.readUntil("\r\n")), "*-1\r\n")
      assert.strictEqual(keyspace.waiting(), 0)
    })))

  for (const leaving of ["end", "reset"] as const) {
    it.live(`a client that leaves while blocked (${leaving}) leaves no waiter; the next push stays in the list`, () =>
      provided(Effect.gen(function*() {
        const { port, keyspace } = yield* redisServer
        const blocked = yield* connect(port)
        yield* blocked.write(cmd("BLPOP", "jobs", "0"))
        yield* eventually("the BLPOP waits", () => keyspace.waiting() === 1)
        yield* leaving === "end" ? blocked.end : blocked.reset
        yield* eventually("the waiter is gone", () => keyspace.waiting() === 0)
        const other = yield* connect(port)
        yield* other.write(cmd("RPUSH", "jobs", "job1") + cmd("LLEN", "jobs"))
        assert.strictEqual(yield* within(other.readUntil(":1\r\n:1\r\n")), ":1\r\n:1\r\n")
      })))
  }
})
