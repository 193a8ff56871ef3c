/**
 * The tolerant shim of `redis-suite.ts`: a loopback TCP proxy in front of a
 * server that rewrites the two requests Redis's test suite needs before it can
 * run a single test against an external server — `FUNCTION FLUSH` (sent by
 * every `start_server`) and `CONFIG SET` (the blocks' overrides, and many
 * tests) — into `SELECT 0`, whose `+OK` is what Redis answers them with.
 * Everything else passes through byte for byte, in order, so the replies keep
 * their order too. It reads requests only while they are well-formed multibulk
 * (`*N`, then `$L` arguments); at the first byte that is not (an inline
 * command, the protocol unit's deliberate garbage), that connection becomes a
 * plain pipe for good. Only the request being looked at is held back, and only
 * while it may be one of the two (a 1 MiB bound); bulk bodies of other
 * requests stream through.
 */
import * as Net from "node:net"

/** The request sent in place of a tolerated one: answered `+OK` by any server with database 0. */
const replacement = Buffer.from("*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n")

/** The longest `*N` or `$L` line accepted, and the most bytes held back for one request. */
const MAX_HEADER = 32
const MAX_HELD = 1 << 20

/** Counts of what a shim rewrote, by request (`FUNCTION FLUSH`, `CONFIG SET`). */
export type Rewrites = Map<string, number>

/** The tolerated requests, by their first two arguments in lower case. */
const tolerated = (first: string, second: string): string | undefined =>
  first === "function" && second === "flush" ? "FUNCTION FLUSH" : first === "config" && second === "set" ? "CONFIG SET" : undefined

/**
 * The client side of one connection: a function of each chunk the client
 * sends that returns the bytes to send upstream now, tolerated requests
 * replaced (and counted in `rewrites`).
 */
export const requestRewriter = (rewrites: Rewrites): (chunk: Buffer) => Array<Buffer> => {
  let piping = false
  let line = "" // a `*N` or `$L` line being read
  let argsLeft = 0 // arguments of the current request still to come; 0: between requests
  let bodyLeft = -1 // bytes of the current argument's body (+ CRLF) still to come; -1: its `$L` line is next
  let argIndex = 0
  let name = [] as Array<string> // the first two arguments, while the request is held
  let held: Array<Buffer> | undefined // the current request's bytes, while it may be tolerated
  let heldBytes = 0

  return (chunk: Buffer): Array<Buffer> => {
    if (piping) return [chunk]
    const out: Array<Buffer> = []
    let start = 0 // first byte of `chunk` not yet forwarded or held
    const keep = (end: number) => {
      if (end <= start) return
      const piece = chunk.subarray(start, end)
      if (held !== undefined) {
        held.push(piece)
        heldBytes += piece.length
      } else {
        out.push(piece)
      }
      start = end
    }
    const release = () => {
      if (held !== undefined) out.push(...held)
      held = undefined
      heldBytes = 0
    }
    const endRequest = (at: number) => {
      keep(at)
      const rewrite = held === undefined ? undefined : tolerated(name[0] ?? "", name[1] ?? "")
      if (rewrite !== undefined) {
        rewrites.set(rewrite, (rewrites.get(rewrite) ?? 0) + 1)
        out.push(replacement)
        held = undefined
        heldBytes = 0
      } else {
        release()
      }
    }
    let at = 0
    while (at < chunk.length) {
      if (bodyLeft > 0) {
        const take = Math.min(bodyLeft, chunk.length - at)
        if (held !== undefined && argIndex < 2) name[argIndex] = (name[argIndex] ?? "") + chunk.toString("latin1", at, at + take)
        at += take
        bodyLeft -= take
        if (bodyLeft > 0) break
        if (held !== undefined && argIndex < 2) {
          name[argIndex] = (name[argIndex] ?? "").slice(0, -2).toLowerCase()
          const first = name[0] ?? ""
          const stillPossible = argIndex === 0 ? first === "function" || first === "config" : tolerated(first, name[1] ?? "") !== undefined
          if (!stillPossible) {
            keep(at)
            release()
          }
        }
        argIndex++
        argsLeft--
        bodyLeft = -1
        if (argsLeft === 0) endRequest(at)
        continue
      }
      // A header line: `*N` between requests, `$L` before each argument. A new
      // request is held from its first byte, so a `*N` split between reads is too.
      if (argsLeft === 0 && line === "" && held === undefined) {
        keep(at)
        held = []
      }
      const byte = chunk[at++]!
      line += String.fromCharCode(byte)
      if (byte !== 0x0a) {
        if (line.length > MAX_HEADER) break
        continue
      }
      const header = /^([*$])(-?\d+)\r\n$/.exec(line)
      const expected = argsLeft === 0 ? "*" : "$"
      line = ""
      if (header === null || header[1] !== expected) {
        at = -1
        break
      }
      const count = Number(header[2])
      if (expected === "*") {
        if (count <= 0) {
          // An empty or null multibulk: nothing to run, nothing to look at.
          keep(at)
          release()
          continue
        }
        argsLeft = count
        argIndex = 0
        name = []
      } else {
        if (count < 0) {
          at = -1
          break
        }
        bodyLeft = count + 2
        // Arguments that cannot spell `function`/`config`/`flush`/`set` end the holding.
        if (held !== undefined && argIndex < 2 && count > 8) {
          keep(at)
          release()
        }
      }
    }
    if (at === -1 || line.length > MAX_HEADER || heldBytes > MAX_HELD) {
      // Not a request this shim reads: from here on, a plain pipe.
      piping = true
      release()
      out.push(chunk.subarray(start))
      return out
    }
    keep(chunk.length)
    return out
  }
}

/** A running shim. */
export interface Shim {
  readonly port: number
  /** What it rewrote so far. */
  readonly rewrites: Rewrites
  /** Stops listening and closes every connection it carries. */
  readonly close: () => Promise<void>
}

/** Starts a shim on a free loopback port in front of `127.0.0.1:upstreamPort`. */
export const startShim = (upstreamPort: number): Promise<Shim> => {
  const rewrites: Rewrites = new Map()
  const sockets = new Set<Net.Socket>()
  const server = Net.createServer({ noDelay: true }, (client) => {
    const upstream = Net.connect({ host: "127.0.0.1", port: upstreamPort, noDelay: true })
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.once("close", () => sockets.delete(socket))
    }
    const rewrite = requestRewriter(rewrites)
    client.on("data", (chunk: Buffer) => {
      for (const piece of rewrite(chunk)) upstream.write(piece)
    })
    upstream.pipe(client)
    // Half-closes pass through; a reset on either side resets the other.
    client.once("end", () => upstream.end())
    client.once("error", () => upstream.destroy())
    upstream.once("error", () => client.destroy())
    client.once("close", () => upstream.end())
  })
  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen({ host: "127.0.0.1", port: 0 }, () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      resolve({
        port,
        rewrites,
        close: () =>
          new Promise((done) => {
            for (const socket of sockets) socket.destroy()
            server.close(() => done())
          })
      })
    })
  })
}
