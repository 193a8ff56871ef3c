/**
 * The server's registry of connections over real sockets, exact bytes:
 * `CLIENT LIST`/`INFO` describe each connection as it is (addresses, name,
 * flags, last command), `CLIENT KILL` ends the connections its filters name
 * (itself only after the reply), `CLIENT UNBLOCK` ends a blocked command's
 * wait, `CLIENT REPLY` silences replies but never pushed confirmations,
 * `PUBSUB` counts channels and patterns, `MONITOR` shows every command run,
 * and the idle `timeout` closes idle clients but not subscribers (on the
 * TestClock).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { TestClock } from "effect/testing"
import * as Keyspace from "../../../src/handlers/redis/keyspace.ts"
import * as Redis from "../../../src/handlers/redis/Redis.ts"
import * as TestConnection from "../../../src/testing/TestConnection.ts"
import { connect, type TestClient } from "../../fixtures/client.ts"
import { captureLogs, serve } from "../../fixtures/server.ts"
import { cmd, eventually, expectReplies } from "./support.ts"

const live = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.provide(Layer.merge(Redis.layer(), captureLogs().layer)))

/** A server on a free port, with its keyspace. */
const redisServer = Effect.gen(function*() {
  const server = yield* serve(Redis.handler())
  return { port: server.port, keyspace: yield* Keyspace.Keyspace }
})

/** The client's own address as the server sees it, and the server's. */
const addresses = (client: TestClient, port: number) => ({
  addr: `127.0.0.1:${client.socket.localPort}`,
  laddr: `127.0.0.1:${port}`
})

/** What `CLIENT LIST` says of a fresh idle connection, then `rest` (flags and after). */
const line = (id: number, addr: string, laddr: string, rest: string) =>
  `id=${id} addr=${addr} laddr=${laddr} ${rest}`

const bulk = (text: string) => `$${text.length}\r\n${text}\r\n`

/** `CLIENT ID` of `client`. */
const idOf = (client: TestClient) =>
  Effect.gen(function*() {
    const before = (yield* client.received).length
    yield* client.write(cmd("client", "id"))
    const all = yield* Effect.timeout(client.readUntil("\r\n"), Duration.seconds(10))
    return Number(/^:(\d+)\r\n/.exec(all.slice(before))![1])
  })

describe("CLIENT LIST, INFO, SETNAME", () => {
  it.live("each connection as it is: addresses, name, age and idle, flags, last command, library", () =>
    live(Effect.gen(function*() {
      const { port } = yield* redisServer
      const a = yield* connect(port)
      const b = yield* connect(port)
      const idA = yield* idOf(a)
      const idB = yield* idOf(b)
      const A = addresses(a, port)
      const B = addresses(b, port)
      yield* expectReplies(
        b,
        cmd("client", "setname", "worker") + cmd("client", "setinfo", "lib-name", "mylib") + cmd("multi"),
        "+OK\r\n+OK\r\n+OK\r\n"
      )
      const tail = "db=0 sub=0 psub=0 ssub=0"
      const listA = line(idA, A.addr, A.laddr, `name= age=0 idle=0 flags=N ${tail} multi=-1 multi-mem=0 omem=0 cmd=client|list user=default redir=-1 resp=2 lib-name= lib-ver=`)
      const listB = line(idB, B.addr, B.laddr, `name=worker age=0 idle=0 flags=x ${tail} multi=0 multi-mem=0 omem=0 cmd=multi user=default redir=-1 resp=2 lib-name=mylib lib-ver=`)
      yield* expectReplies(a, cmd("client", "list"), bulk(`${listA}\n${listB}\n`))
      yield* expectReplies(a, cmd("client", "list", "id", `${idB}`, "999"), bulk(`${listB.replace("cmd=multi", "cmd=multi")}\n`))
      yield* expectReplies(a, cmd("client", "info"), bulk(`${listA.replace("cmd=client|list", "cmd=client|info")}\n`))
      yield* expectReplies(
        a,
        cmd("client", "list", "type", "pubsub") + cmd("client", "list", "type", "bogus") + cmd("client", "list", "id", "x") +
          cmd("client", "list", "foo") + cmd("client", "setname", "a b") + cmd("client", "getname"),
        "$0\r\n\r\n-ERR Unknown client type 'bogus'\r\n-ERR Invalid client ID\r\n-ERR syntax error\r\n" +
          "-ERR Client names cannot contain spaces, newlines or special characters.\r\n$-1\r\n"
      )
    })))
})

