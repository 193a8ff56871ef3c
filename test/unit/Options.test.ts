/**
 * The options schemas, decoded once: a value that cannot be used is one
 * `InvalidOption` naming the option and the value — a typed, catchable
 * `ServerError` reason from `LineServer.make` (never a throw), a defect of
 * the pure constructors — and durations are refused where they cannot
 * work (negative, NaN, an endless deadline).
 */
import * as Net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Result from "effect/Result"
import { echo } from "../../src/handlers/echo/Echo.ts"
import * as Redis from "../../src/handlers/redis/Redis.ts"
import * as Options from "../../src/Options.ts"
import * as Connection from "../../src/services/Connection.ts"
import * as LineServer from "../../src/services/LineServer.ts"
import * as TestConnection from "../../src/testing/TestConnection.ts"
import { captureLogs, serve } from "../fixtures/server.ts"
import { file, serverA } from "../fixtures/tls.ts"

/** What decoding `input` with `schema` says is wrong, as one message; `undefined` when nothing is. */
const problem = (schema: Parameters<typeof Options.decodeResult>[0], input: unknown) => {
  const result = Options.decodeResult(schema, input)
  return Result.isFailure(result) ? result.failure.message : undefined
}

describe("Options.ConnectionOptions", () => {
  const cases: ReadonlyArray<readonly [object, string | undefined]> = [
    [{ maxLineLength: 1024, idleTimeout: "5 minutes", lineEnding: "\r\n" }, undefined],
    [{ idleTimeout: Infinity, lineTimeout: Duration.infinity }, undefined],
    [{ lingerTimeout: 0 }, undefined],
    [{ maxLineLength: 0 }, "option maxLineLength: expected a positive integer, got 0"],
    [{ maxLineLength: 1.5 }, "option maxLineLength: expected a positive integer, got 1.5"],
    [{ idleTimeout: -1 }, "option idleTimeout: expected a duration of more than 0, got -1"],
    [{ idleTimeout: "-5 seconds" }, "option idleTimeout: expected a duration of more than 0, got \"-5 seconds\""],
    [{ lineTimeout: NaN }, "option lineTimeout: expected a duration of more than 0, got NaN"],
    [{ writeTimeout: "Infinity" }, "option writeTimeout: expected a finite duration, got \"Infinity\""],
    [{ lingerTimeout: "soon" }, "option lingerTimeout: expected a duration (\"30 seconds\", \"500 millis\", or milliseconds as a number), got \"soon\""],
    [{ lineEnding: "\r" }, "option lineEnding: expected \"\\n\" | \"\\r\\n\", got \"\\r\""],
    [{ idleTimout: "5 minutes" }, "option idleTimout: expected no such option, got an option of that name"]
  ]
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)}: ${expected ?? "accepted"}`, () => {
      assert.strictEqual(problem(Options.ConnectionOptions, input), expected)
    })
  }
})

describe("LineServer.ServerOptions", () => {
  const cases: ReadonlyArray<readonly [object, string | undefined]> = [
    [{ port: 7000, idleTimeout: "5 minutes", name: "upper" }, undefined],
    [{ path: "/tmp/x.sock", socketMode: 0o660 }, undefined],
    [{ proxy: { version: "v2", headerTimeout: "24 days", trusted: ["10.0.0.1", "::1"] } }, undefined],
    [{ port: 70000 }, "option port: expected an integer from 0 to 65535, got 70000"],
    [{ host: " " }, "option host: expected a host name or address (to listen on every interface, say 0.0.0.0 or ::), got \" \""],
    [{ path: "/tmp/x.sock", port: 1 }, "option port: expected no TCP setting with path: a Unix socket takes no host or port, got 1"],
    [{ socketMode: 0o660 }, "option socketMode: expected a path: socketMode is the mode of a Unix socket, got 432"],
    [{ path: "/tmp/x.sock", socketMode: 0o1777 }, "option socketMode: expected a file mode from 000 to 777 (octal: permission bits only), got 1023"],
    [{ maxConnections: 0 }, "option maxConnections: expected a positive integer, or Infinity for no limit, got 0"],
    [{ maxConnections: Infinity }, undefined],
    [{ shutdownTimeout: Infinity }, undefined],
    [{ shutdownTimeout: -1 }, "option shutdownTimeout: expected a duration of 0 or more, got -1"],
    [{ busyMessage: "busy\nnow" }, "option busyMessage: expected one line, without a line break, got \"busy\\nnow\""],
    // Every deadline runs on Effect's Clock: past a Node timer's range (24.8 days) is fine.
    [{ proxy: { version: "v1", headerTimeout: "25 days" } }, undefined],
    [{ proxy: { version: "v1", headerTimeout: Infinity } }, "option proxy.headerTimeout: expected a finite duration, got Infinity"],
    [{ proxy: { version: "v3" } }, "option proxy.version: expected \"v1\" | \"v2\" | \"any\", got \"v3\""],
    [{ proxy: { version: "any", trusted: ["10.0.0.300"] } }, "option proxy.trusted.0: expected an IP address, got \"10.0.0.300\""],
    [{ tlsMode: "starttls" }, "option tlsMode: expected tls settings to go with it, got \"starttls\""],
    [{ tls: { cert: "c", key: "k", handshakeTimeout: Infinity } }, "option tls.handshakeTimeout: expected a finite duration, got Infinity"],
    [{ tls: { cert: "c", key: "k", ticketKeys: new Uint8Array(47) } }, "option tls.ticketKeys: expected 48 bytes, got (hidden)"],
    [{ tls: { cert: "c", key: 42 } }, "option tls.key: expected PEM text or bytes, or { file }, got (hidden)"],
    [{ tls: { cert: "c", key: "k", clientAuth: "require" } }, "option tls.clientAuth: expected a ca: the CAs that sign client certificates, for clientAuth other than none, got \"require\""],
    [{ proxyProtocol: "v1" }, "option proxyProtocol: expected no such option, got an option of that name"]
  ]
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input, (_, value) => (value instanceof Uint8Array ? `${value.length} bytes` : value))}: ${expected ?? "accepted"}`, () => {
      assert.strictEqual(problem(LineServer.ServerOptions, input), expected)
    })
  }
})

