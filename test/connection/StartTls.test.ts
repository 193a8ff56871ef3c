/**
 * STARTTLS: `conn.startTls()` upgrades a plaintext connection in place. Over
 * real sockets with `examples/smtpish.ts` and Node's own `tls` client: the
 * go-ahead reaches the client in plaintext, then lines go over TLS;
 * plaintext a client pipelined after `STARTTLS`, or sent after the go-ahead
 * in place of its handshake, is never read as if it had come over TLS; an
 * untrusted client certificate and a silent client are refused within the
 * handshake timeout. In memory: a handler can answer a refusal where TLS is
 * unavailable; and early input is refused wherever it waits (the line
 * buffer, the driver's queued chunks, the stream's own buffer).
 */
import { Buffer } from "node:buffer"
import * as Net from "node:net"
import { Readable, Writable } from "node:stream"
import * as NodeTls from "node:tls"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import smtpish from "../../examples/smtpish.ts"
import * as Internal from "../../src/internal/io/connection.ts"
import * as Limits from "../../src/internal/io/limits.ts"
import type { Transport as Endpoint } from "../../src/internal/io/transport.ts"
import type { Connection } from "../../src/services/Connection.ts"
import * as TestConnection from "../../src/testing/TestConnection.ts"
import { connect, type TestClient } from "../fixtures/client.ts"
import { closuresReach, freshRegistry } from "../fixtures/metrics.ts"
import { captureLogs, serve } from "../fixtures/server.ts"
import { connectTlsTo, file, pem, serverA } from "../fixtures/tls.ts"

const within = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.timeout(effect, Duration.seconds(10))

/** smtpish on a plaintext listener whose handlers may upgrade with certificate A. */
const serveSmtpish = (tls = serverA) => serve(smtpish, { tls, tlsMode: "starttls", lineEnding: "\r\n" })

const greeting = "220 smtpish ready\r\n"
const plainEhlo = "250-smtpish\r\n250-STARTTLS\r\n250 plaintext\r\n"
const goAhead = "220 2.0.0 Ready to start TLS\r\n"

/** Connects and says EHLO in plaintext; returns the client once STARTTLS was offered. */
const hello = (port: number) =>
  Effect.gen(function*() {
    const client = yield* connect(port)
    yield* client.write("EHLO me\r\n")
    assert.strictEqual(yield* within(client.readUntil("250 plaintext\r\n")), greeting + plainEhlo)
    return client
  })

/** The client side of STARTTLS: TLS over the client's socket, after the go-ahead. */
const upgrade = (client: TestClient, options?: NodeTls.ConnectionOptions) =>
  connectTlsTo({ socket: client.socket, ...options })

/** Upgrades while a writer fiber writes a notice the client must read over TLS. */
const noticeDuringHandshake = (conn: Connection) =>
  Effect.gen(function*() {
    yield* conn.readLine
    // Written while the client is still to start its handshake.
    yield* Effect.forkChild(Effect.sleep("20 millis").pipe(Effect.andThen(conn.writeLine("notice")), Effect.andThen(conn.flush)))
    yield* conn.startTls({ reply: "go" })
    yield* conn.writeLine(`echo ${yield* conn.readLine}`)
  })

/** Tries startTls with no settings anywhere, then with settings of its own. */
const ownSettings = (conn: Connection) =>
  Effect.gen(function*() {
    const first = yield* conn.startTls({ reply: "no settings?" }).pipe(
      Effect.map(() => "upgraded"),
      Effect.catchTag("TlsUnavailable", (error) => Effect.succeed(error.reason))
    )
    yield* conn.writeLine(first)
    const info = yield* conn.startTls({ reply: "go", tls: { cert: pem("server.crt"), key: pem("server.key") } })
    yield* conn.writeLine(`${info.protocol} ${yield* conn.readLine}`)
  })

