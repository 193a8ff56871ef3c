/**
 * The typed failures of a connection and a server.
 *
 * Each outcome a handler may want to treat differently is its own tagged
 * error, so recovery is a plain `Effect.catchTag("LineTooLong", ...)`. Fields
 * carry what recovery needs: the limit that was exceeded, the bytes that did
 * arrive before an early end of input, the timeout that expired.
 *
 * Which operation fails with what is spelled out by the unions at the end of
 * this module ({@link ReadLineError}, {@link ReadExactlyError},
 * {@link WriteError}). A server that does not start fails with
 * `LineServer.ServerError`, a connect with `LineClient.ConnectError`: each
 * beside its operation.
 *
 * Past 300 lines because every typed failure a handler can catch is here,
 * each a small class with its fields documented: one module to read them all.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"

/**
 * The input ended cleanly at a frame boundary: the peer half-closed its side
 * (TCP FIN), stdin reached end of file, or a test script ended. A final
 * unterminated line is delivered before this, so nothing sent is lost.
 *
 * This is the normal way a connection ends; servers log it at debug level.
 *
 * @since 0.1.0
 */
export class EndOfInput extends Schema.TaggedError<EndOfInput>("fiberline/EndOfInput")("EndOfInput", {}) {
  override get message(): string {
    return "end of input"
  }
}

/**
 * The input ended in the middle of a frame: `readExactly` got fewer bytes
 * than requested (`expected`), or a decoder was left with an incomplete
 * frame. `received` holds the bytes that did arrive.
 *
 * @since 0.1.0
 */
export class UnexpectedEndOfInput extends Schema.TaggedError<UnexpectedEndOfInput>("fiberline/UnexpectedEndOfInput")(
  "UnexpectedEndOfInput",
  { expected: Schema.optional(Schema.Int), received: Schema.Uint8Array }
) {
  override get message(): string {
    return this.expected === undefined
      ? `input ended in the middle of a frame (${this.received.length} bytes received)`
      : `input ended after ${this.received.length} of ${this.expected} expected bytes`
  }
}

/**
 * A line's content (without its terminator) is longer than `limit` bytes.
 *
 * **Details**
 *
 * The over-long line is consumed: its bytes are discarded as they arrive,
 * never buffered, so the next `readLine` returns the line after it. A handler
 * may catch this error to reply and go on, or let it close the connection.
 *
 * @since 0.1.0
 */
export class LineTooLong extends Schema.TaggedError<LineTooLong>("fiberline/LineTooLong")("LineTooLong", {
  limit: Schema.Int
}) {
  override get message(): string {
    return `line longer than ${this.limit} bytes`
  }
}

/**
 * A frame read with `readUntil` (or `Decoder.until`) grew past `limit` bytes
 * without its delimiter. Like an over-long line it is consumed: its bytes
 * are dropped as they arrive, through the delimiter, and the next read
 * starts after it.
 *
 * @since 0.2.0
 */
export class FrameTooLong extends Schema.TaggedError<FrameTooLong>("fiberline/FrameTooLong")("FrameTooLong", {
  limit: Schema.Int
}) {
  override get message(): string {
    return `frame longer than ${this.limit} bytes`
  }
}

/**
 * A read waited longer than the connection's idle timeout for input.
 *
 * @since 0.1.0
 */
export class IdleTimeout extends Schema.TaggedError<IdleTimeout>("fiberline/IdleTimeout")("IdleTimeout", {
  timeout: Schema.Duration
}) {
  override get message(): string {
    return `no input for ${Duration.format(this.timeout)}`
  }
}

/**
 * A line started arriving but was not complete within the connection's line
 * timeout (a peer trickling bytes to hold the connection). `received` is how
 * many bytes of it had arrived.
 *
 * @since 0.1.0
 */
export class LineTimeout extends Schema.TaggedError<LineTimeout>("fiberline/LineTimeout")("LineTimeout", {
  timeout: Schema.Duration,
  received: Schema.Int
}) {
  override get message(): string {
    return `line not complete within ${Duration.format(this.timeout)} (${this.received} bytes received)`
  }
}

/**
 * The peer stopped reading: output stayed above the write high-water mark
 * for longer than the write timeout. The connection cannot be flushed and is
 * destroyed when the handler ends.
 *
 * @since 0.1.0
 */
export class WriteTimeout extends Schema.TaggedError<WriteTimeout>("fiberline/WriteTimeout")("WriteTimeout", {
  timeout: Schema.Duration,
  pendingBytes: Schema.Int
}) {
  override get message(): string {
    return `peer did not read ${this.pendingBytes} pending bytes within ${Duration.format(this.timeout)}`
  }
}

