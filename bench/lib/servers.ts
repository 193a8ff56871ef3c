/**
 * The servers under test, and starting/stopping one on a free loopback port.
 * Every server is a Node program run on the pinned Node; its stdout and
 * stderr go to a log file of the run, so anything it prints is kept.
 */
// oxlint-disable no-await-in-loop -- the readiness loop polls the port until it answers
import type { ChildProcess } from "node:child_process"
import { closeSync, cpSync, openSync, rmSync, statSync } from "node:fs"
import * as Net from "node:net"
import { join } from "node:path"
import { benchDir, fiberlineMain, fiberlineSnapshot, pinnedNode, type ReferenceSources, repoRoot } from "./paths.ts"
import { type Exited, exited, runCommand, spawnTracked, stopChild } from "./processes.ts"

/** Servers in table order: fiberline first, then the baselines from Effect-native to the ceiling. */
export const serverNames = [
  "fiberline",
  "effect-baseline",
  "node-statemachine",
  "node-statemachine-nodelay",
  "node-readline",
  "node-pipe"
] as const

/** One of {@link serverNames}. */
export type ServerName = (typeof serverNames)[number]

/** The pinned-Node arguments that start `name` listening on `port`. */
const nodeArgs = (name: ServerName, port: number, refs: ReferenceSources): Array<string> => {
  switch (name) {
    case "fiberline":
      return [fiberlineMain, "echo", "--port", String(port), "--log-level", "none"]
    case "effect-baseline":
      return [join(benchDir, "effect-baseline.ts"), String(port)]
    case "node-statemachine":
      return [refs.statemachine, String(port)]
    // The same state machine with Nagle off, as fiberline runs (`noDelay`): like with like.
    case "node-statemachine-nodelay":
      return [join(benchDir, "nodelay.mjs"), refs.statemachine, String(port)]
    case "node-readline":
      return [refs.readline, String(port)]
    case "node-pipe":
      return [refs.pipe, String(port)]
  }
}

/** Asks the kernel for a free loopback port (bind to 0, read it, close). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = Net.createServer()
    probe.once("error", reject)
    probe.listen({ port: 0, host: "127.0.0.1" }, () => {
      const address = probe.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      probe.close(() => (port > 0 ? resolve(port) : reject(new Error("no port assigned"))))
    })
  })

const canConnect = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = Net.connect({ port, host: "127.0.0.1" })
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })

/** A server started by {@link startServer}. */
export interface RunningServer {
  readonly pid: number
  readonly port: number
  /** Bytes the server has written to its log so far. */
  readonly loggedBytes: () => number
  /** How the server exited, if it already has (it should not before `stop`). */
  readonly exitedEarly: () => Exited | undefined
  /** SIGTERM, then SIGKILL after a grace period; says which one stopped it. */
  readonly stop: () => Promise<"exited" | "SIGTERM" | "SIGKILL">
}

const STARTUP_TIMEOUT_MS = 20_000
const STOP_GRACE_MS = 5_000

/**
 * Starts `name` on `port` (appending its output to `logPath`) and resolves
 * once the port accepts connections; rejects if it exits or is not ready
 * within 20 s (the child is then stopped).
 */
export const startServer = async (
  name: ServerName,
  port: number,
  refs: ReferenceSources,
  logPath: string
): Promise<RunningServer> => {
  const log = openSync(logPath, "a")
  let child: ChildProcess
  try {
    child = spawnTracked(pinnedNode, nodeArgs(name, port, refs), { cwd: repoRoot, stdio: ["ignore", log, log] })
  } finally {
    closeSync(log)
  }
  let exit: Exited | undefined
  let stopping = false
  void exited(child).then((result) => (exit = result))
  const exitedEarly = () => (stopping ? undefined : exit)
  const stop = () => {
    stopping = true
    return stopChild(child, STOP_GRACE_MS)
  }
  const deadline = performance.now() + STARTUP_TIMEOUT_MS
  while (!(await canConnect(port))) {
    if (exit !== undefined || performance.now() > deadline) {
      await stop()
      throw new Error(`${name} did not start listening on ${port} (see ${logPath})`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    pid: child.pid ?? -1,
    port,
    loggedBytes: () => statSync(logPath).size,
    exitedEarly,
    stop
  }
}

/**
 * Compiles fiberline into `dist/` (`tsc -p tsconfig.build.json` on the pinned
 * Node) and snapshots it into {@link fiberlineSnapshot}. Returns tsc's
 * diagnostics when it reported type errors but still emitted (exit code 2),
 * so the run can go on and say so; throws when it emitted nothing.
 */
export const buildFiberline = async (): Promise<string | undefined> => {
  const tsc = join(repoRoot, "node_modules", "typescript", "bin", "tsc")
  const result = await runCommand(pinnedNode, [tsc, "-p", "tsconfig.build.json"], { cwd: repoRoot, timeoutMs: 300_000 })
  const diagnostics = `${result.stdout}${result.stderr}`.trim()
  if (result.code !== 0 && result.code !== 2) throw new Error(`building fiberline failed:\n${diagnostics}`)
  rmSync(fiberlineSnapshot, { recursive: true, force: true })
  cpSync(join(repoRoot, "dist"), join(fiberlineSnapshot, "dist"), { recursive: true })
  cpSync(join(repoRoot, "package.json"), join(fiberlineSnapshot, "package.json"))
  return result.code === 0 ? undefined : diagnostics
}
