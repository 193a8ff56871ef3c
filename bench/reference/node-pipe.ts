/**
 * The ceiling of the echo bench: every byte a client sends is piped straight
 * back, with no line framing at all, so no Node line server can do better.
 *
 * Usage: `node bench/reference/node-pipe.ts PORT` — listens on 127.0.0.1:PORT
 * until it is killed.
 */
import * as Net from "node:net"

const port = Number(process.argv[2])

Net.createServer((socket) => {
  // A load generator that exits with bytes in flight resets its connections; that ends only this one.
  socket.on("error", () => socket.destroy())
  socket.pipe(socket)
}).listen(port, "127.0.0.1")
