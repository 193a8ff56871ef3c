/**
 * `fiberline redis` against the hand-written plain-Node RESP server
 * (`bench/reference/node-resp.ts`, the bar) and a real `redis-server`, all
 * loaded by Redis's own `redis-benchmark`, interleaved run by run (the server
 * order rotates, a fresh server per run and pipeline depth) so every server
 * sees the same noise. For each test and pipeline depth it reports medians of
 * requests/s and of the server's CPU µs per request (`/proc/PID/stat` around
 * that test alone), and the ratios fiberline / node-resp and fiberline /
 * redis-server (medians of per-run ratios). Any error fails the run.
 *
 *   npm run build && node bench/redis.ts [flags]        (--help lists them)
 *
 * `--compare DIR` adds `fiberline-before`, the build in another checkout's
 * `dist/`; `--cross-check` adds `node-resp-shared`, `../shared/bench/node-resp.mjs`,
 * to check node-resp against it. Needs the Debian packages `redis-server` and
 * `redis-tools`. Loopback only; every server is started on a free port and
 * stopped by its PID; every redis-benchmark run is bounded.
 */
// oxlint-disable no-await-in-loop -- runs are sequential on purpose: the servers share 2 cores with the load generator
import { type ChildProcess, spawnSync } from "node:child_process"
import { closeSync, existsSync, mkdirSync, openSync } from "node:fs"
import { join, relative, resolve } from "node:path"
import { parseArgs } from "node:util"
import { exitOnHelp } from "./lib/args.ts"
import { pinnedNode, referenceServer, repoRoot, resultsDir, sharedBenchDir, snapshotMain } from "./lib/paths.ts"
import { cpuMicros, exited, installCleanup, runCommand, spawnTracked, stopChild } from "./lib/processes.ts"
import { median, timestamp } from "./lib/report.ts"
import { buildReferenceServers, freePort, snapshotFiberline } from "./lib/servers.ts"

const usage = `node bench/redis.ts [flags]   (after npm run build)

  --runs N              interleaved repetitions, medians over them (default 3)
  --requests N          requests per test, redis-benchmark -n (default 100000)
  --clients N           connections, redis-benchmark -c (default 50)
  --tests LIST          redis-benchmark -t tests, run one at a time (default ${"ping,set,get,incr,lpush,rpush,lpop,rpop"});
                        node-resp serves only these, node-resp-shared these but ping, and sit out others
  --pipelines LIST      pipeline depths, redis-benchmark -P (default 1,16)
  --only LIST           servers (default all given): redis-server,node-resp,fiberline,fiberline-before,node-resp-shared
  --fiberline-dist DIR  the fiberline build to run as fiberline (default: this working tree's dist/)
  --compare DIR         also run the build in DIR (another checkout's dist/) as fiberline-before
  --cross-check         also run ../shared/bench/node-resp.mjs as node-resp-shared
  --help                this text`
exitOnHelp(usage)

const fail = (text: string): never => {
  process.stderr.write(`bench/redis: ${text}\n`)
  process.exit(2)
}

const { values } = (() => {
  try {
    return parseArgs({
      strict: true,
      options: {
        runs: { type: "string", default: "3" },
        requests: { type: "string", default: "100000" },
        clients: { type: "string", default: "50" },
        tests: { type: "string", default: "ping,set,get,incr,lpush,rpush,lpop,rpop" },
        pipelines: { type: "string", default: "1,16" },
        only: { type: "string" },
        "fiberline-dist": { type: "string", default: join(repoRoot, "dist") },
        compare: { type: "string" },
        "cross-check": { type: "boolean", default: false }
      }
    })
  } catch (error) {
    return fail(`${error instanceof Error ? error.message : String(error)}\nusage: ${usage}`)
  }
})()
const positive = (flag: string, text: string): number => {
  const value = Number(text)
  return Number.isInteger(value) && value > 0 ? value : fail(`--${flag} must be a positive integer, got "${text}"`)
}
const runs = positive("runs", values.runs)
const requests = positive("requests", values.requests)
const clients = positive("clients", values.clients)
const tests = values.tests.split(",").map((test) => test.trim().toLowerCase()).filter((test) => test !== "")
const pipelines = values.pipelines.split(",").map((depth) => positive("pipelines", depth))
if (tests.length === 0) fail("--tests is empty")

