/**
 * `LineClient`: connections you open, over real loopback sockets. Against
 * fiberline's own servers over TCP, TLS (the test CA, a client certificate)
 * and a Unix socket, the client's `Connection` reads and writes as a
 * handler's does, closes gracefully with its scope, upgrades with STARTTLS
 * (and refuses plaintext that came after the go-ahead), and serves an app as
 * a Layer. Against raw `node:net` servers, every failure is typed and
 * nothing hangs or leaks: a refused port, a certificate from another CA or
 * for another name, a server that never answers (idle timeout, connect
 * timeout on the TestClock), a reset in the middle of a line, an
 * interrupted connect.
 */
import { Buffer } from "node:buffer"
import * as Net from "node:net"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { TestClock } from "effect/testing"
import smtpish from "../../examples/smtpish.ts"
import { echo } from "../../src/handlers/echo/Echo.ts"
import * as Dial from "../../src/internal/io/dial.ts"
import * as Observers from "../../src/internal/observers.ts"
import { Connection } from "../../src/services/Connection.ts"
import * as LineClient from "../../src/services/LineClient.ts"
import * as LineServer from "../../src/services/LineServer.ts"
import { tempDir } from "../fixtures/files.ts"
import { captureLogs, serve, waitForActive } from "../fixtures/server.ts"
import { commonName, file, serverA } from "../fixtures/tls.ts"

const within = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.timeout(effect, Duration.seconds(10))

const quiet = captureLogs().layer

/** Trusts the test CA. */
const trusting = { ca: file("ca.crt") }

/** Lets real socket I/O happen (a connect, a close in flight) while the TestClock stands still. */
const settle = Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 100)))

/** TCP sockets open in this process (client and server side): none may be left behind. */
const openSockets = () => process.getActiveResourcesInfo().filter((name) => name === "TCPSocketWrap").length

/**
 * A raw TCP server on 127.0.0.1 that runs `onSocket` on each accepted
 * socket; by default it reads and drops what it gets, and never answers.
 */
const rawServer = (onSocket: (socket: Net.Socket) => void = () => {}) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly server: Net.Server; readonly sockets: Array<Net.Socket>; readonly observers: Observers.Observers }>(
      (resume) => {
        const sockets: Array<Net.Socket> = []
        const observers = Observers.make()
        const server = Net.createServer((socket) => {
          socket.on("error", () => {})
          socket.on("close", observers.notify)
          sockets.push(socket)
          observers.notify()
          // Flowing: a client's FIN is seen, and closes the socket.
          socket.resume()
          onSocket(socket)
        })
        server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, sockets, observers })))
      }
    ),
    ({ server, sockets }) =>
      Effect.callback<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ observers, server, sockets }) => ({
    port: (server.address() as Net.AddressInfo).port,
    /** Waits for the `n`th accepted socket (from 1). */
    accepted: (n: number) => observers.waitFor(() => sockets[n - 1]),
    /** Waits until every accepted socket is closed. */
    allClosed: observers.waitFor(() => (sockets.every((socket) => socket.closed) ? true : undefined))
  })))

/** A port nothing listens on: one a listener just gave back. */
const closedPort = Effect.promise(() =>
  new Promise<number>((resolve) => {
    const server = Net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })
)

/** The reason of a connect that must fail with a `ConnectError`. */
const connectFailure = (options: LineClient.LineClientOptions) =>
  Effect.flip(LineClient.connect(options)).pipe(
    Effect.map((error) => (error._tag === "ConnectError" ? error : assert.fail(`a ConnectError, got ${error.message}`)))
  )

/** Answers a STARTTLS with the go-ahead and a line a man in the middle appended, in the same segment. */
const injectingGoAhead = (conn: Connection) =>
  Effect.gen(function*() {
    yield* conn.readLine
    yield* conn.write("220 go ahead\r\nINJECTED\r\n")
    yield* conn.readLine
  })

