/**
 * `--workers N`: the process becomes a `node:cluster` primary that forks N
 * workers and keeps them serving. Each worker runs the command exactly as a
 * single process does — same handler, same settings, its own copy of the
 * handler's layer — and they share the port through cluster, which on Linux
 * accepts in the primary and hands connections out round-robin. The primary
 * serves no connection itself; it supervises, serves the metrics of all
 * workers (`clusterMetrics.ts`), and decides the exit code.
 *
 * Longer than most modules because supervision is one piece of state —
 * slots, crashes, a roll's hand-over, the stop and the exit code all read
 * and change it; a worker process (`workerProcess.ts`) and the steps of a
 * roll (`rollingRestart.ts`) live apart.
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
 * **Rolling restart.** SIGUSR2 replaces every worker by a new process, one
 * slot at a time, without dropping a connection (`rollingRestart.ts`). A
 * new worker that does not start stops the roll rather than the run. A
 * SIGUSR2 during a roll is logged and ignored.
 *
 * **Stopping.** On the first SIGINT/SIGTERM the primary asks every worker to
 * drain (an IPC message, see `workerLink.ts`), cancels pending restarts and
 * any roll, and waits for all of them; each drains as a single process does
 * and exits 0, or 1 after a forced drain. A second signal makes every
 * worker exit 1 at once, and the primary with them. A worker still running
 * `--shutdown-timeout` plus 10 s after the drain began is killed (it counts
 * as 1).
 *
 * **Exit code.** The worst of the codes the workers ended with at the stop
 * (or when they failed to start), and 1 if any worker ended abnormally
 * during the run: it crashed (even though it was restarted), or, in a
 * rolling restart, a new worker did not start or an old one did not drain
 * cleanly. A run that had to restart a worker did not go well, and says so.
 *
 * **Shared values.** Values every worker must hold alike — the TLS
 * session-ticket keys — are made once by the primary
 * and handed to each worker, replacements included, in its environment
 * (`PrimaryOptions.sharedEnv`).
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { ServeError } from "effect/http/HttpServerError"
import type * as Readiness from "../services/Readiness.ts"
import type { WorkerMetrics } from "./clusterMetrics.ts"
import { ExitCode } from "./exit.ts"
import { onHangup, onSignal } from "./hangup.ts"
import { backoff, RestartLog, SlotRestarts } from "./restarts.ts"
import { type Exited, roll, type RollTarget } from "./rollingRestart.ts"
import { takeOverSecondSignal } from "./run.ts"
import { WorkerProcess } from "./workerProcess.ts"

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
/** In a rolling restart, how long a new worker may take to load its code, build its layer and listen. */
const startTimeout = Duration.seconds(60)

/** Restarts of crashed workers, per slot (the primary's own metric). */
const restarts = Metric.counter("fiberline_worker_restarts_total", {
  description: "Workers restarted after they crashed, by slot",
  incremental: true
})

/** Runs an effect from a Node callback as a fiber of the primary (see {@link primary}). */
type Run = (effect: Effect.Effect<void>) => Fiber.Fiber<void>

interface Slot {
  readonly number: number
  /** The slot's worker: listening, or starting. One replaced by a rolling restart is not. */
  current: WorkerProcess | undefined
  readonly restarts: SlotRestarts
  /** The wait before a crashed worker's replacement. */
  restart: Fiber.Fiber<void> | undefined
}

/** The workers of one run, driven by Node's cluster events; see the module doc. */
class Pool {
  readonly failed = Deferred.makeUnsafe<void>()
  private readonly slots: ReadonlyArray<Slot>
  /** Every worker process still running, whatever its part. */
  private readonly running = new Set<WorkerProcess>()
  private readonly run: Run
  private readonly options: PrimaryOptions
  private readonly restartLog: RestartLog
  private stopping = false
  private announced = false
  private stopped: Deferred.Deferred<void> | undefined
  private rolling: Fiber.Fiber<void> | undefined
  /** Workers that ended abnormally during the run (see "Exit code" in the module doc). */
  failures = 0
  /** How the workers ended at the stop, or when they failed to start. */
  private readonly endings: Array<{ readonly slot: number; readonly code: number }> = []

