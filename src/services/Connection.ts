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
 * The same handler runs over a TCP socket (served by `LineServer`, or any
 * socket with {@link fromSocket}), TLS, stdin/stdout ({@link stdio}) and in memory
 * (`TestConnection`); over a plaintext socket it can upgrade to TLS
 * (`startTls`).
 *
 * Past 300 lines because the handler's whole API is documented here, each
 * read and write with its failure modes.
 *
 * @since 0.1.0
 */
import type * as Net from "node:net"
import * as Tls from "node:tls"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { Decoder, UntilOptions } from "../Decoder.ts"
import * as Internal from "../internal/io/connection.ts"
import * as Limits from "../internal/io/limits.ts"
import type * as Options from "../Options.ts"
import * as Transport from "../internal/io/transport.ts"
import { infoOf } from "../internal/tlsEngine.ts"
import type { ProxyHeader } from "../internal/proxy/header.ts"
import type { Address } from "../Address.ts"
import type {
  FrameTooLong,
  ReadError,
  ReadExactlyError,
  ReadLineError,
  StartTlsError,
  WriteError,
  WriteLineError
} from "../Errors.ts"
import type { StartTlsOptions, TlsInfo } from "../Tls.ts"

/**
 * A connection as its handler sees it.
 *
 * @since 0.1.0
 */
