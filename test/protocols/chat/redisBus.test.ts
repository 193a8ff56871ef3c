/**
 * A chat room shared over Redis pub/sub: two rooms, as two processes would
 * have them, each with its own node-redis client (Effect's `NodeRedis`),
 * meeting through a `fiberline redis` broker on loopback — the same
 * LineServer and handler the CLI runs, so no real Redis is needed. Peers are
 * in memory. What crosses and what does not, nicknames across rooms, `/who`,
 * what the broker may not be trusted with, and the broker going away and
 * coming back. `ChatRedisCli.test.ts` does the same with processes.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redis from "effect/persistence/Redis"
import * as Scope from "effect/Scope"
import * as Chat from "../../../src/handlers/chat/Chat.ts"
import * as Nicks from "../../../src/handlers/chat/nicks.ts"
import * as NodeRedisRoom from "../../../src/handlers/chat/nodeRedis.ts"
import type { RedisRoomOptions } from "../../../src/handlers/chat/redisBus.ts"
import * as RedisServer from "../../../src/handlers/redis/Redis.ts"
import * as LineServer from "../../../src/services/LineServer.ts"
import * as TestConnection from "../../../src/testing/TestConnection.ts"
import { chatPeerAs, chatReachable as reachable, chatUnreachable as unreachable } from "../../fixtures/lineClient.ts"
import { captureLogs, type LogLine } from "../../fixtures/server.ts"

const within = <A, E, R>(effect: Effect.Effect<A, E, R>, seconds = 10) => Effect.timeout(effect, Duration.seconds(seconds))

const range = (n: number): Array<number> => Array.from({ length: n }, (_, i) => i)

/** How often `text` occurs in `all`. */
const count = (all: string, text: string) => all.split(text).length - 1

/**
 * A `fiberline redis` broker on `port` (0: a free one), in a scope of its
 * own so a test can stop it (every connection cut at once, as a crash
 * would) and start another on the same port.
 */
const broker = (port = 0) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const server = yield* LineServer.make({ handler: RedisServer.handler(), port, lineEnding: "\r\n", shutdownTimeout: 0 }).pipe(
      Effect.provide(RedisServer.layer()),
      Scope.provide(scope)
    )
    return { port: LineServer.port(server), stop: Scope.close(scope, Exit.void) }
  })

/** A room shared through the broker on `port`, as `fiberline chat --redis` builds it. */
const room = (port: number, options?: RedisRoomOptions) => Layer.build(NodeRedisRoom.layer(`redis://127.0.0.1:${port}`, options))

/** A plain client of the broker, for looking at the keys and publishing frames. */
const rawClient = (port: number) =>
  Effect.map(
    Layer.build(NodeRedis.layer({ url: `redis://127.0.0.1:${port}`, RESP: 2 })),
    (context) => Context.get(context, Redis.Redis)
  )

/** A member of `inRoom`: a peer that took `nick` (waits for its greeting). */
const peerAs = (inRoom: Context.Context<Chat.Room>, nick: string) =>
  chatPeerAs(nick, undefined, "10 seconds").pipe(Effect.provide(inRoom))

/** Waits until the broker holds no claim of `nick` (a release is sent in the background). */
const released = (raw: Redis.Redis["Service"], nick: string) =>
  within(
    Effect.gen(function*() {
      while ((yield* raw.send("GET", `chat:nick:${nick.toLowerCase()}`)) !== null) yield* Effect.sleep("10 millis")
    })
  )

const logged = (lines: ReadonlyArray<LogLine>, message: string) => lines.filter((line) => line.message.startsWith(message))