/** A system error with `code`, as Node reports them. */
const systemError = (code: string) => Object.assign(new Error(code), { code })

describe("LineClient against fiberline's servers", () => {
  it.live("TCP: lines and blocks both ways, as a handler reads; closing the scope closes gracefully", () =>
    Effect.gen(function*() {
      const serverSaw = yield* Deferred.make<string>()
      const handler = (conn: Connection) =>
        Effect.gen(function*() {
          yield* conn.writeLine((yield* conn.readLine).toUpperCase())
          yield* conn.writeLine(`got ${(yield* conn.readExactly(3)).toString()}`)
          yield* conn.readLine
        }).pipe(Effect.catchTag("EndOfInput", (error) => Deferred.succeed(serverSaw, error._tag)))
      const { port } = yield* serve(handler)
      yield* Effect.scoped(Effect.gen(function*() {
        const conn = yield* LineClient.connect({ port })
        assert.strictEqual(conn.peer, `127.0.0.1:${port}`)
        assert.deepStrictEqual(conn.remoteAddress, { family: "IPv4", host: "127.0.0.1", port })
        assert.strictEqual(conn.tls, undefined)
        yield* conn.writeLine("hello")
        assert.strictEqual(yield* within(conn.readLine), "HELLO")
        yield* conn.write(Buffer.from("abc"))
        assert.strictEqual(yield* within(conn.readLine), "got abc")
      }))
      // The client's FIN, once its scope closed: a clean end of input.
      assert.strictEqual(yield* within(Deferred.await(serverSaw)), "EndOfInput")
    }).pipe(Effect.provide(quiet)))

  it.live("a Unix socket: the peer is the socket's path", () =>
    Effect.gen(function*() {
      const path = Path.join(yield* tempDir("client"), "echo.sock")
      yield* LineServer.make({ handler: echo, path })
      const conn = yield* LineClient.connect({ path, lineEnding: "\r\n" })
      assert.strictEqual(conn.peer, path)
      yield* conn.writeLine("over a Unix socket")
      assert.strictEqual(yield* within(conn.readLine), "over a Unix socket")
    }).pipe(Effect.provide(quiet)))

  it.live("TLS with the test CA: verified by name, a client certificate for mutual TLS, ALPN; both sides see what was negotiated", () =>
    Effect.gen(function*() {
      const handler = Effect.gen(function*() {
        const conn = yield* Connection
        yield* conn.writeLine(`client=${commonName(conn.tls?.peerCertificate?.subject)} authorized=${conn.tls?.authorized}`)
        yield* echo
      })
      const { port } = yield* serve(handler, {
        tls: { ...serverA, ca: file("ca.crt"), clientAuth: "require", alpnProtocols: ["fiberline"] }
      })
      const conn = yield* LineClient.connect({
        host: "localhost",
        port,
        tls: { ...trusting, cert: file("client.crt"), key: file("client.key"), alpnProtocols: ["fiberline"] }
      })
      assert.strictEqual(yield* within(conn.readLine), "client=fiberline test client authorized=true")
      yield* conn.writeLine("over TLS")
      assert.strictEqual(yield* within(conn.readLine), "over TLS")
      const tls = conn.tls!
      assert.deepStrictEqual([tls.protocol, tls.alpnProtocol, tls.servername, tls.authorized], ["TLSv1.3", "fiberline", "localhost", true])
      assert.strictEqual(commonName(tls.peerCertificate?.subject), "localhost", "the server's certificate")
    }).pipe(Effect.provide(quiet)))

  it.live("STARTTLS as the client (examples/smtpish.ts): plaintext until the go-ahead, then TLS with the client's settings", () =>
    Effect.gen(function*() {
      const { port } = yield* serve(smtpish, { tls: serverA, tlsMode: "starttls", lineEnding: "\r\n" })
      const conn = yield* LineClient.connect({ port, lineEnding: "\r\n", tls: trusting, tlsMode: "starttls" })
      const lines = (n: number) => within(Effect.forEach(Array.from({ length: n }), () => conn.readLine))
      assert.strictEqual(yield* within(conn.readLine), "220 smtpish ready")
      assert.strictEqual(conn.tls, undefined, "starttls mode: plaintext first")
      yield* conn.writeLine("EHLO me")
      assert.deepStrictEqual(yield* lines(3), ["250-smtpish", "250-STARTTLS", "250 plaintext"])
      yield* conn.writeLine("STARTTLS")
      assert.strictEqual(yield* within(conn.readLine), "220 2.0.0 Ready to start TLS")
      const info = yield* within(conn.startTls())
      assert.deepStrictEqual([info.protocol, info.authorized, conn.tls?.protocol], ["TLSv1.3", true, "TLSv1.3"])
      yield* conn.writeLine("EHLO again")
      assert.deepStrictEqual(yield* lines(2), ["250-smtpish", "250 TLSv1.3"])
      yield* conn.writeLine("QUIT")
      assert.strictEqual(yield* within(conn.readLine), "221 bye")
      assert.strictEqual((yield* within(Effect.flip(conn.readLine)))._tag, "EndOfInput")
      // A client has no go-ahead to send: a reply is a defect.
      const exit = yield* Effect.exit(conn.startTls({ reply: "go" }))
      assert.isTrue(Exit.hasDies(exit))
    }).pipe(Effect.provide(quiet)))

  it.live("client STARTTLS refuses plaintext that came after the server's go-ahead (PlaintextBeforeTls), and closes", () =>
    Effect.gen(function*() {
      const { port } = yield* serve(injectingGoAhead)
      const conn = yield* LineClient.connect({ port, tls: trusting, tlsMode: "starttls" })
      yield* conn.writeLine("STARTTLS")
      assert.strictEqual(yield* within(conn.readLine), "220 go ahead")
      const refused = yield* within(Effect.flip(conn.startTls()))
      assert.deepStrictEqual([refused._tag, refused._tag === "PlaintextBeforeTls" && refused.bytes], ["PlaintextBeforeTls", 10])
      const after = yield* within(Effect.flip(conn.readLine))
      assert.strictEqual(after._tag, "ConnectionError", "the connection is closed; the injected line is never read")
    }).pipe(Effect.provide(quiet)))

  it.live("LineClient.layer: one connection, under the app's own tag, closed with the layer", () =>
    Effect.gen(function*() {
      class Upstream extends Context.Service<Upstream, Connection>()("test/Upstream") {}
      const server = yield* serve(echo)
      const program = Effect.gen(function*() {
        const upstream = yield* Upstream
        yield* upstream.writeLine("through the layer")
        return yield* within(upstream.readLine)
      })
      const reply = yield* program.pipe(Effect.provide(LineClient.layer(Upstream, { port: server.port })))
      assert.strictEqual(reply, "through the layer")
      // The layer's scope closed with the program: so did its connection.
      yield* waitForActive(server, 0)
    }).pipe(Effect.provide(quiet)))
})

