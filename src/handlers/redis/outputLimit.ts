/**
 * The bound on a normal client's pending output (Redis's
 * `client-output-buffer-limit normal <hard> <soft> <seconds>`): past the
 * hard limit the client is cut off at once; above the soft limit for
 * `seconds` on end, too. Pending is `Connection.pendingOutput` (written,
 * not yet taken by the kernel) plus the reply about to be written.
 *
 * Writes wait for the peer at the connection's high-water mark, so a client
 * that does not read holds about one reply: the hard limit is in effect the
 * largest reply a client may have pending, and the soft limit bounds how
 * long a big one may stay unread. A write that passes the soft limit opens
 * a window of `seconds`; if it still waits for the peer when the window
 * ends, the client is cut off. A write on output under the soft limit again
 * opens a fresh window, so a client that reads every big reply is never cut
 * off (Redis keeps the window open while every check is over, which cuts
 * off a reader of replies each larger than the soft limit).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { Connection } from "../../services/Connection.ts"
import type { WriteError } from "../../Errors.ts"

/**
 * A client's pending output passed its class's limit: it was cut off.
 *
 * @since 0.1.0
 */
export class OutputLimitExceeded extends Schema.TaggedError<OutputLimitExceeded>()("OutputLimitExceeded", {
  /** The client class whose limit was passed. */
  clientClass: Schema.Literals(["normal", "pubsub"]),
  /** Which limit: the hard one, or the soft one for its whole window. */
  kind: Schema.Literals(["hard", "soft"]),
  limit: Schema.Number,
  /** Bytes pending when the limit was passed, the offer that passed it included. */
  pending: Schema.Number
}) {
  override get message(): string {
    return `${this.clientClass} client output over its ${this.kind} limit of ${this.limit} bytes (${this.pending} pending)`
  }
}

/**
 * One class's limits; 0 turns a limit off.
 *
 * @since 0.1.0
 */
export interface OutputBound {
  /** Bytes pending past which the client is cut off at once. */
  readonly hard: number
  /** Bytes pending past which the client is cut off after {@link softSeconds}. */
  readonly soft: number
  readonly softSeconds: number
}

/**
 * The default bound of normal clients (Redis's is none: `0 0 0`): 256 MiB
 * hard, 32 MiB soft for 60 seconds. The hard limit is above any reply but a
 * value of over 256 MiB (`CONFIG SET client-output-buffer-limit "normal 0 0
 * 0"` allows those again) and a small part of what a Node process holds;
 * the soft limit is below a 64 MB value, so clients that ask for big values
 * and do not read let them go within a minute (50 such clients hold 3 GB
 * that long, not until they leave; the connection's write timeout may end
 * them sooner), while a peer that reads 4.5 MB/s or more takes any reply
 * under the hard limit within the window.
 *
 * @since 0.1.0
 */
export const normalDefault: OutputBound = { hard: 256 * 1024 * 1024, soft: 32 * 1024 * 1024, softSeconds: 60 }

/**
 * One connection's soft-limit window: when its pending output went above
 * the soft limit, if it is above it.
 *
 * @since 0.1.0
 */
export class SoftWindow {
  /** The clock's milliseconds when the output passed the soft limit; `undefined` while under it. */
  since: number | undefined = undefined

  /**
   * Checks a write of `size` bytes on top of `before` pending at `now`
   * (milliseconds): the limit it passes, or `undefined` if it may be
   * written. Opens the soft window when the write passes the soft limit on
   * output that was under it, and closes it when output was under it again.
   */
  check(bound: OutputBound, before: number, size: number, now: number): OutputLimitExceeded | undefined {
    const pending = before + size
    if (bound.hard !== 0 && pending > bound.hard) {
      return new OutputLimitExceeded({ clientClass: "normal", kind: "hard", limit: bound.hard, pending })
    }
    if (bound.soft === 0 || pending <= bound.soft) {
      this.since = undefined
      return undefined
    }
    if (before <= bound.soft || this.since === undefined) this.since = now
    return now - this.since >= bound.softSeconds * 1000 ? this.exceeded(bound, pending) : undefined
  }

  /** Milliseconds left in the open window at `now` (0 once it has run out). */
  remaining(bound: OutputBound, now: number): number {
    return Math.max(0, (this.since ?? now) + bound.softSeconds * 1000 - now)
  }

  /** The soft limit passed for its whole window, with `pending` bytes pending. */
  exceeded(bound: OutputBound, pending: number): OutputLimitExceeded {
    return new OutputLimitExceeded({ clientClass: "normal", kind: "soft", limit: bound.soft, pending })
  }
}

/**
 * Writes to `conn` under `bound()` (read at each write, so `CONFIG SET`
 * applies at once): a write past a limit fails with
 * {@link OutputLimitExceeded} instead, and so does a write above the soft
 * limit still waiting for the peer when its window ends. `time` may be a
 * cached clock (it dates windows); `now` is the clock itself (it times the
 * wait).
 *
 * @since 0.1.0
 */
export const limitedWriter = (
  conn: Connection,
  bound: () => OutputBound,
  time: () => number,
  now: () => number
): (reply: Uint8Array) => Effect.Effect<void, WriteError | OutputLimitExceeded> => {
  const window = new SoftWindow()
  return (reply) => {
    const limits = bound()
    if (limits.hard === 0 && limits.soft === 0) return conn.write(reply)
    const over = window.check(limits, conn.pendingOutput, reply.length, time())
    if (over !== undefined) return Effect.fail(over)
    if (window.since === undefined) return conn.write(reply)
    // Won only if the write still waits when the window ends.
    const expiry = Effect.suspend(() => Effect.sleep(window.remaining(limits, now()))).pipe(
      Effect.andThen(Effect.suspend(() => Effect.fail(window.exceeded(limits, conn.pendingOutput))))
    )
    return Effect.raceFirst(conn.write(reply), expiry)
  }
}
