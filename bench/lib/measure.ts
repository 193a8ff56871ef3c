/**
 * One measurement cell: a fresh server, one TCP shape, one repetition. The
 * server is started on a free port, loaded with echoload (for `idle`, after
 * ~10,000 idle connections are opened), observed through `/proc`, and
 * stopped by its PID. Anything odd (echoload errors, an early exit, a server
 * that needs SIGKILL, output on its log) is recorded, never thrown.
 */
// oxlint-disable no-await-in-loop -- polling loops wait on the server between steps
import { join } from "node:path"
import { type EcholoadNumbers, runEchoload } from "./echoload.ts"
import { openIdleConnections } from "./idle.ts"
import { cpuMicros, openFds, peakRssKiB, rssKiB } from "./processes.ts"
import { freePort, type RunningServer, type ServerName, startServer } from "./servers.ts"
import { echoloadShape, type TcpShapeName } from "./shapes.ts"

/** What the idle shape observed about the idle connections. */
export interface IdleStats {
  readonly wanted: number
  readonly opened: number
  readonly failed: number
  /** Descriptors the server gained while they were opened: connections it accepted and holds. */
  readonly heldByServer: number
  readonly openSeconds: number
  /** Server RSS before the idle connections, and once they were all held (KiB). */
  readonly rssBeforeKiB: number
  readonly rssHeldKiB: number
  /** Idle connections the server closed while they were held (it should close none). */
  readonly closedByServer: number
}

/** The result of one cell; numbers are absent when the cell failed. */
export interface CellResult {
  readonly run: number
  readonly shape: TcpShapeName
  readonly server: ServerName
  readonly echoload?: EcholoadNumbers
  /** The server's peak RSS (`VmHWM`) at the end of the cell, in KiB. */
  readonly peakRssKiB?: number
  /** Server CPU time (user + system) per echoed line over the measured part of the run. */
  readonly cpuUsPerLine?: number
  readonly idle?: IdleStats
  /** Failures and anomalies, in words; empty for a clean cell. */
  readonly problems: ReadonlyArray<string>
}

/** Settings shared by every cell of a bench run. */
export interface CellSettings {
  readonly logDir: string
  readonly seconds: number
  readonly idleSeconds: number
  readonly idleConnections: number
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Runs echoload (`binary`, the project's by default) and measures the
 * server's CPU time over echoload's measured part: sampled when its warm-up
 * tenth ends and again when it exits. Adds what went wrong to `problems`.
 */
export const loadAndMeasureCpu = async (
  server: RunningServer,
  conns: number,
  window: number,
  seconds: number,
  problems: Array<string>,
  binary?: string
): Promise<{ echoload?: EcholoadNumbers; cpuUsPerLine?: number }> => {
  const cpuAtWarm = sleep(seconds * 100).then(() => cpuMicros(server.pid))
  const outcome = await runEchoload(server.port, conns, window, seconds, binary)
  const cpuAtEnd = cpuMicros(server.pid)
  const cpuStart = await cpuAtWarm
  if (!outcome.ok) {
    problems.push(outcome.reason)
    return {}
  }
  const numbers = outcome.numbers
  if (numbers.errors > 0) problems.push(`echoload counted ${numbers.errors} errors`)
  const lines = numbers.linesPerS * seconds * 0.9
  const cpuUsPerLine = cpuStart !== undefined && cpuAtEnd !== undefined && lines > 0
    ? (cpuAtEnd - cpuStart) / lines
    : undefined
  return cpuUsPerLine === undefined ? { echoload: numbers } : { echoload: numbers, cpuUsPerLine }
}

/** Waits (up to 2 s) until the server's descriptor count is the same 200 ms apart, e.g. the readiness probe is closed. */
const settledFds = async (pid: number): Promise<number> => {
  let previous = openFds(pid) ?? 0
  for (let attempt = 0; attempt < 10; attempt++) {
    await sleep(200)
    const current = openFds(pid) ?? 0
    if (current === previous) return current
    previous = current
  }
  return previous
}

/** Opens the idle connections and waits (up to 10 s) for the server to hold them all. */
const holdIdleConnections = async (server: RunningServer, wanted: number) => {
  const fdsBefore = await settledFds(server.pid)
  const rssBeforeKiB = rssKiB(server.pid) ?? 0
  const held = () => (openFds(server.pid) ?? fdsBefore) - fdsBefore
  const idle = await openIdleConnections(server.port, wanted, held, { batch: 250, deadlineMs: 120_000 })
  const deadline = performance.now() + 10_000
  while (held() < idle.opened && performance.now() < deadline) await sleep(50)
  // Let allocation settle before reading RSS.
  await sleep(500)
  const stats = {
    wanted,
    opened: idle.opened,
    failed: idle.failed,
    heldByServer: held(),
    openSeconds: idle.openMs / 1000,
    rssBeforeKiB,
    rssHeldKiB: rssKiB(server.pid) ?? 0
  }
  return { idle, stats }
}

/** The idle shape: hold the idle connections, take the echoload sample meanwhile, then close them. */
const measureIdle = async (server: RunningServer, settings: CellSettings, problems: Array<string>) => {
  const { idle, stats } = await holdIdleConnections(server, settings.idleConnections)
  try {
    if (stats.failed > 0) problems.push(`${stats.failed} idle connections failed to connect`)
    if (stats.heldByServer < stats.opened) {
      problems.push(`server holds ${stats.heldByServer} of ${stats.opened} idle connections`)
    }
    const { conns, window } = echoloadShape.idle
    const load = await loadAndMeasureCpu(server, conns, window, settings.idleSeconds, problems)
    const closedByServer = idle.closedByServer()
    if (closedByServer > 0) problems.push(`server closed ${closedByServer} idle connections`)
    return { ...load, idle: { ...stats, closedByServer } }
  } finally {
    await idle.close()
  }
}

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/** Runs one cell: starts `serverName`, applies `shape`, stops it; never throws. */
export const runCell = async (
  settings: CellSettings,
  run: number,
  shape: TcpShapeName,
  serverName: ServerName
): Promise<CellResult> => {
  const problems: Array<string> = []
  let server: RunningServer
  try {
    server = await startServer(serverName, await freePort(), join(settings.logDir, `${serverName}.log`))
  } catch (error) {
    return { run, shape, server: serverName, problems: [describe(error)] }
  }
  const loggedBefore = server.loggedBytes()
  let result: Omit<CellResult, "problems"> = { run, shape, server: serverName }
  try {
    const { conns, window } = echoloadShape[shape]
    const measured = shape === "idle"
      ? await measureIdle(server, settings, problems)
      : await loadAndMeasureCpu(server, conns, window, settings.seconds, problems)
    // VmHWM only grows, so reading it last gives the peak of the whole cell.
    const peak = peakRssKiB(server.pid)
    result = { ...result, ...measured, ...(peak === undefined ? {} : { peakRssKiB: peak }) }
  } catch (error) {
    problems.push(`bench error: ${describe(error)}`)
  } finally {
    const early = server.exitedEarly()
    if (early !== undefined) problems.push(`server exited during the run (${early.code ?? early.signal})`)
    const stoppedBy = await server.stop()
    if (stoppedBy === "SIGKILL") problems.push("server ignored SIGTERM for 5 s; killed")
    const logged = server.loggedBytes() - loggedBefore
    if (logged > 0) problems.push(`server wrote ${logged} bytes to its log`)
  }
  return { ...result, problems }
}
