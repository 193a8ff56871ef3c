/**
 * Redis's own Tcl test suite, unmodified, against the installed `redis-server`
 * and `fiberline redis` in the same run: for each unit, a fresh server of each
 * kind on a free loopback port, `./runtest --host 127.0.0.1 --port P --singledb
 * --single UNIT ...` against it, one server at a time, and a report of the
 * tests redis-server passes that fiberline does not, with why. A third
 * variant, `fiberline-tolerant`, puts a shim in front of fiberline that
 * answers the suite's own set-up requests (`FUNCTION FLUSH`, `CONFIG SET` of
 * encodings and snapshots, `MEMORY USAGE`; see `lib/suite-shim.ts`), without
 * which no test can run against a server that lacks them.
 *
 *   npm run build && node bench/redis-suite.ts --redis-src DIR [flags]   (--help lists them)
 *
 * The suite is not in this repository: it is extracted at run time from a
 * clone of redis/redis at the tag of the installed redis-server into
 * `bench/.build/redis-tests/TAG/` (see `lib/suite-source.ts`). Needs the
 * Debian packages `redis-server` and `tcl`; it is run by hand, never in CI.
 * Every server and every runtest is bounded in time and stopped by its PID;
 * raw output goes to `bench/results/<timestamp>-redis-suite/`.
 */
// oxlint-disable no-await-in-loop -- units run one server at a time on purpose: the machine has 2 shared cores
import { type ChildProcess, spawnSync } from "node:child_process"
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, relative, resolve } from "node:path"
import { parseArgs } from "node:util"
import { exitOnHelp } from "./lib/args.ts"
import { pinnedNode, repoRoot, resultsDir, snapshotDir, snapshotMain } from "./lib/paths.ts"
import { exited, installCleanup, runCommand, spawnTracked, stopChild } from "./lib/processes.ts"
import { timestamp } from "./lib/report.ts"
import { freePort, snapshotFiberline } from "./lib/servers.ts"
import { parseUnitOutput } from "./lib/suite-output.ts"
import { compareUnit, renderSuiteReport, type SuiteServer, type UnitGroup, type UnitRun } from "./lib/suite-report.ts"
import { type Shim, startShim } from "./lib/suite-shim.ts"
import { installedRedisVersion, prepareSuite } from "./lib/suite-source.ts"

/** The units the issue names: the data types and commands fiberline serves. */
const coreUnits = [
  "unit/protocol",
  "unit/type/string",
  "unit/type/incr",
  "unit/type/list",
  "unit/type/list-3",
  "unit/type/hash",
  "unit/type/set",
  "unit/type/zset",
  "unit/expire",
  "unit/keyspace",
  "unit/pubsub",
  "unit/multi",
  "unit/info-command",
  "unit/quit"
]
/** Units that also run against a single-database external server (at least one test is left after the exclusions). */
const extraUnits = [
  "unit/type/list-2",
  "unit/scan",
  "unit/sort",
  "unit/other",
  "unit/introspection",
  "unit/introspection-2",
  "unit/bitops",
  "unit/bitfield",
  "unit/hyperloglog",
  "unit/geo",
  "unit/type/stream",
  "unit/type/stream-cgroups",
  "unit/tracking",
  "unit/dump",
  "unit/querybuf",
  "unit/lazyfree",
  "unit/slowlog"
]
/** Tags excluded on both servers: what fiberline lacks by design (see bench/README.md, "Redis's test suite"). */
const defaultExclusions = ["needs:repl", "needs:debug", "needs:pfdebug", "needs:save", "needs:config-maxmemory", "needs:latency", "resp3"]
const servers: ReadonlyArray<SuiteServer> = ["redis-server", "fiberline", "fiberline-tolerant"]

const usage = `node bench/redis-suite.ts [flags]   (after npm run build)

  --redis-src DIR       a clone of redis/redis with the tag of the installed redis-server (env REDIS_SRC);
                        needed once, to extract its tests into bench/.build/redis-tests/TAG/
  --tag TAG             the Redis version whose tests to run (default: redis-server --version)
  --units LIST          units, comma-separated; "core" and "extra" name the default groups (default core,extra)
                        core:  ${coreUnits.join(",")}
                        extra: ${extraUnits.join(",")}
  --only LIST           servers (default all): ${servers.join(",")}
  --exclude-tags LIST   tags excluded on both servers (default ${defaultExclusions.join(",")})
  --fiberline-dist DIR  the fiberline build to run (default: this working tree's dist/)
  --suite-timeout S     runtest --timeout: give up after S seconds without progress (default 120)
  --unit-timeout S      kill a unit's runtest after S seconds (default 1800)
  --alone N             run each fiberline failure that names no unknown command alone, at most N per unit
                        and server (default 100; 0: none), to tell differences from knock-on failures
  --help                this text`