/**
 * The server is shutting down and this connection was waiting for input with
 * nothing buffered: idle at a line boundary. A handler may catch it to write
 * a goodbye line; the connection is then closed gracefully.
 *
 * @since 0.1.0
 */
export class ServerShuttingDown extends Schema.TaggedError<ServerShuttingDown>("fiberline/ServerShuttingDown")(
  "ServerShuttingDown",
  {}
) {
  override get message(): string {
    return "server is shutting down"
  }
}

/**
 * The transport failed: the peer reset the connection, a write hit a closed
 * socket, or the stream errored. `code` is the system error code when there is
 * one (`ECONNRESET`, `EPIPE`, …).
 *
 * @since 0.1.0
 */
export class ConnectionError extends Schema.TaggedError<ConnectionError>("fiberline/ConnectionError")(
  "ConnectionError",
  {
    operation: Schema.Literals(["read", "write"]),
    code: Schema.optional(Schema.String),
    cause: Schema.Defect()
  }
) {
  override get message(): string {
    const detail = this.code ?? (this.cause instanceof Error ? this.cause.message : String(this.cause))
    return `${this.operation} failed: ${detail}`
  }
}

/**
 * `writeLine` was given a line that contains a line break (`\n` or `\r`):
 * written as is, it would end the line early and start another one, letting
 * a value that came from a peer smuggle a line of its own into the protocol.
 * Nothing was written.
 *
 * **Details**
 *
 * A typed failure, not a defect: the text usually comes from a peer, so a
 * peer can cause it at will, and a handler may reply with an error and go on
 * (`Effect.catchTag("EmbeddedLineBreak", ...)`). Validate or escape values
 * before writing them, or use `write` for raw output.
 *
 * @since 0.1.0
 */
export class EmbeddedLineBreak extends Schema.TaggedError<EmbeddedLineBreak>("fiberline/EmbeddedLineBreak")(
  "EmbeddedLineBreak",
  { index: Schema.Int }
) {
  override get message(): string {
    return `refused to write a line with a line break at index ${this.index}`
  }
}

/**
 * A line read with a `Schema` did not decode: `line` is the line as received
 * (without its terminator), `issue` what the schema said about it. The line
 * is consumed; the next read gets the next line.
 *
 * @since 0.1.0
 */
export class LineDecodeError extends Schema.TaggedError<LineDecodeError>("fiberline/LineDecodeError")(
  "LineDecodeError",
  { line: Schema.String, issue: Schema.String }
) {
  override get message(): string {
    return `invalid line: ${this.issue}`
  }
}

/**
 * A value written with a `Schema` did not encode; nothing was written.
 *
 * @since 0.1.0
 */
export class LineEncodeError extends Schema.TaggedError<LineEncodeError>("fiberline/LineEncodeError")(
  "LineEncodeError",
  { issue: Schema.String }
) {
  override get message(): string {
    return `cannot encode line: ${this.issue}`
  }
}

/**
 * TLS settings could not be used: a certificate or key file could not be
 * read, PEM data did not parse, a key does not match its certificate, or a
 * certificate is outside its validity period. `file` names the file when the
 * trouble is with one.
 *
 * **Details**
 *
 * `LineServer.make` fails with a `ServerError` whose `reason` is this error
 * (the server does not start);
 * `LineServer.reloadTls` fails with it and keeps serving the settings it had;
 * `startTls` with settings of its own fails with it before touching the
 * connection.
 *
 * @since 0.1.0
 */
export class TlsConfigError extends Schema.TaggedError<TlsConfigError>("fiberline/TlsConfigError")("TlsConfigError", {
  reason: Schema.String,
  file: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return `TLS settings: ${this.reason}${this.file === undefined ? "" : ` (${this.file})`}`
  }
}

/**
 * A TLS handshake did not complete. `reason` says how: `timeout` (not
 * complete within the handshake timeout, counted from its start),
 * `client-certificate` (a client certificate was required and missing, or
 * did not verify against the CA; `detail` has OpenSSL's code, e.g.
 * `UNABLE_TO_VERIFY_LEAF_SIGNATURE`), `server-certificate` (the server's
 * fault: its own certificate expired, or is not valid yet, so clients
 * refuse it; logged as an error), or `failed` (the peer's bytes were not a
 * TLS handshake, it offered nothing the server accepts, or it closed
 * first). The connection is closed. On a client's connection
 * (`LineClient`), `server-certificate` means the server's certificate did
 * not verify, and `code` is Node's (`UNABLE_TO_VERIFY_LEAF_SIGNATURE`,
 * `ERR_TLS_CERT_ALTNAME_INVALID`); `failed` carries the system's or
 * OpenSSL's code when there is one.
 *
 * @since 0.1.0
 */
