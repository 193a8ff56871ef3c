/**
 * The chat handler shows the library's idea at work: each connection is a
 * blocking-style reader with a writer fiber beside it, and connections meet
 * in a shared room service. Real TCP clients show it at scale (two dozen at
 * once, one that never reads, a shutdown); in-memory peers pin down the
 * protocol's details, and the room's slow-member policy is checked directly.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import { TestClock } from "effect/testing"
import * as Chat from "../../../src/handlers/chat/Chat.ts"
import * as LineServer from "../../../src/services/LineServer.ts"
import * as TestConnection from "../../../src/testing/TestConnection.ts"
import { connect } from "../../fixtures/client.ts"
import {
  chatClientAs,
  chatHelp as help,
  chatPeerAs as peerAs,
  chatWelcome as welcome,
  connectLines,
  type LineClient
} from "../../fixtures/lineClient.ts"
import { captureLogs, serve, waitForActive } from "../../fixtures/server.ts"

const within = <A, E, R>(effect: Effect.Effect<A, E, R>, seconds = 5) =>
  Effect.timeout(effect, Duration.seconds(seconds))

const invalid = "*** Invalid nickname: 1 to 16 letters, digits, '_' or '-', starting with a letter. Your nickname?"

const range = (n: number): Array<number> => Array.from({ length: n }, (_, i) => i)

/**
 * For the tests of the outbox policy, whose senders must send faster than
 * any person: no line rate (see test/protocols/chat/limits.test.ts for it).
 */
const unpaced = { linesPerSecond: 0 } as const

/** A client that took `nick` (waits for its greeting). */
const clientAs = (port: number, nick: string) => chatClientAs(port, nick, "5 seconds")

/**
 * The talker sends batches of 50 lines of 1 KB, each waited for at the
 * listener, until `nick` (not reading) has filled its socket buffers and its
 * outbox and was disconnected. Bounded: at most 1,000 batches (50 MB).
 * Returns the number of batches sent.
 */
const floodUntilDisconnected = (talker: LineClient, listener: LineClient, nick: string) =>
  Effect.gen(function*() {
    const line = "x".repeat(1000)
    const notice = `*** ${nick} was disconnected (not reading)`
    let batches = 0
    for (; batches < 1000 && !listener.lines.includes(notice); batches++) {
      yield* talker.send(...range(50).map((i) => `${batches}.${i} ${line}`))
      yield* within(listener.waitForLine(`talker: ${batches}.49 ${line}`))
    }
    yield* within(talker.waitForLine(notice))
    return batches
  })

