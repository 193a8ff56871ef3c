/**
 * TLS from the command line, end to end: the built CLI runs as a child
 * process and is driven with flags and `FIBERLINE_TLS_*` variables — it
 * serves TLS with `--tls-cert`/`--tls-key`, reloads its certificate on SIGHUP
 * (a bad one is logged and the server goes on; a FIFO that sends nothing at
 * the key's path is given up at the read timeout, the process serving all
 * along), requires client certificates with `--tls-client-auth`, resumes
 * sessions across processes that share `FIBERLINE_TLS_TICKET_KEYS`, serves
 * STARTTLS with `--tls-mode starttls`, widens the cipher suites with
 * `--tls-ciphers`/`FIBERLINE_TLS_CIPHERS`, and refuses TLS settings that
 * cannot apply, in one line on stderr.
 */
import { Buffer } from "node:buffer"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { type JsonLog, listeningPort, logFields, parseJsonLog, runCli, spawnCli } from "../fixtures/cli.ts"
import { tempDir } from "../fixtures/files.ts"
import * as LineClient from "../../src/services/LineClient.ts"
import * as Tls from "../../src/Tls.ts"
import {
  attemptTls,
  commonName,
  connectTls,
  fifoWriter,
  file,
  firstSession,
  makeFifo,
  pem,
  pemPath,
  swappable,
  tlsDir
} from "../fixtures/tls.ts"

/** Per-test limit: each boots the CLI once or twice (slow on a loaded machine); every wait is bounded. */
const timeout = 120_000

/** Certificate A's flags. */
const certFlags = ["--tls-cert", pemPath("server.crt"), "--tls-key", pemPath("server.key")]

/** Bounds a wait on a TLS client (the CLI's own waits are bounded by the fixture). */
const within = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.timeout(effect, "30 seconds")

