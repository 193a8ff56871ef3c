/**
 * One member cannot flood the room: its nickname changes are limited (a
 * `/nick` over the limit tells only its sender and changes nothing), and
 * its lines are read no faster than its line rate, none lost. The token
 * bucket is checked as arithmetic, the limits on the TestClock with
 * in-memory peers, a flood of `/nick` with real TCP clients, and the flags
 * with the CLI as a process.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { TestClock } from "effect/testing"
import * as Chat from "../../../src/handlers/chat/Chat.ts"
import * as Bucket from "../../../src/handlers/chat/bucket.ts"
import { runCli } from "../../fixtures/cli.ts"
import { chatClientAs as clientAs, chatPeerAs as peerAs } from "../../fixtures/lineClient.ts"
import { captureLogs, serve } from "../../fixtures/server.ts"

const within = <A, E, R>(effect: Effect.Effect<A, E, R>, seconds = 5) =>
  Effect.timeout(effect, Duration.seconds(seconds))

const range = (n: number): Array<number> => Array.from({ length: n }, (_, i) => i)

/** The reply to a `/nick` over the default limit, `seconds` before the next token. */
const tooMany = (seconds: number) => `*** Nickname not changed: at most 3 changes a minute. Try again in ${seconds}s`

describe("token bucket", () => {
  it("starts full, gains one token an interval up to its capacity, and gives a refund back", () => {
    const bucket = Bucket.make(3, 20_000)
    assert.deepStrictEqual(range(4).map(() => bucket.take(0)), [true, true, true, false])
    assert.deepStrictEqual([bucket.wait(0), bucket.wait(5_000)], [20_000, 15_000])
    assert.isFalse(bucket.take(19_999))
    assert.isTrue(bucket.take(20_000))
    bucket.refund()
    assert.isTrue(bucket.take(20_000))
    assert.isFalse(bucket.take(20_000))
    // An hour later it holds its capacity, not more.
    assert.deepStrictEqual(range(4).map(() => bucket.take(3_620_000)), [true, true, true, false])
    // A clock set back neither gives nor takes.
    assert.isFalse(bucket.take(0))
    assert.isTrue(bucket.take(20_000))
  })
})

describe("chat limits, on the TestClock", () => {
  it.effect("a /nick over the limit tells only its sender and changes nothing; a refused nickname does not count", () =>
    Effect.gen(function*() {
      const alice = yield* peerAs("alice")
      const bob = yield* peerAs("bob")
      yield* alice.send("/nick bob\n/nick a1\n/nick a2\n/nick a3\n/nick a4\n")
      yield* alice.awaitOutput(`${tooMany(20)}\n`)
      yield* TestClock.adjust("10 seconds")
      yield* alice.send("/nick a4\n")
      yield* alice.awaitOutput(`${tooMany(10)}\n`)
      yield* TestClock.adjust("10 seconds")
      yield* alice.send("/nick a4\nhi\n")
      yield* alice.awaitOutput("*** You are now a4\n")
      yield* bob.awaitOutput("a4: hi\n")
      // The replies, without the notices alice gets from the room meanwhile.
      const replies = (yield* alice.outputText).split("\n").filter((line) => line !== "*** bob joined").join("\n")
      assert.isTrue(replies.endsWith(
        [
          "*** Nickname bob is taken",
          "*** You are now a1",
          "*** You are now a2",
          "*** You are now a3",
          tooMany(20),
          tooMany(10),
          "*** You are now a4",
          ""
        ].join("\n")
      ), replies)
      const bobOutput = yield* bob.outputText
      assert.isTrue(bobOutput.endsWith(
        ["*** alice is now a1", "*** a1 is now a2", "*** a2 is now a3", "*** a3 is now a4", "a4: hi", ""].join("\n")
      ), bobOutput)
    }).pipe(Effect.provide(Chat.layer())), 5_000) // virtual time: bounded by vitest instead

  it.effect("a member sending faster than its line rate is read at that rate, sees its replies meanwhile, and loses nothing", () =>
    Effect.gen(function*() {
      const alice = yield* peerAs("alice")
      const bob = yield* peerAs("bob")
      // Taken by alice's writer fiber, whose flush would flush the replies too.
      yield* alice.awaitOutput("*** bob joined\n")
      yield* alice.send(`/who\n${range(11).map((i) => `m${i}\n`).join("")}`)
      // A burst of 5 lines at once, the reply to /who among them...
      yield* bob.awaitOutput("alice: m3\n")
      yield* alice.awaitOutput("*** Here: alice, bob\n")
      // ...and not one more while the Clock stands still, however long the fibers run.
      yield* TestClock.withLive(Effect.sleep("100 millis"))
      assert.notInclude(yield* bob.outputText, "alice: m4")
      // Then one every 200 ms.
      for (const i of range(7)) {
        yield* TestClock.adjust("200 millis")
        yield* bob.awaitOutput(`alice: m${i + 4}\n`)
      }
      const received = (yield* bob.outputText).split("\n").filter((line) => line.startsWith("alice: "))
      assert.deepStrictEqual(received, range(11).map((i) => `alice: m${i}`))
    }).pipe(Effect.provide(Chat.layer({ linesPerSecond: 5 }))), 5_000) // virtual time: bounded by vitest instead
})

