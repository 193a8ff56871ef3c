/**
 * TLS listeners over real loopback sockets, with Node's own `tls` client and
 * the certificates in `test/fixtures/tls/`: byte-exact echo over TLS with
 * what was negotiated visible to the handler (protocol, ALPN, the client's
 * verified certificate); refusals before the handler runs (plaintext, no
 * common ALPN protocol, a missing or untrusted client certificate), counted
 * as `tls-handshake` and logged; the handshake deadline that frees a slot;
 * certificates reloaded without a restart; sessions resumed across servers
 * that share ticket keys; and a PROXY header in front of the handshake.
 */
import { Buffer } from "node:buffer"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import { Duplex } from "node:stream"
import * as NodeTls from "node:tls"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Scope from "effect/Scope"
import { TestClock } from "effect/testing"
import { echo } from "../../src/handlers/echo/Echo.ts"
import { type Connection, fromSocket, runHandler } from "../../src/services/Connection.ts"
import * as LineServer from "../../src/services/LineServer.ts"
import * as ServerMetrics from "../../src/ServerMetrics.ts"
import * as Tls from "../../src/Tls.ts"
import { connect, connectSocket } from "../fixtures/client.ts"
import { tempDir } from "../fixtures/files.ts"
import { closures, closuresReach, freshRegistry } from "../fixtures/metrics.ts"
import { captureLogs, serve, waitForActive } from "../fixtures/server.ts"
import {
  attemptTls,
  commonName,
  connectTls,
  connectTlsTo,
  file,
  firstSession,
  pem,
  serverA,
  type TlsClient
} from "../fixtures/tls.ts"

const within = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.timeout(effect, Duration.seconds(10))

/** One line saying what the handler sees of TLS. */
const summary = (conn: Connection): string => {
  const tls = conn.tls
  if (tls === undefined) return "plaintext"
  return [
    "tls",
    tls.protocol,
    `alpn=${tls.alpnProtocol ?? "-"}`,
    `authorized=${tls.authorized}`,
    `error=${tls.authorizationError ?? "-"}`,
    `client=${commonName(tls.peerCertificate?.subject) ?? "-"}`,
    `resumed=${tls.resumed}`
  ].join(" ")
}

/** Says what it sees of TLS, then echoes; counts the connections it ran for. */
const reporting = () => {
  const ran = { count: 0 }
  const handler = (conn: Connection) =>
    Effect.sync(() => ran.count++).pipe(Effect.andThen(conn.writeLine(summary(conn))), Effect.andThen(echo))
  return { ran, handler }
}

/** The first line a TLS client receives. */
const firstLine = (client: TlsClient) => Effect.map(within(client.readUntil("\n")), (text) => text.slice(0, text.indexOf("\n")))

/** The common name of the certificate a TLS client was served. */
const servedName = (client: TlsClient) => commonName(client.tls.getPeerX509Certificate()?.subject)

