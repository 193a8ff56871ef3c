/**
 * WATCH over real sockets, in exact bytes: `EXEC` answers a null array and
 * runs nothing when a watched key changed since it was watched, whichever
 * connection changed it and however (a write, an in-place change of a list,
 * set or hash, a TTL, a rename, FLUSHALL, the key's expiry on the
 * TestClock), and runs when only no-op writes happened; watches end at
 * EXEC, DISCARD, UNWATCH, RESET and the connection's end. Then the clients'
 * own idioms: ioredis's `exec()` giving null and node-redis's `WatchError`,
 * each retried until the transaction goes through.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { TestClock } from "effect/testing"
import { Redis as IORedis } from "ioredis"
import { createClient, WatchError } from "redis"
import * as Keyspace from "../../../src/handlers/redis/keyspace.ts"
import * as Redis from "../../../src/handlers/redis/Redis.ts"
import { connect } from "../../fixtures/client.ts"
import { captureLogs, serve } from "../../fixtures/server.ts"
import { cmd, eventually } from "./support.ts"

/**
 * A raw client that sends one request at a time and checks the exact reply
 * bytes; with `expected` undefined, whatever the reply is (an `ECHO` after the
 * request tells where it ends).
 */
const rawClient = (port: number) =>
  Effect.map(connect(port), (socket) => {
    let seen = 0
    let marks = 0
    return (request: ReadonlyArray<string>, expected?: string) =>
      Effect.gen(function*() {
        if (expected === undefined) {
          const mark = `mark-${marks++}`
          yield* socket.write(cmd(...request) + cmd("ECHO", mark))
          seen = (yield* socket.readUntil(`$${mark.length}\r\n${mark}\r\n`)).length
          return
        }
        yield* socket.write(cmd(...request))
        const received = yield* socket.readBytes(seen + expected.length)
        assert.strictEqual(received.subarray(seen).toString("latin1"), expected, request.join(" "))
        seen += expected.length
      })
  })

/** A server with its keyspace, in the test's scope. */
const redisServer = Effect.gen(function*() {
  const server = yield* serve(Redis.handler())
  return { port: server.port, keyspace: yield* Keyspace.Keyspace }
})

/** Provides the shared state for the whole test; the sweep never runs unless a test asks (`sweepInterval`). */
const provided = (sweepInterval: Duration.Input = "1 hour") => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provide(effect, Layer.merge(Redis.layer({ sweepInterval }), captureLogs().layer))

const aborted = "*-1\r\n"
const ran = "*1\r\n+PONG\r\n"