exitOnHelp(usage)

const fail = (text: string): never => {
  process.stderr.write(`bench/redis-suite: ${text}\n`)
  process.exit(2)
}

const { values } = (() => {
  try {
    return parseArgs({
      strict: true,
      options: {
        "redis-src": { type: "string" },
        tag: { type: "string" },
        units: { type: "string", default: "core,extra" },
        only: { type: "string" },
        "exclude-tags": { type: "string", default: defaultExclusions.join(",") },
        "fiberline-dist": { type: "string", default: join(repoRoot, "dist") },
        "suite-timeout": { type: "string", default: "120" },
        "unit-timeout": { type: "string", default: "1800" },
        alone: { type: "string", default: "100" }
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
const list = (text: string) => text.split(",").map((item) => item.trim()).filter((item) => item !== "")
const suiteTimeout = positive("suite-timeout", values["suite-timeout"])
const unitTimeout = positive("unit-timeout", values["unit-timeout"])
const aloneLimit = values.alone === "0" ? 0 : positive("alone", values.alone)
const units = [...new Set(list(values.units).flatMap((unit) => unit === "core" ? coreUnits : unit === "extra" ? extraUnits : [unit]))]
if (units.length === 0) fail("--units is empty")
for (const unit of units) if (!/^(unit|integration)\/[\w/-]+$/.test(unit)) fail(`--units: "${unit}" is not a unit name like unit/type/list`)
const only = values.only === undefined ? servers : list(values.only)
for (const name of only) if (!servers.includes(name as SuiteServer)) fail(`--only: "${name}" is not one of ${servers.join(",")}`)
const chosen = servers.filter((name) => only.includes(name))
if (!chosen.includes("redis-server")) fail("--only must include redis-server: it is what the others are compared with")
const exclusions = list(values["exclude-tags"])

for (const [tool, install] of [["redis-server", "redis-server"], ["redis-cli", "redis-tools"], ["tclsh", "tcl"]]) {
  if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) fail(`${tool} not found; install it with: apt-get install ${install}`)
}
const installed = installedRedisVersion() ?? fail("redis-server --version names no version")
const tag = values.tag ?? installed
if (tag !== installed) process.stderr.write(`bench/redis-suite: note: running the tests of ${tag} against redis-server ${installed}\n`)
const suite = (() => {
  try {
    return prepareSuite(tag, values["redis-src"] ?? process.env.REDIS_SRC)
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error))
  }
})()
for (const unit of units) {
  if (!existsSync(join(suite, "tests", `${unit}.tcl`))) fail(`--units: ${unit} is not in the tests of ${tag}`)
}
/**
 * This run's own copies, removed when it exits: the fiberline build it runs
 * and the suite it runs from (runtest writes into its `tests/tmp/` and clears
 * it at start), so that runs started at the same time, with other builds, do
 * not change each other's.
 */
const snapshot = `suite-fiberline-${process.pid}`
const workingSuite = mkdtempSync(join(tmpdir(), "fiberline-redis-suite-tests-"))
/** redis-server's working directories of the attempts under way (one at a time). */
const serverDirs = new Set<string>()
const removeCopies = () => {
  for (const dir of [snapshotDir(snapshot), workingSuite, ...serverDirs]) rmSync(dir, { recursive: true, force: true })
}
try {
  snapshotFiberline(resolve(values["fiberline-dist"]), snapshot)
} catch (error) {
  removeCopies()
  fail(error instanceof Error ? error.message : String(error))
}
cpSync(suite, workingSuite, { recursive: true })
installCleanup()
// After installCleanup's handler, so the children are gone before their files.
process.on("exit", removeCopies)
const runDir = join(resultsDir, `${timestamp(new Date().toISOString())}-redis-suite`)
mkdirSync(runDir, { recursive: true })
const sleep = (ms: number) => new Promise((wake) => setTimeout(wake, ms))
const fileName = (unit: string) => unit.replaceAll("/", "_")

/** The runtest flags common to every unit and server (the port and the unit come after). */
const suiteFlags = [
  "--singledb",
  "--durable",
  "--ignore-encoding",
  "--ignore-digest",
  "--timeout",
  String(suiteTimeout),
  ...(exclusions.length === 0 ? [] : ["--tags", exclusions.map((excluded) => `-${excluded}`).join(" ")])
]

/** Waits (20 s at most) until `PING` on `port` answers; false if it never does or the server exits. */
const awaitPong = async (port: number, child: ChildProcess): Promise<boolean> => {
  for (let waited = 0; waited < 20_000; waited += 100) {
    if (child.exitCode !== null || child.signalCode !== null) return false
    const ping = spawnSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "PING"], { encoding: "utf8", timeout: 5_000 })
    if (ping.stdout?.trim() === "PONG") return true
    await sleep(100)
  }
  return false
}

/**
 * A port for the suite's own test server: runtest listens on the first free
 * port of [baseport − 32, baseport) and probes port + 10000 too, so pick a
 * free one low enough for that, and make it the start of the range.
 */
const suiteBasePort = async (): Promise<number> => {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freePort()
    if (port + 10_032 < 65_536) return port + 32
  }
  return fail("found no free port below 55504 for runtest's own test server")
}

