/**
 * What a TLS server refuses, over real loopback sockets with Node's own
 * `tls` client: certificate and key files that cannot work together (a key
 * of another type, garbage, a key where the certificate belongs), at start
 * and on reload, in one line naming the file; files read without blocking
 * the process (a FIFO nobody writes to fails the reload at its time bound
 * while connections are served; a huge file at its size bound); handshake
 * failures blamed on the server while its own certificate is out of date;
 * cipher suites without forward secrecy or AEAD unless the operator widens
 * the list; and client-initiated renegotiation.
 */
import { Buffer } from "node:buffer"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { TestClock } from "effect/testing"
import { echo } from "../../src/handlers/echo/Echo.ts"
import type { Connection } from "../../src/services/Connection.ts"
import * as Tls from "../../src/Tls.ts"
import { connect } from "../fixtures/client.ts"
import { tempDir } from "../fixtures/files.ts"
import { closuresReach, freshRegistry } from "../fixtures/metrics.ts"
import { captureLogs, type LogLine, serve } from "../fixtures/server.ts"
import {
  attemptTls,
  commonName,
  connectTls,
  fifoWriter,
  file,
  makeFifo,
  pem,
  pemPath,
  serverA,
  serverRsa,
  swappable
} from "../fixtures/tls.ts"

const within = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.timeout(effect, Duration.seconds(10))

/** The server's start failure message, e.g. for settings that cannot be used. */
const startFailure = (tls: Tls.TlsOptions) => Effect.map(Effect.flip(serve(echo, { tls })), (error) => error.message)

/** What a `ServerError` says of TLS settings that cannot be used. */
const unusable = (reason: string, path: string) => `cannot listen on 127.0.0.1:0: TLS settings: ${reason} (${path})`

describe("TLS certificate and key checks", () => {
  it.live("a key of another type than its certificate is refused at start, for SNI too, and on reload, which keeps the old pair", () =>
    Effect.gen(function*() {
      assert.strictEqual(
        yield* startFailure({ cert: file("server.crt"), key: file("rsa.key") }),
        unusable("the key does not fit the certificate: the key is rsa, the certificate ec", pemPath("rsa.key"))
      )
      assert.strictEqual(
        yield* startFailure({ cert: file("rsa.crt"), key: file("server.key") }),
        unusable("the key does not fit the certificate: the key is ec, the certificate rsa", pemPath("server.key"))
      )
      assert.strictEqual(
        yield* startFailure({ ...serverA, sni: { "sni.localhost": { cert: file("server-b.crt"), key: file("rsa.key") } } }),
        unusable("the key for sni.localhost does not fit the certificate: the key is rsa, the certificate ec", pemPath("rsa.key"))
      )

      const files = swappable(yield* tempDir("tls"))
      files.install("server.crt", "server.key")
      const server = yield* serve(echo, { tls: files.options })
      for (const [cert, key] of [["server.crt", "rsa.key"], ["rsa.crt", "server.key"]] as const) {
        files.install(cert, key)
        const error = yield* Effect.flip(server.reloadTls())
        assert.strictEqual(error.file, files.key)
        assert.include(error.message, "the key does not fit the certificate: the key is")
      }
      const client = yield* connectTls(server.port)
      assert.strictEqual(commonName(client.tls.getPeerX509Certificate()?.subject), "localhost", "the old pair is served")
      yield* client.write("still served\n")
      assert.strictEqual(yield* within(client.readUntil("\n")), "still served\n")
      // The RSA pair itself is fine.
      files.install("rsa.crt", "rsa.key")
      assert.strictEqual(commonName((yield* server.reloadTls()).subject), "fiberline test RSA")
    }).pipe(Effect.scoped, Effect.provide(captureLogs().layer)))

  it.live("a file that is not the PEM it should be says so in one line naming the file", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("tls")
      const garbage = Path.join(dir, "garbage.pem")
      Fs.writeFileSync(garbage, "this is not PEM\n")
      const encrypted = Path.join(dir, "encrypted.key")
      Fs.writeFileSync(
        encrypted,
        Crypto.createPrivateKey(pem("server.key")).export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "x" })
      )
      const cases: ReadonlyArray<readonly [Tls.TlsOptions, string, string]> = [
        [{ cert: file("server.crt"), key: { file: garbage } }, "the key is not a PEM private key", garbage],
        [{ cert: { file: garbage }, key: file("server.key") }, "the certificate is not a PEM certificate", garbage],
        [
          { cert: file("server.key"), key: file("server.crt") },
          `the certificate is not a PEM certificate (found "-----BEGIN PRIVATE KEY-----")`,
          pemPath("server.key")
        ],
        [
          { cert: file("server.crt"), key: file("server.crt") },
          `the key is not a PEM private key (found "-----BEGIN CERTIFICATE-----")`,
          pemPath("server.crt")
        ],
        [{ cert: file("server.crt"), key: { file: encrypted } }, "the key is encrypted (give it unencrypted)", encrypted],
        [{ ...serverA, ca: { file: garbage } }, "the CA certificate is not a PEM certificate", garbage]
      ]
      for (const [tls, reason, path] of cases) assert.strictEqual(yield* startFailure(tls), unusable(reason, path))
    }).pipe(Effect.scoped, Effect.provide(captureLogs().layer)))
})

