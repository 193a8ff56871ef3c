/**
 * One worker process of `--workers`, as the primary handles it: forked with
 * its slot (and the values every worker shares) in its environment, what it
 * says over the worker link (`workerLink.ts`) turned into effects — it
 * listens, it exited, its answers to metrics requests — and what the primary
 * asks of it (drain, stop now, a signal) as methods safe to call at any
 * time, before it listens or after it exited alike.
 *
 * @since 0.1.0
 */
import cluster, { type Worker } from "node:cluster"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import { constVoid } from "effect/Function"
import type { Exited, RollWorker } from "./rollingRestart.ts"
import * as WorkerLink from "./workerLink.ts"

/**
 * What a worker process reports to its supervisor, from Node's callbacks.
 *
 * @since 0.1.0
 */
export interface WorkerEvents {
  readonly onListening: (address: string) => void
  readonly onExit: (ended: Exited) => void
  /** The process could not be spawned or messaged. */
  readonly onError: (error: Error) => void
}

/**
 * A forked worker process; see the module doc.
 *
 * @since 0.1.0
 */
export class WorkerProcess implements RollWorker {
  readonly slot: number
  readonly pid: number | undefined
  /** It reported that it listens. */
  isListening = false
  /** How it ended, once it has. */
  ended: Exited | undefined
  private draining = false
  private nextRequest = 0
  private readonly worker: Worker
  private readonly ready = Deferred.makeUnsafe<void, Exited>()
  private readonly gone = Deferred.makeUnsafe<Exited>()
  /** The metrics requests it has not answered yet. */
  private readonly pending = new Map<number, (text: string | undefined) => void>()

  readonly listening: Effect.Effect<void, Exited> = Deferred.await(this.ready)
  readonly exited: Effect.Effect<Exited> = Deferred.await(this.gone)
  readonly drain: Effect.Effect<void> = Effect.sync(() => this.requestDrain())
  readonly kill: Effect.Effect<void> = Effect.sync(() => this.signal("SIGKILL"))

  /** Forks a worker for `slot`, with `env` added to its environment. */
  constructor(slot: number, env: Readonly<Record<string, string>> | undefined, events: WorkerEvents) {
    this.slot = slot
    this.worker = cluster.fork({ ...env, [WorkerLink.slotVariable]: String(slot) })
    this.pid = this.worker.process.pid
    this.worker.on("message", (message: unknown) => {
      if (!WorkerLink.isToPrimary(message)) return
      if (message.fiberline === "metrics") {
        this.pending.get(message.id)?.(message.text)
        this.pending.delete(message.id)
        return
      }
      this.isListening = true
      Deferred.doneUnsafe(this.ready, Effect.void)
      // Asked to drain before it listened: it may have missed the request.
      if (this.draining) this.send({ fiberline: "drain" })
      events.onListening(message.address)
    })
    this.worker.on("exit", (code: number | null, signal: string | null) => {
      const ended = { code, signal }
      this.ended = ended
      for (const answer of this.pending.values()) answer(undefined)
      this.pending.clear()
      Deferred.doneUnsafe(this.ready, Effect.fail(ended))
      Deferred.doneUnsafe(this.gone, Effect.succeed(ended))
      events.onExit(ended)
    })
    // Without a listener an 'error' (e.g. a failed spawn) would crash the primary.
    this.worker.on("error", events.onError)
  }

  private send(message: WorkerLink.ToWorker): void {
    if (this.worker.isConnected()) this.worker.send(message, constVoid)
  }

  /** Asks it to drain, as SIGTERM would; repeated, it changes nothing. */
  requestDrain(): void {
    this.draining = true
    this.send({ fiberline: "drain" })
  }

  /** Asks it to exit 1 at once, as a second signal would. */
  force(): void {
    this.send({ fiberline: "force" })
  }

  /** Sends `signal` to the process, by its pid, unless it has exited. */
  signal(signal: NodeJS.Signals): void {
    if (this.ended === undefined && !this.worker.isDead()) this.worker.process.kill(signal)
  }

  /** Asks for its Prometheus exposition: the text, or `undefined` if it exits first. */
  readonly metrics: Effect.Effect<string | undefined> = Effect.callback<string | undefined>((resume) => {
    const id = this.nextRequest++
    this.pending.set(id, (text) => resume(Effect.succeed(text)))
    this.send({ fiberline: "metrics", id })
    return Effect.sync(() => this.pending.delete(id))
  })
}
