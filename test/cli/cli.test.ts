/**
 * The `fiberline` CLI end to end: the built `dist/cli/main.js` runs as a
 * child process on loopback and is driven like an operator would drive it —
 * flags and environment variables in; protocol bytes on stdout or a TCP
 * socket, logs on stderr, metrics over HTTP and the exit code out — through
 * a clean stop, a graceful drain, a forced drain and a second signal.
 */
import { Buffer } from "node:buffer"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Redis as IORedis } from "ioredis"
import packageJson from "../../package.json" with { type: "json" }
import { connect } from "../fixtures/client.ts"
import {
  cliEntry,
  type CliProcess,
  defaultWait,
  listeningPort,
  logFields,
  metricsUrl,
  parseJsonLog,
  runCli,
  sample,
  scrape,
  spawnCli,
  waitForMetrics
} from "../fixtures/cli.ts"
import { tempDir } from "../fixtures/files.ts"

/**
 * Per-test limit: a test boots the CLI (slow on a loaded machine) and waits
 * on it several times, each wait bounded by the fixture's `defaultWait`.
 */
const timeout = 120_000

/** Every stderr line so far parses as a `--log-format json` log line. */
const assertAllJson = (lines: ReadonlyArray<string>) => {
  assert.isNotEmpty(lines)
  for (const line of lines) assert.isDefined(parseJsonLog(line), `not a JSON log line: ${line}`)
}

/** The `{ drained, forced }` of the "server stopped" line, once the process has logged it. */
const stoppedCounts = (cli: CliProcess) =>
  Effect.map(cli.waitForLog("server stopped"), (log) => {
    const { drained, forced } = logFields(log)
    return { drained, forced }
  })

/** Starts `fiberline echo` on a free loopback port with JSON logs; returns the process and its port. */
const startEcho = (extraArgs: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const cli = yield* spawnCli(["echo", "--port", "0", "--log-format", "json", ...extraArgs])
    const port = yield* listeningPort(cli)
    return { cli, port }
  })

/** A line far bigger than every socket buffer on the way back (see the drain tests). */
const hugeLineBytes = 64 * 1024 * 1024

/**
 * Starts echo with metrics and connects a client that sends one huge line
 * and never reads, then waits until the server holds the whole line: from
 * then on its handler is blocked writing the echo back (the client's receive
 * buffer and the server's send buffer fill long before 64 MiB), so it is
 * busy whenever the shutdown begins. A single line leaves no instant where
 * the handler waits for input with nothing buffered, which shutdown would
 * end gracefully instead.
 */
const startWithBusyClient = (shutdownTimeout: string) =>
  Effect.gen(function*() {
    const { cli, port } = yield* startEcho([
      "--metrics-port",
      "0",
      "--max-line-length",
      String(2 * hugeLineBytes),
      "--write-timeout",
      "300s",
      "--shutdown-timeout",
      shutdownTimeout
    ])
    const url = yield* metricsUrl(cli)
    const client = yield* connect(port, { pause: true })
    client.socket.write(Buffer.alloc(hugeLineBytes, 0x61))
    client.socket.write("\n")
    // lines_read is reported when the handler parks: here, on the blocked write.
    yield* waitForMetrics(url, "the huge line read", (text) => sample("fiberline_lines_read_total", 1).test(text))
    return { cli, client }
  })

