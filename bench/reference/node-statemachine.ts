/**
 * The bar of the echo bench: line framing written by hand on `data` events,
 * as a Node developer would write the echo without a library. Each chunk is
 * scanned for newlines; the lines completed by it are written back one
 * `write` each between `cork()` and `uncork()` (so one `writev` per chunk),
 * and the bytes after the last newline wait for the rest of their line.
 *
 * Usage: `node bench/reference/node-statemachine.ts PORT [--nodelay]` —
 * listens on 127.0.0.1:PORT until it is killed; `--nodelay` turns Nagle's
 * algorithm off on every connection, as fiberline does.
 */
import * as Net from "node:net"

const NEWLINE = 0x0a
const port = Number(process.argv[2])
const noDelay = process.argv.includes("--nodelay")

Net.createServer({ noDelay }, (socket) => {
  // The start of a line whose newline has not arrived yet.
  let partial: Buffer | undefined
  socket.on("data", (chunk: Buffer) => {
    const data = partial === undefined ? chunk : Buffer.concat([partial, chunk])
    partial = undefined
    let start = 0
    let newline = data.indexOf(NEWLINE)
    if (newline !== -1) {
      socket.cork()
      while (newline !== -1) {
        socket.write(data.subarray(start, newline + 1))
        start = newline + 1
        newline = data.indexOf(NEWLINE, start)
      }
      socket.uncork()
    }
    // A copy, so a few bytes held over do not keep the whole chunk alive.
    if (start < data.length) partial = Buffer.from(data.subarray(start))
  })
  socket.on("error", () => socket.destroy())
}).listen(port, "127.0.0.1")
