/**
 * Many concurrent connections on one fiberline process: opens N connections
 * to `fiberline echo`, spread over loopback source addresses 127.0.0.2… (one
 * client process per address, so neither side runs out of ephemeral ports or
 * of its own descriptors), holds them, then has every connection echo one
 * line per round for a few rounds. Reports connections held, resident memory
 * (idle before, with all held, per connection), and lines/s and server CPU
 * per line while all of them echo.
 *
 *   npm run build && node bench/connections.ts [--connections 50000] [--rounds 5]
 *
 * N is capped by the server's descriptor limit (`ulimit -n`, which an
 * unprivileged process cannot raise past its hard limit): the report says
 * when that happened. Loopback only; every loop is bounded; every process is
 * stopped by its PID.
 */
// oxlint-disable no-await-in-loop -- phases run one after the other on purpose
import { fork } from "node:child_process"
import * as Net from "node:net"
import * as Path from "node:path"
import { arg, exitOnHelp } from "./lib/args.ts"
import { fdLimit } from "./lib/limits.ts"
import { repoRoot } from "./lib/paths.ts"
import { cpuMicros, installCleanup, rssKiB, spawnTracked, stopChild } from "./lib/processes.ts"
import { freePort } from "./lib/servers.ts"

exitOnHelp("npm run build && node bench/connections.ts [--connections 50000] [--rounds 5]")
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** One client process: holds `count` connections from `source`, echoes a line per round on request. */
const clientMain = async () => {
  const [port, source, count] = [Number(process.argv[3]), process.argv[4]!, Number(process.argv[5])]
  const sockets: Array<Net.Socket> = []
  let received = 0
  for (let i = 0; i < count; i++) {
    const socket = Net.connect({ port, host: "127.0.0.1", localAddress: source })
    socket.on("error", () => {})
    socket.on("data", (chunk: Buffer) => (received += chunk.length))
    sockets.push(socket)
    if (i % 500 === 499) await sleep(25)
  }
  await sleep(1000)
  process.send!({ held: sockets.filter((socket) => !socket.destroyed && socket.readyState === "open").length })
  process.on("message", async (message: { round: number }) => {
    const before = received
    for (const socket of sockets) socket.write("ping from one of many connections\n")
    // Every line comes back (34 bytes each), or 20 s pass.
    for (let waited = 0; waited < 20_000 && received - before < sockets.length * 34; waited += 5) await sleep(5)
    process.send!({ round: message.round, lines: Math.floor((received - before) / 34) })
  })
}

if (process.argv[2] === "--client") {
  await clientMain()
} else {
  installCleanup()
  const wanted = Number(arg("--connections", "50000"))
  const rounds = Number(arg("--rounds", "5"))
  const limit = fdLimit().soft
  // The server's own descriptors (about 30) and a margin.
  const connections = Math.min(wanted, limit - 100)
  const perClient = 15_000
  const port = await freePort()
  const server = spawnTracked(
    process.execPath,
    [Path.join(repoRoot, "dist/cli/main.js"), "echo", "--port", String(port), "--log-level", "warn", "--max-connections", String(connections)],
    { stdio: "ignore" }
  )
  await sleep(1500)
  const pid = server.pid!
  const idle = rssKiB(pid)!
  const clients = Array.from({ length: Math.ceil(connections / perClient) }, (_, i) => {
    const count = Math.min(perClient, connections - i * perClient)
    return fork(import.meta.filename, ["--client", String(port), `127.0.0.${i + 2}`, String(count)], { stdio: "ignore" })
  })
  const held = (await Promise.all(clients.map((client) => new Promise<number>((resolve) => client.once("message", (m: { held: number }) => resolve(m.held)))))).reduce((a, b) => a + b, 0)
  await sleep(2000)
  const heldRss = rssKiB(pid)!
  let lines = 0
  const cpuBefore = cpuMicros(pid)!
  const started = performance.now()
  for (let round = 1; round <= rounds; round++) {
    const results = await Promise.all(clients.map((client) =>
      new Promise<number>((resolve) => {
        client.once("message", (m: { lines: number }) => resolve(m.lines))
        client.send({ round })
      })
    ))
    lines += results.reduce((a, b) => a + b, 0)
  }
  const seconds = (performance.now() - started) / 1000
  const cpuPerLine = (cpuMicros(pid)! - cpuBefore) / lines
  const peakRss = rssKiB(pid)!
  for (const client of clients) client.kill("SIGKILL")
  await stopChild(server, 10_000)
  const capped = connections < wanted ? ` (capped from ${wanted} by the descriptor limit ${limit})` : ""
  process.stdout.write(
    `connections: ${held} held of ${connections}${capped}, from ${clients.length} source addresses\n` +
      `RSS: idle ${(idle / 1024).toFixed(0)} MiB, all held ${(heldRss / 1024).toFixed(0)} MiB ` +
      `(${((heldRss - idle) / held).toFixed(1)} KiB per connection), after echoing ${(peakRss / 1024).toFixed(0)} MiB\n` +
      `echo: ${rounds} rounds of one line per connection, ${lines} lines in ${seconds.toFixed(1)} s ` +
      `(${Math.round(lines / seconds)} lines/s), ${cpuPerLine.toFixed(2)} server cpu µs/line\n`
  )
}
