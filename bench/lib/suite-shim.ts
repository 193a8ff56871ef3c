/**
 * The tolerant shim of `redis-suite.ts`: a loopback TCP proxy in front of a
 * server that answers the requests Redis's test suite makes for its own
 * set-up, which would otherwise stop a block or a whole unit before its tests
 * run on a server that lacks them. It rewrites, into requests any server with
 * database 0 answers the same way:
 *
 * - `FUNCTION FLUSH [ASYNC|SYNC]` (every `start_server`) into `SELECT 0` (`+OK`):
 *   a server without functions has none to flush;
 * - `CONFIG SET` of parameters that only tune Redis's internal encodings or
 *   its snapshots ({@link representationOnly}) into `SELECT 0` (`+OK`): a server
 *   without those encodings or persistence loses nothing by ignoring them;
 * - `MEMORY USAGE key` into `EXISTS key` (1 for a key that exists): the suite's
 *   `memory_usage` helper only needs a number from it when the server's INFO
 *   names no jemalloc.
 *
 * Everything else, other `CONFIG SET`s included, passes through byte for byte,
 * in order, so the replies keep their order too. It reads requests only while
 * they are well-formed multibulk (`*N`, then `$L` arguments); at the first
 * byte that is not (an inline command, the protocol unit's deliberate
 * garbage), that connection becomes a plain pipe for good. Only a request that
 * may be one of these is held back, until it is complete (at most 64
 * arguments and 1 MiB); other requests stream through as they arrive.
 */
import * as Net from "node:net"

/** The longest `*N` or `$L` line read, the most arguments and bytes held back for one request. */
const MAX_HEADER = 32
const MAX_HELD_ARGS = 64
const MAX_HELD = 1 << 20
/** The longest first or second argument of a request that can be rewritten (`function`, `usage`, …). */
const MAX_NAME = 8

/** Counts of what a shim rewrote, by request (`FUNCTION FLUSH`, `CONFIG SET save`, `MEMORY USAGE`). */
export type Rewrites = Map<string, number>

/** `CONFIG SET` parameters that change only how Redis stores values, or when it snapshots them. */
const representationOnly =
  /^((hash|zset|set|list)-max-(ziplist|listpack|intset)-(entries|value|size)|list-compress-depth|stream-node-max-(entries|bytes)|hll-sparse-max-bytes|save)$/

