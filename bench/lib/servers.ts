/**
 * The servers under test, starting/stopping one on a free loopback port, and
 * building and snapshotting the fiberline builds they run. Every server is a
 * Node program run on the pinned Node; its stdout and stderr go to a log file
 * of the run, so anything it prints is kept.
 */
// oxlint-disable no-await-in-loop -- the readiness loop polls the port until it answers
import type { ChildProcess } from "node:child_process"
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { stripTypeScriptTypes } from "node:module"
import * as Net from "node:net"
import { dirname, join } from "node:path"
import {
  pinnedNode,
  referenceNames,
  referenceServer,
  referenceSource,
  repoRoot,
  snapshotDir,
  snapshotMain
} from "./paths.ts"
import { type Exited, exited, runCommand, spawnTracked, stopChild } from "./processes.ts"

/**
 * Servers in table order: fiberline first, then the build it is compared with
 * (only with `--compare`), then the baselines from Effect-native to the ceiling.
 */
export const serverNames = [
  "fiberline",
  "fiberline-before",
  "effect-baseline",
  "node-statemachine",
  "node-statemachine-nodelay",
  "node-readline",
  "node-pipe"
] as const

/** One of {@link serverNames}. */
export type ServerName = (typeof serverNames)[number]

/** The pinned-Node arguments that start `name` listening on `port`. */
const nodeArgs = (name: ServerName, port: number): Array<string> => {
  switch (name) {
    case "fiberline":
    case "fiberline-before":
      return [snapshotMain(name), "echo", "--port", String(port), "--log-level", "none"]
    case "effect-baseline":
      return [referenceServer("effect-baseline"), String(port)]
    case "node-statemachine":
      return [referenceServer("node-statemachine"), String(port)]
    // The same state machine with Nagle off, as fiberline runs (`noDelay`): like with like.
    case "node-statemachine-nodelay":
      return [referenceServer("node-statemachine"), String(port), "--nodelay"]
    case "node-readline":
      return [referenceServer("node-readline"), String(port)]
    case "node-pipe":
      return [referenceServer("node-pipe"), String(port)]
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
export const startServer = (name: ServerName, port: number, logPath: string): Promise<RunningServer> =>
  startNodeServer(name, nodeArgs(name, port), port, logPath)

/** {@link startServer} for any Node program (`args` for the pinned Node) that listens on `port`; `label` names it in errors. */
export const startNodeServer = async (
  label: string,
  args: ReadonlyArray<string>,
  port: number,
  logPath: string
): Promise<RunningServer> => {
  const log = openSync(logPath, "a")
  let child: ChildProcess
  try {
    child = spawnTracked(pinnedNode, args, { cwd: repoRoot, stdio: ["ignore", log, log] })
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
      throw new Error(`${label} did not start listening on ${port} (see ${logPath})`)
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
 * Writes each reference server's TypeScript source, stripped of its types by
 * Node's own `stripTypeScriptTypes`, to the JavaScript file the bench runs
 * (`bench/.build/reference/NAME.mjs`). Run as `.ts`, each server would load
 * Node's TypeScript support, ~18 MiB of RSS that fiberline, run from its
 * compiled `dist/`, does not carry.
 */
export const buildReferenceServers = (): void => {
  for (const name of referenceNames) {
    mkdirSync(dirname(referenceServer(name)), { recursive: true })
    writeFileSync(referenceServer(name), stripTypeScriptTypes(readFileSync(referenceSource(name), "utf8")))
  }
}

/**
 * Copies the fiberline build in `distDir` (a `dist/` directory holding
 * `cli/main.js`) into the snapshot `name` (see {@link snapshotDir}), with the
 * `package.json` beside `distDir`, or the repository's when there is none.
 * Throws a one-line error naming `distDir` when it holds no build.
 */
export const snapshotFiberline = (distDir: string, name: string): void => {
  if (!existsSync(join(distDir, "cli", "main.js"))) {
    throw new Error(`no fiberline build in ${distDir}: expected cli/main.js there (give a checkout's dist/ after npm run build)`)
  }
  const packageJson = join(distDir, "..", "package.json")
  rmSync(snapshotDir(name), { recursive: true, force: true })
  cpSync(distDir, join(snapshotDir(name), "dist"), { recursive: true })
  cpSync(existsSync(packageJson) ? packageJson : join(repoRoot, "package.json"), join(snapshotDir(name), "package.json"))
}

/**
 * Compiles fiberline into `dist/` (`tsc -p tsconfig.build.json` on the pinned
 * Node) and snapshots it as `fiberline`. Returns tsc's diagnostics when it
 * reported type errors but still emitted (exit code 2), so the run can go on
 * and say so; throws when it emitted nothing.
 */
export const buildFiberline = async (): Promise<string | undefined> => {
  const tsc = join(repoRoot, "node_modules", "typescript", "bin", "tsc")
  const result = await runCommand(pinnedNode, [tsc, "-p", "tsconfig.build.json"], { cwd: repoRoot, timeoutMs: 300_000 })
  const diagnostics = `${result.stdout}${result.stderr}`.trim()
  if (result.code !== 0 && result.code !== 2) throw new Error(`building fiberline failed:\n${diagnostics}`)
  snapshotFiberline(join(repoRoot, "dist"), "fiberline")
  return result.code === 0 ? undefined : diagnostics
}
