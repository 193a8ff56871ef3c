/**
 * RESP framing: the decoder of one request, pure and incremental.
 *
 * A request is either a multibulk array (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`,
 * what client libraries send) or an inline command line (`PING\r\n`, what
 * telnet and `redis-benchmark`'s inline tests send, split by the quoting rules
 * of `inline.ts`). {@link request} decodes one request from a connection's
 * input (`conn.read`), or fails with a typed {@link ProtocolError} whose
 * `message` is the text Redis 7 replies with before it closes the connection.
 * A pipeline that is already buffered is decoded without suspending the
 * connection's fiber, one request per read.
 *
 * **Bounds.** Memory for a request grows with the bytes that arrive, never
 * with a count or length the peer announces; a request holds at most
 * {@link maxMultibulkLength} arguments, each bulk at most `maxBulkLength`
 * bytes, and all of them at most `maxRequestBytes` (Redis's
 * `client-query-buffer-limit`, 1 GiB by default). A request trickled in
 * byte by byte costs linear work: the decoder keeps its progress through an
 * incomplete multibulk.
 *
 * Arguments and values are byte strings ({@link ByteString}): one character
 * per byte, decoded as latin1, so any bytes round-trip and compare exactly.
 *
 * Replies are encoded by `reply.ts`.
 *
 * Past 300 lines because the decoder keeps its place between chunks for
 * both request forms (multibulk and inline) and Redis's exact limits on each.
 *
 * @since 0.1.0
 */
import type { Buffer } from "node:buffer"
import * as Schema from "effect/Schema"
import * as Decoder from "../../Decoder.ts"
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
 * Longest inline request and longest count line, in bytes (Redis's
 * `PROTO_INLINE_MAX_SIZE`).
 *
 * @since 0.1.0
 */
export const maxInlineLength = 64 * 1024

/**
 * Most arguments in one multibulk request: 1024 * 1024, Redis 6's bound
 * (Redis 7 allows `INT_MAX`, within its 1 GB query buffer). Each argument
 * is a string on the V8 heap, tens of bytes more than its payload, so a
 * bound on the count keeps a request of many tiny arguments from exhausting
 * the heap before the byte bound is reached.
 *
 * @since 0.1.0
 */
export const maxMultibulkLength = 1024 * 1024

/**
 * Default bound on all the bulks of one request, in bytes: 1 GiB, Redis's
 * default `client-query-buffer-limit`.
 *
 * @since 0.2.0
 */
export const defaultMaxRequestBytes = 1024 * 1024 * 1024

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
 * The bulks of one request add up to more than `limit` bytes (Redis closes
 * such a client once its query buffer passes `client-query-buffer-limit`).
 *
 * @since 0.2.0
 */
