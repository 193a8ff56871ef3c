/**
 * `fiberline chat --redis URL` as processes: two chat servers sharing a
 * room through a `fiberline redis` broker process (no real Redis needed),
 * driven by TCP clients. Messages and notices cross once, nicknames are
 * unique across the processes, `/who` lists everyone, a drained server's
 * leave notices cross, and a broker that is killed and started again is
 * survived. Then the command's own failures: a bad URL, a broker that
 * refuses, and no `redis` package — and that without `--redis` the package
 * is never loaded.
 */
import * as Url from "node:url"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { type CliProcess, listeningPort, runCli, spawnCli } from "../../fixtures/cli.ts"
import {
  chatClientAs,
  chatHelp,
  chatReachable as reachable,
  chatUnreachable as unreachable,
  chatWelcome as welcome,
  connectLines,
  type LineClient
} from "../../fixtures/lineClient.ts"

/** Per test: several CLI processes boot (slow on a loaded machine), each wait bounded by the fixture. */
const timeout = 120_000

const within = <A, E, R>(effect: Effect.Effect<A, E, R>, seconds = 30) => Effect.timeout(effect, Duration.seconds(seconds))

/** `fiberline redis` on `port` (0: a free one) with JSON logs; its process and port. */
const startBroker = (port = 0) =>
  Effect.gen(function*() {
    const cli = yield* spawnCli(["redis", "--port", String(port), "--log-format", "json"])
    return { cli, port: yield* listeningPort(cli) }
  })

/** `fiberline chat --redis` on a free port, sharing the room through the broker on `brokerPort`. */
const startChat = (brokerPort: number) =>
  Effect.gen(function*() {
    const cli = yield* spawnCli(["chat", "--redis", `redis://127.0.0.1:${brokerPort}`, "--port", "0", "--log-format", "json"])
    return { cli, port: yield* listeningPort(cli) }
  })

/** A client that took `nick` (waits for its greeting). */
const clientAs = (port: number, nick: string) => chatClientAs(port, nick, "30 seconds")

const lineCount = (client: LineClient, line: string) => client.lines.filter((candidate) => candidate === line).length

const stop = (cli: CliProcess) =>
  Effect.gen(function*() {
    yield* cli.signal("SIGTERM")
    return (yield* cli.exited()).code
  })

/** The environment that hides the `redis` package from a child (see the fixture). */
const withoutRedis = {
  NODE_OPTIONS: `--import=${Url.pathToFileURL(`${import.meta.dirname}/../../fixtures/withoutRedis.ts`).href}`
}

