/**
 * An app's own handler served by the installed fiberline: `.ci/pack-check.ts`
 * copies this file into an app outside the repository, type-checks it against
 * the package and runs it. It serves on port 0, sends one line, and exits 0
 * only if the handler's answer came back — and the built-in echo, from its
 * own entry point, answered the test kit's in-memory peer.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import { type Connection, LineServer } from "fiberline"
import { Echo } from "fiberline/echo"
import { TestConnection } from "fiberline/testing"
import * as Net from "node:net"

const shout = (conn: Connection.Connection) =>
  Effect.forever(Effect.flatMap(conn.readLine, (line) => conn.writeLine(line.toUpperCase()))).pipe(
    Effect.catchTag("EndOfInput", () => Effect.void)
  )

/** Sends `line` and ends the input; resolves with everything that came back before the close. */
const ask = (port: number, line: string) =>
  new Promise<string>((resolve, reject) => {
    const socket = Net.connect(port, "127.0.0.1", () => socket.end(`${line}\n`))
    let received = ""
    socket.setEncoding("utf8").on("data", (chunk: string) => received += chunk)
    socket.on("error", reject).on("close", () => resolve(received))
  })

const program = Effect.gen(function*() {
  const server = yield* LineServer.make({ handler: shout, port: 0 })
  const port = LineServer.port(server)
  const reply = yield* Effect.promise(() => ask(port, "hello from the app"))
  if (reply !== "HELLO FROM THE APP\n") return yield* Effect.die(new Error(`unexpected reply ${JSON.stringify(reply)}`))
  process.stdout.write(`app: its handler on 127.0.0.1:${port} answered ${JSON.stringify(reply)}\n`)
  const { output } = yield* TestConnection.run(Echo.echo, ["ping\n"])
  if (output !== "ping\n") return yield* Effect.die(new Error(`unexpected echo ${JSON.stringify(output)}`))
  process.stdout.write(`app: fiberline/echo over fiberline/testing answered ${JSON.stringify(output)}\n`)
}).pipe(Effect.scoped)

NodeRuntime.runMain(program)