  constructor(options: PrimaryOptions, run: Run) {
    this.options = options
    this.run = run
    this.slots = Array.from({ length: options.count }, (_, i) => ({
      number: i + 1,
      current: undefined,
      restarts: new SlotRestarts(backoff),
      restart: undefined
    }))
    this.restartLog = new RestartLog((effect) => this.run(effect))
  }

  start(): void {
    for (const slot of this.slots) {
      // Every slot's series from the start, at zero.
      this.run(Metric.update(restarts.pipe(Metric.withAttributes({ worker: String(slot.number) })), 0))
      slot.current = this.fork(slot)
    }
  }

  private fork(slot: Slot): WorkerProcess {
    const worker: WorkerProcess = new WorkerProcess(slot.number, this.options.sharedEnv, {
      onListening: (address) => this.onListening(slot, worker, address),
      onExit: (ended) => this.onExit(slot, worker, ended),
      onError: (error) => this.run(Effect.logError("worker process error", { worker: slot.number, error: error.message }))
    })
    this.running.add(worker)
    return worker
  }

  private onListening(slot: Slot, worker: WorkerProcess, address: string): void {
    if (this.stopping || slot.current !== worker) return
    this.run(slot.restarts.listening)
    if (!this.announced && this.slots.every((each) => each.current?.isListening === true)) {
      this.announced = true
      this.run(Effect.logInfo("workers started", { count: this.slots.length, address }))
    }
  }

  private onExit(slot: Slot, worker: WorkerProcess, ended: Exited): void {
    this.running.delete(worker)
    const isCurrent = slot.current === worker
    if (isCurrent) slot.current = undefined
    // Killed by a signal: a failure, like a crash of a single process.
    const exitCode = ended.code ?? ExitCode.failure
    if (this.stopping) {
      this.endings.push({ slot: slot.number, code: exitCode })
      return this.checkStopped()
    }
    // Replaced, or started, by a rolling restart, which logs how it ended.
    if (!isCurrent) {
      if (exitCode !== ExitCode.ok) this.failures++
      return
    }
    const fields = { worker: slot.number, pid: worker.pid, exitCode: ended.code, signal: ended.signal }
    if (!worker.isListening) {
      // It never listened: see "Failing to start" in the module doc.
      this.endings.push({ slot: slot.number, code: Math.max(exitCode, ExitCode.failure) })
      this.run(Effect.logError("worker failed to start", fields))
      Deferred.doneUnsafe(this.failed, Effect.void)
      return
    }
    this.failures++
    this.run(Metric.update(restarts.pipe(Metric.withAttributes({ worker: String(slot.number) })), 1))
    slot.restart = this.run(
      slot.restarts.afterCrash((delay) =>
        Effect.sync(() => this.restartLog.report({ ...fields, delayMillis: Duration.toMillis(delay) }))
      ).pipe(Effect.andThen(Effect.sync(() => {
        slot.restart = undefined
        if (!this.stopping) slot.current = this.fork(slot)
      })))
    )
  }

  /** The pool as a rolling restart sees it. */
  private target(): RollTarget<WorkerProcess> {
    const slotOf = (number: number) => this.slots[number - 1]!
    return {
      slots: this.slots.map((slot) => slot.number),
      serving: (number) => {
        const current = slotOf(number).current
        return current?.isListening === true ? current : undefined
      },
      fork: (number) => Effect.sync(() => this.fork(slotOf(number))),
      adopt: (number, worker) =>
        Effect.suspend(() => {
          if (worker.ended !== undefined) return Effect.fail(worker.ended)
          const slot = slotOf(number)
          const replaced = slot.current
          // A crashed worker's replacement, still to come, is not needed any more.
          slot.restart?.interruptUnsafe()
          slot.restart = undefined
          slot.current = worker
          return Effect.as(slot.restarts.listening, replaced)
        })
    }
  }

  /** SIGUSR2: starts a rolling restart, unless one is running or the workers are stopping. */
  readonly rollingRestart = (): void => {
    if (this.stopping) return
    if (this.rolling !== undefined) {
      this.run(Effect.logWarning("rolling restart already running: SIGUSR2 ignored"))
      return
    }
    const fiber = this.run(
      roll(this.target(), { startTimeout, drainTimeout: Duration.sum(this.options.shutdownTimeout, drainGrace) }).pipe(
        Effect.onInterrupt(() => Effect.logWarning("rolling restart cancelled: the workers are stopping")),
        Effect.ensuring(Effect.sync(() => {
          this.rolling = undefined
        }))
      )
    )
    // A roll with nothing to do has ended already.
    if (fiber.pollUnsafe() === undefined) this.rolling = fiber
  }

