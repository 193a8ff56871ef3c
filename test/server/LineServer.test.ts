/**
 * The server over real loopback sockets: many concurrent clients each get
 * their own echo, one handler's defect stays in its connection, closing the
 * Layer's scope closes every connection and frees the port, and the Layer
 * embeds in an app that provides the handler's services.
 */
import * as Net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { echo } from "../../src/handlers/echo/Echo.ts"
import { Connection } from "../../src/services/Connection.ts"
import * as LineServer from "../../src/services/LineServer.ts"
import { connect } from "../fixtures/client.ts"
import { captureLogs, type LogLine, serve } from "../fixtures/server.ts"

const within = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.timeout(effect, Duration.seconds(10))

/** The annotations object logged after `message` (the first line with that message). */
const logFields = (lines: ReadonlyArray<LogLine>, message: string): Record<string, unknown> => {
  const line = lines.find((log) => log.message.startsWith(message))
  return JSON.parse(line!.message.slice(message.length + 1)) as Record<string, unknown>
}

describe("LineServer", () => {
  it.live("serves many concurrent clients, each its own echo", () =>
    Effect.gen(function*() {
      const server = yield* serve(echo)
      const port = server.port
      const clients = 100
      const lines = 20
      yield* Effect.forEach(
        Array.from({ length: clients }, (_, c) => c),
        (c) =>
          Effect.gen(function*() {
            const client = yield* connect(port)
            const expected = Array.from({ length: lines }, (_, i) => `client ${c} line ${i}\n`).join("")
            for (let i = 0; i < lines; i++) yield* client.write(`client ${c} line ${i}\n`)
            yield* client.end
            const { data, gotEnd } = yield* within(client.closed)
            assert.strictEqual(data.toString(), expected)
            assert.isTrue(gotEnd)
          }),
        { concurrency: "unbounded", discard: true }
      )
      assert.strictEqual((yield* server.stats).accepted, clients)
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("a handler's defect closes only its connection and is logged with its cause", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      let unhandled = 0
      const onUnhandled = () => unhandled++
      process.on("unhandledRejection", onUnhandled)
      yield* Effect.addFinalizer(() => Effect.sync(() => process.off("unhandledRejection", onUnhandled)))
      const handler = Effect.gen(function*() {
        const conn = yield* Connection
        while (true) {
          const line = yield* conn.readLine
          if (line === "die") return yield* Effect.die(new Error("handler bug"))
          yield* conn.writeLine(line)
        }
      })
      const { port } = yield* serve(handler)
      const survivor = yield* connect(port)
      const victim = yield* connect(port)
      yield* survivor.write("before\n")
      yield* within(survivor.readUntil("before\n"))
      yield* victim.write("die\n")
      const closed = yield* within(victim.closed)
      assert.strictEqual(closed.data.length, 0)
      yield* survivor.write("after\n")
      assert.strictEqual(yield* within(survivor.readUntil("after\n")), "before\nafter\n")
      const late = yield* connect(port)
      yield* late.write("new\n")
      yield* within(late.readUntil("new\n"))
      const failure = logs.lines.find((line) => line.message.includes("handler failed"))
      assert.isDefined(failure)
      assert.strictEqual(failure?.level, "Error")
      assert.include(failure?.cause, "handler bug")
      assert.strictEqual(unhandled, 0)
    }).pipe(Effect.provide(logs.layer))
  })

  it.live("annotates every connection's logs with client address and connection id", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const { port } = yield* serve(echo)
      const client = yield* connect(port)
      const localPort = client.socket.localPort
      yield* client.write("x\n")
      yield* client.end
      yield* within(client.closed)
      yield* Effect.sleep("20 millis")
      const closedLine = logs.lines.find((line) => line.message.startsWith("connection closed"))
      assert.isDefined(closedLine)
      assert.strictEqual(closedLine?.annotations.client, `127.0.0.1:${localPort}`)
      assert.isNumber(closedLine?.annotations.connection)
      assert.include(closedLine?.message, "end-of-input")
      assert.isFalse(JSON.stringify(logs.lines).includes("x\\n"), "payload bytes are never logged")
    }).pipe(Effect.provide(logs.layer))
  })

  it.live("a peer that ends in the middle of a block is a protocol violation (warning), not a handler failure", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const handler = Effect.flatMap(Effect.service(Connection), (conn) => conn.readExactly(10))
      const { port } = yield* serve(handler)
      const client = yield* connect(port)
      yield* client.write("abc")
      yield* client.end
      yield* within(client.closed)
      yield* Effect.sleep("20 millis")
      const closed = logs.lines.find((line) => line.message.startsWith("connection closed"))
      assert.strictEqual(closed?.level, "Warn")
      assert.include(closed?.message, "unexpected-end-of-input")
      assert.isUndefined(logs.lines.find((line) => line.message.includes("handler failed")))
    }).pipe(Effect.provide(logs.layer))
  })

  it.live("closing the Layer's scope closes every connection and releases the port", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(LineServer.layer({ handler: echo, port: 0 }), scope)
      const port = LineServer.port(Context.get(context, LineServer.LineServer))
      const clients = yield* Effect.forEach([1, 2, 3], () => connect(port))
      yield* clients[0]!.write("busy?\n")
      yield* within(clients[0]!.readUntil("busy?\n"))
      yield* Scope.close(scope, Exit.void)
      for (const client of clients) {
        const { gotEnd, error } = yield* within(client.closed)
        assert.isTrue(gotEnd, "closed with FIN")
        assert.isUndefined(error)
      }
      // The port is free again: a plain listener can take it.
      yield* Effect.callback<void, Error>((resume) => {
        const probe = Net.createServer()
        probe.once("error", (error) => resume(Effect.fail(error)))
        probe.listen(port, "127.0.0.1", () => probe.close(() => resume(Effect.void)))
      })
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("embeds as a Layer whose handler uses the app's own services", () => {
    class Greeter extends Context.Service<Greeter, { readonly greet: (name: string) => string }>()("test/Greeter") {}
    const handler = Effect.gen(function*() {
      const conn = yield* Connection
      const greeter = yield* Greeter
      yield* conn.writeLine(greeter.greet(yield* conn.readLine))
    })
    const app = LineServer.layer({ handler, port: 0 }).pipe(
      Layer.provide(Layer.succeed(Greeter, { greet: (name) => `hello, ${name}` }))
    )
    return Effect.gen(function*() {
      const port = LineServer.port(yield* LineServer.LineServer)
      const client = yield* connect(port)
      yield* client.write("ada\n")
      assert.strictEqual((yield* within(client.closed)).data.toString(), "hello, ada\n")
    }).pipe(Effect.provide(app), Effect.provide(captureLogs().layer))
  })

  it.live("fails with a typed ServerError when the port is taken", () =>
    Effect.gen(function*() {
      const { port } = yield* serve(echo)
      const error = yield* Effect.flip(LineServer.make({ handler: echo, port }))
      assert.strictEqual(error._tag, "ServerError")
      assert.strictEqual(error.address, `127.0.0.1:${port}`)
      assert.strictEqual(error.reason._tag, "ListenError")
      assert.strictEqual(error.reason._tag === "ListenError" ? error.reason.code : undefined, "EADDRINUSE")
      assert.strictEqual(error.message, `cannot listen on 127.0.0.1:${port}: address already in use`)
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("tells handlers the peer's address, structured, and prints IPv6 one way: [::1]:port", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const seen: Array<unknown> = []
      const handler = (conn: Connection) =>
        Effect.sync(() => {
          seen.push({ peer: conn.peer, remoteAddress: conn.remoteAddress })
        })
      const server = yield* LineServer.make({ handler, host: "::1", port: 0 })
      assert.deepStrictEqual(server.address.family, "IPv6")
      const listening = logs.lines.find((line) => line.message.startsWith("listening"))
      assert.include(listening?.message, `"address":"[::1]:${LineServer.port(server)}"`)
      const client = Net.connect({ host: "::1", port: LineServer.port(server) })
      yield* Effect.addFinalizer(() => Effect.sync(() => client.destroy()))
      const localPort = yield* Effect.callback<number>((resume) => {
        client.once("connect", () => resume(Effect.succeed(client.localPort!)))
      })
      yield* Effect.callback<void>((resume) => {
        client.once("close", () => resume(Effect.void))
        client.resume()
      })
      assert.deepStrictEqual(seen, [{
        peer: `[::1]:${localPort}`,
        remoteAddress: { family: "IPv6", host: "::1", port: localPort }
      }])
    }).pipe(Effect.provide(logs.layer))
  })

  it.live("several servers in one app: each has its own tag, and its name on every log line", () => {
    const logs = captureLogs()
    class Admin extends Context.Service<Admin, LineServer.LineServer>()("test/Admin") {}
    const servers = Layer.mergeAll(
      LineServer.layer({ handler: echo, port: 0, name: "api" }),
      LineServer.layerAs(Admin, { handler: (conn) => conn.writeLine("admin"), port: 0, name: "admin" })
    )
    return Effect.gen(function*() {
      const built = yield* Layer.build(servers)
      const api = Context.get(built, LineServer.LineServer)
      const admin = Context.get(built, Admin)
      assert.notStrictEqual(LineServer.port(api), LineServer.port(admin))
      const client = yield* connect(LineServer.port(admin))
      assert.strictEqual((yield* within(client.closed)).data.toString(), "admin\n")
      assert.strictEqual((yield* admin.stats).accepted, 1)
      assert.strictEqual((yield* api.stats).accepted, 0)
      const admins = logs.lines.filter((line) => line.annotations.server === "admin")
      const apis = logs.lines.filter((line) => line.annotations.server === "api")
      assert.isDefined(admins.find((line) => line.message.startsWith("listening")))
      assert.isDefined(admins.find((line) => line.message.startsWith("connection closed")))
      assert.isDefined(apis.find((line) => line.message.startsWith("listening")))
    }).pipe(Effect.scoped, Effect.provide(logs.layer))
  })

  it.live("the shutdown lines name the server's address, and drained + forced add up to the connections open", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const scope = yield* Scope.make()
      // The handler is done at once; its socket lingers (the client ignores our FIN).
      const server = yield* LineServer.make({
        handler: (conn) => conn.writeLine("hi"),
        port: 0,
        lingerTimeout: "30 seconds",
        shutdownTimeout: "300 millis"
      }).pipe(Scope.provide(scope))
      const stubborn = Net.connect({ port: LineServer.port(server), host: "127.0.0.1", allowHalfOpen: true })
      yield* Effect.addFinalizer(() => Effect.sync(() => stubborn.destroy()))
      stubborn.on("error", () => {})
      yield* Effect.callback<void>((resume) => {
        stubborn.once("end", () => resume(Effect.void))
        stubborn.resume()
      })
      yield* Scope.close(scope, Exit.void)
      const address = `127.0.0.1:${LineServer.port(server)}`
      assert.deepStrictEqual(logFields(logs.lines, "shutting down"), { address, connections: 1 })
      assert.deepStrictEqual(logFields(logs.lines, "server stopped"), { address, drained: 1, forced: 0 })
    }).pipe(Effect.provide(logs.layer))
  })
})
