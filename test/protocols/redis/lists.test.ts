/**
 * The list commands over real loopback sockets, exact bytes: each pipeline
 * gets the replies redis-server 7.0.15 gives to the same bytes (errors
 * included); blocked clients are woken by another client's push — a BLMOVE
 * with the element moved, a BLMPOP with its COUNT, a chain of a BLMOVE into
 * a list another client BLPOPs, a BRPOPLPUSH whose destination turned out
 * to be of the wrong type — and inside MULTI nothing blocks; timeouts run on
 * the TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { TestClock } from "effect/testing"
import * as Keyspace from "../../../src/handlers/redis/keyspace.ts"
import * as Redis from "../../../src/handlers/redis/Redis.ts"
import * as TestConnection from "../../../src/testing/TestConnection.ts"
import { connect } from "../../fixtures/client.ts"
import { captureLogs, serve } from "../../fixtures/server.ts"
import { cmd, eventually } from "./support.ts"

const within = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.timeout(effect, Duration.seconds(10))

const provided = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.provide(Layer.merge(Redis.layer(), captureLogs().layer)))

/** A Redis server on a free port, with its keyspace, for the test's scope. */
const redisServer = Effect.gen(function*() {
  const server = yield* serve(Redis.handler())
  return { port: server.port, keyspace: yield* Keyspace.Keyspace }
})

/** Sends `commands` in one write, then a PING; returns every reply before the PONG. */
const pipeline = (port: number, commands: ReadonlyArray<ReadonlyArray<string>>) =>
  Effect.scoped(Effect.gen(function*() {
    const client = yield* connect(port)
    yield* client.write(commands.map((args) => cmd(...args)).join("") + cmd("PING"))
    const all = yield* within(client.readUntil("+PONG\r\n"))
    return all.slice(0, -"+PONG\r\n".length)
  }))

const wrongType = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
const syntax = "-ERR syntax error\r\n"
const notInteger = "-ERR value is not an integer or out of range\r\n"
const b = (...values: Array<string>) => values.map((value) => `$${value.length}\r\n${value}\r\n`).join("")

