/**
 * `--workers N`: the process becomes a `node:cluster` primary that forks N
 * workers and keeps them serving. Each worker runs the command exactly as a
 * single process does — same handler, same settings, its own copy of the
 * handler's layer — and they share the port through cluster, which on Linux
 * accepts in the primary and hands connections out round-robin. The primary
 * serves no connection itself; it supervises, serves the metrics of all
 * workers (`clusterMetrics.ts`), and decides the exit code.
 *
 * **Slots.** Workers fill slots `1..N`; a replacement takes its
 * predecessor's slot, so logs (`worker` annotation) and metrics (`worker`
 * label) name a slot, stable over restarts, rather than a pid.
 *
 * **Failing to start versus crashing.** A worker that exits before it is
 * listening has hit something a restart would hit again — the port is
 * taken, the handler module or its layer fails, a setting is refused — so
 * the run ends: the other workers drain and the primary exits with the worst
 * code (at least that worker's, and at least 1). A worker that exits after
 * it was listening, while the primary is not stopping, has crashed and is
 * restarted after a delay that doubles with every crash of its slot
 * (`restarts.ts`: 100 ms up to 10 s, starting over once a worker of that
 * slot has stayed up for 30 s). The first restart of a burst is logged in
 * full, the rest are summed up at most every 5 s: a crash loop costs a few
 * lines, never one per crash, and never a tight loop of forks.
 *
 * **Stopping.** On the first SIGINT/SIGTERM the primary asks every worker to
 * drain (an IPC message, see `workerLink.ts`), cancels pending restarts, and
 * waits for all of them; each drains as a single process does and exits 0,
 * or 1 after a forced drain. A second signal makes every worker exit 1 at
 * once, and the primary with them. A worker still running
 * `--shutdown-timeout` plus 10 s after the drain began is killed (it counts
 * as 1).
 *
 * **Exit code.** The worst of the codes the workers ended with at the stop
 * (or when they failed to start), and 1 if any worker crashed during the
 * run, even though it was restarted: a run that had to restart a worker did
 * not go well, and says so.
 *
 * **Shared values.** Values every worker must hold alike — the TLS
 * session-ticket keys — are made once by the primary
 * and handed to each worker, replacements included, in its environment
 * (`PrimaryOptions.sharedEnv`).
 *
 * @since 0.1.0
 */
import cluster, { type Worker } from "node:cluster"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import { constVoid } from "effect/Function"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { ServeError } from "effect/http/HttpServerError"
import type { WorkerMetrics } from "./clusterMetrics.ts"
import { ExitCode } from "./exit.ts"
import { onHangup } from "./hangup.ts"
import { backoff, RestartLog, SlotRestarts } from "./restarts.ts"
import { takeOverSecondSignal } from "./run.ts"
import * as WorkerLink from "./workerLink.ts"

/**
 * Options of {@link primary}.
 *
 * @since 0.1.0
 */
export interface PrimaryOptions {
  /** Workers to run, at least 2. */
  readonly count: number
  /** The workers' `--shutdown-timeout`: how long their drain may take before they force it. */
  readonly shutdownTimeout: Duration.Duration
  /** Serve the metrics of every worker on this port (`clusterMetrics.ts`). */
  readonly metricsPort?: number | undefined
  /** Added to every worker's environment, the same for each (see "Shared values" above). */
  readonly sharedEnv?: Readonly<Record<string, string>> | undefined
  /** Pass SIGHUP on to the workers (they reload their TLS certificates on it). */
  readonly forwardHangup?: boolean | undefined
}

/** After a second signal, how long workers get to exit before they are killed. */
const forceGrace = Duration.seconds(2)
/** Beyond `--shutdown-timeout`: the workers' lingering closes and their own exit. */
const drainGrace = Duration.seconds(10)
/** How long a metrics scrape waits for a worker's answer; a worker that is late is left out. */
const scrapeTimeout = Duration.seconds(2)

/** Restarts of crashed workers, per slot (the primary's own metric). */
const restarts = Metric.counter("fiberline_worker_restarts_total", {
  description: "Workers restarted after they crashed, by slot",
  incremental: true
})

/** Runs an effect from a Node callback as a fiber of the primary (see {@link primary}). */
type Run = (effect: Effect.Effect<void>) => Fiber.Fiber<void>

interface Slot {
  readonly number: number
  worker: Worker | undefined
  /** The current worker reported that it listens. */
  listening: boolean
  readonly restarts: SlotRestarts
  /** The wait before a crashed worker's replacement. */
  restart: Fiber.Fiber<void> | undefined
  /** How the last worker of this slot ended, when that decides the exit code. */
  lastCode: number | undefined
  /** The metrics requests this slot's worker has not answered yet. */
  readonly pending: Map<number, (text: string | undefined) => void>
}

const sendTo = (worker: Worker, message: WorkerLink.ToWorker): void => {
  if (worker.isConnected()) worker.send(message, constVoid)
}

