/**
 * The chat's options, their defaults and their checks, in one place: the
 * room reads the outbox and nickname ones, and hands the per-member limits
 * to the handler, which applies them on each member's own fiber.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as Options from "../../Options.ts"

/** 0 (no limit) or a positive integer. */
const RateLimit = Schema.Number.check(
  Schema.makeFilter((n: number) => n === 0 || (Number.isSafeInteger(n) && n > 0), { expected: "0 (no limit) or a positive integer" })
)

/**
 * Options of a room. Every field is optional; see {@link defaults}.
 *
 * @since 0.1.0
 */
export const ChatOptions = Schema.Struct({
  /**
   * How many bytes of lines (UTF-8, plus one per line ending) may wait in a
   * member's outbox before the member is disconnected. An empty outbox
   * takes one line of any size, so a member holds at most this plus one
   * line, plus what its connection buffers (the write high-water mark and
   * the socket's own buffers).
   */
  outboxBytes: Schema.optional(Options.PositiveInt),
  /** Longest nickname, in characters. The charset is fixed (see `text.ts`). */
  maxNickLength: Schema.optional(Options.PositiveInt),
  /**
   * Nickname changes a member may make a minute, in a burst or spread out
   * (a token bucket of this many, refilled evenly over the minute). A
   * `/nick` over the limit changes nothing and tells only its sender; a
   * refused nickname does not count.
   */
  renamesPerMinute: Schema.optional(Options.PositiveInt),
  /**
   * Lines a member may send a second (messages, actions and commands
   * alike), in bursts of as many; 0 for no limit. The lines of a faster
   * sender are read no faster: none is lost, and its client's writes wait
   * as TCP makes them wait.
   */
  linesPerSecond: Schema.optional(RateLimit)
})

/**
 * Options of a room, as given (see the schema above).
 *
 * @since 0.1.0
 */
export interface ChatOptions extends Schema.Codec.Encoded<typeof ChatOptions> {}

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
 * invalid value is a programming error: it throws the `InvalidOption`
 * naming it. Other keys (a shared room's) are left to their owner.
 *
 * @since 0.1.0
 */
export const resolve = (options: ChatOptions): Readonly<Record<keyof ChatOptions, number>> => {
  const decoded = Options.decodeUnsafe(ChatOptions, options, { excess: "ignore" })
  return {
    outboxBytes: decoded.outboxBytes ?? defaults.outboxBytes,
    maxNickLength: decoded.maxNickLength ?? defaults.maxNickLength,
    renamesPerMinute: decoded.renamesPerMinute ?? defaults.renamesPerMinute,
    linesPerSecond: decoded.linesPerSecond ?? defaults.linesPerSecond
  }
}
