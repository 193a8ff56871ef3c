/**
 * Real npm clients against a real server on 127.0.0.1 (the LineServer the
 * CLI runs, with the Redis layer): ioredis with its default options (RESP3
 * attempt, fallback to RESP2, ready check) and node-redis in RESP2 — the
 * handshake, a 10 000-command pipeline, binary values up to several MiB,
 * MULTI/EXEC running atomically, expiry, pub/sub between two clients, BLPOP
 * woken by another client, and a subscriber that never reads being cut off
 * while the publisher goes on unhindered.
 */
import { Buffer } from "node:buffer"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import { Redis as IORedis } from "ioredis"
import { createClient, RESP_TYPES } from "redis"
import * as Redis from "../../../src/handlers/redis/Redis.ts"
import type { ConnectionOptions } from "../../../src/services/Connection.ts"
import { captureLogs, type LogLine, serve } from "../../fixtures/server.ts"
import { eventually } from "./support.ts"

/** Every promise a test awaits is bounded. */
const promise = <A>(what: string, evaluate: () => Promise<A>) =>
  Effect.tryPromise({ try: evaluate, catch: (cause) => new Error(`${what}: ${String(cause)}`) }).pipe(
    Effect.timeoutOrElse({
      duration: Duration.seconds(15),
      orElse: () => Effect.fail(new Error(`${what}: timed out`))
    })
  )

/** A Redis server on a free port for the test's scope; logs are captured. */
const redisServer = (options?: Redis.RedisOptions, serverOptions?: ConnectionOptions) =>
  Effect.map(serve(Redis.handler(options), serverOptions), (server) => server.port)

/** An ioredis client with default options (ready once its handshake and ready check passed), quit at scope end. */
const ioredis = (port: number, options?: { readonly reconnect: false }) =>
  Effect.acquireRelease(
    promise("ioredis connect", async () => {
      const client = new IORedis(port, "127.0.0.1", options?.reconnect === false ? { retryStrategy: () => null } : {})
      client.on("error", () => {})
      await new Promise<void>((resolve, reject) => {
        client.once("ready", resolve)
        client.once("end", () => reject(new Error("connection ended before ready")))
      })
      return client
    }),
    (client) =>
      promise("ioredis quit", () => client.quit()).pipe(
        Effect.ignore,
        Effect.andThen(Effect.sync(() => client.disconnect()))
      )
  )

/** A node-redis client speaking RESP2, closed at scope end. */
const nodeRedis = (port: number) =>
  Effect.acquireRelease(
    promise("node-redis connect", async () => {
      const client = createClient({ RESP: 2, socket: { port, host: "127.0.0.1", reconnectStrategy: false } })
      client.on("error", () => {})
      await client.connect()
      return client
    }),
    (client) =>
      promise("node-redis close", () => client.close()).pipe(
        Effect.ignore,
        Effect.andThen(Effect.sync(() => client.isOpen && client.destroy()))
      )
  )

const live = <A, E, R>(effect: Effect.Effect<A, E, R>, logs: { readonly layer: Layer.Layer<never> } = captureLogs()) =>
  effect.pipe(Effect.provide(Layer.merge(Redis.layer(), logs.layer)))

/** Bytes that exercise binary safety: every byte value, CR/LF pairs included. */
const binary = (size: number) => Buffer.from(Array.from({ length: size }, (_, i) => (i * 7 + (i >> 8)) % 256))

