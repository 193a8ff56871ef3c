/**
 * Does a V8 setting keep the echo server's memory down after load, and at
 * what cost? For each setting (none; smaller young generations; a heap
 * limit; both) it starts the built CLI with that `NODE_OPTIONS`, then for
 * three rounds: 5 s of echoload at 1000x4 (lines/s and server CPU per line),
 * then 2000 connections opened and closed, then 3 s of rest; it reports the
 * resident set (VmRSS) at idle, after each round's rest, and the peak.
 *
 *   npm run build && node bench/rss-settings.ts
 *
 * Loopback only; every loop is bounded; every server is stopped by its PID.
 * Builds echoload (`bench/echoload.c`, into bench/.build) first.
 */
// oxlint-disable no-await-in-loop -- settings and rounds run one at a time on purpose
import * as Net from "node:net"
import * as Path from "node:path"
import { exitOnHelp } from "./lib/args.ts"
import { buildEchoload, runEchoload } from "./lib/echoload.ts"
import { repoRoot } from "./lib/paths.ts"
import { cpuMicros, installCleanup, peakRssKiB, rssKiB, spawnTracked, stopChild } from "./lib/processes.ts"
import { median } from "./lib/report.ts"
import { freePort } from "./lib/servers.ts"

exitOnHelp("npm run build && node bench/rss-settings.ts")
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
installCleanup()
await buildEchoload()

const settings: ReadonlyArray<readonly [string, string]> = [
  ["default", ""],
  ["--max-semi-space-size=1", "--max-semi-space-size=1"],
  ["--max-semi-space-size=4", "--max-semi-space-size=4"],
  ["--max-old-space-size=128", "--max-old-space-size=128"],
  ["semi 4 + old 128", "--max-semi-space-size=4 --max-old-space-size=128"],
  ["semi 1 + old 128", "--max-semi-space-size=1 --max-old-space-size=128"]
]

/** Opens `n` connections (in batches), holds them a second, closes them. */
const churn = async (port: number, n: number) => {
  const sockets: Array<Net.Socket> = []
  for (let i = 0; i < n; i++) {
    const socket = Net.connect({ port, host: "127.0.0.1" })
    socket.on("error", () => {})
    sockets.push(socket)
    if (i % 200 === 199) await sleep(20)
  }
  await sleep(1000)
  for (const socket of sockets) socket.destroy()
}

const mib = (kib: number | undefined) => (kib === undefined ? "-" : (kib / 1024).toFixed(0))

process.stdout.write(`| setting | idle MiB | after round 1 / 2 / 3 MiB | peak MiB | lines/s at 1000x4 (median) | cpu µs/line |\n`)
process.stdout.write(`| --- | ---: | ---: | ---: | ---: | ---: |\n`)
for (const [name, nodeOptions] of settings) {
  const port = await freePort()
  const child = spawnTracked(process.execPath, [Path.join(repoRoot, "dist/cli/main.js"), "echo", "--port", String(port), "--log-level", "warn"], {
    stdio: "ignore",
    env: { ...process.env, NODE_OPTIONS: nodeOptions }
  })
  await sleep(1500)
  const pid = child.pid!
  const idle = rssKiB(pid)
  const after: Array<string> = []
  const rates: Array<number> = []
  const cpus: Array<number> = []
  for (let round = 1; round <= 3; round++) {
    const cpuBefore = cpuMicros(pid)
    const load = await runEchoload(port, 1000, 4, 5)
    const cpuAfter = cpuMicros(pid)
    if (load.ok) {
      rates.push(load.numbers.linesPerS)
      if (cpuBefore !== undefined && cpuAfter !== undefined) {
        // echoload's first tenth is warm-up; the CPU covers the whole run.
        cpus.push((cpuAfter - cpuBefore) / (load.numbers.linesPerS * 5))
      }
    }
    await churn(port, 2000)
    await sleep(3000)
    after.push(mib(rssKiB(pid)))
  }
  const peak = peakRssKiB(pid)
  await stopChild(child, 5_000)
  process.stdout.write(
    `| ${name} | ${mib(idle)} | ${after.join(" / ")} | ${mib(peak)} | ${median(rates) ?? "-"} | ${median(cpus)?.toFixed(2) ?? "-"} |\n`
  )
}
