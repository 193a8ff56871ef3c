/**
 * The argument cursor commands read their arguments through: each reader
 * takes arguments in order and refuses with Redis's exact words (a missing
 * argument, a bad integer or float, left-overs), and the command table is
 * what `COMMAND`, `COMMAND INFO`, `COMMAND COUNT` and `COMMAND DOCS` answer
 * from.
 */
import { Buffer } from "node:buffer"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { table } from "../../../src/handlers/redis/commands.ts"
import { type CommandError, isCommandError, words } from "../../../src/handlers/redis/errors.ts"
import { Arguments, parseDouble, parseFloat } from "../../../src/handlers/redis/parse.ts"
import * as Redis from "../../../src/handlers/redis/Redis.ts"
import * as TestConnection from "../../../src/testing/TestConnection.ts"
import { cmd } from "./support.ts"

/** What Redis would say for the error `read` throws; fails the test if it throws nothing, or something else. */
const refusal = (read: () => unknown): string => {
  try {
    read()
  } catch (error) {
    if (isCommandError(error)) return words(error as CommandError)
    throw error
  }
  throw new Error("expected a refusal")
}

const args = (...request: ReadonlyArray<string>) => new Arguments(request, request[0]!.toLowerCase(), 1)

describe("Arguments", () => {
  it("takes arguments in order; one past the end is Redis's wrong number of arguments", () => {
    const a = args("GET", "k")
    assert.strictEqual(a.remaining, 1)
    assert.strictEqual(a.nextString(), "k")
    assert.isFalse(a.hasNext())
    assert.strictEqual(refusal(() => a.nextString()), "ERR wrong number of arguments for 'get' command")
  })

  it("starts after a subcommand and names it in errors", () => {
    const a = new Arguments(["CLIENT", "SETNAME"], "client|setname", 2)
    assert.strictEqual(refusal(() => a.nextString()), "ERR wrong number of arguments for 'client|setname' command")
  })

  it("reads 64-bit integers as string2ll, with Redis's error or the command's own", () => {
    const a = args("INCRBY", "9223372036854775807", "-0", "+1", "9223372036854775808", "007", "x")
    assert.strictEqual(a.nextInteger(), 9223372036854775807n)
    for (let i = 0; i < 4; i++) {
      assert.strictEqual(refusal(() => a.nextInteger()), "ERR value is not an integer or out of range")
    }
    assert.strictEqual(refusal(() => a.nextInteger("timeout is not an integer")), "ERR timeout is not an integer")
  })

  it("reads doubles as strtod: decimal, exponent, inf; not NaN, blanks or out of a double's range", () => {
    const a = args("INCRBYFLOAT", "1.5", "-.5e1", "inf", "-Infinity", "1e308", "0e999", "nan", " 1", "1e400", "1e-400")
    assert.deepStrictEqual([a.nextFloat(), a.nextFloat(), a.nextFloat(), a.nextFloat(), a.nextFloat(), a.nextFloat()], [
      1.5,
      -5,
      Infinity,
      -Infinity,
      1e308,
      0
    ])
    while (a.hasNext()) assert.strictEqual(refusal(() => a.nextFloat()), "ERR value is not a valid float")
    // The long-double reader (timeouts) still takes what only a long double holds.
    assert.strictEqual(parseFloat("1e400"), Infinity)
    assert.strictEqual(parseDouble("1e400"), undefined)
  })

  it("keywords, the last argument, the rest, pairs", () => {
    const a = args("BLPOP", "NX", "a", "b", "c", "5")
    assert.isFalse(a.nextIs("xx"))
    assert.isTrue(a.nextIs("nx"))
    assert.strictEqual(a.lastString(), "5")
    assert.deepStrictEqual(a.rest(), ["a", "b", "c"])
    assert.isFalse(a.hasNext())
    assert.deepStrictEqual(args("MSET", "k", "v", "l", "w").restPairs(), [["k", "v"], ["l", "w"]])
    assert.strictEqual(
      refusal(() => args("MSET", "k", "v", "l").restPairs()),
      "ERR wrong number of arguments for 'mset' command"
    )
  })

  it("finish refuses left-overs as a syntax error, finishArity as a wrong number of arguments", () => {
    const a = args("PING", "a", "b")
    a.nextString()
    assert.strictEqual(refusal(() => a.finish()), "ERR syntax error")
    assert.strictEqual(refusal(() => a.finishArity()), "ERR wrong number of arguments for 'ping' command")
    a.nextString()
    a.finish()
    a.finishArity()
  })
})

/** The replies of one connection that sends `input`, against a fresh keyspace. */
const replies = (input: string) =>
  Effect.map(
    TestConnection.run(Redis.handler(), [Buffer.from(input, "latin1")]).pipe(Effect.provide(Redis.layer())),
    (result) => Buffer.from(result.outputBytes).toString("latin1")
  )

describe("the command table", () => {
  it.effect("COMMAND COUNT, COMMAND INFO and COMMAND DOCS answer from it", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* replies(cmd("command", "count")), `:${table.size}\r\n`)
      assert.strictEqual(
        yield* replies(cmd("command", "info", "set", "nosuch", "mset")),
        "*3\r\n" +
          "*10\r\n$3\r\nset\r\n:-3\r\n*2\r\n+write\r\n+denyoom\r\n:1\r\n:1\r\n:1\r\n*0\r\n*0\r\n*0\r\n*0\r\n" +
          "$-1\r\n" +
          "*10\r\n$4\r\nmset\r\n:-3\r\n*2\r\n+write\r\n+denyoom\r\n:1\r\n:-1\r\n:2\r\n*0\r\n*0\r\n*0\r\n*0\r\n"
      )
      assert.strictEqual(yield* replies(cmd("command", "docs", "get", "nosuch")), "*2\r\n$3\r\nget\r\n*0\r\n")
      const all = yield* replies(cmd("command"))
      assert.isTrue(all.startsWith(`*${table.size}\r\n`))
      for (const name of table.keys()) assert.include(all, `\r\n$${name.length}\r\n${name}\r\n`)
    }))
})