describe("LineServer.make", () => {
  it.live("an invalid option is a typed failure: ServerError, reason InvalidOption, naming the option and the value", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(LineServer.make({ handler: echo, port: 0, idleTimeout: "-1 seconds" }))
      assert.isTrue(Exit.isFailure(exit) && !Cause.hasDies(exit.cause), "a failure, not a defect")
      const error = yield* Effect.flip(LineServer.make({ handler: echo, port: 0, idleTimeout: "-1 seconds" }))
      assert.strictEqual(error.reason._tag, "InvalidOption")
      assert.deepInclude(error.reason, { option: "idleTimeout", value: "\"-1 seconds\"", expected: "a duration of more than 0" })
      assert.strictEqual(error.message, "cannot start the server: option idleTimeout: expected a duration of more than 0, got \"-1 seconds\"")
      const caught = yield* LineServer.make({ handler: echo, port: 0, maxConnections: -3 }).pipe(
        Effect.catchReason("ServerError", "InvalidOption", (reason) => Effect.succeed(reason.option))
      )
      assert.strictEqual(caught, "maxConnections")
    }).pipe(Effect.scoped))

  it.live("Effect.catchReason reaches the TlsConfigError of settings whose files cannot be used", () =>
    Effect.gen(function*() {
      const reason = yield* serve(echo, { tls: { cert: { file: "/nonexistent/cert.pem" }, key: file("server.key") } }).pipe(
        Effect.as("started"),
        Effect.catchReason("ServerError", "TlsConfigError", (tls) => Effect.succeed(`${tls._tag} ${tls.file}`))
      )
      assert.strictEqual(reason, "TlsConfigError /nonexistent/cert.pem")
    }).pipe(Effect.scoped, Effect.provide(captureLogs().layer)))

  it.live("a port in use is a ListenError with its code, the address on the ServerError", () =>
    Effect.gen(function*() {
      const taken = Net.createServer()
      yield* Effect.acquireRelease(
        Effect.callback<void>((resume) => void taken.listen(0, "127.0.0.1", () => resume(Effect.void))),
        () => Effect.sync(() => taken.close())
      )
      const port = (taken.address() as Net.AddressInfo).port
      const error = yield* Effect.flip(LineServer.make({ handler: echo, port }))
      assert.strictEqual(error.address, `127.0.0.1:${port}`)
      const code = yield* LineServer.make({ handler: echo, port }).pipe(
        Effect.as("listening"),
        Effect.catchReason("ServerError", "ListenError", (listen) => Effect.succeed(listen.code))
      )
      assert.strictEqual(code, "EADDRINUSE")
    }).pipe(Effect.scoped, Effect.provide(captureLogs().layer)))
})

describe("TLS settings given later", () => {
  it.live("reloadTls with settings the schema refuses fails with TlsConfigError naming the option; the server goes on", () =>
    Effect.gen(function*() {
      const server = yield* serve(echo, { tls: serverA })
      const error = yield* Effect.flip(server.reloadTls({ ...serverA, ticketKeys: new Uint8Array(3) }))
      assert.strictEqual(error._tag, "TlsConfigError")
      assert.strictEqual(error.message, "TLS settings: option tls.ticketKeys: expected 48 bytes, got (hidden)")
      assert.strictEqual((yield* server.reloadTls()).subject.includes("localhost"), true)
    }).pipe(Effect.scoped, Effect.provide(captureLogs().layer)))
})

describe("the connection constructors", () => {
  it.effect("an invalid option is a defect carrying the InvalidOption (their options are the program's own)", () =>
    Effect.gen(function*() {
      for (
        const make of [
          Effect.asVoid(TestConnection.make({ writeTimeout: 0 })),
          Effect.asVoid(Connection.stdio({ writeTimeout: 0 }))
        ]
      ) {
        const exit = yield* Effect.exit(Effect.scoped(make))
        assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause))
        const defect = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
        assert.instanceOf(defect, Options.InvalidOption)
        assert.strictEqual((defect as Options.InvalidOption).option, "writeTimeout")
      }
    }))
})

describe("the protocols' options", () => {
  it("an invalid Redis option throws the InvalidOption naming the field and the value", () => {
    for (
      const [options, option, message] of [
        [{ maxQueuedCommands: 0 }, "maxQueuedCommands", "option maxQueuedCommands: expected a positive integer, got 0"],
        [{ maxmemory: -1 }, "maxmemory", "option maxmemory: expected 0 (no limit) or a positive integer, got -1"],
        [{ normalOutputLimit: { hard: 1, soft: 1.5, softSeconds: 1 } }, "normalOutputLimit.soft", undefined]
      ] as const
    ) {
      const error = (() => {
        try {
          Redis.handler(options)
        } catch (thrown) {
          return thrown
        }
      })()
      assert.instanceOf(error, Options.InvalidOption)
      assert.strictEqual((error as Options.InvalidOption).option, option)
      if (message !== undefined) assert.strictEqual((error as Options.InvalidOption).message, message)
    }
    assert.doesNotThrow(() => Redis.handler({ maxmemory: 0, normalOutputLimit: { hard: 0, soft: 0, softSeconds: 0 } }))
  })
})