describe("list commands: Redis 7's replies, byte for byte", () => {
  const table: ReadonlyArray<readonly [string, ReadonlyArray<ReadonlyArray<string>>, string]> = [
    [
      "LPOS with RANK, COUNT and MAXLEN",
      [
        ["rpush", "l", "a", "b", "c", "1", "2", "3", "c", "c"],
        ["lpos", "l", "c"],
        ["lpos", "l", "c", "rank", "-1"],
        ["lpos", "l", "c", "count", "0"],
        ["lpos", "l", "c", "count", "2", "rank", "-1"],
        ["lpos", "l", "c", "maxlen", "3", "count", "0"],
        ["lpos", "l", "x"],
        ["lpos", "nokey", "c"],
        ["lpos", "nokey", "c", "count", "1"],
        ["lpos", "l", "c", "rank", "0"],
        ["lpos", "l", "c", "count", "-1"],
        ["lpos", "l", "c", "maxlen", "x"],
        ["lpos", "l", "c", "rank"],
        ["lpos", "l", "c", "rank", "x"]
      ],
      ":8\r\n:2\r\n:7\r\n*3\r\n:2\r\n:6\r\n:7\r\n*2\r\n:7\r\n:6\r\n*1\r\n:2\r\n$-1\r\n$-1\r\n*0\r\n" +
      "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n" +
      `-ERR COUNT can't be negative\r\n-ERR MAXLEN can't be negative\r\n${syntax}${notInteger}`
    ],
    [
      "LSET, LINSERT, LREM, LTRIM, and LRANGE with negative indexes",
      [
        ["rpush", "l", "a", "b", "c", "b", "d"],
        ["lset", "l", "-1", "D"],
        ["lset", "l", "5", "x"],
        ["lset", "nokey", "0", "x"],
        ["lset", "l", "x", "y"],
        ["linsert", "l", "before", "b", "Z"],
        ["linsert", "l", "AFTER", "D", "E"],
        ["linsert", "l", "after", "nope", "Y"],
        ["linsert", "l", "aft3r", "b", "Y"],
        ["linsert", "nokey", "before", "a", "b"],
        ["lrem", "l", "-1", "b"],
        ["lrange", "l", "-100", "100"],
        ["lrem", "l", "0", "nope"],
        ["lrem", "l", "x", "b"],
        ["ltrim", "l", "1", "-2"],
        ["lrange", "l", "-3", "-2"],
        ["lrange", "l", "0", "-9"],
        ["ltrim", "l", "5", "1"],
        ["exists", "l"],
        ["ltrim", "nokey", "0", "1"]
      ],
      `:5\r\n+OK\r\n-ERR index out of range\r\n-ERR no such key\r\n${notInteger}:6\r\n:7\r\n:-1\r\n${syntax}:0\r\n:1\r\n` +
      `*6\r\n${b("a", "Z", "b", "c", "D", "E")}:0\r\n${notInteger}+OK\r\n*2\r\n${b("b", "c")}*0\r\n+OK\r\n:0\r\n+OK\r\n`
    ],
    [
      "LMOVE and RPOPLPUSH, the same list as both ends, wrong types",
      [
        ["rpush", "s", "a", "b", "c"],
        ["lmove", "s", "d", "left", "right"],
        ["lmove", "s", "d", "RIGHT", "LEFT"],
        ["lrange", "d", "0", "-1"],
        ["lmove", "s", "s", "left", "right"],
        ["rpoplpush", "s", "s"],
        ["lmove", "s", "d", "up", "left"],
        ["set", "str", "x"],
        ["lmove", "s", "str", "left", "left"],
        ["lmove", "str", "d", "left", "left"],
        ["rpoplpush", "s", "d"],
        ["rpoplpush", "s", "d"],
        ["exists", "s"],
        ["lrange", "d", "0", "-1"]
      ],
      `:3\r\n${b("a", "c")}*2\r\n${b("c", "a")}${b("b", "b")}${syntax}+OK\r\n${wrongType}${wrongType}${b("b")}$-1\r\n` +
      `:0\r\n*3\r\n${b("b", "c", "a")}`
    ],
    [
      "LMPOP: counts, several keys, and its argument errors",
      [
        ["rpush", "m", "a", "b", "c", "d", "e"],
        ["lmpop", "2", "nokey", "m", "right", "count", "2"],
        ["lmpop", "1", "m", "LEFT"],
        ["lmpop", "2", "m", "m", "left", "count", "10"],
        ["lmpop", "1", "m", "left"],
        ["lmpop", "0", "m", "left"],
        ["lmpop", "a", "m", "left"],
        ["lmpop", "2", "m", "left"],
        ["lmpop", "1", "m", "middle"],
        ["lmpop", "1", "m", "left", "count"],
        ["lmpop", "1", "m", "left", "count", "1", "count", "2"],
        ["lmpop", "1", "m", "left", "count", "0"],
        ["lmpop", "1", "m"],
        ["set", "str", "x"],
        ["lmpop", "2", "nokey", "str", "left"]
      ],
      `:5\r\n*2\r\n$1\r\nm\r\n*2\r\n${b("e", "d")}*2\r\n$1\r\nm\r\n*1\r\n${b("a")}*2\r\n$1\r\nm\r\n*2\r\n${b("b", "c")}*-1\r\n` +
      `-ERR numkeys should be greater than 0\r\n-ERR numkeys should be greater than 0\r\n${syntax}${syntax}${syntax}${syntax}` +
      `-ERR count should be greater than 0\r\n-ERR wrong number of arguments for 'lmpop' command\r\n+OK\r\n${wrongType}`
    ],
    [
      "LPUSHX/RPUSHX, LPOP/RPOP with counts, LINDEX",
      [
        ["lpushx", "x", "a"],
        ["rpush", "x", "m"],
        ["lpushx", "x", "a", "b"],
        ["rpushx", "x", "y", "z"],
        ["lindex", "x", "-1"],
        ["lindex", "x", "-6"],
        ["lindex", "nokey", "x"],
        ["lindex", "x", "x"],
        ["lpop", "x", "0"],
        ["lpop", "x", "2"],
        ["rpop", "x", "9"],
        ["lpop", "x", "0"],
        ["lpop", "x"],
        ["lpop", "x", "-1"],
        ["lpop", "x", "1", "2"],
        ["set", "str", "v"],
        ["rpushx", "str", "a"]
      ],
      `:0\r\n:1\r\n:3\r\n:5\r\n${b("z")}$-1\r\n$-1\r\n${notInteger}*0\r\n*2\r\n${b("b", "a")}*3\r\n${b("z", "y", "m")}` +
      `*-1\r\n$-1\r\n-ERR value is out of range, must be positive\r\n-ERR wrong number of arguments for 'lpop' command\r\n` +
      `+OK\r\n${wrongType}`
    ],
    [
      "blocking commands that need not block, and their argument errors",
      [
        ["rpush", "q", "1", "2", "3"],
        ["blmpop", "0", "1", "q", "right", "count", "2"],
        ["blmove", "q", "d", "left", "left", "0"],
        ["brpoplpush", "d", "q", "0"],
        ["blpop", "nokey", "q", "0"],
        ["blpop", "q", "-1"],
        ["blpop", "q", "x"],
        ["blmpop", "-1", "1", "q", "left"],
        ["blmpop", "0", "1", "q", "left", "count", "0"],
        ["blmove", "q", "d", "left", "x", "0"],
        ["brpoplpush", "q", "d", "-0.5"],
        ["set", "str", "v"],
        ["blpop", "nokey", "str", "0"],
        ["blmpop", "0", "2", "nokey", "str", "left"],
        ["brpoplpush", "str", "d", "0"],
        ["rpush", "q", "x"],
        ["blmove", "q", "str", "left", "left", "0"],
        ["llen", "q"]
      ],
      `:3\r\n*2\r\n$1\r\nq\r\n*2\r\n${b("3", "2")}${b("1")}${b("1")}*2\r\n${b("q", "1")}-ERR timeout is negative\r\n` +
      `-ERR timeout is not a float or out of range\r\n-ERR timeout is negative\r\n-ERR count should be greater than 0\r\n` +
      `${syntax}-ERR timeout is negative\r\n+OK\r\n${wrongType}${wrongType}${wrongType}:1\r\n${wrongType}:1\r\n`
    ],
    [
      "inside MULTI blocking commands answer at once, as on timeout (BLMOVE with a null bulk)",
      [
        ["rpush", "t", "a"],
        ["multi"],
        ["blpop", "t", "0"],
        ["blpop", "t", "0"],
        ["brpoplpush", "t", "d", "0"],
        ["blmove", "t", "d", "left", "left", "0"],
        ["blmpop", "0", "1", "t", "left", "count", "3"],
        ["exec"]
      ],
      ":1\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n" +
      `*5\r\n*2\r\n${b("t", "a")}*-1\r\n$-1\r\n$-1\r\n*-1\r\n`
    ]
  ]

  it.live.each(table)("%s", ([, commands, expected]) =>
    provided(Effect.gen(function*() {
      const { port } = yield* redisServer
      assert.strictEqual(yield* pipeline(port, commands), expected)
    })))
})

