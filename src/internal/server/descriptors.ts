/**
 * The process's file-descriptor budget. Every connection holds a descriptor;
 * when none is left, libuv accepts and closes new connections by itself
 * without telling Node (its "EMFILE trick"), so clients are dropped with no
 * log line and no metric. A server therefore caps its connections below the
 * descriptor limit, keeping a reserve for everything else the process opens
 * (the metrics endpoint, log files, a handler's own files, refusals still
 * closing), so the overflow goes through the visible refusal path instead.
 *
 * @internal
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import { BurstLog, type Fork } from "./burstLog.ts"

const readSoftLimit = (): number | undefined => {
  // Linux: no subprocess needed. The soft limit is the one that applies
  // (Node raises it to the hard limit at startup when it can).
  try {
    const line = Fs.readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"))
    const soft = line?.split(/\s+/)[3]
    if (soft !== undefined) return soft === "unlimited" ? undefined : Number(soft)
  } catch {
    // Not Linux: ask a POSIX shell, which inherits our limit.
  }
  if (process.platform === "win32") return undefined
  try {
    const out = ChildProcess.execFileSync("sh", ["-c", "ulimit -n"], { encoding: "utf8", timeout: 2_000 }).trim()
    return out === "unlimited" ? undefined : Number(out)
  } catch {
    return undefined
  }
}

let cached: { readonly limit: number | undefined } | undefined

/** The soft `RLIMIT_NOFILE` of this process; `undefined` when unlimited or unknown. Read once. */
export const limit = (): number | undefined => {
  cached ??= { limit: readSoftLimit() }
  const value = cached.limit
  return value !== undefined && Number.isSafeInteger(value) && value > 0 ? value : undefined
}

/**
 * Descriptors kept free of connections: an eighth of the limit, at least 64
 * and at most 1024.
 */
export const reserve = (fdLimit: number): number => Math.max(64, Math.min(1024, Math.floor(fdLimit / 8)))

/**
 * The default `maxConnections` under `fdLimit`: the limit minus the
 * {@link reserve}, at least 1; unlimited when the limit is unknown.
 */
export const defaultMaxConnections = (fdLimit: number | undefined): number =>
  fdLimit === undefined ? Infinity : Math.max(1, fdLimit - reserve(fdLimit))

/** Refused connections allowed to close gracefully at once under `fdLimit`: a quarter of the reserve, at most 256. */
export const maxClosingRefusals = (fdLimit: number | undefined): number =>
  fdLimit === undefined ? 256 : Math.min(256, Math.floor(reserve(fdLimit) / 4))

/** Descriptors open in this process now, where the system tells (`/proc/self/fd`); else `undefined`. */
export const openCount = (): number | undefined => {
  try {
    return Fs.readdirSync("/proc/self/fd").length
  } catch {
    return undefined
  }
}

/** How often {@link Watch} looks at the open descriptors while over budget. */
const watchInterval = Duration.seconds(1)

/**
 * Watches for descriptor exhaustion while a server holds more connections
 * than its budget allows (possible only when `maxConnections` was set above
 * the default): libuv then drops new connections silently, and only a look
 * at the open descriptors tells. Checks once a second while over budget
 * (a fiber on Effect's `Clock`, forked by the server in its scope), never
 * otherwise.
 */
export class Watch {
  private readonly fdLimit: number
  private readonly budget: number
  private readonly onExhausted: (open: number) => Effect.Effect<void>
  private readonly fork: Fork
  private watching: Fiber.Fiber<void, unknown> | undefined = undefined

  /** `onExhausted` runs on each check that finds fewer than 8 descriptors free. */
  constructor(fdLimit: number, onExhausted: (open: number) => Effect.Effect<void>, fork: Fork) {
    this.fdLimit = fdLimit
    this.budget = defaultMaxConnections(fdLimit)
    this.onExhausted = onExhausted
    this.fork = fork
  }

  /** Tells the watch how many connections are held now. */
  update(active: number): void {
    if (active >= this.budget && this.watching === undefined) {
      this.watching = this.fork(Effect.repeat(this.check, Schedule.spaced(watchInterval)).pipe(Effect.asVoid))
    } else if (active < this.budget && this.watching !== undefined) {
      this.close()
    }
  }

  /** Stops watching. */
  close(): void {
    this.watching?.interruptUnsafe()
    this.watching = undefined
  }

  private readonly check: Effect.Effect<void> = Effect.suspend(() => {
    const open = openCount()
    return open !== undefined && open >= this.fdLimit - 8 ? this.onExhausted(open) : Effect.void
  })
}

/**
 * Reports that the process is out of descriptors (an accept failed with
 * `EMFILE`/`ENFILE`, or a {@link Watch} check found none free): counted
 * each time, logged at once for the first of a burst, then summarised at
 * most once per `interval`.
 */
export class Exhaustion {
  private readonly burst: BurstLog
  private readonly fdLimit: number | undefined
  private readonly count: () => void

  /** `count` records one exhaustion in the server's metrics. */
  constructor(fdLimit: number | undefined, count: () => void, interval: Duration.Input, fork: Fork) {
    this.fdLimit = fdLimit
    this.count = count
    this.burst = new BurstLog(interval, (times) => Effect.logError("still out of file descriptors", { times, fdLimit }), fork)
  }

  /** One exhaustion: counted, and logged unless a burst is under way. */
  readonly report: Effect.Effect<void> = Effect.suspend(() => {
    this.count()
    return this.burst.report()
      ? Effect.logError("out of file descriptors: the OS drops new connections", { fdLimit: this.fdLimit })
      : Effect.void
  })

  /** Summarises what the burst under way counted (the server is stopping). */
  get close(): Effect.Effect<void> {
    return this.burst.close
  }
}
