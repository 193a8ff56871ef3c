/**
 * How a command takes its arguments: an {@link Arguments} cursor (mini-redis's
 * `parse.rs`) that hands them out in order, each read by Redis's rules — a
 * 64-bit integer as `string2ll`, a float as `strtod`/`strtold` — and throws
 * the `CommandError` Redis replies with when one does not read, is missing,
 * or is left over.
 *
 * The readers also exist on their own ({@link integer}, {@link count},
 * {@link parseFloat}, {@link timeout}) for the arguments a command takes
 * first and reads later, because Redis checks the ones after them first
 * (`EXPIRE key time [NX]` refuses a bad option before a bad time).
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import { type ByteString, int64Max, int64Min, is, type Request } from "./bytes.ts"
import { InvalidSyntax, NotAFloat, NotAnInteger, rejected, WrongArity } from "./errors.ts"

const int64Syntax = /^(?:0|-?[1-9][0-9]*)$/

/**
 * A 64-bit integer as Redis's `string2ll` reads it: no sign but `-`, no
 * leading zeros, no blanks; `undefined` otherwise.
 *
 * @since 0.1.0
 */
export const parseInteger = (arg: ByteString): bigint | undefined => {
  if (arg.length > 20 || !int64Syntax.test(arg)) return undefined
  const value = BigInt(arg)
  return value > int64Max || value < int64Min ? undefined : value
}

/**
 * {@link parseInteger}, or throws `NotAnInteger` (or `ERR message` if given).
 *
 * @since 0.1.0
 */
export const integer = (arg: ByteString, message?: string): bigint => {
  const value = parseInteger(arg)
  if (value !== undefined) return value
  throw message === undefined ? new NotAnInteger() : rejected(message)
}

/**
 * A count that must be 0 or more (`LPOP key count`, `SPOP key count`).
 *
 * @since 0.1.0
 */
export const count = (arg: ByteString): number => {
  const value = integer(arg, "value is out of range, must be positive")
  if (value < 0n) throw rejected("value is out of range, must be positive")
  return Number(value)
}

// The digits after a point only follow a point: `[0-9]+\.?[0-9]*` let a long run of digits
// that ends badly backtrack in quadratic time (seconds for 40 KB).
const decimal = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/
const infinity = /^[+-]?inf(?:inity)?$/i

/**
 * A float as Redis's `string2ld` (`strtold`) reads it: decimal notation with
 * an optional exponent, or `inf`/`infinity`; no blanks, no NaN. (Hexadecimal
 * floats, which `strtold` also reads, are not accepted.)
 *
 * @since 0.1.0
 */
export const parseFloat = (arg: ByteString): number | undefined => {
  if (decimal.test(arg)) return Number(arg)
  if (infinity.test(arg)) return arg.startsWith("-") ? -Infinity : Infinity
  return undefined
}

/**
 * A double as Redis's `string2d` (`strtod`) reads it: {@link parseFloat},
 * and also refused when the number is out of a double's range (`1e400`
 * overflows; `1e-400`, not zero, underflows to zero), as `strtod`'s `ERANGE`.
 *
 * @since 0.1.0
 */
export const parseDouble = (arg: ByteString): number | undefined => {
  const value = parseFloat(arg)
  if (value === undefined) return undefined
  if (!Number.isFinite(value) && !infinity.test(arg)) return undefined
  if (value === 0 && /[1-9]/.test(arg.split(/[eE]/)[0]!)) return undefined
  return value
}

/**
 * A blocking command's timeout in seconds (fractions allowed, rounded up to
 * the millisecond): `undefined` for 0, which waits forever.
 *
 * @since 0.1.0
 */
export const timeout = (arg: ByteString, now: number): Duration.Duration | undefined => {
  const seconds = parseFloat(arg)
  if (seconds === undefined) throw rejected("timeout is not a float or out of range")
  const millis = seconds * 1000
  // 2^63: the first value past a 64-bit integer, as close as a double gets to Redis's LLONG_MAX check.
  if (millis >= 2 ** 63) throw rejected("timeout is out of range")
  const rounded = Math.ceil(millis)
  if (rounded < 0) throw rejected("timeout is negative")
  if (rounded >= 2 ** 63 - now) throw rejected("timeout is out of range")
  return rounded === 0 ? undefined : Duration.millis(rounded)
}

