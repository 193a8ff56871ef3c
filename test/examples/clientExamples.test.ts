/**
 * The client examples (`examples/redisClient.ts`, `examples/memcachedClient.ts`)
 * in CI, without the servers they are written for: the RESP reply decoder
 * over scripted chunks (every reply type, nested arrays, error replies as
 * values, bounds on what a hostile server announces, any chunking decoding
 * the same); the Redis client against fiberline's own Redis server over TCP,
 * TLS (the test CA) and a Unix socket; and both clients against a
 * `TestConnection` playing the server — scripted replies in, the exact
 * bytes the client sent out.
 */
import { Buffer } from "node:buffer"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Memcached from "../../examples/memcachedClient.ts"
import * as RedisClient from "../../examples/redisClient.ts"
import * as Redis from "../../src/handlers/redis/Redis.ts"
import * as Decoder from "../../src/Decoder.ts"
import type { Connection } from "../../src/services/Connection.ts"
import type { ConnectError } from "../../src/ConnectError.ts"
import type { TlsConfigError } from "../../src/Errors.ts"
import * as LineClient from "../../src/services/LineClient.ts"
import * as LineServer from "../../src/services/LineServer.ts"
import * as TestConnection from "../../src/testing/TestConnection.ts"
import { split } from "../fixtures/chunks.ts"
import { tempDir } from "../fixtures/files.ts"
import { captureLogs, serve } from "../fixtures/server.ts"
import { file, serverA } from "../fixtures/tls.ts"

const within = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.timeout(effect, Duration.seconds(10))

/** A reply with its error replies spelled out, for comparing. */
const plain = (reply: RedisClient.Reply): unknown =>
  reply instanceof RedisClient.ReplyError ? { error: reply.message } : Array.isArray(reply) ? reply.map(plain) : reply

/** Every reply `chunks` decode to, then how the input ended or the protocol error that stopped it. */
const decodeAll = (chunks: ReadonlyArray<string | Buffer>): Array<unknown> => {
  const decoded = Decoder.run(RedisClient.reply, chunks)
  const frames = decoded.frames.map((frame) =>
    frame instanceof Decoder.Failure ? `<RespError: ${frame.error.message}>` : plain(frame as RedisClient.Reply)
  )
  return decoded.end === undefined ? frames : [...frames, `<${decoded.end._tag}>`]
}

/** One of every reply, nested arrays and binary-looking bulk included. */
const corpus = Buffer.from(
  "+OK\r\n-ERR wrong type\r\n:42\r\n:-7\r\n$5\r\nhello\r\n$0\r\n\r\n$-1\r\n*-1\r\n*0\r\n$4\r\na\r\nb\r\n" +
    "*3\r\n:1\r\n*2\r\n+nested\r\n$-1\r\n-ERR inside\r\n$6\r\n✓ ok\r\n"
)

describe("the RESP reply decoder (examples/redisClient.ts)", () => {
  it("decodes every reply type: strings, errors as values, integers, bulk (with CRLF inside), nil, arrays nested", () => {
    assert.deepStrictEqual(decodeAll([corpus]), [
      "OK",
      { error: "ERR wrong type" },
      42,
      -7,
      "hello",
      "",
      null,
      null,
      [],
      "a\r\nb",
      [1, ["nested", null], { error: "ERR inside" }],
      "✓ ok",
      "<EndOfInput>"
    ])
  })

  it("refuses what a hostile server announces: lengths out of bounds, nesting too deep, a line without end, an unknown type", () => {
    assert.deepStrictEqual(decodeAll(["$9999999999\r\n"]), ["<RespError: bad bulk length 9999999999>"])
    assert.deepStrictEqual(decodeAll(["*-2\r\n"]), ["<RespError: bad array length -2>"])
    assert.deepStrictEqual(decodeAll(["*1\r\n".repeat(40)]), ["<RespError: arrays nested too deep>"])
    assert.deepStrictEqual(decodeAll(["+", "x".repeat(64 * 1024 + 1)]), ["<RespError: line too long>"])
    assert.deepStrictEqual(decodeAll([":12a\r\n"]), ["<RespError: bad integer 12a>"])
    assert.deepStrictEqual(decodeAll(["?\r\n"]), ["<RespError: unexpected byte 0x3f>"])
    assert.deepStrictEqual(decodeAll(["$3\r\nabcd\r\n"]), ["<RespError: bulk not ended by CRLF>"])
    // A reply cut off by the end of input is not a reply.
    assert.deepStrictEqual(decodeAll(["*2\r\n:1\r\n"]), ["<UnexpectedEndOfInput>"])
  })

  const Cuts = Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 200 })))
  it.prop("any chunking of the replies decodes to the same replies", [Cuts], ([cuts]) => {
    assert.deepStrictEqual(decodeAll(split(corpus, cuts)), decodeAll([corpus]))
  })
})

