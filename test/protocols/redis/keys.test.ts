/**
 * The key and TTL commands over a real socket, in exact bytes: each table
 * row's replies are what redis-server 7.0.15 answered to the same requests
 * on an empty keyspace; then what only this server can answer (one
 * database, no access times, cursors that are sequence numbers) and the
 * TTL commands on the TestClock, where expired keys are skipped by SCAN and
 * collected by RANDOMKEY.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { TestClock } from "effect/testing"
import * as Keyspace from "../../../src/handlers/redis/keyspace.ts"
import * as Redis from "../../../src/handlers/redis/Redis.ts"
import { connect } from "../../fixtures/client.ts"
import { captureLogs, serve } from "../../fixtures/server.ts"
import { cmd, exchange } from "./support.ts"

const asRedis: ReadonlyArray<readonly [string, ReadonlyArray<ReadonlyArray<string>>, string]> = [
  [
    "DEL and UNLINK count the keys that existed",
    [["SET","a","1"],["SET","b","2"],["RPUSH","l","x"],["DEL","a","b","c","a"],["UNLINK","l","l"],["DEL"]],
    "+OK\r\n+OK\r\n:1\r\n:2\r\n:1\r\n-ERR wrong number of arguments for 'del' command\r\n"
  ],
  [
    "EXISTS and TOUCH count each key named",
    [["SET","a","1"],["EXISTS","a","a","b"],["TOUCH","a","b","a"],["TOUCH"]],
    "+OK\r\n:2\r\n:2\r\n-ERR wrong number of arguments for 'touch' command\r\n"
  ],
  [
    "TYPE of each type",
    [["SET","s","1"],["RPUSH","l","x"],["SADD","t","x"],["HSET","h","f","v"],["TYPE","s"],["TYPE","l"],["TYPE","t"],["TYPE","h"],["TYPE","none"]],
    "+OK\r\n:1\r\n:1\r\n:1\r\n+string\r\n+list\r\n+set\r\n+hash\r\n+none\r\n"
  ],
  [
    "RENAME and RENAMENX",
    [["RENAME","a","b"],["RENAMENX","a","b"],["SET","a","1"],["SET","b","2"],["RENAME","a","a"],["RENAMENX","a","a"],["RENAMENX","a","b"],["RENAME","a","b"],["GET","b"],["EXISTS","a"],["RENAMENX","b","c"],["GET","c"],["RENAME","a"]],
    "-ERR no such key\r\n-ERR no such key\r\n+OK\r\n+OK\r\n+OK\r\n:0\r\n:0\r\n+OK\r\n$1\r\n1\r\n:0\r\n:1\r\n$1\r\n1\r\n" +
      "-ERR wrong number of arguments for 'rename' command\r\n"
  ],
  [
    "COPY a string, with and without REPLACE",
    [["SET","a","1"],["SET","b","2"],["COPY","a","b"],["COPY","a","b","REPLACE"],["GET","b"],["COPY","a","c","DB","0"],["GET","c"],["COPY","missing","d"],["EXISTS","d"]],
    "+OK\r\n+OK\r\n:0\r\n:1\r\n$1\r\n1\r\n:1\r\n$1\r\n1\r\n:0\r\n:0\r\n"
  ],
  [
    "COPY errors",
    [["SET","a","1"],["COPY","a","a"],["COPY","a","b","DB","x"],["COPY","a","b","DB","99999999999"],["COPY","a","b","FOO"],["COPY","a","b","DB"],["COPY","a"]],
    "+OK\r\n-ERR source and destination objects are the same\r\n" +
      "-ERR value is not an integer or out of range\r\n" +
      "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n" +
      "-ERR syntax error\r\n-ERR syntax error\r\n-ERR wrong number of arguments for 'copy' command\r\n"
  ],
  [
    "COPY of containers is a copy",
    [["RPUSH","l","a","b"],["SADD","s","1","2"],["HSET","h","f","1","g","2"],["COPY","l","l2"],["COPY","s","s2"],["COPY","h","h2"],["RPUSH","l2","c"],["SADD","s2","3"],["HSET","h2","f","9"],["LRANGE","l","0","-1"],["LRANGE","l2","0","-1"],["SCARD","s"],["SCARD","s2"],["HGETALL","h"],["HGETALL","h2"]],
    ":2\r\n:2\r\n:2\r\n:1\r\n:1\r\n:1\r\n:3\r\n:1\r\n:0\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n:2\r\n:3\r\n" +
      "*4\r\n$1\r\nf\r\n$1\r\n1\r\n$1\r\ng\r\n$1\r\n2\r\n*4\r\n$1\r\nf\r\n$1\r\n9\r\n$1\r\ng\r\n$1\r\n2\r\n"
  ],
  [
    "OBJECT ENCODING and COPY of sorted sets",
    [["ZADD","z","1","a"],["ZADD","big","1","yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"],["OBJECT","ENCODING","z"],["OBJECT","ENCODING","big"],["COPY","z","z2"],["ZADD","z2","2","b"],["ZCARD","z"],["ZCARD","z2"],["OBJECT","ENCODING","z2"]],
    ":1\r\n:1\r\n$8\r\nlistpack\r\n$8\r\nskiplist\r\n:1\r\n:1\r\n:1\r\n:2\r\n$8\r\nlistpack\r\n"
  ],
  [
    "RANDOMKEY",
    [["RANDOMKEY"],["SET","only","1"],["RANDOMKEY"],["RANDOMKEY","x"]],
    "$-1\r\n+OK\r\n$4\r\nonly\r\n-ERR wrong number of arguments for 'randomkey' command\r\n"
  ],
  [
    "OBJECT",
    [["SET","i","12345"],["SET","e","hello"],["SET","r","xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"],["RPUSH","l","a"],["SADD","is","1","2"],["SADD","hs","a"],["HSET","h","f","v"],["OBJECT","ENCODING","i"],["OBJECT","ENCODING","e"],["OBJECT","ENCODING","r"],["OBJECT","ENCODING","l"],["OBJECT","ENCODING","is"],["OBJECT","ENCODING","hs"],["OBJECT","ENCODING","h"],["OBJECT","ENCODING","missing"],["OBJECT","FREQ","i"],["OBJECT","FREQ","missing"],["OBJECT","IDLETIME","missing"],["OBJECT","FOO","i"],["OBJECT"],["OBJECT","ENCODING"]],
    "+OK\r\n+OK\r\n+OK\r\n:1\r\n:2\r\n:1\r\n:1\r\n$3\r\nint\r\n$6\r\nembstr\r\n$3\r\nraw\r\n$9\r\nquicklist\r\n$6\r\nintset\r\n" +
      "$9\r\nhashtable\r\n$8\r\nlistpack\r\n$-1\r\n" +
      "-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n" +
      "$-1\r\n$-1\r\n-ERR unknown subcommand 'FOO'. Try OBJECT HELP.\r\n" +
      "-ERR wrong number of arguments for 'object' command\r\n" +
      "-ERR wrong number of arguments for 'object|encoding' command\r\n"
  ],
  [
    "SCAN errors",
    [["SCAN","x"],["SCAN"," 1"],["SCAN","18446744073709551616"],["SCAN","0","COUNT","0"],["SCAN","0","COUNT","x"],["SCAN","0","COUNT"],["SCAN","0","FOO","1"],["SCAN","0","MATCH"]],
    "-ERR invalid cursor\r\n-ERR invalid cursor\r\n-ERR invalid cursor\r\n-ERR syntax error\r\n" +
      "-ERR value is not an integer or out of range\r\n-ERR syntax error\r\n-ERR syntax error\r\n" +
      "-ERR syntax error\r\n"
  ],
]

describe("key commands, as redis-server answers them", () => {
  it.live.each(asRedis)("%s", ([, requests, expected]) =>
    Effect.map(exchange(requests, expected), (received) => assert.strictEqual(received, expected)))
})

// What this server answers on its own terms (the module docs of keys.ts say why).
const own: ReadonlyArray<readonly [string, ReadonlyArray<ReadonlyArray<string>>, string]> = [
  [
    "one database: COPY … DB takes 0 only",
    [["SET", "a", "1"], ["COPY", "a", "b", "DB", "1"], ["COPY", "a", "b", "DB", "-1"], ["EXISTS", "b"]],
    "+OK\r\n-ERR DB index is out of range\r\n-ERR DB index is out of range\r\n:0\r\n"
  ],
  [
    "OBJECT REFCOUNT is 1, IDLETIME 0; HELP lists the subcommands",
    [["SET", "a", "1"], ["OBJECT", "REFCOUNT", "a"], ["OBJECT", "IDLETIME", "a"], ["OBJECT", "HELP"]],
    "+OK\r\n:1\r\n:0\r\n*11\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+ENCODING <key>\r\n" +
      "+    The name of the representation Redis 7.0 would keep the value of <key> in.\r\n+FREQ <key>\r\n" +
      "+    Not tracked here: no LFU eviction policy.\r\n+IDLETIME <key>\r\n" +
      "+    Seconds since <key> was last accessed: always 0, access times are not tracked here.\r\n+REFCOUNT <key>\r\n" +
      "+    References to the value of <key>: always 1, values are not shared here.\r\n+HELP\r\n+    Print this help.\r\n"
  ],
  [
    "SCAN pages in insertion order, the cursor the next key's number; a deleted key does not move the others",
    [["MSET", "a", "1", "b", "2", "c", "3", "d", "4"], ["SCAN", "0", "COUNT", "2"], ["DEL", "a", "b"], ["SCAN", "3", "COUNT", "2"]],
    "+OK\r\n*2\r\n$1\r\n3\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n:2\r\n*2\r\n$1\r\n0\r\n*2\r\n$1\r\nc\r\n$1\r\nd\r\n"
  ],
  [
    "SCAN: MATCH filters after COUNT keys were looked at, so a call may return none with a cursor to go on",
    [["MSET", "a", "1", "b", "2", "xa", "3"], ["SCAN", "0", "COUNT", "2", "MATCH", "x*"], ["SCAN", "3", "COUNT", "2", "MATCH", "x*"]],
    "+OK\r\n*2\r\n$1\r\n3\r\n*0\r\n*2\r\n$1\r\n0\r\n*1\r\n$2\r\nxa\r\n"
  ]
]

describe("key commands, this server's own answers", () => {
  it.live.each(own)("%s", ([, requests, expected]) =>
    Effect.map(exchange(requests, expected), (received) => assert.strictEqual(received, expected)))
})

/** A raw client on a server in the test's scope, for requests whose replies depend on the TestClock. */
const clocked = Effect.gen(function*() {
  const server = yield* serve(Redis.handler())
  const client = yield* connect(server.port)
  let seen = 0
  const ask = (request: ReadonlyArray<string>, expected: string) =>
    Effect.gen(function*() {
      yield* client.write(cmd(...request))
      const received = yield* client.readBytes(seen + expected.length)
      assert.strictEqual(received.subarray(seen).toString("latin1"), expected, request.join(" "))
      seen += expected.length
    })
  return { ask, keyspace: yield* Keyspace.Keyspace }
})

