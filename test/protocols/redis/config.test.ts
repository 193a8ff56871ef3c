/**
 * CONFIG over a real socket, exact bytes: GET by name in any case and by
 * pattern (aliases included), SET of several pairs at once that applies all
 * or nothing with Redis's errors, the settings that really change the
 * server (maxmemory, proto-max-bulk-len, the transaction bound, the pub/sub
 * limit), the facts that only take their own value, the encoding thresholds
 * stored and returned, and RESETSTAT and REWRITE.
 */
import { constants as BufferConstants } from "node:buffer"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redis from "../../../src/handlers/redis/Redis.ts"
import { connect } from "../../fixtures/client.ts"
import { captureLogs, serve } from "../../fixtures/server.ts"
import { cmd, expectReplies } from "./support.ts"

/** A server and one client connected to it. */
const redisClient = (options?: Redis.RedisOptions) =>
  Effect.gen(function*() {
    const server = yield* serve(Redis.handler(options))
    return { port: server.port, client: yield* connect(server.port) }
  })

const live = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.provide(Layer.merge(Redis.layer(), captureLogs().layer)))

/** The reply to `CONFIG GET` of these pairs. */
const pairs = (...items: ReadonlyArray<string>) => `*${items.length}\r\n${items.map((item) => `$${item.length}\r\n${item}\r\n`).join("")}`

const failed = (name: string, reason: string) => `-ERR CONFIG SET failed (possibly related to argument '${name}') - ${reason}\r\n`

describe("CONFIG GET", () => {
  it.live("names in any case come back as asked, patterns as Redis spells them, aliases too, each once", () =>
    live(Effect.gen(function*() {
      const { client } = yield* redisClient({ maxmemory: 1000 })
      yield* expectReplies(client, cmd("config", "get", "MaxMemory", "maxmemory"), pairs("MaxMemory", "1000"))
      yield* expectReplies(
        client,
        cmd("config", "get", "*max-*-entries", "hash-max-listpack-entries"),
        pairs(
          "set-max-intset-entries", "512",
          "hash-max-listpack-entries", "512",
          "hash-max-ziplist-entries", "512",
          "zset-max-listpack-entries", "128",
          "zset-max-ziplist-entries", "128"
        )
      )
      yield* expectReplies(client, cmd("config", "get", "nosuch", "no*such"), "*0\r\n")
      yield* expectReplies(
        client,
        cmd("config", "get", "save", "appendonly", "maxmemory-policy", "databases", "client-output-buffer-limit"),
        pairs(
          "save", "",
          "appendonly", "no",
          "maxmemory-policy", "noeviction",
          "databases", "1",
          "client-output-buffer-limit", "normal 268435456 33554432 60 slave 268435456 67108864 60 pubsub 33554432 0 0"
        )
      )
    })))
})