describe("blocked list commands woken by another client", () => {
  it.live("BLMOVE: the pushed element is moved to the destination's chosen end and replied", () =>
    provided(Effect.gen(function*() {
      const { port, keyspace } = yield* redisServer
      const blocked = yield* connect(port)
      yield* blocked.write(cmd("RPUSH", "done", "old") + cmd("BLMOVE", "jobs", "done", "LEFT", "RIGHT", "0"))
      yield* within(blocked.readUntil(":1\r\n"))
      yield* eventually("the BLMOVE waits", () => keyspace.waiting() === 1)
      assert.strictEqual(yield* pipeline(port, [["RPUSH", "jobs", "first", "second"]]), ":2\r\n")
      assert.strictEqual(yield* within(blocked.readUntil("first\r\n")), ":1\r\n$5\r\nfirst\r\n")
      assert.strictEqual(
        yield* pipeline(port, [["LRANGE", "jobs", "0", "-1"], ["LRANGE", "done", "0", "-1"]]),
        `*1\r\n${b("second")}*2\r\n${b("old", "first")}`
      )
      assert.strictEqual(keyspace.waiting(), 0)
    })))

  it.live("BLMPOP with COUNT takes up to COUNT from the list that got them; the next waiter takes the rest", () =>
    provided(Effect.gen(function*() {
      const { port, keyspace } = yield* redisServer
      const first = yield* connect(port)
      const second = yield* connect(port)
      yield* first.write(cmd("BLMPOP", "0", "2", "a", "b", "RIGHT", "COUNT", "2"))
      yield* eventually("the first waits", () => keyspace.waiting() === 1)
      yield* second.write(cmd("BLMPOP", "0", "2", "a", "b", "LEFT", "COUNT", "10"))
      yield* eventually("the second waits", () => keyspace.waiting() === 2)
      assert.strictEqual(yield* pipeline(port, [["RPUSH", "b", "1", "2", "3", "4", "5"]]), ":5\r\n")
      assert.strictEqual(yield* within(first.readUntil("$1\r\n4\r\n")), `*2\r\n$1\r\nb\r\n*2\r\n${b("5", "4")}`)
      assert.strictEqual(yield* within(second.readUntil("$1\r\n3\r\n")), `*2\r\n$1\r\nb\r\n*3\r\n${b("1", "2", "3")}`)
      assert.strictEqual(yield* pipeline(port, [["EXISTS", "a", "b"]]), ":0\r\n")
    })))

  it.live("a BLMOVE into a list another client BLPOPs serves both, in turn; nothing is left", () =>
    provided(Effect.gen(function*() {
      const { port, keyspace } = yield* redisServer
      const popper = yield* connect(port)
      const mover = yield* connect(port)
      yield* popper.write(cmd("BLPOP", "target", "0"))
      yield* eventually("the BLPOP waits", () => keyspace.waiting() === 1)
      yield* mover.write(cmd("BLMOVE", "source", "target", "RIGHT", "LEFT", "0"))
      yield* eventually("the BLMOVE waits", () => keyspace.waiting() === 2)
      assert.strictEqual(yield* pipeline(port, [["RPUSH", "source", "foo"]]), ":1\r\n")
      assert.strictEqual(yield* within(mover.readUntil("foo\r\n")), "$3\r\nfoo\r\n")
      assert.strictEqual(yield* within(popper.readUntil("foo\r\n")), `*2\r\n${b("target", "foo")}`)
      assert.strictEqual(yield* pipeline(port, [["EXISTS", "source", "target"]]), ":0\r\n")
    })))

  it.live("BRPOPLPUSH whose destination is of the wrong type when served gets WRONGTYPE; the element goes to the next", () =>
    provided(Effect.gen(function*() {
      const { port, keyspace } = yield* redisServer
      const refused = yield* connect(port)
      const served = yield* connect(port)
      yield* refused.write(cmd("SET", "str", "x") + cmd("BRPOPLPUSH", "q", "str", "0"))
      yield* within(refused.readUntil("+OK\r\n"))
      yield* eventually("the first waits", () => keyspace.waiting() === 1)
      yield* served.write(cmd("BRPOPLPUSH", "q", "out", "0"))
      yield* eventually("the second waits", () => keyspace.waiting() === 2)
      assert.strictEqual(yield* pipeline(port, [["LPUSH", "q", "a", "b"]]), ":2\r\n")
      assert.strictEqual(yield* within(refused.readUntil("value\r\n")), `+OK\r\n${wrongType}`)
      assert.strictEqual(yield* within(served.readUntil("a\r\n")), b("a"))
      assert.strictEqual(yield* pipeline(port, [["LRANGE", "q", "0", "-1"], ["LRANGE", "out", "0", "-1"]]), `*1\r\n${b("b")}*1\r\n${b("a")}`)
    })))
})