describe("chat, in memory", () => {
  it.live("asks again after an invalid or taken nickname (unique regardless of case), then greets and announces", () =>
    Effect.gen(function*() {
      const alice = yield* peerAs("alice")
      const bob = yield* TestConnection.start(Chat.chat)
      yield* bob.send(`9lives\n${"b".repeat(17)}\n\nbad nick\nALICE\nbob\n`)
      yield* within(alice.awaitOutput("*** bob joined\n"))
      assert.strictEqual(
        yield* within(bob.awaitOutput(help)),
        [
          welcome,
          invalid,
          invalid,
          invalid,
          invalid,
          "*** Nickname ALICE is taken. Your nickname?",
          `*** Hello bob. Here: alice, bob. ${help}`,
          ""
        ].join("\n")
      )
      assert.strictEqual(
        yield* alice.outputText,
        `${welcome}\n*** Hello alice. Here: alice. ${help}\n*** bob joined\n`
      )
    }).pipe(Effect.provide(Chat.layer())))

  it.live("relays messages and actions to the others only; answers /who, /nick and unknown commands; /quit leaves", () =>
    Effect.gen(function*() {
      const alice = yield* peerAs("alice")
      const bob = yield* peerAs("bob")
      const carol = yield* peerAs("carol")
      yield* within(alice.awaitOutput("*** carol joined\n"))
      yield* alice.send("hi all\n\n/me waves\n/who\n/nick ally\n/nick BOB\n/nick a:b\n/dance\n/quit\n")
      assert.isTrue(Exit.isSuccess(yield* within(alice.exit)))
      assert.strictEqual(yield* within(alice.awaitClose), "ended")
      assert.strictEqual(
        yield* alice.outputText,
        [
          welcome,
          `*** Hello alice. Here: alice. ${help}`,
          "*** bob joined",
          "*** carol joined",
          "*** Here: alice, bob, carol",
          "*** You are now ally",
          "*** Nickname BOB is taken",
          "*** Invalid nickname: 1 to 16 letters, digits, '_' or '-', starting with a letter",
          `*** Unknown command. ${help}`,
          "*** Bye",
          ""
        ].join("\n")
      )
      const seen = ["alice: hi all", "* alice waves", "*** alice is now ally", "*** ally left", ""].join("\n")
      assert.strictEqual(yield* within(bob.awaitOutput("*** ally left\n")), [
        welcome,
        `*** Hello bob. Here: alice, bob. ${help}`,
        "*** carol joined",
        seen
      ].join("\n"))
      assert.isTrue((yield* within(carol.awaitOutput("*** ally left\n"))).endsWith(`${help}\n${seen}`))
      // Who is left, seen from someone still there.
      yield* bob.send("/who\n")
      yield* within(bob.awaitOutput("*** Here: bob, carol\n"))
    }).pipe(Effect.provide(Chat.layer())))

  it.live("relays a peer's text on one line: control characters are replaced, and the recipients' sessions go on", () =>
    Effect.gen(function*() {
      const alice = yield* peerAs("alice")
      const bob = yield* peerAs("bob")
      yield* alice.send("evil\rbob: forged\u001b[2J\u2028x\n/me \u0000dances\r\n/nick x\ry\nstill here\n")
      yield* within(bob.awaitOutput("alice: still here\n"))
      assert.isTrue(
        (yield* bob.outputText).endsWith("alice: evil\uFFFDbob: forged\uFFFD[2J\uFFFDx\n* alice \uFFFDdances\nalice: still here\n")
      )
      // The refused nickname is not echoed back.
      yield* within(alice.awaitOutput("*** Invalid nickname: 1 to 16"))
      assert.notInclude(yield* alice.outputText, "x\ry")
    }).pipe(Effect.provide(Chat.layer())))

  it.live("gives a nickname to exactly one of many connections asking for it at once", () =>
    Effect.gen(function*() {
      const peers = yield* Effect.forEach(range(12), () => TestConnection.start(Chat.chat))
      for (const peer of peers) yield* peer.send("same\n")
      const outcomes = yield* Effect.forEach(peers, (peer) =>
        within(Effect.raceFirst(
          Effect.as(peer.awaitOutput("*** Hello same."), "joined"),
          Effect.as(peer.awaitOutput("*** Nickname same is taken"), "refused")
        )))
      assert.strictEqual(outcomes.filter((outcome) => outcome === "joined").length, 1)
      assert.strictEqual(outcomes.filter((outcome) => outcome === "refused").length, 11)
    }).pipe(Effect.provide(Chat.layer())))

  it.live("a burst from one sender does not overflow the outboxes of members who read", () =>
    Effect.gen(function*() {
      const alice = yield* peerAs("alice")
      const bob = yield* peerAs("bob")
      // 500 lines of about 40 bytes in one chunk: 20 KB against 1 KiB outboxes.
      yield* alice.send(range(500).map((i) => `line ${i} ${"x".repeat(30)}\n`).join(""))
      yield* within(bob.awaitOutput(`alice: line 499 `))
      assert.notInclude(yield* alice.outputText, "disconnected")
      yield* bob.send("/who\n")
      yield* within(bob.awaitOutput("*** Here: alice, bob\n"))
    }).pipe(Effect.provide(Chat.layer({ outboxBytes: 1024, ...unpaced }))))

  it.effect("ends an idle session: the client is told, the others get a leave notice", () =>
    Effect.gen(function*() {
      const alice = yield* peerAs("alice")
      const bob = yield* peerAs("bob", { idleTimeout: "1 minute" })
      yield* TestClock.adjust("61 seconds")
      const error = Exit.findErrorOption(yield* bob.exit)
      assert.isTrue(Option.isSome(error) && error.value._tag === "IdleTimeout", "the server sees an idle timeout")
      assert.isTrue((yield* bob.outputText).endsWith(`${help}\n*** No input for 1m. Bye\n`))
      yield* within(alice.awaitOutput("*** bob left (idle)\n"))
    }).pipe(Effect.provide(Chat.layer())), 5_000) // virtual time: bounded by vitest instead
})

/** The lines waiting in a member's outbox (waits for one at least), bounded. */
const take = (member: Chat.Member) =>
  within(Effect.map(member.outbox.takeAll, (messages) => messages.map((message) => message.line)))