export interface Connection {
  /** Process-wide sequence number of this connection, for logs. */
  readonly id: number
  /** The other side, for logs: `host:port` (`[v6]:port` for IPv6) for TCP, `stdio`, or `memory`. */
  readonly peer: string
  /** The other side's address, structured (host, port, family); `undefined` for stdio and memory. */
  readonly remoteAddress: Address | undefined
  /**
   * This side's address, the one the peer connected to (for a TCP socket:
   * the listener's host and port); `undefined` for Unix sockets, stdio and
   * memory. A PROXY header does not change it.
   */
  readonly localAddress: Address | undefined
  /**
   * The PROXY protocol header the connection arrived with, when its server
   * reads one (`proxy`): version, command, the client's and the
   * proxy's addresses, and the v2 TLVs (ALPN, authority, unique id…). The
   * `peer` and `remoteAddress` above are then the header's client (for a
   * `LOCAL` or `UNKNOWN` header, the socket's own). `undefined` otherwise.
   */
  readonly proxy: ProxyHeader | undefined
  /**
   * The next frame `decoder` takes from the input (see `Decoder`): at once,
   * in place, when it is already buffered; else the fiber waits for input.
   * Fails with the decoder's own errors, and with `EndOfInput` (the input
   * ended at a frame boundary), `UnexpectedEndOfInput` (in the middle of a
   * frame) and the failures of any wait. The line reads below are this with
   * the connection's line decoders.
   *
   * **Gotchas**
   *
   * Build the decoder once (a module constant, or once per connection) and
   * read with it in the loop: `conn.read(decoder)` for the decoder read last
   * is the same effect each time, so a loop over it allocates nothing.
   */
  readonly read: <A, E>(decoder: Decoder<A, E>) => Effect.Effect<A, E | ReadError>
  /**
   * The next line, decoded as UTF-8 (invalid bytes become U+FFFD), without
   * its terminator. Empty lines are lines.
   *
   * **Gotchas**
   *
   * When it has to wait, it first flushes pending output, so it can also fail
   * with the write errors. Only `\n` ends a line: a lone `\r` inside one is
   * content, which {@link writeLine} refuses — strip or escape it before
   * relaying a line from one peer to another.
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
   * of input it fails with {@link fiberline!Errors.EndOfInput | EndOfInput} if no byte of the block arrived,
   * else with {@link fiberline!Errors.UnexpectedEndOfInput | UnexpectedEndOfInput} carrying the bytes that did. Like
   * {@link readLineBytes}, the block may be a view of a received chunk.
   */
  readonly readExactly: (n: number) => Effect.Effect<Uint8Array, ReadExactlyError>
  /**
   * The bytes up to and including the next `delimiter` (Go's `ReadSlice`,
   * asyncio's `readuntil`): a NUL-terminated frame, a header block ending in
   * `\r\n\r\n`. A frame longer than `maxLength` (default: the connection's
   * `maxLineLength`) fails with `FrameTooLong` and is dropped through its
   * delimiter; at end of input, bytes without one fail with
   * `UnexpectedEndOfInput`. The frame may be a view of a received chunk.
   */
  readonly readUntil: (
    delimiter: string | Uint8Array,
    options?: { readonly maxLength?: UntilOptions["maxLength"] | undefined }
  ) => Effect.Effect<Uint8Array, FrameTooLong | ReadError>
  /**
   * Completes once the peer has ended its input (FIN) or the connection
   * failed, even while frames sent before that are still unread: for a
   * handler waiting on something else (a blocking command, a broadcast) that
   * must notice the peer leaving. Input is read ahead up to 64 KiB, so a
   * peer that sent more than that unread is noticed once the handler reads.
   */
  readonly awaitInputEnd: Effect.Effect<void>
  /** Whether the peer has ended its input or the connection failed (see {@link awaitInputEnd}). */
  readonly inputEnded: boolean
  /**
   * Bytes written and not yet handed to the OS: the pending batch and what
   * the transport queues. For output bounds of the protocol's own (Redis's
   * `client-output-buffer-limit`).
   */
  readonly pendingOutput: number
  /**
   * Buffers text (as UTF-8) or bytes for output; see the module doc for when
   * it is flushed. Bytes are kept by reference until then: do not modify them.
   */
  readonly write: (data: string | Uint8Array) => Effect.Effect<void, WriteError>
  /**
   * Buffers one line and the connection's line ending (`\n` unless
   * `lineEnding` says `\r\n`). Text is written as UTF-8, bytes as they are.
   *
   * **Gotchas**
   *
   * A line that contains `\n` or `\r` is refused with
   * {@link fiberline!Errors.EmbeddedLineBreak | EmbeddedLineBreak} and nothing is written: a value that came
   * from a peer must not be able to start a line of its own. Use `write`
   * for raw output.
   */
  readonly writeLine: (line: string | Uint8Array) => Effect.Effect<void, WriteLineError>
  /**
   * Hands buffered output to the transport now; waits only if the transport
   * is above its high-water mark (the peer is slow to read).
   */
  readonly flush: Effect.Effect<void, WriteError>
  /**
   * Ends the connection now, abortively: pending output is dropped and the
   * transport reset (a TCP reset: the peer knows it was cut off), and every
   * wait and later use fails with a `ConnectionError` (code `EABORTED`). For
   * a policy the protocol calls for — a subscriber cut off for not reading,
   * a peer that broke the rules — where a graceful close would wait for a
   * peer that does not read. Closed with reason `aborted`.
   */
  readonly abort: Effect.Effect<void>
  /**
   * What TLS negotiated (protocol, ALPN protocol, the client's certificate…)
   * when the connection is encrypted: served by a TLS listener, or upgraded
   * by {@link startTls}. `undefined` while it is plaintext.
   */
  readonly tls: TlsInfo | undefined
  /**
   * Upgrades the connection to TLS in place (STARTTLS, as SMTP, IMAP, POP3,
   * XMPP and LDAP do), with the server's TLS settings (or `options.tls`);
   * returns what was negotiated. Reads and writes go through TLS afterwards.
   *
   * **Details**
   *
   * Once the upgrade is known to be possible, it checks that nothing was
   * received after the command that asked for TLS, writes `options.reply`
   * (the protocol's "go ahead"), flushes all pending output in plaintext and
   * runs the server side of the handshake, bounded by the handshake timeout.
   * On a connection opened with `LineClient` it runs the client side, with
   * the client's TLS settings (or `options.tls`, a client's), once the
   * client has read the server's go ahead: bytes received after it are
   * refused the same way, and a `reply` is a defect (a client sends none).
   *
   * **Gotchas**
   *
   * - Input received before the handshake is refused with
   *   `PlaintextBeforeTls` and never read: bytes a client pipelined after
   *   `STARTTLS` (or a man in the middle appended) would otherwise pass for
   *   bytes that came over TLS (CVE-2011-0411). Let `startTls` send the go
   *   ahead (`reply`) rather than flushing it yourself and waiting: a fast
   *   client's handshake could arrive first and be refused the same way.
   * - After `PlaintextBeforeTls` or `TlsHandshakeError` the connection is
   *   closed: further reads and writes fail with `ConnectionError`.
   * - `TlsUnavailable` (stdio, memory, already encrypted, no settings)
   *   leaves the connection as it was and writes no `reply`, so a handler can
   *   answer e.g. SMTP's `454 TLS not available` and go on.
   */
  readonly startTls: (options?: StartTlsOptions) => Effect.Effect<TlsInfo, StartTlsError>
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
 * What a server runs once per connection: a function of the connection
 * (`(conn) => Effect`), which keeps `conn` in scope everywhere, error
 * handlers included, or an `Effect` that reads the connection from the
 * {@link Connection} service.
 *
 * **Details**
 *
 * `R` may include `Connection` and `Scope`: each connection is run in a
 * scope of its own, closed when the connection ends, so `addFinalizer`,
 * `forkScoped` and `PubSub.subscribe` in a handler are tied to its
 * connection. The handler's finalizers run before the connection is
 * released, so they may still write (a goodbye line is flushed).
 *
 * **Example** (A handler as a function of its connection)
 *
 * ```ts
 * const shout = (conn: Connection.Connection) =>
 *   Effect.forever(Effect.flatMap(conn.readLine, (line) => conn.writeLine(line.toUpperCase()))).pipe(
 *     Effect.catchTag("ServerShuttingDown", () => conn.writeLine("BYE"))
 *   )
 * ```
 *
 * @since 0.1.0
 */
export type Handler<E = never, R = never> =
  | Effect.Effect<void, E, R>
  | ((connection: Connection) => Effect.Effect<void, E, R>)

/**
 * Whether `value` can be a {@link Handler}: an `Effect`, or a function that
 * is not a class (its result is checked when it runs). A service tag is an
 * Effect too, but not a handler.
 *
 * @since 0.1.0
 */
export const isHandler = (value: unknown): value is Handler<unknown, unknown> =>
  !Context.isKey(value) &&
  (Effect.isEffect(value) || (typeof value === "function" && !Function.prototype.toString.call(value).startsWith("class")))

/**
 * Runs `handler` over `connection`, with the {@link Connection} service
 * provided whichever form it has.
 *
 * @since 0.1.0
 */
export const runHandler = <E, R>(
  handler: Handler<E, R>,
  connection: Connection
): Effect.Effect<void, E, Exclude<R, Connection>> =>
  Effect.provideService(
    Effect.isEffect(handler) ? handler : Effect.suspend(() => checked(handler(connection))),
    Connection,
    connection
  )

/**
 * What a handler function returned, if it is an Effect; else a defect that
 * says so (a function that forgot to `return`, or a factory of handlers
 * served as if it were one), so the connection fails loudly instead of
 * hanging.
 *
 * @internal
 */
export const checked = <A, E, R>(result: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.isEffect(result)
    ? result
    : Effect.die(
      new TypeError(
        `a handler function must return an Effect, this one returned ${
          typeof result === "function" ? "a function (a factory of handlers?)" : String(result)
        }`
      )
    )

/**
 * Limits of one connection. Every field is optional; see {@link defaults}.
 * Defined by the `Options.ConnectionOptions` schema; an invalid value is a
 * defect of the constructor that gets it (`InvalidOption`).
 *
 * @since 0.1.0
 */
export type ConnectionOptions = Options.ConnectionOptions

/**
 * Default limits: 64 KiB lines, no idle or line timeout, 30 s write
 * timeout, 64 KiB write high-water mark, 2 s lingering close, `\n` line
 * ending.
 *
 * @since 0.1.0
 */
export const defaults = Limits.defaults

/**
 * A connection over an already connected TCP socket (e.g. from your own
 * `net.Server`) or a TLS socket whose handshake is complete (its `tls` then
 * says what was negotiated). Create the server with `allowHalfOpen: true`
 * so replies can follow the peer's FIN. `startTls` on it needs settings of
 * its own (`{ tls }`): there is no server's.
 *
 * Invalid options are a defect (the `InvalidOption` naming the field), as
 * for every connection constructor: they are the program's own constants.
 *
 * @since 0.1.0
 */
export const fromSocket = (
  socket: Net.Socket,
  options?: ConnectionOptions
): Effect.Effect<Connection, never, Scope.Scope> =>
  Effect.suspend(() => {
    const tls = socket instanceof Tls.TLSSocket ? { socket, info: infoOf(socket) } : undefined
    return Internal.make(Transport.fromSocket(socket, undefined, "unknown", tls), Limits.resolve(options))
  })

/**
 * A connection over the process's stdin and stdout (`peer` is `stdio`).
 * Releasing it stops reading stdin and waits for stdout to drain; neither
 * stream is closed.
 *
 * @since 0.1.0
 */
export const stdio = (options?: ConnectionOptions): Effect.Effect<Connection, never, Scope.Scope> =>
  Effect.suspend(() => Internal.make(Transport.fromStdio(), Limits.resolve(options)))

/**
 * {@link stdio} as a Layer: `handler.pipe(Effect.provide(Connection.layerStdio()))`.
 *
 * @since 0.1.0
 */
export const layerStdio = (options?: ConnectionOptions): Layer.Layer<Connection> =>
  Layer.effect(Connection, stdio(options))
