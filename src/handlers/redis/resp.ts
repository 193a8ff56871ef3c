/**
 * RESP framing: read one request.
 *
 * A request is either a multibulk array (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`,
 * what client libraries send) or an inline command line (`PING\r\n`, what
 * telnet and `redis-benchmark`'s inline tests send, split by the quoting rules
 * of `inline.ts`). {@link readRequest} reads exactly one request over a
 * {@link RequestReader} — a `Connection`, or an in-memory reader in tests —
 * and fails with a typed {@link ProtocolError} whose `message` is the text
 * Redis 7 replies with before it closes the connection.
 *
 * Memory for a request grows with the bytes that arrive, never with a length
 * the peer announces: arguments are appended as they are read and a bulk is
 * read with `readExactly`, which grows with received bytes.
 *
 * Arguments and values are byte strings ({@link ByteString}): one character
 * per byte, decoded as latin1, so any bytes round-trip and compare exactly.
 *
 * Replies are encoded by `reply.ts`.
 *
 * @since 0.1.0
 */
import { Buffer } from "node:buffer"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { EndOfInput, LineTooLong } from "../../services/Errors.ts"
import { type ByteString, int64Max, int64Min, type Request } from "./bytes.ts"
import { splitArgs } from "./inline.ts"

/**
 * Byte strings and requests, defined in `bytes.ts` (shared with the command
 * layer) and re-exported here for framing's users.
 *
 * @since 0.1.0
 */
export type { ByteString, Request } from "./bytes.ts"

/**
 * What {@link readRequest} reads from: the two reads of a `Connection`.
 * `readLineBytes` returns a line with its terminator and fails with
 * `LineTooLong` past the reader's line limit; a final line without a
 * terminator is returned as is.
 *
 * @since 0.1.0
 */
export interface RequestReader<E> {
  readonly readLineBytes: Effect.Effect<Uint8Array, E | LineTooLong>
  readonly readExactly: (n: number) => Effect.Effect<Uint8Array, E>
}

/**
 * Longest inline request and longest count line, in bytes (Redis's
 * `PROTO_INLINE_MAX_SIZE`).
 *
 * @since 0.1.0
 */
export const maxInlineLength = 64 * 1024

/**
 * Most arguments in one multibulk request: Redis 7 rejects counts above
 * `INT_MAX` (Redis 6 allowed 1024 * 1024).
 *
 * @since 0.1.0
 */
export const maxMultibulkLength = 2_147_483_647

/**
 * The multibulk count is not an integer in range.
 *
 * @since 0.1.0
 */
export class InvalidMultibulkLength extends Schema.TaggedError<InvalidMultibulkLength>()("InvalidMultibulkLength", {
  /** The count as received, after the `*`. */
  count: Schema.String
}) {
  override get message(): string {
    return "Protocol error: invalid multibulk length"
  }
}

/**
 * A bulk length is not an integer, is negative, or exceeds `maxBulkLength`.
 *
 * @since 0.1.0
 */
export class InvalidBulkLength extends Schema.TaggedError<InvalidBulkLength>()("InvalidBulkLength", {
  /** The length as received, after the `$`. */
  length: Schema.String,
  /** The configured limit (`protoMaxBulkLen`). */
  limit: Schema.Number
}) {
  override get message(): string {
    return "Protocol error: invalid bulk length"
  }
}

/**
 * A line inside a multibulk request does not start with `$`.
 *
 * @since 0.1.0
 */
export class ExpectedBulk extends Schema.TaggedError<ExpectedBulk>()("ExpectedBulk", {
  /** The byte found instead of `$`. */
  got: Schema.Number
}) {
  override get message(): string {
    return `Protocol error: expected '$', got '${String.fromCharCode(this.got)}'`
  }
}

/**
 * A line of the request is longer than {@link maxInlineLength}: an inline
 * request, a multibulk count or a bulk length.
 *
 * @since 0.1.0
 */
export class RequestTooBig extends Schema.TaggedError<RequestTooBig>()("RequestTooBig", {
  /** Which line: Redis names each in its error. */
  part: Schema.Literals(["inline request", "mbulk count string", "bulk count string"]),
  limit: Schema.Number
}) {
  override get message(): string {
    return `Protocol error: too big ${this.part}`
  }
}

/**
 * An inline request has a quote that is not closed, or a closing quote
 * followed by something other than a space.
 *
 * @since 0.1.0
 */
export class UnbalancedQuotes extends Schema.TaggedError<UnbalancedQuotes>()("UnbalancedQuotes", {
  /** The inline request as received, without its terminator. */
  line: Schema.String
}) {
  override get message(): string {
    return "Protocol error: unbalanced quotes in request"
  }
}

/**
 * A request Redis would answer with `-ERR Protocol error: …` and then close
 * the connection.
 *
 * @since 0.1.0
 */
export type ProtocolError = InvalidMultibulkLength | InvalidBulkLength | ExpectedBulk | RequestTooBig | UnbalancedQuotes

/**
 * Whether `u` is a {@link ProtocolError}.
 *
 * @since 0.1.0
 */
export const isProtocolError = (u: unknown): u is ProtocolError =>
  u instanceof InvalidMultibulkLength || u instanceof InvalidBulkLength || u instanceof ExpectedBulk ||
  u instanceof RequestTooBig || u instanceof UnbalancedQuotes

const CR = 13
const LF = 10
const STAR = 42
const DOLLAR = 36

/** The bytes as a {@link ByteString}. */
const toByteString = (bytes: Uint8Array, start = 0, end = bytes.length): ByteString =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1", start, end)

