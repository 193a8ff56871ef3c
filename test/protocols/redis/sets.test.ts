/**
 * The set commands over a real socket: each row's requests, pipelined on one
 * connection to a fresh server, get exactly the bytes Redis 7.0.15 replies
 * with (each expected string below was recorded from that server; where
 * Redis's order is its hash table's, rows read single members or counts).
 * Then the order this server gives where Redis leaves it open.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { cmd } from "./support.ts"
import { exchange, provided, redisServer } from "./tcp.ts"

const table: ReadonlyArray<readonly [string, ReadonlyArray<ReadonlyArray<string>>, string]> = [
  [
    "SADD, SREM, SISMEMBER, SMISMEMBER, SCARD",
    [
      ["sadd", "s", "a", "b", "a"], ["sadd", "s", "b"], ["scard", "s"], ["sismember", "s", "a"],
      ["sismember", "s", "z"], ["smismember", "s", "a", "z", "b"], ["smismember", "nokey", "a", "b"],
      ["srem", "s", "a", "z"], ["smembers", "s"], ["srem", "s", "b"], ["exists", "s"], ["scard", "s"],
      ["smembers", "s"]
    ],
    ":2\r\n:0\r\n:2\r\n:1\r\n:0\r\n*3\r\n:1\r\n:0\r\n:1\r\n*2\r\n:0\r\n:0\r\n:1\r\n*1\r\n$1\r\nb\r\n" +
      ":1\r\n:0\r\n:0\r\n*0\r\n"
  ],
  [
    "SINTER, SUNION, SDIFF: missing keys are empty sets",
    [
      ["sadd", "a", "x", "y", "z"], ["sadd", "b", "y", "z", "w"], ["sadd", "c", "z"],
      ["sinter", "a", "b", "c"], ["sinter", "c", "b", "a"], ["sinter", "a", "nokey"],
      ["sinter", "nokey", "a"], ["sdiff", "a", "b"], ["sdiff", "a", "b", "c"], ["sdiff", "a", "a"],
      ["sdiff", "nokey", "a"], ["sunion", "nokey", "c", "nokey"], ["sinter", "c", "c", "c"]
    ],
    ":3\r\n:3\r\n:1\r\n*1\r\n$1\r\nz\r\n*1\r\n$1\r\nz\r\n*0\r\n*0\r\n*1\r\n$1\r\nx\r\n*1\r\n$1\r\nx\r\n" +
      "*0\r\n*0\r\n*1\r\n$1\r\nz\r\n*1\r\n$1\r\nz\r\n"
  ],
  [
    "SINTERCARD: its arguments, then the count with LIMIT",
    [
      ["sintercard", "1"], ["sintercard", "0", "s"], ["sintercard", "a", "s"], ["sintercard", "-1", "s"],
      ["sintercard", "2", "s"], ["sintercard", "3", "s", "t"], ["sintercard", "1", "s", "t"],
      ["sintercard", "1", "s", "bar"], ["sintercard", "1", "s", "LIMIT"],
      ["sintercard", "1", "s", "LIMIT", "-1"], ["sintercard", "1", "s", "limit", "a"],
      ["sintercard", "9223372036854775808", "s"], ["sadd", "s", "a", "b", "c"], ["sadd", "t", "b", "c", "d"],
      ["sintercard", "2", "s", "t"], ["sintercard", "2", "s", "t", "limit", "1"],
      ["sintercard", "2", "s", "t", "LIMIT", "0"], ["sintercard", "2", "s", "t", "limit", "10"],
      ["sintercard", "2", "s", "t", "limit", "5", "limit", "1"], ["sintercard", "1", "nokey", "limit", "0"],
      ["sintercard", "2", "s", "nokey"]
    ],
    "-ERR wrong number of arguments for 'sintercard' command\r\n" +
      "-ERR numkeys should be greater than 0\r\n-ERR numkeys should be greater than 0\r\n" +
      "-ERR numkeys should be greater than 0\r\n" +
      "-ERR Number of keys can't be greater than number of args\r\n" +
      "-ERR Number of keys can't be greater than number of args\r\n-ERR syntax error\r\n" +
      "-ERR syntax error\r\n-ERR syntax error\r\n-ERR LIMIT can't be negative\r\n" +
      "-ERR LIMIT can't be negative\r\n-ERR numkeys should be greater than 0\r\n:3\r\n:3\r\n:2\r\n:1\r\n" +
      ":2\r\n:2\r\n:1\r\n:0\r\n:0\r\n"
  ],
  [
    "the STORE forms replace a key of another type, and its TTL",
    [
      ["sadd", "a", "1", "2"], ["sadd", "b", "2", "3"], ["set", "d1", "x"], ["expire", "d1", "100"],
      ["sunionstore", "d1", "a", "b"], ["type", "d1"], ["ttl", "d1"], ["scard", "d1"], ["rpush", "d2", "x"],
      ["sinterstore", "d2", "a", "b"], ["type", "d2"], ["smembers", "d2"], ["hset", "d3", "f", "v"],
      ["sdiffstore", "d3", "a", "b"], ["type", "d3"], ["smembers", "d3"], ["sdiffstore", "a", "a", "b"],
      ["smembers", "a"]
    ],
    ":2\r\n:2\r\n+OK\r\n:1\r\n:3\r\n+set\r\n:-1\r\n:3\r\n:1\r\n:1\r\n+set\r\n*1\r\n$1\r\n2\r\n:1\r\n" +
      ":1\r\n+set\r\n*1\r\n$1\r\n1\r\n:1\r\n*1\r\n$1\r\n1\r\n"
  ],
  [
    "an empty result deletes the destination, whatever it held",
    [
      ["sadd", "a", "1"], ["set", "d1", "x"], ["sinterstore", "d1", "a", "nokey"], ["exists", "d1"],
      ["rpush", "d2", "x"], ["sdiffstore", "d2", "a", "a"], ["exists", "d2"], ["hset", "d3", "f", "v"],
      ["sunionstore", "d3", "nokey"], ["exists", "d3"], ["sunionstore", "d4", "nokey"], ["exists", "d4"]
    ],
    ":1\r\n+OK\r\n:0\r\n:0\r\n:1\r\n:0\r\n:0\r\n:1\r\n:0\r\n:0\r\n:0\r\n:0\r\n"
  ],
  [
    "SMOVE",
    [
      ["sadd", "a", "x", "y"], ["sadd", "b", "z"], ["smove", "a", "b", "x"], ["smembers", "a"],
      ["sismember", "b", "x"], ["smove", "a", "b", "nope"], ["smove", "nokey", "b", "x"],
      ["smove", "a", "a", "y"], ["smove", "a", "a", "nope"], ["smove", "a", "c", "y"], ["exists", "a"],
      ["smembers", "c"], ["set", "str", "v"], ["smove", "str", "b", "z"], ["smove", "b", "str", "z"],
      ["smove", "nokey", "str", "z"], ["sadd", "p", "q"], ["sadd", "r", "q"], ["smove", "p", "r", "q"],
      ["exists", "p"], ["smembers", "r"]
    ],
    ":2\r\n:1\r\n:1\r\n*1\r\n$1\r\ny\r\n:1\r\n:0\r\n:0\r\n:1\r\n:0\r\n:1\r\n:0\r\n*1\r\n$1\r\ny\r\n" +
      "+OK\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n:0\r\n:1\r\n:1\r\n:1\r\n" +
      ":0\r\n*1\r\n$1\r\nq\r\n"
  ],
  [
    "SPOP and SRANDMEMBER: counts, missing keys, the last member",
    [
      ["sadd", "s", "a"], ["spop", "s", "-1"], ["spop", "s", "x"], ["spop", "s", "1", "2"],
      ["spop", "s", "0"], ["spop", "nokey", "5"], ["spop", "nokey"],
      ["srandmember", "s", "-9223372036854775808"], ["srandmember", "s", "x"],
      ["srandmember", "s", "1", "2"], ["srandmember", "s", "0"], ["srandmember", "nokey", "100"],
      ["srandmember", "nokey"], ["srandmember", "s"], ["srandmember", "s", "5"], ["srandmember", "s", "-3"],
      ["spop", "s", "5"], ["exists", "s"], ["sadd", "s", "b"], ["spop", "s"], ["spop", "s"]
    ],
    ":1\r\n-ERR value is out of range, must be positive\r\n" +
      "-ERR value is out of range, must be positive\r\n-ERR syntax error\r\n*0\r\n*0\r\n$-1\r\n" +
      "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n" +
      "-ERR value is not an integer or out of range\r\n-ERR syntax error\r\n*0\r\n*0\r\n$-1\r\n$1\r\n" +
      "a\r\n*1\r\n$1\r\na\r\n*3\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n*1\r\n$1\r\na\r\n:0\r\n:1\r\n$1\r\n" +
      "b\r\n$-1\r\n"
  ],
  [
    "every set command against another type",
    [
      ["set", "k", "x"], ["sadd", "s", "a"], ["sadd", "k", "a"], ["srem", "k", "a"], ["smembers", "k"],
      ["sismember", "k", "a"], ["smismember", "k", "a"], ["scard", "k"], ["spop", "k"], ["spop", "k", "1"],
      ["srandmember", "k"], ["srandmember", "k", "0"], ["sinter", "s", "k"], ["sinter", "nokey", "k"],
      ["sintercard", "2", "k", "nokey"], ["sunion", "nokey", "k"], ["sdiff", "s", "k"], ["sdiff", "k", "s"],
      ["sinterstore", "d", "nokey", "k"], ["sunionstore", "d", "k"], ["sdiffstore", "d", "s", "k"],
      ["exists", "d"], ["get", "k"]
    ],
    "+OK\r\n:1\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n:0\r\n$1\r\nx\r\n"
  ],
  [
    "arity",
    [
      ["sadd", "s"], ["srem", "s"], ["smembers"], ["sismember", "s"], ["smismember", "s"], ["scard"],
      ["smove", "a", "b"], ["spop"], ["srandmember"], ["sinter"], ["sintercard"], ["sunion"], ["sdiff"],
      ["sinterstore", "d"], ["sunionstore", "d"], ["sdiffstore", "d"]
    ],
    "-ERR wrong number of arguments for 'sadd' command\r\n" +
      "-ERR wrong number of arguments for 'srem' command\r\n" +
      "-ERR wrong number of arguments for 'smembers' command\r\n" +
      "-ERR wrong number of arguments for 'sismember' command\r\n" +
      "-ERR wrong number of arguments for 'smismember' command\r\n" +
      "-ERR wrong number of arguments for 'scard' command\r\n" +
      "-ERR wrong number of arguments for 'smove' command\r\n" +
      "-ERR wrong number of arguments for 'spop' command\r\n" +
      "-ERR wrong number of arguments for 'srandmember' command\r\n" +
      "-ERR wrong number of arguments for 'sinter' command\r\n" +
      "-ERR wrong number of arguments for 'sintercard' command\r\n" +
      "-ERR wrong number of arguments for 'sunion' command\r\n" +
      "-ERR wrong number of arguments for 'sdiff' command\r\n" +
      "-ERR wrong number of arguments for 'sinterstore' command\r\n" +
      "-ERR wrong number of arguments for 'sunionstore' command\r\n" +
      "-ERR wrong number of arguments for 'sdiffstore' command\r\n"
  ]
]

describe("set commands over TCP, byte for byte as Redis 7.0.15", () => {
  it.live.each(table)("%s", ([, requests, expected]) =>
    provided(Effect.gen(function*() {
      const { port } = yield* redisServer()
      assert.strictEqual(yield* exchange(port, requests.map((request) => cmd(...request)).join(""), expected.length), expected)
    })))
})

describe("set order where Redis leaves it to its hash table", () => {
  it.live("an intersection in the smallest set's order, a difference in the first's, a union set by set", () =>
    provided(Effect.gen(function*() {
      const { port } = yield* redisServer()
      const input = cmd("sadd", "big", "e", "d", "c", "b", "a") + cmd("sadd", "small", "b", "x", "d", "a") +
        cmd("sinter", "big", "small") + cmd("sdiff", "big", "small") + cmd("sunion", "small", "big")
      const expected = ":5\r\n:4\r\n*3\r\n$1\r\nb\r\n$1\r\nd\r\n$1\r\na\r\n*2\r\n$1\r\ne\r\n$1\r\nc\r\n" +
        "*6\r\n$1\r\nb\r\n$1\r\nx\r\n$1\r\nd\r\n$1\r\na\r\n$1\r\ne\r\n$1\r\nc\r\n"
      assert.strictEqual(yield* exchange(port, input, expected.length), expected)
    })))
})
