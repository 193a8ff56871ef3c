/**
 * Connection semantics over the in-memory connection (`TestConnection`): line
 * decoding, end of input, exact reads, the line limit and recovery, when
 * output is flushed, typed write failures, timeouts on the TestClock, and
 * cleanup on every way a handler can end.
 */
import { Buffer } from "node:buffer"
import { Readable, Writable } from "node:stream"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Latch from "effect/Latch"
import { TestClock } from "effect/testing"
import { echo } from "../../src/handlers/echo/Echo.ts"
import * as Internal from "../../src/internal/io/connection.ts"
import * as Limits from "../../src/internal/io/limits.ts"
import * as Endpoint from "../../src/internal/io/transport.ts"
import { Connection } from "../../src/services/Connection.ts"
import * as TestConnection from "../../src/testing/TestConnection.ts"

/** Reads lines until end of input. */
const readAll = (read: (conn: Connection) => Effect.Effect<unknown, unknown>) =>
  Effect.gen(function*() {
    const conn = yield* Connection
    const out: Array<unknown> = []
    while (true) {
      const result = yield* Effect.result(read(conn))
      if (result._tag === "Failure") {
        out.push(`<${(result.failure as { _tag: string })._tag}>`)
        return out
      }
      out.push(result.success)
    }
  })

/** An output that holds each write's completion until released, like a full pipe. */
const slowOutput = (highWaterMark: number) => {
  const held: Array<() => void> = []
  const output = new Writable({
    highWaterMark,
    write(_chunk, _encoding, callback) {
      held.push(() => callback())
    }
  })
  return { output, release: () => held.splice(0).forEach((complete) => complete()) }
}

/** Reads lines until end of input; returns them. */
const readAllLines = (conn: Connection) => {
  const lines: Array<string> = []
  return Effect.gen(function*() {
    while (true) lines.push(yield* conn.readLine)
  }).pipe(Effect.catchTag("EndOfInput", () => Effect.succeed(lines)))
}

const runLines = (input: ReadonlyArray<string | Uint8Array>, options?: TestConnection.RunOptions) =>
  Effect.gen(function*() {
    let lines: Array<unknown> = []
    const handler = Effect.map(readAll((conn) => conn.readLine), (out) => {
      lines = out
    })
    yield* TestConnection.run(handler, input, options)
    return lines
  })

/** Fails the test instead of hanging when something that must happen does not. */
const within = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.timeout(effect, Duration.seconds(5))

