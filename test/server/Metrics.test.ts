/**
 * Metrics after a scripted session over real sockets: the counters and the
 * gauge are ordinary Effect metrics (readable with `Metric.value`) and the
 * Prometheus endpoint serves them in text format; two named servers keep
 * their series apart, and every connection's life lands in the duration
 * histogram. Each test uses its own metric registry, so counts are exact.
 */
import { Buffer } from "node:buffer"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as HttpServer from "effect/http/HttpServer"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import { echo } from "../../src/handlers/echo/Echo.ts"
import * as MetricsHttp from "../../src/services/MetricsHttp.ts"
import * as ServerMetrics from "../../src/ServerMetrics.ts"
import { connect } from "../fixtures/client.ts"
import { freshRegistry } from "../fixtures/metrics.ts"
import { captureLogs, serve, waitForActive } from "../fixtures/server.ts"

const within = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.timeout(effect, Duration.seconds(10))

/** One connection of each kind: clean, over-long line, reset, refused. */
const scriptedSession = Effect.gen(function*() {
  const server = yield* serve(echo, { maxConnections: 1, maxLineLength: 16 })
  const clean = yield* connect(server.port)
  yield* clean.write("one\ntwo\nthree\n")
  yield* clean.end
  yield* within(clean.closed)
  yield* waitForActive(server, 0)
  const tooLong = yield* connect(server.port)
  yield* tooLong.write("this line is far too long\n")
  yield* within(tooLong.closed)
  yield* waitForActive(server, 0)
  const holder = yield* connect(server.port)
  yield* holder.write("x\n")
  yield* within(holder.readUntil("x\n"))
  const refused = yield* connect(server.port)
  yield* within(refused.closed)
  yield* holder.reset
  yield* waitForActive(server, 0)
})

const count = (metric: Metric.Metric<number, Metric.CounterState<number>>) =>
  Effect.map(Metric.value(metric), (state) => state.count)