type ServerName = "redis-server" | "node-resp" | "fiberline" | "fiberline-before" | "node-resp-shared"

/** A server under test: how to start it on a port, and which redis-benchmark tests it can serve (undefined: all). */
interface ServerSpec {
  readonly name: ServerName
  readonly serves?: ReadonlySet<string>
  readonly command: (port: number) => readonly [string, ReadonlyArray<string>]
}

const handWrittenTests = ["set", "get", "incr", "lpush", "rpush", "lpop", "rpop"]
const sharedResp = join(sharedBenchDir, "node-resp.mjs")
const fiberline = (snapshot: string) => (port: number) =>
  [pinnedNode, [snapshotMain(snapshot), "redis", "--port", String(port), "--log-level", "warn"]] as const
const specs: Array<ServerSpec> = [
  {
    name: "redis-server",
    command: (port) => ["redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]]
  },
  {
    name: "node-resp",
    serves: new Set(["ping", ...handWrittenTests]),
    command: (port) => [pinnedNode, [referenceServer("node-resp"), String(port)]]
  },
  { name: "fiberline", command: fiberline("redis-fiberline") }
]
if (values.compare !== undefined) specs.push({ name: "fiberline-before", command: fiberline("redis-fiberline-before") })
if (values["cross-check"]) {
  // The shared server has no inline commands, so redis-benchmark's PING_INLINE would wait on it forever.
  specs.push({ name: "node-resp-shared", serves: new Set(handWrittenTests), command: (port) => [pinnedNode, [sharedResp, String(port)]] })
}
const only = values.only?.split(",").map((name) => name.trim())
for (const name of only ?? []) {
  if (!specs.some((spec) => spec.name === name)) {
    fail(`--only: "${name}" is not among the servers of this run (${specs.map((spec) => spec.name).join(",")}; fiberline-before needs --compare, node-resp-shared --cross-check)`)
  }
}
const servers = specs.filter((spec) => only === undefined || only.includes(spec.name))

for (const tool of ["redis-server", "redis-benchmark", "redis-cli"]) {
  if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) {
    fail(`${tool} not found; install it with: apt-get install redis-server redis-tools`)
  }
}
if (values["cross-check"] && !existsSync(sharedResp)) fail(`--cross-check: ${sharedResp} is not there`)
try {
  snapshotFiberline(resolve(values["fiberline-dist"]), "redis-fiberline")
  if (values.compare !== undefined) snapshotFiberline(resolve(values.compare), "redis-fiberline-before")
} catch (error) {
  fail(error instanceof Error ? error.message : String(error))
}
buildReferenceServers()
installCleanup()
const logDir = join(resultsDir, `${timestamp(new Date().toISOString())}-redis-logs`)
mkdirSync(logDir, { recursive: true })
const sleep = (ms: number) => new Promise((wake) => setTimeout(wake, ms))

/** Waits (10 s at most) until `redis-cli PING` answers PONG on `port`; false if it never does or the server exits. */
const awaitPong = async (port: number, child: ChildProcess): Promise<boolean> => {
  for (let waited = 0; waited < 10_000; waited += 50) {
    if (child.exitCode !== null || child.signalCode !== null) return false
    const ping = spawnSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "PING"], { encoding: "utf8", timeout: 5_000 })
    if (ping.stdout?.trim() === "PONG") return true
    await sleep(50)
  }
  return false
}

/** One test's outcome on one server: requests/s per CSV row (`ping` gives two, `lrange` five), CPU µs per request. */
interface Sample {
  readonly run: number
  readonly pipeline: number
  readonly server: ServerName
  readonly row: string
  readonly rps: number
  /** Undefined when `/proc` could not be read. */
  readonly cpuUsPerRequest: number | undefined
}

