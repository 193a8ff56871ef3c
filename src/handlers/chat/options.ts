/**
 * The chat's options, their defaults and their checks, in one place: the
 * room reads the outbox and nickname ones, and hands the per-member limits
 * to the handler, which applies them on each member's own fiber.
 *
 * @since 0.1.0
 */
import { positiveInteger } from "../../internal/options.ts"

/**
 * Options of a room. Every field is optional; see {@link defaults}.
 *
 * @since 0.1.0
 */
export interface ChatOptions {
  /**
   * How many bytes of lines (UTF-8, plus one per line ending) may wait in a
   * member's outbox before the member is disconnected. An empty outbox
   * takes one line of any size, so a member holds at most this plus one
   * line, plus what its connection buffers (the write high-water mark and
   * the socket's own buffers).
   */
  readonly outboxBytes?: number | undefined
  /** Longest nickname, in characters. The charset is fixed (see `text.ts`). */
  readonly maxNickLength?: number | undefined
  /**
   * Nickname changes a member may make a minute, in a burst or spread out
   * (a token bucket of this many, refilled evenly over the minute). A
   * `/nick` over the limit changes nothing and tells only its sender; a
   * refused nickname does not count.
   */
  readonly renamesPerMinute?: number | undefined
  /**
   * Lines a member may send a second (messages, actions and commands
   * alike), in bursts of as many; 0 for no limit. The lines of a faster
   * sender are read no faster: none is lost, and its client's writes wait
   * as TCP makes them wait.
   */
  readonly linesPerSecond?: number | undefined
}

/**
 * Default room options: 64 KiB outboxes, nicknames up to 16 characters,
 * 3 nickname changes a minute and 20 lines a second for each member.
 *
 * @since 0.1.0
 */
export const defaults = { outboxBytes: 64 * 1024, maxNickLength: 16, renamesPerMinute: 3, linesPerSecond: 20 } as const

/**
 * What each member may do, as the handler applies it (checked options).
 *
 * @since 0.1.0
 */
export interface MemberLimits {
  /** Nickname changes a minute. */
  readonly renamesPerMinute: number
  /** Lines a second; 0: no limit. */
  readonly linesPerSecond: number
}

/**
 * Every option, checked, with its default where it was not given. An
 * invalid value is a programming error: it throws a `RangeError` naming it.
 *
 * @since 0.1.0
 */
export const resolve = (options: ChatOptions): Readonly<Record<keyof ChatOptions, number>> => {
  const linesPerSecond = options.linesPerSecond ?? defaults.linesPerSecond
  if (linesPerSecond !== 0 && !(Number.isSafeInteger(linesPerSecond) && linesPerSecond > 0)) {
    throw new RangeError(`chat option linesPerSecond must be 0 (no limit) or a positive integer, got ${linesPerSecond}`)
  }
  return {
    outboxBytes: positiveInteger("chat option outboxBytes", options.outboxBytes ?? defaults.outboxBytes),
    maxNickLength: positiveInteger("chat option maxNickLength", options.maxNickLength ?? defaults.maxNickLength),
    renamesPerMinute: positiveInteger("chat option renamesPerMinute", options.renamesPerMinute ?? defaults.renamesPerMinute),
    linesPerSecond
  }
}