describe("TLS files are read without blocking the process", () => {
  it.effect("a FIFO at the key path that sends nothing fails the reload at the read timeout, naming it; connections are served meanwhile", () =>
    Effect.gen(function*() {
      // The certificate's validity is checked on Effect's Clock: now, not the TestClock's epoch.
      yield* TestClock.setTime(Date.now())
      const files = swappable(yield* tempDir("tls"))
      files.install("server.crt", "server.key")
      const server = yield* serve(echo, { tls: files.options })
      makeFifo(files.key)
      // A writer that opens the FIFO and sends nothing (for 8 s, after which
      // a blocking read would see its end: the bound of this test without the fix).
      const writer = yield* fifoWriter(files.key, "", 8_000)
      const reload = yield* Effect.forkChild(Effect.flip(server.reloadTls()))
      // The reload has the FIFO open: it is waiting for the key, its timeout running.
      yield* writer.opened
      const client = yield* connectTls(server.port)
      yield* client.write("served while the reload waits\n")
      assert.strictEqual(yield* client.readUntil("\n"), "served while the reload waits\n")
      yield* TestClock.adjust("5 seconds")
      const error = yield* Fiber.join(reload)
      assert.strictEqual(
        error.message,
        `TLS settings: the key could not be read within 5s (a pipe nobody writes to? a hung mount?) (${files.key})`
      )
      const after = yield* connectTls(server.port)
      assert.strictEqual(commonName(after.tls.getPeerX509Certificate()?.subject), "localhost", "the old pair is served")
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("a key given through a pipe (as a shell's <(…) gives it) is read; a file past 1 MiB is refused at its size", () =>
    Effect.gen(function*() {
      const files = swappable(yield* tempDir("tls"))
      files.install("server.crt", "server.key")
      makeFifo(files.key)
      yield* fifoWriter(files.key, pem("server.key").toString(), 0)
      const server = yield* serve(echo, { tls: files.options })
      assert.strictEqual(commonName((yield* connectTls(server.port)).tls.getPeerX509Certificate()?.subject), "localhost")
      Fs.rmSync(files.key)
      Fs.writeFileSync(files.key, Buffer.alloc(1024 * 1024 + 1, "A"))
      const error = yield* Effect.flip(server.reloadTls())
      assert.strictEqual(error.message, `TLS settings: the key is larger than 1 MiB: not a PEM file (${files.key})`)
    }).pipe(Effect.scoped, Effect.provide(captureLogs().layer)))
})

/**
 * The live clock, but `now` moves by what `shift` says: the server sleeps
 * in real time while its certificate ages (TestClock would stop its sleeps).
 */
const shiftableClock = (live: Clock.Clock) => {
  let offset = 0
  const millis = () => live.currentTimeMillisUnsafe() + offset
  const nanos = () => live.currentTimeNanosUnsafe() + BigInt(offset) * 1_000_000n
  const clock: Clock.Clock = {
    currentTimeMillisUnsafe: millis,
    currentTimeMillis: Effect.sync(millis),
    currentTimeNanosUnsafe: nanos,
    currentTimeNanos: Effect.sync(nanos),
    monotonicTimeNanosUnsafe: () => live.monotonicTimeNanosUnsafe(),
    monotonicTimeNanos: live.monotonicTimeNanos,
    sleep: (duration) => live.sleep(duration)
  }
  return { clock, shift: (by: Duration.Duration) => (offset = Duration.toMillis(by)) }
}

/** The log lines of connections refused before their handler ran. */
const refusals = (lines: ReadonlyArray<LogLine>) => lines.filter((line) => line.message.startsWith("connection refused"))

describe("TLS handshake failures that are the server's fault", () => {
  it.live("while the server's certificate is expired, failed handshakes are logged as errors naming it; before, as refusals at info", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const { clock, shift } = shiftableClock(yield* Clock.Clock)
      const server = yield* serve(echo, { tls: serverA }).pipe(Effect.provideService(Clock.Clock, clock))
      const plaintext = yield* connect(server.port)
      yield* plaintext.write("hello\n")
      yield* within(plaintext.closed)
      yield* within(closuresReach("tls-handshake", 1))
      assert.strictEqual(refusals(logs.lines)[0]?.level, "Info")

      // Certificate A expires in 2126.
      shift(Duration.days(200 * 365))
      const late = yield* connect(server.port)
      yield* late.write("hello\n")
      yield* within(late.closed)
      yield* within(closuresReach("tls-handshake", 2))
      const fault = refusals(logs.lines)[1]
      assert.strictEqual(fault?.level, "Error")
      assert.match(fault?.message ?? "", /"error":"the server's certificate expired on .+ 2126 GMT, so clients refuse it \(.+\)"/)
    }).pipe(freshRegistry, Effect.provide(logs.layer))
  })
})

