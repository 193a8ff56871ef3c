/**
 * Memory of the fiberline echo server (the built CLI) under hostile input,
 * read from /proc/PID/status: idle, after one 64 MiB line with no newline,
 * and with 2000 slow clients (one byte every 500 ms, never a newline) for a
 * few rounds. Run by hand: `node bench/hostile-rss.ts [--rounds N]` after
 * `npm run build`. Loopback only; every loop is bounded; the server it
 * starts is stopped by its PID.
 */
// oxlint-disable no-await-in-loop -- clients are opened and paced step by step on purpose
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import { arg, exitOnHelp } from "./lib/args.ts"
import { pinnedNode, repoRoot } from "./lib/paths.ts"
import { freePort } from "./lib/servers.ts"

exitOnHelp("npm run build && node bench/hostile-rss.ts [--rounds 2]")
const rounds = Number(arg("--rounds", "2"))
const clientsPerRound = 2000
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** VmRSS and VmHWM of a process, as printed by the kernel. */
const memory = (pid: number): string => {
  const fields = Object.fromEntries(
    Fs.readFileSync(`/proc/${pid}/status`, "utf8").split("\n")
      .filter((line) => line.startsWith("VmRSS") || line.startsWith("VmHWM"))
      .map((line) => line.split(":").map((part) => part.trim()))
  )
  return `VmRSS ${String(fields.VmRSS).padStart(10)}   VmHWM ${String(fields.VmHWM).padStart(10)}`
}

/** Sends `mib` MiB without a newline, then ends; resolves when the server has closed. */
const oversizedLine = (port: number, mib: number) =>
  new Promise<void>((resolve) => {
    const socket = Net.connect(port, "127.0.0.1")
    const chunk = Buffer.alloc(1024 * 1024, 0x78)
    let sent = 0
    const pump = () => {
      while (sent < mib) {
        sent++
        if (!socket.write(chunk)) return
      }
      socket.end()
    }
    socket.on("connect", pump)
    socket.on("drain", pump)
    socket.on("error", () => {})
    socket.on("close", () => resolve())
    socket.resume()
  })

const port = await freePort()
const server = spawn(
  pinnedNode,
  [Path.join(repoRoot, "dist", "cli", "main.js"), "echo", "--port", String(port), "--log-level", "error"],
  { stdio: ["ignore", "inherit", "inherit"] }
)
const show = (label: string) => process.stdout.write(`${label.padEnd(46)} ${memory(server.pid!)}\n`)
try {
  await sleep(1500)
  show("idle")
  await oversizedLine(port, 64)
  await sleep(500)
  show("after a 64 MiB line without newline")
  for (let round = 1; round <= rounds; round++) {
    const clients: Array<Net.Socket> = []
    for (let i = 0; i < clientsPerRound; i++) {
      const socket = Net.connect(port, "127.0.0.1")
      socket.on("error", () => {})
      clients.push(socket)
      if (i % 200 === 199) await sleep(50)
    }
    for (let tick = 0; tick < 16; tick++) {
      for (const socket of clients) socket.write("z")
      await sleep(500)
    }
    show(`round ${round}: ${clientsPerRound} slow clients connected`)
    for (const socket of clients) socket.destroy()
    await sleep(1500)
    show(`round ${round}: after they left`)
  }
} finally {
  server.kill("SIGTERM")
}
