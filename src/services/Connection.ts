/**
 * The per-connection service a handler reads and writes through, in blocking
 * style: `yield* conn.readLine` reads like `gets`, but when no line is
 * buffered it suspends the handler's fiber, never the process, and the event
 * loop resumes it when data arrives.
 *
 * **Semantics**
 *
 * - Lines end at `\n`; a `\r` before it is part of the terminator. A final
 *   unterminated line is delivered at end of input; then reads fail with
 *   {@link EndOfInput}.
 * - Input is read at most 64 KiB ahead of what the handler has taken; a
 *   handler that stops reading makes TCP push back on the peer. Input held
 *   per connection stays under `maxLineLength` plus that read-ahead plus the
 *   socket stream's own buffer (64 KiB) and one chunk, whatever the peer
 *   sends.
 * - Output is buffered and flushed as one write when the fiber is about to
 *   wait for input, when the buffer reaches the write high-water mark (the
 *   fiber then waits for the transport to drain), on `flush`, and at close.
 * - Every exit of the scope that built the connection releases the transport
 *   exactly once: gracefully (flush, FIN, lingering close) unless the handler
 *   was interrupted, the transport already failed, or a write timed out (the
 *   peer does not read, so nothing more can be flushed): then it is destroyed.
 *   A connection used after its release fails every operation with a
 *   `ConnectionError`.
 *
 * **Fibers**
 *
 * Reads are sequential: one fiber reads at a time (a second read waiting
 * concurrently is a defect). Any number of fibers may write, e.g. a writer
 * fiber pushing notifications beside the reader; output written by a fiber
 * that does not read afterwards goes out at the next flush point, so such a
 * writer should `flush`.
 *
 * The same handler runs over a TCP socket ({@link fromSocket}, used by
 * `LineServer`), stdin/stdout ({@link stdio}) and in memory (`TestConnection`).
 *
 * @since 0.1.0
 */
import type * as Net from "node:net"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Internal from "../internal/connection.ts"
import * as Endpoint from "../internal/endpoint.ts"
import type { ReadExactlyError, ReadLineError, WriteError } from "./Errors.ts"

/**
 * A connection as its handler sees it.
 *
 * @since 0.1.0
 */
export interface Connection {
  /** Process-wide sequence number of this connection, for logs. */
  readonly id: number
  /** The other side: `host:port` for TCP, `stdio`, or `memory`. */
  readonly peer: string
  /**
   * The next line, decoded as UTF-8 (invalid bytes become U+FFFD), without
   * its terminator. Empty lines are lines.
   *
   * **Gotchas**
   *
   * When it has to wait, it first flushes pending output, so it can also fail
   * with the write errors.
   */
  readonly readLine: Effect.Effect<string, ReadLineError>
  /**
   * The next line as raw bytes, **including** its terminator exactly as
   * received (`\n`, `\r\n`, or none for a final unterminated line), for
   * byte-exact protocols. The bytes are never reused by fiberline; a line
   * that arrived in one chunk is a view of that chunk, so keeping it keeps the
   * chunk: copy (`line.slice()`) what you store for long.
   */
  readonly readLineBytes: Effect.Effect<Uint8Array, ReadLineError>
  /**
   * Exactly `n` bytes, whatever they contain (e.g. a length-prefixed body
   * after a header line). Mixes freely with the line reads.
   *
   * **Details**
   *
   * Memory grows with the bytes actually received, not with `n`, but `n` is
   * trusted: bound it before passing a length that came from the peer. At end
   * of input it fails with {@link EndOfInput} if no byte of the block arrived,
   * else with {@link UnexpectedEndOfInput} carrying the bytes that did. Like
   * {@link readLineBytes}, the block may be a view of a received chunk.
   */
  readonly readExactly: (n: number) => Effect.Effect<Uint8Array, ReadExactlyError>
  /**
   * Buffers text (as UTF-8) or bytes for output; see the module doc for when
   * it is flushed. Bytes are kept by reference until then: do not modify them.
   */
  readonly write: (data: string | Uint8Array) => Effect.Effect<void, WriteError>
  /** Buffers `text` and a `\n`. */
  readonly writeLine: (text: string) => Effect.Effect<void, WriteError>
  /**
   * Hands buffered output to the transport now; waits only if the transport
   * is above its high-water mark (the peer is slow to read).
   */
  readonly flush: Effect.Effect<void, WriteError>
}

/**
 * The `Connection` service tag: `const conn = yield* Connection`.
 *
 * @since 0.1.0
 */
export const Connection: Context.Service<Connection, Connection> = Context.Service<Connection>(
  "fiberline/services/Connection"
)

/**
 * Limits of one connection. Every field is optional; see {@link defaults}.
 *
 * @since 0.1.0
 */
export interface ConnectionOptions {
  /** Longest accepted line content in bytes, terminator excluded. */
  readonly maxLineLength?: number | undefined
  /** A read that waits longer than this for input fails with `IdleTimeout`. No timeout when absent. */
  readonly idleTimeout?: Duration.Input | undefined
  /**
   * How long a line may take to arrive once its first bytes have: a line
   * read still waiting for the rest after this fails with `LineTimeout`.
   * Unlike the idle timeout, which every byte restarts, this closes a peer
   * that trickles a line byte by byte (slowloris). Blocks of `readExactly`
   * are not subject to it. No timeout when absent.
   */
  readonly lineTimeout?: Duration.Input | undefined
  /** How long output may stay above the high-water mark before writes fail with `WriteTimeout`. */
  readonly writeTimeout?: Duration.Input | undefined
  /** Pending output size in bytes that triggers a flush (and write backpressure). */
  readonly writeHighWaterMark?: number | undefined
  /** How long a graceful TCP close reads and discards late input before destroying the socket. */
  readonly lingerTimeout?: Duration.Input | undefined
}

/**
 * Default limits: 64 KiB lines, no idle timeout, 30 s write timeout, 64 KiB
 * write high-water mark, 2 s lingering close.
 *
 * @since 0.1.0
 */
export const defaults = Internal.defaults

/**
 * A connection over an already connected TCP socket (e.g. from your own
 * `net.Server` or a TLS socket). Create the server with
 * `allowHalfOpen: true` so replies can follow the peer's FIN.
 *
 * @since 0.1.0
 */
export const fromSocket = (
  socket: Net.Socket,
  options?: ConnectionOptions
): Effect.Effect<Connection, never, Scope.Scope> =>
  Effect.suspend(() => Internal.make(Endpoint.fromSocket(socket), Internal.resolveLimits(options))).pipe(
    Effect.map(([connection]) => connection)
  )

/**
 * A connection over the process's stdin and stdout (`peer` is `stdio`).
 * Releasing it stops reading stdin and waits for stdout to drain; neither
 * stream is closed.
 *
 * @since 0.1.0
 */
export const stdio = (options?: ConnectionOptions): Effect.Effect<Connection, never, Scope.Scope> =>
  Effect.suspend(() => Internal.make(Endpoint.fromStdio(), Internal.resolveLimits(options))).pipe(
    Effect.map(([connection]) => connection)
  )

/**
 * {@link stdio} as a Layer: `handler.pipe(Effect.provide(Connection.layerStdio()))`.
 *
 * @since 0.1.0
 */
export const layerStdio = (options?: ConnectionOptions): Layer.Layer<Connection> =>
  Layer.effect(Connection, stdio(options))
