/**
 * Effect-native baseline for the benchmark: the line echo written directly on
 * `NodeSocketServer` and `effect/socket`, the way an Effect user would write
 * it today without fiberline. Lines are split by hand over the socket's
 * `pull` (a remainder buffer plus `indexOf("\n")`), and the lines of one pull
 * are written back with one `writeAll`.
 *
 * Usage: `node bench/effect-baseline.ts PORT` — listens on 127.0.0.1:PORT
 * until SIGINT/SIGTERM.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import { Array as Arr, Effect } from "effect"
import type * as Socket from "effect/socket/Socket"
import { Buffer } from "node:buffer"

const NEWLINE = 0x0a
const EMPTY = Buffer.alloc(0)

/** Echoes every complete line of one connection until the peer closes it. */
const echoLines = (socket: Socket.Socket) =>
  Effect.gen(function*() {
    const { pull } = yield* socket.reader
    const writer = yield* socket.writer
    // Bytes after the last newline seen, waiting for the rest of their line.
    let rest: Buffer = EMPTY
    while (true) {
      const chunks = yield* pull
      const lines: Array<Uint8Array> = []
      for (const chunk of chunks) {
        // TCP sockets yield Buffers; strings only come from text transports.
        const bytes = typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
        const data = rest.length === 0 ? bytes : Buffer.concat([rest, bytes])
        let start = 0
        let newline = data.indexOf(NEWLINE, start)
        while (newline !== -1) {
          lines.push(data.subarray(start, newline + 1))
          start = newline + 1
          newline = data.indexOf(NEWLINE, start)
        }
        rest = data.subarray(start)
      }
      if (Arr.isArrayNonEmpty(lines)) yield* writer.writeAll(lines)
    }
  }).pipe(
    Effect.scoped,
    // Every termination is a SocketError: the peer's clean EOF (a
    // SocketCloseError with code 1000) as well as a reset when a load
    // generator exits with lines in flight. Both just end this connection,
    // as `sock.on("error", () => {})` does in the reference Node servers.
    Effect.catchTag("SocketError", () => Effect.void)
  )

const port = Number(process.argv[2])

const main = Effect.gen(function*() {
  const server = yield* NodeSocketServer.make({ port, host: "127.0.0.1" })
  return yield* server.run(echoLines)
}).pipe(Effect.scoped)

NodeRuntime.runMain(main)
