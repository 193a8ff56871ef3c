/**
 * The wire between the primary of `--workers N` and its workers: the
 * messages they exchange over `node:cluster`'s IPC channel, and the worker's
 * end of it.
 *
 * A worker is an ordinary `fiberline` process (same command line, same
 * settings, same handler and layer) that learns three things from this
 * module: which slot it fills (`1..N`, stable across restarts, so logs and
 * metrics name a slot rather than a pid), when the primary wants it to drain
 * or to stop at once, and how to answer the primary's metrics requests.
 *
 * Why messages rather than forwarded signals: a terminal's Ctrl-C and
 * systemd's `KillMode=control-group` signal every process of the group at
 * once, so a worker would see the primary's forwarded signal as a *second*
 * one and stop without draining. Its own signals keep their meaning (one
 * drains, two stop at once); the primary's requests come on another channel
 * and are idempotent.
 *
 * **An orphaned worker.** When the primary dies without stopping its
 * workers (`kill -9`, an out-of-memory kill), the IPC channel closes. Left to
 * itself, cluster would make the worker exit 0 at once, without a word,
 * cutting its connections mid-request; instead the worker logs one line,
 * drains as on SIGTERM (its port is gone with the primary, its connections
 * are not) and exits 1.
 *
 * @since 0.1.0
 */
import cluster from "node:cluster"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import { constVoid } from "effect/Function"
import type * as Scope from "effect/Scope"
import { ExitCode } from "./exit.ts"
import { onSignal } from "./hangup.ts"

/**
 * The environment variable that carries a worker's slot. Set by the primary
 * when it forks; its presence (in a cluster worker) is what makes a process
 * a worker rather than a primary of its own.
 *
 * @since 0.1.0
 */
export const slotVariable = "FIBERLINE_CLUSTER_SLOT"

/**
 * Messages from the primary to a worker.
 *
 * - `drain`: stop as on SIGTERM (drain, exit 0 or 1); repeated, it changes nothing.
 * - `force`: exit 1 at once, as on a second signal.
 * - `metrics`: answer with this worker's Prometheus exposition, quoting `id`.
 *
 * @since 0.1.0
 */
export type ToWorker =
  | { readonly fiberline: "drain" }
  | { readonly fiberline: "force" }
  | { readonly fiberline: "metrics"; readonly id: number }

/**
 * Messages from a worker to the primary.
 *
 * - `ready`: the worker is listening on `address`; from now on an exit is a crash, not a failure to start.
 * - `metrics`: the answer to the request `id`.
 *
 * @since 0.1.0
 */
export type ToPrimary =
  | { readonly fiberline: "ready"; readonly address: string }
  | { readonly fiberline: "metrics"; readonly id: number; readonly text: string }

const tagOf = (message: unknown): unknown =>
  typeof message === "object" && message !== null && "fiberline" in message ? message.fiberline : undefined

/**
 * Whether an IPC message is one of ours (a handler module may use the
 * channel for its own messages: those are left alone).
 *
 * @since 0.1.0
 */
export const isToWorker = (message: unknown): message is ToWorker => {
  const tag = tagOf(message)
  return tag === "drain" || tag === "force" || (tag === "metrics" && typeof (message as { id?: unknown }).id === "number")
}

/**
 * Whether an IPC message from a worker is one of ours.
 *
 * @since 0.1.0
 */
export const isToPrimary = (message: unknown): message is ToPrimary => {
  const tag = tagOf(message)
  if (tag === "ready") return typeof (message as { address?: unknown }).address === "string"
  if (tag !== "metrics") return false
  const { id, text } = message as { id?: unknown; text?: unknown }
  return typeof id === "number" && typeof text === "string"
}

/**
 * This process's slot when it is a worker forked by a `--workers` primary;
 * `undefined` otherwise (a single process, or a primary).
 *
 * @since 0.1.0
 */
export const workerSlot = (): number | undefined => {
  const text = process.env[slotVariable]
  if (!cluster.isWorker || text === undefined) return undefined
  const value = Number(text)
  return Number.isSafeInteger(value) && value > 0 ? value : undefined
}