/** PING, SET/GET, an error reply, a pipeline and a subscription, over connections `open` makes. */
const redisSession = (open: Effect.Effect<Connection, ConnectError | TlsConfigError, Scope.Scope>) =>
  Effect.gen(function*() {
    const conn = yield* open
    const subscriber = yield* open
    assert.strictEqual(yield* RedisClient.ping(conn), "PONG")
    assert.strictEqual(yield* RedisClient.set(conn, "k", "a\r\nb"), "OK")
    assert.strictEqual(yield* RedisClient.get(conn, "k"), "a\r\nb")
    assert.isNull(yield* RedisClient.get(conn, "missing"))
    const failed = yield* Effect.flip(RedisClient.command(conn, "INCR", "k"))
    assert.strictEqual(failed._tag, "ReplyError")
    const replies = yield* RedisClient.pipeline(conn, [["INCR", "n"], ["INCR", "k"], ["INCR", "n"], ["GET", "n"]])
    assert.deepStrictEqual(replies.map(plain), [1, { error: "ERR value is not an integer or out of range" }, 2, "2"])
    const confirmed = yield* RedisClient.subscribe(subscriber, "news")
    assert.deepStrictEqual(confirmed, [["subscribe", "news", 1]])
    assert.strictEqual(yield* RedisClient.command(conn, "PUBLISH", "news", "hello"), 1)
    assert.deepStrictEqual(yield* within(RedisClient.nextMessage(subscriber)), { channel: "news", payload: "hello" })
  }).pipe(Effect.scoped, within)

describe("the Redis client against fiberline's Redis server", () => {
  const shared = Layer.merge(Redis.layer(), captureLogs().layer)

  it.live("over TCP", () =>
    Effect.gen(function*() {
      const { port } = yield* serve(Redis.handler())
      yield* redisSession(LineClient.connect({ port }))
    }).pipe(Effect.provide(shared)))

  it.live("over TLS, verified against the test CA", () =>
    Effect.gen(function*() {
      const { port } = yield* serve(Redis.handler(), { tls: serverA })
      yield* redisSession(LineClient.connect({ host: "localhost", port, tls: { ca: file("ca.crt") } }))
    }).pipe(Effect.provide(shared)))

  it.live("over a Unix socket", () =>
    Effect.gen(function*() {
      const path = Path.join(yield* tempDir("redis-client"), "redis.sock")
      yield* LineServer.make({ handler: Redis.handler(), path })
      yield* redisSession(LineClient.connect({ path }))
    }).pipe(Effect.provide(shared)))
})

describe("TestConnection as the scripted server of a client under test", () => {
  it.effect("Redis: the client sends the command's exact bytes and decodes a reply that arrives in pieces", () =>
    Effect.gen(function*() {
      const server = yield* TestConnection.make()
      const reply = yield* Effect.forkChild(RedisClient.get(server.connection, "greeting"))
      assert.strictEqual(yield* server.awaitOutput("greeting\r\n"), "*2\r\n$3\r\nGET\r\n$8\r\ngreeting\r\n")
      yield* server.send("$5\r\nhel")
      yield* server.send("lo\r\n")
      assert.strictEqual(yield* Fiber.join(reply), "hello")
      // A server that goes away in the middle of a reply.
      const cut = yield* Effect.forkChild(Effect.flip(RedisClient.ping(server.connection)))
      yield* server.awaitOutput("PING\r\n")
      yield* server.send("+PO")
      yield* server.end
      assert.strictEqual((yield* Fiber.join(cut))._tag, "UnexpectedEndOfInput")
    }))

  it.effect("memcached: set, a multi-get whose value holds CRLF, delete, and a reply the client does not expect", () =>
    Effect.gen(function*() {
      const server = yield* TestConnection.make({ lineEnding: "\r\n" })
      const conn = server.connection
      const stored = yield* Effect.forkChild(Memcached.set(conn, "k", "hello", 60))
      assert.strictEqual(yield* server.awaitOutput("hello\r\n"), "set k 0 60 5\r\nhello\r\n")
      yield* server.send("STORED\r\n")
      yield* Fiber.join(stored)
      const got = yield* Effect.forkChild(Memcached.get(conn, "k", "gone", "two"))
      yield* server.awaitOutput("get k gone two\r\n")
      yield* server.send("VALUE k 0 5\r\nhello\r\nVALUE two 7 4\r\n")
      yield* server.send("a\r\nb\r\nEND\r\n")
      const values = yield* Fiber.join(got)
      assert.deepStrictEqual([...values].map(([key, value]) => [key, value.toString()]), [["k", "hello"], ["two", "a\r\nb"]])
      const removed = yield* Effect.forkChild(Memcached.remove(conn, "gone"))
      yield* server.awaitOutput("delete gone\r\n")
      yield* server.send("NOT_FOUND\r\n")
      assert.isFalse(yield* Fiber.join(removed))
      const refused = yield* Effect.forkChild(Effect.flip(Memcached.set(conn, "k", "x")))
      yield* server.awaitOutput("set k 0 0 1\r\nx\r\n")
      yield* server.send("SERVER_ERROR out of memory storing object\r\n")
      const error = yield* Fiber.join(refused)
      assert.strictEqual(error._tag === "MemcachedError" && error.reply, "SERVER_ERROR out of memory storing object")
      // A key that would break the command line is refused before anything is sent.
      assert.isTrue((yield* Effect.exit(Memcached.get(conn, "two words")))._tag === "Failure")
      assert.notInclude(yield* server.outputText, "two words")
    }))
})
