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
  /** Input; the driver takes its `data` events and pauses it when enough is queued. */
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
const EMPTY = new Uint8Array(0)

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

/** Stops reading a borrowed input; unref'd so it no longer keeps the process alive. */
const stopReading = (input: Readable): void => {
  input.pause()
  ;(input as Readable & { unref?: () => void }).unref?.()
}

/**
 * Streams that belong to someone else, such as the process's stdin and
 * stdout: never ended or destroyed. Release stops reading and waits until
 * every write handed to the output has completed.
 */
export const fromStreams = (input: Readable, output: Writable, peer: string): Endpoint => ({
  input,
  output,
  peer,
  close(_lingerMillis, done) {
    stopReading(input)
    // Writes complete in order, so an empty write's callback runs once all
    // output is out. ('drain' would only come if a write had returned false.)
    output.write(EMPTY, () => done())
  },
  destroy() {
    stopReading(input)
  }
})

/** The process's stdin and stdout, as {@link fromStreams}. */
export const fromStdio = (): Endpoint => {
  process.stdout.on("error", ignore)
  return fromStreams(process.stdin, process.stdout, "stdio")
}