const encode = (args: ReadonlyArray<string>) =>
  Buffer.from(`*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg, "latin1")}\r\n${arg}\r\n`).join("")}`, "latin1")
const selectZero = encode(["SELECT", "0"])

/** Whether a request with these first two arguments (lower case) may be rewritten, once complete. */
const mayRewrite = (first: string, second: string | undefined): boolean =>
  second === undefined
    ? first === "function" || first === "config" || first === "memory"
    : (first === "function" && second === "flush") || (first === "config" && second === "set") || (first === "memory" && second === "usage")

/** What to send instead of the complete request `args`, and the name it is counted under; undefined: send it as it is. */
export const rewriteOf = (args: ReadonlyArray<string>): { readonly label: string; readonly bytes: Buffer } | undefined => {
  const [first = "", second = ""] = args.slice(0, 2).map((arg) => arg.toLowerCase())
  if (first === "function" && second === "flush" && args.length <= 3) return { label: "FUNCTION FLUSH", bytes: selectZero }
  if (first === "memory" && second === "usage" && args.length === 3) return { label: "MEMORY USAGE", bytes: encode(["EXISTS", args[2] ?? ""]) }
  if (first !== "config" || second !== "set" || args.length < 4 || args.length % 2 !== 0) return undefined
  const parameters = args.slice(2).filter((_, index) => index % 2 === 0).map((parameter) => parameter.toLowerCase())
  if (!parameters.every((parameter) => representationOnly.test(parameter))) return undefined
  return { label: `CONFIG SET ${parameters.join(" ")}`, bytes: selectZero }
}

/**
 * The client side of one connection: a function of each chunk the client
 * sends that returns the bytes to send upstream now, with the requests
 * {@link rewriteOf} names replaced (and counted in `rewrites`).
 */
export const requestRewriter = (rewrites: Rewrites): (chunk: Buffer) => Array<Buffer> => {
  let piping = false
  let line = "" // a `*N` or `$L` line being read
  let argsLeft = 0 // arguments of the current request still to come; 0: between requests
  let bodyLeft = -1 // bytes of the current argument's body (+ CRLF) still to come; -1: its `$L` line is next
  let args: Array<string> = [] // the current request's arguments so far, while it is held
  let held: Array<Buffer> | undefined // the current request's bytes, while it may be rewritten
  let heldBytes = 0

  return (chunk: Buffer): Array<Buffer> => {
    if (piping) return [chunk]
    const out: Array<Buffer> = []
    let start = 0 // first byte of `chunk` not yet forwarded or held
    /** Moves `chunk[start, end)` to the held request, or out when nothing is held. */
    const keep = (end: number) => {
      if (end <= start) return
      const piece = chunk.subarray(start, end)
      if (held === undefined) {
        out.push(piece)
      } else {
        held.push(piece)
        heldBytes += piece.length
      }
      start = end
    }
    /** Stops holding the current request: what was held goes out, the rest will stream. */
    const release = (at: number) => {
      keep(at)
      if (held !== undefined) out.push(...held)
      held = undefined
      heldBytes = 0
    }
    const endRequest = (at: number) => {
      const rewrite = held === undefined ? undefined : rewriteOf(args)
      if (rewrite === undefined) return release(at)
      start = at
      held = undefined
      heldBytes = 0
      rewrites.set(rewrite.label, (rewrites.get(rewrite.label) ?? 0) + 1)
      out.push(rewrite.bytes)
    }
    let at = 0
    while (at < chunk.length) {
      if (bodyLeft > 0) {
        const take = Math.min(bodyLeft, chunk.length - at)
        const index = args.length - 1
        if (held !== undefined) args[index] += chunk.toString("latin1", at, at + take)
        at += take
        bodyLeft -= take
        if (bodyLeft > 0) break
        argsLeft--
        bodyLeft = -1
        if (held !== undefined) {
          args[index] = (args[index] ?? "").slice(0, -2)
          if (index < 2 && !mayRewrite(args[0]!.toLowerCase(), index === 1 ? args[1]!.toLowerCase() : undefined)) release(at)
        }
        if (argsLeft === 0) endRequest(at)
        continue
      }
      // A header line: `*N` between requests, `$L` before each argument. A
      // request is held from its first byte, so a `*N` split between reads is too.
      if (argsLeft === 0 && line === "" && held === undefined) {
        keep(at)
        held = []
        args = []
      }
      const byte = chunk[at++]!
      line += String.fromCharCode(byte)
      const expected = argsLeft === 0 ? "*" : "$"
      if (byte !== 0x0a) {
        // Checked byte by byte, so that anything else (an inline command, a
        // lone byte) is piped at once, not held waiting for a line end.
        if (line.length > MAX_HEADER || line[0] !== expected || !/^.-?\d*\r?$/.test(line)) {
          at = -1
          break
        }
        continue
      }
      const header = /^([*$])(-?\d+)\r\n$/.exec(line)
      line = ""
      if (header === null || header[1] !== expected) {
        at = -1
        break
      }
      const count = Number(header[2])
      if (expected === "*") {
        argsLeft = Math.max(count, 0)
        // An empty or null multibulk runs nothing; a long one cannot be rewritten.
        if (count <= 0 || count > MAX_HELD_ARGS) release(at)
      } else if (count < 0) {
        at = -1
        break
      } else {
        bodyLeft = count + 2
        if (held !== undefined) {
          args.push("")
          if (args.length <= 2 && count > MAX_NAME) release(at)
        }
      }
    }
    if (at === -1 || heldBytes > MAX_HELD) {
      // Not a request this shim reads, or too big to hold: from here on, a plain pipe.
      piping = true
      release(start)
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
  const server = Net.createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
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
    // The client's half-close passes through, and what the server still sends
    // reaches it. The server's close is a whole close, as Redis's is: once its
    // last bytes are written, the client socket is destroyed, so that the
    // client's next write fails as it would against the server itself. A
    // reset on either side resets the other.
    client.once("end", () => upstream.end())
    client.once("finish", () => client.destroy())
    client.once("error", () => upstream.destroy())
    upstream.once("error", () => client.destroy())
    client.once("close", () => upstream.destroy())
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