describe("TLS listener", () => {
  it.live("echo is byte-exact over TLS; the handler sees TLS 1.3 and the ALPN protocol chosen", () =>
    Effect.gen(function*() {
      const { handler } = reporting()
      const server = yield* serve(handler, { tls: { ...serverA, alpnProtocols: ["fiberline", "other"] } })
      const client = yield* connectTls(server.port, { ALPNProtocols: ["other"] })
      assert.strictEqual(servedName(client), "localhost")
      assert.strictEqual(client.tls.alpnProtocol, "other")
      const sent = [Buffer.from("hello\r\n"), Buffer.from([0x00, 0xff, 0xfe, 0x0a]), Buffer.from("tail")]
      for (const part of sent) yield* client.write(part)
      yield* client.end
      const { data, gotEnd, error } = yield* within(client.closed)
      assert.strictEqual(
        data.toString("latin1"),
        "tls TLSv1.3 alpn=other authorized=false error=- client=- resumed=false\n" + Buffer.concat(sent).toString("latin1")
      )
      assert.isTrue(gotEnd, "close_notify and FIN after the last reply")
      assert.isUndefined(error)
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("plaintext and a client with no ALPN protocol in common are closed before the handler runs, counted and logged", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const { handler, ran } = reporting()
      const server = yield* serve(handler, { tls: { ...serverA, alpnProtocols: ["fiberline"] } })
      const plaintext = yield* connect(server.port)
      yield* plaintext.write("hello\n")
      assert.strictEqual((yield* within(plaintext.closed)).data.length, 0)
      const noAlpn = yield* within(attemptTls(server.port, "hello\n", { ALPNProtocols: ["nope"] }))
      assert.isFalse(noAlpn.secured)
      assert.strictEqual(noAlpn.data, "")
      yield* within(closuresReach("tls-handshake", 2))
      assert.strictEqual(ran.count, 0)
      const refused = logs.lines.filter((line) => line.message.startsWith("connection refused"))
      // Peer-caused: the first of the burst is logged, the rest summarised.
      assert.strictEqual(refused.length, 1)
      assert.strictEqual(refused[0]?.level, "Info")
      assert.include(refused[0]?.message, "tls-handshake")
    }).pipe(freshRegistry, Effect.provide(logs.layer))
  })

  it.live("clientAuth require: a client certificate signed by the CA reaches the handler; a rogue one or none is refused", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const { handler, ran } = reporting()
      const server = yield* serve(handler, { tls: { ...serverA, ca: file("ca.crt"), clientAuth: "require" } })
      const client = yield* connectTls(server.port, { key: pem("client.key"), cert: pem("client.crt") })
      assert.strictEqual(
        yield* firstLine(client),
        "tls TLSv1.3 alpn=- authorized=true error=- client=fiberline test client resumed=false"
      )
      const rogue = yield* within(attemptTls(server.port, "hello\n", { key: pem("rogue-client.key"), cert: pem("rogue-client.crt") }))
      assert.strictEqual(rogue.data, "", "nothing answered the rogue client")
      const anonymous = yield* within(attemptTls(server.port, "hello\n"))
      assert.strictEqual(anonymous.data, "")
      yield* within(closuresReach("tls-handshake", 2))
      assert.strictEqual(ran.count, 1, "the handler ran for the trusted client only")
      const refused = logs.lines.find((line) => line.message.startsWith("connection refused"))
      assert.include(refused?.message, "client certificate rejected: UNABLE_TO_VERIFY_LEAF_SIGNATURE")
    }).pipe(freshRegistry, Effect.provide(logs.layer))
  })

  it.live("clientAuth request: clients without a trusted certificate are served, and the handler sees why they are not authorized", () =>
    Effect.gen(function*() {
      const { handler } = reporting()
      const server = yield* serve(handler, { tls: { ...serverA, ca: file("ca.crt"), clientAuth: "request" } })
      const anonymous = yield* connectTls(server.port)
      assert.strictEqual(yield* firstLine(anonymous), "tls TLSv1.3 alpn=- authorized=false error=UNABLE_TO_GET_ISSUER_CERT client=- resumed=false")
      const rogue = yield* connectTls(server.port, { key: pem("rogue-client.key"), cert: pem("rogue-client.crt") })
      assert.strictEqual(
        yield* firstLine(rogue),
        "tls TLSv1.3 alpn=- authorized=false error=UNABLE_TO_VERIFY_LEAF_SIGNATURE client=fiberline rogue client resumed=false"
      )
      const trusted = yield* connectTls(server.port, { key: pem("client.key"), cert: pem("client.crt") })
      assert.include(yield* firstLine(trusted), "authorized=true error=- client=fiberline test client")
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("SNI: a client asking for a name gets that name's certificate, others the default", () =>
    Effect.gen(function*() {
      const server = yield* serve(echo, {
        tls: { ...serverA, sni: { "*.localhost": { cert: file("server-b.crt"), key: file("server-b.key") } } }
      })
      assert.strictEqual(servedName(yield* connectTls(server.port, { servername: "sni.localhost" })), "fiberline test server B")
      assert.strictEqual(servedName(yield* connectTls(server.port)), "localhost")
    }).pipe(Effect.provide(captureLogs().layer)))
})

/** Says what it sees of TLS and what a STARTTLS would do, then echoes. */
const alreadyEncrypted = (conn: Connection) =>
  Effect.gen(function*() {
    const again = yield* conn.startTls({ reply: "never sent" }).pipe(
      Effect.map(() => "upgraded"),
      Effect.catchTag("TlsUnavailable", (error) => Effect.succeed(error.reason))
    )
    yield* conn.writeLine(`${summary(conn)} starttls=${again}`)
    yield* echo
  })

describe("TLS elsewhere", () => {
  it.live("over a Unix socket", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("tls")
      const path = Path.join(dir, "tls.sock")
      yield* LineServer.make({ handler: alreadyEncrypted, path, tls: serverA })
      const client = yield* connectTlsTo({ path })
      yield* client.write("unix\n")
      yield* client.end
      assert.strictEqual(
        (yield* within(client.closed)).data.toString(),
        "tls TLSv1.3 alpn=- authorized=false error=- client=- resumed=false starttls=already-tls\nunix\n"
      )
    }).pipe(Effect.scoped, Effect.provide(captureLogs().layer)))

  it.live("Connection.fromSocket over a TLS socket of the app's own server: conn.tls tells, startTls says already-tls", () =>
    Effect.gen(function*() {
      const server = NodeTls.createServer({ key: pem("server.key"), cert: pem("server.crt"), allowHalfOpen: true }, (socket) => {
        Effect.runFork(Effect.scoped(Effect.flatMap(fromSocket(socket), (conn) => runHandler(alreadyEncrypted, conn))))
      })
      yield* Effect.acquireRelease(
        Effect.callback<void>((resume) => {
          server.listen(0, "127.0.0.1", () => resume(Effect.void))
        }),
        () => Effect.sync(() => server.close())
      )
      const client = yield* connectTls((server.address() as Net.AddressInfo).port)
      yield* client.write("own\n")
      yield* client.end
      assert.strictEqual(
        (yield* within(client.closed)).data.toString(),
        "tls TLSv1.3 alpn=- authorized=false error=- client=- resumed=false starttls=already-tls\nown\n"
      )
    }).pipe(Effect.scoped))
})