  /** Asks every worker to drain; pending restarts and any roll are cancelled. */
  stop(): Deferred.Deferred<void> {
    this.stopping = true
    this.run(this.restartLog.close)
    this.rolling?.interruptUnsafe()
    for (const slot of this.slots) {
      slot.restart?.interruptUnsafe()
      slot.restart = undefined
    }
    for (const worker of this.running) worker.requestDrain()
    this.stopped ??= Deferred.makeUnsafe<void>()
    this.checkStopped()
    return this.stopped
  }

  private checkStopped(): void {
    if (this.stopped !== undefined && this.running.size === 0) Deferred.doneUnsafe(this.stopped, Effect.void)
  }

  /** A second signal: every worker exits 1 now; one that cannot is killed shortly after. */
  readonly force = (): void => {
    this.stop()
    for (const worker of this.running) worker.force()
    this.run(Effect.andThen(Effect.sleep(forceGrace), Effect.sync(() => this.kill())))
  }

  /** Sends `signal` to every running worker, by its pid. */
  signalAll(signal: NodeJS.Signals): void {
    for (const worker of this.running) worker.signal(signal)
  }

  /** SIGKILLs every worker still running, by its pid; returns their slots. */
  kill(): ReadonlyArray<number> {
    const killed = [...this.running]
    for (const worker of killed) worker.signal("SIGKILL")
    return killed.map((worker) => worker.slot)
  }

  /** The exit codes that decide the primary's, by slot: how the workers ended at the stop. */
  codes(): ReadonlyArray<number> {
    return this.endings.toSorted((a, b) => a.slot - b.slot).map((ending) => ending.code)
  }

  /**
   * The cluster's readiness (`/readyz`): draining once the primary is
   * stopping, else ready while at least one worker listens.
   */
  readonly readiness: Effect.Effect<Readiness.Status> = Effect.sync(() =>
    this.stopping ? "draining" : this.slots.some((slot) => slot.current?.isListening === true) ? "ready" : "not-listening"
  )

  /** Asks every slot's listening worker for its exposition; a worker that does not answer in time is left out. */
  readonly collect: Effect.Effect<ReadonlyArray<WorkerMetrics>> = Effect.suspend(() =>
    Effect.forEach(
      this.slots.flatMap((slot) => (slot.current?.isListening === true ? [slot.current] : [])),
      (worker) =>
        Effect.timeoutOption(worker.metrics, scrapeTimeout).pipe(
          Effect.map((text) => (Option.isSome(text) && text.value !== undefined ? { slot: worker.slot, text: text.value } : undefined))
        ),
      { concurrency: "unbounded" }
    )
  ).pipe(Effect.map((answers) => answers.filter((answer) => answer !== undefined)))
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
    // (its logs, restart waits, a roll, the force grace) runs as fibers of
    // the primary, on its Clock, and ends with it.
    const run = yield* FiberSet.makeRuntime<never, void, never>()
    const pool = new Pool(options, run)
    // Before the workers, so it closes after they stopped: the drain can be watched.
    if (options.metricsPort !== undefined) {
      // Loaded only when asked for, as in a single process: the HTTP stack is heavy.
      const ClusterMetrics = yield* Effect.promise(() => import("./clusterMetrics.ts"))
      const url = yield* ClusterMetrics.serve({ port: options.metricsPort, workers: pool.collect, readiness: pool.readiness })
      yield* Effect.logInfo("serving metrics", { address: url })
    }
    // Taken over before the workers start and given back after they stopped.
    yield* Effect.acquireRelease(
      Effect.sync(() => takeOverSecondSignal(pool.force)),
      (giveBack) => Effect.sync(giveBack)
    )
    // SIGHUP (reload TLS certificates) is each worker's business: pass it on.
    if (options.forwardHangup === true) yield* onHangup(() => pool.signalAll("SIGHUP"))
    yield* onSignal("SIGUSR2", pool.rollingRestart)
    yield* Effect.acquireRelease(Effect.sync(() => pool.start()), () => stopAll(pool, options))
    yield* Deferred.await(pool.failed)
  })
