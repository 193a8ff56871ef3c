/**
 * The arithmetic `INCRBYFLOAT` and `HINCRBYFLOAT` do, as Redis does it: in
 * C's `long double`, x87 80-bit extended precision (64-bit significand) on
 * the x86-64 builds everyone runs, so that results come out byte for byte
 * as Redis prints them (`1000.1` plus `0.1` is `1000.19999999999999996`, not
 * `1000.2` nor JavaScript's `1000.2000000000000455`).
 *
 * Values are exact binary fractions held in `bigint`s: {@link parse} rounds
 * a decimal to the nearest extended value (`strtold`), {@link add} rounds the
 * exact sum (`+`), {@link format} prints the exact value at 17 decimals
 * (`%.17Lf`, then trailing zeros dropped, as Redis's `ld2string` in its
 * human mode). Every rounding is to nearest, ties to even. Hexadecimal
 * floats, which `strtold` also reads, are refused.
 *
 * @since 0.1.0
 */

/**
 * A finite extended-precision value: `(negative ? -1 : 1) × significand ×
 * 2^exponent`, the significand below 2^64 (0 for zero).
 *
 * @since 0.1.0
 */
export interface LongDouble {
  readonly negative: boolean
  readonly significand: bigint
  readonly exponent: number
}

/** What a value may also be: `strtold` reads `inf`, and sums overflow. */
type Infinite = "inf" | "-inf"

// Binary exponents of the lowest significand bit: smallest subnormal, largest finite value.
const minExponent = -16445
const maxExponent = 16383 - 63
const bits = 64

const bitLength = (n: bigint): number => (n === 0n ? 0 : n.toString(2).length)

/**
 * `num / den × 2^exp2` rounded to 64 significant bits (fewer below the
 * smallest normal value): the value, or `undefined` past the largest finite
 * one.
 */
const round = (negative: boolean, num: bigint, den: bigint, exp2: number): LongDouble | undefined => {
  if (num === 0n) return { negative, significand: 0n, exponent: 0 }
  // Scale so that the integer quotient has at least bits + 2 bits; the remainder is a sticky bit.
  const scale = Math.max(0, bits + 2 - (bitLength(num) - bitLength(den)))
  const scaled = num << BigInt(scale)
  let quotient = scaled / den
  const sticky = scaled % den !== 0n
  let exponent = exp2 - scale
  const extra = Math.max(bitLength(quotient) - bits, minExponent - exponent)
  if (extra > 0) {
    const dropped = quotient & ((1n << BigInt(extra)) - 1n)
    const half = 1n << BigInt(extra - 1)
    quotient >>= BigInt(extra)
    exponent += extra
    if (dropped > half || (dropped === half && (sticky || (quotient & 1n) === 1n))) quotient += 1n
  }
  if (bitLength(quotient) > bits) {
    quotient >>= 1n
    exponent++
  }
  if (exponent > maxExponent) return undefined
  return { negative, significand: quotient, exponent }
}

const decimal = /^([+-]?)(?:([0-9]+)(?:\.([0-9]*))?|\.([0-9]+))(?:[eE]([+-]?[0-9]+))?$/
const infinity = /^([+-]?)inf(?:inity)?$/i

/**
 * A number as Redis's `string2ld` reads it: decimal notation, `inf` or
 * `infinity`, no blanks, at most 5119 bytes; `undefined` for anything else,
 * and for a number that overflows or underflows to zero (`ERANGE`).
 *
 * @since 0.1.0
 */
export const parse = (text: string): LongDouble | Infinite | undefined => {
  if (text.length === 0 || text.length >= 5 * 1024) return undefined
  const inf = infinity.exec(text)
  if (inf !== null) return inf[1] === "-" ? "-inf" : "inf"
  const match = decimal.exec(text)
  if (match === null) return undefined
  const [, sign, whole = "", afterPoint, pointFirst, exponentText = "0"] = match
  const fraction = afterPoint ?? pointFirst ?? ""
  const digits = BigInt(whole + fraction)
  const negative = sign === "-"
  if (digits === 0n) return { negative, significand: 0n, exponent: 0 }
  // value = digits × 10^power; far out of range, strtold gives ERANGE without anyone computing 10^power.
  const power = Number(exponentText) - fraction.length
  const magnitude = digits.toString().length + power
  if (magnitude > 4934 || magnitude < -4952) return undefined
  const value = power >= 0
    ? round(negative, digits * 10n ** BigInt(power), 1n, 0)
    : round(negative, digits, 10n ** BigInt(-power), 0)
  return value === undefined || value.significand === 0n ? undefined : value
}

/**
 * `a + b` rounded to extended precision; `undefined` if it overflows.
 *
 * @since 0.1.0
 */
export const add = (a: LongDouble, b: LongDouble): LongDouble | undefined => {
  const exponent = Math.min(a.exponent, b.exponent)
  const signed = (x: LongDouble) => (x.negative ? -x.significand : x.significand) << BigInt(x.exponent - exponent)
  const sum = signed(a) + signed(b)
  return round(sum < 0n, sum < 0n ? -sum : sum, 1n, exponent)
}

/**
 * The value as Redis's `ld2string` prints it in human mode: `%.17Lf`,
 * then trailing zeros (and a trailing `.`) dropped; `-0` is `0`.
 *
 * @since 0.1.0
 */
export const format = (x: LongDouble): string => {
  let scaled: bigint
  if (x.exponent >= 0) {
    scaled = (x.significand << BigInt(x.exponent)) * 10n ** 17n
  } else {
    const numerator = x.significand * 10n ** 17n
    const denominator = 1n << BigInt(-x.exponent)
    scaled = numerator / denominator
    const twice = (numerator % denominator) * 2n
    if (twice > denominator || (twice === denominator && (scaled & 1n) === 1n)) scaled += 1n
  }
  const digits = scaled.toString().padStart(18, "0")
  const text = `${digits.slice(0, -17)}.${digits.slice(-17)}`.replace(/\.?0*$/, "")
  return x.negative && text !== "0" ? `-${text}` : text
}
