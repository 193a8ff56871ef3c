/**
 * The code of the README and of the pages in docs/ is real: its examples are
 * the files in `examples/`, verbatim (type-checked with the project), the
 * handler examples behave as the text says, in memory and over a real
 * server's shutdown, and the client example runs against `TestConnection` as
 * its scripted server.
 */
import * as Fs from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import { announce, Announcements } from "../../examples/announce.ts"
import { keyValue } from "../../examples/keyValue.ts"
import shouting from "../../examples/shout.ts"
import { shout } from "../../examples/upperClient.ts"
import * as LineServer from "../../src/services/LineServer.ts"
import * as TestConnection from "../../src/testing/TestConnection.ts"
import { connect } from "../fixtures/client.ts"
import { captureLogs, type LogLine, serve, waitForActive } from "../fixtures/server.ts"

/** Whether a connection was closed for its write timeout. */
const writeTimedOut = (lines: ReadonlyArray<LogLine>) => lines.some((log) => log.message.includes("write-timeout"))

const read = (path: string) => Fs.readFileSync(new URL(path, import.meta.url), "utf8")

/** The README and every page of docs/, one after the other. */
const allDocs = () =>
  [read("../../README.md"), ...Fs.readdirSync(new URL("../../docs/", import.meta.url)).filter((name) => name.endsWith(".md")).map((name) => read(`../../docs/${name}`))]
    .join("\n")

describe("README", () => {
  it("shows the examples verbatim", () => {
    const readme = allDocs()
    for (
      const example of [
        "../../examples/embedded.ts",
        "../../examples/keyValue.ts",
        "../../examples/announce.ts",
        "../../examples/smtpish.ts",
        "../../examples/upperClient.ts",
        "../../examples/shout.ts"
      ]
    ) {
      assert.include(readme, read(example).trimEnd(), example)
    }
  })

  it.effect("the README's test of its handler: every line shouted back", () =>
    Effect.gen(function*() {
      const { output } = yield* TestConnection.run(shouting, ["hello\nwor", "ld\n"])
      assert.strictEqual(output, "HELLO\nWORLD\n")
    }))

  it.effect("client example: TestConnection plays the server, as the README shows", () =>
    Effect.gen(function*() {
      const server = yield* TestConnection.make()
      const reply = yield* Effect.forkChild(shout(server.connection, "hello"))
      yield* server.awaitOutput("hello\n")
      yield* server.send("HELLO\n")
      assert.strictEqual(yield* Fiber.join(reply), "HELLO")
    }))

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
      const client = yield* connect(LineServer.port(server))
      yield* client.write("GET a\n")
      yield* Effect.timeout(client.readUntil("NONE\n"), Duration.seconds(10))
      yield* Scope.close(scope, Exit.void)
      const { data } = yield* Effect.timeout(client.closed, Duration.seconds(10))
      assert.strictEqual(data.toString(), "NONE\nBYE\n")
    }).pipe(Effect.provide(captureLogs().layer)))

  it.effect("announce example: a line from one client reaches every client; one that leaves stops receiving", () =>
    Effect.gen(function*() {
      const alice = yield* TestConnection.start(announce)
      const bob = yield* TestConnection.start(announce)
      // Both writers are subscribed once each has been scheduled.
      yield* Effect.yieldNow
      yield* alice.send("hello\n")
      yield* bob.awaitOutput("memory: hello\n")
      yield* alice.awaitOutput("memory: hello\n")
      // The reader ends (end of input): the writer is interrupted with it.
      yield* alice.end
      assert.isTrue(Exit.isSuccess(yield* alice.exit))
      assert.strictEqual(yield* alice.awaitClose, "ended")
      yield* bob.send("still there?\n")
      yield* bob.awaitOutput("memory: still there?\n")
      assert.notInclude(yield* alice.outputText, "still there?")
    }).pipe(Effect.provide(Announcements.layer)))

  it.live("announce example: a writer that fails (its peer stopped reading) ends the reader and the connection", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const server = yield* serve(announce, { writeTimeout: "300 millis" })
      // Never reads: its writer's flush waits until the write timeout.
      yield* connect(server.port, { pause: true })
      const talker = yield* connect(server.port)
      const line = `${"x".repeat(1000)}\n`
      // Bounded: at most 50,000 lines (about 50 MB), stopping once the server gave up on the deaf client.
      for (let i = 0; i < 50_000 && !writeTimedOut(logs.lines); i++) {
        yield* talker.write(line)
        if (i % 100 === 99) yield* Effect.sleep("1 millis")
      }
      assert.isTrue(writeTimedOut(logs.lines), "the deaf client's connection was closed for its write timeout")
      // Its handler (the reader too) ended: only the talker is still served.
      yield* waitForActive(server, 1)
    }).pipe(Effect.provide(Announcements.layer), Effect.provide(logs.layer))
  })
})