describe("CLIENT KILL", () => {
  it.live("by address (old style: OK), by filters (a count), itself only after the reply", () =>
    live(Effect.gen(function*() {
      const { port } = yield* redisServer
      const killer = yield* connect(port)
      const victim = yield* connect(port)
      const other = yield* connect(port)
      yield* expectReplies(victim, cmd("ping"), "+PONG\r\n")
      const { addr } = addresses(victim, port)
      yield* expectReplies(killer, cmd("client", "kill", addr) + cmd("client", "kill", addr), "+OK\r\n-ERR No such client\r\n")
      const closed = yield* Effect.timeout(victim.closed, Duration.seconds(10))
      assert.strictEqual(closed.data.toString("latin1"), "+PONG\r\n")
      const otherId = yield* idOf(other)
      yield* expectReplies(killer, cmd("client", "kill", "id", `${otherId}`, "skipme", "yes"), ":1\r\n")
      yield* Effect.timeout(other.closed, Duration.seconds(10))
      // SKIPME NO kills this connection too, once it has answered.
      yield* killer.write(cmd("client", "kill", "type", "normal", "skipme", "no") + cmd("ping"))
      const self = yield* Effect.timeout(killer.closed, Duration.seconds(10))
      assert.strictEqual(self.data.toString("latin1").slice(-4), ":1\r\n")
      assert.isTrue(self.gotEnd, "closed gracefully after its reply")
    })))

  it.live("filters are read as Redis reads them, with its errors", () =>
    live(Effect.gen(function*() {
      const { port } = yield* redisServer
      const client = yield* connect(port)
      yield* expectReplies(
        client,
        cmd("client", "kill") + cmd("client", "kill", "id", "10", "wrong_arg") + cmd("client", "kill", "id", "str") +
          cmd("client", "kill", "id", "0") + cmd("client", "kill", "type", "wrong_type") +
          cmd("client", "kill", "user", "wrong_user") + cmd("client", "kill", "skipme", "maybe") +
          cmd("client", "kill", "id", "999", "user", "default") + cmd("client", "kill", "addr", "1.2.3.4:5", "laddr", "x"),
        "-ERR wrong number of arguments for 'client|kill' command\r\n-ERR syntax error\r\n" +
          "-ERR client-id should be greater than 0\r\n-ERR client-id should be greater than 0\r\n" +
          "-ERR Unknown client type 'wrong_type'\r\n-ERR No such user 'wrong_user'\r\n-ERR syntax error\r\n:0\r\n:0\r\n"
      )
    })))
})

describe("CLIENT UNBLOCK", () => {
  it.live("ends a blocked BLPOP as a timeout (a null array) or an error; 0 for a client not blocked", () =>
    live(Effect.gen(function*() {
      const { port, keyspace } = yield* redisServer
      const blocked = yield* connect(port)
      const admin = yield* connect(port)
      const id = yield* idOf(blocked)
      // What was answered before the BLPOP goes out while it waits.
      yield* blocked.write(cmd("ping") + cmd("blpop", "jobs", "0"))
      yield* Effect.timeout(blocked.readUntil("+PONG\r\n"), Duration.seconds(10))
      yield* eventually("the BLPOP waits", () => keyspace.waiting() === 1)
      const listed = (yield* Effect.gen(function*() {
        const before = (yield* admin.received).length
        yield* admin.write(cmd("client", "list", "id", `${id}`) + cmd("info", "clients"))
        return (yield* Effect.timeout(admin.readUntil("tracking_clients:0\r\n"), Duration.seconds(10))).slice(before)
      }))
      assert.include(listed, " flags=b ")
      assert.include(listed, "blocked_clients:1\r\n")
      yield* expectReplies(admin, cmd("client", "unblock", `${id}`), ":1\r\n")
      yield* Effect.timeout(blocked.readUntil("*-1\r\n"), Duration.seconds(10))
      yield* blocked.write(cmd("blpop", "jobs", "0"))
      yield* eventually("the BLPOP waits again", () => keyspace.waiting() === 1)
      yield* expectReplies(admin, cmd("client", "unblock", `${id}`, "ERROR"), ":1\r\n")
      yield* Effect.timeout(blocked.readUntil("-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"), Duration.seconds(10))
      assert.strictEqual(keyspace.waiting(), 0)
      yield* expectReplies(blocked, cmd("rpush", "jobs", "a"), ":1\r\n")
      yield* expectReplies(
        admin,
        cmd("client", "unblock", `${id}`) + cmd("client", "unblock", "asd") + cmd("client", "unblock", `${id}`, "later") +
          cmd("client", "unblock", `${id}`, "error", "x"),
        ":0\r\n-ERR value is not an integer or out of range\r\n-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n" +
          "-ERR unknown subcommand or wrong number of arguments for 'unblock'. Try CLIENT HELP.\r\n"
      )
    })))
})

