/**
 * Observability of one connection: with a tracer installed, each connection
 * is a span of its own — the root of its trace, linked to the span the
 * server was started in — carrying the peer, the connection id and the
 * server's name, and at its end the close reason and what went in and out;
 * the handler's own spans nest under it, and reads and writes make none.
 * Without one, no span exists. The closing log line carries the same
 * figures.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import type { Connection } from "../../src/services/Connection.ts"
import * as LineServer from "../../src/services/LineServer.ts"
import { captureLogs } from "../fixtures/server.ts"
import { exchange } from "../fixtures/client.ts"

const within = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.timeout(effect, Duration.seconds(10))

/** A tracer that keeps every span it makes. */
const recording = () => {
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span: (options) => {
      const span = Tracer.nativeTracer.span(options)
      spans.push(span)
      return span
    }
  })
  return { spans, tracer }
}

/** Echoes two lines, each inside a span of the handler's own, then ends. */
const handler = (conn: Connection) =>
  Effect.gen(function*() {
    for (let i = 0; i < 2; i++) {
      yield* Effect.withSpan(Effect.flatMap(conn.readLine, conn.writeLine), "handler.echo")
    }
  })

describe("a span per connection", () => {
  it.live("is a root linked to the server's span, carries the connection's facts, and parents the handler's spans", () => {
    const { spans, tracer } = recording()
    const logs = captureLogs()
    return Effect.gen(function*() {
      const server = yield* LineServer.make({ handler, port: 0, name: "api" }).pipe(Effect.withSpan("app.start"))
      const port = LineServer.port(server)
      assert.strictEqual((yield* within(exchange(port, ["one\ntwo\n"]))).data, "one\ntwo\n")
      yield* Effect.sleep("50 millis")
      const connections = spans.filter((span) => span.name === "fiberline.connection")
      assert.strictEqual(connections.length, 1)
      const connection = connections[0]!
      assert.isTrue(Option.isNone(connection.parent), "the root of a trace of its own")
      const start = spans.find((span) => span.name === "app.start")!
      assert.deepStrictEqual(connection.links.map((link) => link.span.spanId), [start.spanId], "linked to the server's span")
      assert.strictEqual(connection.kind, "server")
      const attributes = Object.fromEntries(connection.attributes)
      assert.strictEqual(attributes["fiberline.server"], "api")
      assert.strictEqual(attributes["network.transport"], "tcp")
      assert.strictEqual(attributes["network.peer.address"], "127.0.0.1")
      assert.isNumber(attributes["fiberline.connection.id"])
      assert.strictEqual(attributes["fiberline.close.reason"], "handler-done")
      assert.strictEqual(attributes["fiberline.bytes.in"], 8)
      assert.strictEqual(attributes["fiberline.bytes.out"], 8)
      assert.strictEqual(attributes["fiberline.lines.in"], 2)
      assert.strictEqual(attributes["fiberline.lines.out"], 2)
      assert.strictEqual(connection.status._tag, "Ended")
      const echoes = spans.filter((span) => span.name === "handler.echo")
      assert.strictEqual(echoes.length, 2)
      for (const echo of echoes) {
        assert.strictEqual(Option.getOrUndefined(echo.parent)?.spanId, connection.spanId, "the handler's spans nest under it")
      }
      assert.deepStrictEqual(
        [...new Set(spans.map((span) => span.name))].toSorted(),
        ["app.start", "fiberline.connection", "handler.echo"],
        "no span per read or write"
      )
      const closed = logs.lines.find((line) => line.message.startsWith("connection closed"))
      assert.isDefined(closed)
    }).pipe(Effect.scoped, Effect.withTracer(tracer), Effect.provide(logs.layer))
  })

  it.live("without a tracer, no connection has a span", () =>
    Effect.gen(function*() {
      const server = yield* LineServer.make({ handler, port: 0 })
      let spanSeen = false
      const probe = (conn: Connection) =>
        Effect.flatMap(Effect.option(Effect.currentSpan), (span) =>
          Effect.andThen(Effect.sync(() => (spanSeen = Option.isSome(span))), handler(conn)))
      const probed = yield* LineServer.make({ handler: probe, port: 0 })
      yield* within(exchange(LineServer.port(server), ["a\nb\n"]))
      yield* within(exchange(LineServer.port(probed), ["a\nb\n"]))
      assert.isFalse(spanSeen)
    }).pipe(Effect.scoped, Effect.provide(captureLogs().layer)))
})
