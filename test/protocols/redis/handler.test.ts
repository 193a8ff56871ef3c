/**
 * The Redis handler over in-memory connections (`TestConnection`): exact
 * request bytes to exact reply bytes for each command family — the expected
 * replies are what Redis 7 answers to the same bytes — then the
 * connection-level rules (QUIT, protocol errors after pipelined requests,
 * transactions), and the property that any chunking of a pipeline gives the
 * same replies.
 */
import { Buffer } from "node:buffer"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Redis from "../../../src/handlers/redis/Redis.ts"
import * as TestConnection from "../../../src/testing/TestConnection.ts"
import { split } from "../../fixtures/chunks.ts"
import { cmd } from "./support.ts"

/** Runs one connection over `chunks` against a fresh keyspace; returns its output as latin1 and how it closed. */
const converse = (chunks: ReadonlyArray<string | Uint8Array>, options?: Redis.RedisOptions) =>
  Effect.gen(function*() {
    const input = chunks.map((chunk) => typeof chunk === "string" ? Buffer.from(chunk, "latin1") : chunk)
    const result = yield* TestConnection.run(Redis.handler(options), input).pipe(Effect.provide(Redis.layer()))
    return { output: Buffer.from(result.outputBytes).toString("latin1"), closed: result.closed, exit: result.exit }
  })

const replies = (chunks: ReadonlyArray<string>) => Effect.map(converse(chunks), ({ output }) => output)