/** The command that starts `server` on `port`; `dir` is redis-server's working directory. */
const serverCommand = (server: SuiteServer, port: number, dir: string): readonly [string, ReadonlyArray<string>] =>
  server === "redis-server"
    ? ["redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir]]
    : [pinnedNode, [snapshotMain(snapshot), "redis", "--port", String(port), "--log-level", "warn"]]

/** One runtest of a unit against a fresh `server`, which it starts and stops by its PID; `selection` (--skiptest, --only) goes before the unit. */
const runAttempt = async (unit: string, server: SuiteServer, selection: ReadonlyArray<string>, logName: string): Promise<UnitRun> => {
  const logs = join(runDir, server)
  mkdirSync(logs, { recursive: true })
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), "fiberline-redis-suite-"))
  serverDirs.add(dir)
  const [command, args] = serverCommand(server, port, dir)
  const serverLog = openSync(join(logs, `${logName}.server.log`), "a")
  const child = spawnTracked(command, args, { cwd: dir, stdio: ["ignore", serverLog, serverLog] })
  closeSync(serverLog)
  let shim: Shim | undefined
  try {
    if (!(await awaitPong(port, child))) {
      const output = { tests: [], blockErrors: [], completed: false }
      return { unit, server, output, elapsedMs: 0, exitCode: null, serverEnded: `no PONG on port ${port} within 20 s; see its log` }
    }
    if (server === "fiberline-tolerant") shim = await startShim(port)
    const target = shim?.port ?? port
    const result = await runCommand(
      join(workingSuite, "runtest"),
      [
        "--host", "127.0.0.1", "--port", String(target), "--baseport", String(await suiteBasePort()), ...suiteFlags,
        ...selection, "--single", unit
      ],
      { cwd: workingSuite, timeoutMs: unitTimeout * 1000, env: { ...process.env, TERM: "dumb" }, group: true }
    )
    writeFileSync(join(logs, `${logName}.log`), `${result.stdout}${result.stderr === "" ? "" : `\n--- stderr ---\n${result.stderr}`}`)
    const alive = child.exitCode === null && child.signalCode === null
    return {
      unit,
      server,
      output: parseUnitOutput(result.stdout),
      elapsedMs: Math.round(result.elapsedMs),
      exitCode: result.code,
      ...(result.timedOut ? { killedAfterSeconds: unitTimeout } : {}),
      ...(alive ? {} : { serverEnded: child.signalCode ?? `exit ${child.exitCode}` }),
      ...(shim === undefined ? {} : { rewrites: Object.fromEntries(shim.rewrites) })
    }
  } finally {
    await shim?.close()
    await stopChild(child, 5_000)
    await exited(child)
    rmSync(dir, { recursive: true, force: true })
    serverDirs.delete(dir)
  }
}

/** How many times a unit is run again past tests that hung. */
const MAX_RERUNS = 5

/**
 * Runs one unit against `server`. When the suite times out on a test (no
 * progress for --suite-timeout seconds: a reply that never comes), the unit is
 * run again from the start on a fresh server with that test skipped, up to
 * MAX_RERUNS times, so the tests after it are measured too; the run reported
 * is the last one, with the tests that hung named.
 */
const runUnit = async (unit: string, server: SuiteServer): Promise<UnitRun> => {
  const hung: Array<string> = []
  let elapsedMs = 0
  for (let attempt = 0; ; attempt++) {
    const selection = hung.flatMap((name) => ["--skiptest", name])
    const run = await runAttempt(unit, server, selection, `${fileName(unit)}${attempt === 0 ? "" : `.rerun${attempt}`}`)
    elapsedMs += run.elapsedMs
    const stuck = run.output.timeout?.inProgress
    if (stuck === undefined || hung.includes(stuck) || attempt === MAX_RERUNS) {
      return { ...run, elapsedMs, ...(hung.length === 0 ? {} : { hung }) }
    }
    hung.push(stuck)
  }
}

