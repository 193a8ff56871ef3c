/**
 * Framing as pure, incremental functions over a connection's input: given
 * the bytes buffered so far, a decoder returns a frame (taking its bytes),
 * {@link NeedMore}, or a typed failure. `conn.read(decoder)` reads one frame;
 * when the frame is already buffered it completes in place, without
 * suspending the fiber. The model is tokio-util's `Decoder` (`decode` /
 * `decode_eof`).
 *
 * Built in: {@link lineBytes} and {@link line} (a length limit, and an
 * over-long line dropped as it arrives), {@link exactly} `n` bytes,
 * {@link until} a delimiter, and {@link schema} (lines decoded by a
 * `Schema`). {@link run} decodes a list of chunks, for tests.
 *
 * **Writing one.** `decode` reads `input.bytes` from `input.start` (every byte
 * up to `input.bytes.length` is buffered input) and either takes a whole
 * frame (`input.take(n)`, a view of the bytes; or `input.skip(n)`) and
 * returns it, or takes nothing and returns `NeedMore`. A decoder may keep its
 * progress through an incomplete frame in `input.state` (it is `undefined`
 * at each frame's start, kept while the read waits, and reset when bytes are
 * taken), so that input trickled byte by byte costs linear work. A frame
 * whose size the peer announces must be bounded by the decoder: fail rather
 * than buffer without limit. A failure that takes nothing leaves the input
 * as it was, so reading on fails the same way (for protocols that close
 * there); one that takes the bad frame lets the handler read on.
 *
 * **End of input.** Once the input has ended, `decode` (then `decodeEof`, if
 * given) is offered what is left; a read that still finds no frame fails with
 * `EndOfInput` when nothing was left, else with `UnexpectedEndOfInput`
 * carrying the bytes.
 *
 * Past 300 lines because it is the whole framing API in one place: the
 * decoder contract, each built-in decoder and the combinators over them.
 *
 * @since 0.2.0
 */
import { Buffer } from "node:buffer"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { type Decoder, fail, Failure, NeedMore, nextFrame, type Step } from "./internal/io/decoding.ts"
import { InputBuffer } from "./internal/io/inputBuffer.ts"
import { EndOfInput, FrameTooLong, LineDecodeError, LineTooLong, UnexpectedEndOfInput } from "./Errors.ts"

export {
  /** @since 0.2.0 */
  type Decoder,
  /** @since 0.2.0 */
  fail,
  /** @since 0.2.0 */
  Failure,
  /** @since 0.2.0 */
  type Input,
  /** @since 0.2.0 */
  NeedMore,
  /** @since 0.2.0 */
  type Step
} from "./internal/io/decoding.ts"

/**
 * The frames of `self`, transformed by `f` (a pure function).
 *
 * @since 0.2.0
 */
export const map = <A, E, B>(self: Decoder<A, E>, f: (a: A) => B): Decoder<B, E> => {
  const lift = (step: Step<A, E>): Step<B, E> =>
    step === NeedMore || step instanceof Failure ? step as NeedMore | Failure<E> : f(step as A)
  const decodeEof = self.decodeEof
  return {
    decode: (input) => lift(self.decode(input)),
    decodeEof: decodeEof === undefined ? undefined : (input) => lift(decodeEof(input))
  }
}

/**
 * The frames of `self` and its failures' errors, both as frames: an error is
 * returned instead of failing the read. For a handler that answers bad input
 * and reads on (or closes) in the same loop as good input, without a failure
 * handler around every read (which would take the read off the in-place
 * path). The end of input still fails the read.
 *
 * @since 0.2.0
 */
export const failuresAsFrames = <A, E>(self: Decoder<A, E>): Decoder<A | E, never> => {
  const unwrap = (step: Step<A, E>): Step<A | E, never> => (step instanceof Failure ? step.error : step)
  const decodeEof = self.decodeEof
  return {
    decode: (input) => unwrap(self.decode(input)),
    decodeEof: decodeEof === undefined ? undefined : (input) => unwrap(decodeEof(input))
  }
}

const LF = 10
const CR = 13
const EMPTY = Buffer.alloc(0)

/**
 * Length of a line's content: the line without its `\n` or `\r\n`. A final
 * line delivered at end of input has no terminator, so a trailing `\r`
 * there is content.
 *
 * @since 0.2.0
 */
