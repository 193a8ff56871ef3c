/**
 * Fiber suspensions per request of a buffered pipeline: starts `fiberline
 * redis` with `lib/fiberYields.ts` preloaded, sets one key, then writes
 * `--requests` `GET`s in one write, reads every reply, and divides the
 * fibers' run-loop trips over that round (suspensions and yields, counted
 * by the preload) by the requests. With `--compare DIR` the build in DIR is
 * measured the same way first. Prints one row per build: the median over
 * `--rounds` rounds, after one round of warm-up.
 */
// oxlint-disable no-await-in-loop -- rounds and builds are measured one after another on purpose: each count is one round alone
import { once } from "node:events"
import * as Net from "node:net"
import { join, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { arg, exitOnHelp } from "./lib/args.ts"
import { repoRoot, pinnedNode } from "./lib/paths.ts"
import { installCleanup, spawnTracked, stopChild } from "./lib/processes.ts"
import { median } from "./lib/report.ts"
import { freePort } from "./lib/servers.ts"

exitOnHelp("node bench/suspensions.ts [--requests 10000] [--rounds 5] [--fiberline-dist dist] [--compare DIR]")
installCleanup()

const requests = Number(arg("--requests", "10000"))
const rounds = Number(arg("--rounds", "5"))
const value = "value"
const reply = `$${value.length}\r\n${value}\r\n`
const get = "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"
const preload = pathToFileURL(join(import.meta.dirname, "lib", "fiberYields.ts")).href

/** The count the preload reports on `port`. */
const askYields = async (port: number): Promise<number> => {
  const socket = Net.connect({ port, host: "127.0.0.1" })
  let text = ""
  socket.setEncoding("utf8").on("data", (chunk: string) => (text += chunk))
  await once(socket, "end")
  return Number(text)
}

/** Writes `text` and resolves when `bytes` bytes have come back. */
const exchange = (socket: Net.Socket, text: string, bytes: number): Promise<void> =>
  new Promise((done) => {
    let received = 0
    const onData = (chunk: Buffer) => {
      received += chunk.length
      if (received >= bytes) {
        socket.off("data", onData)
        done()
      }
    }
    socket.on("data", onData)
    socket.write(text)
  })

const measure = async (dist: string): Promise<ReadonlyArray<number>> => {
  const port = await freePort()
  const yieldsPort = await freePort()
  const child = spawnTracked(
    pinnedNode,
    ["--import", preload, join(dist, "cli", "main.js"), "redis", "--port", String(port), "--log-level", "warn"],
    { cwd: repoRoot, stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, FIBER_YIELDS_PORT: String(yieldsPort) } }
  )
  let socket: Net.Socket | undefined
  for (let attempt = 0; attempt < 200 && socket === undefined; attempt++) {
    socket = await new Promise<Net.Socket | undefined>((done) => {
      const s = Net.connect({ port, host: "127.0.0.1" })
      s.once("connect", () => done(s))
      s.once("error", () => setTimeout(() => done(undefined), 50))
    })
  }
  if (socket === undefined) throw new Error(`fiberline from ${dist} did not listen on ${port}`)
  await exchange(socket, `*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$${value.length}\r\n${value}\r\n`, "+OK\r\n".length)
  const pipeline = get.repeat(requests)
  const perRequest: Array<number> = []
  for (let round = 0; round <= rounds; round++) {
    const before = await askYields(yieldsPort)
    await exchange(socket, pipeline, reply.length * requests)
    const after = await askYields(yieldsPort)
    if (round > 0) perRequest.push((after - before) / requests)
  }
  socket.destroy()
  await stopChild(child, 5_000)
  return perRequest
}

const builds: Array<[string, string]> = []
const compare = arg("--compare", "")
if (compare !== "") builds.push(["fiberline-before", resolve(compare, "dist")])
builds.push(["fiberline", resolve(repoRoot, arg("--fiberline-dist", "dist"))])
process.stdout.write(`${requests} buffered GETs per round, ${rounds} rounds after one warm-up\n`)
process.stdout.write("| build | fiber suspensions per request (median) | per round, min–max |\n| --- | --- | --- |\n")
for (const [name, dist] of builds) {
  const values = await measure(dist)
  const round = (n: number) => (n * requests).toFixed(0)
  process.stdout.write(
    `| ${name} | ${median(values)?.toFixed(4)} | ${round(Math.min(...values))}–${round(Math.max(...values))} |\n`
  )
}