describe("ioredis (default options)", () => {
  it.live("connects (RESP3 refused, RESP2 fallback, ready check on INFO) and runs commands", () =>
    live(Effect.gen(function*() {
      const client = yield* ioredis(yield* redisServer())
      assert.strictEqual(client.status, "ready")
      assert.strictEqual(yield* promise("ping", () => client.ping()), "PONG")
      assert.strictEqual(yield* promise("set", () => client.set("greeting", "hello")), "OK")
      assert.strictEqual(yield* promise("get", () => client.get("greeting")), "hello")
      assert.strictEqual(yield* promise("client id", () => client.client("ID")), yield* promise("hello", async () => {
        const reply = (await client.call("HELLO")) as Array<unknown>
        return reply[reply.indexOf("id") + 1] as number
      }))
    })))

  it.live("a pipeline of 10 000 commands", () =>
    live(Effect.gen(function*() {
      const client = yield* ioredis(yield* redisServer())
      const pipeline = client.pipeline()
      for (let i = 0; i < 10_000; i++) {
        if (i % 2 === 0) pipeline.incr("counter")
        else pipeline.rpush("list", `item-${i}`)
      }
      const results = yield* promise("exec", () => pipeline.exec())
      assert.strictEqual(results?.length, 10_000)
      assert.isTrue(results!.every(([error]) => error === null))
      assert.deepStrictEqual(results![9_998], [null, 5_000])
      assert.deepStrictEqual(results![9_999], [null, 5_000])
      assert.strictEqual(yield* promise("llen", () => client.llen("list")), 5_000)
    })))

  it.live("binary values up to several MiB round-trip exactly", () =>
    live(Effect.gen(function*() {
      const client = yield* ioredis(yield* redisServer())
      for (const size of [0, 1, 13, 64 * 1024 - 1, 64 * 1024 + 1, 1024 * 1024, 5 * 1024 * 1024]) {
        const value = binary(size)
        const key = Buffer.concat([Buffer.from("bin\r\n\0"), Buffer.from(`${size}`)])
        yield* promise("set", () => client.set(key, value))
        const back = yield* promise("getBuffer", () => client.getBuffer(key))
        assert.isTrue(back !== null && value.equals(back), `value of ${size} bytes`)
      }
    })))

  it.live("MULTI/EXEC: queued, then run at once with no other connection's command in between", () =>
    live(Effect.gen(function*() {
      const port = yield* redisServer()
      const client = yield* ioredis(port)
      const meddler = yield* ioredis(port)
      // The meddler keeps resetting the counter while the transaction runs.
      const meddling = meddler.pipeline()
      for (let i = 0; i < 2_000; i++) meddling.set("counter", "0")
      const transaction = client.multi()
      for (let i = 0; i < 2_000; i++) transaction.incr("counter")
      const [meddled, results] = yield* promise("exec", () => Promise.all([meddling.exec(), transaction.exec()]))
      assert.strictEqual(meddled?.length, 2_000)
      const values = results!.map(([error, value]) => {
        assert.isNull(error)
        return value as number
      })
      assert.isTrue(values.every((value, i) => i === 0 || value === values[i - 1]! + 1), "no SET interleaved")
      const queueingError = yield* promise("bad exec", () =>
        client.multi().set("a", "1").call("NOSUCHCOMMAND").exec().then(() => "no error", (error: Error) => error.message))
      assert.include(queueingError, "EXECABORT Transaction discarded because of previous errors.")
      assert.isNull(yield* promise("get", () => client.get("a")))
    })))

  it.live("keys expire (EX/PX, EXPIRE, TTL), lazily and by the sweep", () =>
    live(Effect.gen(function*() {
      const client = yield* ioredis(yield* redisServer())
      yield* promise("set px", () => client.set("short", "v", "PX", 100))
      yield* promise("set ex", () => client.set("long", "v", "EX", 100))
      yield* promise("set", () => client.set("swept", "v"))
      assert.strictEqual(yield* promise("pexpire", () => client.pexpire("swept", 100)), 1)
      assert.strictEqual(yield* promise("ttl", () => client.ttl("long")), 100)
      assert.strictEqual(yield* promise("dbsize", () => client.dbsize()), 3)
      yield* Effect.sleep("400 millis")
      // Nobody read "swept": only the active sweep can have removed it.
      assert.strictEqual(yield* promise("dbsize", () => client.dbsize()), 1)
      assert.isNull(yield* promise("get", () => client.get("short")))
      assert.strictEqual(yield* promise("get", () => client.get("long")), "v")
    })))

  it.live("pub/sub between two clients: messages and pattern messages; PUBLISH counts receivers", () =>
    live(Effect.gen(function*() {
      const port = yield* redisServer()
      const subscriber = yield* ioredis(port)
      const publisher = yield* ioredis(port)
      const received: Array<string> = []
      subscriber.on("message", (channel: string, message: string) => received.push(`${channel}:${message}`))
      subscriber.on("pmessage", (pattern: string, channel: string, message: string) =>
        received.push(`${pattern}|${channel}:${message}`))
      yield* promise("subscribe", () => subscriber.subscribe("news"))
      yield* promise("psubscribe", () => subscriber.psubscribe("n*"))
      assert.strictEqual(yield* promise("publish", () => publisher.publish("news", "one")), 2)
      assert.strictEqual(yield* promise("publish", () => publisher.publish("nothing", "two")), 1)
      assert.strictEqual(yield* promise("publish", () => publisher.publish("other", "three")), 0)
      yield* eventually("three messages", () => received.length >= 3)
      assert.deepStrictEqual(received.toSorted(), ["n*|news:one", "n*|nothing:two", "news:one"])
      yield* promise("unsubscribe", () => subscriber.unsubscribe("news"))
      assert.strictEqual(yield* promise("publish", () => publisher.publish("news", "four")), 1)
    })))

  it.live("BLPOP is woken by another client's push; a timeout gives null", () =>
    live(Effect.gen(function*() {
      const port = yield* redisServer()
      const worker = yield* ioredis(port)
      const producer = yield* ioredis(port)
      assert.isNull(yield* promise("blpop timeout", () => worker.blpop("jobs", 0.05)))
      const waiting = worker.blpop("jobs", 0)
      yield* Effect.sleep("50 millis")
      assert.strictEqual(yield* promise("rpush", () => producer.rpush("jobs", "job-1")), 1)
      assert.deepStrictEqual(yield* promise("blpop", () => waiting), ["jobs", "job-1"])
    })))

  it.live("a subscriber that never reads is cut off; the publisher's PUBLISH calls keep completing promptly", () => {
    const logs = captureLogs()
    return live(
      Effect.gen(function*() {
        const limit = 1024 * 1024
        // A write timeout would end the stalled connection too, but only later.
        const port = yield* redisServer({ pubsubOutputLimit: limit }, { writeTimeout: "3 seconds" })
        const stalled = yield* ioredis(port, { reconnect: false })
        const reader = yield* ioredis(port)
        const publisher = yield* ioredis(port)
        let readerGot = 0
        reader.on("messageBuffer", () => readerGot++)
        yield* promise("subscribe", () => stalled.subscribe("firehose"))
        yield* promise("subscribe", () => reader.subscribe("firehose"))
        stalled.stream.pause()
        const message = binary(32 * 1024)
        let published = 0
        // Bounded: the kernel's socket buffers plus the limit take a few hundred messages at most.
        for (; published < 3_000; published++) {
          const receivers = yield* promise("publish", () => publisher.publish("firehose", message))
          if (receivers === 1) break
        }
        assert.isBelow(published, 3_000, "the stalled subscriber was cut off")
        // By the output limit (the cut-off line and count below), before the
        // write timeout: its output could only pass the limit because no
        // PUBLISH waited for it, and one that waited would have ended it with
        // a write timeout instead.
        assert.isFalse(logs.lines.some((line) => line.message.includes("write-timeout")), "no write timeout")
        // The reader kept up all along.
        yield* eventually("the reader got every message", () => readerGot >= published + 1)
        assert.strictEqual(readerGot, published + 1)
        // The stalled client's connection ends (after at most the write timeout for what was already in flight).
        stalled.stream.resume()
        yield* promise("stalled end", () =>
          new Promise<void>((resolve) => {
            if (stalled.status === "end") resolve()
            else stalled.once("end", () => resolve())
          }))
        const cutOffs = logs.lines.filter((line: LogLine) => line.message.includes("subscriber cut off"))
        assert.strictEqual(cutOffs.length, 1)
        assert.strictEqual(cutOffs[0]?.level, "Warn")
        const counted = yield* Metric.value(Redis.subscribersCutOff)
        assert.isAtLeast(counted.count, 1)
      }),
      logs
    )
  })
})

