// Runs a reference server with Nagle's algorithm off (setNoDelay on every
// accepted socket), as fiberline runs, so the two compare like with like:
//   node bench/nodelay.mjs REFERENCE.mjs PORT
// The reference scripts are used unchanged; this only wraps net.createServer.
import net from "node:net"
import { pathToFileURL } from "node:url"

const [reference] = process.argv.splice(2, 1)
const createServer = net.createServer
net.createServer = (...args) => createServer(...args).on("connection", (socket) => socket.setNoDelay(true))
await import(pathToFileURL(reference).href)
