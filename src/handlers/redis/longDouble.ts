/**
 * The `long double` arithmetic Redis's float increments do (`HINCRBYFLOAT`,
 * and `INCRBYFLOAT` alike), done exactly as x86-64 does it: the 80-bit
 * extended format — a 64-bit significand, exponents down to 2^-16445 — with
 * values held as a `bigint` significand and a power of two, each result
 * rounded to nearest-even as the FPU rounds. A double would give other digits
 * (0.1 + 0.2 is `0.30000000000000004` in doubles, `0.3` in Redis).
 *
 * {@link parse} reads as Redis's `string2ld` (`strtold`), {@link add} adds,
 * and {@link format} writes as its `ld2string` in human mode (`%.17Lf`, the
 * trailing zeros dropped).
 *
 * @since 0.1.0
 */
import type { ByteString } from "./bytes.ts"

/**
 * A finite `long double`: `(negative ? -1 : 1) × significand × 2^exponent`,
 * the significand below 2^64 (0 for zero).
 *
 * @since 0.1.0
 */
export interface LongDouble {
  readonly negative: boolean
  readonly significand: bigint
  readonly exponent: number
}

/**
 * What `strtold` also reads, and a command then refuses: an infinity.
 *
 * @since 0.1.0
 */
export type Infinite = "inf" | "-inf"

const zero = (negative: boolean): LongDouble => ({ negative, significand: 0n, exponent: 0 })

/** The format's bounds: a significand of 64 bits; the smallest step (subnormal) 2^-16445; the largest 2^16384 - 2^16320. */
const bits = 64
const minExponent = -16445
const maxExponent = 16384 - bits

/** `strtold` reads at most this much (Redis's `MAX_LONG_DOUBLE_CHARS`, its buffer, NUL included). */
const maxChars = 5 * 1024

const decimal = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$/
const hexadecimal = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?[0-9]+))?$/
const infinity = /^([+-]?)inf(?:inity)?$/i

const bitLength = (n: bigint): number => n === 0n ? 0 : n.toString(2).length

/**
 * `numerator / denominator × 2^shift` (both positive) rounded to the format,
 * with the sign of `negative`: `undefined` past the largest value.
 */
const round = (negative: boolean, numerator: bigint, denominator: bigint, shift: number): LongDouble | undefined => {
  // The exponent that leaves a quotient of 64 or 65 bits (65: one more step
  // below); never below the smallest, where the quotient has fewer bits (a subnormal).
  let exponent = Math.max(minExponent, bitLength(numerator) - bitLength(denominator) - bits + shift)
  const divide = (e: number) => {
    const scale = e - shift
    return scale >= 0
      ? [numerator, denominator << BigInt(scale)] as const
      : [numerator << BigInt(-scale), denominator] as const
  }
  let [p, q] = divide(exponent)
  if (p / q >= 1n << BigInt(bits)) [p, q] = divide(++exponent)
  let significand = p / q
  const twice = 2n * (p % q)
  if (twice > q || (twice === q && (significand & 1n) === 1n)) significand++
  if (significand === 1n << BigInt(bits)) {
    significand >>= 1n
    exponent++
  }
  if (exponent > maxExponent) return undefined
  return { negative, significand, exponent }
}

/** A rounded value, or `undefined` if it overflowed or — not zero — underflowed to zero (`strtold`'s `ERANGE`). */
const inRange = (value: LongDouble | undefined): LongDouble | undefined =>
  value === undefined || value.significand === 0n ? undefined : value

/** `0x…` with an optional point and binary exponent (`p`), as `strtold` reads it. */
const parseHexadecimal = (match: RegExpExecArray): LongDouble | undefined => {
  const [, sign, whole = "", fraction = "", exponentText = "0"] = match
  if (whole.length + fraction.length === 0) return undefined
  const digits = (whole + fraction).replace(/^0+/, "")
  if (digits.length === 0) return zero(sign === "-")
  const shift = Number(exponentText) - 4 * fraction.length
  // Beyond the format's exponents whatever the digits (the exponent may be any size).
  const magnitude = shift + 4 * digits.length
  if (magnitude > 16400 || magnitude < -16500) return undefined
  return inRange(round(sign === "-", BigInt(`0x${digits}`), 1n, shift))
}