describe("chat limits over TCP", () => {
  it.live("a flood of 2,000 /nick lines reaches another member 3 times; the flooder is told the rest", () =>
    Effect.gen(function*() {
      const { port } = yield* serve(Chat.chat)
      const watcher = yield* clientAs(port, "watcher")
      const flooder = yield* clientAs(port, "flooder")
      yield* within(watcher.waitForLine("*** flooder joined"))
      yield* flooder.send(...range(2000).map((i) => `/nick f${i}`), "done")
      // Renamed three times, to f2, then refused: its message comes from f2.
      yield* within(watcher.waitForLine("f2: done"), 30)
      const refusals = yield* within(flooder.waitFor((lines) => {
        const refused = lines.filter((line) => line.startsWith("*** Nickname not changed: at most 3 changes a minute."))
        return refused.length >= 1997 ? refused : undefined
      }), 30)
      assert.strictEqual(refusals.length, 1997)
      assert.deepStrictEqual(watcher.lines.filter((line) => line.includes(" is now ")), [
        "*** flooder is now f0",
        "*** f0 is now f1",
        "*** f1 is now f2"
      ])
    }).pipe(
      // The line rate alone would make 2,000 lines take 100 s: off, to see the rename limit.
      Effect.provide(Chat.layer({ linesPerSecond: 0 })),
      Effect.provide(captureLogs().layer)
    ), 60_000)
})

describe("fiberline chat flags", () => {
  it.live("--renames-per-minute reaches the room; a bad limit is one line and exit 2", () =>
    Effect.gen(function*() {
      const run = yield* runCli(["chat", "--stdio", "--renames-per-minute", "1"], {
        stdin: "alice\n/nick b1\n/nick b2\n/quit\n"
      })
      assert.strictEqual(run.code, 0, run.stderr)
      assert.match(
        run.stdout.toString(),
        /\*\*\* You are now b1\n\*\*\* Nickname not changed: at most 1 change a minute\. Try again in \d+s\n\*\*\* Bye\n$/
      )
      for (
        const [flag, value, message] of [
          ["--renames-per-minute", "0", "invalid --renames-per-minute \"0\": expected a positive integer"],
          ["--lines-per-second", "-1", "invalid --lines-per-second \"-1\": expected 0 (no limit) or a positive integer"],
          // One number parser for every flag: an exponent is no integer.
          ["--outbox-bytes", "1e3", "invalid --outbox-bytes \"1e3\": expected a positive integer"]
        ] as const
      ) {
        const bad = yield* runCli(["chat", "--stdio", flag, value], { stdin: "" })
        assert.strictEqual(bad.code, 2)
        // The CLI's usage error: one line naming the flag and the value.
        assert.strictEqual(bad.stderr, `fiberline chat: ${message}\n`)
      }
    }), 60_000)
})
