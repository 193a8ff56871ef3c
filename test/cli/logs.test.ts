/**
 * `--log-format json` has one shape for every line: `timestamp`, `level`,
 * `message` (always a string), then the entry's fields and the fiber's
 * annotations as fields of their own; the line that closes a connection
 * carries its duration and the bytes and lines it took in and out.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { connect } from "../fixtures/client.ts"
import { listeningPort, spawnCli } from "../fixtures/cli.ts"

describe("JSON logs", () => {
  it.live("every line is one object of one shape; the closing line carries the connection's traffic", () =>
    Effect.gen(function*() {
      const cli = yield* spawnCli(["echo", "--port", "0", "--log-format", "json", "--log-level", "debug"])
      const port = yield* listeningPort(cli)
      const client = yield* connect(port)
      const localPort = client.socket.localPort
      yield* client.write("hello\nworld\n")
      yield* Effect.timeout(client.readUntil("world\n"), "10 seconds")
      yield* client.end
      yield* Effect.timeout(client.closed, "10 seconds")
      const closedLine = yield* cli.waitForStderrLine("the closing line", (line) => line.includes("connection closed"))
      yield* cli.signal("SIGTERM")
      yield* cli.exited()
      const lines = (yield* cli.stderrLines).filter((line) => line.trim() !== "")
      assert.isAtLeast(lines.length, 4)
      for (const line of lines) {
        const entry = JSON.parse(line) as Record<string, unknown>
        assert.isString(entry.message, line)
        assert.isString(entry.level, line)
        assert.isString(entry.timestamp, line)
      }
      const closed = JSON.parse(closedLine) as Record<string, unknown>
      assert.strictEqual(closed.message, "connection closed")
      assert.strictEqual(closed.reason, "end-of-input")
      assert.strictEqual(closed.client, `127.0.0.1:${localPort}`)
      assert.isNumber(closed.connection)
      assert.isNumber(closed.durationMs)
      assert.strictEqual(closed.bytesIn, 12)
      assert.strictEqual(closed.bytesOut, 12)
      assert.strictEqual(closed.linesIn, 2)
      assert.strictEqual(closed.linesOut, 2)
    }).pipe(Effect.scoped))
})
