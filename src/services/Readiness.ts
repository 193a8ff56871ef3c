/**
 * Whether the process should be sent new connections: what `/readyz` on the
 * metrics port answers (`fiberline/MetricsHttp`), for a load balancer's
 * health check or a Kubernetes readiness probe.
 *
 * Every `LineServer` registers in the {@link Readiness} of its context once
 * it listens, and marks itself draining the moment its shutdown begins —
 * before it stops accepting and before its connections are told — so a
 * balancer that checks readiness stops sending new connections while the old
 * ones finish. The default `Readiness` is one per process (a
 * `Context.Reference`, like Effect's `MetricRegistry`), so servers and the
 * metrics endpoint meet in it without wiring; provide a fresh one
 * ({@link make}) to keep a test or a group of servers apart.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"

/**
 * The process's readiness: `ready` while at least one server accepts and
 * none is draining; `draining` from the moment a drain starts (until the
 * draining server has stopped); `not-listening` while no server accepts
 * (before the first is bound, or after the last has stopped).
 *
 * @since 0.2.0
 */
export type Status = "ready" | "draining" | "not-listening"

/**
 * One server's place in a {@link Readiness}.
 *
 * @since 0.2.0
 */
export interface Registration {
  /** The server's drain has begun: the process is not ready from now on. Runs once. */
  readonly draining: () => void
  /** The server has stopped: it counts no more, either way. Runs once. */
  readonly stopped: () => void
}

/**
 * The servers of a process (or of a group of them), as readiness sees them.
 *
 * @since 0.2.0
 */
export interface Readiness {
  /** The status now. */
  readonly status: () => Status
  /** A server accepts from now on; tell its drain and its stop through the registration. */
  readonly register: () => Registration
}

/**
 * A new, empty `Readiness` (`not-listening` until a server registers).
 *
 * @since 0.2.0
 */
export const make = (): Readiness => {
  let accepting = 0
  let draining = 0
  return {
    status: () => (draining > 0 ? "draining" : accepting > 0 ? "ready" : "not-listening"),
    register: () => {
      accepting++
      let state: "accepting" | "draining" | "stopped" = "accepting"
      return {
        draining: () => {
          if (state !== "accepting") return
          state = "draining"
          accepting--
          draining++
        },
        stopped: () => {
          if (state === "accepting") accepting--
          else if (state === "draining") draining--
          state = "stopped"
        }
      }
    }
  }
}

/**
 * The `Readiness` servers register in: one per process unless provided.
 *
 * @since 0.2.0
 */
export const Readiness: Context.Reference<Readiness> = Context.Reference<Readiness>("fiberline/services/Readiness", {
  defaultValue: make
})

/**
 * The status of the current context's `Readiness`.
 *
 * @since 0.2.0
 */
export const status: Effect.Effect<Status> = Readiness.useSync((readiness) => readiness.status())
