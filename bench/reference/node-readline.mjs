// Copied verbatim (below this header) from ../shared/bench/node-readline.mjs, a reference
// server shared with the fiberline project, so the bench runs where that directory
// is absent. bench/run.ts prefers ../shared/bench/node-readline.mjs when present.
// Usage: node node-readline.mjs PORT (listens on 127.0.0.1).

// Blocking-style Node: readline's async iterator per connection.
import net from "node:net"
import readline from "node:readline"
const port = Number(process.argv[2])
net.createServer(async (sock) => {
  sock.on("error", () => {})
  const rl = readline.createInterface({ input: sock, crlfDelay: Infinity })
  try { for await (const line of rl) sock.write(line + "\n") } catch {}
  sock.end()
}).listen(port, "127.0.0.1")
