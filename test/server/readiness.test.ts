/**
 * The health checks on the metrics port, over real HTTP: `/healthz` answers
 * 200 while the process is up, `/readyz` 200 only while a server accepts,
 * and 503 from the moment a real drain starts — a connection told to leave
 * already finds the process not ready — until the server has stopped.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as HttpServer from "effect/http/HttpServer"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { Connection } from "../../src/services/Connection.ts"
import * as MetricsHttp from "../../src/services/MetricsHttp.ts"
import * as Readiness from "../../src/services/Readiness.ts"
import { connect } from "../fixtures/client.ts"
import { freshRegistry } from "../fixtures/metrics.ts"
import { captureLogs, serve } from "../fixtures/server.ts"

const within = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.timeout(effect, Duration.seconds(10))

/** GETs `url`: its status and body. */
const get = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url)
    return { status: response.status, body: await response.text() }
  })

describe("Readiness", () => {
  it("is ready while a server accepts and none drains; a draining one makes the process not ready", () => {
    const readiness = Readiness.make()
    assert.strictEqual(readiness.status(), "not-listening")
    const one = readiness.register()
    const two = readiness.register()
    assert.strictEqual(readiness.status(), "ready")
    one.draining()
    assert.strictEqual(readiness.status(), "draining", "the other still accepts, but a drain has begun")
    one.stopped()
    assert.strictEqual(readiness.status(), "ready")
    two.stopped()
    two.stopped()
    assert.strictEqual(readiness.status(), "not-listening", "stopped twice counts once")
  })
})

describe("/healthz and /readyz", () => {
  it.live("answer over HTTP: ready while accepting, 503 from the start of a drain, before connections are told", () =>
    Effect.gen(function*() {
      const http = yield* Layer.build(MetricsHttp.layer({ port: 0 }))
      const base = HttpServer.formatAddress(Context.get(http, HttpServer.HttpServer).address)
      assert.deepStrictEqual(yield* get(`${base}/healthz`), { status: 200, body: "ok\n" })
      assert.deepStrictEqual(yield* get(`${base}/readyz`), { status: 503, body: "not ready: no server is listening\n" })

      // A handler that, once told to leave, asks /readyz itself, then waits for the test to let it go.
      const toldAnswer = yield* Deferred.make<{ status: number; body: string }>()
      const leave = yield* Deferred.make<void>()
      const handler = Effect.gen(function*() {
        const conn = yield* Connection
        while (true) yield* conn.writeLine(yield* conn.readLine)
      }).pipe(
        Effect.catchTag("ServerShuttingDown", () =>
          Effect.gen(function*() {
            yield* Deferred.succeed(toldAnswer, yield* get(`${base}/readyz`))
            yield* Deferred.await(leave)
          })),
        Effect.ignore
      )
      const scope = yield* Scope.make()
      const server = yield* serve(handler, { shutdownTimeout: "30 seconds" }).pipe(Scope.provide(scope))
      assert.deepStrictEqual(yield* get(`${base}/healthz`), { status: 200, body: "ok\n" })
      assert.deepStrictEqual(yield* get(`${base}/readyz`), { status: 200, body: "ready\n" })
      const client = yield* connect(server.port)
      yield* client.write("hi\n")
      yield* within(client.readUntil("hi\n"))

      const drain = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      const told = yield* within(Deferred.await(toldAnswer))
      assert.deepStrictEqual(told, { status: 503, body: "not ready: draining\n" }, "not ready before it was told")
      assert.deepStrictEqual(yield* get(`${base}/readyz`), { status: 503, body: "not ready: draining\n" })
      assert.deepStrictEqual(yield* get(`${base}/healthz`), { status: 200, body: "ok\n" }, "the process is still up")
      yield* Deferred.succeed(leave, undefined)
      yield* within(Fiber.join(drain))
      yield* within(client.closed)
      assert.deepStrictEqual(yield* get(`${base}/readyz`), { status: 503, body: "not ready: no server is listening\n" })
    }).pipe(
      freshRegistry,
      Effect.provideService(Readiness.Readiness, Readiness.make()),
      Effect.provide(captureLogs().layer)
    ))
})
