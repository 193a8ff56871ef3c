/**
 * INFO, FUNCTION, FCALL, COMMAND, TIME and DEBUG over a real socket: INFO's
 * sections chosen as Redis chooses them and its counters (connections,
 * commands, rejected and failed calls, error codes, expired keys, pub/sub);
 * FUNCTION and FCALL answering, byte for byte, as Redis does with no
 * function and no engine; COMMAND GETKEYS, LIST and INFO from the table.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redis from "../../../src/handlers/redis/Redis.ts"
import { connect, type TestClient } from "../../fixtures/client.ts"
import { captureLogs, serve } from "../../fixtures/server.ts"
import { cmd, expectReplies } from "./support.ts"

const live = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.provide(Layer.merge(Redis.layer(), captureLogs().layer)))

const redisServer = Effect.map(serve(Redis.handler()), (server) => server.port)

/** The text of one `INFO` reply to `sections` (waits at most 5 s for it). */
const info = (client: TestClient, ...sections: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const before = (yield* client.received).length
    yield* client.write(cmd("info", ...sections))
    for (let i = 0; i < 500; i++) {
      const reply = (yield* client.received).subarray(before).toString("latin1")
      const header = /^\$(\d+)\r\n/.exec(reply)
      if (header !== null && reply.length >= header[0].length + Number(header[1]) + 2) {
        return reply.slice(header[0].length, header[0].length + Number(header[1]))
      }
      yield* Effect.sleep("10 millis")
    }
    return yield* Effect.die(new Error("no INFO reply"))
  })

const headings = (text: string) => text.split("\r\n").filter((line) => line.startsWith("# "))

const field = (text: string, name: string) => new RegExp(`(?:^|\\r\\n)${name}:([^\\r]*)\\r\\n`).exec(text)?.[1]

describe("INFO", () => {
  it.live("sections as Redis selects them: default, all, everything, several names in any case, unknown ones", () =>
    live(Effect.gen(function*() {
      const client = yield* connect(yield* redisServer)
      const defaults = ["# Server", "# Clients", "# Memory", "# Persistence", "# Stats", "# Replication", "# CPU", "# Modules", "# Errorstats", "# Cluster", "# Keyspace"]
      assert.deepStrictEqual(headings(yield* info(client)), defaults)
      assert.deepStrictEqual(headings(yield* info(client, "default")), defaults)
      const all = [...defaults.slice(0, 8), "# Commandstats", ...defaults.slice(8)]
      assert.deepStrictEqual(headings(yield* info(client, "all")), all)
      assert.deepStrictEqual(headings(yield* info(client, "everything")), all)
      assert.deepStrictEqual(headings(yield* info(client, "CPU", "clients", "cpu")), ["# Clients", "# CPU"])
      assert.deepStrictEqual(headings(yield* info(client, "cpu", "default")), defaults)
      assert.deepStrictEqual(headings(yield* info(client, "commandSTATS")), ["# Commandstats"])
      yield* expectReplies(client, cmd("info", "nothing"), "$0\r\n\r\n")
      const server = yield* info(client, "server")
      assert.strictEqual(field(server, "redis_version"), "7.0.15")
      assert.match(field(server, "fiberline_version") ?? "", /^\d+\.\d+\.\d+/)
      assert.strictEqual(field(server, "tcp_port"), `${client.socket.remotePort}`)
      assert.strictEqual(field(server, "process_id"), `${process.pid}`)
      assert.match(field(server, "run_id") ?? "", /^[0-9a-f]{40}$/)
      assert.match(field(yield* info(client, "cpu"), "used_cpu_user") ?? "", /^\d+\.\d{6}$/)
      assert.strictEqual(field(yield* info(client, "replication"), "master_repl_offset"), "0")
    })))

  it.live("counters: connections, commands, calls rejected and failed, errors by code, keys, expiry, pub/sub", () =>
    live(Effect.gen(function*() {
      const port = yield* redisServer
      const client = yield* connect(port)
      const subscriber = yield* connect(port)
      yield* expectReplies(subscriber, cmd("psubscribe", "a*"), "*3\r\n$10\r\npsubscribe\r\n$2\r\na*\r\n:1\r\n")
      yield* expectReplies(
        client,
        cmd("config", "resetstat") + cmd("set", "k", "v") + cmd("get") + cmd("incr", "k") + cmd("nosuch") +
          cmd("set", "t", "1", "px", "1") + cmd("set", "u", "1", "ex", "100"),
        "+OK\r\n+OK\r\n-ERR wrong number of arguments for 'get' command\r\n" +
          "-ERR value is not an integer or out of range\r\n-ERR unknown command 'nosuch', with args beginning with: \r\n" +
          "+OK\r\n+OK\r\n"
      )
      yield* Effect.sleep("5 millis")
      yield* expectReplies(client, cmd("get", "t"), "$-1\r\n")
      const text = yield* info(client, "all")
      assert.strictEqual(field(text, "connected_clients"), "2")
      assert.strictEqual(field(text, "total_connections_received"), "0", "counted before the reset")
      assert.strictEqual(field(text, "total_commands_processed"), "6")
      assert.strictEqual(field(text, "cmdstat_get"), "calls=1,rejected_calls=1,failed_calls=0")
      assert.strictEqual(field(text, "cmdstat_incr"), "calls=1,rejected_calls=0,failed_calls=1")
      assert.strictEqual(field(text, "cmdstat_set"), "calls=3,rejected_calls=0,failed_calls=0")
      assert.strictEqual(field(text, "errorstat_ERR"), "count=3")
      assert.strictEqual(field(text, "total_error_replies"), "3")
      assert.strictEqual(field(text, "expired_keys"), "1")
      assert.strictEqual(field(text, "pubsub_patterns"), "1")
      assert.strictEqual(field(text, "db0"), "keys=2,expires=1,avg_ttl=0")
      assert.strictEqual(field(text, "maxmemory_policy"), "noeviction")
      assert.match(field(text, "used_memory") ?? "", /^[1-9]\d*$/)
    })))
})

