/**
 * What clients lose when the echo server (the built CLI) shuts down under
 * them, and what happens when it runs out of file descriptors — the
 * measurements behind the reliability fixes, runnable against any build:
 *
 *   node bench/shutdown-loss.ts [--cli dist/cli/main.js] [--runs 3]
 *
 * Scenarios (loopback only; every loop bounded in count and time; every
 * server stopped by its PID):
 * - stalled: one client that does not read sends lines until its send
 *   blocks; SIGTERM; then it reads everything. Lost = bytes sent and never
 *   answered although the connection ended with a clean FIN.
 * - pipelining: 500 clients, 16 lines in flight each, for 1.5 s; SIGTERM;
 *   each stops sending new lines at the signal and reads to the end.
 * - accept race: 8 loops of connect, send `req\n`, read the echo; SIGTERM
 *   after 1.5 s. Lost = a request sent before the signal, answered by a
 *   clean FIN without its reply (a reset is honest; that is not).
 * - fd limit: the server under `ulimit -n 256`, 600 clients connecting at
 *   once; what the metrics endpoint says, and whether it answers.
 */
// oxlint-disable no-await-in-loop -- scenarios and runs are sequential on purpose
import { type ChildProcess, spawn } from "node:child_process"
import * as Net from "node:net"
import * as Path from "node:path"
import { arg, exitOnHelp } from "./lib/args.ts"
import { repoRoot } from "./lib/paths.ts"

exitOnHelp("npm run build && node bench/shutdown-loss.ts [--cli dist/cli/main.js] [--runs 3]")
const cli = Path.resolve(repoRoot, arg("--cli", "dist/cli/main.js"))
const runs = Number(arg("--runs", "3"))
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Server {
  readonly child: ChildProcess
  readonly port: number
  readonly metricsPort: number | undefined
  readonly stderr: () => string
  readonly exited: Promise<number | null>
}

/** Starts `fiberline echo` on a free port and waits for its `listening` line (10 s at most). */
const startServer = async (args: ReadonlyArray<string>, fdLimit?: number): Promise<Server> => {
  const command = fdLimit === undefined
    ? [process.execPath, cli, "echo", "--port", "0", "--log-format", "json", ...args]
    : ["sh", "-c", `ulimit -n ${fdLimit} && exec "$0" "$@"`, process.execPath, cli, "echo", "--port", "0", "--log-format", "json", ...args]
  const child = spawn(command[0]!, command.slice(1), { stdio: ["ignore", "ignore", "pipe"] })
  let stderr = ""
  child.stderr!.setEncoding("utf8").on("data", (text: string) => (stderr += text))
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  const fields = (message: string) => {
    const line = stderr.split("\n").find((l) => l.includes(`"${message}"`))
    return line === undefined ? undefined : (JSON.parse(line).message[1] as Record<string, unknown>)
  }
  for (let waited = 0; waited < 10_000; waited += 20) {
    const listening = fields("listening")
    const metrics = fields("serving metrics")
    if (listening !== undefined && (!args.includes("--metrics-port") || metrics !== undefined)) {
      return {
        child,
        port: Number(/:(\d+)$/.exec(String(listening.address))![1]),
        metricsPort: metrics === undefined ? undefined : Number(/:(\d+)\/metrics$/.exec(String(metrics.address))![1]),
        stderr: () => stderr,
        exited
      }
    }
    await sleep(20)
  }
  child.kill("SIGKILL")
  throw new Error(`server did not start: ${stderr}`)
}

/** The `{drained, forced}` of the server's last line, and its exit code (bounded by 30 s, then SIGKILL). */
const stopped = async (server: Server) => {
  const timer = setTimeout(() => server.child.kill("SIGKILL"), 30_000)
  const code = await server.exited
  clearTimeout(timer)
  const line = server.stderr().split("\n").find((l) => l.includes("\"server stopped\""))
  const counts = line === undefined ? {} : JSON.parse(line).message[1]
  return { code, drained: counts.drained, forced: counts.forced }
}

/** How one client's connection ended, as it saw it. */
interface Ending {
  readonly sent: number
  readonly received: number
  readonly reset: boolean
}

const line = (i: number) => `line ${String(i).padStart(10, "0")} of a shutdown test\n`

const stalled = async () => {
  const server = await startServer(["--shutdown-timeout", "30s"])
  const socket = Net.connect({ port: server.port, host: "127.0.0.1" })
  await new Promise((resolve) => socket.once("connect", resolve))
  let sent = 0
  const piece = Buffer.from(Array.from({ length: 2048 }, (_, i) => line(i)).join(""))
  while (sent < 64 * 1024 * 1024) {
    if (socket.write(piece)) {
      sent += piece.length
      continue
    }
    sent += piece.length
    const drained = await Promise.race([
      new Promise((resolve) => socket.once("drain", () => resolve(true))),
      sleep(300).then(() => false)
    ])
    if (!drained) break
  }
  server.child.kill("SIGTERM")
  await sleep(50)
  let received = 0
  let reset = false
  socket.on("data", (chunk: Buffer) => (received += chunk.length))
  socket.on("error", () => (reset = true))
  await Promise.race([new Promise((resolve) => socket.once("close", resolve)), sleep(30_000)])
  socket.destroy()
  return { ending: { sent, received, reset }, server: await stopped(server) }
}