describe("metrics", () => {
  it.live("are ordinary Effect metrics", () =>
    Effect.gen(function*() {
      yield* scriptedSession
      assert.strictEqual(yield* count(ServerMetrics.connectionsAccepted), 3)
      assert.strictEqual(yield* count(ServerMetrics.connectionsRefused), 1)
      assert.strictEqual(yield* count(ServerMetrics.connectionsClosed["end-of-input"]), 1)
      assert.strictEqual(yield* count(ServerMetrics.connectionsClosed["line-too-long"]), 1)
      assert.strictEqual(yield* count(ServerMetrics.connectionsClosed.reset), 1)
      assert.strictEqual(yield* count(ServerMetrics.linesRead), 4)
      assert.strictEqual(yield* count(ServerMetrics.linesWritten), 4)
      const bytes = Buffer.byteLength("one\ntwo\nthree\n") + Buffer.byteLength("this line is far too long\n") + 2
      assert.strictEqual(yield* count(ServerMetrics.bytesRead), bytes)
      assert.strictEqual(yield* count(ServerMetrics.bytesWritten), Buffer.byteLength("one\ntwo\nthree\nx\n"))
      assert.strictEqual((yield* Metric.value(ServerMetrics.connectionsActive)).value, 0)
    }).pipe(freshRegistry, Effect.provide(captureLogs().layer)))

  it.live("are all exported, at zero, from the moment a server starts", () =>
    Effect.gen(function*() {
      const http = yield* Layer.build(MetricsHttp.layer({ port: 0 }))
      const url = `${HttpServer.formatAddress(Context.get(http, HttpServer.HttpServer).address)}/metrics`
      yield* serve(echo)
      const body = (yield* Effect.promise(() => fetch(url).then((response) => response.text()))).split("\n")
      const expected = [
        "fiberline_connections_active 0",
        "fiberline_connections_accepted_total 0",
        "fiberline_connections_refused_total 0",
        "fiberline_descriptors_exhausted_total 0",
        ...ServerMetrics.closeReasons.map((reason) => `fiberline_connections_closed_total{reason="${reason}"} 0`),
        "fiberline_lines_read_total 0",
        "fiberline_lines_written_total 0",
        "fiberline_bytes_read_total 0",
        "fiberline_bytes_written_total 0",
        "fiberline_connection_duration_seconds_count 0"
      ]
      for (const line of expected) assert.include(body, line)
    }).pipe(freshRegistry, Effect.provide(captureLogs().layer)))

  it.live("are served in Prometheus text format", () =>
    Effect.gen(function*() {
      const http = yield* Layer.build(MetricsHttp.layer({ port: 0 }))
      const url = `${HttpServer.formatAddress(Context.get(http, HttpServer.HttpServer).address)}/metrics`
      yield* scriptedSession
      const response = yield* Effect.promise(() => fetch(url))
      assert.strictEqual(response.status, 200)
      assert.include(response.headers.get("content-type"), "text/plain")
      const body = yield* Effect.promise(() => response.text())
      for (
        const expected of [
          "# TYPE fiberline_connections_accepted_total counter",
          "fiberline_connections_accepted_total 3",
          "fiberline_connections_refused_total 1",
          "fiberline_connections_closed_total{reason=\"end-of-input\"} 1",
          "fiberline_connections_closed_total{reason=\"line-too-long\"} 1",
          "fiberline_connections_closed_total{reason=\"reset\"} 1",
          "fiberline_lines_read_total 4",
          "fiberline_lines_written_total 4",
          "# TYPE fiberline_connections_active gauge",
          "fiberline_connections_active 0"
        ]
      ) {
        assert.include(body.split("\n"), expected)
      }
    }).pipe(freshRegistry, Effect.provide(captureLogs().layer)))

  it.live("a named server's series carry its name: two servers in one app share none", () =>
    Effect.gen(function*() {
      const http = yield* Layer.build(MetricsHttp.layer({ port: 0 }))
      const url = `${HttpServer.formatAddress(Context.get(http, HttpServer.HttpServer).address)}/metrics`
      const api = yield* serve(echo, { name: "api" })
      const admin = yield* serve(echo, { name: "admin" })
      for (const [server, session] of [[api, "a\nb\n"], [admin, "c\n"]] as const) {
        const client = yield* connect(server.port)
        yield* client.write(session)
        yield* client.end
        yield* within(client.closed)
        yield* waitForActive(server, 0)
      }
      const body = (yield* Effect.promise(() => fetch(url).then((response) => response.text()))).split("\n")
      for (
        const expected of [
          `fiberline_connections_accepted_total{server="api"} 1`,
          `fiberline_connections_accepted_total{server="admin"} 1`,
          `fiberline_connections_closed_total{reason="end-of-input",server="api"} 1`,
          `fiberline_lines_read_total{server="api"} 2`,
          `fiberline_lines_read_total{server="admin"} 1`,
          `fiberline_bytes_written_total{server="api"} 4`,
          `fiberline_bytes_written_total{server="admin"} 2`,
          `fiberline_connections_active{server="admin"} 0`
        ]
      ) {
        assert.include(body, expected)
      }
      assert.isFalse(body.some((line) => line.startsWith("fiberline_lines_read_total ")), "no unlabelled series")
    }).pipe(freshRegistry, Effect.provide(captureLogs().layer)))

  it.live("every connection's life, from accept to release, is one sample of the duration histogram", () =>
    Effect.gen(function*() {
      const server = yield* serve(echo)
      const held = yield* connect(server.port)
      yield* held.write("x\n")
      yield* within(held.readUntil("x\n"))
      yield* Effect.sleep("300 millis")
      yield* held.end
      yield* within(held.closed)
      yield* scriptedSession
      yield* waitForActive(server, 0)
      const histogram = yield* Metric.value(ServerMetrics.connectionDuration)
      // The held one and the scripted session's three accepted (the one refused for want of a slot never was).
      assert.strictEqual(histogram.count, 4)
      assert.isAtLeast(histogram.max, 0.3, "the held connection lived at least as long as it was held")
      assert.isAtLeast(histogram.sum, 0.3)
      // Cumulative buckets: every sample is at most +Inf; the held one is above 0.16 s.
      const bucket = (le: number) => histogram.buckets.find(([boundary]) => boundary === le)?.[1]
      assert.strictEqual(bucket(Number.POSITIVE_INFINITY), 4)
      assert.isBelow(bucket(ServerMetrics.connectionDurationBoundaries[5]!)!, 4)
    }).pipe(freshRegistry, Effect.provide(captureLogs().layer)))
})
