/**
 * Serves the process's Effect metrics (fiberline's included) in Prometheus
 * text format at `GET /metrics`, using Effect's own `PrometheusMetrics` and
 * HTTP server, and the health checks of a load balancer or Kubernetes:
 * `GET /healthz` (200 while the process is up) and `GET /readyz` (200 while
 * the servers accept, 503 from the moment a drain starts; see `Readiness`).
 * Binds to loopback by default: scrape it locally or through your own proxy.
 *
 * @since 0.1.0
 * @module fiberline/MetricsHttp
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
import * as Readiness from "./Readiness.ts"

/**
 * Where to serve the metrics.
 *
 * @since 0.1.0
 */
export interface MetricsHttpOptions {
  /** Port; `0` picks a free one (read it from the `HttpServer` service). */
  readonly port: number
  /** Interface to bind. Default `127.0.0.1`. */
  readonly host?: string | undefined
}

/** The body of each `/readyz` answer: one short line. */
const readyBody: Readonly<Record<Readiness.Status, string>> = {
  ready: "ready\n",
  draining: "not ready: draining\n",
  "not-listening": "not ready: no server is listening\n"
}

/**
 * `GET /healthz` (always `200 ok`) and `GET /readyz` (`200 ready` while
 * `status` is `ready`, else `503` saying why), as routes of an `HttpRouter`.
 *
 * @since 0.2.0
 */
export const healthRoutes = (status: Effect.Effect<Readiness.Status>): Layer.Layer<never, never, HttpRouter.HttpRouter> =>
  Layer.mergeAll(
    HttpRouter.add("GET", "/healthz", HttpServerResponse.text("ok\n")),
    HttpRouter.add(
      "GET",
      "/readyz",
      Effect.map(status, (now) => HttpServerResponse.text(readyBody[now], { status: now === "ready" ? 200 : 503 }))
    )
  )

/**
 * The routes of {@link layer}: `/metrics`, and `/healthz` and `/readyz`
 * for the `Readiness` of the context the layer is built in.
 */
const routes: Layer.Layer<never, never, HttpRouter.HttpRouter> = Layer.unwrap(
  Readiness.Readiness.useSync((readiness) =>
    Layer.merge(PrometheusMetrics.layerHttp(), healthRoutes(Effect.sync(() => readiness.status())))
  )
)

/**
 * The metrics and health endpoint as a Layer; the `HttpServer` it provides
 * tells the bound address.
 *
 * @since 0.1.0
 */
export const layer = (
  options: MetricsHttpOptions
): Layer.Layer<HttpServer.HttpServer, ServeError> =>
  HttpRouter.serve(routes, { disableLogger: true, disableListenLog: true }).pipe(
    Layer.provideMerge(
      NodeHttpServer.layer(() => Http.createServer(), { port: options.port, host: options.host ?? "127.0.0.1" })
    )
  )

/**
 * Serves the metrics and health checks in the current scope and returns
 * the metrics' URL (`http://127.0.0.1:<port>/metrics`).
 *
 * @since 0.1.0
 */
export const serve = (options: MetricsHttpOptions): Effect.Effect<string, ServeError, Scope.Scope> =>
  Effect.map(
    Layer.build(layer(options)),
    (context) => `${HttpServer.formatAddress(Context.get(context, HttpServer.HttpServer).address)}/metrics`
  )