/** The workers of one run, driven by Node's cluster events; see the module doc. */
class Pool {
  readonly failed = Deferred.makeUnsafe<void>()
  private readonly slots: ReadonlyArray<Slot>
  private readonly run: Run
  private readonly sharedEnv: Readonly<Record<string, string>>
  private readonly restartLog: RestartLog
  private stopping = false
  private announced = false
  private stopped: Deferred.Deferred<void> | undefined
  private nextRequest = 0
  /** Workers that crashed during the run (see "Exit code" in the module doc). */
  failures = 0

  constructor(options: PrimaryOptions, run: Run) {
    this.run = run
    this.sharedEnv = options.sharedEnv ?? {}
    this.slots = Array.from({ length: options.count }, (_, i) => ({
      number: i + 1,
      worker: undefined,
      listening: false,
      restarts: new SlotRestarts(backoff),
      restart: undefined,
      lastCode: undefined,
      pending: new Map()
    }))
    this.restartLog = new RestartLog((effect) => this.run(effect))
  }

  start(): void {
    for (const slot of this.slots) {
      // Every slot's series from the start, at zero.
      this.run(Metric.update(restarts.pipe(Metric.withAttributes({ worker: String(slot.number) })), 0))
      this.fork(slot)
    }
  }

  private fork(slot: Slot): void {
    const worker = cluster.fork({ ...this.sharedEnv, [WorkerLink.slotVariable]: String(slot.number) })
    slot.worker = worker
    slot.listening = false
    worker.on("message", (message: unknown) => {
      if (WorkerLink.isToPrimary(message) && slot.worker === worker) this.onMessage(slot, worker, message)
    })
    worker.on("exit", (code: number | null, signal: string | null) => this.onExit(slot, worker, code, signal))
    // Without a listener an 'error' (e.g. a failed spawn) would crash the primary.
    worker.on("error", (error: Error) => {
      this.run(Effect.logError("worker process error", { worker: slot.number, error: error.message }))
    })
  }

  private onMessage(slot: Slot, worker: Worker, message: WorkerLink.ToPrimary): void {
    if (message.fiberline === "metrics") {
      slot.pending.get(message.id)?.(message.text)
      slot.pending.delete(message.id)
      return
    }
    slot.listening = true
    // Asked to drain before it listened: it may have missed the request.
    if (this.stopping) return sendTo(worker, { fiberline: "drain" })
    this.run(slot.restarts.listening)
    if (!this.announced && this.slots.every((each) => each.listening)) {
      this.announced = true
      this.run(Effect.logInfo("workers started", { count: this.slots.length, address: message.address }))
    }
  }

  private onExit(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    if (slot.worker !== worker) return
    const pid = worker.process.pid
    const listened = slot.listening
    slot.worker = undefined
    slot.listening = false
    for (const answer of slot.pending.values()) answer(undefined)
    slot.pending.clear()
    // Killed by a signal: a failure, like a crash of a single process.
    const exitCode = code ?? ExitCode.failure
    if (this.stopping) {
      slot.lastCode = exitCode
      return this.checkStopped()
    }
    if (!listened) {
      // It never listened: see "Failing to start" in the module doc.
      slot.lastCode = Math.max(exitCode, ExitCode.failure)
      this.run(Effect.logError("worker failed to start", { worker: slot.number, pid, exitCode: code, signal }))
      Deferred.doneUnsafe(this.failed, Effect.void)
      return
    }
    this.failures++
    slot.lastCode = undefined
    this.run(Metric.update(restarts.pipe(Metric.withAttributes({ worker: String(slot.number) })), 1))
    slot.restart = this.run(
      slot.restarts.afterCrash((delay) =>
        Effect.sync(() =>
          this.restartLog.report({ worker: slot.number, pid, exitCode: code, signal, delayMillis: Duration.toMillis(delay) })
        )
      ).pipe(Effect.andThen(Effect.sync(() => {
        slot.restart = undefined
        if (!this.stopping) this.fork(slot)
      })))
    )
  }

  /** Asks every worker to drain; pending restarts are cancelled (their crash was dealt with). */
  stop(): Deferred.Deferred<void> {
    this.stopping = true
    this.restartLog.close()
    this.stopped ??= Deferred.makeUnsafe<void>()
    for (const slot of this.slots) {
      slot.restart?.interruptUnsafe()
      slot.restart = undefined
      if (slot.worker !== undefined) sendTo(slot.worker, { fiberline: "drain" })
    }
    this.checkStopped()
    return this.stopped
  }

  private checkStopped(): void {
    if (this.stopped !== undefined && this.slots.every((slot) => slot.worker === undefined)) {
      Deferred.doneUnsafe(this.stopped, Effect.void)
    }
  }

