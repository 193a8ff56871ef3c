// Copied verbatim (below this header) from ../shared/bench/node-pipe.mjs, a reference
// server shared with the fiberline project, so the bench runs where that directory
// is absent. bench/run.ts prefers ../shared/bench/node-pipe.mjs when present.
// Usage: node node-pipe.mjs PORT (listens on 127.0.0.1).

// Upper bound for Node: bytes piped straight back, no line framing at all.
import net from "node:net"
const port = Number(process.argv[2])
net.createServer((sock) => { sock.on("error", () => {}); sock.pipe(sock) }).listen(port, "127.0.0.1")