describe("FUNCTION and FCALL with no engine and no function", () => {
  it.live("FLUSH and LIST answer as Redis with none; LOAD names the missing engine; the others Redis's errors", () =>
    live(Effect.gen(function*() {
      const client = yield* connect(yield* redisServer)
      yield* expectReplies(
        client,
        cmd("function", "flush") + cmd("function", "flush", "async") + cmd("function", "flush", "SYNC") +
          cmd("function", "flush", "now") + cmd("function", "flush", "sync", "x") +
          cmd("function", "list") + cmd("function", "list", "withcode", "libraryname", "p*") +
          cmd("function", "list", "libraryname") + cmd("function", "list", "withcode", "withcode"),
        "+OK\r\n+OK\r\n+OK\r\n-ERR FUNCTION FLUSH only supports SYNC|ASYNC option\r\n" +
          "-ERR unknown subcommand or wrong number of arguments for 'flush'. Try FUNCTION HELP.\r\n" +
          "*0\r\n*0\r\n-ERR library name argument was not given\r\n-ERR Unknown argument withcode\r\n"
      )
      yield* expectReplies(
        client,
        cmd("function", "load", "#!lua name=mylib\nredis.register_function('f', function() return 1 end)") +
          cmd("function", "load", "replace", "#!js name=x\n") + cmd("function", "load", "again", "#!lua name=x\n") +
          cmd("function", "load", "return 1") + cmd("function", "load", "#!lua name=x") +
          cmd("function", "load", "#!lua\n") + cmd("function", "load", "#!lua name=a name=b\n") +
          cmd("function", "load", "#!lua foo=bar\n") + cmd("function", "load", "#!lua name=a-b\n"),
        "-ERR Engine 'lua' not found\r\n-ERR Engine 'js' not found\r\n-ERR Unknown option given: again\r\n" +
          "-ERR Missing library metadata\r\n-ERR Invalid library metadata\r\n-ERR Library name was not given\r\n" +
          "-ERR Invalid metadata value, name argument was given multiple times\r\n" +
          "-ERR Invalid metadata value given: foo=bar\r\n" +
          "-ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long\r\n"
      )
      yield* expectReplies(
        client,
        cmd("function", "delete", "mylib") + cmd("function", "kill") + cmd("function", "stats") +
          cmd("function", "dump") + cmd("fcall", "f", "0") + cmd("fcall_ro", "f", "1", "k") + cmd("fcall", "f"),
        "-ERR Library not found\r\n-NOTBUSY No scripts in execution right now.\r\n" +
          "*4\r\n$14\r\nrunning_script\r\n$-1\r\n$7\r\nengines\r\n*0\r\n" +
          "-ERR unknown subcommand 'dump'. Try FUNCTION HELP.\r\n-ERR Function not found\r\n-ERR Function not found\r\n" +
          "-ERR wrong number of arguments for 'fcall' command\r\n"
      )
    })))
})