const provided = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provide(effect, Layer.merge(Redis.layer({ sweepInterval: "1 hour" }), captureLogs().layer))

describe("TTL commands (TestClock)", () => {
  it.effect("EXPIREAT, PEXPIREAT, EXPIRETIME, PEXPIRETIME, TTL and PTTL", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_000_000)
      const { ask } = yield* clocked
      yield* ask(["SET", "k", "v"], "+OK\r\n")
      yield* ask(["EXPIRETIME", "k"], ":-1\r\n")
      yield* ask(["PEXPIRETIME", "missing"], ":-2\r\n")
      yield* ask(["EXPIREAT", "k", "1100"], ":1\r\n")
      yield* ask(["EXPIRETIME", "k"], ":1100\r\n")
      yield* ask(["PEXPIRETIME", "k"], ":1100000\r\n")
      yield* ask(["TTL", "k"], ":100\r\n")
      yield* ask(["PEXPIREAT", "k", "1000400"], ":1\r\n")
      yield* ask(["PTTL", "k"], ":400\r\n")
      // Seconds round to nearest, as Redis's (ms + 500) / 1000.
      yield* ask(["EXPIRETIME", "k"], ":1000\r\n")
      yield* ask(["TTL", "k"], ":0\r\n")
      yield* ask(["EXPIREAT", "missing", "2000"], ":0\r\n")
      yield* ask(["EXPIREAT", "k", "x"], "-ERR value is not an integer or out of range\r\n")
      yield* ask(["EXPIREAT", "k", "9223372036854776"], "-ERR invalid expire time in 'expireat' command\r\n")
      yield* ask(["PEXPIREAT", "k", "1", "FOO"], "-ERR Unsupported option FOO\r\n")
      // A time already past deletes the key.
      yield* ask(["EXPIREAT", "k", "999"], ":1\r\n")
      yield* ask(["EXISTS", "k"], ":0\r\n")
      yield* ask(["SET", "k", "v"], "+OK\r\n")
      yield* ask(["PEXPIREAT", "k", "-9223372036854770000"], ":1\r\n")
      yield* ask(["EXISTS", "k"], ":0\r\n")
    }).pipe(provided))

  it.effect("EXPIREAT's NX XX GT LT compare with the current TTL (none counts as forever)", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_000_000)
      const { ask } = yield* clocked
      yield* ask(["SET", "k", "v"], "+OK\r\n")
      yield* ask(["EXPIREAT", "k", "2000", "XX"], ":0\r\n")
      yield* ask(["EXPIREAT", "k", "2000", "GT"], ":0\r\n")
      yield* ask(["EXPIREAT", "k", "2000", "NX"], ":1\r\n")
      yield* ask(["EXPIREAT", "k", "3000", "NX"], ":0\r\n")
      yield* ask(["EXPIREAT", "k", "1500", "GT"], ":0\r\n")
      yield* ask(["EXPIREAT", "k", "3000", "GT"], ":1\r\n")
      yield* ask(["EXPIREAT", "k", "4000", "LT"], ":0\r\n")
      yield* ask(["EXPIREAT", "k", "2500", "LT", "XX"], ":1\r\n")
      yield* ask(["EXPIRETIME", "k"], ":2500\r\n")
      yield* ask(["EXPIREAT", "k", "1", "NX", "GT"], "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n")
      yield* ask(["EXPIREAT", "k", "1", "GT", "LT"], "-ERR GT and LT options at the same time are not compatible\r\n")
    }).pipe(provided))

  it.effect("RENAME moves the TTL and drops the target's; COPY copies it", () =>
    Effect.gen(function*() {
      const { ask } = yield* clocked
      yield* ask(["SET", "a", "1", "PX", "5000"], "+OK\r\n")
      yield* ask(["SET", "b", "2", "PX", "9000"], "+OK\r\n")
      yield* ask(["RENAME", "a", "b"], "+OK\r\n")
      yield* ask(["PTTL", "b"], ":5000\r\n")
      yield* ask(["SET", "c", "3", "PX", "9000"], "+OK\r\n")
      yield* ask(["SET", "d", "4"], "+OK\r\n")
      yield* ask(["RENAME", "d", "c"], "+OK\r\n")
      yield* ask(["PTTL", "c"], ":-1\r\n")
      yield* ask(["COPY", "b", "e"], ":1\r\n")
      yield* ask(["PTTL", "e"], ":5000\r\n")
      yield* ask(["COPY", "c", "e", "REPLACE"], ":1\r\n")
      yield* ask(["PTTL", "e"], ":-1\r\n")
      yield* TestClock.adjust("5001 millis")
      yield* ask(["EXISTS", "b", "c", "e"], ":2\r\n")
    }).pipe(provided))

  it.effect("SCAN skips expired keys and collects them; RANDOMKEY never answers one", () =>
    Effect.gen(function*() {
      const { ask, keyspace } = yield* clocked
      yield* ask(["MSET", "a", "1", "b", "2", "c", "3"], "+OK\r\n")
      yield* ask(["PEXPIRE", "a", "100"], ":1\r\n")
      yield* ask(["PEXPIRE", "c", "100"], ":1\r\n")
      yield* TestClock.adjust("101 millis")
      assert.strictEqual(keyspace.size(), 3, "expired, not yet collected")
      yield* ask(["SCAN", "0"], "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nb\r\n")
      assert.strictEqual(keyspace.size(), 1, "the scan collected them")
      yield* ask(["PEXPIRE", "b", "100"], ":1\r\n")
      yield* ask(["SET", "d", "4"], "+OK\r\n")
      yield* TestClock.adjust("101 millis")
      // Each pick of the expired b collects it: whichever comes first, the answer is d.
      for (let i = 0; i < 5; i++) yield* ask(["RANDOMKEY"], "$1\r\nd\r\n")
    }).pipe(provided))
})