const samples: Array<Sample> = []
const problems: Array<string> = []
/** Row names in the order redis-benchmark printed them first. */
const rowOrder: Array<string> = []

/** Runs `redis-benchmark -t test` once against `port`, measuring the server's CPU around it. */
const benchmarkTest = async (run: number, pipeline: number, spec: ServerSpec, pid: number, port: number, test: string) => {
  const cpuBefore = cpuMicros(pid)
  const result = await runCommand(
    "redis-benchmark",
    ["-h", "127.0.0.1", "-p", String(port), "-c", String(clients), "-n", String(requests), "-P", String(pipeline), "-t", test, "--csv"],
    { timeoutMs: 300_000 }
  )
  const cpuAfter = cpuMicros(pid)
  const rows = result.stdout.split("\n").slice(1).map((line) => line.split("\",\"").map((field) => field.replaceAll("\"", "")))
    .filter(([name, rps]) => name !== undefined && name !== "" && Number.isFinite(Number(rps)))
  if (result.timedOut || result.code !== 0 || /error/i.test(result.stderr) || rows.length === 0) {
    const why = result.stderr.trim().split("\n")[0] || `exit ${result.code ?? result.signal}${result.timedOut ? " (timed out after 300 s)" : ""}`
    problems.push(`run ${run}, -P ${pipeline}, ${spec.name}, ${test}: ${why}`)
    return []
  }
  // Over a test of several rows (ping, lrange) the CPU is shared out evenly: it cannot be told apart per row.
  const cpuUsPerRequest = cpuBefore === undefined || cpuAfter === undefined ? undefined : (cpuAfter - cpuBefore) / (requests * rows.length)
  return rows.map(([row = "", rps = ""]): Sample => {
    if (!rowOrder.includes(row)) rowOrder.push(row)
    return { run, pipeline, server: spec.name, row, rps: Number(rps), cpuUsPerRequest }
  })
}

/** Starts `spec` on a free port, runs every test it serves, and stops it by its PID; records problems, never throws. */
const benchmarkServer = async (run: number, pipeline: number, spec: ServerSpec) => {
  const port = await freePort()
  const [command, args] = spec.command(port)
  const log = openSync(join(logDir, `${spec.name}.log`), "a")
  const child = spawnTracked(command, args, { cwd: repoRoot, stdio: ["ignore", log, log] })
  closeSync(log)
  let ended = false
  void exited(child).then(() => (ended = true))
  try {
    if (!(await awaitPong(port, child))) {
      problems.push(`run ${run}, -P ${pipeline}, ${spec.name}: did not answer PING on port ${port} within 10 s (see ${logDir})`)
      return
    }
    for (const test of tests.filter((name) => spec.serves?.has(name) ?? true)) {
      const found = await benchmarkTest(run, pipeline, spec, child.pid ?? -1, port, test)
      samples.push(...found)
      process.stderr.write(
        `  run ${run} -P ${String(pipeline).padEnd(2)} ${spec.name.padEnd(16)} ${test.padEnd(6)} ` +
          `${found.map((sample) => `${sample.row} ${Math.round(sample.rps)}/s`).join(", ")}` +
          `${found[0]?.cpuUsPerRequest === undefined ? "" : `, ${found[0].cpuUsPerRequest.toFixed(2)} cpu µs/request`}\n`
      )
    }
    if (ended) problems.push(`run ${run}, -P ${pipeline}, ${spec.name}: exited during the run`)
  } finally {
    if ((await stopChild(child, 5_000)) === "SIGKILL") problems.push(`run ${run}, -P ${pipeline}, ${spec.name}: ignored SIGTERM for 5 s; killed`)
  }
}

