/**
 * The vocabulary every layer of the Redis handler shares — framing, commands
 * and state alike: byte strings, a request as a list of them, and the 64-bit
 * bounds Redis reads integers within. A leaf module: it imports nothing, so
 * framing and commands both depend on it instead of on each other.
 *
 * @since 0.1.0
 */

/**
 * Bytes held in a string, one character (code 0–255) per byte: what
 * `Buffer#toString("latin1")` gives. A 1:1 representation, so byte strings
 * are exact `Map` keys and compare like the bytes they stand for.
 *
 * @since 0.1.0
 */
export type ByteString = string

/**
 * One request's arguments, the command name first. Empty for requests Redis
 * ignores (an empty inline line, `*0`, a negative count).
 *
 * @since 0.1.0
 */
export type Request = ReadonlyArray<ByteString>

/**
 * The largest 64-bit signed integer, Redis's `LLONG_MAX`.
 *
 * @since 0.1.0
 */
export const int64Max = 9223372036854775807n

/**
 * The smallest 64-bit signed integer, Redis's `LLONG_MIN`.
 *
 * @since 0.1.0
 */
export const int64Min = -9223372036854775808n

/**
 * Whether `arg` equals the lowercase ASCII `word`, ignoring case (as
 * `strcasecmp`).
 *
 * @since 0.1.0
 */
export const is = (arg: ByteString, word: string): boolean => arg.length === word.length && arg.toLowerCase() === word
