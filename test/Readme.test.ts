/**
 * The README's code is real: its examples are the files in `examples/`,
 * verbatim (type-checked with the project), and the handler example behaves
 * as the README says, in memory and over a real server's shutdown.
 */
import * as Fs from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { keyValue } from "../examples/keyValue.ts"
import * as LineServer from "../src/services/LineServer.ts"
import * as TestConnection from "../src/services/TestConnection.ts"
import { connect } from "./fixtures/client.ts"
import { captureLogs } from "./fixtures/server.ts"

const read = (path: string) => Fs.readFileSync(new URL(path, import.meta.url), "utf8")

describe("README", () => {
  it("shows the examples verbatim", () => {
    const readme = read("../README.md")
    for (const example of ["../examples/embedded.ts", "../examples/keyValue.ts"]) {
      assert.include(readme, read(example).trimEnd(), example)
    }
  })

  it.effect("key-value example: SET with a binary value, GET, errors, over-long lines", () =>
    Effect.gen(function*() {
      const { output } = yield* TestConnection.run(keyValue(new Map()), ["SET k 3\r\nab", "c", "GET k\n"])
      assert.strictEqual(output, "OK\nabc\n")
      const more = yield* TestConnection.run(keyValue(new Map()), ["GET nope\n", "PING\n", "x".repeat(50), "\n"], {
        maxLineLength: 16
      })
      assert.strictEqual(more.output, "NONE\nERR unknown command PING\nERR line longer than 16 bytes\n")
      const bad = yield* TestConnection.run(keyValue(new Map()), ["SET k -1\n", "SET k x\n", "SET k 9999999999\n"])
      assert.strictEqual(bad.output, "ERR bad size -1\nERR bad size x\nERR bad size 9999999999\n")
      assert.isTrue(bad.exit._tag === "Success", "a hostile size is answered, not a crash")
    }))

  it.live("key-value example says BYE when the server shuts down", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const server = yield* LineServer.make({ handler: keyValue(new Map()), port: 0 }).pipe(Scope.provide(scope))
      const client = yield* connect(server.address.port)
      yield* client.write("GET a\n")
      yield* Effect.timeout(client.readUntil("NONE\n"), Duration.seconds(10))
      yield* Scope.close(scope, Exit.void)
      const { data } = yield* Effect.timeout(client.closed, Duration.seconds(10))
      assert.strictEqual(data.toString(), "NONE\nBYE\n")
    }).pipe(Effect.provide(captureLogs().layer)))
})
