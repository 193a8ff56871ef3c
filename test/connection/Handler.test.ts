/**
 * Handlers as users write them: as a function of their connection (so `conn`
 * is in scope where errors are caught) or as an Effect; with a scope of
 * their own per connection (finalizers, forked fibers) that the server
 * provides, visible in the types; with a writer fiber beside the reader;
 * and started on in-memory peers that are released when the handler exits.
 */
import { Buffer } from "node:buffer"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { expectTypeOf } from "vitest"
import { Connection, type Handler } from "../../src/services/Connection.ts"
import type { ServerError } from "../../src/ServerError.ts"
import * as LineServer from "../../src/services/LineServer.ts"
import * as TestConnection from "../../src/testing/TestConnection.ts"
import { connect } from "../fixtures/client.ts"
import { captureLogs, serve, waitForActive } from "../fixtures/server.ts"

const within = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.timeout(effect, Duration.seconds(10))

/** Says goodbye from a finalizer of the connection's scope, and forks a scoped fiber. */
const scopedHandler = Effect.gen(function*() {
  const conn = yield* Connection
  yield* Effect.addFinalizer(() => Effect.ignore(conn.writeLine("goodbye from a finalizer")))
  yield* Effect.forkScoped(Effect.never)
  yield* conn.writeLine(yield* conn.readLine)
})

// A function of the connection is a handler too.
const shout: Handler<never, never> = (conn) =>
  Effect.forever(Effect.flatMap(conn.readLine, (line) => conn.writeLine(line.toUpperCase()))).pipe(
    Effect.catchTag("ServerShuttingDown", () => conn.writeLine("BYE")),
    Effect.catch(() => Effect.void)
  )

/** Writes one text line and one line of bytes. */
const twoLines = (conn: Connection) =>
  Effect.gen(function*() {
    yield* conn.writeLine("text")
    yield* conn.writeLine(Buffer.from([0xff, 0x00, 0x41]))
  })

/** Writes a 5-byte block back as a line. */
const echoLine = (conn: Connection) => Effect.flatMap(conn.readExactly(5), (value) => conn.writeLine(value))

/** Greets one name, then returns. */
const greeter = (conn: Connection) =>
  Effect.gen(function*() {
    const name = yield* conn.readLine
    yield* conn.writeLine(`hello, ${name}`)
  })

/** Counts lines to the end of input. */
const counter = (conn: Connection) =>
  Effect.gen(function*() {
    let lines = 0
    yield* Effect.forever(Effect.tap(conn.readLine, () => Effect.sync(() => lines++))).pipe(
      Effect.catchTag("EndOfInput", () => conn.writeLine(`${lines} lines`))
    )
  })