describe("chat shared over Redis", () => {
  it.live("a line said in one room reaches the other room's members once; joins, actions, renames and leaves cross", () =>
    Effect.gen(function*() {
      const { port } = yield* broker()
      const a = yield* room(port)
      const b = yield* room(port)
      const alice = yield* peerAs(a, "alice")
      const carol = yield* peerAs(a, "carol")
      const bob = yield* peerAs(b, "bob")
      yield* within(alice.awaitOutput("*** bob joined\n"))
      assert.include(yield* bob.outputText, "*** Hello bob. Here: alice, bob, carol.")
      yield* alice.send("hi bob\n/me waves\n/nick ally\n/quit\n")
      yield* within(bob.awaitOutput("*** ally left\n"))
      yield* bob.send("hi all\n")
      yield* within(carol.awaitOutput("bob: hi all\n"))
      const seen = ["alice: hi bob", "* alice waves", "*** alice is now ally", "*** ally left", ""].join("\n")
      assert.isTrue((yield* bob.outputText).endsWith(seen))
      // The same lines, once each, for the member in the sender's own room.
      assert.isTrue((yield* carol.outputText).endsWith(`${seen}bob: hi all\n`))
      // The sender's own lines do not come back to it through the broker.
      assert.strictEqual(count(yield* alice.outputText, "hi bob"), 0)
      assert.strictEqual(count(yield* carol.outputText, "hi bob"), 1)
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("a nickname held in one room is taken in the other, regardless of case, until its member leaves", () =>
    Effect.gen(function*() {
      const { port } = yield* broker()
      const raw = yield* rawClient(port)
      const a = yield* room(port)
      const b = yield* room(port)
      const alice = yield* peerAs(a, "alice")
      const other = yield* TestConnection.start(Chat.chat).pipe(Effect.provide(b))
      yield* other.send("ALICE\n")
      yield* within(other.awaitOutput("*** Nickname ALICE is taken. Your nickname?\n"))
      yield* alice.send("/nick Al\n")
      yield* within(alice.awaitOutput("*** You are now Al\n"))
      // The old nickname is given back by its owner, the new one is held.
      yield* released(raw, "alice")
      yield* other.send("al\nALICE\n")
      yield* within(other.awaitOutput("*** Hello ALICE."))
      assert.include(yield* other.outputText, "*** Nickname al is taken. Your nickname?\n")
      yield* alice.send("/quit\n")
      yield* released(raw, "al")
      const again = yield* peerAs(b, "AL")
      assert.include(yield* again.outputText, "Here: AL, ALICE.")
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("of many connections in two rooms asking for one nickname at once, exactly one gets it", () =>
    Effect.gen(function*() {
      const { port } = yield* broker()
      const rooms = [yield* room(port), yield* room(port)]
      const peers = yield* Effect.forEach(range(12), (i) => TestConnection.start(Chat.chat).pipe(Effect.provide(rooms[i % 2]!)))
      yield* Effect.forEach(peers, (peer) => peer.send("same\n"), { concurrency: "unbounded", discard: true })
      const outcomes = yield* Effect.forEach(peers, (peer) =>
        within(Effect.raceFirst(
          Effect.as(peer.awaitOutput("*** Hello same."), "joined"),
          Effect.as(peer.awaitOutput("*** Nickname same is taken"), "refused")
        )))
      assert.strictEqual(outcomes.filter((outcome) => outcome === "joined").length, 1)
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("/who lists the members of every room; a claim left by a process that died drops out when it expires", () =>
    Effect.gen(function*() {
      const { port } = yield* broker()
      const raw = yield* rawClient(port)
      const a = yield* room(port)
      const b = yield* room(port)
      const alice = yield* peerAs(a, "alice")
      yield* peerAs(b, "Bob")
      // A member of a process that died without releasing its claim.
      yield* raw.send("SET", "chat:nick:ghost", "0dead0beef00 Ghost", "PX", "500")
      yield* raw.send("SADD", "chat:nicks", "ghost")
      yield* alice.send("/who\n")
      yield* within(alice.awaitOutput("*** Here: alice, Bob, Ghost\n"))
      yield* Effect.sleep("600 millis")
      yield* alice.send("/who\n")
      yield* within(alice.awaitOutput("*** Here: alice, Bob\n"))
      assert.deepStrictEqual((yield* raw.send<Array<string>>("SMEMBERS", "chat:nicks")).toSorted(), ["alice", "bob"])
      yield* peerAs(b, "ghost")
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("a claim outlives its TTL while its member is here: the room refreshes it", () =>
    Effect.gen(function*() {
      const { port } = yield* broker()
      const a = yield* room(port, { nickTtl: "600 millis" })
      const b = yield* room(port, { nickTtl: "600 millis" })
      yield* peerAs(a, "alice")
      yield* Effect.sleep("1500 millis")
      const other = yield* TestConnection.start(Chat.chat).pipe(Effect.provide(b))
      yield* other.send("alice\n")
      yield* within(other.awaitOutput("*** Nickname alice is taken. Your nickname?\n"))
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("a room that closes with its members still publishes their leave notices, and releases their nicknames", () =>
    Effect.gen(function*() {
      const { port } = yield* broker()
      const raw = yield* rawClient(port)
      const bob = yield* peerAs(yield* room(port), "bob")
      const scope = yield* Scope.make()
      const a = yield* room(port).pipe(Scope.provide(scope))
      yield* Effect.forEach(range(5), (i) => peerAs(a, `m${i}`).pipe(Scope.provide(scope)), { discard: true })
      yield* within(bob.awaitOutput("*** m4 joined\n"))
      // The members are interrupted first (the last one first), then the room closes.
      yield* Scope.close(scope, Exit.void)
      const all = yield* within(bob.awaitOutput("*** m0 left\n"))
      assert.isTrue(all.endsWith(range(5).map((i) => `*** m${4 - i} left\n`).join("")), all)
      assert.deepStrictEqual(yield* raw.send("SMEMBERS", "chat:nicks"), ["bob"])
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("frames from the broker are not trusted: a line is made one line, a malformed frame is logged and skipped", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const { port } = yield* broker()
      const raw = yield* rawClient(port)
      const bob = yield* peerAs(yield* room(port), "bob")
      yield* raw.send("PUBLISH", "chat:room", "not json")
      yield* raw.send("PUBLISH", "chat:room", JSON.stringify({ origin: "elsewhere", lines: "not an array" }))
      yield* raw.send("PUBLISH", "chat:room", JSON.stringify({ origin: "elsewhere", lines: ["eve: x\r*** forged", "eve: ok"] }))
      yield* within(bob.awaitOutput("eve: ok\n"))
      assert.isTrue((yield* bob.outputText).endsWith("\neve: x\uFFFD*** forged\neve: ok\n"))
      assert.deepStrictEqual(logged(logs.lines, "chat frame ignored").length, 2)
    }).pipe(Effect.provide(logs.layer))
  })

  it.live("the broker goes away: members are told, each room chats on alone; it comes back: told again, lines cross, nicknames are claimed again", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const first = yield* broker()
      const a = yield* room(first.port)
      const b = yield* room(first.port)
      const alice = yield* peerAs(a, "alice")
      const carol = yield* peerAs(a, "carol")
      const bob = yield* peerAs(b, "bob")
      yield* first.stop
      yield* within(Effect.all([alice.awaitOutput(unreachable), carol.awaitOutput(unreachable), bob.awaitOutput(unreachable)]))
      // Within a room, chat goes on; nothing crosses.
      yield* alice.send("while away\n")
      yield* within(carol.awaitOutput("alice: while away\n"))
      yield* bob.send("/who\n")
      yield* within(bob.awaitOutput("*** Here: bob\n"))
      // The same port again, empty: the claims are gone with the old broker.
      const second = yield* broker(first.port)
      const raw = yield* rawClient(second.port)
      yield* within(Effect.all([alice.awaitOutput(reachable), bob.awaitOutput(reachable)]), 20)
      // Claimed again as soon as the room is back.
      const roomA = (yield* raw.send<string>("GET", "chat:nick:carol")).split(" ")[0]
      assert.strictEqual(yield* raw.send("GET", "chat:nick:alice"), `${roomA} alice`)
      yield* bob.send("back\n")
      yield* within(alice.awaitOutput("bob: back\n"))
      assert.notInclude(yield* bob.outputText, "while away")
      const other = yield* TestConnection.start(Chat.chat).pipe(Effect.provide(b))
      yield* other.send("Alice\n")
      yield* within(other.awaitOutput("*** Nickname Alice is taken. Your nickname?\n"))
      assert.strictEqual(logged(logs.lines, "chat broker unreachable").length, 2, "one warning per room")
      const back = logged(logs.lines, "chat broker reachable again")
      assert.strictEqual(back.length, 2)
      // alice's line was not relayed while the broker was away.
      assert.include(back.map((line) => line.message).join("\n"), `"lost":1`)
    }).pipe(Effect.provide(logs.layer))
  }, 60_000)
})

/** The claims of process `instance`; `held` plays the members here. */
const claims = (raw: Redis.Redis["Service"], instance: string, held: Set<string> = new Set()) =>
  Nicks.make(raw, { prefix: "chat", instance, ttlMillis: 10_000, holds: (nick) => held.has(nick.toLowerCase()) })

describe("nickname claims", () => {
  it.live("only the owner releases a claim, and not while one of its members holds the nickname again", () =>
    Effect.gen(function*() {
      const { port } = yield* broker()
      const raw = yield* rawClient(port)
      const heldByA = new Set<string>()
      const a = yield* claims(raw, "aaaa", heldByA)
      const b = yield* claims(raw, "bbbb")
      assert.isTrue(yield* a.claim("Alice"))
      assert.isFalse(yield* b.claim("alice"))
      yield* b.release("alice")
      assert.strictEqual(yield* raw.send("GET", "chat:nick:alice"), "aaaa Alice")
      // A member of A took it again before A's release ran.
      heldByA.add("alice")
      yield* a.release("alice")
      assert.strictEqual(yield* raw.send("GET", "chat:nick:alice"), "aaaa Alice")
      heldByA.delete("alice")
      yield* a.release("alice")
      assert.isNull(yield* raw.send("GET", "chat:nick:alice"))
      assert.isTrue(yield* b.claim("ALICE"))
      assert.deepStrictEqual(yield* a.everyone, ["ALICE"])
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("a refresh extends this process's claims, claims again the lost ones and names those held elsewhere", () =>
    Effect.gen(function*() {
      const { port } = yield* broker()
      const raw = yield* rawClient(port)
      const a = yield* claims(raw, "aaaa")
      const b = yield* claims(raw, "bbbb")
      assert.isTrue(yield* a.claim("kept"))
      yield* raw.send("PEXPIRE", "chat:nick:kept", "100")
      // Both let in while the broker was away; B claimed it first after.
      assert.isTrue(yield* b.claim("twice"))
      assert.deepStrictEqual(yield* a.refresh(["kept", "lost", "twice"]), ["twice"])
      assert.isAbove(yield* raw.send<number>("PTTL", "chat:nick:kept"), 1000)
      assert.strictEqual(yield* raw.send("GET", "chat:nick:lost"), "aaaa lost")
      assert.strictEqual(yield* raw.send("GET", "chat:nick:twice"), "bbbb twice")
      assert.deepStrictEqual((yield* a.everyone).toSorted(), ["kept", "lost", "twice"])
    }).pipe(Effect.provide(captureLogs().layer)))
})