describe("CONFIG SET", () => {
  it.live("several pairs at once; any refusal leaves every value as it was", () =>
    live(Effect.gen(function*() {
      const { client } = yield* redisClient({ maxmemory: 1000 })
      yield* expectReplies(client, cmd("config", "set", "maxmemory", "2kb", "timeout", "5"), "+OK\r\n")
      yield* expectReplies(client, cmd("config", "get", "maxmemory", "timeout"), pairs("maxmemory", "2048", "timeout", "5"))
      yield* expectReplies(
        client,
        cmd("config", "set", "maxmemory", "3000", "timeout", "x") + cmd("config", "get", "maxmemory", "timeout"),
        failed("timeout", "argument couldn't be parsed into an integer") + pairs("maxmemory", "2048", "timeout", "5")
      )
      yield* expectReplies(
        client,
        cmd("config", "set", "maxmemory", "1", "nosuch", "1") + cmd("config", "set", "databases", "2") +
          cmd("config", "set", "maxmemory", "1", "MAXMEMORY", "2") + cmd("config", "set", "maxmemory", "1", "timeout") +
          cmd("config", "get", "maxmemory"),
        "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n" +
          failed("databases", "can't set immutable config") + failed("MAXMEMORY", "duplicate parameter") +
          "-ERR syntax error\r\n" + pairs("maxmemory", "2048")
      )
    })))

  it.live("values are read as Redis reads them, with its words for each kind", () =>
    live(Effect.gen(function*() {
      const { client } = yield* redisClient()
      yield* expectReplies(
        client,
        cmd("config", "set", "maxmemory", "12x") + cmd("config", "set", "proto-max-bulk-len", "1000") +
          cmd("config", "set", "timeout", "-1") + cmd("config", "set", "maxmemory-policy", "lru") +
          cmd("config", "set", "appendonly", "maybe") + cmd("config", "set", "save", "1 x") +
          cmd("config", "set", "notify-keyspace-events", "Q") +
          cmd("config", "set", "client-output-buffer-limit", "pubsub 1 2") +
          cmd("config", "set", "client-output-buffer-limit", "master 1 2 3") +
          cmd("config", "set", "client-output-buffer-limit", "pubsub 1x 0 0"),
        failed("maxmemory", "argument must be a memory value") +
          failed("proto-max-bulk-len", `argument must be between 1048576 and ${BufferConstants.MAX_STRING_LENGTH} inclusive`) +
          failed("timeout", "argument must be between 0 and 2147483647 inclusive") +
          failed(
            "maxmemory-policy",
            "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, " +
              "allkeys-lru, allkeys-lfu, allkeys-random, noeviction"
          ) +
          failed("appendonly", "argument must be 'yes' or 'no'") + failed("save", "Invalid save parameters") +
          failed("notify-keyspace-events", "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.") +
          failed("client-output-buffer-limit", "Wrong number of arguments in buffer limit configuration.") +
          failed("client-output-buffer-limit", "Invalid client class specified in buffer limit configuration.") +
          failed("client-output-buffer-limit", "Error in hard, soft or soft_seconds setting in buffer limit configuration.")
      )
    })))

  it.live("facts take their own value, and are refused any other with the reason", () =>
    live(Effect.gen(function*() {
      const { client } = yield* redisClient()
      yield* expectReplies(
        client,
        cmd("config", "set", "save", "", "appendonly", "NO", "maxmemory-policy", "noeviction") +
          cmd("config", "set", "save", "3600 1") + cmd("config", "set", "appendonly", "yes") +
          cmd("config", "set", "maxmemory-policy", "allkeys-lru") + cmd("config", "set", "notify-keyspace-events", "KEA") +
          cmd("config", "set", "client-output-buffer-limit", "pubsub 1mb 1kb 60"),
        "+OK\r\n" + failed("save", "fiberline does not persist: save must be empty") +
          failed("appendonly", "fiberline does not persist: appendonly must be no") +
          failed("maxmemory-policy", "fiberline evicts nothing: only noeviction is supported") +
          failed("notify-keyspace-events", "fiberline sends no keyspace notifications") +
          failed("client-output-buffer-limit", "fiberline has no soft limits: pubsub must be <hard> 0 0")
      )
      // Event classes that notify nothing (no K, no E) are kept, in Redis's spelling.
      yield* expectReplies(
        client,
        cmd("config", "set", "notify-keyspace-events", "lg$") + cmd("config", "get", "notify-keyspace-events") +
          cmd("config", "set", "notify-keyspace-events", "Az") + cmd("config", "get", "notify-keyspace-events"),
        "+OK\r\n" + pairs("notify-keyspace-events", "g$l") + "+OK\r\n" + pairs("notify-keyspace-events", "A")
      )
    })))

  it.live("encoding thresholds and the replica limits are stored and returned, under either name", () =>
    live(Effect.gen(function*() {
      const { client } = yield* redisClient()
      yield* expectReplies(
        client,
        cmd("config", "set", "hash-max-ziplist-entries", "4", "zset-max-listpack-value", "1kb", "list-max-ziplist-size", "-5") +
          cmd("config", "get", "hash-max-listpack-entries", "zset-max-ziplist-value", "list-max-listpack-size") +
          cmd("config", "set", "list-compress-depth", "-1") +
          cmd("config", "set", "client-output-buffer-limit", "replica 1mb 2mb 3 pubsub 0 0 0 normal 0 0 0") +
          cmd("config", "get", "client-output-buffer-limit"),
        "+OK\r\n" + pairs("hash-max-listpack-entries", "4", "zset-max-ziplist-value", "1024", "list-max-listpack-size", "-5") +
          failed("list-compress-depth", "argument must be between 0 and 2147483647 inclusive") + "+OK\r\n" +
          pairs("client-output-buffer-limit", "normal 0 0 0 slave 1048576 2097152 3 pubsub 0 0 0")
      )
    })))

  it.live("maxmemory, proto-max-bulk-len and max-queued-commands change what the server does at once", () =>
    live(Effect.gen(function*() {
      const { client, port } = yield* redisClient()
      yield* expectReplies(
        client,
        cmd("config", "set", "maxmemory", "1") + cmd("set", "a", "b") + cmd("config", "set", "maxmemory", "0") + cmd("set", "a", "b"),
        "+OK\r\n-OOM command not allowed when used memory > 'maxmemory'.\r\n+OK\r\n+OK\r\n"
      )
      yield* expectReplies(
        client,
        cmd("config", "set", "max-queued-commands", "1") + cmd("multi") + cmd("incr", "n") + cmd("incr", "n") + cmd("exec"),
        "+OK\r\n+OK\r\n+QUEUED\r\n" +
          "-ERR transaction too big: more than 1 queued commands (max-queued-commands)\r\n" +
          "-EXECABORT Transaction discarded because of previous errors.\r\n"
      )
      // Another connection of the same server reads the new bulk limit with its next request.
      yield* expectReplies(client, cmd("config", "set", "proto-max-bulk-len", "1mb"), "+OK\r\n")
      const other = yield* connect(port)
      yield* other.write(`*2\r\n$4\r\nECHO\r\n$${1024 * 1024 + 1}\r\n`)
      const closed = yield* Effect.timeout(other.closed, Duration.seconds(10))
      assert.strictEqual(closed.data.toString("latin1"), "-ERR Protocol error: invalid bulk length\r\n")
    })))

  it.live("the pubsub hard limit applies at once to subscribers already listening", () =>
    live(Effect.gen(function*() {
      const { client, port } = yield* redisClient()
      const subscriber = yield* connect(port)
      yield* expectReplies(subscriber, cmd("subscribe", "ch"), "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n")
      yield* expectReplies(
        client,
        cmd("config", "set", "client-output-buffer-limit", "pubsub 100 0 0") + cmd("publish", "ch", "x".repeat(200)),
        "+OK\r\n:1\r\n"
      )
      const closed = yield* Effect.timeout(subscriber.closed, Duration.seconds(10))
      assert.notInclude(closed.data.toString("latin1"), "message", "cut off before the message went out")
    })))

  it.live("RESETSTAT zeroes the counters INFO reports; REWRITE is refused: there is no file", () =>
    live(Effect.gen(function*() {
      const { client } = yield* redisClient()
      yield* expectReplies(client, cmd("set", "a", "1") + cmd("incr", "a") + cmd("config", "resetstat"), "+OK\r\n:2\r\n+OK\r\n")
      yield* expectReplies(
        client,
        cmd("info", "commandstats"),
        `$${"# Commandstats\r\ncmdstat_config|resetstat:calls=1,rejected_calls=0,failed_calls=0\r\n".length}\r\n` +
          "# Commandstats\r\ncmdstat_config|resetstat:calls=1,rejected_calls=0,failed_calls=0\r\n\r\n"
      )
      yield* expectReplies(client, cmd("config", "rewrite"), "-ERR The server is running without a config file\r\n")
    })))
})