  /** A second signal: every worker exits 1 now; one that cannot is killed shortly after. */
  readonly force = (): void => {
    this.stop()
    for (const slot of this.slots) if (slot.worker !== undefined) sendTo(slot.worker, { fiberline: "force" })
    this.run(Effect.andThen(Effect.sleep(forceGrace), Effect.sync(() => this.kill())))
  }

  /** Sends `signal` to every running worker, by its pid. */
  signalAll(signal: NodeJS.Signals): void {
    for (const slot of this.slots) {
      if (slot.worker !== undefined && !slot.worker.isDead()) slot.worker.process.kill(signal)
    }
  }

  /** SIGKILLs every worker still running, by its pid; returns their slots. */
  kill(): ReadonlyArray<number> {
    const killed: Array<number> = []
    for (const slot of this.slots) {
      if (slot.worker === undefined) continue
      slot.worker.process.kill("SIGKILL")
      killed.push(slot.number)
    }
    return killed
  }

  /** The exit codes that decide the primary's, one per slot that had a worker at the end. */
  codes(): ReadonlyArray<number> {
    return this.slots.flatMap((slot) => (slot.lastCode === undefined ? [] : [slot.lastCode]))
  }

  /** Asks every listening worker for its exposition; a worker that does not answer in time is left out. */
  readonly collect: Effect.Effect<ReadonlyArray<WorkerMetrics>> = Effect.suspend(() =>
    Effect.forEach(
      this.slots.flatMap((slot) => (slot.worker !== undefined && slot.listening ? [[slot, slot.worker] as const] : [])),
      ([slot, worker]) => Effect.map(Effect.timeoutOption(this.ask(slot, worker), scrapeTimeout), Option.getOrUndefined),
      { concurrency: "unbounded" }
    )
  ).pipe(Effect.map((answers) => answers.filter((answer) => answer !== undefined)))

  private ask(slot: Slot, worker: Worker): Effect.Effect<WorkerMetrics | undefined> {
    return Effect.callback<WorkerMetrics | undefined>((resume) => {
      const id = this.nextRequest++
      slot.pending.set(id, (text) => resume(Effect.succeed(text === undefined ? undefined : { slot: slot.number, text })))
      sendTo(worker, { fiberline: "metrics", id })
      return Effect.sync(() => slot.pending.delete(id))
    })
  }
}

/** Drains every worker, bounded, then logs their codes and sets the primary's exit code (see the module doc). */
const stopAll = (pool: Pool, options: PrimaryOptions): Effect.Effect<void> =>
  Effect.gen(function*() {
    const stopped = pool.stop()
    const bound = Duration.sum(options.shutdownTimeout, drainGrace)
    if (Option.isNone(yield* Effect.timeoutOption(Deferred.await(stopped), bound))) {
      yield* Effect.logError("workers did not stop in time: killing them", { workers: pool.kill() })
      yield* Effect.timeoutOption(Deferred.await(stopped), Duration.seconds(5))
    }
    const codes = pool.codes()
    const previous = typeof process.exitCode === "number" ? process.exitCode : ExitCode.ok
    process.exitCode = Math.max(previous, ...codes, pool.failures > 0 ? ExitCode.failure : ExitCode.ok)
    yield* Effect.logInfo("workers stopped", { codes, failures: pool.failures })
  })

/**
 * Runs the primary of `--workers`: serves the metrics of every worker if
 * asked, forks the workers and supervises them until the scope closes (a
 * signal) or a worker fails to start; then stops them all. The exit code is
 * left in `process.exitCode` (see the module doc).
 *
 * @since 0.1.0
 */
export const primary = (options: PrimaryOptions): Effect.Effect<void, ServeError, Scope.Scope> =>
  Effect.gen(function*() {
    // First, so it closes last: what the pool starts from Node's callbacks
    // (its logs, restart waits, the force grace) runs as fibers of the
    // primary, on its Clock, and ends with it.
    const run = yield* FiberSet.makeRuntime<never, void, never>()
    const pool = new Pool(options, run)
    // Before the workers, so it closes after they stopped: the drain can be watched.
    if (options.metricsPort !== undefined) {
      // Loaded only when asked for, as in a single process: the HTTP stack is heavy.
      const ClusterMetrics = yield* Effect.promise(() => import("./clusterMetrics.ts"))
      const url = yield* ClusterMetrics.serve({ port: options.metricsPort, workers: pool.collect })
      yield* Effect.logInfo("serving metrics", { address: url })
    }
    // Taken over before the workers start and given back after they stopped.
    yield* Effect.acquireRelease(
      Effect.sync(() => takeOverSecondSignal(pool.force)),
      (giveBack) => Effect.sync(giveBack)
    )
    // SIGHUP (reload TLS certificates) is each worker's business: pass it on.
    if (options.forwardHangup === true) yield* onHangup(() => pool.signalAll("SIGHUP"))
    yield* Effect.acquireRelease(Effect.sync(() => pool.start()), () => stopAll(pool, options))
    yield* Deferred.await(pool.failed)
  })
