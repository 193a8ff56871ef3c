/**
 * `LineServer.serveStdio` as `fiberline … --stdio` runs it (real
 * processes): a signal drains the connection as a server's shutdown does —
 * the handler's read fails with `ServerShuttingDown` once it is quiet, so it
 * can say goodbye, and the exit is 0 — and a handler that never gets quiet
 * is forced at `--shutdown-timeout`, exit 1.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { type CliProcess, spawnCli } from "../fixtures/cli.ts"

const timeout = 120_000

/** Waits (bounded: 20 s, in real time) until the child's stdout holds `text`. */
const stdoutHolds = (cli: CliProcess, text: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 400 && !(yield* cli.stdout).toString().includes(text); i++) {
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 50)))
    }
    assert.include((yield* cli.stdout).toString(), text)
  })

describe("--stdio and signals", () => {
  it.live("SIGTERM with the connection quiet: the handler gets ServerShuttingDown and says goodbye; exit 0", () =>
    Effect.gen(function*() {
      const cli = yield* spawnCli(["serve", "examples/shout.ts", "--stdio", "--log-format", "json"])
      yield* cli.writeStdin("hello\n")
      yield* stdoutHolds(cli, "HELLO\n")
      yield* cli.signal("SIGTERM")
      assert.deepStrictEqual(yield* cli.exited(), { code: 0, signal: null })
      assert.strictEqual((yield* cli.stdout).toString(), "HELLO\nBYE\n")
      assert.include(yield* cli.stderr, "\"drained\":1")
    }), timeout)

  it.live("a handler that never gets quiet is forced at --shutdown-timeout: exit 1", () =>
    Effect.gen(function*() {
      const cli = yield* spawnCli(["serve", "test/fixtures/handlers/stubborn.ts", "--stdio", "--shutdown-timeout", "300ms", "--log-format", "json"])
      yield* cli.waitForLog("stubborn handler started")
      yield* cli.signal("SIGTERM")
      assert.deepStrictEqual(yield* cli.exited("20 seconds"), { code: 1, signal: null })
      assert.include(yield* cli.stderr, "\"forced\":1")
    }), timeout)
})