describe("TLS handshake deadline", () => {
  it.live("a client that sends nothing holds the only slot until the handshake timeout, no longer; closed, counted, logged", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const { handler } = reporting()
      const server = yield* serve(handler, {
        tls: { ...serverA, handshakeTimeout: "300 millis" },
        maxConnections: 1,
        whenFull: "queue"
      })
      const silent = yield* connect(server.port)
      const started = Date.now()
      // Queued behind the silent client, whose slot is held from accept.
      const next = yield* within(connectTls(server.port))
      const waited = Date.now() - started
      assert.include(yield* firstLine(next), "tls TLSv1.3")
      assert.isAtLeast(waited, 250, "the silent client held the slot until its deadline")
      const closed = yield* within(silent.closed)
      assert.strictEqual(closed.data.length, 0)
      assert.strictEqual(yield* closures("tls-handshake"), 1)
      const refused = logs.lines.find((line) => line.message.startsWith("connection refused"))
      assert.include(refused?.message, "not complete within 300 ms")
    }).pipe(freshRegistry, Effect.provide(logs.layer))
  })

  it.live("bytes trickled during the handshake do not extend its deadline: the client is closed at the timeout", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const server = yield* serve(echo, { tls: { ...serverA, handshakeTimeout: "400 millis" } })
      const trickler = yield* connect(server.port)
      // A TLS record header announcing 16 KiB of handshake, then a byte every 50 ms
      // (13 minutes to fill it): never idle long enough for an inactivity timer.
      yield* trickler.write(Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00]))
      const timer = setInterval(() => trickler.socket.writable && trickler.socket.write(Buffer.from([0x01])), 50)
      yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(timer)))
      yield* within(trickler.closed)
      yield* within(closuresReach("tls-handshake", 1))
      const refused = logs.lines.find((line) => line.message.startsWith("connection refused"))
      assert.include(refused?.message, "not complete within 400 ms", "closed by the handshake deadline, mid-trickle")
    }).pipe(Effect.scoped, freshRegistry, Effect.provide(logs.layer))
  })
})

/** Waits in real time (the TestClock stands still) until `server` serves `n` connections. */
const activeInRealTime = (server: LineServer.LineServer, n: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500 && (yield* server.stats).active !== n; i++) {
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)))
    }
    assert.strictEqual((yield* server.stats).active, n)
  })