/**
 * Throws `InvalidSyntax` (`-ERR syntax error`).
 *
 * @since 0.1.0
 */
export const syntaxError = (): never => {
  throw new InvalidSyntax()
}

/**
 * The arguments of one request after its command (and subcommand) name, taken
 * in order.
 *
 * **Details**
 *
 * The dispatcher has checked the command's arity before it runs, so taking
 * the arguments the arity guarantees never fails; taking one more than there
 * is throws `WrongArity`, Redis's error for a missing argument. A command
 * ends with {@link finish} (left-overs are `ERR syntax error`, as Redis's
 * option parsers say) or {@link finishArity} (left-overs are a wrong number
 * of arguments, as `PING a b` or `LPOP k 1 2`) when its arity lets more
 * arguments through than it reads.
 *
 * @since 0.1.0
 */
export class Arguments {
  readonly #request: Request
  readonly #command: string
  #at: number
  #end: number

  /**
   * The arguments of `request` from index `start`, for `command` (its full
   * lowercase name, as errors name it: `get`, `client|setname`).
   */
  constructor(request: Request, command: string, start: number) {
    this.#request = request
    this.#command = command
    this.#at = start
    this.#end = request.length
  }

  /** How many arguments are left. */
  get remaining(): number {
    return this.#end - this.#at
  }

  /** Whether an argument is left. */
  hasNext(): boolean {
    return this.#at < this.#end
  }

  /** Takes the next argument; throws `WrongArity` if there is none. */
  nextString(): ByteString {
    if (this.#at >= this.#end) throw new WrongArity({ command: this.#command })
    return this.#request[this.#at++]!
  }

  /** Takes the next argument if it is the keyword `word` (lowercase ASCII), ignoring case. */
  nextIs(word: string): boolean {
    if (this.#at >= this.#end || !is(this.#request[this.#at]!, word)) return false
    this.#at++
    return true
  }

  /**
   * Takes the next argument as a 64-bit integer ({@link parseInteger});
   * throws `NotAnInteger` (`-ERR value is not an integer or out of range`),
   * or `ERR message` if given.
   */
  nextInteger(message?: string): bigint {
    return integer(this.nextString(), message)
  }

  /**
   * Takes the next argument as a double ({@link parseDouble}); throws
   * `NotAFloat` (`-ERR value is not a valid float`), or `ERR message` if
   * given.
   */
  nextFloat(message?: string): number {
    const value = parseDouble(this.nextString())
    if (value !== undefined) return value
    throw message === undefined ? new NotAFloat() : rejected(message)
  }

  /** Takes the last argument left (`BLPOP key … timeout`); throws `WrongArity` if there is none. */
  lastString(): ByteString {
    if (this.#at >= this.#end) throw new WrongArity({ command: this.#command })
    return this.#request[--this.#end]!
  }

  /** Takes every argument left. */
  rest(): ReadonlyArray<ByteString> {
    const rest = this.#request.slice(this.#at, this.#end)
    this.#at = this.#end
    return rest
  }

  /** Takes every argument left as pairs (`MSET`, `HSET`); throws `WrongArity` for an odd number. */
  restPairs(): Array<readonly [ByteString, ByteString]> {
    if (this.remaining % 2 !== 0) throw new WrongArity({ command: this.#command })
    const pairs: Array<readonly [ByteString, ByteString]> = []
    while (this.#at < this.#end) pairs.push([this.#request[this.#at++]!, this.#request[this.#at++]!])
    return pairs
  }

  /**
   * Throws Redis's error for a subcommand given the wrong arguments (its
   * `addReplySubcommandSyntaxError`), naming it as the client spelled it.
   */
  subcommandSyntaxError(): never {
    const [command = "", subcommand = ""] = this.#request
    throw rejected(
      `unknown subcommand or wrong number of arguments for '${subcommand.slice(0, 128)}'. Try ${command.toUpperCase()} HELP.`
    )
  }

  /** Throws `InvalidSyntax` if an argument is left. */
  finish(): void {
    if (this.#at < this.#end) throw new InvalidSyntax()
  }

  /** Throws `WrongArity` if an argument is left. */
  finishArity(): void {
    if (this.#at < this.#end) throw new WrongArity({ command: this.#command })
  }
}
