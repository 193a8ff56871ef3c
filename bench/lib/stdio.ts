/**
 * The stdio measurement: a large generated file of lines is passed through
 * `fiberline echo --stdio` and, for comparison, through `cat`, both writing
 * to /dev/null, with stdin a pipe (`cat FILE | TOOL`) and stdin the file
 * itself (`TOOL < FILE`). Before timing, fiberline's output is checked
 * against its input on a smaller file, for each stdin/stdout combination.
 * Pipelines are built from direct children (no shell), each stopped by PID.
 */
// oxlint-disable no-await-in-loop -- the checks run one after another on purpose, like the timed runs
import type { ChildProcess } from "node:child_process"
import { closeSync, existsSync, mkdirSync, openSync, rmSync, statSync, writeSync } from "node:fs"
import { join } from "node:path"
import { buildDir, pinnedNode, snapshotMain } from "./paths.ts"
import { type Exited, exited, runCommand, spawnTracked } from "./processes.ts"

/** The two commands compared. */
export type StdioTool = "fiberline" | "cat"

/** The generated input. */
export interface StdioInput {
  readonly path: string
  readonly bytes: number
  readonly lines: number
}

/** Bytes per generated line: a 32-byte payload like echoload's default, plus `\n`. */
const LINE_BYTES = 33
const LINES_PER_WRITE = 32_768

const numberedLine = (n: number): string => `${String(n).padStart(12, "0")}:abcdefghijklmnopqrs\n`

/**
 * Generates `mib` MiB (rounded down to whole lines) of 33-byte lines into
 * the build directory, unless a file of exactly that size is already there.
 */
export const ensureStdioInput = (mib: number): StdioInput => {
  const lines = Math.floor((mib * 1024 * 1024) / LINE_BYTES)
  const path = join(buildDir, `stdio-${mib}MiB.txt`)
  const bytes = lines * LINE_BYTES
  if (existsSync(path) && statSync(path).size === bytes) return { path, bytes, lines }
  mkdirSync(buildDir, { recursive: true })
  const fd = openSync(path, "w")
  try {
    for (let start = 0; start < lines; start += LINES_PER_WRITE) {
      let chunk = ""
      for (let n = start; n < Math.min(lines, start + LINES_PER_WRITE); n++) chunk += numberedLine(n)
      writeSync(fd, chunk)
    }
  } finally {
    closeSync(fd)
  }
  return { path, bytes, lines }
}

const command = (tool: StdioTool): [string, Array<string>] =>
  tool === "cat" ? ["cat", []] : [pinnedNode, [snapshotMain("fiberline"), "echo", "--stdio", "--log-level", "none"]]

/** Bounds a timed run over the large input. */
const RUN_TIMEOUT_MS = 15 * 60_000
/** Bounds a check run over the small input (a hang shows up as a timeout). */
const CHECK_TIMEOUT_MS = 2 * 60_000

/** How the tool's stdin is fed: from `cat FILE |` (a pipe) or `< FILE` (the file itself). */
export type StdinMode = "pipe" | "file"

/** How the tool's stdout reaches the output file: `> OUT` (the file) or `| cat > OUT` (a pipe). */
export type StdoutMode = "file" | "pipe"

/** How a {@link pipeline} ended. */
interface PipelineResult {
  readonly seconds: number
  /** How the tool itself exited. */
  readonly exit: Exited
  readonly stderr: string
  readonly timedOut: boolean
}

/**
 * Runs `[cat INPUT |] TOOL [< INPUT] [| cat] > OUTPUT` from direct children
 * (no shell), so each is tracked and killed by its own PID after `timeoutMs`.
 */
