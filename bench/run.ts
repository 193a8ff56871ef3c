/**
 * The benchmark suite (`npm run bench`, i.e. `node bench/run.ts [flags]`):
 * builds echoload and fiberline, then for each repetition, each shape and
 * each server (interleaved, so every server sees the same noise) starts a
 * fresh server on a free loopback port, loads it, and stops it by PID. Then
 * times the stdio mode against `cat`, prints a Markdown report and saves it
 * with the raw JSON under `bench/results/`. See bench/README.md.
 */
// oxlint-disable no-await-in-loop -- cells run one at a time on purpose: concurrent runs would load the same 2 cores
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { buildEchoload } from "./lib/echoload.ts"
import { fdLimit, idleConnectionsThatFit } from "./lib/limits.ts"
import { type CellResult, type CellSettings, runCell } from "./lib/measure.ts"
import { type BenchOptions, parseOptions, usage } from "./lib/options.ts"
import { benchDir, echoloadSource, pinnedNode, repoRoot, resultsDir } from "./lib/paths.ts"
import { installCleanup, runCommand } from "./lib/processes.ts"
import { type BenchResults, machineInfo, renderMarkdown, saveResults, timestamp } from "./lib/report.ts"
import { buildFiberline, buildReferenceServers, type ServerName, snapshotFiberline } from "./lib/servers.ts"
import { isTcpShape } from "./lib/shapes.ts"
import { checkFiberlineStdio, ensureStdioInput, type StdioRun, type StdioTool, timeStdio } from "./lib/stdio.ts"

const progress = (text: string) => process.stderr.write(`${text}\n`)

/** The list rotated left by `by`, so each repetition starts with a different entry. */
const rotate = <A>(items: ReadonlyArray<A>, by: number): Array<A> =>
  items.map((_, index) => items[(index + by) % items.length] as A)

const describeCell = (cell: CellResult): string => {
  const numbers = cell.echoload
  const summary = numbers === undefined
    ? "no numbers"
    : `${numbers.linesPerS} lines/s, p50 ${numbers.p50Us} µs, p99 ${numbers.p99Us} µs, errors ${numbers.errors}`
  const rss = cell.peakRssKiB === undefined ? "" : `, peak ${(cell.peakRssKiB / 1024).toFixed(1)} MiB`
  const cpu = cell.cpuUsPerLine === undefined ? "" : `, ${cell.cpuUsPerLine.toFixed(2)} cpu µs/line`
  const problems = cell.problems.length === 0 ? "" : `  [${cell.problems.join("; ")}]`
  return `  run ${cell.run} ${cell.shape.padEnd(6)} ${cell.server.padEnd(17)} ${summary}${rss}${cpu}${problems}`
}

const runTcpShapes = async (options: BenchOptions, settings: CellSettings) => {
  const cells: Array<CellResult> = []
  for (let run = 1; run <= options.runs; run++) {
    for (const shape of options.shapes.filter(isTcpShape)) {
      for (const server of rotate<ServerName>(options.servers, run - 1)) {
        const cell = await runCell(settings, run, shape, server)
        cells.push(cell)
        progress(describeCell(cell))
      }
    }
  }
  return cells
}

/** Size of the input of the stdio output check: big enough to span many reads, quick to run four times. */
const STDIO_CHECK_MIB = 16

const runStdio = async (options: BenchOptions) => {
  progress(`stdio: generating ${options.stdioMiB} MiB and ${STDIO_CHECK_MIB} MiB of lines (once, kept in bench/.build)`)
  const input = ensureStdioInput(options.stdioMiB)
  progress("stdio: checking fiberline's output against its input")
  const checks = await checkFiberlineStdio(ensureStdioInput(STDIO_CHECK_MIB))
  const runs: Array<StdioRun> = []
  for (let run = 1; run <= options.runs; run++) {
    for (const stdin of ["pipe", "file"] as const) {
      for (const tool of rotate<StdioTool>(["fiberline", "cat"], run - 1)) {
        const result = await timeStdio(tool, stdin, input, run)
        runs.push(result)
        const problem = result.problem === undefined ? "" : `  [${result.problem}]`
        progress(`  run ${run} stdio  ${`${tool} < ${stdin}`.padEnd(17)} ${result.seconds.toFixed(2)} s${problem}`)
      }
    }
  }
  return { input, checks, runs }
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error))

const main = async () => {
  let options: BenchOptions | undefined
  try {
    options = parseOptions(process.argv.slice(2))
  } catch (error) {
    process.stderr.write(`${message(error)}\n\n${usage}`)
    process.exit(2)
  }
  if (options === undefined) {
    process.stdout.write(usage)
    return
  }
  if (options.compare !== undefined) {
    try {
      snapshotFiberline(options.compare, "fiberline-before")
    } catch (error) {
      process.stderr.write(`--compare: ${message(error)}\n`)
      process.exit(2)
    }
  }
  installCleanup()

  progress(`building echoload from ${echoloadSource}; reference servers into bench/.build/reference`)
  await buildEchoload()
  buildReferenceServers()
  progress("building fiberline (tsc -p tsconfig.build.json)")
  const typeErrors = await buildFiberline()

  const notes: Array<string> = []
  if (typeErrors !== undefined) {
    progress(`warning: fiberline built with type errors:\n${typeErrors}`)
    notes.push(`fiberline was built with type errors (tsc emitted anyway): ${typeErrors.split("\n").join("; ")}`)
  }
  const idleConnections = idleConnectionsThatFit(options.idleConnections)
  if (options.shapes.includes("idle") && idleConnections < options.idleConnections) {
    notes.push(
      `idle shape scaled down to ${idleConnections} connections: open-files limit is ${fdLimit().soft}` +
        " (raise the hard limit, `ulimit -Hn`, to hold more)"
    )
  }
  const machine = machineInfo(fdLimit())
  const logDir = join(resultsDir, `${timestamp(machine.date)}-logs`)
  mkdirSync(logDir, { recursive: true })
  progress(`server logs: ${logDir}`)

  const cells = await runTcpShapes(options, {
    logDir,
    seconds: options.seconds,
    idleSeconds: options.idleSeconds,
    idleConnections
  })
  let stdio: BenchResults["stdio"]
  if (options.shapes.includes("stdio")) {
    if (options.servers.includes("fiberline")) stdio = await runStdio(options)
    else notes.push("stdio skipped: it measures fiberline, which --only left out")
  }

  // The scripts of their own, run after the rest so they do not disturb it.
  const extra: Array<string> = []
  for (const [shape, script, args] of [
    ["connections", "connections.ts", []],
    ["redis", "redis.ts", ["--runs", String(options.runs), ...(options.compare === undefined ? [] : ["--compare", options.compare])]]
  ] as const) {
    if (!options.shapes.includes(shape)) continue
    progress(`${shape}: node bench/${script} ${args.join(" ")}`)
    const result = await runCommand(pinnedNode, [join(benchDir, script), ...args], { timeoutMs: 1_800_000, cwd: repoRoot })
    if (result.code === 0) extra.push(result.stdout.trim())
    else notes.push(`${shape} did not complete (exit ${result.code ?? result.signal}): ${result.stderr.trim().split("\n").slice(-2).join("; ")}`)
  }

  const results: BenchResults = { machine, options, idleConnections, cells, notes, ...(stdio === undefined ? {} : { stdio }) }
  const markdown = [renderMarkdown(results), ...extra.map((section) => section.startsWith("### ") ? section : `### Many connections\n\n${section}`)].join("\n\n")
  process.stdout.write(`\n${markdown}`)
  for (const path of saveResults(results, markdown)) progress(`saved ${path}`)
}

await main()