describe("LineClient failures, each typed", () => {
  it.live("a port nobody listens on: ConnectError with the address, reason ConnectionRefused (catchReason)", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const error = yield* connectFailure({ port })
      assert.strictEqual(error.address, `127.0.0.1:${port}`)
      assert.strictEqual(error.reason._tag, "ConnectionRefused")
      assert.strictEqual(error.message, `cannot connect to 127.0.0.1:${port}: connection refused (nothing listens there)`)
      const handled = yield* LineClient.connect({ port }).pipe(
        Effect.as("connected"),
        Effect.catchReason("ConnectError", "ConnectionRefused", (reason, failed) => Effect.succeed(`${reason._tag} at ${failed.address}`))
      )
      assert.strictEqual(handled, `ConnectionRefused at 127.0.0.1:${port}`)
    }))

  it.live("a Unix socket path with no socket: ConnectFailed with ENOENT", () =>
    Effect.gen(function*() {
      const path = Path.join(yield* tempDir("client"), "none.sock")
      const error = yield* connectFailure({ path })
      assert.deepStrictEqual([error.address, error.reason._tag, error.reason._tag === "ConnectFailed" && error.reason.code], [
        path,
        "ConnectFailed",
        "ENOENT"
      ])
      assert.strictEqual(error.message, `cannot connect to ${path}: no socket at that path`)
    }))

  it.live("a server certificate from another CA, or for another name: TlsVerificationFailed with Node's code; verify: false connects", () =>
    Effect.gen(function*() {
      const server = yield* serve(echo, { tls: serverA })
      const otherCa = yield* connectFailure({ port: server.port, tls: { ca: file("other-ca.crt") } })
      assert.strictEqual(otherCa.reason._tag, "TlsVerificationFailed")
      assert.strictEqual(otherCa.reason._tag === "TlsVerificationFailed" && otherCa.reason.code, "UNABLE_TO_VERIFY_LEAF_SIGNATURE")
      const otherName = yield* connectFailure({ port: server.port, tls: { ...trusting, servername: "example.com" } })
      assert.strictEqual(otherName.reason._tag === "TlsVerificationFailed" && otherName.reason.code, "ERR_TLS_CERT_ALTNAME_INVALID")
      assert.match(otherName.message, /^cannot connect to 127\.0\.0\.1:\d+: the server's certificate did not verify: /)
      // Nothing is left open on the server's side.
      yield* waitForActive(server, 0)
      const unverified = yield* LineClient.connect({ port: server.port, tls: { ca: file("other-ca.crt"), verify: false } })
      assert.deepStrictEqual([unverified.tls?.authorized, unverified.tls?.authorizationError], [false, "UNABLE_TO_VERIFY_LEAF_SIGNATURE"])
      yield* unverified.writeLine("anyway")
      assert.strictEqual(yield* within(unverified.readLine), "anyway")
    }).pipe(Effect.provide(quiet)))

  it.live("unusable TLS settings fail with TlsConfigError naming the file; impossible options are defects", () =>
    Effect.gen(function*() {
      const missing = Path.join(yield* tempDir("client"), "missing.pem")
      const error = yield* Effect.flip(LineClient.connect({ port: 1, tls: { ca: { file: missing } } }))
      assert.deepStrictEqual([error._tag, error._tag === "TlsConfigError" && error.file], ["TlsConfigError", missing])
      for (const options of [{ port: 0 }, { host: "127.0.0.1" }, { path: "/tmp/x.sock", port: 1 }, { port: 1, tls: { cert: "x" } }]) {
        assert.isTrue(Exit.hasDies(yield* Effect.exit(LineClient.connect(options))), JSON.stringify(options))
      }
    }))

  it.effect("a server that accepts and never answers: the read fails with IdleTimeout (TestClock)", () =>
    Effect.gen(function*() {
      const server = yield* rawServer()
      const conn = yield* LineClient.connect({ port: server.port, idleTimeout: "30 seconds" })
      const read = yield* Effect.forkChild(Effect.flip(conn.readLine))
      yield* settle
      yield* TestClock.adjust("29 seconds")
      assert.isUndefined(read.pollUnsafe(), "still waiting before the timeout")
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(read)
      assert.strictEqual(error._tag, "IdleTimeout")
    }))

  it.live("a server that resets in the middle of a line: the read fails with ConnectionError, nothing hangs", () =>
    Effect.gen(function*() {
      // Once the client spoke: a reset before the connect completes fails the connect instead.
      const server = yield* rawServer((socket) => {
        socket.once("data", () => socket.write("partial li", () => socket.resetAndDestroy()))
      })
      const conn = yield* LineClient.connect({ port: server.port })
      yield* conn.writeLine("hello?")
      const error = yield* within(Effect.flip(conn.readLine))
      assert.deepStrictEqual([error._tag, error._tag === "ConnectionError" && error.code], ["ConnectionError", "ECONNRESET"])
      // Every later use fails at once too.
      assert.strictEqual((yield* within(Effect.flip(conn.writeLine("still there?").pipe(Effect.andThen(conn.flush)))))._tag, "ConnectionError")
    }))

  it.effect("connectTimeout, on the TestClock: a TLS server that never answers the hello; the socket is destroyed", () =>
    Effect.gen(function*() {
      const server = yield* rawServer()
      const attempt = yield* Effect.forkChild(connectFailure({ port: server.port, tls: trusting, connectTimeout: "5 seconds" }))
      yield* server.accepted(1)
      yield* settle
      yield* TestClock.adjust("4 seconds")
      assert.isUndefined(attempt.pollUnsafe(), "still connecting before the timeout")
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(attempt)
      assert.strictEqual(error.reason._tag, "ConnectTimeout")
      assert.strictEqual(error.message, `cannot connect to 127.0.0.1:${server.port}: not connected within 5s`)
      yield* server.allClosed
    }))

  it.effect("the TLS handshake timeout bounds a connect without connectTimeout (TestClock)", () =>
    Effect.gen(function*() {
      const server = yield* rawServer()
      const attempt = yield* Effect.forkChild(connectFailure({ port: server.port, tls: { ...trusting, handshakeTimeout: "3 seconds" } }))
      yield* server.accepted(1)
      yield* settle
      yield* TestClock.adjust("3 seconds")
      const error = yield* Fiber.join(attempt)
      assert.deepStrictEqual([error.reason._tag, error.reason._tag === "ConnectTimeout" && Duration.toMillis(error.reason.timeout)], [
        "ConnectTimeout",
        3000
      ])
      yield* server.allClosed
    }))

  it.live("an interrupted connect leaves no socket behind: during the TLS handshake, and before the TCP connect completes", () =>
    Effect.gen(function*() {
      const server = yield* rawServer()
      const before = openSockets()
      const handshaking = yield* Effect.forkChild(LineClient.connect({ port: server.port, tls: trusting }).pipe(Effect.scoped))
      yield* within(server.accepted(1))
      yield* Fiber.interrupt(handshaking)
      yield* within(server.allClosed)
      // At once: the socket is still connecting.
      const connecting = yield* Effect.forkChild(LineClient.connect({ port: server.port }).pipe(Effect.scoped), { startImmediately: true })
      yield* Fiber.interrupt(connecting)
      yield* settle
      yield* within(server.allClosed)
      assert.isAtMost(openSockets(), before, "no TCP socket is left open, on either side")
    }))

  it("what a connect error means: refused, host not found (its code), anything else with the system's code", () => {
    const target = { host: "db.example", port: 5432 }
    assert.strictEqual(Dial.reasonOf(systemError("ECONNREFUSED"), target)._tag, "ConnectionRefused")
    const notFound = Dial.reasonOf(systemError("ENOTFOUND"), target)
    assert.deepStrictEqual(notFound._tag === "HostNotFound" && [notFound.host, notFound.code, notFound.message], [
      "db.example",
      "ENOTFOUND",
      "host db.example not found (ENOTFOUND)"
    ])
    assert.strictEqual(Dial.reasonOf(systemError("EAI_AGAIN"), target)._tag, "HostNotFound")
    // Several addresses tried (IPv6 and IPv4): Node's AggregateError.
    assert.strictEqual(Dial.reasonOf(new AggregateError([systemError("ECONNREFUSED"), systemError("ECONNREFUSED")]), target)._tag, "ConnectionRefused")
    const other = Dial.reasonOf(systemError("ENETUNREACH"), target)
    assert.deepStrictEqual(other._tag === "ConnectFailed" && [other.code, other.message], ["ENETUNREACH", "network unreachable"])
    assert.strictEqual(Dial.address({ host: "::1", port: 80 }), "[::1]:80")
  })
})