describe("handlers", () => {
  it.live("get a scope per connection: finalizers run when it closes, and may still write", () =>
    Effect.gen(function*() {
      // Checked by the typecheck: a handler that needs a `Scope` gives a layer
      // with no requirements left, which `Layer.launch(...).pipe(NodeRuntime.runMain)`
      // accepts, and `make` needs only the caller's scope.
      expectTypeOf(LineServer.layer({ handler: scopedHandler })).toEqualTypeOf<
        Layer.Layer<LineServer.LineServer, ServerError, never>
      >()
      expectTypeOf(LineServer.make({ handler: scopedHandler })).toEqualTypeOf<
        Effect.Effect<LineServer.LineServer, ServerError, Scope.Scope>
      >()
      const { port } = yield* serve(scopedHandler)
      const client = yield* connect(port)
      yield* client.write("hello\n")
      const { data, gotEnd } = yield* within(client.closed)
      assert.strictEqual(data.toString(), "hello\ngoodbye from a finalizer\n")
      assert.isTrue(gotEnd)
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("as a function of the connection, keep conn in scope where errors are caught", () =>
    Effect.gen(function*() {
      const { port } = yield* serve(shout)
      const client = yield* connect(port)
      yield* client.write("hi there\n")
      yield* within(client.readUntil("HI THERE\n"))
      yield* client.end
      const { data } = yield* within(client.closed)
      assert.strictEqual(data.toString(), "HI THERE\n")
    }).pipe(Effect.provide(captureLogs().layer)))

  it.effect("run the same way in memory", () =>
    Effect.gen(function*() {
      const { output } = yield* TestConnection.run(shout, ["one\n", "two\n"])
      assert.strictEqual(output, "ONE\nTWO\n")
    }))
})

describe("writeLine", () => {
  it.effect("ends lines with the connection's line ending, for text and bytes", () =>
    Effect.gen(function*() {
      const crlf = yield* TestConnection.run(twoLines, [], { lineEnding: "\r\n" })
      assert.deepStrictEqual([...crlf.outputBytes], [...Buffer.from("text\r\n"), 0xff, 0x00, 0x41, 13, 10])
      const lf = yield* TestConnection.run(twoLines, [])
      assert.strictEqual(Buffer.from(lf.outputBytes).toString("latin1"), "text\n\xff\x00A\n")
    }))

  it.effect("refuses a line with a line break of its own, writes nothing of it, and goes on", () =>
    Effect.gen(function*() {
      const injected = ["a\nQUIT", "a\rb", Buffer.from("x\ny"), Buffer.from("x\ry")]
      const injecting = (conn: Connection) =>
        Effect.gen(function*() {
          for (const line of injected) {
            const error = yield* Effect.flip(conn.writeLine(line))
            assert.strictEqual(error._tag, "EmbeddedLineBreak")
            if (error._tag === "EmbeddedLineBreak") assert.strictEqual(error.index, 1)
          }
          yield* conn.writeLine("clean")
          // `write` stays raw.
          yield* conn.write("raw\r\nbytes\n")
        })
      const { output, exit } = yield* TestConnection.run(injecting, [])
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(output, "clean\nraw\r\nbytes\n")
    }))

  it.effect("an uncaught refusal ends only that connection, as a handler failure", () =>
    Effect.gen(function*() {
      const { exit, output } = yield* TestConnection.run(echoLine, ["ab\ncd"])
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(output, "")
    }))
})

describe("TestConnection.start", () => {
  it.effect("releases the connection when the handler exits: its last writes show and awaitClose resolves", () =>
    Effect.gen(function*() {
      const peer = yield* TestConnection.start(greeter)
      yield* peer.send("ada\n")
      assert.strictEqual(yield* peer.awaitClose, "ended")
      assert.strictEqual(yield* peer.outputText, "hello, ada\n")
      assert.isTrue(Exit.isSuccess(yield* peer.exit))
    }))

  it.effect("after the peer ends its input, a handler that reads to the end finishes by itself", () =>
    Effect.gen(function*() {
      const peer = yield* TestConnection.start(counter)
      yield* peer.send("a\nb\n")
      yield* peer.end
      const exit = yield* peer.exit
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(yield* peer.outputText, "2 lines\n")
    }))

  it.effect("awaitOutput of something never written dies once the connection has closed, showing what was written", () =>
    Effect.gen(function*() {
      const peer = yield* TestConnection.start(greeter)
      yield* peer.send("ada\n")
      const exit = yield* Effect.exit(peer.awaitOutput("goodbye"))
      assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause))
      const defect = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
      assert.strictEqual(
        (defect as Error).message,
        'awaitOutput: the connection closed (ended) and its output never held "goodbye"; it was "hello, ada\\n"'
      )
      assert.strictEqual(yield* peer.awaitOutput("ada"), "hello, ada\n")
    }))
})

describe("abort", () => {
  it.live("resets the connection at once, drops pending output, and fails later use with EABORTED", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      let afterwards = ""
      const quitter = (conn: Connection) =>
        Effect.gen(function*() {
          yield* conn.readLine
          yield* conn.write("never sent\n")
          yield* conn.abort
          const error = yield* Effect.flip(conn.write("nor this\n"))
          afterwards = error._tag === "ConnectionError" ? `${error._tag} ${error.code}` : error._tag
          // Still running: the reset does not wait for the handler to end.
          yield* Effect.sleep("30 seconds")
        })
      const { port } = yield* serve(quitter)
      const client = yield* connect(port)
      yield* client.write("go\n")
      const { data, error } = yield* Effect.timeout(client.closed, "5 seconds")
      assert.strictEqual(data.length, 0, "pending output dropped")
      assert.strictEqual(error, "ECONNRESET")
      assert.strictEqual(afterwards, "ConnectionError EABORTED")
    }).pipe(Effect.provide(logs.layer))
  })
})