describe("STARTTLS over sockets", () => {
  it.live("EHLO, STARTTLS: the go-ahead comes in plaintext, then lines are echoed over TLS", () =>
    Effect.gen(function*() {
      const { port } = yield* serveSmtpish()
      const client = yield* hello(port)
      yield* client.write("STARTTLS\r\n")
      assert.strictEqual(yield* within(client.readUntil(goAhead)), greeting + plainEhlo + goAhead)
      const secure = yield* within(upgrade(client))
      assert.strictEqual(secure.tls.getProtocol(), "TLSv1.3")
      yield* secure.write("EHLO again\r\n")
      assert.strictEqual(yield* within(secure.readUntil("\r\n250 TLSv1.3\r\n")), "250-smtpish\r\n250 TLSv1.3\r\n")
      yield* secure.write("hello over tls\r\nSTARTTLS\r\nQUIT\r\n")
      const { data, gotEnd } = yield* within(secure.closed)
      assert.strictEqual(
        data.toString(),
        "250-smtpish\r\n250 TLSv1.3\r\n250 hello over tls\r\n503 5.5.1 TLS already active\r\n221 bye\r\n"
      )
      assert.isTrue(gotEnd)
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("STARTTLS and NOOP in one packet: refused before the go-ahead, NOOP never answered, counted and logged", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const { port } = yield* serveSmtpish()
      const client = yield* hello(port)
      yield* client.write("STARTTLS\r\nNOOP\r\n")
      const { data } = yield* within(client.closed)
      assert.strictEqual(data.toString(), greeting + plainEhlo, "no go-ahead, no answer to NOOP")
      yield* within(closuresReach("tls-handshake", 1))
      const closed = logs.lines.find((line) => line.message.startsWith("connection closed"))
      assert.strictEqual(closed?.level, "Warn")
      assert.include(closed?.message, "tls-handshake")
      assert.include(closed?.message, "refused 6 plaintext bytes received before the TLS handshake")
    }).pipe(freshRegistry, Effect.provide(logs.layer))
  })

  it.live("plaintext sent after the go-ahead instead of a handshake goes to TLS, which fails: it is never answered", () =>
    Effect.gen(function*() {
      const { port } = yield* serveSmtpish()
      const client = yield* hello(port)
      yield* client.write("STARTTLS\r\n")
      yield* within(client.readUntil(goAhead))
      yield* client.write("NOOP\r\n")
      const { data } = yield* within(client.closed)
      assert.strictEqual(data.toString(), greeting + plainEhlo + goAhead)
      yield* within(closuresReach("tls-handshake", 1))
    }).pipe(freshRegistry, Effect.provide(captureLogs().layer)))

  it.live("clientAuth require: a trusted client certificate upgrades; a rogue one is refused and the connection closed", () =>
    Effect.gen(function*() {
      const { port } = yield* serveSmtpish({ ...serverA, ca: file("ca.crt"), clientAuth: "require" })
      const trusted = yield* hello(port)
      yield* trusted.write("STARTTLS\r\n")
      yield* within(trusted.readUntil(goAhead))
      const secure = yield* within(upgrade(trusted, { key: pem("client.key"), cert: pem("client.crt") }))
      yield* secure.write("ping\r\n")
      assert.strictEqual(yield* within(secure.readUntil("250 ping\r\n")), "250 ping\r\n")

      const rogue = yield* hello(port)
      yield* rogue.write("STARTTLS\r\n")
      yield* within(rogue.readUntil(goAhead))
      // TLS 1.3: the client's side completes before the server checks its certificate.
      const refused = yield* within(upgrade(rogue, { key: pem("rogue-client.key"), cert: pem("rogue-client.crt") }))
      yield* refused.write("ping\r\n")
      const { data } = yield* within(refused.closed)
      assert.strictEqual(data.length, 0, "nothing answered over TLS")
      yield* within(closuresReach("tls-handshake", 1))
    }).pipe(freshRegistry, Effect.provide(captureLogs().layer)))

  it.live("a client that says STARTTLS and then nothing is closed at the handshake timeout", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const { port } = yield* serveSmtpish({ ...serverA, handshakeTimeout: "300 millis" })
      const client = yield* hello(port)
      yield* client.write("STARTTLS\r\n")
      yield* within(client.readUntil(goAhead))
      const started = Date.now()
      yield* within(client.closed)
      assert.isAtLeast(Date.now() - started, 200, "not before the deadline")
      yield* within(closuresReach("tls-handshake", 1))
      const closed = logs.lines.find((line) => line.message.startsWith("connection closed"))
      assert.include(closed?.message, "TLS handshake failed: not complete within 300 ms", "closed by the handshake deadline")
    }).pipe(freshRegistry, Effect.provide(logs.layer))
  })

  it.live("output another fiber writes during the handshake is held, then sent over TLS", () =>
    Effect.gen(function*() {
      const { port } = yield* serve(noticeDuringHandshake, { tls: serverA, tlsMode: "starttls" })
      const client = yield* connect(port)
      yield* client.write("STARTTLS\n")
      yield* within(client.readUntil("go\n"))
      yield* Effect.sleep("150 millis")
      const secure = yield* within(upgrade(client))
      yield* secure.write("x\n")
      assert.strictEqual((yield* within(secure.closed)).data.toString(), "notice\necho x\n")
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("a server without TLS settings: startTls with settings of its own upgrades; without, TlsUnavailable", () =>
    Effect.gen(function*() {
      const { port } = yield* serve(ownSettings)
      const client = yield* connect(port)
      assert.strictEqual(yield* within(client.readUntil("go\n")), "not-configured\ngo\n")
      const secure = yield* within(upgrade(client))
      yield* secure.write("secret\n")
      assert.strictEqual((yield* within(secure.closed)).data.toString(), "TLSv1.3 secret\n")
    }).pipe(Effect.provide(captureLogs().layer)))
})

describe("STARTTLS without a socket", () => {
  it.effect("in memory (and over stdio) the handler answers 454 and goes on", () =>
    Effect.gen(function*() {
      const { output } = yield* TestConnection.run(smtpish, ["EHLO me\r\n", "STARTTLS\r\n", "still plain\r\n"])
      assert.strictEqual(output, "220 smtpish ready\n250-smtpish\n250-STARTTLS\n250 plaintext\n454 4.7.0 TLS not available\n250 still plain\n")
    }))
})

/**
 * An in-memory endpoint with a stand-in socket, so `startTls` gets as far
 * as its check for early input (which comes before anything touches the
 * socket). Input is a byte stream, so `readableLength` counts bytes.
 */
const standIn = () => {
  const input = new Readable({ read() {} })
  const written: Array<Buffer> = []
  const output = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      written.push(chunk)
      callback()
    }
  })
  const state = { destroyed: false, written }
  const endpoint: Endpoint = {
    input,
    output,
    peer: "memory",
    remoteAddress: undefined,
    socket: new Net.Socket(),
    close: () => Effect.callback<void>((resume) => { output.end(() => resume(Effect.void)) }),
    destroy: () => {
      state.destroyed = true
      input.destroy()
      output.destroy()
    }
  }
  return { endpoint, input, state }
}

