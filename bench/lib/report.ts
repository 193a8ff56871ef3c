/**
 * Turning cells into the report: machine information, medians per shape and
 * server, fiberline's ratios to the baselines (median of per-repetition
 * ratios, so each ratio compares runs made under the same noise), the idle
 * and stdio tables, and the files written to `bench/results/`.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import * as Os from "node:os"
import { join, relative } from "node:path"
import type { FdLimit } from "./limits.ts"
import type { CellResult } from "./measure.ts"
import type { BenchOptions } from "./options.ts"
import { pinnedNode, repoRoot, resultsDir } from "./paths.ts"
import type { ServerName } from "./servers.ts"
import { isTcpShape, type TcpShapeName } from "./shapes.ts"
import type { StdinMode, StdioCheck, StdioInput, StdioRun, StdioTool } from "./stdio.ts"

/** Where and on what the bench ran. */
export interface MachineInfo {
  readonly date: string
  readonly cpuModel: string
  readonly cores: number
  readonly node: string
  readonly kernel: string
  readonly loadAverage: ReadonlyArray<number>
  readonly commit: string
  /** Whether `src/` differed from that commit (the bench builds the working tree). */
  readonly uncommittedSrc: boolean
  readonly fdLimit: FdLimit
}

const outputOf = (command: string, args: Array<string>): string =>
  spawnSync(command, args, { cwd: repoRoot, encoding: "utf8" }).stdout?.trim() || "unknown"

/** Collects {@link MachineInfo}; the git commands only read (`--no-optional-locks` keeps the index untouched). */
export const machineInfo = (fdLimit: FdLimit): MachineInfo => {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8")
  return {
    date: new Date().toISOString(),
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    cores: Os.availableParallelism(),
    node: outputOf(pinnedNode, ["--version"]),
    kernel: `${Os.type()} ${Os.release()}`,
    loadAverage: Os.loadavg().map((load) => Math.round(load * 100) / 100),
    commit: outputOf("git", ["rev-parse", "--short", "HEAD"]),
    uncommittedSrc: spawnSync("git", ["--no-optional-locks", "diff", "--quiet", "HEAD", "--", "src"], { cwd: repoRoot }).status === 1,
    fdLimit
  }
}

/** Everything one bench run produced; saved as JSON. */
export interface BenchResults {
  readonly machine: MachineInfo
  readonly options: BenchOptions
  /** Idle connections actually attempted (the option, scaled down to the fd limit). */
  readonly idleConnections: number
  readonly cells: ReadonlyArray<CellResult>
  readonly stdio?: {
    readonly input: StdioInput
    readonly checks: ReadonlyArray<StdioCheck>
    readonly runs: ReadonlyArray<StdioRun>
  }
  /** Remarks about the run as a whole (a scaled-down idle shape, a skipped measurement). */
  readonly notes: ReadonlyArray<string>
}

/** The median of the values given (the mean of the middle two for an even count); undefined when there are none. */
export const median = (values: ReadonlyArray<number | undefined>): number | undefined => {
  const sorted = values.filter((value): value is number => value !== undefined).toSorted((a, b) => a - b)
  if (sorted.length === 0) return undefined
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2
}

const DASH = "–"
const rate = (value: number | undefined): string =>
  value === undefined
    ? DASH
    : value >= 1e6
    ? `${(value / 1e6).toFixed(2)}M`
    : value >= 1e3
    ? `${(value / 1e3).toFixed(1)}k`
    : value.toFixed(0)
const fixed = (digits: number) => (value: number | undefined): string =>
  value === undefined ? DASH : value.toFixed(digits)
const mib = (kib: number | undefined): string => (kib === undefined ? DASH : (kib / 1024).toFixed(1))
const ratio = (value: number | undefined): string =>
  value === undefined ? DASH : `${value >= 0.1 ? value.toFixed(2) : value.toPrecision(2)}×`

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string =>
  [header, header.map(() => "---"), ...rows].map((cells) => `| ${cells.join(" | ")} |`).join("\n")

const cellsOf = (results: BenchResults, shape: TcpShapeName, server: ServerName) =>
  results.cells.filter((cell) => cell.shape === shape && cell.server === server)

const shapesRun = (results: BenchResults): Array<TcpShapeName> => results.options.shapes.filter(isTcpShape)