describe("TLS handshake deadline on the Clock", () => {
  it.live("a 25-day handshake timeout (past Node's timer range): a handshake completes, and Node warns of nothing", () => {
    const warnings: Array<string> = []
    const onWarning = (warning: Error) => warnings.push(warning.name)
    return Effect.gen(function*() {
      process.on("warning", onWarning)
      yield* Effect.addFinalizer(() => Effect.sync(() => process.off("warning", onWarning)))
      const server = yield* serve(echo, { tls: { ...serverA, handshakeTimeout: "25 days" } })
      const client = yield* within(connectTls(server.port))
      yield* client.write("still here\n")
      assert.strictEqual(yield* within(client.readUntil("\n")), "still here\n")
      // A warning is emitted on the next tick.
      yield* Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))
      assert.deepStrictEqual(warnings, [])
    }).pipe(Effect.scoped, Effect.provide(captureLogs().layer))
  })

  it.effect("the deadline is Effect's Clock: a silent client is closed when 25 days have passed on the TestClock", () =>
    Effect.gen(function*() {
      // The certificates are checked against the Clock's time: today, not 1970.
      yield* TestClock.setTime(Date.now())
      const server = yield* serve(echo, { tls: { ...serverA, handshakeTimeout: "25 days" } })
      const silent = yield* connect(server.port)
      yield* activeInRealTime(server, 1)
      yield* TestClock.adjust("24 days")
      assert.isFalse(silent.socket.destroyed, "open before its deadline")
      yield* TestClock.adjust("1 day")
      yield* activeInRealTime(server, 0)
      const closed = yield* silent.closed
      assert.strictEqual(closed.data.length, 0)
    }).pipe(Effect.provide(captureLogs().layer)))
})

describe("TLS handshakes and shutdown", () => {
  it.live("a client that half-closes in the middle of its handshake is closed at once, not at the deadline", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const server = yield* serve(echo, { tls: { ...serverA, handshakeTimeout: "30 seconds" } })
      const client = yield* connect(server.port)
      yield* client.write(Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00, 0x01]))
      yield* client.end
      yield* within(client.closed)
      yield* within(closuresReach("tls-handshake", 1))
      // The handshake failed because the peer hung up, not because its deadline passed.
      const refused = logs.lines.find((line) => line.message.startsWith("connection refused"))
      assert.strictEqual(refused?.message, `connection refused {"reason":"tls-handshake","error":"socket hang up"}`)
    }).pipe(freshRegistry, Effect.provide(logs.layer))
  })

  it.live("shutdown closes connections still in their handshake at once, counted as shutdown", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const scope = yield* Scope.make()
      const server = yield* serve(echo, { tls: { ...serverA, handshakeTimeout: "30 seconds" }, shutdownTimeout: "30 seconds" }).pipe(
        Scope.provide(scope)
      )
      const silent = yield* connect(server.port)
      // Accepted and handshaking (the slot is taken) before the shutdown starts.
      yield* waitForActive(server, 1)
      yield* within(Scope.close(scope, Exit.void))
      yield* within(silent.closed)
      assert.deepInclude(yield* server.stats, { drained: 1, forced: 0 })
      assert.strictEqual(yield* closures("tls-handshake"), 0)
      assert.strictEqual((yield* Metric.value(ServerMetrics.connectionsClosed.shutdown)).count, 1)
      // Closed when the shutdown began: a handshake left to its deadline would say "not complete within".
      const refused = logs.lines.find((line) => line.message.startsWith("connection refused"))
      assert.strictEqual(refused?.message, `connection refused {"reason":"shutdown","error":"socket hang up"}`)
    }).pipe(freshRegistry, Effect.provide(logs.layer))
  })
})

