/**
 * Child processes of the bench: spawning them with a time bound, stopping
 * them by their own PID (never by name), killing every one still alive when
 * the bench exits, and reading what Linux reports about them in `/proc`.
 */
import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"

const alive = new Set<ChildProcess>()

/** Children started as the leaders of their own process groups (`detached`), by PID. */
const leaders = new Set<number>()

/** SIGKILL to the process group led by `pid` (a child started `detached`); nothing if it is gone. */
const killGroup = (pid: number): void => {
  try {
    process.kill(-pid, "SIGKILL")
  } catch {
    // ESRCH: every process of the group has exited.
  }
}

/** Sends SIGKILL to every child the bench started that has not exited yet, and to the groups they lead. */
export const killAllChildren = (): void => {
  for (const child of alive) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  }
  alive.clear()
  for (const pid of leaders) killGroup(pid)
  leaders.clear()
}

/**
 * Makes sure no child outlives the bench: on normal exit, on an uncaught
 * error, and on SIGINT/SIGTERM (which then exit with 130/143).
 */
export const installCleanup = (): void => {
  process.on("exit", killAllChildren)
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping children\n`)
      killAllChildren()
      process.exit(code)
    })
  }
}

/** Spawns a child and tracks it until it exits, so `killAllChildren` can reach it. */
export const spawnTracked = (command: string, args: ReadonlyArray<string>, options: SpawnOptions): ChildProcess => {
  const child = spawn(command, [...args], options)
  alive.add(child)
  child.once("exit", () => alive.delete(child))
  // A failed spawn (ENOENT) is reported through `exited`; don't let it throw.
  child.once("error", () => alive.delete(child))
  return child
}

/** How a child ended: its exit code, or the signal that ended it. */
export interface Exited {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** Resolves when the child has exited (at once if it already has). */
export const exited = (child: ChildProcess): Promise<Exited> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve({ code: child.exitCode, signal: child.signalCode })
    : new Promise((resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal }))
      child.once("error", () => resolve({ code: null, signal: null }))
    })

/** Resolves with whether the child exited within `ms`; the timer is cleared either way. */
const exitsWithin = async (child: ChildProcess, ms: number): Promise<boolean> => {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)))
  try {
    return await Promise.race([exited(child).then(() => true), timeout])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Stops a child by its PID: SIGTERM, then SIGKILL if it is still running
 * after `graceMs`. Returns which signal finally stopped it.
 */
export const stopChild = async (child: ChildProcess, graceMs: number): Promise<"exited" | "SIGTERM" | "SIGKILL"> => {
  if (child.exitCode !== null || child.signalCode !== null) return "exited"
  child.kill("SIGTERM")
  if (await exitsWithin(child, graceMs)) return "SIGTERM"
  child.kill("SIGKILL")
  await exitsWithin(child, graceMs)
  return "SIGKILL"
}

/** The outcome of {@link runCommand}. */
export interface CommandResult extends Exited {
  readonly stdout: string
  readonly stderr: string
  readonly timedOut: boolean
  readonly elapsedMs: number
}

/**
 * Runs a command to completion with captured output, killing it (by PID)
 * if it runs longer than `timeoutMs`.
 */
export const runCommand = async (
  command: string,
  args: ReadonlyArray<string>,
  options: {
    readonly timeoutMs: number
    readonly cwd?: string
    readonly env?: NodeJS.ProcessEnv
    /**
     * Run it as the leader of a process group of its own, and kill the whole
     * group (by the leader's PID) at the time bound and once it has exited, so
     * no process it started in the background outlives it.
     */
    readonly group?: boolean
  }
): Promise<CommandResult> => {
  const started = performance.now()
  const child = spawnTracked(command, args, {
    cwd: options.cwd,
    env: options.env,
    detached: options.group === true,
    stdio: ["ignore", "pipe", "pipe"]
  })
  const leader = options.group === true ? child.pid : undefined
  if (leader !== undefined) leaders.add(leader)
  const kill = () => (leader === undefined ? child.kill("SIGKILL") : killGroup(leader))
  let stdout = ""
  let stderr = ""
  child.stdout?.setEncoding("utf8").on("data", (text: string) => (stdout += text))
  child.stderr?.setEncoding("utf8").on("data", (text: string) => (stderr += text))
  let spawnError = ""
  child.once("error", (error) => (spawnError = `${error.message}\n`))
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    kill()
  }, options.timeoutMs)
  const exit = await exited(child)
  clearTimeout(timer)
  if (leader !== undefined) {
    killGroup(leader)
    leaders.delete(leader)
  }
  // `exit` can fire before the pipes are drained: wait for them to close, but
  // not for long, as a grandchild that outlived a kill may still hold them.
  const closed = Promise.all([child.stdout, child.stderr].map((stream) =>
    stream === null || stream.closed ? undefined : new Promise((resolve) => stream.once("close", resolve))
  ))
  let grace: NodeJS.Timeout | undefined
  await Promise.race([closed, new Promise((resolve) => (grace = setTimeout(resolve, 2_000)))])
  clearTimeout(grace)
  child.stdout?.destroy()
  child.stderr?.destroy()
  return { ...exit, stdout, stderr: spawnError + stderr, timedOut, elapsedMs: performance.now() - started }
}

/** Clock ticks per second of `/proc/PID/stat` times (`getconf CLK_TCK`, 100 if unknown). */
export const clockTicksPerSecond: number = (() => {
  const result = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" })
  const ticks = Number(result.stdout?.trim())
  return Number.isInteger(ticks) && ticks > 0 ? ticks : 100
})()

const readProc = (pid: number, file: string): string | undefined => {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "utf8")
  } catch {
    return undefined
  }
}

const statusField = (pid: number, field: string): number | undefined => {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(readProc(pid, "status") ?? "")
  return match?.[1] === undefined ? undefined : Number(match[1])
}

/** Peak resident set size of a live process (`VmHWM`), in KiB. */
export const peakRssKiB = (pid: number): number | undefined => statusField(pid, "VmHWM")

/** Current resident set size of a live process (`VmRSS`), in KiB. */
export const rssKiB = (pid: number): number | undefined => statusField(pid, "VmRSS")

/** User + system CPU time a live process has used so far, in microseconds. */
export const cpuMicros = (pid: number): number | undefined => {
  const stat = readProc(pid, "stat")
  if (stat === undefined) return undefined
  // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  const ticks = Number(fields[11]) + Number(fields[12])
  return Number.isFinite(ticks) ? (ticks * 1e6) / clockTicksPerSecond : undefined
}

/** Number of open file descriptors of a live process. */
export const openFds = (pid: number): number | undefined => {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return undefined
  }
}
