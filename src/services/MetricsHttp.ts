/**
 * Serves the process's Effect metrics (fiberline's included) in Prometheus
 * text format at `GET /metrics`, using Effect's own `PrometheusMetrics` and
 * HTTP server. Binds to loopback by default: scrape it locally or through
 * your own proxy.
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
import * as Layer from "effect/Layer"
import * as PrometheusMetrics from "effect/observability/PrometheusMetrics"
import type * as Scope from "effect/Scope"

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

/**
 * The metrics endpoint as a Layer; the `HttpServer` it provides tells the
 * bound address.
 *
 * @since 0.1.0
 */
export const layer = (
  options: MetricsHttpOptions
): Layer.Layer<HttpServer.HttpServer, ServeError> =>
  HttpRouter.serve(PrometheusMetrics.layerHttp(), { disableLogger: true, disableListenLog: true }).pipe(
    Layer.provideMerge(
      NodeHttpServer.layer(() => Http.createServer(), { port: options.port, host: options.host ?? "127.0.0.1" })
    )
  )

/**
 * Serves the metrics in the current scope and returns their URL
 * (`http://127.0.0.1:<port>/metrics`).
 *
 * @since 0.1.0
 */
export const serve = (options: MetricsHttpOptions): Effect.Effect<string, ServeError, Scope.Scope> =>
  Effect.map(
    Layer.build(layer(options)),
    (context) => `${HttpServer.formatAddress(Context.get(context, HttpServer.HttpServer).address)}/metrics`
  )