const mainTable = (results: BenchResults): string => {
  const rows = shapesRun(results).flatMap((shape) =>
    results.options.servers.map((server) => {
      const cells = cellsOf(results, shape, server)
      const measured = cells.filter((cell) => cell.echoload !== undefined)
      const errors = measured.reduce((sum, cell) => sum + (cell.echoload?.errors ?? 0), 0)
      return [
        shape,
        server,
        fixed(2)(median(measured.map((cell) => cell.cpuUsPerLine))),
        rate(median(measured.map((cell) => cell.echoload?.linesPerS))),
        fixed(0)(median(measured.map((cell) => cell.echoload?.p50Us))),
        fixed(0)(median(measured.map((cell) => cell.echoload?.p99Us))),
        mib(median(cells.map((cell) => cell.peakRssKiB))),
        `${measured.length}/${cells.length}`,
        String(errors)
      ]
    })
  )
  return table(["shape", "server", "cpu µs/line", "lines/s", "p50 µs", "p99 µs", "peak RSS MiB", "runs ok", "errors"], rows)
}

type Metric = (cell: CellResult) => number | undefined
/** The compared metrics, in the column order of the ratio table. */
// Server CPU per line first: on a 2-core machine shared with the load
// generator it decides throughput, and it is the steadiest figure.
const metrics: ReadonlyArray<Metric> = [
  (cell) => cell.cpuUsPerLine,
  (cell) => cell.echoload?.linesPerS,
  (cell) => cell.echoload?.p50Us,
  (cell) => cell.peakRssKiB
]

/** Median over repetitions of fiberline's value divided by the baseline's value in the same repetition. */
const pairedRatio = (results: BenchResults, shape: TcpShapeName, baseline: ServerName, metric: Metric) => {
  const ours = cellsOf(results, shape, "fiberline")
  const theirs = cellsOf(results, shape, baseline)
  return median(ours.map((cell) => {
    const partner = theirs.find((candidate) => candidate.run === cell.run)
    const mine = metric(cell)
    const other = partner === undefined ? undefined : metric(partner)
    return mine === undefined || other === undefined || other === 0 ? undefined : mine / other
  }))
}

const ratioTable = (results: BenchResults): string | undefined => {
  const servers = results.options.servers
  if (!servers.includes("fiberline")) return undefined
  const pairs = shapesRun(results).flatMap((shape) => {
    const baselines: Array<ServerName> = ["fiberline-before", "node-statemachine-nodelay", "node-statemachine", "effect-baseline"]
    if (shape === "50x16") baselines.push("node-readline")
    return baselines.filter((baseline) => servers.includes(baseline)).map((baseline) => [shape, baseline] as const)
  })
  if (pairs.length === 0) return undefined
  const rows = pairs.map(([shape, baseline]) =>
    [shape, `fiberline / ${baseline}`].concat(metrics.map((metric) => ratio(pairedRatio(results, shape, baseline, metric))))
  )
  return table(["shape", "ratio", "cpu µs/line", "lines/s", "p50 latency", "peak RSS"], rows)
}

const idleTable = (results: BenchResults): string | undefined => {
  if (!results.options.shapes.includes("idle")) return undefined
  const rows = results.options.servers.map((server) => {
    const cells = cellsOf(results, "idle", server)
    const idles = cells.flatMap((cell) => (cell.idle === undefined ? [] : [cell.idle]))
    return [
      server,
      idles.map((idle) => `${idle.heldByServer}/${idle.wanted}`).join(", ") || DASH,
      fixed(1)(median(idles.map((idle) => idle.openSeconds))),
      mib(median(idles.map((idle) => idle.rssBeforeKiB))),
      mib(median(idles.map((idle) => idle.rssHeldKiB))),
      fixed(1)(median(idles.map((idle) => idle.opened > 0 ? (idle.rssHeldKiB - idle.rssBeforeKiB) / idle.opened : undefined))),
      mib(median(cells.map((cell) => cell.peakRssKiB))),
      String(idles.reduce((sum, idle) => sum + idle.closedByServer, 0))
    ]
  })
  return table(
    ["server", "held/wanted per run", "open s", "RSS before MiB", "RSS held MiB", "KiB per conn", "peak RSS MiB", "closed by server"],
    rows
  )
}