describe("fiberline CLI with TLS", () => {
  it.live("--tls-cert/--tls-key serve TLS; SIGHUP reloads the files for new clients; a bad reload is logged and changes nothing", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("cli-tls")
      const cert = Path.join(dir, "cert.pem")
      const key = Path.join(dir, "key.pem")
      const install = (certName: string, keyName: string) => {
        Fs.writeFileSync(cert, pem(certName))
        Fs.writeFileSync(key, pem(keyName))
      }
      install("server.crt", "server.key")
      const cli = yield* spawnCli(["echo", "--port", "0", "--log-format", "json", "--tls-cert", cert, "--tls-key", key])
      const listening = yield* cli.waitForLog("listening")
      assert.strictEqual(logFields(listening).tls, "implicit")
      const port = yield* listeningPort(cli)
      const old = yield* within(connectTls(port))
      assert.strictEqual(commonName(old.tls.getPeerX509Certificate()?.subject), "localhost")
      yield* old.write("over tls\n")
      yield* within(old.readUntil("over tls\n"))

      install("server-b.crt", "server-b.key")
      yield* cli.signal("SIGHUP")
      const reloaded = yield* cli.waitForLog("tls reloaded")
      assert.strictEqual(logFields(reloaded).subject, "CN=fiberline test server B")
      const fresh = yield* within(connectTls(port))
      assert.strictEqual(commonName(fresh.tls.getPeerX509Certificate()?.subject), "fiberline test server B")
      yield* old.write("still\n")
      yield* within(old.readUntil("still\n"))

      install("server-b.crt", "server.key")
      yield* cli.signal("SIGHUP")
      const failed = yield* cli.waitForLog("tls reload failed")
      assert.strictEqual(failed.level, "ERROR")
      assert.include(String(logFields(failed).error), "the key does not fit the certificate")
      const after = yield* within(connectTls(port))
      assert.strictEqual(commonName(after.tls.getPeerX509Certificate()?.subject), "fiberline test server B")

      yield* cli.signal("SIGTERM")
      assert.deepStrictEqual(yield* cli.exited(), { code: 0, signal: null })
    }), timeout)

  it.live("SIGHUP with a FIFO that sends nothing at the key's path: served all along; the reload fails at its read timeout, naming the file", () =>
    Effect.gen(function*() {
      const files = swappable(yield* tempDir("cli-tls"))
      files.install("server.crt", "server.key")
      const cli = yield* spawnCli(["echo", "--port", "0", "--log-format", "json", "--tls-cert", files.cert, "--tls-key", files.key])
      const port = yield* listeningPort(cli)
      makeFifo(files.key)
      // It sends nothing, for longer than any wait here.
      const writer = yield* fifoWriter(files.key, "", 120_000)
      yield* cli.signal("SIGHUP")
      yield* within(writer.opened)
      // Answered while the reload waits on the FIFO (a process reading it synchronously would never answer).
      const during = yield* within(connectTls(port))
      yield* during.write("during the reload\n")
      yield* within(during.readUntil("during the reload\n"))
      const failed = yield* cli.waitForLog("tls reload failed")
      assert.strictEqual(
        logFields(failed).error,
        `TLS settings: the key could not be read within 5s (a pipe nobody writes to? a hung mount?) (${files.key})`
      )
      const after = yield* within(connectTls(port))
      assert.strictEqual(commonName(after.tls.getPeerX509Certificate()?.subject), "localhost", "the old pair is served")
      yield* cli.signal("SIGTERM")
      assert.deepStrictEqual(yield* cli.exited(), { code: 0, signal: null })
    }), timeout)

  it.live("--tls-ciphers or FIBERLINE_TLS_CIPHERS widens the cipher suites: a static-RSA TLS 1.2 client is served", () =>
    Effect.gen(function*() {
      const widened = `${Tls.defaults.ciphers}:AES128-SHA`
      const rsa = ["--tls-cert", pemPath("rsa.crt"), "--tls-key", pemPath("rsa.key")]
      const args = ["echo", "--port", "0", "--log-format", "json", ...rsa]
      const byFlag = yield* spawnCli([...args, "--tls-ciphers", widened])
      const byVariable = yield* spawnCli(args, { env: { FIBERLINE_TLS_CIPHERS: widened } })
      for (const cli of [byFlag, byVariable]) {
        const client = yield* within(connectTls(yield* listeningPort(cli), { ca: pem("rsa.crt"), maxVersion: "TLSv1.2", ciphers: "AES128-SHA" }))
        assert.strictEqual(client.tls.getCipher().name, "AES128-SHA")
        yield* client.write("old client\n")
        yield* within(client.readUntil("old client\n"))
        yield* cli.signal("SIGTERM")
        assert.strictEqual((yield* cli.exited()).code, 0)
      }
    }), timeout)

  it.live("FIBERLINE_TLS_* variables: client certificates required; two processes sharing ticket keys resume each other's sessions", () =>
    Effect.gen(function*() {
      const env = {
        FIBERLINE_TLS_CERT: pemPath("server.crt"),
        FIBERLINE_TLS_KEY: pemPath("server.key"),
        FIBERLINE_TLS_CA: pemPath("ca.crt"),
        FIBERLINE_TLS_CLIENT_AUTH: "true",
        FIBERLINE_TLS_TICKET_KEYS: Buffer.alloc(48, 7).toString("hex")
      }
      const args = ["echo", "--port", "0", "--log-format", "json"]
      const first = yield* spawnCli(args, { env })
      const second = yield* spawnCli(args, { env })
      const firstPort = yield* listeningPort(first)
      const secondPort = yield* listeningPort(second)
      const identity = { key: pem("client.key"), cert: pem("client.crt") }

      const rogue = yield* within(attemptTls(firstPort, "hello\n", { key: pem("rogue-client.key"), cert: pem("rogue-client.crt") }))
      assert.strictEqual(rogue.data, "")
      const refused = yield* first.waitForLog("connection refused")
      assert.deepInclude(logFields(refused), {
        reason: "tls-handshake",
        error: "client certificate rejected: UNABLE_TO_VERIFY_LEAF_SIGNATURE"
      })

      // The echo server says nothing first: a line sent gets one back, and the ticket.
      const { session } = yield* within(firstSession(firstPort, identity, "first\n"))
      const resumed = yield* within(connectTls(secondPort, { ...identity, session }))
      assert.isTrue(resumed.tls.isSessionReused(), "the other process resumed the session")
      yield* resumed.write("second\n")
      yield* within(resumed.readUntil("second\n"))
      for (const cli of [first, second]) {
        yield* cli.signal("SIGTERM")
        assert.strictEqual((yield* cli.exited()).code, 0)
      }
    }), timeout)

  it.live("--workers 2 with TLS: the workers share ticket keys (a session resumes on the other worker); SIGHUP reaches them", () =>
    Effect.gen(function*() {
      const cli = yield* spawnCli(["serve", "test/fixtures/handlers/pid.ts", "--port", "0", "--workers", "2", "--log-format", "json", ...certFlags])
      const port = yield* listeningPort(cli)
      // Every worker listens from then on.
      yield* cli.waitForLog("workers started")
      const first = yield* within(firstSession(port))
      // Round robin: of two more connections, one lands on the other worker.
      let resumedElsewhere = false
      for (let attempt = 0; attempt < 4 && !resumedElsewhere; attempt++) {
        const client = yield* within(connectTls(port, { session: first.session }))
        const line = (yield* within(client.readUntil("\n"))).split("\n")[0]
        if (line !== first.line) {
          assert.isTrue(client.tls.isSessionReused(), `${line} resumed a session of ${first.line}`)
          resumedElsewhere = true
        }
        client.socket.destroy()
      }
      assert.isTrue(resumedElsewhere, "a connection landed on the other worker")
      yield* cli.signal("SIGHUP")
      // Each worker reloads: two lines, each with its worker annotation (bounded: 10 s).
      let reloaded: ReadonlyArray<JsonLog> = []
      for (let polls = 0; polls < 200 && reloaded.length < 2; polls++) {
        yield* Effect.sleep("50 millis")
        reloaded = (yield* cli.stderrLines).map(parseJsonLog).filter((log): log is JsonLog => log?.message === "tls reloaded")
      }
      assert.strictEqual(reloaded.length, 2, "both workers reloaded")
      assert.notStrictEqual(reloaded[0]!.fields.worker, reloaded[1]!.fields.worker)
      yield* cli.signal("SIGTERM")
      assert.strictEqual((yield* cli.exited()).code, 0)
    }), timeout)

  it.live("--tls-mode starttls serves examples/smtpish.ts: plaintext until STARTTLS, then TLS", () =>
    Effect.gen(function*() {
      const cli = yield* spawnCli(["serve", "examples/smtpish.ts", "--port", "0", "--log-format", "json", "--tls-mode", "starttls", ...certFlags])
      const conn = yield* LineClient.connect({
        port: yield* listeningPort(cli),
        tls: { ca: file("ca.crt") },
        tlsMode: "starttls"
      })
      const lines = (n: number) => within(Effect.forEach(Array.from({ length: n }), () => conn.readLine))
      yield* conn.writeLine("STARTTLS")
      assert.deepStrictEqual(yield* lines(2), ["220 smtpish ready", "220 2.0.0 Ready to start TLS"])
      assert.strictEqual((yield* within(conn.startTls())).protocol, "TLSv1.3")
      yield* conn.writeLine("EHLO me")
      yield* conn.writeLine("QUIT")
      assert.deepStrictEqual(yield* lines(3), ["250-smtpish", "250 TLSv1.3", "221 bye"])
      assert.strictEqual((yield* within(Effect.flip(conn.readLine)))._tag, "EndOfInput")
      yield* cli.signal("SIGTERM")
      assert.strictEqual((yield* cli.exited()).code, 0)
    }), timeout)

  const refusals = [
    {
      args: ["--stdio", ...certFlags],
      says: "--tls-cert does not apply with --stdio"
    },
    { args: ["--stdio", "--tls-client-auth"], says: "--tls-client-auth does not apply with --stdio" },
    { args: ["--port", "0", "--tls-cert", pemPath("server.crt")], says: "--tls-cert needs --tls-key" },
    { args: ["--port", "0", "--tls-ca", pemPath("ca.crt")], says: "--tls-ca needs --tls-cert and --tls-key" },
    {
      args: ["--port", "0", ...certFlags, "--tls-client-auth"],
      says: "--tls-client-auth needs --tls-ca: the CAs that sign client certificates"
    },
    {
      args: ["--port", "0", ...certFlags, "--tls-mode", "sometimes"],
      says: "invalid --tls-mode \"sometimes\": expected one of implicit, starttls"
    },
    { args: ["--port", "0", "--tls-ciphers", "AES128-SHA"], says: "--tls-ciphers needs --tls-cert and --tls-key" }
  ]
  for (const { args, says } of refusals) {
    it.live(`echo ${args.join(" ").replaceAll(tlsDir, "…")}: one line on stderr, exit 2`, () =>
      Effect.gen(function*() {
        const { code, stderr, stdout } = yield* runCli(["echo", ...args], { stdin: "x\n" })
        assert.strictEqual(stderr, `fiberline echo: ${says}\n`)
        assert.strictEqual(stdout.length, 0)
        assert.strictEqual(code, 2)
      }), timeout)
  }

  it.live("ticket keys that are not 48 bytes are refused without repeating the secret; a missing or wrong certificate file is one line, exit 1", () =>
    Effect.gen(function*() {
      const keys = yield* runCli(["echo", "--port", "0", ...certFlags], { env: { FIBERLINE_TLS_TICKET_KEYS: "c2VjcmV0" } })
      assert.strictEqual(
        keys.stderr,
        "fiberline echo: invalid FIBERLINE_TLS_TICKET_KEYS: expected 48 bytes as 96 hex digits or 64 base64 characters\n"
      )
      assert.strictEqual(keys.code, 2)
      const missing = yield* runCli(["echo", "--port", "0", "--tls-cert", "nope.pem", "--tls-key", pemPath("server.key")])
      const lines = missing.stderr.trimEnd().split("\n")
      assert.strictEqual(lines.length, 1, missing.stderr)
      assert.match(lines[0]!, /ERROR .*cannot listen on 127\.0\.0\.1:0: TLS settings: cannot read the certificate \(ENOENT\) \(nope\.pem\)$/)
      assert.strictEqual(missing.code, 1)
      // A certificate where the key belongs.
      const garbage = yield* runCli(["echo", "--port", "0", "--tls-cert", pemPath("server.crt"), "--tls-key", pemPath("server.crt")])
      assert.match(
        garbage.stderr,
        /^[^\n]*ERROR .*TLS settings: the key is not a PEM private key \(found "-----BEGIN CERTIFICATE-----"\) \(.+server\.crt\)\n$/
      )
      assert.strictEqual(garbage.code, 1)
    }), timeout)
})