describe("COMMAND, TIME, DEBUG", () => {
  it.live("GETKEYS from the table's key positions, with Redis's errors", () =>
    live(Effect.gen(function*() {
      const client = yield* connect(yield* redisServer)
      yield* expectReplies(
        client,
        cmd("command", "getkeys", "get", "key") + cmd("command", "getkeys", "del", "a", "b", "c") +
          cmd("command", "getkeys", "mset", "k1", "v1", "k2", "v2") + cmd("command", "getkeys", "nosuch", "x") +
          cmd("command", "getkeys", "ping", "x") + cmd("command", "getkeys", "get", "a", "b") +
          cmd("command", "getkeys", "config", "get", "x"),
        "*1\r\n$3\r\nkey\r\n*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n*2\r\n$2\r\nk1\r\n$2\r\nk2\r\n" +
          "-ERR Invalid command specified\r\n-ERR The command has no key arguments\r\n" +
          "-ERR Invalid number of arguments specified for command\r\n-ERR The command has no key arguments\r\n"
      )
    })))

  it.live("MEMORY USAGE is what maxmemory counts for the key (its TTL included); the allocator's subcommands do not exist", () =>
    live(Effect.gen(function*() {
      const client = yield* connect(yield* redisServer)
      yield* expectReplies(
        client,
        cmd("set", "k", "vv") + cmd("memory", "usage", "k") + cmd("pexpire", "k", "100000") +
          cmd("memory", "usage", "k", "samples", "0") + cmd("memory", "usage", "nokey") +
          cmd("memory", "usage", "k", "samples", "-1") + cmd("memory", "usage", "k", "foo") + cmd("memory", "stats") +
          cmd("command", "getkeys", "memory", "usage", "k"),
        // 96 for a key and its string (memory.ts), 1 + 2 bytes, 56 for a TTL.
        "+OK\r\n:99\r\n:1\r\n:155\r\n$-1\r\n-ERR syntax error\r\n-ERR syntax error\r\n" +
          "-ERR unknown subcommand 'stats'. Try MEMORY HELP.\r\n*1\r\n$1\r\nk\r\n"
      )
    })))

  it.live("LIST (filtered by pattern, module, flag-implied ACL category), INFO of subcommands, COUNT", () =>
    live(Effect.gen(function*() {
      const client = yield* connect(yield* redisServer)
      yield* expectReplies(
        client,
        cmd("command", "list", "filterby", "pattern", "config|*re*") + cmd("command", "list", "filterby", "module", "m") +
          cmd("command", "list", "filterby", "aclcat", "nosuch") + cmd("command", "list", "bad") +
          cmd("command", "list", "filterby", "bad", "x") + cmd("command", "list", "filterby", "aclcat", "string") +
          cmd("command", "info", "get|key", "config|get|x"),
        "*2\r\n$16\r\nconfig|resetstat\r\n$14\r\nconfig|rewrite\r\n*0\r\n*0\r\n-ERR syntax error\r\n-ERR syntax error\r\n" +
          "-ERR fiberline's command table does not record ACL category 'string'\r\n*2\r\n$-1\r\n$-1\r\n"
      )
      yield* expectReplies(
        client,
        cmd("command", "info", "client|id"),
        "*1\r\n*10\r\n$9\r\nclient|id\r\n:2\r\n*3\r\n+noscript\r\n+loading\r\n+stale\r\n:0\r\n:0\r\n:0\r\n*0\r\n*0\r\n*0\r\n*0\r\n"
      )
      yield* client.write(cmd("command", "list") + cmd("command", "list", "filterby", "aclcat", "write"))
      const lists = yield* Effect.timeout(client.readUntil("$4\r\nincr\r\n"), Duration.seconds(10))
      assert.include(lists, "$11\r\nclient|list\r\n")
      assert.include(lists, "$3\r\nset\r\n")
    })))

  it.live("TIME is the clock in seconds and microseconds; DEBUG has no subcommand", () =>
    live(Effect.gen(function*() {
      const client = yield* connect(yield* redisServer)
      yield* client.write(cmd("time"))
      const shape = /^\*2\r\n\$\d+\r\n(\d+)\r\n\$\d+\r\n(\d+)\r\n$/
      let time: RegExpExecArray | null = null
      for (let i = 0; i < 500 && time === null; i++) {
        time = shape.exec((yield* client.received).toString("latin1"))
        if (time === null) yield* Effect.sleep("10 millis")
      }
      const [, seconds, micros] = time ?? []
      assert.isAtMost(Math.abs(Number(seconds) - Date.now() / 1000), 5)
      assert.isBelow(Number(micros), 1_000_000)
      yield* expectReplies(
        client,
        cmd("debug", "sleep", "0") + cmd("debug", "help"),
        "-ERR unknown subcommand or wrong number of arguments for 'sleep'. Try DEBUG HELP.\r\n" +
          "*3\r\n+DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+HELP\r\n+    Prints this help.\r\n"
      )
    })))
})
