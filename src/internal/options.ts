/**
 * Checks of option values a server, a connection or a handler cannot run
 * with. An invalid value is a programming error: each check throws a
 * `RangeError` naming the option and the value.
 *
 * @internal
 */
import * as Duration from "effect/Duration"

/** `value`, if it is a positive safe integer. */
export const positiveInteger = (name: string, value: number): number => {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`)
  }
  return value
}

/** `input` as a `Duration`, if it is positive (or zero, when `allowZero`). */
export const duration = (name: string, input: Duration.Input, allowZero: boolean): Duration.Duration => {
  const value = Duration.fromInputUnsafe(input)
  const millis = Duration.toMillis(value)
  if (!(millis > 0 || (allowZero && millis === 0))) {
    throw new RangeError(`${name} must be ${allowZero ? "zero or more" : "positive"}, got ${Duration.format(value)}`)
  }
  return value
}