/** Says the cipher suite negotiated, then echoes. */
const cipherThenEcho = (conn: Connection) => Effect.andThen(conn.writeLine(`${conn.tls?.protocol} ${conn.tls?.cipher}`), echo)

/** A TLS 1.2 client of the RSA server offering only `cipher`. */
const tls12 = (cipher: string) => ({ ca: pem("rsa.crt"), maxVersion: "TLSv1.2", ciphers: cipher }) as const

describe("TLS cipher suites and renegotiation", () => {
  it.live("by default only forward-secret AEAD suites: static RSA and CBC are refused, ECDHE with GCM or ChaCha20 accepted", () =>
    Effect.gen(function*() {
      const server = yield* serve(cipherThenEcho, { tls: serverRsa })
      for (const cipher of ["AES128-SHA", "AES256-GCM-SHA384", "ECDHE-RSA-AES128-SHA"]) {
        const attempt = yield* within(attemptTls(server.port, "x\n", tls12(cipher)))
        assert.isFalse(attempt.secured, `${cipher} refused`)
        assert.strictEqual(attempt.data, "")
      }
      for (const [cipher, standard] of [
        ["ECDHE-RSA-AES128-GCM-SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"],
        ["ECDHE-RSA-CHACHA20-POLY1305", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"]
      ] as const) {
        const client = yield* connectTls(server.port, tls12(cipher))
        assert.strictEqual(yield* within(client.readUntil("\n")), `TLSv1.2 ${standard}\n`)
      }
      const modern = yield* connectTls(server.port, { ca: pem("rsa.crt") })
      assert.strictEqual(yield* within(modern.readUntil("\n")), "TLSv1.3 TLS_AES_256_GCM_SHA384\n")
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("the ciphers option widens the list (as docs/tls.md shows); a list that matches nothing does not start", () =>
    Effect.gen(function*() {
      const page = Fs.readFileSync(new URL("../../docs/tls.md", import.meta.url), "utf8")
      assert.include(page, `--tls-ciphers \\\n    ${Tls.defaults.ciphers}:AES128-SHA\n`, "the page's list is the default, widened")
      const server = yield* serve(cipherThenEcho, { tls: { ...serverRsa, ciphers: `${Tls.defaults.ciphers}:AES128-SHA` } })
      const old = yield* connectTls(server.port, tls12("AES128-SHA"))
      assert.strictEqual(yield* within(old.readUntil("\n")), "TLSv1.2 TLS_RSA_WITH_AES_128_CBC_SHA\n")
      assert.strictEqual(
        yield* startFailure({ ...serverRsa, ciphers: "NOPE" }),
        `cannot listen on 127.0.0.1:0: TLS settings: TLS option ciphers "NOPE" matches no cipher suite`
      )
    }).pipe(Effect.provide(captureLogs().layer)))

  it.live("a client's renegotiation is refused, whatever the cipher list", () =>
    Effect.gen(function*() {
      for (const ciphers of [undefined, `${Tls.defaults.ciphers}:AES128-SHA`]) {
        const server = yield* serve(echo, { tls: { ...serverRsa, ciphers } })
        const client = yield* connectTls(server.port, tls12("ECDHE-RSA-AES128-GCM-SHA256"))
        yield* client.write("before\n")
        assert.strictEqual(yield* within(client.readUntil("before\n")), "before\n")
        let renegotiated: boolean | undefined
        assert.isTrue(client.tls.renegotiate({}, (error) => (renegotiated = error === null)), "the client asks")
        // The server answers no_renegotiation; Node's client gives up the connection.
        const { data, error } = yield* within(client.closed)
        assert.notStrictEqual(renegotiated, true)
        assert.include(["ERR_SSL_NO_RENEGOTIATION", "ECONNRESET"], error)
        assert.strictEqual(data.toString(), "before\n")
      }
    }).pipe(Effect.provide(captureLogs().layer)))
})
