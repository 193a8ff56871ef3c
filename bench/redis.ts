/**
 * `fiberline redis` against a real `redis-server`, both loaded by Redis's
 * own `redis-benchmark` with its default tests, interleaved run by run so
 * both see the same noise: requests/s per test and pipeline depth, the
 * ratio to redis-server, the server's CPU time per request, and zero errors
 * required.
 *
 *   npm run build && node bench/redis.ts [--runs 3] [--requests 100000] [--tests ping,set,get,...]
 *
 * Needs the Debian packages `redis-server` and `redis-tools`
 * (`apt-get install redis-server redis-tools`). Loopback only; every server
 * is started on a free port and stopped by its PID; every run is bounded.
 */
// oxlint-disable no-await-in-loop -- runs are sequential on purpose: both servers share 2 cores with the load generator
import { spawnSync } from "node:child_process"
import * as Path from "node:path"
import { arg, exitOnHelp } from "./lib/args.ts"
import { repoRoot } from "./lib/paths.ts"
import { cpuMicros, installCleanup, runCommand, spawnTracked, stopChild } from "./lib/processes.ts"
import { median } from "./lib/report.ts"
import { freePort } from "./lib/servers.ts"

exitOnHelp("npm run build && node bench/redis.ts [--runs 3] [--requests 100000] [--tests ping,set,get,...] [--pipelines 1,16]")
const runs = Number(arg("--runs", "3"))
const requests = Number(arg("--requests", "100000"))
const tests = arg("--tests", "ping,set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,lrange,mset")
const pipelines = arg("--pipelines", "1,16").split(",").map(Number)
const clients = 50
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

for (const tool of ["redis-server", "redis-benchmark", "redis-cli"]) {
  if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) {
    process.stderr.write(`bench/redis: ${tool} not found; install it with: apt-get install redis-server redis-tools\n`)
    process.exit(2)
  }
}
installCleanup()

/** Waits (10 s at most) until `redis-cli PING` answers PONG on `port`. */
const awaitPong = async (port: number) => {
  for (let waited = 0; waited < 10_000; waited += 50) {
    const ping = spawnSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "PING"], { encoding: "utf8" })
    if (ping.stdout.trim() === "PONG") return
    await sleep(50)
  }
  throw new Error(`nothing answers PING on port ${port}`)
}

type ServerName = "redis-server" | "fiberline"

const startServer = async (name: ServerName) => {
  const port = await freePort()
  const child = name === "redis-server"
    ? spawnTracked("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: "ignore"
    })
    : spawnTracked(process.execPath, [Path.join(repoRoot, "dist/cli/main.js"), "redis", "--port", String(port), "--log-level", "warn"], {
      stdio: "ignore"
    })
  await awaitPong(port)
  return { child, port }
}

/** One `redis-benchmark` run: requests/s per test, errors, and the server's CPU µs per request. */
const load = async (server: { child: ReturnType<typeof spawnTracked>; port: number }, pipeline: number) => {
  const cpuBefore = cpuMicros(server.child.pid!)
  const result = await runCommand(
    "redis-benchmark",
    ["-h", "127.0.0.1", "-p", String(server.port), "-c", String(clients), "-n", String(requests), "-P", String(pipeline), "-t", tests, "--csv"],
    { timeoutMs: 300_000 }
  )
  const cpuAfter = cpuMicros(server.child.pid!)
  const rps = new Map<string, number>()
  for (const line of result.stdout.split("\n").slice(1)) {
    const [test, value] = line.split(",").map((field) => field.replaceAll("\"", ""))
    if (test !== undefined && value !== undefined && test !== "") rps.set(test, Number(value))
  }
  const errors = result.timedOut || result.code !== 0 || /error/i.test(result.stderr) || /error/i.test(result.stdout)
    ? [result.stderr.trim() || `exit ${result.code}${result.timedOut ? " (timed out)" : ""}`]
    : []
  const totalRequests = requests * rps.size
  const cpuPerRequest = cpuBefore === undefined || cpuAfter === undefined ? undefined : (cpuAfter - cpuBefore) / totalRequests
  return { rps, errors, cpuPerRequest }
}

const results = new Map<string, Array<number>>()
const cpu = new Map<string, Array<number>>()
const record = (map: Map<string, Array<number>>, key: string, value: number) => map.set(key, [...(map.get(key) ?? []), value])
let errorCount = 0
const servers: Array<ServerName> = ["redis-server", "fiberline"]

process.stderr.write(`bench/redis: ${runs} runs, ${requests} requests per test, -c ${clients}, -P ${pipelines.join("/")}, tests ${tests}\n`)
for (let run = 1; run <= runs; run++) {
  for (const pipeline of pipelines) {
    for (const name of run % 2 === 1 ? servers : servers.toReversed()) {
      const server = await startServer(name)
      const { cpuPerRequest, errors, rps } = await load(server, pipeline)
      await stopChild(server.child, 5_000)
      errorCount += errors.length
      for (const [test, value] of rps) record(results, `${name} ${pipeline} ${test}`, value)
      if (cpuPerRequest !== undefined) record(cpu, `${name} ${pipeline}`, cpuPerRequest)
      process.stderr.write(
        `  run ${run} -P ${pipeline} ${name.padEnd(12)} ${[...rps].map(([t, v]) => `${t} ${Math.round(v)}`).join(", ")}` +
          `${cpuPerRequest === undefined ? "" : `; ${cpuPerRequest.toFixed(2)} cpu µs/request`}${errors.length === 0 ? "" : `  ERRORS: ${errors.join("; ")}`}\n`
      )
    }
  }
}

const testNames = [...new Set([...results.keys()].map((key) => key.split(" ").slice(2).join(" ")))]
const node = process.version
process.stdout.write(`\n### fiberline redis vs redis-server (${new Date().toISOString().slice(0, 10)}, node ${node}, ` +
  `${spawnSync("redis-server", ["--version"], { encoding: "utf8" }).stdout.split(" ").slice(0, 3).join(" ")})\n\n`)
process.stdout.write(`redis-benchmark -c ${clients} -n ${requests}, median of ${runs} interleaved runs; requests/s\n\n`)
process.stdout.write(`| test | ${pipelines.map((p) => `redis -P ${p} | fiberline -P ${p} | ratio -P ${p}`).join(" | ")} |\n`)
process.stdout.write(`| --- | ${pipelines.map(() => "---: | ---: | ---:").join(" | ")} |\n`)
for (const test of testNames) {
  const cells = pipelines.map((p) => {
    const redis = results.get(`redis-server ${p} ${test}`)
    const fiberline = results.get(`fiberline ${p} ${test}`)
    if (redis === undefined || fiberline === undefined) return "- | - | -"
    return `${Math.round(median(redis)!)} | ${Math.round(median(fiberline)!)} | ${(median(fiberline)! / median(redis)!).toFixed(2)}×`
  })
  process.stdout.write(`| ${test} | ${cells.join(" | ")} |\n`)
}
process.stdout.write(`\nserver CPU µs per request (median): ${pipelines.map((p) => {
  const redis = cpu.get(`redis-server ${p}`)
  const fiberline = cpu.get(`fiberline ${p}`)
  return redis === undefined || fiberline === undefined
    ? ""
    : `-P ${p}: redis-server ${median(redis)!.toFixed(2)}, fiberline ${median(fiberline)!.toFixed(2)}`
}).join("; ")}\n`)
process.stdout.write(`errors: ${errorCount}\n`)
process.exitCode = errorCount === 0 ? 0 : 1