/**
 * A worker's end of the wire, for the time its server runs.
 *
 * @since 0.1.0
 */
export interface WorkerLink {
  /** This worker's slot, `1..N`. */
  readonly slot: number
  /** Completes when the primary asks this worker to drain, or is gone. */
  readonly drainRequested: Effect.Effect<void>
  /** Tells the primary the server is listening on `address`. */
  readonly ready: (address: string) => Effect.Effect<void>
  /** Answers the primary's metrics requests with `render()` until the scope closes. */
  readonly answerMetrics: (render: () => string) => Effect.Effect<void, never, Scope.Scope>
}

/** Sends to the primary; a closed channel (the primary is gone) is not an error here. */
const send = (message: ToPrimary): void => {
  if (process.connected) process.send?.(message, undefined, {}, constVoid)
}

/** Listens for the primary's messages on the IPC channel until the scope closes. */
const onPrimaryMessage = (listener: (message: ToWorker) => void): Effect.Effect<void, never, Scope.Scope> => {
  const onMessage = (message: unknown) => {
    if (isToWorker(message)) listener(message)
  }
  return Effect.acquireRelease(
    Effect.sync(() => process.on("message", onMessage)),
    () => Effect.sync(() => process.off("message", onMessage))
  ).pipe(Effect.asVoid)
}

/**
 * Calls `listener` when the channel to the primary closes while the current
 * scope is open (the primary is gone). Cluster's own reaction — `process.exit(0)`
 * right after this event unless `exitedAfterDisconnect` is set — is turned off,
 * so the worker can drain.
 */
const onPrimaryGone = (listener: () => void): Effect.Effect<void, never, Scope.Scope> => {
  const worker = cluster.worker
  if (worker === undefined) return Effect.void
  const onDisconnect = () => {
    worker.exitedAfterDisconnect = true
    listener()
  }
  return Effect.acquireRelease(
    Effect.sync(() => worker.on("disconnect", onDisconnect)),
    () => Effect.sync(() => worker.off("disconnect", onDisconnect))
  ).pipe(Effect.asVoid)
}

/**
 * SIGUSR2 asks the primary for a rolling restart (see `workers.ts`); sent to
 * the whole process group it reaches the workers too, whose default action
 * would be to die. A worker logs it and carries on.
 */
const ignoreRollSignal = (primary: number): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<never>()
    const onRollSignal = () => {
      Effect.runForkWith(context)(Effect.logInfo("SIGUSR2 ignored: a rolling restart is the primary's", { primary }))
    }
    yield* onSignal("SIGUSR2", onRollSignal)
  })

/** The primary's `force`: the same "now" as a second signal, no drain, no finalizers. */
const forceExit = (message: ToWorker): void => {
  if (message.fiberline === "force") process.exit(ExitCode.failure)
}

/**
 * Connects this worker (in `slot`) to its primary for the life of the
 * current scope: from here on, `drain` and `force` requests are heard, and
 * the loss of the primary drains this worker too (see the module doc).
 *
 * @since 0.1.0
 */
export const connect = (slot: number): Effect.Effect<WorkerLink, never, Scope.Scope> =>
  Effect.gen(function*() {
    const drain = yield* Deferred.make<void>()
    const context = yield* Effect.context<never>()
    const primary = process.ppid
    yield* onPrimaryMessage((message) => {
      if (message.fiberline === "drain") Deferred.doneUnsafe(drain, Effect.void)
      else forceExit(message)
    })
    yield* onPrimaryGone(() => {
      process.exitCode = ExitCode.failure
      Effect.runForkWith(context)(Effect.logError("primary is gone: draining, then exiting 1", { primary }))
      Deferred.doneUnsafe(drain, Effect.void)
    })
    yield* ignoreRollSignal(primary)
    return {
      slot,
      drainRequested: Deferred.await(drain),
      ready: (address) => Effect.sync(() => send({ fiberline: "ready", address })),
      answerMetrics: (render) =>
        onPrimaryMessage((message) => {
          if (message.fiberline === "metrics") send({ fiberline: "metrics", id: message.id, text: render() })
        })
    }
  })