describe("CLIENT REPLY", () => {
  it.live("OFF silences until ON, SKIP the next command only; errors too; ON is answered", () =>
    live(Effect.gen(function*() {
      const { port } = yield* redisServer
      const client = yield* connect(port)
      yield* expectReplies(
        client,
        cmd("client", "reply", "off") + cmd("ping", "a") + cmd("nosuch") + cmd("client", "reply", "on") + cmd("ping", "b") +
          cmd("client", "reply", "skip") + cmd("ping", "c") + cmd("ping", "d") + cmd("client", "reply", "skip") +
          cmd("client", "reply", "on") + cmd("ping", "e") + cmd("client", "reply", "maybe"),
        "+OK\r\n$1\r\nb\r\n$1\r\nd\r\n+OK\r\n$1\r\ne\r\n-ERR syntax error\r\n"
      )
    })))

  it.live("subscription confirmations and messages are pushed: REPLY OFF does not silence them", () =>
    live(Effect.gen(function*() {
      const { port } = yield* redisServer
      const subscriber = yield* connect(port)
      const publisher = yield* connect(port)
      yield* expectReplies(
        subscriber,
        cmd("client", "reply", "off") + cmd("subscribe", "ch") + cmd("psubscribe", "c*"),
        "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n*3\r\n$10\r\npsubscribe\r\n$2\r\nc*\r\n:2\r\n"
      )
      yield* expectReplies(publisher, cmd("publish", "ch", "hi"), ":2\r\n")
      const messages = "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n*4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$2\r\nhi\r\n"
      yield* Effect.timeout(subscriber.readUntil(messages), Duration.seconds(10))
      // PING's reply is silenced; the confirmation is not.
      yield* expectReplies(subscriber, cmd("ping") + cmd("unsubscribe", "ch"), "*3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:1\r\n")
    })))
})

describe("CLIENT flags and the rest", () => {
  it.live("NO-EVICT and NO-TOUCH show as flags e and T; GETREDIR is -1; HELP starts with Redis's header", () =>
    live(Effect.gen(function*() {
      const { port } = yield* redisServer
      const client = yield* connect(port)
      yield* expectReplies(
        client,
        cmd("client", "no-evict", "on") + cmd("client", "no-touch", "on") + cmd("client", "no-evict", "x") +
          cmd("client", "getredir"),
        "+OK\r\n+OK\r\n-ERR syntax error\r\n:-1\r\n"
      )
      yield* client.write(cmd("client", "info") + cmd("client", "help"))
      const all = yield* Effect.timeout(client.readUntil("+    Prints this help.\r\n"), Duration.seconds(10))
      assert.include(all, " flags=eT ")
      assert.include(all, "+CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n")
    })))
})

