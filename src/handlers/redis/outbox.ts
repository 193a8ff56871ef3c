/**
 * A subscribed connection's output: a queue bounded by bytes, filled without
 * waiting (by publishers, and by the connection's own replies) and drained to
 * the connection by a writer fiber.
 *
 * This is what keeps `PUBLISH` from ever waiting on a subscriber. A
 * subscriber that does not read lets its outbox grow; once more than `limit`
 * bytes are pending — Redis's `client-output-buffer-limit pubsub` hard limit
 * — the outbox drops what it holds and {@link Outbox.closed} fails with
 * `OutputLimitExceeded` (`outputLimit.ts`), which ends the connection. Pending means
 * offered and not yet handed to the transport: bytes the writer is still
 * trying to write count too.
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type { Connection } from "../../services/Connection.ts"
import type { WriteError } from "../../Errors.ts"
import { OutputLimitExceeded } from "./outputLimit.ts"
import type { Subscriber } from "./pubsub.ts"

/**
 * A connection's bounded output queue; it is also the connection as a
 * subscriber in the pub/sub registry (publishers deliver into it).
 *
 * @since 0.1.0
 */
export interface Outbox extends Subscriber {
  /** Queues `bytes` (kept by reference); never waits. Ignored once the outbox is closed. */
  readonly deliver: (bytes: Uint8Array) => void
  /**
   * Fails when the outbox is cut off ({@link OutputLimitExceeded}) or its
   * writer failed (the write error); never succeeds. Race reads with it.
   */
  readonly closed: Effect.Effect<never, OutputLimitExceeded | WriteError>
  /**
   * Writes what is offered to `conn`, in order, flushing after each batch,
   * until {@link end} was called and everything is written. Run it in its
   * own fiber; a write failure also fails {@link closed}.
   */
  readonly writer: (conn: Connection) => Effect.Effect<void, WriteError>
  /** No more offers are coming: the writer finishes once it has written what is queued. */
  readonly end: () => void
}

/**
 * An empty outbox that holds at most `limit()` pending bytes (read at each
 * delivery, so `CONFIG SET` applies to outboxes already open; 0 for no
 * bound).
 *
 * @since 0.1.0
 */
export const make = (limit: () => number): Outbox => {
  let queue: Array<Uint8Array> = []
  let pending = 0
  let ended = false
  let wake: (() => void) | undefined
  const closed = Deferred.makeUnsafe<never, OutputLimitExceeded | WriteError>()
  const isClosed = () => Deferred.isDoneUnsafe(closed)

  /** The next batch of queued bytes; `undefined` once ended and empty. */
  const take = Effect.callback<Array<Uint8Array> | undefined>((resume) => {
    const check = () => {
      if (queue.length === 0 && !ended) return false
      // Cleared before resuming: the writer may run at once, inside `resume`, and wait again.
      wake = undefined
      const batch = queue.length === 0 ? undefined : queue
      queue = []
      resume(Effect.succeed(batch))
      return true
    }
    if (check()) return
    wake = check
    return Effect.sync(() => {
      wake = undefined
    })
  })

  return {
    deliver: (bytes) => {
      if (isClosed() || ended) return
      pending += bytes.length
      const bound = limit()
      if (pending > bound && bound !== 0) {
        // Cut off: what it holds will never be sent.
        queue = []
        Deferred.doneUnsafe(closed, Effect.fail(new OutputLimitExceeded({ clientClass: "pubsub", kind: "hard", limit: bound, pending })))
        return
      }
      queue.push(bytes)
      wake?.()
    },
    closed: Deferred.await(closed),
    writer: (conn) =>
      Effect.gen(function*() {
        while (true) {
          const batch = yield* take
          if (batch === undefined) return
          let size = 0
          for (const bytes of batch) {
            yield* conn.write(bytes)
            size += bytes.length
          }
          yield* conn.flush
          pending -= size
        }
      }).pipe(Effect.tapError((error) => Deferred.fail(closed, error))),
    end: () => {
      ended = true
      wake?.()
    }
  }
}
