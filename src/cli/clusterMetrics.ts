/**
 * `--metrics-port` with `--workers N`: one endpoint, served by the primary,
 * that covers every worker.
 *
 * Each worker keeps its own metrics (they are ordinary Effect metrics, in
 * its own process) and renders them with Effect's `PrometheusMetrics` when
 * the primary asks over cluster IPC. The primary merges the answers: each
 * sample gets a `worker="<slot>"` label, and each metric's `# HELP` and
 * `# TYPE` lines appear once, before the samples of every worker. Nothing
 * is summed: `sum without (worker) (...)` in PromQL gives the server's
 * totals, and a slow or crashed worker stays visible as one series.
 *
 * A worker that does not answer within the scrape timeout (it is
 * restarting, or too busy) is left out of that scrape rather than holding
 * it up; a restarted worker's counters start again from zero under the same
 * label, which Prometheus's `rate` reads as a counter reset. The primary's
 * own metrics (`fiberline_worker_restarts_total`) are added as they are.
 * The endpoint answers `/healthz` and `/readyz` too, for the whole cluster
 * (see {@link ServeOptions}).
 *
 * @since 0.1.0
 */
import * as Http from "node:http"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServer from "effect/http/HttpServer"
import type { ServeError } from "effect/http/HttpServerError"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Layer from "effect/Layer"
import * as PrometheusMetrics from "effect/observability/PrometheusMetrics"
import type * as Scope from "effect/Scope"
import { healthRoutes } from "../services/MetricsHttp.ts"
import type * as Readiness from "../services/Readiness.ts"
import type { WorkerLink } from "./workerLink.ts"

/**
 * One worker's Prometheus exposition.
 *
 * @since 0.1.0
 */
export interface WorkerMetrics {
  readonly slot: number
  readonly text: string
}

/**
 * One exposition to merge, and the labels to add to each of its samples.
 *
 * @since 0.1.0
 */
export interface Exposition {
  readonly text: string
  readonly labels?: Readonly<Record<string, string>> | undefined
}

interface Family {
  help: string | undefined
  type: string | undefined
  readonly samples: Array<string>
}

const COMMENT = /^#\s+(HELP|TYPE)\s+(\S+)/
/** name, optional `{labels}`, then the value (and a timestamp, if any). */
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?(\s.*)$/

const escapeLabelValue = (value: string): string =>
  value.replaceAll("\\", "\\\\").replaceAll("\"", "\\\"").replaceAll("\n", "\\n")

const renderLabels = (labels: Readonly<Record<string, string>> | undefined): string =>
  Object.entries(labels ?? {}).map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(",")

/**
 * Merges Prometheus text expositions into one: the metrics in the order
 * they first appear, each with its `# HELP` and `# TYPE` once (the first
 * seen), then its samples from every exposition in order, each with that
 * exposition's `labels` put first. Lines that are neither are dropped.
 *
 * @since 0.1.0
 */
export const merge = (expositions: ReadonlyArray<Exposition>): string => {
  const families = new Map<string, Family>()
  const family = (name: string): Family => {
    let found = families.get(name)
    if (found === undefined) {
      found = { help: undefined, type: undefined, samples: [] }
      families.set(name, found)
    }
    return found
  }
  for (const { labels, text } of expositions) {
    const added = renderLabels(labels)
    // Samples belong to the family of the last comment: a histogram's
    // `x_bucket`, `x_sum` and `x_count` follow `# TYPE x histogram`.
    let current: Family | undefined
    for (const line of text.split("\n")) {
      const comment = COMMENT.exec(line)
      if (comment !== null) {
        current = family(comment[2]!)
        if (comment[1] === "HELP") current.help ??= line
        else current.type ??= line
        continue
      }
      const sample = SAMPLE.exec(line)
      if (sample === null) continue
      const [, name, own, rest] = sample
      const labelText = [added, own ?? ""].filter((part) => part !== "").join(",")
      ;(current ?? family(name!)).samples.push(`${name}${labelText === "" ? "" : `{${labelText}}`}${rest}`)
    }
  }
  const lines: Array<string> = []
  for (const { help, type, samples } of families.values()) {
    if (help !== undefined) lines.push(help)
    if (type !== undefined) lines.push(type)
    lines.push(...samples)
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`
}

/**
 * Options of {@link serve}.
 *
 * @since 0.1.0
 */
export interface ServeOptions {
  readonly port: number
  /** Interface to bind. Default `127.0.0.1`. */
  readonly host?: string | undefined
  /** Asks every worker for its exposition (see `workers.ts`). */
  readonly workers: Effect.Effect<ReadonlyArray<WorkerMetrics>>
  /**
   * What `/readyz` answers: `ready` while at least one worker listens and
   * the primary is not stopping (see `workers.ts`).
   */
  readonly readiness: Effect.Effect<Readiness.Status>
}

/**
 * Serves `GET /metrics` in the primary for the current scope: every
 * worker's metrics labelled `worker`, then the primary's own; and
 * `/healthz`, `/readyz` for the cluster. Returns the metrics' URL.
 *
 * @since 0.1.0
 */
export const serve = (options: ServeOptions): Effect.Effect<string, ServeError, Scope.Scope> => {
  const scrape = Effect.gen(function*() {
    const workers = yield* options.workers
    const own = yield* PrometheusMetrics.format()
    const body = merge([
      ...workers.map(({ slot, text }) => ({ text, labels: { worker: String(slot) } })),
      { text: own }
    ])
    return HttpServerResponse.text(body, { contentType: "text/plain; version=0.0.4; charset=utf-8" })
  })
  const routes = Layer.merge(HttpRouter.add("GET", "/metrics", scrape), healthRoutes(options.readiness))
  const layer = HttpRouter.serve(routes, {
    disableLogger: true,
    disableListenLog: true
  }).pipe(
    Layer.provideMerge(
      NodeHttpServer.layer(() => Http.createServer(), { port: options.port, host: options.host ?? "127.0.0.1" })
    )
  )
  return Effect.map(
    Layer.build(layer),
    (context) => `${HttpServer.formatAddress(Context.get(context, HttpServer.HttpServer).address)}/metrics`
  )
}

/**
 * In a worker: answers the primary's metrics requests with this process's
 * metrics (the registry of the current context) until the scope closes.
 *
 * @since 0.1.0
 */
export const answer = (link: WorkerLink): Effect.Effect<void, never, Scope.Scope> =>
  Effect.flatMap(
    Effect.context<never>(),
    (context) => link.answerMetrics(() => PrometheusMetrics.formatUnsafe(context))
  )
