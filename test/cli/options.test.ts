/**
 * The `fiberline` flags derived from the library's option schemas, as an
 * operator meets them (real processes): `--help` shows each flag's type; a
 * value the schema refuses — from a flag or its variable, `--log-level`'s
 * included — is one line naming it and the value, exit 2, for the server's
 * flags and the protocols' alike (one number parser); `--line-ending` and a
 * handler module's `connection` give a CRLF protocol its line ending; and
 * `fiberline` alone prints a short usage on stderr.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { connect } from "../fixtures/client.ts"
import { listeningPort, runCli, spawnCli } from "../fixtures/cli.ts"
import { pemPath } from "../fixtures/tls.ts"

const timeout = 120_000

describe("fiberline --help", () => {
  it.live("every flag shows its type, none a bare string; --log-level has its variable", () =>
    Effect.gen(function*() {
      const { code, stdout } = yield* runCli(["echo", "--help"])
      assert.strictEqual(code, 0)
      const help = stdout.toString()
      for (
        const [flag, type] of [
          ["--port", "port"],
          ["--idle-timeout", "duration"],
          ["--max-line-length", "bytes"],
          ["--unix-mode", "mode"],
          ["--when-full", "refuse|queue"],
          ["--line-ending", "lf|crlf"],
          ["--log-level", "all|trace|debug|info|warn|warning|error|fatal|none"]
        ] as const
      ) assert.match(help, new RegExp(`^\\s+${flag} ${type.replaceAll("|", "\\|")}\\s`, "m"), flag)
      assert.notMatch(help, /^\s+--[a-z-]+ string\s/m)
      assert.include(help, "Sets the minimum log level (env FIBERLINE_LOG_LEVEL)")
      const redis = (yield* runCli(["redis", "--help"])).stdout.toString()
      assert.match(redis, /^\s+--proto-max-bulk-len integer\s/m)
    }), timeout)
})

describe("a value the schema refuses: one line naming it, exit 2, nothing bound", () => {
  const cert = ["--tls-cert", pemPath("server.crt"), "--tls-key", pemPath("server.key")]
  const refused: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
    [["echo", "--port", "0", ...cert, "--tls-handshake-timeout", "Infinity"], "fiberline echo: invalid --tls-handshake-timeout \"Infinity\": expected a finite duration"],
    [["echo", "--port", "0", "--proxy-protocol", "v1", "--proxy-header-timeout", "Infinity"], "fiberline echo: invalid --proxy-header-timeout \"Infinity\": expected a finite duration"],
    [["echo", "--unix", "x.sock", "--unix-mode", "1777"], "fiberline echo: invalid --unix-mode \"1777\": expected a file mode from 000 to 777 (octal: permission bits only)"],
    [["echo", "--unix", "x.sock", "--unix-mode", "4777"], "fiberline echo: invalid --unix-mode \"4777\": expected a file mode from 000 to 777 (octal: permission bits only)"],
    [["echo", "--port", "0", "--idle-timeout", "-1s"], "fiberline echo: invalid --idle-timeout \"-1s\": expected a duration of 0 (never) or more"],
    [["echo", "--port", "0", "--write-timeout", "-1s"], "fiberline echo: invalid --write-timeout \"-1s\": expected a duration of more than 0"],
    [["echo", "--port", "1e3"], "fiberline echo: invalid --port \"1e3\": expected an integer from 0 to 65535"],
    [["echo", "--port", "0", "--line-ending", "cr"], "fiberline echo: invalid --line-ending \"cr\": expected lf or crlf"],
    [["echo", "--port", "0", "--log-level", "loud"], "fiberline echo: invalid --log-level \"loud\": expected one of all, trace, debug, info, warn, warning, error, fatal, none"],
    [["redis", "--port", "0", "--proto-max-bulk-len", "1e3"], "fiberline redis: invalid --proto-max-bulk-len \"1e3\": expected an integer from 1 to 536870888"],
    [["redis", "--port", "0", "--pubsub-output-limit", "1e3"], "fiberline redis: invalid --pubsub-output-limit \"1e3\": expected a positive integer"],
    [["chat", "--port", "0", "--renames-per-minute", "1e3"], "fiberline chat: invalid --renames-per-minute \"1e3\": expected a positive integer"],
    [["chat", "--port", "0", "--lines-per-second", "1e3"], "fiberline chat: invalid --lines-per-second \"1e3\": expected 0 (no limit) or a positive integer"]
  ]
  for (const [args, says] of refused) {
    it.live(args.join(" ").replaceAll(/\S*\/test\/fixtures\/tls\//g, ""), () =>
      Effect.gen(function*() {
        const { code, stderr, stdout } = yield* runCli(args)
        assert.strictEqual(stderr, `${says}\n`)
        assert.strictEqual(stdout.length, 0)
        assert.strictEqual(code, 2)
      }), timeout)
  }

  it.live("FIBERLINE_LOG_LEVEL sets the level like the flag, which wins; a bad one is named", () =>
    Effect.gen(function*() {
      const quiet = yield* runCli(["echo", "--stdio"], { stdin: "x\n" })
      assert.strictEqual(quiet.stderr, "")
      const debug = yield* runCli(["echo", "--stdio"], { stdin: "x\n", env: { FIBERLINE_LOG_LEVEL: "debug" } })
      assert.include(debug.stderr, "connection closed")
      const flagWins = yield* runCli(["--log-level", "info", "echo", "--stdio"], { stdin: "x\n", env: { FIBERLINE_LOG_LEVEL: "debug" } })
      assert.strictEqual(flagWins.stderr, "")
      const empty = yield* runCli(["echo", "--stdio"], { stdin: "x\n", env: { FIBERLINE_LOG_LEVEL: "" } })
      assert.deepStrictEqual([empty.code, empty.stderr], [0, ""], "an empty variable counts as unset")
      const bad = yield* runCli(["echo", "--stdio"], { stdin: "x\n", env: { FIBERLINE_LOG_LEVEL: "loud" } })
      assert.strictEqual(
        bad.stderr,
        "fiberline echo: invalid FIBERLINE_LOG_LEVEL \"loud\": expected one of all, trace, debug, info, warn, warning, error, fatal, none\n"
      )
      assert.strictEqual(bad.code, 2)
    }), timeout)
})

describe("line endings of fiberline serve", () => {
  it.live("the README's SMTP example answers in CRLF (its module exports `connection`); --line-ending lf overrides it", () =>
    Effect.gen(function*() {
      const cli = yield* spawnCli(["serve", "examples/smtpish.ts", "--port", "0", "--log-format", "json"])
      const client = yield* connect(yield* listeningPort(cli))
      yield* client.write("EHLO me\r\nQUIT\r\n")
      const { data } = yield* client.closed
      assert.strictEqual(data.toString(), "220 smtpish ready\r\n250-smtpish\r\n250-STARTTLS\r\n250 plaintext\r\n221 bye\r\n")
      yield* cli.signal("SIGTERM")
      assert.strictEqual((yield* cli.exited()).code, 0)
      const lf = yield* runCli(["serve", "examples/smtpish.ts", "--stdio", "--line-ending", "lf"], { stdin: "QUIT\r\n" })
      assert.strictEqual(lf.stdout.toString(), "220 smtpish ready\n221 bye\n")
      const variable = yield* runCli(["serve", "examples/smtpish.ts", "--stdio"], { stdin: "QUIT\r\n", env: { FIBERLINE_LINE_ENDING: "lf" } })
      assert.strictEqual(variable.stdout.toString(), "220 smtpish ready\n221 bye\n")
    }), timeout)

  it.live("a module's `connection` the schema refuses is one line naming the module, exit 2", () =>
    Effect.gen(function*() {
      const { code, stderr } = yield* runCli(["serve", "test/fixtures/handlers/badConnection.ts", "--port", "0"])
      assert.strictEqual(
        stderr,
        "fiberline serve: handler module test/fixtures/handlers/badConnection.ts: export \"connection\": option lineEnding: expected \"\\n\" | \"\\r\\n\", got \"\\r\"\n"
      )
      assert.strictEqual(code, 2)
    }), timeout)
})

describe("usage", () => {
  it.live("fiberline alone: a short usage on stderr, nothing on stdout, exit 2", () =>
    Effect.gen(function*() {
      const { code, stderr, stdout } = yield* runCli([])
      assert.strictEqual(stdout.length, 0)
      assert.strictEqual(
        stderr,
        "Usage: fiberline <subcommand> [flags]\nSubcommands: echo, chat, redis, serve\nTry 'fiberline --help' for more.\n"
      )
      assert.strictEqual(code, 2)
    }), timeout)

  it.live("serve names the files it loads one way: .js, .mjs, .ts or .mts", () =>
    Effect.gen(function*() {
      const help = (yield* runCli(["serve", "--help"])).stdout.toString()
      assert.include(help, "A .js, .mjs, .ts or .mts file")
      const wrong = yield* runCli(["serve", "README.md", "--port", "0"])
      assert.strictEqual(wrong.stderr, "fiberline serve: handler module README.md: expected a .js, .mjs, .ts or .mts file\n")
    }), timeout)
})