process.stderr.write(
  `bench/redis-suite: the tests of Redis ${tag} (${relative(repoRoot, suite)}), ${units.length} units, servers ${chosen.join(",")}, ` +
    `excluding ${exclusions.join(" ") || "no tags"}; logs in ${relative(repoRoot, runDir)}\n`
)
/**
 * Runs each test that failed on `run` for a reason other than an unknown
 * command alone (`--only NAME`, a fresh server each), at most `--alone`
 * of them per unit, and returns the run with what each did alone: a test
 * that passes alone failed because an earlier failure left state behind
 * (an open MULTI, a client still subscribed or blocked).
 */
const runAlone = async (run: UnitRun, redis: UnitRun): Promise<UnitRun> => {
  const variant = compareUnit(redis, [run]).variants[0]
  const failed = (variant?.shortfalls ?? []).filter((shortfall) => shortfall.cause === "other").slice(0, aloneLimit)
  const alone: Record<string, { outcome: string; reason?: string }> = {}
  for (const [index, shortfall] of failed.entries()) {
    const name = run.output.tests.find((test) => test.key === shortfall.test)?.name ?? shortfall.test
    const single = await runAttempt(run.unit, run.server, ["--only", name], `${fileName(run.unit)}.alone${index + 1}`)
    const result = single.output.tests.find((test) => test.key === shortfall.test) ?? single.output.tests.find((test) => test.name === name)
    alone[shortfall.test] = result === undefined
      ? { outcome: "not run", reason: single.output.exception ?? single.output.blockErrors[0] ?? "" }
      : { outcome: result.outcome, ...(result.reason === undefined ? {} : { reason: result.reason }) }
  }
  return failed.length === 0 ? run : { ...run, alone }
}

const runs: Array<UnitRun> = []
for (const unit of units) {
  for (const server of chosen) {
    const first = await runUnit(unit, server)
    const redis = runs.find((run) => run.unit === unit && run.server === "redis-server")
    const run = server === "redis-server" || redis === undefined || aloneLimit === 0 ? first : await runAlone(first, redis)
    runs.push(run)
    const counts = (outcome: string) => run.output.tests.filter((test) => test.outcome === outcome).length
    process.stderr.write(
      `  ${unit.padEnd(26)} ${server.padEnd(18)} ok ${String(counts("ok")).padStart(3)}  err ${String(counts("err")).padStart(3)}  ` +
        `${(run.elapsedMs / 1000).toFixed(0).padStart(4)} s${run.output.exception === undefined ? "" : `  exception: ${run.output.exception.slice(0, 80)}`}\n`
    )
  }
}

const compare = (unit: string) => {
  const of = (server: SuiteServer) => runs.filter((run) => run.unit === unit && run.server === server)
  const [redis] = of("redis-server")
  return compareUnit(redis!, chosen.filter((server) => server !== "redis-server").flatMap(of))
}
const comparisons = units.map(compare)
const groups: Array<UnitGroup> = [
  { name: "core", units: coreUnits },
  { name: "extra", units: extraUnits },
  { name: "other", units: units.filter((unit) => !coreUnits.includes(unit) && !extraUnits.includes(unit)) }
]
const commit = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: repoRoot, encoding: "utf8" }).stdout.trim()
const report = renderSuiteReport(
  [
    `## Redis ${tag} test suite: redis-server ${installed} and fiberline (${new Date().toISOString().slice(0, 10)}, commit ${commit})`,
    "",
    `\`./runtest --host 127.0.0.1 --port P --baseport B ${suiteFlags.map((flag) => flag.includes(" ") ? `"${flag}"` : flag).join(" ")} --single UNIT\`, ` +
    "a fresh server per unit and server, one at a time. fiberline-tolerant: fiberline behind a shim that rewrites " +
    "FUNCTION FLUSH and CONFIG SET of encoding thresholds and save into SELECT 0 (+OK), and MEMORY USAGE key into EXISTS key. " +
    `A unit that hangs on a test (no progress for ${suiteTimeout} s) is run again without it.`
  ],
  comparisons,
  runs,
  groups
)
writeFileSync(join(runDir, "report.md"), `${report}\n`)
writeFileSync(join(runDir, "results.json"), `${JSON.stringify({ tag, installed, commit, suiteFlags, units, servers: chosen, runs }, null, 2)}\n`)
process.stdout.write(`${report}\n`)
process.stderr.write(`bench/redis-suite: report in ${relative(repoRoot, join(runDir, "report.md"))}\n`)
