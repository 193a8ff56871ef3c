/**
 * Cross-check of the bench's own load generator and echo servers against the
 * shared ones in `../shared/bench`, the only script that reads that
 * directory. On one shape, interleaved run by run, each plain Node echo
 * (pipe, state machine, readline) runs in both versions, ours and the
 * shared one, under both load generators. Two load generators agree when, on
 * the same server, they report the same lines/s and server CPU per line
 * within noise; the servers of one kind agree when, under the same load
 * generator, they cost the same within noise.
 *
 *   node bench/cross-check.ts [--shape 50x16] [--runs 3] [--seconds 3] [--kinds node-pipe,...]
 *
 * Loopback only; every server is started on a free port and stopped by its
 * PID; every load run is bounded (echoload: its duration + 30 s).
 */
// oxlint-disable no-await-in-loop -- cells run one at a time on purpose: concurrent runs would load the same 2 cores
import { existsSync, mkdirSync } from "node:fs"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { exitOnHelp } from "./lib/args.ts"
import { buildEchoload, echoloadBinary, type EcholoadNumbers } from "./lib/echoload.ts"
import { loadAndMeasureCpu } from "./lib/measure.ts"
import { buildDir, referenceServer, resultsDir, sharedBenchDir } from "./lib/paths.ts"
import { installCleanup } from "./lib/processes.ts"
import { median, timestamp } from "./lib/report.ts"
import { buildReferenceServers, freePort, startNodeServer } from "./lib/servers.ts"
import { echoloadShape, type TcpShapeName } from "./lib/shapes.ts"

const usage = "node bench/cross-check.ts [--shape 50x16] [--runs 3] [--seconds 3] [--kinds node-pipe,node-statemachine,node-readline]"
exitOnHelp(usage)

const kindNames = ["node-pipe", "node-statemachine", "node-readline"] as const
type Kind = (typeof kindNames)[number]
type Origin = "ours" | "shared"

const fail = (text: string): never => {
  process.stderr.write(`bench/cross-check: ${text}\nusage: ${usage}\n`)
  process.exit(2)
}

const { values } = parseArgs({
  strict: true,
  options: { shape: { type: "string" }, runs: { type: "string" }, seconds: { type: "string" }, kinds: { type: "string" } }
})
const shapeChoices = ["1x1", "50x1", "50x16", "1000x4"] as const
const shape = (values.shape ?? "50x16") as TcpShapeName
if (!(shapeChoices as ReadonlyArray<string>).includes(shape)) fail(`--shape must be one of ${shapeChoices.join(", ")}, got "${shape}"`)
const runs = Number(values.runs ?? "3")
const seconds = Number(values.seconds ?? "3")
if (!Number.isInteger(runs) || runs < 1) fail(`--runs must be a positive integer, got "${values.runs}"`)
if (!(seconds > 0)) fail(`--seconds must be a positive number, got "${values.seconds}"`)
const kinds = (values.kinds?.split(",") ?? [...kindNames]) as Array<Kind>
for (const kind of kinds) if (!kindNames.includes(kind)) fail(`--kinds: unknown "${kind}"; choose from ${kindNames.join(",")}`)

const sharedServer = (kind: Kind) => join(sharedBenchDir, `${kind}.mjs`)
const sharedEcholoadSource = join(sharedBenchDir, "echoload.c")
const missing = [sharedEcholoadSource, ...kinds.map(sharedServer)].filter((path) => !existsSync(path))
if (missing.length > 0) fail(`the shared reference files are not there: ${missing.join(", ")}`)

installCleanup()
const sharedEcholoadBinary = join(buildDir, "echoload-shared")
await buildEchoload()
await buildEchoload(sharedEcholoadSource, sharedEcholoadBinary)
buildReferenceServers()
const logDir = join(resultsDir, `${timestamp(new Date().toISOString())}-cross-check-logs`)
mkdirSync(logDir, { recursive: true })

interface Cell {
  readonly run: number
  readonly kind: Kind
  readonly server: Origin
  readonly load: Origin
  readonly numbers?: EcholoadNumbers
  readonly cpuUsPerLine?: number
  readonly problems: ReadonlyArray<string>
}

const combos: ReadonlyArray<readonly [Origin, Origin]> = [["ours", "ours"], ["shared", "ours"], ["ours", "shared"], ["shared", "shared"]]
const { conns, window } = echoloadShape[shape]
const cells: Array<Cell> = []
process.stderr.write(`bench/cross-check: ${shape}, ${runs} runs of ${seconds} s, logs in ${logDir}\n`)
/** One cell: a fresh server of `kind` from `server`, loaded by the load generator from `load`; never throws. */
const measure = async (run: number, kind: Kind, server: Origin, load: Origin): Promise<Cell> => {
  const problems: Array<string> = []
  const port = await freePort()
  const script = server === "ours" ? referenceServer(kind) : sharedServer(kind)
  let running
  try {
    running = await startNodeServer(`${kind} (${server})`, [script, String(port)], port, join(logDir, `${kind}-${server}.log`))
  } catch (error) {
    return { run, kind, server, load, problems: [error instanceof Error ? error.message : String(error)] }
  }
  try {
    const binary = load === "ours" ? echoloadBinary : sharedEcholoadBinary
    const { echoload, cpuUsPerLine } = await loadAndMeasureCpu(running, conns, window, seconds, problems, binary)
    return { run, kind, server, load, ...(echoload === undefined ? {} : { numbers: echoload }), ...(cpuUsPerLine === undefined ? {} : { cpuUsPerLine }), problems }
  } finally {
    await running.stop()
  }
}

