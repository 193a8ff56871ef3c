/**
 * End to end, with the real components: HAProxy in front of two `fiberline
 * chat` processes that share their room through a real `redis-server`.
 *
 * ```text
 *  client (127.0.0.2) ──▶ haproxy :F ──PROXY v2──▶ fiberline chat :A ─┐
 *  client (127.0.0.2) ──▶  (mode tcp,  ──PROXY v2──▶ fiberline chat :B ─┴─▶ redis-server :R
 *                          round robin)                                     (pub/sub, nicknames)
 * ```
 *
 * It checks that fiberline logs the real client address that HAProxy's
 * PROXY v2 header carries (`127.0.0.2`, not HAProxy's `127.0.0.1`), that the
 * two clients landed on different processes (by the exact source port each
 * process logged), that a message sent to one process reaches the client of
 * the other exactly once, that the join notice and the nickname claim are
 * shared, and that everything stops cleanly. It prints each check with its
 * evidence, then exits 0 if all passed, 1 if any failed or a step timed out
 * (every wait is bounded, the whole run too), 2 if a prerequisite is
 * missing. Every process it starts is stopped by its PID, and its temporary
 * directory (the HAProxy config) removed.
 *
 * **Needs** Node 24, a built CLI (`npm run e2e` builds it), loopback
 * addresses beyond 127.0.0.1 (Linux routes all of 127.0.0.0/8), and the
 * Debian (or Ubuntu) packages `redis-server` and `haproxy` (2.x):
 *
 * ```sh
 * sudo apt-get update && sudo apt-get install -y redis-server haproxy
 * npm run e2e
 * ```
 *
 * A plain Node script rather than a test: CI has neither package, and the
 * suite covers the same behaviours with `fiberline redis` as the broker
 * (`test/protocols/chat/redisCli.test.ts`).
 */
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { Effect } from "effect"
import { LineClient } from "fiberline"
import * as Redis from "../examples/redisClient.ts"
import {
  check,
  type Child,
  executable,
  Failed,
  failed,
  freePort,
  killAll,
  listensOn,
  report,
  root,
  say,
  start,
  stop,
  until,
  watchdog
} from "./support.ts"

const cli = Path.join(root, "dist", "cli", "main.js")
/** The whole run, start to stop. */
const runLimit = 90_000
/** Any one wait. */
const waitLimit = 20_000
/** Where clients connect from: a loopback address other than HAProxy's own. */
const clientAddress = "127.0.0.2"

/** The JSON log lines of a `fiberline --log-format json` child whose message is `message`, as their fields. */
const logs = (child: Child, message: string) =>
  child.lines.flatMap((line) => {
    try {
      const entry = JSON.parse(line) as Record<string, unknown>
      return entry.message === message ? [entry] : []
    } catch {
      return []
    }
  })

/** A chat client through HAProxy, from {@link clientAddress}. */
const client = async (port: number) => {
  const socket = Net.connect({ host: "127.0.0.1", port, localAddress: clientAddress })
  const lines: Array<string> = []
  let rest = ""
  socket.setEncoding("utf8")
  socket.on("data", (chunk: string) => {
    const parts = (rest + chunk).split("\n")
    rest = parts.pop()!
    lines.push(...parts)
  })
  socket.on("error", () => {})
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve)
    socket.once("error", reject)
  })
  return {
    socket,
    lines,
    /** `host:port` as fiberline should log it: the client's own address, not HAProxy's. */
    source: `${socket.localAddress}:${socket.localPort}`,
    send: (line: string) => socket.write(`${line}\n`),
    waitFor: (what: string, match: (line: string) => boolean) => until(what, () => lines.find(match))
  }
}

/** GET over a fresh connection, with the Redis client of `examples/redisClient.ts`; `(nil)` when there is none. */
const redisGet = (port: number, key: string) =>
  Effect.runPromise(
    Effect.scoped(Effect.flatMap(LineClient.connect({ port }), (conn) => Redis.get(conn, key))).pipe(
      Effect.map((value) => value ?? "(nil)"),
      Effect.timeout(waitLimit)
    )
  )