export class RequestTooLarge extends Schema.TaggedError<RequestTooLarge>()("RequestTooLarge", {
  limit: Schema.Number
}) {
  override get message(): string {
    return `Protocol error: request larger than ${this.limit} bytes (client-query-buffer-limit)`
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
export type ProtocolError =
  | InvalidMultibulkLength
  | InvalidBulkLength
  | ExpectedBulk
  | RequestTooBig
  | RequestTooLarge
  | UnbalancedQuotes

/**
 * Whether `u` is a {@link ProtocolError}.
 *
 * @since 0.1.0
 */
export const isProtocolError = (u: unknown): u is ProtocolError =>
  u instanceof InvalidMultibulkLength || u instanceof InvalidBulkLength || u instanceof ExpectedBulk ||
  u instanceof RequestTooBig || u instanceof RequestTooLarge || u instanceof UnbalancedQuotes

const CR = 13
const LF = 10
const STAR = 42
const DOLLAR = 36

/** The bytes as a {@link ByteString}. */
const toByteString = (bytes: Buffer, start: number, end: number): ByteString => bytes.toString("latin1", start, end)

/**
 * A length as Redis's `string2ll` reads it: an optional `-`, then `0` alone
 * or a digit 1–9 followed by digits, at most 20 characters, within 64 bits.
 * `undefined` for anything else. Beyond 2^53 the value is approximate, which
 * only matters for comparisons with far smaller limits.
 */
const parseLength = (bytes: Buffer, start: number, end: number): number | undefined => {
  const length = end - start
  if (length <= 0 || length > 20) return undefined
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

/**
 * Whether the line from `from` to the end of `bytes`, with no `\n` yet, is
 * too big whatever comes next (a trailing `\r` may still be its terminator).
 */
const tooBigSoFar = (bytes: Buffer, from: number): boolean => {
  const size = bytes.length - from
  return size > maxInlineLength + 1 || (size === maxInlineLength + 1 && bytes[bytes.length - 1] !== CR)
}

/** Content length of the line from `from` to the `\n` at `lf`: its terminator (`\n` or `\r\n`) excluded. */
const contentOf = (bytes: Buffer, from: number, lf: number): number => (lf > from && bytes[lf - 1] === CR ? lf - 1 : lf) - from

/** Where a count line's number ends: before its `\r\n`; `undefined` if it does not end so. */
const countEnd = (bytes: Buffer, from: number, lf: number): number | undefined =>
  lf > from && bytes[lf - 1] === CR ? lf - 1 : undefined

const EMPTY: Request = []

/** How far an incomplete multibulk request got (kept in the input's decoding state). */
interface Progress {
  readonly count: number
  readonly args: Array<ByteString>
  /** Where the next bulk's header starts, from the request's first byte. */
  offset: number
  /** Bytes of the bulks so far. */
  size: number
}

/**
 * Options of {@link request}.
 *
 * @since 0.2.0
 */
export interface RequestOptions {
  /** Longest bulk accepted, in bytes (Redis's `proto-max-bulk-len`); read at each bulk, so a getter may change it. */
  readonly maxBulkLength: number
  /** Most bytes of all the bulks of one request. Default {@link defaultMaxRequestBytes}. */
  readonly maxRequestBytes?: number | undefined
}

/**
 * The decoder of one request; see the module doc.
 *
 * **Details**
 *
 * The first byte decides, as in Redis: `*` starts a multibulk request,
 * anything else an inline one. A count of zero or less, and an empty inline
 * line, give an empty request (Redis skips them without a reply). A bulk's
 * two trailing bytes are skipped unchecked, as Redis does. Malformed
 * terminators (a CR not followed by LF) are reported as invalid lengths.
 * An inline request, a count line or a bulk header longer than
 * {@link maxInlineLength} is too big, as soon as that is certain. Input that
 * ends in the middle of a request fails the read with `UnexpectedEndOfInput`
 * (Redis never runs a request cut short).
 *
 * @since 0.2.0
 */
export const request = (options: RequestOptions): Decoder.Decoder<Request, ProtocolError> => {
  const maxRequestBytes = options.maxRequestBytes ?? defaultMaxRequestBytes
  const multibulk = (input: Decoder.Input, bytes: Buffer, start: number): Decoder.Step<Request, ProtocolError> => {
    let progress = input.state as Progress | undefined
    let pos: number
    let count: number
    let args: Array<ByteString>
    let size: number
    if (progress === undefined) {
      const lf = bytes.indexOf(LF, start + 1)
      if (lf === -1) {
        return tooBigSoFar(bytes, start + 1)
          ? Decoder.fail(new RequestTooBig({ part: "mbulk count string", limit: maxInlineLength }))
          : Decoder.NeedMore
      }
      if (contentOf(bytes, start + 1, lf) > maxInlineLength) {
        return Decoder.fail(new RequestTooBig({ part: "mbulk count string", limit: maxInlineLength }))
      }
      const end = countEnd(bytes, start + 1, lf)
      const parsed = end === undefined ? undefined : parseLength(bytes, start + 1, end)
      if (parsed === undefined || parsed > maxMultibulkLength) {
        return Decoder.fail(new InvalidMultibulkLength({ count: toByteString(bytes, start + 1, end ?? lf) }))
      }
      if (parsed <= 0) {
        input.skip(lf + 1 - start)
        return EMPTY
      }
      count = parsed
      // Grows per argument received; never sized from the announced count.
      args = []
      pos = lf + 1
      size = 0
    } else {
      count = progress.count
      args = progress.args
      pos = start + progress.offset
      size = progress.size
    }
    const end = bytes.length
    while (args.length < count) {
      if (pos >= end) break
      const lf = bytes.indexOf(LF, pos)
      if (lf === -1) {
        if (tooBigSoFar(bytes, pos)) return Decoder.fail(new RequestTooBig({ part: "bulk count string", limit: maxInlineLength }))
        break
      }
      if (contentOf(bytes, pos, lf) > maxInlineLength) {
        return Decoder.fail(new RequestTooBig({ part: "bulk count string", limit: maxInlineLength }))
      }
      if (bytes[pos] !== DOLLAR) return Decoder.fail(new ExpectedBulk({ got: bytes[pos]! }))
      const headerEnd = countEnd(bytes, pos + 1, lf)
      const length = headerEnd === undefined ? undefined : parseLength(bytes, pos + 1, headerEnd)
      const maxBulkLength = options.maxBulkLength
      if (length === undefined || length < 0 || length > maxBulkLength) {
        return Decoder.fail(new InvalidBulkLength({ length: toByteString(bytes, pos + 1, headerEnd ?? lf), limit: maxBulkLength }))
      }
      if (size + length > maxRequestBytes) return Decoder.fail(new RequestTooLarge({ limit: maxRequestBytes }))
      const payload = lf + 1
      if (payload + length + 2 > end) {
        // Gathered as it arrives, in one buffer that stops growing at its size.
        input.reserve(payload + length + 2 - start)
        break
      }
      args.push(toByteString(bytes, payload, payload + length))
      size += length
      pos = payload + length + 2
    }
    if (args.length === count) {
      input.skip(pos - start)
      return args
    }
    if (progress === undefined) input.state = progress = { count, args, offset: 0, size }
    progress.offset = pos - start
    progress.size = size
    return Decoder.NeedMore
  }
  return {
    decode(input) {
      const bytes = input.bytes
      const start = input.start
      if (start >= bytes.length) return Decoder.NeedMore
      if (bytes[start] === STAR) return multibulk(input, bytes, start)
      const lf = bytes.indexOf(LF, start)
      if (lf === -1) {
        return tooBigSoFar(bytes, start)
          ? Decoder.fail(new RequestTooBig({ part: "inline request", limit: maxInlineLength }))
          : Decoder.NeedMore
      }
      const content = contentOf(bytes, start, lf)
      if (content > maxInlineLength) return Decoder.fail(new RequestTooBig({ part: "inline request", limit: maxInlineLength }))
      const line = toByteString(bytes, start, start + content)
      const args = splitArgs(line)
      if (args === undefined) return Decoder.fail(new UnbalancedQuotes({ line }))
      input.skip(lf + 1 - start)
      return args
    }
  }
}