describe("node-redis (RESP2)", () => {
  it.live("connects and runs commands; a 10 000-command pipeline; binary values", () =>
    live(Effect.gen(function*() {
      const client = yield* nodeRedis(yield* redisServer())
      assert.strictEqual(yield* promise("ping", () => client.ping()), "PONG")
      // Commands issued in one tick are pipelined by node-redis.
      const replies = yield* promise("pipeline", () =>
        Promise.all(Array.from({ length: 10_000 }, (_, i) => client.set(`key:${i}`, `${i}`))))
      assert.isTrue(replies.every((reply) => reply === "OK"))
      assert.deepStrictEqual(yield* promise("mget", () => client.mGet(["key:0", "key:9999", "missing"])), [
        "0",
        "9999",
        null
      ])
      const buffers = client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer })
      for (const size of [0, 100, 3 * 1024 * 1024]) {
        const value = binary(size)
        yield* promise("set", () => client.set(`bin:${size}`, value))
        const back = yield* promise("get", () => buffers.get(`bin:${size}`))
        assert.isTrue(back !== null && value.equals(back), `value of ${size} bytes`)
      }
    })))

  it.live("MULTI/EXEC, pub/sub with a duplicate client, BLPOP woken by a push, expiry", () =>
    live(Effect.gen(function*() {
      const port = yield* redisServer()
      const client = yield* nodeRedis(port)
      const results: unknown = yield* promise("multi", () => client.multi().set("n", "1").incr("n").lPush("l", "x").exec())
      assert.deepStrictEqual(results, ["OK", 2, 1])
      const subscriber = yield* Effect.acquireRelease(
        promise("duplicate", async () => {
          const duplicate = client.duplicate()
          duplicate.on("error", () => {})
          await duplicate.connect()
          return duplicate
        }),
        (duplicate) =>
          promise("node-redis close", () => duplicate.close()).pipe(
            Effect.ignore,
            Effect.andThen(Effect.sync(() => duplicate.isOpen && duplicate.destroy()))
          )
      )
      const received: Array<string> = []
      yield* promise("subscribe", () => subscriber.subscribe("chat", (message) => received.push(message)))
      assert.strictEqual(yield* promise("publish", () => client.publish("chat", "hi")), 1)
      yield* eventually("the message", () => received.length > 0)
      assert.deepStrictEqual(received, ["hi"])
      const worker = yield* nodeRedis(port)
      const waiting = worker.blPop("jobs", 0)
      yield* Effect.sleep("50 millis")
      yield* promise("rpush", () => client.rPush("jobs", "job"))
      assert.deepStrictEqual(yield* promise("blpop", () => waiting), { key: "jobs", element: "job" })
      yield* promise("set px", () => client.set("short", "v", { expiration: { type: "PX", value: 50 } }))
      yield* Effect.sleep("150 millis")
      assert.isNull(yield* promise("get", () => client.get("short")))
    })))
})