describe("WATCH / EXEC over TCP", () => {
  it.live("another connection's write aborts EXEC; with nothing changed it runs", () =>
    Effect.gen(function*() {
      const { port } = yield* redisServer
      const a = yield* rawClient(port)
      const b = yield* rawClient(port)
      yield* a(["WATCH", "k", "other"], "+OK\r\n")
      yield* b(["SET", "k", "1"], "+OK\r\n")
      yield* a(["MULTI"], "+OK\r\n")
      yield* a(["SET", "k", "2"], "+QUEUED\r\n")
      yield* a(["EXEC"], aborted)
      yield* a(["GET", "k"], "$1\r\n1\r\n")
      // Unwatched after EXEC: the same write no longer matters.
      yield* b(["SET", "k", "3"], "+OK\r\n")
      yield* a(["WATCH", "k"], "+OK\r\n")
      yield* a(["MULTI"], "+OK\r\n")
      yield* a(["INCR", "k"], "+QUEUED\r\n")
      yield* a(["EXEC"], "*1\r\n:4\r\n")
      // Its own queued writes do not abort it, nor the next one.
      yield* a(["MULTI"], "+OK\r\n")
      yield* a(["PING"], "+QUEUED\r\n")
      yield* a(["EXEC"], ran)
    }).pipe(provided()))

  // [what, set up before WATCH k, the change by another connection, whether EXEC aborts]
  const changes: ReadonlyArray<readonly [string, ReadonlyArray<ReadonlyArray<string>>, ReadonlyArray<string>, boolean]> = [
    ["SET of the same value", [["SET", "k", "v"]], ["SET", "k", "v"], true],
    ["SET NX that sets nothing", [["SET", "k", "v"]], ["SET", "k", "w", "NX"], false],
    ["INCR", [["SET", "k", "1"]], ["INCR", "k"], true],
    ["APPEND of nothing (Redis signals it too)", [["SET", "k", "v"]], ["APPEND", "k", ""], true],
    ["SETRANGE of nothing", [["SET", "k", "v"]], ["SETRANGE", "k", "0", ""], false],
    ["SETBIT that flips a bit", [["SET", "k", "v"]], ["SETBIT", "k", "0", "1"], true],
    ["SETBIT of 0 past the end (the string grows)", [["SET", "k", "v"]], ["SETBIT", "k", "100", "0"], true],
    ["SETBIT of the bit it holds", [["SET", "k", "v"]], ["SETBIT", "k", "1", "1"], false],
    ["GET", [["SET", "k", "v"]], ["GET", "k"], false],
    ["DEL of another key", [["SET", "k", "v"], ["SET", "o", "v"]], ["DEL", "o"], false],
    ["DEL", [["SET", "k", "v"]], ["DEL", "k"], true],
    ["EXPIRE", [["SET", "k", "v"]], ["EXPIRE", "k", "100"], true],
    ["EXPIRE of a missing key", [], ["EXPIRE", "k", "100"], false],
    ["PERSIST without a TTL", [["SET", "k", "v"]], ["PERSIST", "k"], false],
    ["PERSIST", [["SET", "k", "v", "EX", "100"]], ["PERSIST", "k"], true],
    ["RENAME away", [["SET", "k", "v"]], ["RENAME", "k", "o"], true],
    ["RENAME onto it", [["SET", "o", "v"]], ["RENAME", "o", "k"], true],
    ["COPY onto it", [["SET", "o", "v"]], ["COPY", "o", "k"], true],
    ["LPUSH onto a list", [["RPUSH", "k", "a"]], ["LPUSH", "k", "b"], true],
    ["LPOP of its last element", [["RPUSH", "k", "a"]], ["LPOP", "k"], true],
    ["LREM of an element it lacks", [["RPUSH", "k", "a"]], ["LREM", "k", "0", "b"], false],
    ["LSET", [["RPUSH", "k", "a"]], ["LSET", "k", "0", "b"], true],
    ["SADD of a new member", [["SADD", "k", "a"]], ["SADD", "k", "b"], true],
    ["SADD of a member it has", [["SADD", "k", "a"]], ["SADD", "k", "a"], false],
    ["HSET", [["HSET", "k", "f", "1"]], ["HSET", "k", "f", "2"], true],
    ["HDEL of a missing field", [["HSET", "k", "f", "1"]], ["HDEL", "k", "g"], false],
    ["FLUSHALL while it exists", [["SET", "k", "v"]], ["FLUSHALL"], true],
    ["FLUSHDB while it does not", [["SET", "o", "v"]], ["FLUSHDB"], false]
  ]
  const named = changes.map(([what, setup, change, aborts]) =>
    [`${what}: ${aborts ? "aborts EXEC" : "EXEC runs"}`, setup, change, aborts] as const
  )
  it.live.each(named)("%s", ([, setup, change, aborts]) =>
    Effect.gen(function*() {
      const { port } = yield* redisServer
      const a = yield* rawClient(port)
      const b = yield* rawClient(port)
      for (const request of setup) yield* b(request)
      yield* a(["WATCH", "k"], "+OK\r\n")
      yield* b(change)
      yield* a(["MULTI"], "+OK\r\n")
      yield* a(["PING"], "+QUEUED\r\n")
      yield* a(["EXEC"], aborts ? aborted : ran)
    }).pipe(provided()))

  it.live("WATCH inside MULTI is refused without failing the transaction; UNWATCH, DISCARD and RESET forget", () =>
    Effect.gen(function*() {
      const { keyspace, port } = yield* redisServer
      const a = yield* rawClient(port)
      const b = yield* rawClient(port)
      yield* a(["MULTI"], "+OK\r\n")
      yield* a(["WATCH", "k"], "-ERR WATCH inside MULTI is not allowed\r\n")
      yield* a(["EXEC"], "*0\r\n")
      for (const forget of [["UNWATCH"], ["RESET"]]) {
        yield* a(["WATCH", "k"], "+OK\r\n")
        yield* b(["SET", "k", "v"], "+OK\r\n")
        yield* a(forget, forget[0] === "RESET" ? "+RESET\r\n" : "+OK\r\n")
        yield* a(["MULTI"], "+OK\r\n")
        yield* a(["PING"], "+QUEUED\r\n")
        yield* a(["EXEC"], ran)
      }
      yield* a(["WATCH", "k"], "+OK\r\n")
      yield* b(["SET", "k", "w"], "+OK\r\n")
      yield* a(["MULTI"], "+OK\r\n")
      yield* a(["DISCARD"], "+OK\r\n")
      yield* a(["MULTI"], "+OK\r\n")
      yield* a(["PING"], "+QUEUED\r\n")
      yield* a(["EXEC"], ran)
      assert.strictEqual(keyspace.watches.size, 0, "nothing is watched any more")
    }).pipe(provided()))

  it.live("a connection that ends leaves no watched key behind", () =>
    Effect.gen(function*() {
      const { keyspace, port } = yield* redisServer
      yield* Effect.scoped(Effect.gen(function*() {
        const a = yield* rawClient(port)
        yield* a(["WATCH", "k", "l", "m"], "+OK\r\n")
        assert.strictEqual(keyspace.watches.size, 3)
      }))
      yield* eventually("the watches are gone", () => keyspace.watches.size === 0)
    }).pipe(provided()))

  it.effect("a watched key past its TTL aborts EXEC, whether collected yet or not (TestClock)", () =>
    Effect.gen(function*() {
      const { keyspace, port } = yield* redisServer
      const a = yield* rawClient(port)
      yield* a(["SET", "k", "v", "PX", "1000"], "+OK\r\n")
      yield* a(["WATCH", "k"], "+OK\r\n")
      yield* TestClock.adjust("1001 millis")
      // Past its TTL, not yet collected (the next sweep is at 1100 ms): as Redis's isWatchedKeyExpired.
      assert.strictEqual(keyspace.size(), 1)
      yield* a(["MULTI"], "+OK\r\n")
      yield* a(["PING"], "+QUEUED\r\n")
      yield* a(["EXEC"], aborted)
      yield* a(["SET", "k", "v", "PX", "1000"], "+OK\r\n")
      yield* a(["WATCH", "k"], "+OK\r\n")
      yield* TestClock.adjust("1200 millis")
      assert.strictEqual(keyspace.size(), 0, "the sweep collected it")
      yield* a(["MULTI"], "+OK\r\n")
      yield* a(["PING"], "+QUEUED\r\n")
      yield* a(["EXEC"], aborted)
    }).pipe(provided("100 millis")))

  it.effect("a key already expired when watched: collecting it is no change (TestClock)", () =>
    Effect.gen(function*() {
      const { port } = yield* redisServer
      const a = yield* rawClient(port)
      const b = yield* rawClient(port)
      yield* a(["SET", "k", "v", "PX", "1000"], "+OK\r\n")
      yield* TestClock.adjust("1001 millis")
      yield* a(["WATCH", "k"], "+OK\r\n")
      yield* b(["GET", "k"], "$-1\r\n")
      yield* a(["MULTI"], "+OK\r\n")
      yield* a(["PING"], "+QUEUED\r\n")
      yield* a(["EXEC"], ran)
      // Once collected, it is watched as absent: creating it is a change.
      yield* a(["SET", "j", "v", "PX", "1000"], "+OK\r\n")
      yield* TestClock.adjust("1001 millis")
      yield* a(["WATCH", "j"], "+OK\r\n")
      yield* b(["GET", "j"], "$-1\r\n")
      yield* b(["SET", "j", "w"], "+OK\r\n")
      yield* a(["MULTI"], "+OK\r\n")
      yield* a(["PING"], "+QUEUED\r\n")
      yield* a(["EXEC"], aborted)
    }).pipe(provided()))
})

