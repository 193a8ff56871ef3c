/**
 * What a decoder is — the types `Decoder` (the public module) re-exports
 * with its built-in decoders — and the rule of one read over an input
 * buffer ({@link nextFrame}), shared by connections and `Decoder.run`.
 *
 * @internal
 */
import type { Buffer } from "node:buffer"
import { EndOfInput, UnexpectedEndOfInput } from "../../Errors.ts"

/**
 * What a decoder reads: the buffered input of one connection.
 *
 * @since 0.2.0
 */
export interface Input {
  /** The buffered bytes: those from `start` to the end are received and not yet taken. */
  readonly bytes: Buffer
  /** Where the untaken bytes begin in `bytes`. */
  readonly start: number
  /** How many bytes are buffered and untaken. */
  readonly length: number
  /** Whether the input has ended: no byte will be added any more. */
  readonly ended: boolean
  /**
   * The decoder's progress through the frame it is decoding, if it keeps
   * any: `undefined` at the start of each frame, kept while the read waits
   * for more, reset whenever bytes are taken.
   */
  state: unknown
  /** The next `n` bytes, taken: a view of the input, never reused by fiberline. */
  readonly take: (n: number) => Buffer
  /** Takes and drops the next `n` bytes. */
  readonly skip: (n: number) => void
  /** Where `byte` first occurs at or after offset `from` of the untaken bytes, or -1. */
  readonly indexOf: (byte: number, from?: number) => number
  /**
   * Says the frame being decoded needs `total` bytes from `start`: the buffer
   * that gathers more input then grows (by doubling what was received) up to
   * that size and no further. A hint; it ends when bytes are taken.
   */
  readonly reserve: (total: number) => void
  /**
   * Drops the untaken bytes through the next `delimiter` (a byte, or a
   * sequence of bytes), and if it has not arrived yet, drops input as it
   * arrives until it has: how a decoder skips the rest of a frame it refused
   * as too long, holding none of it.
   */
  readonly discardThrough: (delimiter: number | Uint8Array) => void
}

/**
 * Returned by a decoder when no complete frame is buffered yet.
 *
 * @since 0.2.0
 */
export const NeedMore: unique symbol = Symbol.for("fiberline/Decoder/NeedMore")

/**
 * The type of {@link NeedMore}.
 *
 * @since 0.2.0
 */
export type NeedMore = typeof NeedMore

/**
 * A typed failure returned by a decoder; the read fails with `error`.
 *
 * @since 0.2.0
 */
export class Failure<out E> {
  readonly error: E
  constructor(error: E) {
    this.error = error
  }
}

/**
 * A {@link Failure} of `error`.
 *
 * @since 0.2.0
 */
export const fail = <E>(error: E): Failure<E> => new Failure(error)

/**
 * What one decoding step gives: a frame, {@link NeedMore}, or a {@link Failure}.
 *
 * @since 0.2.0
 */
export type Step<A, E> = A | NeedMore | Failure<E>

/**
 * A decoder of frames of type `A` that fails with `E`; see the module doc.
 *
 * @since 0.2.0
 */
export interface Decoder<out A, out E = never> {
  /** One step over the buffered input. */
  readonly decode: (input: Input) => Step<A, E>
  /**
   * Once the input has ended and `decode` found no frame in what is left:
   * the last frame, or a failure. `NeedMore` (or no `decodeEof`) fails the
   * read with `UnexpectedEndOfInput`.
   */
  readonly decodeEof?: ((input: Input) => Step<A, E>) | undefined
}

/**
 * One read's step over `input` with `decoder`: a frame, `NeedMore` (wait for
 * input), or a failure. Once the input has ended, what `decode` leaves goes
 * to `decodeEof`; a read that still finds no frame fails with `EndOfInput`
 * if nothing was left, else with `UnexpectedEndOfInput` carrying the bytes.
 */
export const nextFrame = <A, E>(
  decoder: Decoder<A, E>,
  input: Input
): A | NeedMore | Failure<E | EndOfInput | UnexpectedEndOfInput> => {
  const step = decoder.decode(input)
  if (step !== NeedMore || !input.ended) return step
  if (input.length === 0) return fail(new EndOfInput())
  const last = decoder.decodeEof === undefined ? NeedMore : decoder.decodeEof(input)
  if (last !== NeedMore) return last
  return fail(new UnexpectedEndOfInput({ received: input.take(input.length) }))
}