/** Lets stream events queued so far run. */
const turn = Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))

describe("plaintext before the handshake, wherever it waits", () => {
  const cases: ReadonlyArray<readonly [string, (input: Readable) => Effect.Effect<void>]> = [
    ["in the line buffer (one chunk)", (input) => Effect.sync(() => input.push("STARTTLS\r\nNOOP\r\n"))],
    ["in the driver's queued chunks", (input) =>
      Effect.sync(() => input.push("STARTTLS\r\n")).pipe(Effect.andThen(turn), Effect.andThen(Effect.sync(() => input.push("NOOP\r\n"))))],
    ["in the stream's own buffer", (input) =>
      Effect.sync(() => input.push("STARTTLS\r\n")).pipe(
        Effect.andThen(turn),
        Effect.andThen(Effect.sync(() => {
          input.pause()
          input.push("NOOP\r\n")
        }))
      )]
  ]
  for (const [where, arrange] of cases) {
    it.live(`${where}: refused with PlaintextBeforeTls, nothing written, the connection closed`, () =>
      Effect.gen(function*() {
        const { endpoint, input, state } = standIn()
        const conn = yield* Internal.make(endpoint, Limits.resolve())
        yield* arrange(input)
        assert.strictEqual(yield* conn.readLine, "STARTTLS")
        // The second chunk, if any, arrives while the handler works.
        yield* turn
        const error = yield* Effect.flip(
          conn.startTls({ reply: "220 go ahead", tls: { ...serverA, handshakeTimeout: "200 millis" } })
        )
        assert.strictEqual(error._tag, "PlaintextBeforeTls")
        assert.strictEqual(error._tag === "PlaintextBeforeTls" ? error.bytes : -1, 6)
        assert.isTrue(state.destroyed)
        assert.strictEqual(state.written.length, 0, "the go-ahead was never sent")
        const after = yield* Effect.flip(conn.readLine)
        assert.strictEqual(after._tag, "ConnectionError")
      }).pipe(Effect.scoped))
  }
})