describe("Redis commands (replies as Redis 7 gives them)", () => {
  const table: ReadonlyArray<readonly [string, string, string]> = [
    ["ping, inline and multibulk", "PING\r\nPING hello\r\n" + cmd("ping", "a", "b"), "+PONG\r\n$5\r\nhello\r\n-ERR wrong number of arguments for 'ping' command\r\n"],
    ["inline quoting", "SET \"a b\" 'c d'\r\nGET \"a b\"\r\nECHO \"x\\x41\\n\"\r\n", "+OK\r\n$3\r\nc d\r\n$3\r\nxA\n\r\n"],
    ["empty requests get no reply", "\r\n*0\r\n*-1\r\nPING\r\n", "+PONG\r\n"],
    [
      "unknown command, quoting its first arguments",
      cmd("foo", "a", "b") + cmd("foo") + cmd("foo", "a".repeat(100), "b".repeat(100), "c"),
      "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n" +
      "-ERR unknown command 'foo', with args beginning with: \r\n" +
      `-ERR unknown command 'foo', with args beginning with: '${"a".repeat(100)}' '${"b".repeat(25)}' \r\n`
    ],
    [
      "arity and subcommands",
      cmd("get") + cmd("GeT", "x") + cmd("client") + cmd("client", "foo") + cmd("client", "setname"),
      "-ERR wrong number of arguments for 'get' command\r\n$-1\r\n-ERR wrong number of arguments for 'client' command\r\n" +
      "-ERR unknown subcommand 'foo'. Try CLIENT HELP.\r\n-ERR wrong number of arguments for 'client|setname' command\r\n"
    ],
    [
      "SET options",
      cmd("set", "k", "v", "nx", "xx") + cmd("set", "k", "v", "ex", "0") + cmd("set", "k", "v", "ex", "abc") +
      cmd("set", "k", "v", "px", "10", "ex", "1") + cmd("set", "k", "v", "ex") + cmd("set", "k", "v", "get") +
      cmd("set", "k", "w", "get") + cmd("set", "k", "x", "nx", "get") + cmd("set", "n", "x", "xx") + cmd("set", "k", "y", "xx"),
      "-ERR syntax error\r\n-ERR invalid expire time in 'set' command\r\n-ERR value is not an integer or out of range\r\n" +
      "-ERR syntax error\r\n-ERR syntax error\r\n$-1\r\n$1\r\nv\r\n$1\r\nw\r\n$-1\r\n+OK\r\n"
    ],
    [
      "integers",
      cmd("set", "k", "1") + cmd("incr", "k") + cmd("incrby", "k", "10") + cmd("decrby", "k", "-9223372036854775808") +
      cmd("decr", "k") + cmd("incrby", "k", "9223372036854775807") + cmd("incrby", "k", "1.5") + cmd("incrby", "k", "+1") +
      cmd("incrby", "k", "-0"),
      "+OK\r\n:2\r\n:12\r\n-ERR decrement would overflow\r\n:11\r\n-ERR increment or decrement would overflow\r\n" +
      "-ERR value is not an integer or out of range\r\n-ERR value is not an integer or out of range\r\n" +
      "-ERR value is not an integer or out of range\r\n"
    ],
    [
      "strings and wrong types",
      cmd("set", "k", "abc") + cmd("incr", "k") + cmd("lpush", "k", "x") + cmd("append", "k", "def") + cmd("strlen", "k") +
      cmd("getdel", "k") + cmd("getdel", "k") + cmd("mset", "a", "1", "b") + cmd("mset", "a", "1", "b", "2") +
      cmd("mget", "a", "b", "c") + cmd("setnx", "a", "x") + cmd("setnx", "z", "x") + cmd("exists", "a", "a", "q") +
      cmd("del", "a", "b", "q"),
      "+OK\r\n-ERR value is not an integer or out of range\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      ":6\r\n:6\r\n$6\r\nabcdef\r\n$-1\r\n-ERR wrong number of arguments for 'mset' command\r\n+OK\r\n" +
      "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n:0\r\n:1\r\n:2\r\n:2\r\n"
    ],
    [
      "string commands on another type",
      cmd("lpush", "l", "x") + cmd("get", "l") + cmd("append", "l", "x") + cmd("incr", "l") + cmd("mget", "l", "z"),
      ":1\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n*2\r\n$-1\r\n$-1\r\n"
    ],
    [
      "lists",
      cmd("rpush", "l", "a", "b", "c", "d") + cmd("lrange", "l", "0", "-1") + cmd("lrange", "l", "-100", "100") +
      cmd("lrange", "l", "2", "1") + cmd("lrange", "l", "x", "1") + cmd("lindex", "l", "-1") + cmd("lindex", "l", "9") +
      cmd("lindex", "q", "x") + cmd("lindex", "l", "x") + cmd("lpop", "l", "2") + cmd("rpop", "l", "0") + cmd("rpop", "l") +
      cmd("rpop", "l") + cmd("lpop", "l", "1") + cmd("lpop", "l") + cmd("lpop", "l", "-1") + cmd("lpop", "l", "1", "2") +
      cmd("llen", "l"),
      ":4\r\n*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n*0\r\n" +
      "-ERR value is not an integer or out of range\r\n$1\r\nd\r\n$-1\r\n$-1\r\n-ERR value is not an integer or out of range\r\n" +
      "*2\r\n$1\r\na\r\n$1\r\nb\r\n*0\r\n$1\r\nd\r\n$1\r\nc\r\n*-1\r\n$-1\r\n-ERR value is out of range, must be positive\r\n" +
      "-ERR wrong number of arguments for 'lpop' command\r\n:0\r\n"
    ],
    [
      "sets",
      cmd("sadd", "s", "a", "b", "a") + cmd("scard", "s") + cmd("sismember", "s", "a") + cmd("srem", "s", "a", "z") +
      cmd("smembers", "s") + cmd("spop", "s") + cmd("spop", "s") + cmd("spop", "s", "3") + cmd("spop", "s", "1", "2") +
      cmd("type", "s"),
      ":2\r\n:2\r\n:1\r\n:1\r\n*1\r\n$1\r\nb\r\n$1\r\nb\r\n$-1\r\n*0\r\n-ERR syntax error\r\n+none\r\n"
    ],
    [
      "hashes",
      cmd("hset", "h", "f", "1", "g", "2") + cmd("hset", "h", "f", "3") + cmd("hset", "h", "f") + cmd("hget", "h", "f") +
      cmd("hlen", "h") + cmd("hincrby", "h", "f", "5") + cmd("hset", "h", "t", "x") + cmd("hincrby", "h", "t", "1") +
      cmd("hincrby", "h", "f", "9223372036854775807") + cmd("hgetall", "h") + cmd("hdel", "h", "f", "g", "t", "u") +
      cmd("type", "h"),
      ":2\r\n:0\r\n-ERR wrong number of arguments for 'hset' command\r\n$1\r\n3\r\n:2\r\n:8\r\n:1\r\n" +
      "-ERR hash value is not an integer\r\n-ERR increment or decrement would overflow\r\n" +
      "*6\r\n$1\r\nf\r\n$1\r\n8\r\n$1\r\ng\r\n$1\r\n2\r\n$1\r\nt\r\n$1\r\nx\r\n:3\r\n+none\r\n"
    ],
    [
      "expiry commands",
      cmd("set", "k", "v") + cmd("expire", "k", "100") + cmd("ttl", "k") + cmd("pttl", "q") + cmd("persist", "k") +
      cmd("ttl", "k") + cmd("expire", "k", "10", "nx") + cmd("expire", "k", "10", "nx") + cmd("expire", "k", "5", "gt") +
      cmd("expire", "k", "20", "gt") + cmd("expire", "k", "1", "xx", "lt") + cmd("expire", "k", "1", "nx", "xx") +
      cmd("expire", "k", "1", "gt", "lt") + cmd("expire", "k", "1", "foo") + cmd("expire", "k", "9223372036854775807") +
      cmd("expire", "k", "-1") + cmd("exists", "k") + cmd("set", "g", "v") + cmd("expire", "g", "10", "gt") +
      cmd("expire", "g", "10", "lt") + cmd("ttl", "g"),
      "+OK\r\n:1\r\n:100\r\n:-2\r\n:1\r\n:-1\r\n:1\r\n:0\r\n:0\r\n:1\r\n:1\r\n" +
      "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n" +
      "-ERR GT and LT options at the same time are not compatible\r\n-ERR Unsupported option foo\r\n" +
      "-ERR invalid expire time in 'expire' command\r\n:1\r\n:0\r\n+OK\r\n:0\r\n:1\r\n:10\r\n"
    ],
    [
      "keys and type",
      cmd("mset", "hello", "1", "hallo", "2", "hxllo", "3", "h[a]llo", "6") + cmd("keys", "h[ae]llo") +
      cmd("keys", "h\\[a\\]llo") + cmd("type", "hello") + cmd("lpush", "l", "1") + cmd("type", "l") + cmd("dbsize") +
      cmd("flushdb", "x") + cmd("flushall", "async") + cmd("dbsize"),
      "+OK\r\n*2\r\n$5\r\nhello\r\n$5\r\nhallo\r\n*1\r\n$7\r\nh[a]llo\r\n+string\r\n:1\r\n+list\r\n:5\r\n" +
      "-ERR syntax error\r\n+OK\r\n:0\r\n"
    ],
    [
      "transactions",
      cmd("multi") + cmd("set", "a", "1") + cmd("incr", "a") + cmd("lpush", "a", "x") + cmd("exec") +
      cmd("multi") + cmd("set", "a", "1") + cmd("foo") + cmd("exec") +
      cmd("multi") + cmd("multi") + cmd("exec", "x") + cmd("exec") + cmd("discard") +
      cmd("multi") + cmd("blpop", "q", "0") + cmd("exec"),
      "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n+OK\r\n:2\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "+OK\r\n+QUEUED\r\n-ERR unknown command 'foo', with args beginning with: \r\n" +
      "-EXECABORT Transaction discarded because of previous errors.\r\n" +
      "+OK\r\n-ERR MULTI calls can not be nested\r\n" +
      "-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n" +
      "-ERR EXEC without MULTI\r\n-ERR DISCARD without MULTI\r\n" +
      "+OK\r\n+QUEUED\r\n*1\r\n*-1\r\n"
    ],
    [
      "subscriber mode",
      cmd("subscribe", "a", "b") + cmd("get", "x") + cmd("ping") + cmd("ping", "m") + cmd("unsubscribe") + cmd("ping"),
      "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n" +
      "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n" +
      "*2\r\n$4\r\npong\r\n$0\r\n\r\n*2\r\n$4\r\npong\r\n$1\r\nm\r\n" +
      "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n+PONG\r\n"
    ],
    [
      "unsubscribing from nothing, patterns, RESET",
      cmd("unsubscribe") + cmd("psubscribe", "a*") + cmd("subscribe", "a") + cmd("unsubscribe", "zz") + cmd("punsubscribe") +
      cmd("publish", "a", "m") + cmd("reset") + cmd("get", "x"),
      "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n*3\r\n$10\r\npsubscribe\r\n$2\r\na*\r\n:1\r\n" +
      "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:2\r\n*3\r\n$11\r\nunsubscribe\r\n$2\r\nzz\r\n:2\r\n" +
      "*3\r\n$12\r\npunsubscribe\r\n$2\r\na*\r\n:1\r\n" +
      "-ERR Can't execute 'publish': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n" +
      "+RESET\r\n$-1\r\n"
    ],
    [
      "connection commands",
      cmd("select", "0") + cmd("select", "1") + cmd("select", "99999999999") + cmd("echo", "hi") +
      cmd("client", "setname", "a b") + cmd("client", "setname", "ab") + cmd("client", "getname") + cmd("client", "setname", "") +
      cmd("client", "getname") + cmd("client", "setinfo", "lib-name", "x y") + cmd("client", "setinfo", "foo", "x") +
      cmd("client", "setinfo", "LIB-VER", "1") + cmd("config", "get", "save") + cmd("config", "get", "appendonly"),
      "+OK\r\n-ERR DB index is out of range\r\n-ERR value is out of range, value must between -2147483648 and 2147483647\r\n" +
      "$2\r\nhi\r\n-ERR Client names cannot contain spaces, newlines or special characters.\r\n+OK\r\n$2\r\nab\r\n+OK\r\n$-1\r\n" +
      "-ERR lib-name cannot contain spaces, newlines or special characters.\r\n-ERR Unrecognized option 'foo'\r\n+OK\r\n" +
      "*2\r\n$4\r\nsave\r\n$0\r\n\r\n*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n"
    ],
    [
      "HELLO: RESP2 only",
      cmd("hello", "3") + cmd("hello", "x") + cmd("hello", "2", "foo") + cmd("hello", "2", "auth", "bob", "pw") +
      cmd("hello", "2", "setname", "n") + cmd("client", "getname"),
      "-NOPROTO unsupported protocol version\r\n-ERR Protocol version is not an integer or out of range\r\n" +
      "-ERR Syntax error in HELLO option 'foo'\r\n-WRONGPASS invalid username-password pair or user is disabled.\r\n" +
      "*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:2\r\n$2\r\nid\r\n" +
      "ID\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n$1\r\nn\r\n"
    ],
    [
      "blocking pops that need not block, and their errors",
      cmd("blpop", "q", "x") + cmd("blpop", "q", "-1") + cmd("blpop", "q", "inf") + cmd("set", "k", "v") + cmd("blpop", "k", "0") +
      cmd("rpush", "q2", "v", "w") + cmd("blpop", "q", "q2", "0") + cmd("brpop", "q2", "0"),
      "-ERR timeout is not a float or out of range\r\n-ERR timeout is negative\r\n-ERR timeout is out of range\r\n+OK\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n:2\r\n*2\r\n$2\r\nq2\r\n$1\r\nv\r\n" +
      "*2\r\n$2\r\nq2\r\n$1\r\nw\r\n"
    ],
    [
      "binary keys and values",
      cmd("set", "\x00\xff\r\n", "\x01\x02\r\n") + cmd("get", "\x00\xff\r\n") + cmd("keys", "*"),
      "+OK\r\n$4\r\n\x01\x02\r\n\r\n*1\r\n$4\r\n\x00\xff\r\n\r\n"
    ]
  ]
  it.effect.each(table)("%s", ([, input, expected]) =>
    Effect.gen(function*() {
      const { output } = yield* converse([input])
      // The connection id varies; everything else is exact.
      assert.strictEqual(output.replace(/:\d+\r\n\$4\r\nmode/, "ID\r\n$4\r\nmode"), expected)
    }))
})