/**
 * A length as Redis's `string2ll` reads it: an optional `-`, then `0` alone
 * or a digit 1–9 followed by digits, at most 20 characters, within 64 bits.
 * `undefined` for anything else. Beyond 2^53 the value is approximate, which
 * only matters for comparisons with far smaller limits.
 */
const parseLength = (bytes: Uint8Array, start: number, end: number): number | undefined => {
  const length = end - start
  if (length === 0 || length > 20) return undefined
  const negative = bytes[start] === 45
  let i = negative ? start + 1 : start
  if (i === end) return undefined
  if (bytes[i] === 48) return !negative && length === 1 ? 0 : undefined
  let value = 0
  for (; i < end; i++) {
    const digit = bytes[i]! - 48
    if (digit < 0 || digit > 9) return undefined
    value = value * 10 + digit
  }
  if (value >= 2 ** 53) {
    // Past 2^53 only the 64-bit range check needs exactness.
    const exact = BigInt(toByteString(bytes, start, end))
    if (exact > int64Max || exact < int64Min) return undefined
  }
  return negative ? -value : value
}

/** Where a count line's number ends: before its `\r\n`; `undefined` if it does not end so. */
const countEnd = (line: Uint8Array): number | undefined => {
  const end = line.length - 2
  return end >= 0 && line[end] === CR && line[end + 1] === LF ? end : undefined
}

/**
 * The effect that reads one request from `reader`, built once per reader
 * and run for each request. Fails with a {@link ProtocolError} for input
 * Redis rejects, with `EndOfInput` when the input ends before a request is
 * complete (Redis never runs a request cut short), and with the reader's
 * own failures.
 *
 * **Details**
 *
 * The first byte decides, as in Redis: `*` starts a multibulk request,
 * anything else an inline one. A count of zero or less, and an empty inline
 * line, give an empty request (Redis skips them without a reply). A bulk's
 * two trailing bytes are skipped unchecked, as Redis does. Malformed
 * terminators (a CR not followed by LF) are reported as invalid lengths.
 *
 * An inline request whose content is longer than {@link maxInlineLength} is
 * too big. A line that grows without a newline fails as soon as it passes
 * the reader's line limit (a connection's `maxLineLength`, 64 KiB by
 * default), counted after the first byte, which is read on its own.
 *
 * **Gotchas**
 *
 * Like the reader's own reads, the effect must not run twice at once.
 *
 * @since 0.1.0
 */
export const readRequest = <E>(
  reader: RequestReader<E>,
  maxBulkLength: number
): Effect.Effect<Request, ProtocolError | EndOfInput | Exclude<E, LineTooLong>> => {
  // Which line is being read, for the error a `LineTooLong` becomes. Reads
  // are sequential, so one variable serves every run; the reads themselves
  // are yielded directly, keeping the connection's no-wait fast path.
  let part: RequestTooBig["part"] = "inline request"
  const read = Effect.gen(function*() {
    // One byte first: it decides the request type, and so which error a too long line gets.
    const first = yield* reader.readExactly(1)
    if (first[0] !== STAR) {
      if (first[0] === LF) return []
      part = "inline request"
      const rest = yield* reader.readLineBytes
      if (rest[rest.length - 1] !== LF) return yield* new EndOfInput()
      return yield* inline(toByteString(first) + toByteString(rest))
    }
    part = "mbulk count string"
    const countLine = yield* reader.readLineBytes
    if (countLine[countLine.length - 1] !== LF) return yield* new EndOfInput()
    const end = countEnd(countLine)
    const count = end === undefined ? undefined : parseLength(countLine, 0, end)
    if (count === undefined || count > maxMultibulkLength) {
      return yield* new InvalidMultibulkLength({ count: toByteString(countLine, 0, end ?? countLine.length - 1) })
    }
    // Grows per argument received; never sized from the announced count.
    const args: Array<ByteString> = []
    part = "bulk count string"
    while (args.length < count) {
      const header = yield* reader.readLineBytes
      if (header[header.length - 1] !== LF) return yield* new EndOfInput()
      if (header[0] !== DOLLAR) return yield* new ExpectedBulk({ got: header[0]! })
      const headerEnd = countEnd(header)
      const length = headerEnd === undefined ? undefined : parseLength(header, 1, headerEnd)
      if (length === undefined || length < 0 || length > maxBulkLength) {
        const text = toByteString(header, 1, headerEnd ?? header.length - 1)
        return yield* new InvalidBulkLength({ length: text, limit: maxBulkLength })
      }
      const payload = yield* reader.readExactly(length + 2)
      args.push(toByteString(payload, 0, length))
    }
    return args
  })
  // The cast only drops `LineTooLong`, which this replaces: TypeScript does
  // not narrow a generic error union through `instanceof`.
  return Effect.mapError(
    read,
    (error) => error instanceof LineTooLong ? new RequestTooBig({ part, limit: maxInlineLength }) : error
  ) as Effect.Effect<Request, ProtocolError | EndOfInput | Exclude<E, LineTooLong>>
}

/** Splits an inline request line (terminator included) into arguments. */
const inline = (line: ByteString): Effect.Effect<Request, RequestTooBig | UnbalancedQuotes> => {
  // The terminator is `\n`, with one `\r` before it if present.
  const end = line.length - (line.endsWith("\r\n") ? 2 : 1)
  if (end > maxInlineLength) return Effect.fail(new RequestTooBig({ part: "inline request", limit: maxInlineLength }))
  const content = line.slice(0, end)
  const args = splitArgs(content)
  return args === undefined ? Effect.fail(new UnbalancedQuotes({ line: content })) : Effect.succeed(args)
}