it.live("a connection its handler aborted is closed with reason aborted", () => {
  const logs = captureLogs()
  return Effect.gen(function*() {
    const { port } = yield* serve((conn: Connection) => Effect.andThen(conn.readLine, conn.abort))
    const client = yield* connect(port)
    yield* client.write("go\n")
    yield* within(client.closed)
    yield* Effect.sleep("20 millis")
    assert.include(logs.lines.find((line) => line.message.startsWith("connection closed"))?.message, "aborted")
  }).pipe(Effect.provide(logs.layer))
})

it.live("a reset while both a reader and a writer fiber wait for drain ends the connection, not the process", () =>
  Effect.gen(function*() {
    const chunk = "x".repeat(64 * 1024)
    // The writer floods a peer that never reads; the reader answers each
    // line with a short reply, so its next read waits for the drain too.
    const both = (conn: Connection) =>
      Effect.raceFirst(
        Effect.forever(Effect.andThen(conn.readLine, conn.write("ok\n"))),
        Effect.forever(Effect.andThen(conn.write(chunk), conn.flush))
      )
    const server = yield* serve(both, { writeTimeout: "30 seconds" })
    const deaf = yield* connect(server.port, { pause: true })
    // Long enough for the kernel buffers to fill and the writer to wait.
    yield* Effect.sleep("300 millis")
    yield* deaf.write("go\n")
    yield* Effect.sleep("200 millis")
    yield* deaf.reset
    yield* waitForActive(server, 0)
    // Still serving.
    const next = yield* connect(server.port)
    yield* next.write("hello\n")
    assert.include(yield* within(next.readUntil("ok\n")), "ok\n")
  }).pipe(Effect.provide(captureLogs().layer)))

it.live("a fiber outside the connection's scope waiting on its drain is woken when the connection is released", () =>
  Effect.gen(function*() {
    const outcome = yield* Deferred.make<string>()
    const chunk = "x".repeat(64 * 1024)
    // The handler leaves a fiber behind (not in the connection's scope) that
    // floods a peer that never reads, then returns: the release must wake it.
    const leaky = (conn: Connection) =>
      Effect.andThen(
        Effect.forkDetach(
          Effect.forever(Effect.andThen(conn.write(chunk), conn.flush)).pipe(
            Effect.catch((error) => Deferred.succeed(outcome, error._tag))
          )
        ),
        Effect.sleep("300 millis")
      )
    const server = yield* serve(leaky, { writeTimeout: "60 seconds" })
    yield* connect(server.port, { pause: true })
    assert.strictEqual(yield* within(Deferred.await(outcome)), "ConnectionError")
  }).pipe(Effect.provide(captureLogs().layer)))

it.live("a handler function that returns no Effect fails its connection loudly, not silently", () => {
  const logs = captureLogs()
  return Effect.gen(function*() {
    // Forgot to return: a common slip, which must not leave the client hanging.
    const forgetful = ((conn: Connection) => {
      void conn.writeLine("hi")
    }) as unknown as Handler<never, never>
    const { port } = yield* serve(forgetful)
    const client = yield* connect(port)
    const { gotEnd } = yield* within(client.closed)
    assert.isTrue(gotEnd)
    yield* Effect.sleep("20 millis")
    const failed = logs.lines.find((line) => line.message.startsWith("handler failed"))
    assert.include(failed?.cause, "a handler function must return an Effect")
  }).pipe(Effect.provide(logs.layer))
})
