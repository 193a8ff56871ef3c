// Copied verbatim (below this header) from ../shared/bench/node-statemachine.mjs, a reference
// server shared with the fiberline project, so the bench runs where that directory
// is absent. bench/run.ts prefers ../shared/bench/node-statemachine.mjs when present.
// Usage: node node-statemachine.mjs PORT (listens on 127.0.0.1).

// Hand-written Node line echo: split chunks on \n, write each line back, cork per chunk.
import net from "node:net"
const port = Number(process.argv[2])
net.createServer((sock) => {
  let rest = ""
  sock.setEncoding("utf8")
  sock.on("data", (chunk) => {
    const data = rest + chunk
    let start = 0, nl
    sock.cork()
    while ((nl = data.indexOf("\n", start)) !== -1) { sock.write(data.slice(start, nl + 1)); start = nl + 1 }
    sock.uncork()
    rest = data.slice(start)
  })
  sock.on("error", () => {})
}).listen(port, "127.0.0.1")