export const contentLength = (line: Uint8Array): number => {
  const n = line.length
  if (n === 0 || line[n - 1] !== LF) return n
  return n >= 2 && line[n - 2] === CR ? n - 2 : n - 1
}

/** Limits of the line decoders. */
export interface LineOptions {
  /** Longest line content accepted, in bytes, terminator excluded. */
  readonly maxLength: number
}

const checkLimit = (name: string, value: number): number => {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${value}`)
  return value
}

/**
 * Lines as raw bytes, terminator included exactly as received (`\n`,
 * `\r\n`, or none for a final unterminated line).
 *
 * **Details**
 *
 * `\n` ends a line; a `\r` right before it belongs to the terminator. A line
 * whose content exceeds `maxLength` fails with `LineTooLong` as soon as that
 * is certain, whatever the chunking, and the rest of it is dropped as it
 * arrives, so the next read starts at the following line. Memory held for a
 * line stays under `maxLength` plus one chunk.
 *
 * @since 0.2.0
 */
export const lineBytes = (options: LineOptions): Decoder<Buffer, LineTooLong> => {
  const max = checkLimit("maxLength", options.maxLength)
  const tooLong = fail(new LineTooLong({ limit: max }))
  return {
    decode(input) {
      const bytes = input.bytes
      const start = input.start
      // `state`: how many bytes are known to hold no `\n`.
      const scanned = (input.state as number | undefined) ?? 0
      const nl = bytes.indexOf(LF, start + scanned)
      if (nl !== -1) {
        const size = nl + 1 - start
        if (size - 1 - (size >= 2 && bytes[nl - 1] === CR ? 1 : 0) > max) {
          input.skip(size)
          return tooLong
        }
        return input.take(size)
      }
      const size = bytes.length - start
      if (input.ended) return NeedMore
      // Over the limit even if a `\n` came next (a trailing `\r` may still
      // belong to the terminator): refuse now, keep nothing of it.
      if (size > max + 1 || (size === max + 1 && bytes[bytes.length - 1] !== CR)) {
        input.discardThrough(LF)
        return tooLong
      }
      input.state = size
      return NeedMore
    },
    decodeEof(input) {
      return input.length > max ? (input.skip(input.length), tooLong) : input.take(input.length)
    }
  }
}

/**
 * Lines decoded as UTF-8 text (invalid bytes become U+FFFD), without their
 * terminator; otherwise as {@link lineBytes}.
 *
 * @since 0.2.0
 */
export const line = (options: LineOptions): Decoder<string, LineTooLong> =>
  map(lineBytes(options), (bytes) => bytes.toString("utf8", 0, contentLength(bytes)))

/**
 * Exactly `n` bytes, whatever they contain (a length-prefixed body). Memory
 * grows with the bytes received, up to `n`: bound `n` before passing a
 * length that came from the peer. At end of input with fewer left, the read
 * fails with `UnexpectedEndOfInput` carrying them.
 *
 * @since 0.2.0
 */
export const exactly = (n: number): Decoder<Buffer, UnexpectedEndOfInput> => {
  checkLimit("n", n)
  if (n === 0) return { decode: () => EMPTY }
  return {
    decode(input) {
      if (input.length >= n) return input.take(n)
      input.reserve(n)
      return NeedMore
    },
    decodeEof: (input) => fail(new UnexpectedEndOfInput({ expected: n, received: input.take(input.length) }))
  }
}

/** Options of {@link until}. */
export interface UntilOptions {
  /** Longest frame accepted, in bytes, delimiter included. */
  readonly maxLength: number
}

/**
 * The bytes up to and including the next `delimiter` (Go's
 * `bufio.Reader.ReadSlice`, asyncio's `readuntil`): e.g. a NUL-terminated
 * frame, or a header block ending in `\r\n\r\n`.
 *
 * **Details**
 *
 * A frame longer than `maxLength` fails with `FrameTooLong` once that is
 * certain, and the rest of it is dropped as it arrives, through the next
 * delimiter: the next read starts after it. At end of input, bytes without a
 * delimiter fail the read with `UnexpectedEndOfInput`.
 *
 * @since 0.2.0
 */
export const until = (delimiter: string | Uint8Array, options: UntilOptions): Decoder<Buffer, FrameTooLong> => {
  const pattern = Buffer.from(delimiter)
  if (pattern.length === 0) throw new RangeError("until needs a delimiter of at least one byte")
  const max = checkLimit("maxLength", options.maxLength)
  const tooLong = fail(new FrameTooLong({ limit: max }))
  return {
    decode(input) {
      const bytes = input.bytes
      const start = input.start
      // `state`: how many bytes are known to hold no complete delimiter.
      const scanned = (input.state as number | undefined) ?? 0
      const found = bytes.indexOf(pattern, Math.max(start, start + scanned - pattern.length + 1))
      if (found !== -1) {
        const size = found + pattern.length - start
        if (size > max) {
          input.skip(size)
          return tooLong
        }
        return input.take(size)
      }
      const size = bytes.length - start
      if (size >= max) {
        // No delimiter can end a frame within the limit any more.
        input.discardThrough(pattern)
        return tooLong
      }
      input.state = size
      return NeedMore
    }
  }
}

/**
 * Lines decoded by a `Schema` whose encoded side is the line's text
 * (without its terminator), e.g. `Schema.fromJsonString(...)` for NDJSON. A
 * line that does not decode fails with `LineDecodeError` carrying the line
 * and the issue; the line is consumed, so a handler may answer and read on.
 *
 * @since 0.2.0
 */
export const schema = <A, RE>(
  codec: Schema.Codec<A, string, never, RE>,
  options: LineOptions
): Decoder<A, LineTooLong | LineDecodeError> => {
  const decodeLine = Schema.decodeUnknownExit(codec)
  const { decode, decodeEof } = line(options)
  const decodeText = (text: string | NeedMore | Failure<LineTooLong>): Step<A, LineTooLong | LineDecodeError> => {
    if (typeof text !== "string") return text
    const exit = decodeLine(text)
    if (Exit.isSuccess(exit)) return exit.value
    const error = Exit.findErrorOption(exit)
    return fail(new LineDecodeError({ line: text, issue: Option.isSome(error) ? error.value.message : String(exit.cause) }))
  }
  return {
    decode: (input) => decodeText(decode(input)),
    decodeEof: decodeEof === undefined ? undefined : (input) => decodeText(decodeEof(input))
  }
}

/**
 * What {@link run} decoded: each frame or failure, in order, and how it
 * ended.
 *
 * @since 0.2.0
 */
export interface Decoded<A, E> {
  /** Every frame and every failure, in order. */
  readonly frames: ReadonlyArray<A | Failure<E>>
  /**
   * The input ended cleanly at a frame boundary, or in the middle of a
   * frame; `undefined` when decoding stopped at a failure that took no input
   * (reading on would fail the same way: the protocol closes there).
   */
  readonly end: EndOfInput | UnexpectedEndOfInput | undefined
}

/**
 * Decodes `chunks` (one chunk each, then the end of input) as a connection
 * would: decoding after each chunk until `NeedMore`. For tests of decoders,
 * e.g. that any chunking of an input gives the same frames.
 *
 * @since 0.2.0
 */
export const run = <A, E>(decoder: Decoder<A, E>, chunks: Iterable<Uint8Array | string>): Decoded<A, E> => {
  const input = new InputBuffer()
  const frames: Array<A | Failure<E>> = []
  /** Decodes what is buffered: `undefined` to go on, or how decoding ended. */
  const drain = (): Decoded<A, E>["end"] | "more" => {
    for (let steps = 0; steps < 10_000_000; steps++) {
      const before = input.length
      const step = nextFrame(decoder, input)
      if (step === NeedMore) return "more"
      if (step instanceof Failure && input.ended && isEnd(step.error)) return step.error
      frames.push(step as A | Failure<E>)
      if (step instanceof Failure && input.length === before) return undefined
    }
    throw new Error("the decoder makes no progress")
  }
  for (const chunk of chunks) {
    input.append(Buffer.from(typeof chunk === "string" ? Buffer.from(chunk) : chunk))
    const end = drain()
    if (end !== "more") return { frames, end }
  }
  input.end()
  const end = drain()
  if (end === "more") throw new Error("the decoder asked for more input after the input ended")
  return { frames, end }
}

const isEnd = (error: unknown): error is EndOfInput | UnexpectedEndOfInput =>
  error instanceof EndOfInput || error instanceof UnexpectedEndOfInput
