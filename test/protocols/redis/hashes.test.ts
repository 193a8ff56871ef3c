/**
 * The hash commands over a real socket: each row's requests, pipelined on one
 * connection to a fresh server, get exactly the bytes Redis 7.0.15 replies
 * with (each expected string below was recorded from that server).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { cmd } from "./support.ts"
import { exchange, provided, redisServer } from "./tcp.ts"

const table: ReadonlyArray<readonly [string, ReadonlyArray<ReadonlyArray<string>>, string]> = [
  [
    "HSET, HMSET, HSETNX and the reads",
    [
      ["hset", "h", "a", "1", "b", "2"], ["hset", "h", "a", "3"], ["hmset", "h", "c", "4"],
      ["hsetnx", "h", "a", "9"], ["hsetnx", "h", "n", ""], ["hget", "h", "a"], ["hget", "h", "zz"],
      ["hmget", "h", "a", "zz", "n"], ["hmget", "nokey", "a", "b"], ["hlen", "h"], ["hstrlen", "h", "a"],
      ["hstrlen", "h", "zz"], ["hexists", "h", "a"], ["hexists", "h", "zz"], ["hkeys", "h"], ["hvals", "h"],
      ["hgetall", "h"]
    ],
    ":2\r\n:0\r\n+OK\r\n:0\r\n:1\r\n$1\r\n3\r\n$-1\r\n*3\r\n$1\r\n3\r\n$-1\r\n$0\r\n\r\n*2\r\n$-1\r\n" +
      "$-1\r\n:4\r\n:1\r\n:0\r\n:1\r\n:0\r\n*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nn\r\n*4\r\n" +
      "$1\r\n3\r\n$1\r\n2\r\n$1\r\n4\r\n$0\r\n\r\n*8\r\n$1\r\na\r\n$1\r\n3\r\n$1\r\nb\r\n$1\r\n2\r\n" +
      "$1\r\nc\r\n$1\r\n4\r\n$1\r\nn\r\n$0\r\n\r\n"
  ],
  [
    "a missing key is an empty hash",
    [
      ["hkeys", "nokey"], ["hvals", "nokey"], ["hgetall", "nokey"], ["hlen", "nokey"],
      ["hstrlen", "nokey", "a"], ["hexists", "nokey", "a"], ["hget", "nokey", "a"], ["hdel", "nokey", "a"],
      ["hrandfield", "nokey"], ["hrandfield", "nokey", "3"], ["hrandfield", "nokey", "-3", "withvalues"],
      ["exists", "nokey"]
    ],
    "*0\r\n*0\r\n*0\r\n:0\r\n:0\r\n:0\r\n$-1\r\n:0\r\n$-1\r\n*0\r\n*0\r\n:0\r\n"
  ],
  [
    "HDEL of several fields, then of the last: the key goes",
    [
      ["hset", "h", "a", "1", "b", "2", "c", "3"], ["hdel", "h", "a", "zz", "a", "b"], ["hgetall", "h"],
      ["hdel", "h", "c", "d"], ["exists", "h"]
    ],
    ":3\r\n:2\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n:1\r\n:0\r\n"
  ],
  [
    "HINCRBY",
    [
      ["hincrby", "h", "f", "5"], ["hincrby", "h", "f", "-10"],
      ["hset", "h", "s", " 11", "t", "11 ", "o", "01"], ["hincrby", "h", "s", "1"],
      ["hincrby", "h", "t", "1"], ["hincrby", "h", "o", "1"], ["hincrby", "h", "f", "x"],
      ["hincrby", "h", "f", "1.5"],
      ["hset", "h", "big", "9223372036854775807", "small", "-9223372036854775808"],
      ["hincrby", "h", "big", "1"], ["hincrby", "h", "small", "-1"],
      ["hincrby", "h", "small", "9223372036854775807"], ["hincrby", "nokey", "f", "x"], ["exists", "nokey"]
    ],
    ":5\r\n:-5\r\n:3\r\n-ERR hash value is not an integer\r\n-ERR hash value is not an integer\r\n" +
      "-ERR hash value is not an integer\r\n-ERR value is not an integer or out of range\r\n" +
      "-ERR value is not an integer or out of range\r\n:2\r\n" +
      "-ERR increment or decrement would overflow\r\n-ERR increment or decrement would overflow\r\n" +
      ":-1\r\n-ERR value is not an integer or out of range\r\n:0\r\n"
  ],
  [
    "HINCRBYFLOAT: long double sums, Redis's format and errors",
    [
      ["hincrbyfloat", "h", "f", "0.1"], ["hincrbyfloat", "h", "f", "0.2"],
      ["hincrbyfloat", "h", "f", "1e3"], ["hincrbyfloat", "h", "g", "0x10"],
      ["hincrbyfloat", "h", "g", "-16"], ["hincrbyfloat", "h", "f", "+inf"],
      ["hincrbyfloat", "h", "f", "abc"], ["hincrbyfloat", "h", "f", " 1"],
      ["hset", "h", "s", "1 ", "n", "1\x002", "i", "inf"], ["hincrbyfloat", "h", "s", "1"],
      ["hincrbyfloat", "h", "n", "1"], ["hincrbyfloat", "h", "i", "1"], ["hset", "h", "m", "1e4932"],
      ["hincrbyfloat", "h", "m", "1e4932"], ["hincrbyfloat", "nokey", "f", "-inf"], ["exists", "nokey"],
      ["hget", "h", "f"]
    ],
    "$3\r\n0.1\r\n$3\r\n0.3\r\n$22\r\n1000.29999999999999999\r\n$2\r\n16\r\n$1\r\n0\r\n" +
      "-ERR value is NaN or Infinity\r\n-ERR value is not a valid float\r\n" +
      "-ERR value is not a valid float\r\n:3\r\n-ERR hash value is not a float\r\n" +
      "-ERR hash value is not a float\r\n-ERR increment would produce NaN or Infinity\r\n:1\r\n" +
      "-ERR increment would produce NaN or Infinity\r\n-ERR value is NaN or Infinity\r\n:0\r\n$22\r\n" +
      "1000.29999999999999999\r\n"
  ],
  [
    "HRANDFIELD: its count's range, then options, then the key",
    [
      ["hset", "h", "a", "1"], ["hrandfield", "h", "-9223372036854770000", "withvalues"],
      ["hrandfield", "h", "-9223372036854775808"], ["hrandfield", "h", "9223372036854775808"],
      ["hrandfield", "h", "x", "foo"], ["hrandfield", "h", "1", "foo"],
      ["hrandfield", "h", "1", "withvalues", "x"], ["hrandfield", "h", "0"], ["hrandfield", "h"],
      ["hrandfield", "h", "5"], ["hrandfield", "h", "5", "WITHVALUES"], ["hrandfield", "h", "-3"],
      ["hrandfield", "h", "-2", "withvalues"], ["hrandfield", "h", "4611686018427387903", "withvalues"],
      ["hrandfield", "nokey", "0", "foo"]
    ],
    ":1\r\n-ERR value is out of range\r\n" +
      "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n" +
      "-ERR value is not an integer or out of range\r\n-ERR value is not an integer or out of range\r\n" +
      "-ERR syntax error\r\n-ERR syntax error\r\n*0\r\n$1\r\na\r\n*1\r\n$1\r\na\r\n*2\r\n$1\r\na\r\n" +
      "$1\r\n1\r\n*3\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n" +
      "1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n-ERR syntax error\r\n"
  ],
  [
    "every hash command against another type",
    [
      ["set", "s", "x"], ["hset", "s", "a", "1"], ["hmset", "s", "a", "1"], ["hsetnx", "s", "a", "1"],
      ["hget", "s", "a"], ["hmget", "s", "a"], ["hdel", "s", "a"], ["hlen", "s"], ["hstrlen", "s", "a"],
      ["hexists", "s", "a"], ["hkeys", "s"], ["hvals", "s"], ["hgetall", "s"], ["hincrby", "s", "a", "1"],
      ["hincrbyfloat", "s", "a", "1"], ["hrandfield", "s"], ["hrandfield", "s", "0"],
      ["hincrby", "s", "a", "x"], ["hincrbyfloat", "s", "a", "x"], ["get", "s"]
    ],
    "+OK\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
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
      "-ERR value is not an integer or out of range\r\n-ERR value is not a valid float\r\n$1\r\nx\r\n"
  ],
  [
    "arity",
    [
      ["hset", "h", "a"], ["hmset", "h", "a", "1", "b"], ["hget", "h"], ["hmget", "h"], ["hdel", "h"],
      ["hlen"], ["hstrlen", "h"], ["hexists", "h"], ["hkeys"], ["hvals", "h", "x"], ["hincrby", "h", "a"],
      ["hincrbyfloat", "h", "a"], ["hrandfield"], ["hsetnx", "h", "a"]
    ],
    "-ERR wrong number of arguments for 'hset' command\r\n" +
      "-ERR wrong number of arguments for 'hmset' command\r\n" +
      "-ERR wrong number of arguments for 'hget' command\r\n" +
      "-ERR wrong number of arguments for 'hmget' command\r\n" +
      "-ERR wrong number of arguments for 'hdel' command\r\n" +
      "-ERR wrong number of arguments for 'hlen' command\r\n" +
      "-ERR wrong number of arguments for 'hstrlen' command\r\n" +
      "-ERR wrong number of arguments for 'hexists' command\r\n" +
      "-ERR wrong number of arguments for 'hkeys' command\r\n" +
      "-ERR wrong number of arguments for 'hvals' command\r\n" +
      "-ERR wrong number of arguments for 'hincrby' command\r\n" +
      "-ERR wrong number of arguments for 'hincrbyfloat' command\r\n" +
      "-ERR wrong number of arguments for 'hrandfield' command\r\n" +
      "-ERR wrong number of arguments for 'hsetnx' command\r\n"
  ]
]

describe("hash commands over TCP, byte for byte as Redis 7.0.15", () => {
  it.live.each(table)("%s", ([, requests, expected]) =>
    provided(Effect.gen(function*() {
      const { port } = yield* redisServer()
      assert.strictEqual(yield* exchange(port, requests.map((request) => cmd(...request)).join(""), expected.length), expected)
    })))
})
