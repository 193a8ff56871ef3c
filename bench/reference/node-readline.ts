/**
 * Idiomatic blocking-style Node for the echo bench: one `readline` interface
 * per connection, read with `for await`, each line written back with its
 * newline as soon as it is read.
 *
 * Usage: `node bench/reference/node-readline.ts PORT` — listens on
 * 127.0.0.1:PORT until it is killed.
 */
import * as Net from "node:net"
import * as Readline from "node:readline"

const port = Number(process.argv[2])

const echo = async (socket: Net.Socket): Promise<void> => {
  const lines = Readline.createInterface({ input: socket, crlfDelay: Infinity })
  try {
    for await (const line of lines) socket.write(`${line}\n`)
  } catch {
    // The connection was reset: the loop ends with it.
  }
  socket.end()
}

Net.createServer((socket) => {
  socket.on("error", () => socket.destroy())
  void echo(socket)
}).listen(port, "127.0.0.1")