const pipeline = async (
  tool: StdioTool,
  stdin: StdinMode,
  stdout: StdoutMode,
  input: string,
  output: string,
  timeoutMs: number
): Promise<PipelineResult> => {
  const started = performance.now()
  const inputFd = openSync(input, "r")
  const outputFd = openSync(output, "w")
  try {
    const feeder = stdin === "pipe" ? spawnTracked("cat", [], { stdio: [inputFd, "pipe", "ignore"] }) : undefined
    const [file, args] = command(tool)
    const main = spawnTracked(file, args, {
      stdio: [feeder?.stdout ?? inputFd, stdout === "pipe" ? "pipe" : outputFd, "pipe"]
    })
    const collector = stdout === "pipe"
      ? spawnTracked("cat", [], { stdio: [main.stdout ?? "ignore", outputFd, "ignore"] })
      : undefined
    // Each child holds its own copy of its pipe ends; closing ours lets EOF and EPIPE through.
    feeder?.stdout?.destroy()
    if (collector !== undefined) main.stdout?.destroy()
    const children = [feeder, main, collector].filter((child): child is ChildProcess => child !== undefined)
    let stderr = ""
    main.stderr?.setEncoding("utf8").on("data", (text: string) => (stderr += text))
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      for (const child of children) child.kill("SIGKILL")
    }, timeoutMs)
    await Promise.all(children.map(exited))
    const exit = await exited(main)
    clearTimeout(timer)
    return { seconds: (performance.now() - started) / 1000, exit, stderr: stderr.trim(), timedOut }
  } finally {
    closeSync(inputFd)
    closeSync(outputFd)
  }
}

/** One timed run. */
export interface StdioRun {
  readonly run: number
  readonly tool: StdioTool
  readonly stdin: StdinMode
  readonly seconds: number
  /** Why the run does not count (non-zero exit, timeout), if it does not. */
  readonly problem?: string
}

/** Times one run of `cat INPUT | TOOL > /dev/null` (stdin `pipe`) or `TOOL < INPUT > /dev/null` (stdin `file`). */
export const timeStdio = async (tool: StdioTool, stdin: StdinMode, input: StdioInput, run: number): Promise<StdioRun> => {
  const result = await pipeline(tool, stdin, "file", input.path, "/dev/null", RUN_TIMEOUT_MS)
  const timed = { run, tool, stdin, seconds: result.seconds }
  if (result.timedOut) return { ...timed, problem: "timed out" }
  if (result.exit.code !== 0) {
    const said = result.stderr === "" ? " (nothing on stderr)" : `: ${result.stderr}`
    return { ...timed, problem: `exited ${result.exit.code ?? result.exit.signal}${said}` }
  }
  return timed
}

/** Whether fiberline's `--stdio` output matched its input, for one way of connecting stdin and stdout. */
export interface StdioCheck {
  readonly stdin: StdinMode
  readonly stdout: StdoutMode
  readonly inputBytes: number
  readonly outputBytes: number
  readonly identical: boolean
  /** How fiberline exited: its code, the signal that ended it, or `timed out`. */
  readonly exit: number | string
}

/**
 * Runs fiberline over `input` once per stdin/stdout combination, each time
 * collecting its output in a file, and compares that with the input (`cmp`).
 */
export const checkFiberlineStdio = async (input: StdioInput): Promise<Array<StdioCheck>> => {
  const output = join(buildDir, "stdio-output.txt")
  const checks: Array<StdioCheck> = []
  try {
    for (const stdin of ["pipe", "file"] as const) {
      for (const stdout of ["file", "pipe"] as const) {
        const { exit, timedOut } = await pipeline("fiberline", stdin, stdout, input.path, output, CHECK_TIMEOUT_MS)
        const compared = await runCommand("cmp", ["-s", input.path, output], { timeoutMs: CHECK_TIMEOUT_MS })
        checks.push({
          stdin,
          stdout,
          inputBytes: input.bytes,
          outputBytes: statSync(output).size,
          identical: compared.code === 0,
          exit: timedOut ? "timed out" : exit.code ?? exit.signal ?? "unknown"
        })
      }
    }
    return checks
  } finally {
    rmSync(output, { force: true })
  }
}