describe("chat room", () => {
  it.live("disconnects a member whose outbox overflows at once and tells the others; the sender never waits", () =>
    Effect.gen(function*() {
      const room = yield* Chat.Room
      const a = yield* room.join("a")
      const b = yield* room.join("b")
      const c = yield* room.join("c")
      yield* take(a)
      yield* take(b)
      const received: Array<string> = []
      // 21 bytes a line: c's 100-byte outbox takes four, the fifth disconnects it.
      for (const i of range(10)) {
        yield* room.say(a, `a: line ${i} xxxxxxxxxx`)
        received.push(...(yield* take(b)))
      }
      yield* within(c.dropped)
      assert.deepStrictEqual(yield* take(c), range(4).map((i) => `a: line ${i} xxxxxxxxxx`))
      assert.deepStrictEqual(received, [
        ...range(5).map((i) => `a: line ${i} xxxxxxxxxx`),
        "*** c was disconnected (not reading)",
        ...range(5).map((i) => `a: line ${i + 5} xxxxxxxxxx`)
      ])
      assert.deepStrictEqual(yield* take(a), ["*** c was disconnected (not reading)"])
      assert.deepStrictEqual(yield* room.nicks, ["a", "b"])
      // Gone for good: a leave does nothing, and the nickname is free again.
      yield* room.leave(c, "left")
      yield* room.join("C")
      assert.deepStrictEqual(yield* take(b), ["*** C joined"])
      // An empty outbox takes one line of any size.
      yield* room.say(a, "y".repeat(500))
      assert.deepStrictEqual(yield* take(b), ["y".repeat(500)])
      assert.deepStrictEqual(yield* room.nicks, ["a", "b", "C"])
    }).pipe(Effect.provide(Chat.layer({ outboxBytes: 100 }))))
})