describe("Redis connection rules", () => {
  it.effect("QUIT: +OK, then the connection closes and requests pipelined after it are dropped", () =>
    Effect.gen(function*() {
      const { output, closed } = yield* converse(["PING\r\nQUIT\r\nSET a b\r\nPING\r\n"])
      assert.strictEqual(output, "+PONG\r\n+OK\r\n")
      assert.strictEqual(closed, "ended")
    }))

  it.effect("a protocol error is answered after every request before it, then the connection closes", () =>
    Effect.gen(function*() {
      const { output, closed, exit } = yield* converse([`${cmd("set", "a", "1")}PING\r\n${cmd("get", "a")}*1\r\n$x\r\nPING\r\n`])
      assert.strictEqual(output, "+OK\r\n+PONG\r\n$1\r\n1\r\n-ERR Protocol error: invalid bulk length\r\n")
      assert.strictEqual(closed, "ended")
      assert.strictEqual(exit._tag, "Success")
    }))

  it.effect("the input ending inside a request ends the connection quietly, running nothing", () =>
    Effect.gen(function*() {
      const { output, exit } = yield* converse([`${cmd("set", "a", "1")}*2\r\n$3\r\nGET\r\n$1\r\n`])
      assert.strictEqual(output, "+OK\r\n")
      assert.strictEqual(exit._tag, "Success")
    }))

  it.effect("a bulk longer than protoMaxBulkLen is a protocol error", () =>
    Effect.gen(function*() {
      const { output } = yield* converse([cmd("set", "a", "x".repeat(11))], { protoMaxBulkLen: 10 })
      assert.strictEqual(output, "-ERR Protocol error: invalid bulk length\r\n")
    }))

  it.effect("APPEND past protoMaxBulkLen is refused", () =>
    Effect.gen(function*() {
      const { output } = yield* converse([cmd("set", "a", "x".repeat(6)) + cmd("append", "a", "y".repeat(5))], {
        protoMaxBulkLen: 10
      })
      assert.strictEqual(output, "+OK\r\n-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n")
    }))

  it.effect("INFO has the server section with redis_version, and loading:0", () =>
    Effect.gen(function*() {
      const output = yield* replies([cmd("info"), cmd("info", "persistence"), cmd("info", "nothing")])
      assert.match(output, /^\$\d+\r\n# Server\r\nredis_version:7\.0\.15\r\nfiberline_version:\d+\.\d+\.\d+\S*\r\n/)
      assert.include(output, "\r\n# Persistence\r\nloading:0\r\n")
      const persistence = "# Persistence\r\nloading:0\r\nasync_loading:0\r\nrdb_bgsave_in_progress:0\r\naof_enabled:0\r\n" +
        "aof_rewrite_in_progress:0\r\n"
      assert.include(output, `$${persistence.length}\r\n${persistence}\r\n$0\r\n\r\n`)
    }))

  it.effect("COMMAND describes the commands: count, info, docs", () =>
    Effect.gen(function*() {
      const output = yield* replies([cmd("command", "count") + cmd("command", "info", "get", "nope") + cmd("command", "docs", "get")])
      assert.match(output, /^:\d+\r\n/)
      assert.include(
        output,
        "*2\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*0\r\n*0\r\n*0\r\n*0\r\n$-1\r\n"
      )
      assert.isTrue(output.endsWith("*2\r\n$3\r\nget\r\n*0\r\n"))
    }))
})

describe("Redis framing through the handler", () => {
  // Commands whose replies do not depend on time or randomness, with binary payloads.
  const Value = Schema.Literals(["v", "", "a b", "\r\n", "\x00\xff", "12", "-3", "x\ry\nz"])
  const Key = Schema.Literals(["k", "l", "\x00", "k\r\n"])
  const Command = Schema.Union([
    Schema.Tuple([Schema.Literal("set"), Key, Value]),
    Schema.Tuple([Schema.Literal("get"), Key]),
    Schema.Tuple([Schema.Literal("append"), Key, Value]),
    Schema.Tuple([Schema.Literal("incr"), Key]),
    Schema.Tuple([Schema.Literal("rpush"), Key, Value]),
    Schema.Tuple([Schema.Literal("lrange"), Key, Schema.Literal("0"), Schema.Literal("-1")]),
    Schema.Tuple([Schema.Literal("echo"), Value]),
    Schema.Tuple([Schema.Literal("del"), Key]),
    Schema.Tuple([Schema.Literal("multi")]),
    Schema.Tuple([Schema.Literal("exec")]),
    Schema.Tuple([Schema.Literal("ping")])
  ])
  const Request = Schema.Struct({ inline: Schema.Boolean, command: Command })
  const Cuts = Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 600 })))

  it.effect.prop(
    "any chunking of a pipeline gives the same replies",
    [Schema.Array(Request), Cuts],
    ([requests, cuts]) =>
      Effect.gen(function*() {
        // Inline requests only where the arguments need no quoting.
        const input = Buffer.from(
          requests.map(({ command, inline }) =>
            inline && command.every((arg) => /^[a-z0-9-]+$/.test(arg)) ? `${command.join(" ")}\r\n` : cmd(...command)
          ).join(""),
          "latin1"
        )
        const whole = yield* converse([input])
        const chunked = yield* converse(split(input, cuts))
        assert.strictEqual(chunked.output, whole.output)
        assert.strictEqual(whole.output.split("\r\n").length > requests.length, true, "every request was answered")
      }),
    { arbitrary: { runs: 50 } }
  )
})
