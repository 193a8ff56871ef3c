/**
 * What a connection runs over: a readable and a writable Node stream, plus how
 * to end and release them. One shape for a TCP or Unix socket (plain or TLS),
 * for stdin/stdout and for in-memory test streams, so the connection logic is
 * written once.
 *
 * A graceful close is an Effect whose time limits sleep on Effect's `Clock`,
 * so `TestClock` drives them; an abortive release is immediate.
 *
 * Just past 300 lines: one transport per kind (TCP, TLS, Unix, stdio,
 * memory) behind one interface, each with its close and abort.
 *
 * @internal
 */
import * as Fs from "node:fs"
import type * as Net from "node:net"
import type { Readable, Writable } from "node:stream"
import type * as Tls from "node:tls"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { constVoid } from "effect/Function"
import * as Option from "effect/Option"
import * as Address from "../../Address.ts"
import type { TlsInfo } from "../../Tls.ts"

/** A byte transport as a connection sees it. */
export interface Transport {
  /** Input; the connection takes its `data` events and pauses it when enough is queued. */
  readonly input: Readable
  /** Output; `write` returning false means "above high-water mark". */
  readonly output: Writable
  /** Who is on the other side, for logs: `host:port`, `[v6]:port`, `stdio`, `memory`. */
  readonly peer: string
  /** The other side's network address; `undefined` for stdio and memory. */
  readonly remoteAddress: Address.Address | undefined
  /**
   * The TCP or Unix socket under this transport, which `startTls` runs TLS
   * over; `undefined` for stdio and memory.
   */
  readonly socket?: Net.Socket | undefined
  /** What was negotiated, when the transport runs over TLS. */
  readonly tls?: TlsInfo | undefined
  /**
   * Graceful release after the last write: send what is queued and end the
   * output, and complete once the transport is released. Bounded: queued
   * output gets `flush` to go out, late input `linger`.
   */
  readonly close: (limits: CloseLimits) => Effect.Effect<void>
  /** Abortive release, at once (a TCP reset where the transport has one). Idempotent. */
  readonly destroy: () => void
}

/** Limits of a graceful close. */
export interface CloseLimits {
  /** For output still queued (and the FIN) to be sent. */
  readonly flush: Duration.Duration
  /** After the FIN, for the peer to close while its late input is discarded. */
  readonly linger: Duration.Duration
  /**
   * Late input is never answered (the server is shutting down): reset the
   * connection when any arrives, rather than discard it behind a clean FIN.
   */
  readonly resetOnLateInput: boolean
}

/**
 * Aborts a socket with a TCP reset (`SO_LINGER` 0), not the FIN a plain
 * `destroy()` sends when no input is left unread in the kernel: a peer whose
 * replies were cut off must see a failure, never what looks like a clean
 * close. Sockets that cannot be reset (not TCP, still connecting, already
 * closed) are destroyed.
 */
export const abort = (socket: Net.Socket): void => {
  if (socket.destroyed) return
  try {
    socket.resetAndDestroy()
  } catch {
    socket.destroy()
  }
}

const EMPTY = new Uint8Array(0)

/** Completes when `stream` emits one of `events`, or at once if `done()` already says so. */
const eventOf = (stream: Readable | Writable, events: ReadonlyArray<string>, done: () => boolean): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    if (done()) return resume(Effect.void)
    const listener = () => resume(Effect.void)
    for (const event of events) stream.once(event, listener)
    return Effect.sync(() => {
      for (const event of events) stream.off(event, listener)
    })
  })

/**
 * Who is on the other side of `socket`: `remote` when given (from a PROXY
 * protocol header), else the socket's own peer; printed, or `fallbackPeer`
 * when there is no address (a Unix socket's client, a socket already closed).
 */
export const peerOf = (
  socket: Net.Socket,
  remote: Address.Address | undefined,
  fallbackPeer: string
): { readonly peer: string; readonly remoteAddress: Address.Address | undefined } => {
  const remoteAddress = remote ?? Address.tcp(socket.remoteAddress, socket.remotePort, socket.remoteFamily)
  return { peer: remoteAddress === undefined ? fallbackPeer : Address.format(remoteAddress), remoteAddress }
}

/** A late byte during a TLS close that must not discard input: reset. */
function resetOnData(this: Net.Socket & { [underlying]?: Net.Socket }): void {
  abort(this[underlying] ?? this)
}

/** The TCP socket under a TLS socket, for {@link resetOnData}. */
const underlying = Symbol("fiberline/Transport/underlying")

/**
 * Lingering close of a socket: send what is queued and the FIN (for up to
 * `flush`: a peer that does not read cannot hold us), then read and discard
 * whatever the peer still sends until it closes too, or until `linger`, then
 * destroy. Closing a socket that has unread input makes the kernel send a
 * reset, which can destroy replies the peer has not read yet; draining first
 * avoids that. Over TLS the FIN follows TLS's own `close_notify`.
 *
 * **Closing without discarding** (`resetOnLateInput`, at shutdown): no
 * lingering, since input that arrives now will never be answered. A plain
 * socket is closed once its output is handed to the kernel; the kernel then
 * sends the FIN only if no input is waiting unread in it, and a reset
 * otherwise, or for input that arrives later — the decision is made at the
 * kernel boundary, atomically, where a check in the process would always
 * leave a window. Over TLS (`close_notify` must go first) late input read
 * during the linger resets the connection.
 */