describe("chat over TCP", () => {
  it.live("speaks the protocol with real clients: nicknames, messages, actions, /who, /nick, leaving by /quit, end of input or reset", () =>
    Effect.gen(function*() {
      const { port } = yield* serve(Chat.chat)
      const alice = yield* clientAs(port, "alice")
      const bob = yield* connectLines(port)
      yield* within(bob.waitForLine(welcome))
      yield* bob.send("b b", "Alice", "bob")
      yield* within(alice.waitForLine("*** bob joined"))
      yield* alice.send("hello bob")
      yield* within(bob.waitForLine("alice: hello bob"))
      yield* bob.send("/me waves", "/who", "/nick robert")
      yield* within(alice.waitForLine("*** bob is now robert"))
      yield* bob.send("/quit")
      const bobClosed = yield* within(bob.closed)
      assert.deepStrictEqual(bob.lines, [
        welcome,
        invalid,
        "*** Nickname Alice is taken. Your nickname?",
        `*** Hello bob. Here: alice, bob. ${help}`,
        "alice: hello bob",
        "*** Here: alice, bob",
        "*** You are now robert",
        "*** Bye"
      ])
      assert.deepStrictEqual(bobClosed, { gotEnd: true, error: undefined, rest: "" })
      yield* within(alice.waitForLine("*** robert left"))
      const carol = yield* clientAs(port, "carol")
      yield* carol.end
      yield* within(alice.waitForLine("*** carol left"))
      assert.isTrue((yield* within(carol.closed)).gotEnd)
      const dave = yield* clientAs(port, "dave")
      dave.socket.resetAndDestroy()
      yield* within(alice.waitForLine("*** dave left (connection lost)"))
      assert.deepStrictEqual(alice.lines.slice(2), [
        "*** bob joined",
        "* bob waves",
        "*** bob is now robert",
        "*** robert left",
        "*** carol joined",
        "*** carol left",
        "*** dave joined",
        "*** dave left (connection lost)"
      ])
    }).pipe(Effect.provide(Chat.layer()), Effect.provide(captureLogs().layer)))

  it.live("24 clients sending at once: every other client gets every message, in each sender's order", () =>
    Effect.gen(function*() {
      const clients = 24
      const messages = 5
      const { port } = yield* serve(Chat.chat)
      const all = yield* Effect.forEach(range(clients), (i) => clientAs(port, `c${i}`), { concurrency: "unbounded" })
      // Each sends its lines one write at a time, all clients at once.
      yield* Effect.forEach(
        all,
        (client, i) => Effect.forEach(range(messages), (j) => client.send(`m${j} from c${i}`), { discard: true }),
        { concurrency: "unbounded", discard: true }
      )
      const expected = (clients - 1) * messages
      for (const [i, client] of all.entries()) {
        const received = yield* within(client.waitFor((lines) => {
          const chat = lines.filter((line) => /^c\d+: m\d+ from c\d+$/.test(line))
          return chat.length >= expected ? chat : undefined
        }))
        assert.strictEqual(received.length, expected, `c${i} got no more than expected`)
        for (const sender of range(clients)) {
          const from = received.filter((line) => line.startsWith(`c${sender}: `))
          const wanted = sender === i ? [] : range(messages).map((j) => `c${sender}: m${j} from c${sender}`)
          assert.deepStrictEqual(from, wanted, `c${i} from c${sender}`)
        }
      }
    }).pipe(Effect.provide(Chat.layer()), Effect.provide(captureLogs().layer)))

  it.live("a client that never reads is disconnected once its outbox overflows; the others chat on without waiting for it", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      // A write timeout long enough to tell the outbox's overflow from it.
      const server = yield* serve(Chat.chat, { writeTimeout: "3 seconds" })
      const talker = yield* clientAs(server.port, "talker")
      const listener = yield* clientAs(server.port, "listener")
      // Never reads: not even the welcome.
      const deaf = yield* connect(server.port, { pause: true })
      yield* deaf.write("deaf\n")
      yield* within(talker.waitForLine("*** deaf joined"))
      const batches = yield* floodUntilDisconnected(talker, listener, "deaf")
      assert.isAbove(batches, 1, "the deaf client took some lines before its outbox filled")
      // The others chat on.
      yield* listener.send("still here?")
      yield* within(talker.waitForLine("listener: still here?"))
      yield* talker.send("yes")
      yield* within(listener.waitForLine("talker: yes"))
      yield* talker.send("/who")
      yield* within(talker.waitForLine("*** Here: listener, talker"))
      // All of that happened while the deaf connection was still open, flushing
      // its last line under its write timeout. So it was disconnected for its
      // outbox (a write timeout sends the same notice but closes the connection
      // with it), and nobody waited for it.
      assert.strictEqual((yield* server.stats).active, 3, "the deaf connection is still open")
      assert.isFalse(logs.lines.some((log) => log.message.includes("write-timeout")), "no write timeout yet")
      // The deaf connection ends when its last line cannot be flushed within the write timeout.
      yield* waitForActive(server, 2)
      assert.isTrue(logs.lines.some((log) => log.message.includes("write-timeout")), "closed for its write timeout")
      deaf.socket.resume()
      assert.strictEqual((yield* within(deaf.closed)).error, "ECONNRESET")
    }).pipe(Effect.provide(Chat.layer(unpaced)), Effect.provide(logs.layer))
  })

  it.live("a slow client that catches up after its disconnect reads why, then the server closes cleanly", () =>
    Effect.gen(function*() {
      const { port } = yield* serve(Chat.chat)
      const talker = yield* clientAs(port, "talker")
      const listener = yield* clientAs(port, "listener")
      const slow = yield* clientAs(port, "slow")
      slow.socket.pause()
      yield* floodUntilDisconnected(talker, listener, "slow")
      slow.socket.resume()
      const closed = yield* within(slow.closed)
      assert.deepStrictEqual(closed, { gotEnd: true, error: undefined, rest: "" })
      assert.strictEqual(slow.lines.at(-1), "*** Disconnected: you were not reading")
      assert.isTrue(slow.lines.at(-2)!.startsWith("talker: "), "its lines stop where its outbox overflowed")
    }).pipe(Effect.provide(Chat.layer(unpaced)), Effect.provide(captureLogs().layer)))

  it.live("on shutdown every client gets the goodbye line, then a clean close, and no connection is forced", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const server = yield* LineServer.make({ handler: Chat.chat, port: 0, shutdownTimeout: "5 seconds" }).pipe(
        Scope.provide(scope)
      )
      const port = LineServer.port(server)
      const joined = yield* Effect.forEach(range(5), (i) => clientAs(port, `c${i}`))
      yield* within(joined[0]!.waitForLine("*** c4 joined"))
      // Still choosing a nickname.
      const choosing = yield* connectLines(port)
      yield* within(choosing.waitForLine(welcome))
      yield* within(Scope.close(scope, Exit.void))
      for (const client of [...joined, choosing]) {
        const closed = yield* within(client.closed)
        assert.deepStrictEqual(closed, { gotEnd: true, error: undefined, rest: "" })
        assert.strictEqual(client.lines.at(-1), "*** Server shutting down. Bye")
      }
      // A connection that had waited for the shutdown timeout would be forced.
      const stats = yield* server.stats
      assert.deepStrictEqual([stats.drained, stats.forced], [6, 0])
    }).pipe(Effect.provide(Chat.layer()), Effect.provide(captureLogs().layer)))

  it.live("an over-long line gets a reply and the session goes on", () =>
    Effect.gen(function*() {
      const { port } = yield* serve(Chat.chat, { maxLineLength: 64 })
      const alice = yield* clientAs(port, "alice")
      const bob = yield* connectLines(port)
      yield* within(bob.waitForLine(welcome))
      yield* bob.send("b".repeat(100))
      yield* within(bob.waitForLine("*** Line too long (over 64 bytes). Your nickname?"))
      yield* bob.send("bob")
      yield* within(alice.waitForLine("*** bob joined"))
      yield* alice.send("y".repeat(65), "short one")
      yield* within(alice.waitForLine("*** Line too long (over 64 bytes). Not sent."))
      yield* within(bob.waitForLine("alice: short one"))
      assert.isFalse(bob.lines.some((line) => line.includes("yyy")))
    }).pipe(Effect.provide(Chat.layer()), Effect.provide(captureLogs().layer)))
})
