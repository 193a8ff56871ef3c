/**
 * How the closes of one server's connections are logged. Every close gets a
 * line of its own, unless a peer can cause it at will: then the first of a
 * burst does, and the rest are counted and summarised per close reason at
 * most every 5 s (`BurstLog`). Connections refused before their handler (a
 * PROXY header, a TLS handshake) are logged as refused, and a summary of
 * refusals counts each kind apart (`{ malformed: 5, "untrusted-source": 3 }`),
 * so no reason of a burst goes unnamed.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { CloseReason } from "../../ServerMetrics.ts"
import { BurstLog, type Fork, type Summary } from "./burstLog.ts"
import type { CloseKind } from "./closeReason.ts"
import type { Refusal } from "./intake.ts"

/** How often closes a peer can cause at will are summarised in the log, at most. */
const interval = Duration.seconds(5)
const withinSeconds = Duration.toSeconds(interval)

/** The close log of one server; see the module doc. */
export class CloseLog {
  /** Runs the summaries in a fiber of the server's scope. */
  private readonly fork: Fork
  /** One burst per close reason of handlers that ended. */
  private readonly closes = new Map<CloseReason, BurstLog>()
  /** One burst per close reason of connections refused before their handler. */
  private readonly refusals = new Map<CloseReason, BurstLog>()

  constructor(fork: Fork) {
    this.fork = fork
  }

  /** Whether this close gets its own line (else it was counted for its burst's summary). */
  closed(kind: CloseKind): boolean {
    return !kind.peerCaused || this.burst(this.closes, kind, (count) =>
      Effect.logWithLevel(kind.level)("more connections closed", { reason: kind.reason, count, withinSeconds })).report()
  }

  /** Logs `refusal`, or counts it, by its kind, for its burst's summary. */
  refused(refusal: Refusal): Effect.Effect<void> {
    const kind = refusal.kind
    const first = !kind.peerCaused || this.burst(this.refusals, kind, (count, refusals) =>
      Effect.logWithLevel(kind.level)("more connections refused", { reason: kind.reason, count, refusals, withinSeconds })
    ).report(refusal.why)
    return first
      ? Effect.logWithLevel(kind.level)("connection refused", { reason: kind.reason, error: refusal.detail }).pipe(
        Effect.annotateLogs({ client: refusal.client })
      )
      : Effect.void
  }

  /** Summarises, now, what every burst counted (the server is stopping). */
  readonly close: Effect.Effect<void> = Effect.suspend(() =>
    Effect.forEach([...this.closes.values(), ...this.refusals.values()], (burst) => burst.close, { discard: true })
  )

  private burst(bursts: Map<CloseReason, BurstLog>, kind: CloseKind, summary: Summary): BurstLog {
    let burst = bursts.get(kind.reason)
    if (burst === undefined) {
      burst = new BurstLog(interval, summary, this.fork)
      bursts.set(kind.reason, burst)
    }
    return burst
  }
}