const closeSocket = (socket: Net.Socket, stream: Net.Socket, limits: CloseLimits): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (stream.destroyed) return Effect.void
    const isClosed = () => stream.destroyed && stream.closed
    const closed = eventOf(stream, ["close"], isClosed)
    if (limits.resetOnLateInput && stream === socket) {
      // Every byte is in the kernel already: close now, in this tick, so that
      // nothing can be read (and dropped) between the check and the close.
      if (stream.writableLength === 0) {
        stream.destroy()
        return closed
      }
      // Else the output is finished first; input read meanwhile is late: reset.
      let late = false
      const onLate = () => {
        late = true
      }
      stream.on("data", onLate)
      stream.resume()
      // Writes complete in order: this one's callback runs once all output is in the kernel.
      const written = Effect.callback<void>((resume) => {
        stream.write(EMPTY, () => resume(Effect.void))
      })
      return written.pipe(
        Effect.timeoutOption(limits.flush),
        Effect.flatMap((sent) => {
          // Output that cannot be sent in time is lost, or input came: say so with a reset.
          if (Option.isNone(sent) || late) abort(socket)
          else stream.destroy()
          return closed
        }),
        Effect.onInterrupt(() => Effect.sync(() => abort(socket)))
      )
    }
    // Destroyed meanwhile (the shutdown deadline): there will be no 'finish'.
    const finished = eventOf(stream, ["finish", "close"], () => stream.writableFinished || isClosed())
    if (limits.resetOnLateInput) {
      ;(stream as Net.Socket & { [underlying]?: Net.Socket })[underlying] = socket
      stream.on("data", resetOnData)
    }
    stream.end()
    // Flowing with no 'data' listener: late input is read and dropped.
    stream.resume()
    return finished.pipe(
      Effect.timeoutOption(limits.flush),
      Effect.flatMap((sent) => {
        // Output that cannot be sent in time is lost: say so with a reset.
        if (Option.isNone(sent)) abort(socket)
        return closed.pipe(Effect.timeoutOption(limits.linger))
      }),
      Effect.flatMap((done) => {
        if (Option.isSome(done)) return Effect.void
        stream.destroy()
        return closed
      }),
      // Cut short (the server's scope closing): never leave the socket half closed.
      Effect.onInterrupt(() => Effect.sync(() => stream.destroy()))
    )
  })

/**
 * A TCP or Unix socket accepted with `allowHalfOpen: true`, or the TLS
 * socket `tls` runs over it. `remote`, when given, is who the peer really is
 * (from a PROXY protocol header); else the socket's own peer address, or
 * `fallbackPeer` for a socket that has none (a Unix socket's client). An
 * abortive release resets the TCP socket itself.
 */
export const fromSocket = (
  socket: Net.Socket,
  remote?: Address.Address,
  fallbackPeer = "unknown",
  tls?: { readonly socket: Tls.TLSSocket; readonly info: TlsInfo }
): Transport => new SocketTransport(socket, remote, fallbackPeer, tls)

/** {@link fromSocket}'s transport: a class, so that thousands of idle connections share its methods. */
class SocketTransport implements Transport {
  readonly input: Net.Socket
  readonly output: Net.Socket
  readonly peer: string
  readonly remoteAddress: Address.Address | undefined
  readonly socket: Net.Socket
  readonly tls: TlsInfo | undefined

  constructor(
    socket: Net.Socket,
    remote: Address.Address | undefined,
    fallbackPeer: string,
    tls: { readonly socket: Tls.TLSSocket; readonly info: TlsInfo } | undefined
  ) {
    // A late error (reset during linger) must never become an uncaught 'error'.
    socket.on("error", constVoid)
    const stream: Net.Socket = tls?.socket ?? socket
    if (stream !== socket) stream.on("error", constVoid)
    const { peer, remoteAddress } = peerOf(socket, remote, fallbackPeer)
    this.input = stream
    this.output = stream
    this.peer = peer
    this.remoteAddress = remoteAddress
    this.socket = socket
    this.tls = tls?.info
  }

  close(limits: CloseLimits): Effect.Effect<void> {
    return closeSocket(this.socket, this.input, limits)
  }

  destroy(): void {
    abort(this.socket)
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
 * every write handed to the output has completed, for up to `flush` (a
 * reader that never reads cannot hold it; what it did not read is left
 * behind).
 */
export const fromStreams = (input: Readable, output: Writable, peer: string): Transport => ({
  input,
  output,
  peer,
  remoteAddress: undefined,
  close: (limits) =>
    Effect.suspend(() => {
      stopReading(input)
      // Writes complete in order, so an empty write's callback runs once all
      // output is out. ('drain' would only come if a write had returned false.)
      return Effect.callback<void>((resume) => {
        output.write(EMPTY, () => resume(Effect.void))
      }).pipe(Effect.timeoutOption(limits.flush), Effect.asVoid)
    }),
  destroy: () => stopReading(input)
})

let stdoutErrorsIgnored = false

/** The process's stdin and stdout, as {@link fromStreams}. */
export const fromStdio = (): Transport => {
  // EPIPE and friends surface through the connection, never as uncaught 'error'.
  if (!stdoutErrorsIgnored) {
    stdoutErrorsIgnored = true
    process.stdout.on("error", constVoid)
  }
  return fromStreams(stdin(), process.stdout, "stdio")
}

let fileStdin: Readable | undefined

/**
 * The process's stdin. When it is a regular file (`fiberline echo --stdio <
 * FILE`) it is read in 1 MiB chunks rather than `process.stdin`'s 64 KiB:
 * each chunk of a file is a round trip through libuv's thread pool.
 */
const stdin = (): Readable => {
  let isFile = false
  try {
    isFile = Fs.fstatSync(0).isFile()
  } catch {
    // No stdin to inspect (closed): process.stdin reports that itself.
  }
  if (isFile) return fileStdin ??= Fs.createReadStream("", { fd: 0, highWaterMark: 1024 * 1024, autoClose: false })
  // A previous stdio connection may have unref'd stdin when it was released.
  ;(process.stdin as typeof process.stdin & { ref?: () => void }).ref?.()
  return process.stdin
}