for (let run = 1; run <= runs; run++) {
  for (const kind of kinds) {
    // The order of the four rotates with each run, so none always goes first.
    for (let index = 0; index < combos.length; index++) {
      const [server, load] = combos[(index + run - 1) % combos.length] ?? ["ours", "ours"]
      const cell = await measure(run, kind, server, load)
      cells.push(cell)
      process.stderr.write(
        `  run ${run} ${`${kind} (${server})`.padEnd(26)} load ${load.padEnd(6)} ${cell.numbers?.linesPerS ?? "-"} lines/s, ` +
          `${cell.cpuUsPerLine?.toFixed(2) ?? "-"} cpu µs/line${cell.problems.length === 0 ? "" : `  [${cell.problems.join("; ")}]`}\n`
      )
    }
  }
}

const select = (kind: Kind, server: Origin, load: Origin) =>
  cells.filter((cell) => cell.kind === kind && cell.server === server && cell.load === load)
const fixed = (digits: number) => (value: number | undefined) => (value === undefined ? "–" : value.toFixed(digits))
const metrics: ReadonlyArray<(cell: Cell) => number | undefined> = [
  (cell) => cell.cpuUsPerLine,
  (cell) => cell.numbers?.linesPerS,
  (cell) => cell.numbers?.p50Us
]

/** Median over runs of `a`'s metric divided by `b`'s in the same run. */
const pairedRatio = (a: ReadonlyArray<Cell>, b: ReadonlyArray<Cell>, metric: (cell: Cell) => number | undefined) =>
  median(a.map((cell) => {
    const partner = b.find((other) => other.run === cell.run)
    const mine = metric(cell)
    const theirs = partner === undefined ? undefined : metric(partner)
    return mine === undefined || theirs === undefined || theirs === 0 ? undefined : mine / theirs
  }))

const row = (fields: ReadonlyArray<string>) => `| ${fields.join(" | ")} |`
const lines = [
  `### Cross-check against ../shared/bench (${new Date().toISOString().slice(0, 10)}, node ${process.version})`,
  "",
  `Shape ${shape} (${conns} connections, ${window} lines in flight each), ${seconds} s per run (first tenth warm-up), median of ${runs} interleaved runs.`,
  "",
  row(["server", "server from", "load generator", "cpu µs/line", "lines/s", "p50 µs", "p99 µs", "errors", "runs ok"]),
  row(["---", "---", "---", "---:", "---:", "---:", "---:", "---:", "---:"])
]
for (const kind of kinds) {
  for (const [server, load] of combos) {
    const group = select(kind, server, load)
    const measured = group.filter((cell) => cell.numbers !== undefined)
    lines.push(row([
      kind,
      server,
      load,
      fixed(2)(median(measured.map((cell) => cell.cpuUsPerLine))),
      fixed(0)(median(measured.map((cell) => cell.numbers?.linesPerS))),
      fixed(0)(median(measured.map((cell) => cell.numbers?.p50Us))),
      fixed(0)(median(measured.map((cell) => cell.numbers?.p99Us))),
      String(measured.reduce((sum, cell) => sum + (cell.numbers?.errors ?? 0), 0)),
      `${measured.length}/${group.length}`
    ]))
  }
}
lines.push(
  "",
  "Ratios, ours / shared (median of per-run ratios; 1.00× is perfect agreement):",
  "",
  row(["server", "compared", "under / against", "cpu µs/line", "lines/s", "p50"]),
  row(["---", "---", "---", "---:", "---:", "---:"])
)
for (const kind of kinds) {
  for (const fixedSide of ["ours", "shared"] as const) {
    const servers = [select(kind, "ours", fixedSide), select(kind, "shared", fixedSide)] as const
    lines.push(row([kind, "server", `${fixedSide} load generator`, ...metrics.map((metric) => `${fixed(2)(pairedRatio(...servers, metric))}×`)]))
  }
  for (const fixedSide of ["ours", "shared"] as const) {
    const loads = [select(kind, fixedSide, "ours"), select(kind, fixedSide, "shared")] as const
    lines.push(row([kind, "load generator", `${fixedSide} server`, ...metrics.map((metric) => `${fixed(2)(pairedRatio(...loads, metric))}×`)]))
  }
}
const problems = cells.flatMap((cell) => cell.problems.map((problem) => `- run ${cell.run}, ${cell.kind} (${cell.server}), load ${cell.load}: ${problem}`))
lines.push("", problems.length === 0 ? "Problems: none." : `Problems:\n\n${problems.join("\n")}`, "")
process.stdout.write(`\n${lines.join("\n")}`)
process.exitCode = problems.length === 0 ? 0 : 1