describe("TLS reload", () => {
  it.live("reloadTls serves a renewed certificate to new clients; open connections keep working; a bad one keeps the old", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("tls")
      const certPath = Path.join(dir, "cert.pem")
      const keyPath = Path.join(dir, "key.pem")
      const install = (cert: string, key: string) =>
        Effect.sync(() => {
          Fs.writeFileSync(certPath, pem(cert))
          Fs.writeFileSync(keyPath, pem(key))
        })
      yield* install("server.crt", "server.key")
      const server = yield* serve(echo, { tls: { cert: { file: certPath }, key: { file: keyPath } } })
      const old = yield* connectTls(server.port)
      assert.strictEqual(servedName(old), "localhost")

      yield* install("server-b.crt", "server-b.key")
      const served = yield* server.reloadTls()
      assert.strictEqual(commonName(served.subject), "fiberline test server B")
      assert.strictEqual(servedName(yield* connectTls(server.port)), "fiberline test server B")
      yield* old.write("still here\n")
      assert.strictEqual(yield* within(old.readUntil("still here\n")), "still here\n")

      // B's certificate with A's key: refused, B stays.
      yield* install("server-b.crt", "server.key")
      const mismatch = yield* Effect.flip(server.reloadTls())
      assert.strictEqual(mismatch._tag, "TlsConfigError")
      assert.strictEqual(mismatch.file, keyPath)
      assert.include(mismatch.message, "the key does not fit the certificate")
      // An expired certificate: refused, B stays.
      yield* install("expired.crt", "expired.key")
      const expired = yield* Effect.flip(server.reloadTls())
      assert.match(expired.message, /^TLS settings: the certificate expired on .+ \(.+cert\.pem\)$/)
      Fs.rmSync(certPath)
      const missing = yield* Effect.flip(server.reloadTls())
      assert.strictEqual(missing.message, `TLS settings: cannot read the certificate (ENOENT) (${certPath})`)
      assert.strictEqual(servedName(yield* connectTls(server.port)), "fiberline test server B")

      // New settings as PEM data replace the files.
      yield* server.reloadTls({ cert: pem("server.crt"), key: pem("server.key") })
      assert.strictEqual(servedName(yield* connectTls(server.port)), "localhost")
    }).pipe(Effect.scoped, Effect.provide(captureLogs().layer)))

  it.live("unusable settings: a server does not start; a path given as data is named as the mistake; a plaintext server cannot reload", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.flip(serve(echo, { tls: { cert: { file: "/nonexistent/cert.pem" }, key: file("server.key") } }))
      assert.strictEqual(missing._tag, "ServerError")
      assert.match(missing.message, /^cannot listen on 127\.0\.0\.1:0: TLS settings: cannot read the certificate \(ENOENT\) \(\/nonexistent\/cert\.pem\)$/)
      const asData = yield* Effect.flip(serve(echo, { tls: { cert: "cert.pem", key: file("server.key") } }))
      assert.include(asData.message, "the certificate is not a PEM certificate (to read a file, pass { file: path })")
      const plaintext = yield* serve(echo)
      const error = yield* Effect.flip(plaintext.reloadTls())
      assert.strictEqual(error.message, "TLS settings: this server was started without TLS")
    }).pipe(Effect.provide(captureLogs().layer)))
})

describe("TLS sessions", () => {
  it.live("servers sharing ticket keys resume each other's sessions; a server with other keys does not", () =>
    Effect.gen(function*() {
      const { handler } = reporting()
      const ticketKeys = Tls.generateTicketKeys()
      const first = yield* serve(handler, { tls: { ...serverA, ticketKeys } })
      const second = yield* serve(handler, { tls: { ...serverA, ticketKeys } })
      const stranger = yield* serve(handler, { tls: serverA })
      const { line, session } = yield* within(firstSession(first.port))
      assert.include(line, "resumed=false")
      const resumed = yield* connectTls(second.port, { session })
      assert.isTrue(resumed.tls.isSessionReused())
      assert.include(yield* firstLine(resumed), "resumed=true")
      const full = yield* connectTls(stranger.port, { session })
      assert.isFalse(full.tls.isSessionReused())
      assert.include(yield* firstLine(full), "resumed=false")
    }).pipe(Effect.provide(captureLogs().layer)))
})

/**
 * A TLS client whose first bytes on the wire are `header` and its
 * ClientHello in one write, as a load balancer sends them.
 */
const tlsBehindProxy = (port: number, header: string) =>
  Effect.gen(function*() {
    const raw = yield* connectSocket(port)
    let first = true
    const wire = new Duplex({
      write(chunk: Buffer, _encoding, callback) {
        raw.write(first ? Buffer.concat([Buffer.from(header), chunk]) : chunk, callback)
        first = false
      },
      final(callback) {
        raw.end(callback)
      },
      read() {}
    })
    raw.on("data", (chunk: Buffer) => wire.push(chunk))
    raw.on("end", () => wire.push(null))
    raw.on("error", (error) => wire.destroy(error))
    return yield* connectTlsTo({ socket: wire })
  })

/** Says who the peer is and the TLS protocol, then echoes. */
const peerAndProtocol = (conn: Connection) => Effect.andThen(conn.writeLine(`peer ${conn.peer} ${conn.tls?.protocol}`), echo)

describe("PROXY protocol and TLS", () => {
  it.live("the PROXY header is read in plaintext before the handshake, even in the same packet as the ClientHello", () =>
    Effect.gen(function*() {
      const server = yield* serve(peerAndProtocol, { proxy: { version: "v1" }, tls: serverA })
      const client = yield* within(tlsBehindProxy(server.port, "PROXY TCP4 203.0.113.7 127.0.0.1 51234 1234\r\n"))
      yield* client.write("over tls\n")
      assert.strictEqual(yield* within(client.readUntil("over tls\n")), "peer 203.0.113.7:51234 TLSv1.3\nover tls\n")
    }).pipe(Effect.provide(captureLogs().layer)))
})