export class TlsHandshakeError extends Schema.TaggedError<TlsHandshakeError>("fiberline/TlsHandshakeError")(
  "TlsHandshakeError",
  {
    reason: Schema.Literals(["timeout", "client-certificate", "server-certificate", "failed"]),
    detail: Schema.String,
    code: Schema.optional(Schema.String)
  }
) {
  override get message(): string {
    return `TLS handshake failed: ${this.detail}`
  }
}

/**
 * `startTls` found input that had arrived before the TLS handshake: bytes
 * sent after the command that asked for TLS, in plaintext. Read after the
 * handshake they would pass for bytes that came over TLS, which is how a
 * man in the middle injects commands into a STARTTLS session
 * (CVE-2011-0411). They are never read; the connection is closed. `bytes`
 * is how many there were.
 *
 * @since 0.1.0
 */
export class PlaintextBeforeTls extends Schema.TaggedError<PlaintextBeforeTls>("fiberline/PlaintextBeforeTls")(
  "PlaintextBeforeTls",
  { bytes: Schema.Int }
) {
  override get message(): string {
    return `refused ${this.bytes} plaintext bytes received before the TLS handshake`
  }
}

/**
 * `startTls` cannot upgrade this connection, which is left as it was:
 * `no-socket` (stdio or an in-memory connection: there is no socket to run
 * TLS over), `already-tls` (the connection is encrypted already), or
 * `not-configured` (the server has no TLS settings and none were given).
 *
 * **Details**
 *
 * A typed failure, not a defect: the same handler may run over a socket,
 * over stdio or in a test, and a protocol has an answer for it (SMTP's
 * `454 TLS not available`, a `503` for a second `STARTTLS`), so a handler
 * can reply and go on.
 *
 * @since 0.1.0
 */
export class TlsUnavailable extends Schema.TaggedError<TlsUnavailable>("fiberline/TlsUnavailable")("TlsUnavailable", {
  reason: Schema.Literals(["no-socket", "already-tls", "not-configured"])
}) {
  override get message(): string {
    switch (this.reason) {
      case "no-socket":
        return "TLS needs a socket: this connection has none (stdio or in memory)"
      case "already-tls":
        return "the connection is encrypted already"
      default:
        return "no TLS settings: give the server a `tls` option or pass settings to startTls"
    }
  }
}

/**
 * Failures of writing and flushing: the peer is gone, or it stopped reading.
 *
 * @since 0.1.0
 */
export type WriteError = ConnectionError | WriteTimeout

/**
 * Failures of `writeLine`: those of any write, and a line that would carry a
 * line break of its own.
 *
 * @since 0.1.0
 */
export type WriteLineError = WriteError | EmbeddedLineBreak

/**
 * Failures of a read that waits for input. Reads flush pending output before
 * they wait, so the write failures appear here too.
 *
 * @since 0.1.0
 */
export type WaitError = IdleTimeout | ServerShuttingDown | WriteError

/**
 * Failures of a line read that waits: those of any wait, and the line
 * timeout.
 *
 * @since 0.1.0
 */
export type LineWaitError = WaitError | LineTimeout

/**
 * Failures of any read (`read(decoder)` adds the decoder's own): the input
 * ended, cleanly or in the middle of a frame; the waits' limits; shutdown;
 * and, since a read that waits flushes first, the write failures.
 *
 * @since 0.2.0
 */
export type ReadError = EndOfInput | UnexpectedEndOfInput | LineWaitError

/**
 * Failures of `readLine` and `readLineBytes`.
 *
 * @since 0.1.0
 */
export type ReadLineError = EndOfInput | LineTooLong | LineWaitError

/**
 * Failures of `readExactly`: a clean end of input before the first byte is
 * {@link EndOfInput}; an end in the middle is {@link UnexpectedEndOfInput}.
 *
 * @since 0.1.0
 */
export type ReadExactlyError = EndOfInput | UnexpectedEndOfInput | WaitError

/**
 * Failures of `startTls`: the upgrade is unavailable or its settings
 * unusable (the connection is left as it was); plaintext came first, or the
 * handshake failed (the connection is closed); flushing the reply before the
 * handshake failed.
 *
 * @since 0.1.0
 */
export type StartTlsError = TlsUnavailable | TlsConfigError | PlaintextBeforeTls | TlsHandshakeError | WriteError