describe("fiberline CLI", () => {
  describe("help and version", () => {
    it.live("--help exits 0 and lists the echo subcommand", () =>
      Effect.gen(function*() {
        const { code, stdout } = yield* runCli(["--help"])
        assert.strictEqual(code, 0)
        assert.match(stdout.toString(), /SUBCOMMANDS[\s\S]*^\s+echo\s+Echo every line back/m)
      }), timeout)

    it.live("echo --help exits 0 and lists the server flags, each with its default and environment variable", () =>
      Effect.gen(function*() {
        const { code, stdout } = yield* runCli(["echo", "--help"])
        assert.strictEqual(code, 0)
        const help = stdout.toString()
        for (
          const flag of [
            "--host",
            "--port",
            "--stdio",
            "--max-line-length",
            "--max-connections",
            "--when-full",
            "--busy-message",
            "--idle-timeout",
            "--write-timeout",
            "--shutdown-timeout",
            "--log-format",
            "--metrics-port",
            "--tls-cert"
          ]
        ) {
          assert.match(help, new RegExp(`^\\s+${flag}\\b`, "m"), `echo --help lists ${flag}`)
        }
        for (
          const expected of [
            "env FIBERLINE_HOST, default 127.0.0.1",
            "env FIBERLINE_PORT, default 1234",
            "env FIBERLINE_MAX_LINE_LENGTH, default 65536",
            "env FIBERLINE_IDLE_TIMEOUT, default 0",
            "env FIBERLINE_LINE_TIMEOUT, default 30s",
            "env FIBERLINE_WRITE_TIMEOUT, default 30s",
            "env FIBERLINE_SHUTDOWN_TIMEOUT, default 10s",
            "env FIBERLINE_WHEN_FULL, default refuse",
            "env FIBERLINE_LOG_FORMAT, default pretty",
            "env FIBERLINE_METRICS_PORT)",
            "env FIBERLINE_WORKERS, default 1",
            "env FIBERLINE_TLS_CERT)",
            "env FIBERLINE_TLS_KEY)",
            "env FIBERLINE_TLS_CA)",
            "env FIBERLINE_TLS_CLIENT_AUTH=true",
            "env FIBERLINE_TLS_MODE, default implicit",
            "env FIBERLINE_TLS_HANDSHAKE_TIMEOUT, default 10s"
          ]
        ) assert.include(help, expected)
      }), timeout)

    it.live("--version prints the package.json version", () =>
      Effect.gen(function*() {
        const { code, stdout } = yield* runCli(["--version"])
        assert.strictEqual(code, 0)
        assert.strictEqual(stdout.toString().trim(), `fiberline v${packageJson.version}`)
      }), timeout)
  })

  describe("echo over TCP", () => {
    it.live("echo is byte-exact; SIGTERM stops it with exit 0; stdout stays empty and stderr is JSON", () =>
      Effect.gen(function*() {
        const { cli, port } = yield* startEcho()
        const client = yield* connect(port)
        const sent = [
          Buffer.from("hello\r\n"),
          Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x0a]),
          Buffer.from("\n"),
          Buffer.from("tail without newline")
        ]
        for (const part of sent) yield* client.write(part)
        yield* client.end
        const { data, gotEnd, error } = yield* client.closed
        assert.deepStrictEqual(data, Buffer.concat(sent))
        assert.isTrue(gotEnd, "the server sends FIN after the last reply")
        assert.isUndefined(error)

        yield* cli.signal("SIGTERM")
        assert.deepStrictEqual(yield* cli.exited(), { code: 0, signal: null })
        assert.deepStrictEqual(yield* stoppedCounts(cli), { drained: 0, forced: 0 })
        assert.strictEqual((yield* cli.stdout).length, 0, "nothing but protocol bytes on stdout: none in TCP mode")
        assertAllJson(yield* cli.stderrLines)
      }), timeout)

    it.live("SIGTERM with an idle client: the client gets FIN, the drain is clean, exit 0", () =>
      Effect.gen(function*() {
        const { cli, port } = yield* startEcho()
        const client = yield* connect(port)
        // One round trip proves the handler runs; then it waits for input.
        yield* client.write("ping\n")
        yield* client.readUntil("ping\n")

        yield* cli.signal("SIGTERM")
        const { data, gotEnd, error } = yield* client.closed
        assert.strictEqual(data.toString(), "ping\n")
        assert.isTrue(gotEnd, "the server ends the idle connection with FIN, not a reset")
        assert.isUndefined(error)
        assert.deepStrictEqual(yield* cli.exited(), { code: 0, signal: null })
        assert.deepStrictEqual(yield* stoppedCounts(cli), { drained: 1, forced: 0 })
      }), timeout)

    it.live("a client that never reads is forced at --shutdown-timeout: exit 1", () =>
      Effect.gen(function*() {
        const { cli } = yield* startWithBusyClient("300ms")
        yield* cli.signal("SIGTERM")
        // Without the forced drain the handler would wait --write-timeout (300 s).
        assert.deepStrictEqual(yield* cli.exited("30 seconds"), { code: 1, signal: null })
        assert.deepStrictEqual(yield* stoppedCounts(cli), { drained: 0, forced: 1 })
      }), timeout)

    it.live("a second SIGTERM exits at once, non-zero, without waiting for the drain", () =>
      Effect.gen(function*() {
        const { cli } = yield* startWithBusyClient("300s")
        yield* cli.signal("SIGTERM")
        assert.strictEqual(logFields(yield* cli.waitForLog("shutting down")).connections, 1)
        yield* cli.signal("SIGTERM")
        // Far below --shutdown-timeout (300 s): the drain was not awaited.
        const { code } = yield* cli.exited("15 seconds")
        assert.isNotNull(code)
        assert.notStrictEqual(code, 0)
        const stderr = yield* cli.stderr
        assert.include(stderr, "second SIGTERM")
        assert.notInclude(stderr, "server stopped")
      }), timeout)
  })

  describe("echo over stdio", () => {
    it.live("--stdio: stdout is the input byte for byte, logs at --log-level debug stay off it; exit 0", () =>
      Effect.gen(function*() {
        const input = Buffer.concat([
          Buffer.from("first\r\n"),
          Buffer.from([0x00, 0xff, 0xfe, 0xc3, 0x28, 0x0a]),
          Buffer.from("\n"),
          Buffer.from("second\nthird\r\n"),
          Buffer.from("last, unterminated")
        ])
        const { code, stdout } = yield* runCli(["--log-level", "debug", "echo", "--stdio"], { stdin: input })
        assert.strictEqual(code, 0)
        assert.isTrue(stdout.equals(input), `stdout differs from stdin: ${JSON.stringify(stdout.toString("latin1"))}`)
      }), timeout)

    it.live("--stdio: an input of many pipe chunks comes back whole; exit 0", () =>
      Effect.gen(function*() {
        const input = Buffer.from(Array.from({ length: 20_000 }, (_, i) => `line ${i}${i % 2 ? "\r\n" : "\n"}`).join(""))
        const { code, stdout } = yield* runCli(["echo", "--stdio"], { stdin: input })
        assert.strictEqual(stdout.length, input.length)
        assert.isTrue(stdout.equals(input))
        assert.strictEqual(code, 0)
      }), timeout)

    it.live("--stdio: stdin a regular file (read in big chunks) comes back whole, a final partial line included", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir("stdin")
        const file = Path.join(dir, "input.txt")
        // Several MiB, so that it spans many of the 1 MiB reads.
        const input = Buffer.from(
          Array.from({ length: 150_000 }, (_, i) => `line ${String(i).padStart(20, "0")}${i % 3 ? "\n" : "\r\n"}`).join("") + "end"
        )
        Fs.writeFileSync(file, input)
        const fd = Fs.openSync(file, "r")
        yield* Effect.addFinalizer(() => Effect.sync(() => Fs.closeSync(fd)))
        const result = ChildProcess.spawnSync(process.execPath, [cliEntry, "echo", "--stdio"], {
          stdio: [fd, "pipe", "pipe"],
          maxBuffer: 64 * 1024 * 1024,
          timeout: 60_000
        })
        assert.strictEqual(result.status, 0, result.stderr.toString())
        assert.isTrue(result.stdout.equals(input))
      }), timeout)

    it.live("--stdio: a slow reader on a real pipe gets everything and the process still exits 0", () =>
      Effect.gen(function*() {
        // A shell pipeline, so stdin and stdout are OS pipes (Node's own child
        // stdio would be socket pairs): output queues in the process while
        // the reader sleeps, and must still be flushed before it exits.
        const dir = yield* tempDir("stdio")
        const input = Buffer.from(Array.from({ length: 10_000 }, (_, i) => `${i} ${"x".repeat(i % 70)}\n`).join(""))
        Fs.writeFileSync(Path.join(dir, "in"), input)
        const pipeline = `cat in | "${process.execPath}" "${cliEntry}" echo --stdio | (sleep 1; cat > out); exit \${PIPESTATUS[1]}`
        const shell = ChildProcess.spawn("bash", ["-c", pipeline], { cwd: dir, stdio: "ignore", detached: true })
        // The whole pipeline is our process group: kill it by our child's PID.
        yield* Effect.addFinalizer(() => Effect.sync(() => shell.exitCode === null && process.kill(-shell.pid!, "SIGKILL")))
        const code = yield* Effect.callback<number | null>((resume) => {
          shell.once("exit", (exitCode) => resume(Effect.succeed(exitCode)))
        }).pipe(Effect.timeout("30 seconds"))
        assert.strictEqual(code, 0)
        assert.isTrue(Fs.readFileSync(Path.join(dir, "out")).equals(input))
      }), timeout)

    it.live("--stdio: a peer-caused close is logged as over TCP (one warning line, no stack), exit 3", () =>
      Effect.gen(function*() {
        const { code, stdout, stderr } = yield* runCli(["echo", "--stdio", "--max-line-length", "8", "--log-format", "json"], {
          stdin: "short\nthis line is too long\n"
        })
        assert.strictEqual(stdout.toString(), "short\n")
        const lines = stderr.trimEnd().split("\n")
        assert.strictEqual(lines.length, 1, stderr)
        const log = parseJsonLog(lines[0]!)
        assert.strictEqual(log?.level, "WARN")
        assert.deepStrictEqual(logFields(log!), { reason: "line-too-long", error: "line longer than 8 bytes" })
        assert.strictEqual(code, 3)
      }), timeout)

    it.live("--stdio: flags that only apply to a listening server are refused, exit 2, nothing on stdout", () =>
      Effect.gen(function*() {
        const { code, stdout, stderr } = yield* runCli(["echo", "--stdio", "--port", "7000"], { stdin: "x\n" })
        assert.strictEqual(code, 2)
        assert.strictEqual(stdout.length, 0)
        assert.strictEqual(stderr, "fiberline echo: --port does not apply with --stdio\n")
      }), timeout)
  })

  describe("metrics", () => {
    it.live("--metrics-port 0 serves Prometheus counters of a scripted session", () =>
      Effect.gen(function*() {
        const { cli, port } = yield* startEcho(["--metrics-port", "0"])
        const url = yield* metricsUrl(cli)
        assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
        // Every series is there from the start, at zero.
        const before = yield* scrape(url)
        assert.match(before, sample("fiberline_connections_accepted_total", 0))
        assert.match(before, sample(`fiberline_connections_closed_total{reason="line-too-long"}`, 0))
        assert.match(before, sample("fiberline_bytes_read_total", 0))
        const client = yield* connect(port)
        const session = "one\ntwo\r\nthree\n"
        yield* client.write(session)
        yield* client.readUntil("three\n")
        yield* client.end
        yield* client.closed

        // The close is recorded by the server after the client saw it: retry until it shows.
        const closed = sample(`fiberline_connections_closed_total{reason="end-of-input"}`, 1)
        const idle = sample("fiberline_connections_active", 0)
        const text = yield* waitForMetrics(url, "the connection closed", (scraped) => closed.test(scraped) && idle.test(scraped))
        assert.match(text, sample("fiberline_connections_accepted_total", 1))
        assert.match(text, sample("fiberline_lines_read_total", 3))
        assert.match(text, sample("fiberline_lines_written_total", 3))
        assert.match(text, sample("fiberline_bytes_read_total", Buffer.byteLength(session)))
        assert.match(text, sample("fiberline_bytes_written_total", Buffer.byteLength(session)))
        assert.match(text, /^# TYPE fiberline_connections_closed_total counter$/m)

        yield* cli.signal("SIGTERM")
        assert.deepStrictEqual(yield* cli.exited(), { code: 0, signal: null })
      }), timeout)
    it.live("--name labels every series server=<name>; FIBERLINE_NAME is its fallback", () =>
      Effect.gen(function*() {
        for (const { args, env } of [{ args: ["--name", "api"], env: {} }, { args: [], env: { FIBERLINE_NAME: "api" } }]) {
          const cli = yield* spawnCli(["echo", "--port", "0", "--log-format", "json", "--metrics-port", "0", ...args], { env })
          const listening = yield* cli.waitForLog("listening")
          assert.strictEqual(logFields(listening).server, "api")
          const text = yield* scrape(yield* metricsUrl(cli))
          assert.match(text, sample(`fiberline_connections_accepted_total{server="api"}`, 0))
          assert.match(text, sample(`fiberline_lines_read_total{server="api"}`, 0))
          assert.match(text, sample(`fiberline_connection_duration_seconds_count{server="api"}`, 0))
          assert.notMatch(text, /^fiberline_connections_accepted_total /m, "no unlabelled series")
          yield* cli.signal("SIGTERM")
          assert.deepStrictEqual(yield* cli.exited(), { code: 0, signal: null })
        }
      }), timeout)

    it.live("the metrics port answers /healthz and /readyz: 503 from SIGTERM on, while a busy connection is still served", () =>
      Effect.gen(function*() {
        const { cli, client } = yield* startWithBusyClient("30s")
        const base = (yield* metricsUrl(cli)).replace(/\/metrics$/, "")
        const status = (path: string) => Effect.promise(() => fetch(`${base}${path}`).then((response) => response.status))
        assert.strictEqual(yield* status("/healthz"), 200)
        assert.strictEqual(yield* status("/readyz"), 200)
        yield* cli.signal("SIGTERM")
        yield* cli.waitForLog("shutting down")
        assert.strictEqual(yield* status("/readyz"), 503)
        assert.strictEqual(yield* status("/healthz"), 200)
        assert.isFalse(client.socket.destroyed, "the busy connection is still open")
        // Gone: the blocked write fails, the drain ends.
        client.socket.destroy()
        assert.strictEqual((yield* cli.exited()).signal, null)
      }), timeout)
  })

  describe("serve MODULE", () => {
    it.live("serves a .ts handler file with no build step, over TCP and over --stdio", () =>
      Effect.gen(function*() {
        const cli = yield* spawnCli(["serve", "examples/shout.ts", "--port", "0", "--log-format", "json"])
        const client = yield* connect(yield* listeningPort(cli))
        yield* client.write("hello\n")
        assert.include(yield* client.readUntil("HELLO\n"), "HELLO\n")
        yield* cli.signal("SIGTERM")
        assert.strictEqual((yield* client.closed).data.toString(), "HELLO\nBYE\n")
        assert.strictEqual((yield* cli.exited()).code, 0)
        const stdio = yield* runCli(["serve", "examples/shout.ts", "--stdio"], { stdin: "one\ntwo\n" })
        assert.strictEqual(stdio.stdout.toString(), "ONE\nTWO\n")
        assert.strictEqual(stdio.code, 0)
      }), timeout)

    it.live("--export picks a named handler; the module's layer is built once per server, shared by connections", () =>
      Effect.gen(function*() {
        const cli = yield* spawnCli([
          "serve",
          "test/fixtures/handlers/counter.ts",
          "--export",
          "counting",
          "--port",
          "0",
          "--log-format",
          "json"
        ])
        const port = yield* listeningPort(cli)
        const first = yield* connect(port)
        yield* first.write("a\nb\n")
        yield* first.readUntil("2\n")
        const second = yield* connect(port)
        yield* second.write("c\n")
        assert.strictEqual(yield* second.readUntil("3\n"), "3\n")
        yield* cli.signal("SIGTERM")
        assert.strictEqual((yield* cli.exited()).code, 0)
      }), timeout)

    const broken = [
      { args: ["serve", "nope.ts"], says: "handler module nope.ts: no such file" },
      {
        args: ["serve", "test/fixtures/handlers/counter.ts"],
        says: "handler module test/fixtures/handlers/counter.ts: no export named \"default\" (it exports: Counter, counting, layer, notAHandler)"
      },
      {
        args: ["serve", "test/fixtures/handlers/counter.ts", "--export", "notAHandler"],
        says: "handler module test/fixtures/handlers/counter.ts: export \"notAHandler\" is not a handler (an Effect, or a function of the connection): it is a number"
      },
      {
        args: ["serve", "test/fixtures/handlers/counter.ts", "--export", "Counter"],
        says: "handler module test/fixtures/handlers/counter.ts: export \"Counter\" is not a handler (an Effect, or a function of the connection): it is a service tag"
      }
    ]
    for (const { args, says } of broken) {
      it.live(`${args.slice(1).join(" ")}: one line on stderr, exit 2, nothing bound`, () =>
        Effect.gen(function*() {
          const { code, stderr, stdout } = yield* runCli([...args, "--port", "0"])
          assert.strictEqual(stderr, `fiberline serve: ${says}\n`)
          assert.strictEqual(stdout.length, 0)
          assert.strictEqual(code, 2)
        }), timeout)
    }

    it.live("an app's own binary from fiberline/Cli has the same flags, env fallbacks and exit codes", () =>
      Effect.gen(function*() {
        const help = yield* runCli(["--help"], { entry: "test/fixtures/appCli.ts" })
        assert.strictEqual(help.code, 0)
        assert.include(help.stdout.toString(), "--max-connections")
        const stdio = yield* runCli(["--stdio"], { entry: "test/fixtures/appCli.ts", stdin: "x\ny\n" })
        assert.strictEqual(stdio.stdout.toString(), "1\r\n2\r\n", "the command's connection options")
        const lf = yield* runCli(["--stdio", "--line-ending", "lf"], { entry: "test/fixtures/appCli.ts", stdin: "x\n" })
        assert.strictEqual(lf.stdout.toString(), "1\n", "--line-ending wins over them")
        const bad = yield* runCli([], { entry: "test/fixtures/appCli.ts", env: { FIBERLINE_IDLE_TIMEOUT: "soon" } })
        assert.strictEqual(bad.stderr, "counter: invalid FIBERLINE_IDLE_TIMEOUT \"soon\": expected a duration such as 500ms, 30s, 5m or 1h\n")
        assert.strictEqual(bad.code, 2)
      }), timeout)
  })

  describe("messages", () => {
    it.live("a port in use: one line naming the address and the reason, no stack trace, exit 1", () =>
      Effect.gen(function*() {
        const { cli, port } = yield* startEcho()
        const second = yield* runCli(["echo", "--port", String(port)])
        assert.strictEqual(second.code, 1)
        const lines = second.stderr.trimEnd().split("\n")
        assert.strictEqual(lines.length, 1, second.stderr)
        assert.match(lines[0]!, new RegExp(`ERROR .*cannot listen on 127\\.0\\.0\\.1:${port}: address already in use$`))
        yield* cli.signal("SIGTERM")
        yield* cli.exited()
      }), timeout)

    it.live("a flag mistake is short, on stderr (never the whole help on stdout), exit 2", () =>
      Effect.gen(function*() {
        const { code, stderr, stdout } = yield* runCli(["echo", "--stdio", "--bogus"], { stdin: "x\n" })
        assert.strictEqual(code, 2)
        assert.strictEqual(stdout.length, 0)
        assert.strictEqual(
          stderr,
          "fiberline echo: Unrecognized flag: --bogus\nTry 'fiberline echo --help' for the flags.\n"
        )
      }), timeout)

    const needs = [
      { args: ["--trusted-proxies", "127.0.0.1"], says: "--trusted-proxies needs --proxy-protocol" },
      { args: ["--unix-mode", "600"], says: "--unix-mode needs --unix" },
      { args: ["--proxy-header-timeout", "5s"], says: "--proxy-header-timeout needs --proxy-protocol" }
    ]
    for (const { args, says } of needs) {
      it.live(`${args[0]} alone is a usage error: one line, exit 2, nothing bound`, () =>
        Effect.gen(function*() {
          const { code, stderr } = yield* runCli(["echo", "--port", "0", ...args])
          assert.strictEqual(stderr, `fiberline echo: ${says}\n`)
          assert.strictEqual(code, 2)
        }), timeout)
    }

    it.live("an invalid environment variable is named with its value", () =>
      Effect.gen(function*() {
        const { code, stderr } = yield* runCli(["echo"], { env: { FIBERLINE_PORT: "abc" } })
        assert.strictEqual(code, 2)
        assert.strictEqual(stderr, "fiberline echo: invalid FIBERLINE_PORT \"abc\": expected an integer from 0 to 65535\n")
      }), timeout)
  })

  describe("redis", () => {
    it.live("fiberline redis --port 0 serves ioredis with its default options; SIGTERM exits 0", () =>
      Effect.gen(function*() {
        const cli = yield* spawnCli(["redis", "--port", "0", "--log-format", "json"])
        const port = yield* listeningPort(cli)
        const client = new IORedis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0 })
        yield* Effect.addFinalizer(() => Effect.sync(() => client.disconnect()))
        const reply = yield* Effect.promise(async () => {
          await client.connect()
          await client.set("greeting", "hello")
          const value = await client.get("greeting")
          await client.quit()
          return value
        })
        assert.strictEqual(reply, "hello")
        yield* cli.signal("SIGTERM")
        assert.strictEqual((yield* cli.exited()).code, 0)
      }), timeout)
  })

  describe("listeners", () => {
    it.live("--unix PATH with --unix-mode serves on a socket file, removed at exit; --proxy-protocol names the real client", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir("cli")
        const path = Path.join(dir, "echo.sock")
        const cli = yield* spawnCli(["echo", "--unix", path, "--unix-mode", "660", "--log-format", "json"])
        assert.strictEqual(logFields(yield* cli.waitForLog("listening")).address, path)
        assert.strictEqual(Fs.statSync(path).mode & 0o777, 0o660)
        const unix = yield* connect({ path })
        yield* unix.write("over a unix socket\n")
        yield* unix.end
        assert.strictEqual((yield* Effect.timeout(unix.closed, defaultWait)).data.toString(), "over a unix socket\n")
        yield* cli.signal("SIGTERM")
        assert.strictEqual((yield* cli.exited()).code, 0)
        assert.isFalse(Fs.existsSync(path))

        const proxied = yield* spawnCli(["echo", "--port", "0", "--proxy-protocol", "v1", "--log-format", "json", "--log-level", "debug"])
        const client = yield* connect(yield* listeningPort(proxied))
        yield* client.write("PROXY TCP4 198.51.100.9 127.0.0.1 40000 1234\r\nhi\n")
        yield* client.readUntil("hi\n")
        const opened = yield* proxied.waitForStderrLine("connection opened", (line) => line.includes("connection opened"))
        assert.include(opened, "198.51.100.9:40000")
        yield* proxied.signal("SIGTERM")
        yield* proxied.exited()
      }), timeout)
  })

  describe("file descriptors", () => {
    it.live("under ulimit -n 256, 600 clients: the excess is refused visibly and metrics still answer", () =>
      Effect.gen(function*() {
        const cli = yield* spawnCli(
          ["echo", "--port", "0", "--log-format", "json", "--metrics-port", "0", "--busy-message", "busy"],
          { fdLimit: 256 }
        )
        const listening = yield* cli.waitForLog("listening")
        // The default cap: the limit minus its reserve of 64.
        assert.strictEqual(logFields(listening).maxConnections, 192)
        const port = yield* listeningPort(cli)
        const url = yield* metricsUrl(cli)
        // A refusal beyond the few that may close gracefully is a reset,
        // which can reach a client before its connect completes.
        const attempts = yield* Effect.forEach(Array.from({ length: 600 }), () => Effect.option(connect(port)), {
          concurrency: 50
        })
        const clients = attempts.flatMap((attempt) => (attempt._tag === "Some" ? [attempt.value] : []))
        const counted = yield* waitForMetrics(url, "every client accepted or refused", (text) => {
          const accepted = Number(/^fiberline_connections_accepted_total (\d+)$/m.exec(text)?.[1])
          const refused = Number(/^fiberline_connections_refused_total (\d+)$/m.exec(text)?.[1])
          return accepted + refused === 600
        })
        assert.match(counted, sample("fiberline_connections_accepted_total", 192))
        assert.match(counted, sample("fiberline_connections_refused_total", 408))
        assert.match(counted, sample("fiberline_connections_active", 192))
        yield* cli.waitForLog("server full: refusing connections")
        // The served ones are really served.
        const first = clients[0]!
        yield* first.write("still here\n")
        assert.include(yield* first.readUntil("still here\n"), "still here\n")
        yield* Effect.forEach(clients, (client) => Effect.sync(() => client.socket.destroy()), { discard: true })
        yield* cli.signal("SIGTERM")
        assert.strictEqual((yield* cli.exited()).code, 0)
      }), timeout)
  })

  describe("configuration", () => {
    // `--port 0` keeps a wrongly accepted value from binding the default port.
    const invalid = [
      { args: ["--port", "-5"], flag: "--port", value: "-5" },
      { args: ["--port", "65536"], flag: "--port", value: "65536" },
      { args: ["--port", "0", "--idle-timeout", "banana"], flag: "--idle-timeout", value: "banana" },
      { args: ["--port", "0", "--max-connections", "0"], flag: "--max-connections", value: "0" },
      { args: ["--port", "0", "--log-format", "xml"], flag: "--log-format", value: "xml" },
      { args: ["--port", "0", "--idle-timeout=-5s"], flag: "--idle-timeout", value: "-5s" },
      { args: ["--port", "0", "--write-timeout", "0"], flag: "--write-timeout", value: "0" },
      { args: ["--port", "0", "--metrics-port", "70000"], flag: "--metrics-port", value: "70000" },
      { args: ["--port", "0", "--host", ""], flag: "--host", value: "" },
      { args: ["--port", "0", "--line-timeout", "soon"], flag: "--line-timeout", value: "soon" }
    ]
    for (const { args, flag, value } of invalid) {
      it.live(`echo ${args.join(" ")} exits non-zero and names the flag and value on stderr`, () =>
        Effect.gen(function*() {
          const { code, stderr } = yield* runCli(["echo", ...args])
          assert.isNotNull(code)
          assert.notStrictEqual(code, 0)
          assert.include(stderr, flag)
          assert.include(stderr, `"${value}"`)
          assert.notInclude(stderr, "listening")
        }), timeout)
    }

    it.live("FIBERLINE_PORT and FIBERLINE_LOG_FORMAT are read when the flags are absent", () =>
      Effect.gen(function*() {
        const cli = yield* spawnCli(["echo"], { env: { FIBERLINE_PORT: "0", FIBERLINE_LOG_FORMAT: "json" } })
        const port = yield* listeningPort(cli)
        assert.notStrictEqual(port, 1234, "port 0 from the environment, not the default 1234")
        assertAllJson(yield* cli.stderrLines)
        yield* cli.signal("SIGTERM")
        assert.deepStrictEqual(yield* cli.exited(), { code: 0, signal: null })
      }), timeout)

    it.live("a flag wins over its environment variable", () =>
      Effect.gen(function*() {
        const cli = yield* spawnCli(["echo", "--port", "0", "--log-format", "json"], {
          env: { FIBERLINE_PORT: "-5", FIBERLINE_LOG_FORMAT: "pretty" }
        })
        yield* listeningPort(cli)
        yield* cli.signal("SIGTERM")
        assert.deepStrictEqual(yield* cli.exited(), { code: 0, signal: null })
      }), timeout)
  })
})