process.stderr.write(
  `bench/redis: ${runs} runs, -n ${requests} per test, -c ${clients}, -P ${pipelines.join("/")}, tests ${tests.join(",")}, ` +
    `servers ${servers.map((spec) => spec.name).join(",")}; logs in ${logDir}\n`
)
for (let run = 1; run <= runs; run++) {
  for (const pipeline of pipelines) {
    for (let index = 0; index < servers.length; index++) {
      const spec = servers[(index + run - 1) % servers.length]
      if (spec !== undefined) await benchmarkServer(run, pipeline, spec)
    }
  }
}

const of = (server: ServerName, pipeline: number, row: string) =>
  samples.filter((sample) => sample.server === server && sample.pipeline === pipeline && sample.row === row)
const DASH = "–"
const format = (digits: number, suffix = "") => (value: number | undefined) =>
  value === undefined ? DASH : `${value.toFixed(digits)}${suffix}`
const metrics = [(sample: Sample) => sample.rps, (sample: Sample) => sample.cpuUsPerRequest] as const

/** Median over runs of `ours`'s metric divided by `theirs`'s in the same run. */
const pairedRatio = (ours: ReadonlyArray<Sample>, theirs: ReadonlyArray<Sample>, metric: (sample: Sample) => number | undefined) =>
  median(ours.map((sample) => {
    const partner = theirs.find((other) => other.run === sample.run)
    const mine = metric(sample)
    const other = partner === undefined ? undefined : metric(partner)
    return mine === undefined || other === undefined || other === 0 ? undefined : mine / other
  }))

const names = servers.map((spec) => spec.name)
const pairs = ([["fiberline", "node-resp"], ["fiberline", "redis-server"], ["fiberline", "fiberline-before"], ["node-resp", "node-resp-shared"]] as const)
  .filter(([a, b]) => names.includes(a) && names.includes(b))
const row = (fields: ReadonlyArray<string>) => `| ${fields.join(" | ")} |`
const redisVersion = spawnSync("redis-server", ["--version"], { encoding: "utf8" }).stdout.split(" ").slice(0, 3).join(" ")
const lines = [
  `### redis-benchmark: ${names.join(", ")} (${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${redisVersion})`,
  "",
  `redis-benchmark -c ${clients} -n ${requests} per test, one test at a time; median of ${runs} interleaved runs, a fresh server ` +
  "per run and pipeline depth. cpu µs/req: the server's user+system CPU over the test divided by its requests " +
  "(a test of several rows shares it out evenly)." +
  (values.compare === undefined ? "" : ` fiberline-before: the build in ${relative(repoRoot, resolve(values.compare)) || "."}.`),
  "",
  row(["test", "-P", ...names.flatMap((name) => [`${name} req/s`, "cpu µs/req"])]),
  row(["---", "---:", ...names.flatMap(() => ["---:", "---:"])])
]
for (const pipeline of pipelines) {
  for (const name of rowOrder) {
    lines.push(row([name, String(pipeline), ...names.flatMap((server) => {
      const found = of(server, pipeline, name)
      return [format(0)(median(found.map((sample) => sample.rps))), format(2)(median(found.map((sample) => sample.cpuUsPerRequest)))]
    })]))
  }
}
if (pairs.length > 0) {
  lines.push(
    "",
    "Ratios (median of per-run ratios): req/s above 1× means the first is faster, cpu below 1× that it costs less per request.",
    "",
    row(["test", "-P", ...pairs.flatMap(([a, b]) => [`${a} / ${b} req/s`, "cpu"])]),
    row(["---", "---:", ...pairs.flatMap(() => ["---:", "---:"])])
  )
  for (const pipeline of pipelines) {
    for (const name of rowOrder) {
      lines.push(row([name, String(pipeline), ...pairs.flatMap(([a, b]) =>
        metrics.map((metric) => format(2, "×")(pairedRatio(of(a, pipeline, name), of(b, pipeline, name), metric)))
      )]))
    }
  }
}
lines.push("", problems.length === 0 ? "Problems: none." : `Problems:\n\n${problems.map((problem) => `- ${problem}`).join("\n")}`, "")
process.stdout.write(`\n${lines.join("\n")}`)
process.exitCode = problems.length === 0 ? 0 : 1
