/**
 * fiberline under OpenTelemetry, through `@effect/opentelemetry` as an app
 * installs it: each connection is a span of the SDK's own (a root, kind
 * SERVER, with the connection's facts), the handler's spans are its
 * children in the same trace, and two connections are two traces.
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { assert, describe, it } from "@effect/vitest"
import { SpanKind } from "@opentelemetry/api"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { Connection } from "../../src/services/Connection.ts"
import * as LineServer from "../../src/services/LineServer.ts"
import { captureLogs } from "../fixtures/server.ts"
import { exchange } from "../fixtures/client.ts"

/** Echoes each line inside a span of the handler's own until the input ends. */
const handler = (conn: Connection) =>
  Effect.forever(Effect.withSpan(Effect.flatMap(conn.readLine, conn.writeLine), "handler.echo")).pipe(
    Effect.catchTag("EndOfInput", () => Effect.void)
  )

const within = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.timeout(effect, Duration.seconds(10))

describe("under OpenTelemetry", () => {
  it.live("a connection is a SERVER span of its own trace, and the handler's spans its children", () => {
    const exporter = new InMemorySpanExporter()
    const otel = NodeSdk.layer(() => ({
      resource: { serviceName: "fiberline-test" },
      spanProcessor: new SimpleSpanProcessor(exporter)
    }))
    return Effect.gen(function*() {
      const server = yield* LineServer.make({ handler, port: 0, name: "echo" })
      const port = LineServer.port(server)
      assert.strictEqual((yield* within(exchange(port, ["a\nb\n"]))).data, "a\nb\n")
      assert.strictEqual((yield* within(exchange(port, ["c\n"]))).data, "c\n")
      yield* Effect.sleep("50 millis")
      const spans = exporter.getFinishedSpans()
      const connections = spans.filter((span) => span.name === "fiberline.connection")
      assert.strictEqual(connections.length, 2)
      assert.notStrictEqual(connections[0]!.spanContext().traceId, connections[1]!.spanContext().traceId, "a trace each")
      for (const connection of connections) {
        assert.strictEqual(connection.kind, SpanKind.SERVER)
        assert.isUndefined(connection.parentSpanContext, "a root")
        assert.strictEqual(connection.attributes["fiberline.server"], "echo")
        assert.strictEqual(connection.attributes["network.peer.address"], "127.0.0.1")
        assert.strictEqual(connection.attributes["fiberline.close.reason"], "end-of-input")
        assert.strictEqual(connection.resource.attributes["service.name"], "fiberline-test")
      }
      const [first] = connections
      assert.strictEqual(first!.attributes["fiberline.lines.in"], 2)
      const echoes = spans.filter((span) => span.name === "handler.echo")
      // Two lines and the read that met the end of input, then one line and its end.
      assert.strictEqual(echoes.length, 5)
      for (const echo of echoes) {
        const parent = connections.find((connection) => connection.spanContext().spanId === echo.parentSpanContext?.spanId)
        assert.isDefined(parent, "each echo's parent is a connection span")
        assert.strictEqual(echo.spanContext().traceId, parent!.spanContext().traceId)
      }
    }).pipe(Effect.scoped, Effect.provide(Layer.merge(otel, captureLogs().layer)))
  })
})