const run = async (dir: string, redisServer: string, haproxy: string) => {
  const [redisPort, portA, portB, frontPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()])
  say(`temporary directory ${dir}`)

  const redis = start("redis-server", redisServer, [
    "--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir
  ], Path.join(dir, "redis.log"))
  say(`$ ${redis.command}`)
  await until("redis-server ready", () => redis.lines.find((line) => line.includes("Ready to accept connections")))

  const chat = (name: string, port: number) =>
    start(name, process.execPath, [
      cli, "chat", "--redis", `redis://127.0.0.1:${redisPort}`, "--proxy-protocol", "v2", "--trusted-proxies", "127.0.0.1",
      "--port", String(port), "--log-format", "json", "--log-level", "debug"
    ], Path.join(dir, `${name}.log`))
  const chats = [chat("chat-a", portA), chat("chat-b", portB)] as const
  for (const child of chats) say(`$ ${child.command}`)
  const instances = await Promise.all(chats.map(async (child) => {
    await until(`${child.name} listening`, () => logs(child, "listening")[0])
    return String(logs(child, "chat room shared")[0]?.instance)
  }))

  const config = Path.join(dir, "haproxy.cfg")
  Fs.writeFileSync(config, [
    "global",
    "    log stderr format raw local0 info",
    "    maxconn 256",
    "defaults",
    "    mode tcp",
    "    log global",
    "    option tcplog",
    "    timeout connect 5s",
    "    timeout client 1h",
    "    timeout server 1h",
    "frontend chat",
    `    bind 127.0.0.1:${frontPort}`,
    "    default_backend chats",
    "backend chats",
    "    balance roundrobin",
    `    server a 127.0.0.1:${portA} send-proxy-v2`,
    `    server b 127.0.0.1:${portB} send-proxy-v2`,
    ""
  ].join("\n"))
  say(`haproxy.cfg:\n${Fs.readFileSync(config, "utf8").trimEnd().replace(/^/gm, "    ")}`)
  const proxy = start("haproxy", haproxy, ["-db", "-f", config], Path.join(dir, "haproxy.log"))
  say(`$ ${proxy.command}`)
  await until("haproxy listening", () => (listensOn(frontPort) ? true : undefined))

  const alice = await client(frontPort)
  await alice.waitFor("the welcome", (line) => line.startsWith("*** Welcome"))
  alice.send("alice")
  await alice.waitFor("alice's greeting", (line) => line.startsWith("*** Hello alice."))
  const bob = await client(frontPort)
  await bob.waitFor("the welcome", (line) => line.startsWith("*** Welcome"))
  bob.send("bob")
  await bob.waitFor("bob's greeting", (line) => line.startsWith("*** Hello bob."))

  /** The chat process that logged `connection opened` for exactly `source` (the client's own address and port). */
  const landing = (source: string) =>
    until(`a connection opened from ${source}`, () => {
      const index = chats.findIndex((child) => logs(child, "connection opened").some((log) => log.client === source))
      return index === -1 ? undefined : index
    }, 5_000).catch(() => -1)
  const [aliceAt, bobAt] = [await landing(alice.source), await landing(bob.source)]
  const opened = (index: number, source: string) =>
    index === -1
      ? `no process logged a connection opened from ${source}`
      : `${chats[index]!.name}: ${chats[index]!.lines.find((line) => line.includes('"connection opened"') && line.includes(`"${source}"`))}`
  check(
    `fiberline logs each client's own address and port (${clientAddress}:…, from HAProxy's PROXY v2 header), not HAProxy's`,
    aliceAt !== -1 && bobAt !== -1 && alice.source.startsWith(`${clientAddress}:`),
    `alice's socket is ${alice.source}; ${opened(aliceAt, alice.source)}\nbob's socket is ${bob.source}; ${opened(bobAt, bob.source)}`
  )
  if (aliceAt === -1 || bobAt === -1) throw new Failed("cannot tell where the clients landed")
  check(
    "the two clients landed on different fiberline processes (round robin)",
    aliceAt !== bobAt,
    `alice ${alice.source} -> ${chats[aliceAt]!.name} (instance ${instances[aliceAt]}), bob ${bob.source} -> ${
      chats[bobAt]!.name
    } (instance ${instances[bobAt]})`
  )

  await alice.waitFor("bob's join notice", (line) => line === "*** bob joined")
  check("bob's join notice crossed to alice's process", true, "alice got: *** bob joined")
  alice.send("hello from the other process")
  await bob.waitFor("alice's message", (line) => line === "alice: hello from the other process")
  bob.send("got it")
  await alice.waitFor("bob's reply", (line) => line === "bob: got it")
  const copies = bob.lines.filter((line) => line === "alice: hello from the other process").length
  check(
    "a message sent to one process reaches the client of the other, exactly once",
    copies === 1,
    `bob got "alice: hello from the other process" ${copies} time(s); alice got "bob: got it"`
  )
  bob.send("/who")
  const who = await bob.waitFor("bob's /who", (line) => line.startsWith("*** Here:"))
  const claim = await redisGet(redisPort, "chat:nick:alice")
  check(
    "nicknames are claimed in redis-server by the process that holds them; /who lists both processes",
    who === "*** Here: alice, bob" && claim === `${instances[aliceAt]} alice`,
    `redis GET chat:nick:alice -> "${claim}"; bob's /who -> ${who}`
  )

  alice.send("/quit")
  bob.send("/quit")
  await Promise.all([alice.waitFor("alice's bye", (line) => line === "*** Bye"), bob.waitFor("bob's bye", (line) => line === "*** Bye")])
  const codes = await Promise.all(chats.map((child) => stop(child, "SIGTERM", 15_000)))
  const proxyCode = await stop(proxy, "SIGUSR1", 15_000)
  const redisCode = await stop(redis, "SIGTERM", 15_000)
  check(
    "every process stops cleanly on its signal",
    codes.every((code) => code === 0) && proxyCode === 0 && redisCode === 0,
    [
      `chat-a ${codes[0]}, chat-b ${codes[1]} (SIGTERM); haproxy ${proxyCode} (SIGUSR1, soft stop); redis-server ${redisCode} (SIGTERM)`,
      "haproxy's own log:",
      ...proxy.lines.filter((line) => line.includes(clientAddress)).map((line) => `  ${line}`)
    ].join("\n")
  )
}

const main = async () => {
  const redisServer = executable("redis-server")
  const haproxy = executable("haproxy")
  const missing = [redisServer === undefined ? "redis-server" : "", haproxy === undefined ? "haproxy" : ""].filter(Boolean)
  if (redisServer === undefined || haproxy === undefined) {
    process.stderr.write(
      `e2e/haproxy-chat.ts needs redis-server and haproxy (missing: ${missing.join(", ")}).\n` +
        "On Debian or Ubuntu: sudo apt-get update && sudo apt-get install -y redis-server haproxy\n"
    )
    return 2
  }
  if (!Fs.existsSync(cli)) {
    process.stderr.write(`e2e/haproxy-chat.ts needs the built CLI (${cli}): run npm run e2e, which builds it first.\n`)
    return 2
  }
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "fiberline-e2e-"))
  const timer = watchdog(runLimit)
  try {
    await run(dir, redisServer, haproxy)
  } catch (error) {
    failed(error)
  } finally {
    // Whatever is still running after a failure (each by its PID).
    await killAll()
    clearTimeout(timer)
    Fs.rmSync(dir, { recursive: true, force: true })
  }
  return report()
}

process.exitCode = await main()