describe("Connection (in memory)", () => {
  describe("readLine", () => {
    it.effect("returns lines without their terminator; empty lines are lines", () =>
      Effect.gen(function*() {
        const lines = yield* runLines(["one\r\n", "\n", "two\n", "\r\n", "three\r", "\n"])
        assert.deepStrictEqual(lines, ["one", "", "two", "", "three", "<EndOfInput>"])
      }))

    it.effect("decodes UTF-8 split across chunks; invalid bytes become U+FFFD", () =>
      Effect.gen(function*() {
        const euro = Buffer.from("€") // 3 bytes
        const lines = yield* runLines([
          euro.subarray(0, 1),
          euro.subarray(1, 2),
          Buffer.concat([euro.subarray(2), Buffer.from("\n")]),
          Buffer.from([0x61, 0xff, 0x62, 0x0a])
        ])
        assert.deepStrictEqual(lines, ["€", "a\ufffdb", "<EndOfInput>"])
      }))

    it.effect("delivers a final unterminated line, then fails with EndOfInput", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* runLines(["a\nb", "c"]), ["a", "bc", "<EndOfInput>"])
        assert.deepStrictEqual(yield* runLines([]), ["<EndOfInput>"])
      }))

    it.effect("readLineBytes keeps the terminator exactly as received", () =>
      Effect.gen(function*() {
        let lines: Array<unknown> = []
        yield* TestConnection.run(
          Effect.map(
            readAll((conn) => Effect.map(conn.readLineBytes, (line) => Buffer.from(line).toString("latin1"))),
            (out) => {
              lines = out
            }
          ),
          ["a\r\n", "b\n", Buffer.from([0x00, 0xff]), "\r"]
        )
        assert.deepStrictEqual(lines, ["a\r\n", "b\n", "\x00\xff\r", "<EndOfInput>"])
      }))
  })

  describe("readExactly", () => {
    it.effect("reads a binary body after a header line", () =>
      Effect.gen(function*() {
        const handler = Effect.gen(function*() {
          const conn = yield* Connection
          const header = yield* conn.readLine
          const body = yield* conn.readExactly(Number(header.split(" ")[1]))
          const after = yield* conn.readLine
          // `write`, not `writeLine`: the body holds a line break of its own.
          yield* conn.write(`${header}|${Buffer.from(body).toString("latin1")}|${after}\n`)
        })
        const { output } = yield* TestConnection.run(handler, ["LEN 4\r\nab", "\n\x00", "next\n"])
        assert.strictEqual(output, "LEN 4|ab\n\x00|next\n")
      }))

    it.effect("fails with UnexpectedEndOfInput carrying the partial bytes", () =>
      Effect.gen(function*() {
        const handler = Effect.flatMap(Effect.service(Connection), (conn) => conn.readExactly(10))
        const { exit } = yield* TestConnection.run(handler, ["abc", "de"])
        const error = Exit.findErrorOption(exit)
        assert.isTrue(error._tag === "Some" && error.value._tag === "UnexpectedEndOfInput")
        if (error._tag === "Some" && error.value._tag === "UnexpectedEndOfInput") {
          assert.strictEqual(error.value.expected, 10)
          assert.strictEqual(Buffer.from(error.value.received).toString(), "abcde")
        }
      }))

    it.effect("fails with EndOfInput when the input ends before the block starts", () =>
      Effect.gen(function*() {
        const handler = Effect.flatMap(Effect.service(Connection), (conn) => conn.readExactly(4))
        const { exit } = yield* TestConnection.run(handler, [])
        assert.deepStrictEqual(Exit.findErrorOption(exit).pipe((e) => e._tag === "Some" && e.value._tag), "EndOfInput")
      }))
  })

  describe("maxLineLength", () => {
    it.effect("fails an over-long line with LineTooLong carrying the limit; the next read gets the next line", () =>
      Effect.gen(function*() {
        const handler = Effect.gen(function*() {
          const conn = yield* Connection
          while (true) {
            const line = yield* conn.readLine.pipe(
              Effect.catchTag("LineTooLong", (error) => Effect.succeed(`too long (limit ${error.limit})`))
            )
            yield* conn.writeLine(line)
          }
        }).pipe(Effect.catchTag("EndOfInput", () => Effect.void))
        const { output } = yield* TestConnection.run(handler, ["ok\n", "x".repeat(30), "x".repeat(30), "\nafter\n"], {
          maxLineLength: 8
        })
        assert.strictEqual(output, "ok\ntoo long (limit 8)\nafter\n")
      }))

    it.effect("defaults to 64 KiB", () =>
      Effect.gen(function*() {
        const lines = yield* runLines(["a".repeat(65536), "\n", "b".repeat(65537), "\n", "c\n"])
        const sizes = lines.map((line) => (String(line).startsWith("<") ? line : String(line).length))
        assert.deepStrictEqual(sizes, [65536, "<LineTooLong>"])
      }))
  })

  describe("writes", () => {
    it.effect("are flushed when the handler suspends waiting for input", () =>
      Effect.scoped(Effect.gen(function*() {
        const peer = yield* TestConnection.make()
        const handler = Effect.gen(function*() {
          const conn = yield* Connection
          yield* conn.writeLine("hello?")
          const name = yield* conn.readLine
          yield* conn.writeLine(`hi ${name}`)
          yield* conn.readLine
        })
        yield* Effect.forkChild(Effect.provideService(handler, Connection, peer.connection))
        assert.strictEqual(yield* within(peer.awaitOutput("hello?\n")), "hello?\n")
        yield* peer.send("ada\n")
        assert.strictEqual(yield* within(peer.awaitOutput("hi ada\n")), "hello?\nhi ada\n")
      })))

    it.effect("are held while the handler keeps working without waiting", () =>
      Effect.scoped(Effect.gen(function*() {
        const peer = yield* TestConnection.make()
        const gate = yield* Latch.make()
        const handler = Effect.gen(function*() {
          const conn = yield* Connection
          yield* conn.writeLine("partial")
          yield* gate.await
          yield* conn.flush
          yield* Effect.never
        })
        yield* Effect.forkChild(Effect.provideService(handler, Connection, peer.connection))
        yield* Effect.yieldNow
        assert.strictEqual(yield* peer.outputText, "", "nothing is sent before a flush point")
        yield* gate.open
        assert.strictEqual(yield* within(peer.awaitOutput("partial\n")), "partial\n")
      })))

    it.effect("are flushed when the buffer reaches the high-water mark", () =>
      Effect.scoped(Effect.gen(function*() {
        const peer = yield* TestConnection.make({ writeHighWaterMark: 1024 })
        const handler = Effect.gen(function*() {
          const conn = yield* Connection
          for (let i = 0; i < 100; i++) yield* conn.writeLine("x".repeat(99))
          yield* Effect.never
        })
        yield* Effect.forkChild(Effect.provideService(handler, Connection, peer.connection))
        const output = yield* within(peer.awaitOutput("x".repeat(99)))
        assert.isAtLeast(output.length, 1024)
        assert.isBelow(output.length, 100 * 100, "the tail waits for the next flush point")
      })))

    it.effect("keep their order when echoed views of one chunk are mixed with text", () =>
      Effect.gen(function*() {
        const handler = Effect.gen(function*() {
          const conn = yield* Connection
          const first = yield* conn.readLineBytes
          const second = yield* conn.readLineBytes
          yield* conn.write(first)
          yield* conn.writeLine("between")
          yield* conn.write(second)
          yield* conn.write(yield* conn.readLineBytes)
        })
        // One chunk: the three lines are adjacent views of the same buffer.
        const { output } = yield* TestConnection.run(handler, ["a\nb\nc\n"])
        assert.strictEqual(output, "a\nbetween\nb\nc\n")
      }))

    it.effect("are flushed when the handler ends, then the output is ended", () =>
      Effect.gen(function*() {
        const handler = Effect.flatMap(Effect.service(Connection), (conn) => conn.write("bye\r\n"))
        const { output, closed } = yield* TestConnection.run(handler, [])
        assert.strictEqual(output, "bye\r\n")
        assert.strictEqual(closed, "ended")
      }))

    it.live("still work after the input has ended and its stream has closed (half-close)", () =>
      Effect.gen(function*() {
        const handler = Effect.gen(function*() {
          const conn = yield* Connection
          const lines = yield* readAllLines(conn)
          yield* Effect.sleep("20 millis") // the ended input stream emits 'close' meanwhile
          yield* conn.writeLine(`got ${lines.join(",")}`)
        })
        const { output, exit, closed } = yield* TestConnection.run(handler, ["a\n", "b\n"])
        assert.isTrue(Exit.isSuccess(exit))
        assert.strictEqual(output, "got a,b\n")
        assert.strictEqual(closed, "ended")
      }))

    it.effect("to a peer that reset fail with ConnectionError, never hang", () =>
      Effect.gen(function*() {
        const handler = Effect.gen(function*() {
          const conn = yield* Connection
          yield* conn.write("late")
          yield* conn.flush
        })
        const { exit, closed } = yield* TestConnection.run(handler, ["a\n"], { ending: "reset" })
        assert.deepStrictEqual(Exit.findErrorOption(exit).pipe((e) => e._tag === "Some" && e.value._tag), "ConnectionError")
        assert.strictEqual(closed, "destroyed")
      }))

    it.effect("a read after a reset fails with ConnectionError (read, ECONNRESET)", () =>
      Effect.gen(function*() {
        const handler = Effect.flatMap(Effect.service(Connection), (conn) => conn.readLine)
        const { exit } = yield* TestConnection.run(handler, [], { ending: "reset" })
        const error = Exit.findErrorOption(exit)
        assert.isTrue(error._tag === "Some" && error.value._tag === "ConnectionError")
        if (error._tag === "Some" && error.value._tag === "ConnectionError") {
          assert.strictEqual(error.value.operation, "read")
          assert.strictEqual(error.value.code, "ECONNRESET")
        }
      }))
  })

  describe("timeouts (TestClock)", () => {
    it.effect("a read waiting longer than idleTimeout fails with IdleTimeout", () =>
      Effect.scoped(Effect.gen(function*() {
        const peer = yield* TestConnection.make({ idleTimeout: "5 minutes" })
        const fiber = yield* Effect.forkChild(peer.connection.readLine)
        yield* TestClock.adjust("4 minutes")
        yield* peer.send("early\n")
        assert.strictEqual(yield* Fiber.join(fiber), "early")
        const idle = yield* Effect.forkChild(Effect.flip(peer.connection.readLine))
        yield* TestClock.adjust("4 minutes")
        assert.isUndefined(idle.pollUnsafe(), "the clock restarts with each wait")
        yield* TestClock.adjust("1 minute")
        const error = yield* Fiber.join(idle)
        assert.strictEqual(error._tag, "IdleTimeout")
        if (error._tag === "IdleTimeout") assert.isTrue(Duration.equals(error.timeout, Duration.minutes(5)))
      })))

    it.effect("a line started but not complete within lineTimeout fails with LineTimeout, however often bytes come", () =>
      Effect.scoped(Effect.gen(function*() {
        const peer = yield* TestConnection.make({ lineTimeout: "10 seconds", idleTimeout: "5 seconds" })
        const trickled = yield* Effect.forkChild(Effect.flip(peer.connection.readLine))
        // One byte every 4 s: the idle timeout (5 s) never fires, the line timeout does.
        for (const byte of ["a", "b", "c"]) {
          yield* peer.send(byte)
          yield* TestClock.adjust("4 seconds")
        }
        const error = yield* Fiber.join(trickled)
        assert.strictEqual(error._tag, "LineTimeout")
        if (error._tag === "LineTimeout") {
          assert.strictEqual(error.received, 3)
          assert.isTrue(Duration.equals(error.timeout, Duration.seconds(10)))
        }
        // Each line gets its own window: slow lines that complete in time are fine.
        const next = yield* Effect.forkChild(peer.connection.readLine)
        yield* peer.send("\nsl")
        yield* TestClock.adjust("6 seconds")
        yield* peer.send("ow\n")
        assert.strictEqual(yield* Fiber.join(next), "abc")
        const slow = yield* Effect.forkChild(peer.connection.readLine)
        assert.strictEqual(yield* Fiber.join(slow), "slow")
      })))

    it.effect("a handler's own Effect.timeout around a read works and the line is not lost", () =>
      Effect.scoped(Effect.gen(function*() {
        const peer = yield* TestConnection.make()
        const fiber = yield* Effect.forkChild(
          peer.connection.readLine.pipe(Effect.timeoutOption("1 second"))
        )
        yield* TestClock.adjust("1 second")
        assert.deepStrictEqual((yield* Fiber.join(fiber))._tag, "None")
        yield* peer.send("later\n")
        assert.strictEqual(yield* peer.connection.readLine, "later")
      })))
  })

  describe("cleanup", () => {
    const ends = {
      success: Effect.void,
      failure: Effect.fail("boom"),
      defect: Effect.die("bug"),
      interruption: Effect.interrupt
    } as const
    for (const [name, ending] of Object.entries(ends)) {
      it.effect(`on ${name}: flushes what it can, releases once, runs the handler's finalizers once`, () =>
        Effect.gen(function*() {
          let finalized = 0
          const handler = Effect.gen(function*() {
            const conn = yield* Connection
            yield* Effect.addFinalizer(() => Effect.sync(() => finalized++))
            yield* conn.writeLine("last words")
            return yield* ending
          }).pipe(Effect.scoped)
          const { output, closed, exit } = yield* TestConnection.run(handler, [])
          assert.strictEqual(finalized, 1)
          assert.strictEqual(Exit.isSuccess(exit), name === "success")
          if (name === "interruption") {
            assert.strictEqual(closed, "destroyed")
          } else {
            assert.strictEqual(closed, "ended")
            assert.strictEqual(output, "last words\n")
          }
        }))
    }
  })

  describe("event ordering", () => {
    it.live("input that arrives while output is being flushed is not missed", () =>
      Effect.gen(function*() {
        // The peer sends its next line a little later, but ends its input at
        // once, inside the write of the last reply: that end arrives during
        // the flush that precedes the handler's wait, with no other event to
        // come.
        const input = new Readable({ read() {} })
        let replies = 0
        const output = new Writable({
          write(chunk: Buffer, _encoding, callback) {
            if (chunk.length > 0 && ++replies < 3) setImmediate(() => input.push(`line ${replies}\n`))
            else if (chunk.length > 0) input.push(null)
            callback()
          }
        })
        input.push("line 0\n")
        const handler = Effect.gen(function*() {
          const conn = yield* Internal.make(Endpoint.fromStreams(input, output, "eager"), Limits.resolve())
          yield* Effect.provideService(echo, Connection, conn)
        })
        const exit = yield* Effect.exit(within(Effect.scoped(handler)))
        assert.isTrue(Exit.isSuccess(exit), "the handler saw every line and the end of input")
        assert.strictEqual(replies, 3)
      }))
  })

  describe("several fibers on one connection", () => {
    it.live("a writer fiber waiting for drain does not take the place of the reader waiting for input", () =>
      Effect.gen(function*() {
        const input = new Readable({ read() {} })
        const { output, release } = slowOutput(16)
        const conn = yield* Internal.make(
          Endpoint.fromStreams(input, output, "two fibers"),
          // A short write timeout bounds the release at the end, whose last write is held too.
          Limits.resolve({ writeHighWaterMark: 16, writeTimeout: "100 millis" })
        )
        const reader = yield* Effect.forkChild(conn.readLine)
        yield* Effect.sleep("10 millis")
        const writer = yield* Effect.forkChild(Effect.andThen(conn.write("x".repeat(100)), conn.flush))
        yield* Effect.sleep("10 millis")
        assert.isUndefined(writer.pollUnsafe(), "the writer waits for the output to drain")
        release()
        yield* within(Fiber.join(writer))
        input.push("hello\n")
        assert.strictEqual(yield* within(Fiber.join(reader)), "hello")
      }).pipe(Effect.scoped))

    it.live("a second read while one is waiting is a defect, not a lost wake-up", () =>
      Effect.gen(function*() {
        const peer = yield* TestConnection.make()
        const first = yield* Effect.forkChild(peer.connection.readLine)
        yield* Effect.sleep("10 millis")
        const second = yield* Effect.exit(peer.connection.readLine)
        assert.isTrue(Exit.hasDies(second))
        yield* peer.send("still works\n")
        assert.strictEqual(yield* within(Fiber.join(first)), "still works")
      }).pipe(Effect.scoped))

    it.effect("a write timeout fires on time while a longer idle timeout is being watched (TestClock)", () =>
      Effect.gen(function*() {
        const input = new Readable({ read() {} })
        const { output } = slowOutput(16)
        const conn = yield* Internal.make(
          Endpoint.fromStreams(input, output, "timeouts"),
          Limits.resolve({ idleTimeout: "5 minutes", writeTimeout: "1 second", writeHighWaterMark: 16 })
        )
        yield* Effect.forkChild(conn.readLine) // the watchdog now sleeps toward the idle deadline
        yield* Effect.yieldNow
        const writer = yield* Effect.forkChild(Effect.flip(Effect.andThen(conn.write("x".repeat(100)), conn.flush)))
        yield* Effect.yieldNow
        yield* TestClock.adjust("2 seconds")
        const error = yield* Fiber.join(writer)
        assert.strictEqual(error._tag, "WriteTimeout")
      }).pipe(Effect.scoped))
  })

  it.effect("a connection used after its release fails at once with ConnectionError", () =>
    Effect.gen(function*() {
      const conn = yield* Effect.scoped(Effect.map(TestConnection.make(), (peer) => peer.connection))
      const read = yield* Effect.flip(conn.readLine)
      const write = yield* Effect.flip(Effect.andThen(conn.write("late"), conn.flush))
      assert.strictEqual(read._tag, "ConnectionError")
      assert.strictEqual(write._tag, "ConnectionError")
    }))

  describe("borrowed streams (stdin/stdout)", () => {
    it.live("release does not wait past the write timeout for a reader that never reads", () =>
      Effect.gen(function*() {
        const output = new Writable({ write() {} }) // never completes a write
        const input = new Readable({ read() {} })
        input.push(null)
        const handler = Effect.gen(function*() {
          const conn = yield* Internal.make(
            Endpoint.fromStreams(input, output, "stuck"),
            Limits.resolve({ writeTimeout: "200 millis" })
          )
          yield* conn.writeLine("nobody reads this")
        })
        const exit = yield* Effect.exit(within(Effect.scoped(handler)))
        assert.isTrue(Exit.isSuccess(exit), "the release gave up after the write timeout")
      }))

    it.live("release waits for output queued behind a slow reader, then completes", () =>
      Effect.gen(function*() {
        // An output that holds each write until released, like a full pipe,
        // while `write` keeps returning true (below its high-water mark).
        const held: Array<() => void> = []
        const written: Array<Buffer> = []
        const output = new Writable({
          highWaterMark: 1024 * 1024,
          write(chunk: Buffer, _encoding, callback) {
            written.push(chunk)
            held.push(() => callback())
          }
        })
        const input = new Readable({ read() {} })
        input.push(null)
        const handler = Effect.gen(function*() {
          const conn = yield* Internal.make(Endpoint.fromStreams(input, output, "borrowed"), Limits.resolve())
          yield* conn.writeLine("last words")
        })
        const released = yield* Effect.forkChild(Effect.scoped(handler))
        yield* Effect.sleep("50 millis")
        assert.isUndefined(released.pollUnsafe(), "release waits while the write is pending")
        assert.strictEqual(Buffer.concat(written).toString(), "last words\n")
        for (let i = 0; i < 200 && released.pollUnsafe() === undefined; i++) {
          held.splice(0).forEach((complete) => complete())
          yield* Effect.sleep("5 millis")
        }
        assert.isTrue(Exit.isSuccess(yield* Fiber.await(released)))
        assert.isFalse(output.writableEnded, "a borrowed output is never ended")
      }))
  })

  it.effect("runs the echo handler byte for byte", () =>
    Effect.gen(function*() {
      const input = ["hel", "lo\r\n", "\n", Buffer.from([0, 0xff, 0x0a]), "no newline"]
      const { output, outputBytes, exit } = yield* TestConnection.run(echo, input)
      assert.isTrue(Exit.isSuccess(exit))
      assert.deepStrictEqual(Buffer.from(outputBytes), Buffer.concat(input.map((part) => Buffer.from(part))))
      assert.strictEqual(output.slice(0, 8), "hello\r\n\n")
    }))
})