describe("fiberline chat --redis", () => {
  it.live("two processes share a room: lines and notices cross once, nicknames are unique, /who lists everyone, a drain's leave notices cross", () =>
    Effect.gen(function*() {
      const broker = yield* startBroker()
      const [a, b] = yield* Effect.all([startChat(broker.port), startChat(broker.port)], { concurrency: 2 })
      const alice = yield* clientAs(a.port, "alice")
      const bob = yield* connectLines(b.port)
      yield* within(bob.waitForLine(welcome))
      yield* bob.send("Alice", "bob")
      yield* within(alice.waitForLine("*** bob joined"))
      yield* alice.send("hi bob", "/me waves")
      yield* within(bob.waitForLine("* alice waves"))
      yield* bob.send("/who", "hi alice")
      yield* within(alice.waitForLine("bob: hi alice"))
      assert.deepStrictEqual(bob.lines, [
        welcome,
        "*** Nickname Alice is taken. Your nickname?",
        `*** Hello bob. Here: alice, bob. ${chatHelp}`,
        "alice: hi bob",
        "* alice waves",
        "*** Here: alice, bob"
      ])
      // A second member on A sees its neighbour's lines once, not once more through the broker.
      const carol = yield* clientAs(a.port, "carol")
      yield* alice.send("to both")
      yield* within(bob.waitForLine("alice: to both"))
      yield* bob.send("seen")
      yield* within(carol.waitForLine("bob: seen"))
      assert.strictEqual(lineCount(carol, "alice: to both"), 1)
      assert.strictEqual(lineCount(bob, "alice: to both"), 1)
      // A drains: its members leave, and B hears it.
      assert.strictEqual(yield* stop(a.cli), 0)
      yield* within(bob.waitForLine("*** alice left (server shutting down)"))
      yield* within(bob.waitForLine("*** carol left (server shutting down)"))
      assert.strictEqual(yield* stop(b.cli), 0)
    }), timeout)

  it.live("the broker is killed and started again: members are told both times, chat crosses again, nicknames are claimed again", () =>
    Effect.gen(function*() {
      const broker = yield* startBroker()
      const [a, b] = yield* Effect.all([startChat(broker.port), startChat(broker.port)], { concurrency: 2 })
      const alice = yield* clientAs(a.port, "alice")
      const bob = yield* clientAs(b.port, "bob")
      yield* broker.cli.signal("SIGKILL")
      yield* within(Effect.all([alice.waitForLine(unreachable), bob.waitForLine(unreachable)]))
      yield* a.cli.waitForLog("chat broker unreachable")
      yield* startBroker(broker.port)
      yield* within(Effect.all([alice.waitForLine(reachable), bob.waitForLine(reachable)]))
      yield* b.cli.waitForLog("chat broker reachable again")
      yield* alice.send("still there?")
      yield* within(bob.waitForLine("alice: still there?"))
      const other = yield* connectLines(b.port)
      yield* within(other.waitForLine(welcome))
      yield* other.send("ALICE")
      yield* within(other.waitForLine("*** Nickname ALICE is taken. Your nickname?"))
      assert.strictEqual(yield* stop(a.cli), 0)
      assert.strictEqual(yield* stop(b.cli), 0)
    }), timeout)

  describe("failures, each one line on stderr", () => {
    it.live("a URL that is not redis:// is a usage error: exit 2, nothing bound", () =>
      Effect.gen(function*() {
        const { code, stderr } = yield* runCli(["chat", "--redis", "localhost:6379", "--port", "0"])
        assert.strictEqual(code, 2)
        assert.strictEqual(stderr, `fiberline chat: --redis: expected a URL such as redis://127.0.0.1:6379, got "localhost:6379"\n`)
      }), timeout)

    it.live("a broker that refuses at startup: exit 1, its address named (password hidden)", () =>
      Effect.gen(function*() {
        const { code, stderr } = yield* runCli(["chat", "--redis", "redis://user:secret@127.0.0.1:1", "--port", "0"])
        assert.strictEqual(code, 1)
        const lines = stderr.trimEnd().split("\n")
        assert.strictEqual(lines.length, 1, stderr)
        assert.match(lines[0]!, /ERROR cannot connect to the chat broker at redis:\/\/user:\*\*\*@127\.0\.0\.1:1: connect ECONNREFUSED/)
      }), timeout)

    it.live("without the redis package, --redis is a usage error (exit 2); without --redis, it is never loaded", () =>
      Effect.gen(function*() {
        const missing = yield* runCli(["chat", "--redis", "redis://127.0.0.1:6379", "--port", "0"], { env: withoutRedis })
        assert.strictEqual(missing.code, 2)
        const lines = missing.stderr.trimEnd().split("\n").filter((line) => line !== "loading redis")
        assert.deepStrictEqual(lines.length, 1, missing.stderr)
        assert.match(lines[0]!, /^fiberline chat: --redis needs the "redis" package \(npm install redis\): Cannot find package 'redis'/)
        const alone = yield* runCli(["chat", "--stdio"], { env: withoutRedis, stdin: "alice\n/who\n/quit\n" })
        assert.strictEqual(alone.code, 0)
        assert.include(alone.stdout.toString(), "*** Here: alice\n*** Bye\n")
        assert.notInclude(alone.stderr, "loading redis")
      }), timeout)
  })
})
