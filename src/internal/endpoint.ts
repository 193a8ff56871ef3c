/**
 * What a connection runs over: a readable and a writable Node stream, plus how
 * to end and release them. One shape for a TCP socket, for stdin/stdout and
 * for in-memory test streams, so the connection logic is written once.
 *
 * @internal
 */
import type * as Net from "node:net"
import type { Readable, Writable } from "node:stream"

/** A byte transport as the connection driver sees it. */
export interface Endpoint {
  /** Input, read in paused mode (`read()` + `readable`). */
  readonly input: Readable
  /** Output; `write` returning false means "above high-water mark". */
  readonly output: Writable
  /** Who is on the other side, for logs: `host:port`, `stdio`, `memory`. */
  readonly peer: string
  /**
   * Graceful release after the last write: end the output and call `done`
   * once the transport is released. Bounded in time by `lingerMillis`.
   */
  readonly close: (lingerMillis: number, done: () => void) => void
  /** Abortive release, at once. Idempotent. */
  readonly destroy: () => void
}

/** Formats a socket's remote address as `host:port` (`[v6]:port` for IPv6). */
export const remoteAddress = (socket: Net.Socket): string => {
  const host = socket.remoteAddress ?? "unknown"
  return `${socket.remoteFamily === "IPv6" ? `[${host}]` : host}:${socket.remotePort ?? 0}`
}

const ignore = (): void => {}

/**
 * A TCP socket accepted with `allowHalfOpen: true`.
 *
 * **Details**
 *
 * Graceful close is a lingering close: send FIN after the last reply, then
 * read and discard whatever the peer still sends until it closes too, or
 * until `lingerMillis`, then destroy. Closing a socket that has unread input
 * makes the kernel send a reset, which can destroy replies the peer has not
 * read yet; draining first avoids that.
 */
export const fromSocket = (socket: Net.Socket): Endpoint => {
  // A late error (reset during linger) must never become an uncaught 'error'.
  socket.on("error", ignore)
  return {
    input: socket,
    output: socket,
    peer: remoteAddress(socket),
    close(lingerMillis, done) {
      if (socket.destroyed) return done()
      const timer = setTimeout(() => socket.destroy(), lingerMillis)
      socket.once("close", () => {
        clearTimeout(timer)
        done()
      })
      socket.end()
      // Flowing with no 'data' listener: late input is read and dropped.
      socket.resume()
    },
    destroy() {
      socket.destroy()
    }
  }
}

const releaseStdin = (): void => {
  process.stdin.pause()
  process.stdin.unref?.()
}

/**
 * The process's stdin and stdout. Neither is ended or destroyed (they belong
 * to the process); release waits for stdout to drain and stops reading stdin
 * so the process can exit.
 */
export const fromStdio = (): Endpoint => {
  process.stdout.on("error", ignore)
  return {
    input: process.stdin,
    output: process.stdout,
    peer: "stdio",
    close(_lingerMillis, done) {
      releaseStdin()
      if (process.stdout.writableLength === 0) return done()
      process.stdout.once("drain", done)
      process.stdout.once("error", done)
    },
    destroy: releaseStdin
  }
}