const pipelining = async () => {
  const server = await startServer(["--shutdown-timeout", "10s"])
  let stop = false
  const clients = Array.from({ length: 500 }, () =>
    new Promise<Ending>((resolve) => {
      const socket = Net.connect({ port: server.port, host: "127.0.0.1" })
      let sent = 0
      let received = 0
      let reset = false
      const send = () => {
        if (stop || socket.destroyed) return
        socket.write(line(sent))
        sent += 33
      }
      socket.once("connect", () => {
        for (let i = 0; i < 16; i++) send()
      })
      socket.on("data", (chunk: Buffer) => {
        const before = Math.floor(received / 33)
        received += chunk.length
        for (let i = before; i < Math.floor(received / 33); i++) send()
      })
      socket.on("error", () => (reset = true))
      socket.on("close", () => resolve({ sent, received, reset }))
      setTimeout(() => socket.destroy(), 30_000).unref()
    }))
  await sleep(1500)
  stop = true
  server.child.kill("SIGTERM")
  const endings = await Promise.all(clients)
  return { endings, server: await stopped(server) }
}

const acceptRace = async () => {
  const server = await startServer(["--shutdown-timeout", "10s"])
  // Read by the loops, set by the timer below: an object, so the check is not hoisted.
  const signal = { sent: false }
  const outcomes = { replied: 0, reset: 0, refused: 0, lost: 0 }
  const loop = async () => {
    for (let i = 0; i < 100_000 && !signal.sent; i++) {
      await new Promise<void>((resolve) => {
        const socket = Net.connect({ port: server.port, host: "127.0.0.1" })
        let data = ""
        let failed: string | undefined
        let sentBeforeSignal = false
        socket.once("connect", () => {
          sentBeforeSignal = !signal.sent
          socket.write("req\n")
        })
        socket.setEncoding("utf8").on("data", (chunk: string) => {
          data += chunk
          if (data === "req\n") socket.end()
        })
        socket.on("error", (error: NodeJS.ErrnoException) => (failed = error.code))
        socket.on("close", () => {
          if (data === "req\n") outcomes.replied++
          else if (failed === "ECONNREFUSED") outcomes.refused++
          else if (failed !== undefined) outcomes.reset++
          else if (sentBeforeSignal) outcomes.lost++
          resolve()
        })
      })
    }
  }
  const loops = Array.from({ length: 8 }, loop)
  await sleep(1500)
  signal.sent = true
  server.child.kill("SIGTERM")
  await Promise.all(loops)
  return { outcomes, server: await stopped(server) }
}

const fdLimit = async () => {
  const server = await startServer(["--metrics-port", "0", "--busy-message", "busy"], 256)
  const results = { served: 0, busy: 0, resetOrClosed: 0 }
  const sockets = await Promise.all(Array.from({ length: 600 }, () =>
    new Promise<Net.Socket>((resolve) => {
      const socket = Net.connect({ port: server.port, host: "127.0.0.1" })
      socket.on("error", () => {})
      socket.once("connect", () => resolve(socket))
      socket.once("close", () => resolve(socket))
    })))
  await sleep(500)
  let metrics = ""
  try {
    metrics = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`, { signal: AbortSignal.timeout(5_000) })).text()
  } catch (error) {
    metrics = `metrics endpoint failed: ${(error as Error).message}`
  }
  await Promise.all(sockets.map((socket) =>
    new Promise<void>((resolve) => {
      if (socket.destroyed) {
        results.resetOrClosed++
        return resolve()
      }
      let data = ""
      socket.setEncoding("utf8").on("data", (chunk: string) => (data += chunk))
      socket.write("ping\n")
      setTimeout(() => {
        if (data.includes("ping")) results.served++
        else if (data.includes("busy")) results.busy++
        else results.resetOrClosed++
        socket.destroy()
        resolve()
      }, 300)
    })))
  server.child.kill("SIGTERM")
  const sample = (name: string) => /^(\S+) (\d+)$/m.exec(metrics.split("\n").find((l) => l.startsWith(`${name} `)) ?? "")?.[2]
  return {
    results,
    accepted: sample("fiberline_connections_accepted_total"),
    refused: sample("fiberline_connections_refused_total"),
    metrics: metrics.startsWith("metrics endpoint failed") ? metrics : "answered",
    server: await stopped(server)
  }
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`

process.stdout.write(`# shutdown-loss, ${cli}, node ${process.version}\n`)
for (let run = 1; run <= runs; run++) {
  const a = await stalled()
  const lostA = a.ending.reset ? 0 : a.ending.sent - a.ending.received
  process.stdout.write(
    `stalled #${run}: sent ${kib(a.ending.sent)}, answered ${kib(a.ending.received)}, ${a.ending.reset ? "reset" : "clean FIN"}, ` +
      `lost behind a clean FIN ${kib(lostA)}; server drained ${a.server.drained} forced ${a.server.forced} exit ${a.server.code}\n`
  )
}
for (let run = 1; run <= runs; run++) {
  const b = await pipelining()
  const lost = b.endings.filter((e) => !e.reset && e.received < e.sent)
  const resets = b.endings.filter((e) => e.reset).length
  process.stdout.write(
    `pipelining #${run}: 500 clients, ${lost.length} lost replies behind a clean FIN ` +
      `(${kib(lost.reduce((sum, e) => sum + e.sent - e.received, 0))}), ${resets} reset; ` +
      `server drained ${b.server.drained} forced ${b.server.forced} exit ${b.server.code}\n`
  )
}
for (let run = 1; run <= runs; run++) {
  const c = await acceptRace()
  process.stdout.write(
    `accept race #${run}: replied ${c.outcomes.replied}, lost behind a clean FIN ${c.outcomes.lost}, reset ${c.outcomes.reset}, ` +
      `refused ${c.outcomes.refused}; server exit ${c.server.code}\n`
  )
}
const d = await fdLimit()
process.stdout.write(
  `fd limit (ulimit -n 256, 600 clients): served ${d.results.served}, busy ${d.results.busy}, reset or closed silently ${d.results.resetOrClosed}; ` +
    `metrics: ${d.metrics}, accepted ${d.accepted ?? "-"}, refused ${d.refused ?? "-"}\n`
)