describe("blocking timeouts on the clock", () => {
  it.effect("BLMOVE, BLMPOP and BRPOPLPUSH answer a null array once their (fractional) timeout passes", () =>
    Effect.gen(function*() {
      const keyspace = yield* Keyspace.Keyspace
      const client = yield* TestConnection.start(Redis.handler())
      let replies = ""
      for (const [request, millis] of [
        [cmd("BLMOVE", "q", "d", "LEFT", "LEFT", "1.5"), 1500],
        // 1.5 ms, rounded up to the millisecond.
        [cmd("BLMPOP", "0.0015", "1", "q", "LEFT", "COUNT", "2"), 2],
        [cmd("BRPOPLPUSH", "q", "d", "2"), 2000]
      ] as const) {
        yield* client.send(request)
        for (let i = 0; i < 1000 && keyspace.waiting() === 0; i++) yield* Effect.yieldNow
        assert.strictEqual(keyspace.waiting(), 1)
        yield* TestClock.adjust(millis - 1)
        assert.strictEqual(yield* client.outputText, replies, "still waiting a millisecond before")
        yield* TestClock.adjust(1)
        replies += "*-1\r\n"
        assert.strictEqual(yield* client.awaitOutput(replies), replies)
        assert.strictEqual(keyspace.waiting(), 0)
      }
    }).pipe(Effect.provide(Redis.layer())))
})