/** Every promise a test awaits is bounded. */
const promise = <A>(what: string, evaluate: () => Promise<A>) =>
  Effect.tryPromise({ try: evaluate, catch: (cause) => new Error(`${what}: ${String(cause)}`) }).pipe(
    Effect.timeoutOrElse({ duration: Duration.seconds(15), orElse: () => Effect.fail(new Error(`${what}: timed out`)) })
  )

describe("WATCH with real clients, retried in their own idiom", () => {
  it.live("ioredis: exec() gives null when another client wrote the key; the retry goes through", () =>
    Effect.gen(function*() {
      const { port } = yield* redisServer
      const [client, other] = yield* Effect.acquireRelease(
        Effect.sync(() => [new IORedis(port, "127.0.0.1"), new IORedis(port, "127.0.0.1")] as const),
        (clients) => Effect.sync(() => clients.forEach((c) => c.disconnect()))
      )
      // WATCH, read, write in MULTI; a null EXEC means try again. The first time, another client gets in between.
      const increment = async (attempt: number): Promise<number> => {
        if (attempt > 5) throw new Error("never went through")
        await client.watch("counter")
        const value = Number(await client.get("counter"))
        if (attempt === 1) await other.incrby("counter", 100)
        const result = await client.multi().set("counter", String(value + 1)).exec()
        return result === null ? increment(attempt + 1) : attempt
      }
      const attempts = yield* promise("optimistic increment", async () => {
        await client.set("counter", "10")
        return increment(1)
      })
      assert.strictEqual(attempts, 2)
      assert.strictEqual(yield* promise("get", () => client.get("counter")), "111")
    }).pipe(provided()))

  it.live("node-redis: exec() rejects with WatchError when another client wrote the key; the retry goes through", () =>
    Effect.gen(function*() {
      const { port } = yield* redisServer
      const open = () => createClient({ RESP: 2, socket: { port, host: "127.0.0.1", reconnectStrategy: false } })
      const [client, other] = yield* Effect.acquireRelease(
        promise("connect", () => Promise.all([open().connect(), open().connect()])),
        (clients) => Effect.sync(() => clients.forEach((c) => c.destroy()))
      )
      // As with ioredis, but an aborted EXEC rejects with WatchError.
      const increment = async (attempt: number): Promise<number> => {
        if (attempt > 5) throw new Error("never went through")
        await client.watch("counter")
        const value = Number(await client.get("counter"))
        if (attempt === 1) await other.incrBy("counter", 100)
        try {
          await client.multi().set("counter", String(value + 1)).exec()
          return attempt
        } catch (error) {
          if (!(error instanceof WatchError)) throw error
          return increment(attempt + 1)
        }
      }
      const attempts = yield* promise("optimistic increment", async () => {
        await client.set("counter", "10")
        return increment(1)
      })
      assert.strictEqual(attempts, 2)
      assert.strictEqual(yield* promise("get", () => client.get("counter")), "111")
    }).pipe(provided()))
})
