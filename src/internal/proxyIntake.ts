/**
 * Reading the PROXY protocol header of a connection that arrives through a
 * load balancer (HAProxy `send-proxy`, nginx `proxy_protocol`, cloud LBs),
 * before the handler (and any TLS) sees a byte: the header says who the
 * client really was; the bytes after it are handed back to the connection
 * untouched.
 *
 * A connection is refused before its handler runs when it comes from a
 * source that is not a trusted proxy, when its header is malformed, when it
 * ends before the header is complete, or when the header takes longer than
 * the header timeout (a slow or silent peer cannot hold its slot).
 *
 * @internal
 */
import { Buffer } from "node:buffer"
import type * as Net from "node:net"
import * as Effect from "effect/Effect"
import { constVoid } from "effect/Function"
import type { Address } from "../services/Address.ts"
import { type Accept, MAX_LENGTH, parse, type ProxyHeader } from "./proxyProtocol.ts"

/** How a listener reads PROXY headers. */
export interface ProxyOptions {
  readonly accept: Accept
  readonly timeoutMillis: number
  /** Source addresses allowed to connect (the proxies); every source when absent. */
  readonly trusted: ReadonlySet<string> | undefined
}

/** Why a connection was refused before its handler ran; `reason` is one log line. */
export class ProxyRejected {
  readonly _tag = "ProxyRejected"
  readonly reason: string
  constructor(reason: string) {
    this.reason = reason
  }
}

/** `::ffff:10.0.0.1` and `10.0.0.1` are one source. */
const plainSource = (address: string): string => (address.startsWith("::ffff:") ? address.slice(7) : address)

/**
 * The set of trusted proxy addresses, normalized as sources are compared.
 */
export const trustedSet = (addresses: ReadonlyArray<string>): ReadonlySet<string> =>
  new Set(addresses.map(plainSource))

/** The client the header names: its source; `undefined` when the socket's own address applies. */
const clientOf = (header: ProxyHeader): Address | undefined => {
  const source = header.addresses?.source
  if (source === undefined) return undefined
  return source.family === "unix"
    ? { family: "unix", path: source.address }
    : { family: source.family, host: source.address, port: source.port }
}

/**
 * Reads the header from a paused socket, leaves the socket paused with the
 * bytes that followed the header put back in front of its input, and returns
 * the real client's address (`undefined`: the socket's own applies, for v1
 * `UNKNOWN` and v2 `LOCAL`).
 */
export const readHeader = (socket: Net.Socket, options: ProxyOptions): Effect.Effect<Address | undefined, ProxyRejected> =>
  Effect.callback<Address | undefined, ProxyRejected>((resume) => {
    const source = socket.remoteAddress
    if (options.trusted !== undefined && (source === undefined || !options.trusted.has(plainSource(source)))) {
      return resume(Effect.fail(new ProxyRejected(`${source ?? "unknown source"} is not a trusted proxy`)))
    }
    // Chunks are gathered, and parsed only once the parser's `until` has
    // arrived: a header trickled byte by byte costs linear work, not quadratic.
    const chunks: Array<Buffer> = []
    let receivedBytes = 0
    let needed = 1
    const finish = (outcome: Effect.Effect<Address | undefined, ProxyRejected>) => {
      cleanup()
      resume(outcome)
    }
    const onData = (chunk: Buffer) => {
      chunks.push(chunk)
      receivedBytes += chunk.length
      if (receivedBytes < needed) return
      const received = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
      chunks.length = 0
      chunks.push(received)
      const result = parse(received, options.accept)
      if (result._tag === "NeedMore") {
        // Bounded: the parser answers within MAX_LENGTH bytes.
        if (receivedBytes >= MAX_LENGTH) return finish(Effect.fail(new ProxyRejected("PROXY header too long")))
        needed = result.until
        return
      }
      if (result._tag === "Malformed") return finish(Effect.fail(new ProxyRejected(result.reason)))
      socket.pause()
      const rest = received.subarray(result.header.length)
      if (rest.length > 0) socket.unshift(rest)
      finish(Effect.succeed(clientOf(result.header)))
    }
    const onEnd = () => finish(Effect.fail(new ProxyRejected(`input ended after ${receivedBytes} bytes of a PROXY header`)))
    const onClose = () => finish(Effect.fail(new ProxyRejected("connection closed before its PROXY header")))
    const timer = setTimeout(
      () => finish(Effect.fail(new ProxyRejected(`no complete PROXY header within ${options.timeoutMillis} ms (${receivedBytes} bytes)`))),
      options.timeoutMillis
    )
    const cleanup = () => {
      clearTimeout(timer)
      socket.off("data", onData)
      socket.off("end", onEnd)
      socket.off("close", onClose)
    }
    // Kept after the header too: the connection adds its own, but not before it resumes.
    socket.on("error", constVoid)
    socket.on("data", onData)
    socket.once("end", onEnd)
    socket.once("close", onClose)
    socket.resume()
    return Effect.sync(cleanup)
  })
