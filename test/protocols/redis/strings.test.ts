/**
 * The string commands (and SETBIT/GETBIT) over a real socket, in exact bytes: each table row's
 * replies are what redis-server 7.0.15 answered to the same requests on an
 * empty keyspace (INCRBYFLOAT's digits included, which come from C's long
 * double); then the long-double arithmetic itself against a table of
 * redis-server's results and its properties, and the string-length limit
 * at a small `protoMaxBulkLen`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as LongDouble from "../../../src/handlers/redis/longDouble.ts"
import * as Redis from "../../../src/handlers/redis/Redis.ts"
import { connect } from "../../fixtures/client.ts"
import { captureLogs, serve } from "../../fixtures/server.ts"
import { cmd, exchange } from "./support.ts"

const asRedis: ReadonlyArray<readonly [string, ReadonlyArray<ReadonlyArray<string>>, string]> = [
  [
    "SET options and their conflicts",
    [["SET","k","v","NX","XX"],["SET","k","v","XX","NX"],["SET","k","v","EX","10","PX","100"],["SET","k","v","KEEPTTL","EX","10"],["SET","k","v","EX","10","KEEPTTL"],["SET","k","v","EX"],["SET","k","v","EX","10","EX","20"],["SET","k","v","PXAT","1","EXAT","1"],["SET","k","v","FOO"],["SET","k","v","GETX"]],
    "-ERR syntax error\r\n-ERR syntax error\r\n-ERR syntax error\r\n-ERR syntax error\r\n" +
      "-ERR syntax error\r\n-ERR syntax error\r\n+OK\r\n-ERR syntax error\r\n-ERR syntax error\r\n" +
      "-ERR syntax error\r\n"
  ],
  [
    "SET expiry errors name the command",
    [["SET","k","v","EX","0"],["SET","k","v","PX","-1"],["SET","k","v","EX","x"],["SET","k","v","EX","10000000000000000"],["SET","k","v","PXAT","9223372036854775807"],["SET","k","v","PX","9223372036854775807"],["SETEX","k","0","v"],["PSETEX","k","-5","v"],["SETEX","k","x","v"],["EXISTS","k"]],
    "-ERR invalid expire time in 'set' command\r\n-ERR invalid expire time in 'set' command\r\n" +
      "-ERR value is not an integer or out of range\r\n-ERR invalid expire time in 'set' command\r\n" +
      "+OK\r\n-ERR invalid expire time in 'set' command\r\n" +
      "-ERR invalid expire time in 'setex' command\r\n" +
      "-ERR invalid expire time in 'psetex' command\r\n" +
      "-ERR value is not an integer or out of range\r\n:1\r\n"
  ],
  [
    "SET NX XX GET",
    [["SET","k","1","XX"],["SET","k","1","NX"],["SET","k","2","NX"],["SET","k","2","NX","GET"],["SET","k","3","XX","GET"],["SET","k","4","GET"],["SET","missing","1","GET"],["RPUSH","l","x"],["SET","l","1","GET"],["SET","l","1"],["GET","l"],["SET","k","5","GET","GET","NX","NX"]],
    "$-1\r\n+OK\r\n$-1\r\n$1\r\n1\r\n$1\r\n1\r\n$1\r\n3\r\n$-1\r\n:1\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n+OK\r\n$1\r\n1\r\n$1\r\n4\r\n"
  ],
  [
    "SETNX SETEX PSETEX GETSET GETDEL",
    [["SETNX","k","1"],["SETNX","k","2"],["GET","k"],["SETEX","k","100","v"],["GET","k"],["PSETEX","k","100000","w"],["GET","k"],["GETSET","k","x"],["GETSET","new","y"],["GET","new"],["GETDEL","k"],["GETDEL","k"],["RPUSH","l","a"],["GETSET","l","x"],["GETDEL","l"],["SETEX","k","1"]],
    ":1\r\n:0\r\n$1\r\n1\r\n+OK\r\n$1\r\nv\r\n+OK\r\n$1\r\nw\r\n$1\r\nw\r\n$-1\r\n$1\r\ny\r\n$1\r\nx\r\n$-1\r\n:1\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-ERR wrong number of arguments for 'setex' command\r\n"
  ],
  [
    "GETEX options and errors",
    [["GETEX","missing","EX","10"],["SET","k","v"],["GETEX","k"],["GETEX","k","PERSIST"],["GETEX","k","EX","10","PERSIST"],["GETEX","k","PERSIST","PX","10"],["GETEX","k","KEEPTTL"],["GETEX","k","NX"],["GETEX","k","EX"],["GETEX","k","EX","0"],["GETEX","k","EX","x"],["GETEX","k","EX","10000000000000000"],["GETEX","k","EXAT","1"],["DBSIZE"],["EXISTS","k"],["RPUSH","l","a"],["GETEX","l","EX","x"],["GETEX"]],
    "$-1\r\n+OK\r\n$1\r\nv\r\n$1\r\nv\r\n-ERR syntax error\r\n-ERR syntax error\r\n-ERR syntax error\r\n" +
      "-ERR syntax error\r\n-ERR syntax error\r\n-ERR invalid expire time in 'getex' command\r\n" +
      "-ERR value is not an integer or out of range\r\n" +
      "-ERR invalid expire time in 'getex' command\r\n$1\r\nv\r\n:0\r\n:0\r\n:1\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-ERR wrong number of arguments for 'getex' command\r\n"
  ],
  [
    "MSET MSETNX MGET",
    [["MSETNX","a","1","b","2"],["MSETNX","b","3","c","4"],["MGET","a","b","c"],["MSETNX","c","1","c","2"],["GET","c"],["MSETNX","a"],["MSETNX","a","1","b"],["MSET","a"],["RPUSH","l","x"],["MGET","a","l","zz"]],
    ":1\r\n:0\r\n*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n:1\r\n$1\r\n2\r\n" +
      "-ERR wrong number of arguments for 'msetnx' command\r\n" +
      "-ERR wrong number of arguments for 'msetnx' command\r\n" +
      "-ERR wrong number of arguments for 'mset' command\r\n:1\r\n*3\r\n$1\r\n1\r\n$-1\r\n$-1\r\n"
  ],
  [
    "APPEND and STRLEN",
    [["APPEND","k","ab"],["APPEND","k","cd"],["STRLEN","k"],["STRLEN","missing"],["RPUSH","l","x"],["APPEND","l","x"],["STRLEN","l"]],
    ":2\r\n:4\r\n:4\r\n:0\r\n:1\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
  ],
  [
    "SETRANGE",
    [["SETRANGE","k","0",""],["EXISTS","k"],["SETRANGE","k","3","ab"],["GET","k"],["SETRANGE","k","1","X"],["GET","k"],["SETRANGE","k","4","xyz"],["GET","k"],["SETRANGE","k","0",""],["SETRANGE","k","-1","x"],["SETRANGE","k","x","x"],["SETRANGE","k","9223372036854775807","x"],["SETRANGE","k","536870908","world"],["RPUSH","l","x"],["SETRANGE","l","0","x"],["SETRANGE","l","0",""]],
    ":0\r\n:0\r\n:5\r\n$5\r\n\0\0\0ab\r\n:5\r\n$5\r\n\0X\0ab\r\n:7\r\n$7\r\n\0X\0axyz\r\n:7\r\n-ERR offset is out of range\r\n" +
      "-ERR value is not an integer or out of range\r\n" +
      "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n" +
      "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n:1\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
  ],
  [
    "SETBIT and GETBIT",
    [["GETBIT","k","0"],["EXISTS","k"],["SETBIT","k","1","1"],["GET","k"],["SETBIT","k","1","1"],["SETBIT","k","7","1"],["GET","k"],["GETBIT","k","1"],["GETBIT","k","2"],["GETBIT","k","100"],["SETBIT","k","17","0"],["STRLEN","k"],["SETBIT","k","1","0"],["GET","k"],["SET","n","12"],["GETBIT","n","2"],["GETBIT","n","3"],["SETBIT","k","-1","1"],["SETBIT","k","x","1"],["SETBIT","k","4294967296","1"],["SETBIT","k","0","2"],["SETBIT","k","0","-1"],["SETBIT","k","x","2"],["GETBIT","k","-1"],["GETBIT","k","4294967296"],["RPUSH","l","x"],["SETBIT","l","0","1"],["SETBIT","l","0","2"],["GETBIT","l","0"],["GETBIT","l","x"],["SETBIT","m","1000","1"],["STRLEN","m"]],
    ":0\r\n:0\r\n:0\r\n$1\r\n@\r\n:1\r\n:0\r\n$1\r\nA\r\n:1\r\n:0\r\n:0\r\n:0\r\n:3\r\n:1\r\n$3\r\n\u0001\0\0\r\n+OK\r\n:1\r\n:1\r\n" +
      "-ERR bit offset is not an integer or out of range\r\n-ERR bit offset is not an integer or out of range\r\n" +
      "-ERR bit offset is not an integer or out of range\r\n-ERR bit is not an integer or out of range\r\n" +
      "-ERR bit is not an integer or out of range\r\n-ERR bit offset is not an integer or out of range\r\n" +
      "-ERR bit offset is not an integer or out of range\r\n-ERR bit offset is not an integer or out of range\r\n:1\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n-ERR bit is not an integer or out of range\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n" +
      "-ERR bit offset is not an integer or out of range\r\n:0\r\n:126\r\n"
  ],
  [
    "GETRANGE and SUBSTR",
    [["SET","k","Hello World"],["GETRANGE","k","0","4"],["GETRANGE","k","-5","-1"],["GETRANGE","k","-1","-5"],["GETRANGE","k","5","1"],["GETRANGE","k","-100","-200"],["GETRANGE","k","0","-100"],["GETRANGE","k","-100","3"],["GETRANGE","k","0","9223372036854775807"],["GETRANGE","k","-9223372036854775808","-9223372036854775807"],["SUBSTR","k","6","100"],["GETRANGE","missing","0","-1"],["GETRANGE","k","x","1"],["RPUSH","l","x"],["GETRANGE","l","0","1"],["SET","e",""],["GETRANGE","e","0","-1"]],
    "+OK\r\n$5\r\nHello\r\n$5\r\nWorld\r\n$0\r\n\r\n$0\r\n\r\n$0\r\n\r\n$1\r\nH\r\n$4\r\nHell\r\n$11\r\nHello World\r\n$1\r\nH\r\n" +
      "$5\r\nWorld\r\n$0\r\n\r\n-ERR value is not an integer or out of range\r\n:1\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n+OK\r\n$0\r\n\r\n"
  ],
  [
    "INCR family",
    [["INCR","n"],["INCRBY","n","10"],["DECR","n"],["DECRBY","n","-5"],["DECRBY","n","-9223372036854775808"],["SET","n","9223372036854775807"],["INCR","n"],["SET","s","abc"],["INCR","s"],["INCRBY","n","x"],["SET","sp"," 1"],["INCR","sp"]],
    ":1\r\n:11\r\n:10\r\n:15\r\n-ERR decrement would overflow\r\n+OK\r\n" +
      "-ERR increment or decrement would overflow\r\n+OK\r\n" +
      "-ERR value is not an integer or out of range\r\n" +
      "-ERR value is not an integer or out of range\r\n+OK\r\n" +
      "-ERR value is not an integer or out of range\r\n"
  ],
  [
    "INCRBYFLOAT as Redis's long double prints it",
    [["INCRBYFLOAT","f","1000.1"],["INCRBYFLOAT","f","0.1"],["SET","g","0.1"],["INCRBYFLOAT","g","0.2"],["INCRBYFLOAT","h","1e20"],["INCRBYFLOAT","h","1.5"],["SET","i","1"],["INCRBYFLOAT","i","-1.1"],["INCRBYFLOAT","i","0.1"],["INCRBYFLOAT","j","5.0e3"],["INCRBYFLOAT","k","1e-20"]],
    "$22\r\n1000.09999999999999998\r\n$22\r\n1000.19999999999999996\r\n+OK\r\n$3\r\n0.3\r\n$21\r\n" +
      "100000000000000000000\r\n$21\r\n100000000000000000000\r\n+OK\r\n$4\r\n-0.1\r\n$1\r\n0\r\n$4\r\n5000\r\n$1\r\n" +
      "0\r\n"
  ],
  [
    "INCRBYFLOAT errors",
    [["SET","k"," 1"],["INCRBYFLOAT","k","1"],["SET","k","1"],["INCRBYFLOAT","k","x"],["INCRBYFLOAT","k","+inf"],["INCRBYFLOAT","k","1e4933"],["INCRBYFLOAT","k","nan"],["RPUSH","l","x"],["INCRBYFLOAT","l","1"],["SET","z","1e4932"],["INCRBYFLOAT","z","1e4932"],["INCRBYFLOAT","k"]],
    "+OK\r\n-ERR value is not a valid float\r\n+OK\r\n-ERR value is not a valid float\r\n" +
      "-ERR increment would produce NaN or Infinity\r\n-ERR value is not a valid float\r\n" +
      "-ERR value is not a valid float\r\n:1\r\n" +
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n+OK\r\n" +
      "-ERR increment would produce NaN or Infinity\r\n" +
      "-ERR wrong number of arguments for 'incrbyfloat' command\r\n"
  ],
  [
    "LCS",
    [["MSET","a","ohmytext","b","mynewtext"],["LCS","a","b"],["LCS","a","b","LEN"],["LCS","a","b","IDX"],["LCS","a","b","IDX","WITHMATCHLEN"],["LCS","a","b","IDX","MINMATCHLEN","4","WITHMATCHLEN"],["LCS","a","b","IDX","MINMATCHLEN","-3"],["LCS","a","b","LEN","IDX"],["LCS","a","b","FOO"],["LCS","a","b","MINMATCHLEN"],["LCS","a","missing"],["LCS","missing","missing","IDX"],["RPUSH","l","x"],["LCS","a","l"]],
    "+OK\r\n$6\r\nmytext\r\n:6\r\n*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n" +
      "*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n*4\r\n$7\r\nmatches\r\n*2\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n*3\r\n*2\r\n" +
      ":2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n$3\r\nlen\r\n:6\r\n*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n" +
      ":4\r\n$3\r\nlen\r\n:6\r\n*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n" +
      ":0\r\n:1\r\n$3\r\nlen\r\n:6\r\n-ERR If you want both the length and indexes, please just use IDX.\r\n" +
      "-ERR syntax error\r\n-ERR syntax error\r\n$0\r\n\r\n*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n:1\r\n" +
      "-ERR The specified keys must contain string values\r\n"
  ],
]

describe("string commands, as redis-server answers them", () => {
  it.live.each(asRedis)("%s", ([, requests, expected]) =>
    Effect.map(exchange(requests, expected), (received) => assert.strictEqual(received, expected)))
})

describe("string length limit", () => {
  it.live("APPEND, SETRANGE and SETBIT refuse to build a string past protoMaxBulkLen; nothing changes", () =>
    Effect.gen(function*() {
      const server = yield* serve(Redis.handler({ protoMaxBulkLen: 10 }))
      const client = yield* connect(server.port)
      const requests = [
        ["SET", "k", "12345"],
        ["APPEND", "k", "67890"],
        ["APPEND", "k", "x"],
        ["SETRANGE", "k", "10", "x"],
        ["SETRANGE", "k", "9", "x"],
        ["GET", "k"],
        ["SETBIT", "b", "80", "1"],
        ["GETBIT", "b", "80"],
        ["SETBIT", "b", "79", "1"],
        ["STRLEN", "b"]
      ]
      const expected = "+OK\r\n:10\r\n" +
        "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n".repeat(2) + ":10\r\n$10\r\n123456789x\r\n" +
        "-ERR bit offset is not an integer or out of range\r\n".repeat(2) + ":0\r\n:10\r\n"
      yield* client.write(requests.map((request) => cmd(...request)).join(""))
      assert.strictEqual((yield* client.readBytes(expected.length)).toString("latin1"), expected)
    }).pipe(Effect.provide(Layer.merge(Redis.layer(), captureLogs().layer))))
})

describe("long double arithmetic", () => {
  // a + b as redis-server 7.0.15 (x86-64) prints INCRBYFLOAT's result.
  const sums: ReadonlyArray<readonly [string, string, string]> = [
    ["1000.1", "0.1", "1000.19999999999999996"],
    ["0.1", "0.2", "0.3"],
    ["1", "-1.1", "-0.1"],
    ["123456789.123", "0.001", "123456789.12399999999615829"],
    ["1e20", "1.5", "100000000000000000000"],
    ["5.0e3", "2.0e2", "5200"],
    ["1e-20", "0", "0"],
    ["3.0", "0.000000000000000005", "3"],
    ["-0.0", "0", "0"],
    ["17179869184", "1.5", "17179869185.5"],
    ["0.024390243902439025", "-0.024390243902439025", "0"],
    ["1.5e300", "1", "1500000000000000000049800109861472166362379239118673928551219718248973529929812708792854310575830930" +
      "6865306445660502294069266467393110176069842582883774341439376027781967106612346559441957708385132688" +
      "4682615020541863299554727187482707293623059492001324119036399447188608056733661591169450904661472051" +
      "2"],
    ["1", "1e-4940", "1"],
    // Ties go to the even significand; anything past the tie rounds up.
    ["18446744073709551617", "0", "18446744073709551616"],
    ["18446744073709551617.0000001", "0", "18446744073709551618"],
    ["18446744073709551619", "0", "18446744073709551620"]
  ]
  it.each(sums)("%s + %s is %s", (a, b, sum) => {
    const x = LongDouble.parse(a)
    const y = LongDouble.parse(b)
    assert.isTrue(typeof x === "object" && typeof y === "object")
    if (typeof x !== "object" || typeof y !== "object") return
    const result = LongDouble.add(x, y)
    assert.strictEqual(result === undefined ? "overflow" : LongDouble.format(result), sum)
  })

  it("reads as strtold does, refusing what string2ld refuses", () => {
    for (const text of ["", " 1", "1 ", "1e", ".", "+", "nan", "1e4933", "-1e4933", "1e-4960", "1".repeat(5120)]) {
      assert.isUndefined(LongDouble.parse(text), JSON.stringify(text))
    }
    assert.strictEqual(LongDouble.parse("inf"), "inf")
    assert.strictEqual(LongDouble.parse("-Infinity"), "-inf")
    for (const text of ["1.", ".5", "+.5e-3", "0e99999999", "1e4932", "0".repeat(5118) + "1"]) {
      assert.isObject(LongDouble.parse(text), JSON.stringify(text))
    }
  })

  it("the largest finite sum overflows past it", () => {
    const big = LongDouble.parse("1.18973149535723176502e4932")
    assert.isTrue(typeof big === "object")
    if (typeof big === "object") assert.isUndefined(LongDouble.add(big, big))
  })

  const Decimal = Schema.Struct({
    sign: Schema.Literals(["", "-"]),
    whole: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 1_000_000_000 })),
    fraction: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 999_999 })),
    exponent: Schema.Int.check(Schema.isBetween({ minimum: -30, maximum: 30 }))
  })
  const text = (d: typeof Decimal.Type) => `${d.sign}${d.whole}.${d.fraction}e${d.exponent}`
  it.prop(
    "sums commute, and a printed result reads back to what prints the same",
    [Decimal, Decimal],
    ([a, b]) => {
      const x = LongDouble.parse(text(a))
      const y = LongDouble.parse(text(b))
      if (typeof x !== "object" || typeof y !== "object") return false
      const xy = LongDouble.add(x, y)
      const yx = LongDouble.add(y, x)
      if (xy === undefined || yx === undefined) return false
      const printed = LongDouble.format(xy)
      assert.strictEqual(LongDouble.format(yx), printed)
      const again = LongDouble.parse(printed)
      assert.isTrue(typeof again === "object")
      if (typeof again === "object") assert.strictEqual(LongDouble.format(again), printed)
    },
    { arbitrary: { runs: 500 } }
  )
})