describe("PUBSUB", () => {
  it.live("CHANNELS (by pattern), NUMSUB, NUMPAT count what connections subscribe to; no shard channels", () =>
    live(Effect.gen(function*() {
      const { port } = yield* redisServer
      const a = yield* connect(port)
      const b = yield* connect(port)
      const admin = yield* connect(port)
      yield* a.write(cmd("subscribe", "news", "sport") + cmd("psubscribe", "n*", "s*"))
      yield* Effect.timeout(a.readUntil("$2\r\ns*\r\n:4\r\n"), Duration.seconds(10))
      yield* b.write(cmd("subscribe", "news") + cmd("psubscribe", "n*"))
      yield* Effect.timeout(b.readUntil("$2\r\nn*\r\n:2\r\n"), Duration.seconds(10))
      yield* expectReplies(
        admin,
        cmd("pubsub", "channels", "n*") + cmd("pubsub", "numsub", "news", "sport", "none") + cmd("pubsub", "numpat") +
          cmd("pubsub", "shardchannels") + cmd("pubsub", "shardnumsub", "x") + cmd("pubsub", "channels", "a", "b") +
          cmd("pubsub", "numpat", "x") + cmd("pubsub"),
        "*1\r\n$4\r\nnews\r\n*6\r\n$4\r\nnews\r\n:2\r\n$5\r\nsport\r\n:1\r\n$4\r\nnone\r\n:0\r\n:2\r\n*0\r\n" +
          "*2\r\n$1\r\nx\r\n:0\r\n" +
          "-ERR unknown subcommand or wrong number of arguments for 'channels'. Try PUBSUB HELP.\r\n" +
          "-ERR wrong number of arguments for 'pubsub|numpat' command\r\n" +
          "-ERR wrong number of arguments for 'pubsub' command\r\n"
      )
      yield* b.end
      yield* Effect.timeout(b.closed, Duration.seconds(10))
      yield* expectReplies(admin, cmd("pubsub", "numsub", "news") + cmd("pubsub", "numpat"), "*2\r\n$4\r\nnews\r\n:1\r\n:2\r\n")
    })))
})

describe("MONITOR", () => {
  it.live("shows each command run (inside EXEC too), quoted as Redis quotes it; admin commands are not shown", () =>
    live(Effect.gen(function*() {
      const { port } = yield* redisServer
      const monitor = yield* connect(port)
      const client = yield* connect(port)
      yield* expectReplies(monitor, cmd("monitor"), "+OK\r\n")
      const { addr } = addresses(client, port)
      yield* expectReplies(
        client,
        cmd("set", "a b", "x\"y\n\x01") + cmd("config", "get", "save") + cmd("multi") + cmd("get", "a b") + cmd("exec") +
          cmd("nosuch"),
        "+OK\r\n*2\r\n$4\r\nsave\r\n$0\r\n\r\n+OK\r\n+QUEUED\r\n*1\r\n$5\r\nx\"y\n\x01\r\n" +
          "-ERR unknown command 'nosuch', with args beginning with: \r\n"
      )
      const seen = yield* Effect.timeout(monitor.readUntil("\"exec\"\r\n"), Duration.seconds(10))
      const lines = seen.split("\r\n").slice(1, -1).map((text) => text.replace(/^\+\d+\.\d{6} /, ""))
      assert.deepStrictEqual(lines, [
        `[0 ${addr}] "set" "a b" "x\\"y\\n\\x01"`,
        `[0 ${addr}] "multi"`,
        `[0 ${addr}] "get" "a b"`,
        `[0 ${addr}] "exec"`
      ])
      // RESET ends monitoring.
      yield* monitor.write(cmd("reset"))
      yield* Effect.timeout(monitor.readUntil("+RESET\r\n"), Duration.seconds(10))
      yield* expectReplies(client, cmd("ping"), "+PONG\r\n")
      assert.isFalse((yield* monitor.received).toString("latin1").includes("\"ping\""))
    })))
})

describe("the idle timeout (CONFIG SET timeout)", () => {
  it.effect("closes a connection idle past it, not a subscriber, and not before", () =>
    Effect.gen(function*() {
      const handler = Redis.handler()
      const idle = yield* TestConnection.make()
      const subscriber = yield* TestConnection.make()
      const idleRun = yield* Effect.forkChild(handler(idle.connection))
      yield* Effect.forkChild(handler(subscriber.connection))
      yield* idle.send(cmd("config", "set", "timeout", "2"))
      yield* idle.awaitOutput("+OK\r\n")
      yield* subscriber.send(cmd("subscribe", "ch"))
      yield* subscriber.awaitOutput(":1\r\n")
      yield* TestClock.adjust("2 seconds")
      assert.isUndefined(idleRun.pollUnsafe(), "still open at the limit")
      yield* TestClock.adjust("1100 millis")
      assert.strictEqual(yield* idle.awaitClose, "destroyed")
      yield* Fiber.join(idleRun)
      yield* subscriber.send(cmd("ping"))
      yield* subscriber.awaitOutput("$4\r\npong\r\n")
    }).pipe(Effect.provide(Redis.layer())))
})