const stdioSection = (results: BenchResults): string | undefined => {
  const stdio = results.stdio
  if (stdio === undefined) return undefined
  const { input, checks, runs } = stdio
  const counted = (tool: StdioTool, stdin: StdinMode) =>
    runs.filter((run) => run.tool === tool && run.stdin === stdin && run.problem === undefined)
  const seconds = (tool: StdioTool, stdin: StdinMode) => median(counted(tool, stdin).map((run) => run.seconds))
  const rows: Array<Array<string>> = []
  const ratios: Array<string> = []
  for (const stdin of ["pipe", "file"] as const) {
    for (const tool of ["fiberline", "cat"] as const) {
      const time = seconds(tool, stdin)
      const total = runs.filter((run) => run.tool === tool && run.stdin === stdin).length
      rows.push([
        stdin,
        tool,
        fixed(2)(time),
        fixed(1)(time === undefined ? undefined : input.bytes / 1e6 / time),
        rate(time === undefined ? undefined : input.lines / time),
        `${counted(tool, stdin).length}/${total}`
      ])
    }
    const ours = seconds("fiberline", stdin)
    const cat = seconds("cat", stdin)
    ratios.push(`stdin ${stdin}: ${ratio(ours === undefined || cat === undefined ? undefined : cat / ours)}`)
  }
  const checkRows = checks.map((check) => [
    check.stdin,
    check.stdout,
    `${check.outputBytes} / ${check.inputBytes}`,
    check.identical ? "yes" : "**no**",
    String(check.exit)
  ])
  return [
    `Input: ${(input.bytes / 1024 / 1024).toFixed(0)} MiB, ${input.lines.toLocaleString("en-US")} lines of 33 bytes; ` +
    "stdin `pipe` is `cat FILE | CMD > /dev/null`, stdin `file` is `CMD < FILE > /dev/null`.",
    "",
    table(["stdin", "command", "s per run", "MB/s", "lines/s", "runs ok"], rows),
    "",
    `Throughput ratio fiberline / cat: ${ratios.join(", ")}.`,
    "",
    "Output check of `fiberline echo --stdio` (a smaller input, output collected in a file):",
    "",
    table(["stdin", "stdout", "bytes out / in", "identical", "exit"], checkRows)
  ].join("\n")
}

const problemList = (results: BenchResults): string => {
  const lines = results.cells.flatMap((cell) =>
    cell.problems.map((problem) => `- run ${cell.run}, ${cell.shape}, ${cell.server}: ${problem}`)
  )
  const stdio = (results.stdio?.runs ?? []).flatMap((run) =>
    run.problem === undefined ? [] : [`- run ${run.run}, stdio (stdin ${run.stdin}), ${run.tool}: ${run.problem}`]
  )
  const all = [...results.notes.map((note) => `- ${note}`), ...lines, ...stdio]
  return all.length === 0 ? "None." : all.join("\n")
}

/** Renders the whole report as Markdown. */
export const renderMarkdown = (results: BenchResults): string => {
  const { machine, options } = results
  const sections = [
    `## fiberline benchmark, ${machine.date}`,
    "",
    `Machine: ${machine.cpuModel}, ${machine.cores} cores (shared by client and servers), ${machine.kernel}, ` +
    `Node ${machine.node}, fiberline built from the working tree at ${machine.commit}${machine.uncommittedSrc ? " (with uncommitted changes in src/)" : ""}, load average at start ${machine.loadAverage.join(" / ")}, ` +
    `open-files limit ${machine.fdLimit.soft}.` +
    (options.compare === undefined ? "" : ` fiberline-before: the build in ${relative(repoRoot, options.compare) || "."}.`),
    "",
    `Settings: ${options.runs} interleaved runs; ${options.seconds} s per throughput run (first tenth warm-up); ` +
    (options.shapes.includes("idle")
      ? `idle: ${results.idleConnections} connections plus a ${options.idleSeconds} s 10x1 sample; `
      : "") +
    "32-byte lines; a fresh server process per cell.",
    ""
  ]
  if (shapesRun(results).length > 0) {
    sections.push(`### Per shape and server (median of ${options.runs} runs)`, "", mainTable(results), "")
  }
  const ratios = ratioTable(results)
  if (ratios !== undefined) {
    sections.push(
      "### fiberline relative to baselines (median of per-run ratios)",
      "",
      "lines/s above 1× means fiberline is faster; p50, cpu and RSS below 1× mean fiberline is better.",
      "",
      ratios,
      ""
    )
  }
  const idle = idleTable(results)
  if (idle !== undefined) sections.push(`### Idle connections (${results.idleConnections} wanted)`, "", idle, "")
  const stdio = stdioSection(results)
  if (stdio !== undefined) sections.push(`### stdio (median of ${options.runs} runs)`, "", stdio, "")
  sections.push("### Problems", "", problemList(results), "")
  return sections.join("\n")
}

/** A file-name-safe timestamp of the run, e.g. `2025-01-31T12-00-00Z`. */
export const timestamp = (date: string): string => date.replace(/\.\d+Z$/, "Z").replaceAll(":", "-")

/** Writes `<stamp>.json` and `<stamp>.md` to `bench/results/`; returns their paths. */
export const saveResults = (results: BenchResults, markdown: string): Array<string> => {
  mkdirSync(resultsDir, { recursive: true })
  const base = join(resultsDir, timestamp(results.machine.date))
  writeFileSync(`${base}.json`, `${JSON.stringify(results, null, 2)}\n`)
  writeFileSync(`${base}.md`, markdown)
  return [`${base}.json`, `${base}.md`]
}