/**
 * The value of `text` as Redis's `string2ld` reads it: decimal notation with
 * an optional exponent, or hexadecimal (`0x1.8p3`); `"inf"` or `"-inf"` for
 * `inf`/`infinity` (any case, signed); `undefined` for anything else —
 * blanks, NaN, more than 5 KiB, a value past the format's range, or one so
 * small it underflows to zero (`strtold`'s `ERANGE`).
 *
 * @since 0.1.0
 */
export const parse = (text: ByteString): LongDouble | Infinite | undefined => {
  if (text.length === 0 || text.length >= maxChars) return undefined
  const inf = infinity.exec(text)
  if (inf !== null) return inf[1] === "-" ? "-inf" : "inf"
  const hex = hexadecimal.exec(text)
  if (hex !== null) return parseHexadecimal(hex)
  const match = decimal.exec(text)
  if (match === null) return undefined
  const [, sign, whole = "", fraction = "", exponentText = "0"] = match
  if (whole.length + fraction.length === 0) return undefined
  const digits = (whole + fraction).replace(/^0+/, "")
  if (digits.length === 0) return zero(sign === "-")
  // The text is at most 5 KiB, but its exponent may be any size: beyond what
  // the format can hold it overflows or underflows whatever the digits.
  const power = Number(exponentText) - fraction.length
  const magnitude = power + digits.length
  if (magnitude > 4934 || magnitude < -4952) return undefined
  const mantissa = BigInt(digits)
  return inRange(
    power >= 0
      ? round(sign === "-", mantissa * 10n ** BigInt(power), 1n, 0)
      : round(sign === "-", mantissa, 10n ** BigInt(-power), 0)
  )
}

/**
 * `a + b`, rounded to the format; `undefined` if the sum overflows.
 *
 * @since 0.1.0
 */
export const add = (a: LongDouble, b: LongDouble): LongDouble | undefined => {
  const low = Math.min(a.exponent, b.exponent)
  const signed = (x: LongDouble) => (x.negative ? -x.significand : x.significand) << BigInt(x.exponent - low)
  const sum = signed(a) + signed(b)
  // An exact zero is +0, as IEEE addition gives it (then printed as `0` either way).
  if (sum === 0n) return zero(false)
  return round(sum < 0n, sum < 0n ? -sum : sum, 1n, low)
}

const fractionDigits = 17
const fractionScale = 10n ** BigInt(fractionDigits)

/**
 * `value` as Redis's `ld2string(…, LD_STR_HUMAN)` writes it: `%.17Lf` (17
 * digits after the point, rounded to nearest-even), then the trailing zeros
 * and a bare point dropped, and `-0` written `0`.
 *
 * @since 0.1.0
 */
export const format = (value: LongDouble): string => {
  const { negative, significand: magnitude } = value
  let scaled: bigint
  if (value.exponent >= 0) {
    scaled = (magnitude << BigInt(value.exponent)) * fractionScale
  } else {
    const divisor = 1n << BigInt(-value.exponent)
    const product = magnitude * fractionScale
    scaled = product / divisor
    const twice = 2n * (product % divisor)
    if (twice > divisor || (twice === divisor && (scaled & 1n) === 1n)) scaled++
  }
  const whole = (scaled / fractionScale).toString()
  const fraction = (scaled % fractionScale).toString().padStart(fractionDigits, "0").replace(/0+$/, "")
  const text = fraction.length === 0 ? whole : `${whole}.${fraction}`
  return negative && text !== "0" ? `-${text}` : text
}
