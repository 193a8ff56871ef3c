/**
 * Doubles as Redis writes and reads them outside the strict argument readers
 * of `parse.ts`: {@link formatDouble} writes a reply's double as C's
 * `printf("%.17g")` does (Redis 7.0's `addReplyDouble`, with `inf` and
 * `-inf`), and {@link parseStrtod} reads a score range's bound as `strtod`
 * does when Redis accepts whatever it parsed up to the end of the C string.
 *
 * @since 0.1.0
 */
import type { ByteString } from "./bytes.ts"
import { parseFloat } from "./parse.ts"

/**
 * The 17 significant digits of `x` (finite, not 0) and its decimal exponent,
 * rounded to nearest with ties to even on the exact value, as glibc rounds.
 */
const digits17 = (x: number): readonly [string, number] => {
  // toExponential rounds the exact value correctly, but ties away from zero.
  const text = x.toExponential(16)
  const e = text.indexOf("e")
  let digits = text[x < 0 ? 1 : 0]! + text.slice(x < 0 ? 3 : 2, e)
  const exponent = Number(text.slice(e + 1))
  // A tie needs an exact value of 18 significant digits ending in 5, which a
  // double has only with a decimal exponent in -8..16; its exact expansion is
  // then under 100 digits, so toExponential(99) shows it whole.
  if (exponent >= -8 && exponent <= 16 && (digits.charCodeAt(16) & 1) === 1) {
    // oxlint-disable-next-line number-arg-out-of-range -- ES2018 raised the limit from 20 to 100 digits
    const exact = x.toExponential(99)
    const start = x < 0 ? 1 : 0
    const tail = exact.slice(start + 2 + 16, exact.indexOf("e"))
    if (/^50*$/.test(tail)) {
      // Rounded up from the tie to an odd digit: the even neighbour is the truncation.
      digits = exact[start]! + exact.slice(start + 2, start + 2 + 16)
    }
  }
  return [digits, exponent]
}

/**
 * `x` as `%.17g` writes it: 17 significant digits, trailing zeros dropped,
 * in fixed notation for decimal exponents -4 to 16 and otherwise as
 * `d.ddde±XX`; `inf`, `-inf`, `-0` and `nan` as glibc spells them.
 *
 * @since 0.1.0
 */
export const formatDouble = (x: number): string => {
  // Integers below 2^53 have at most 16 digits: printed exactly, as %.17g prints them.
  if (Number.isSafeInteger(x)) return x === 0 && Object.is(x, -0) ? "-0" : String(x)
  if (x === Infinity) return "inf"
  if (x === -Infinity) return "-inf"
  if (Number.isNaN(x)) return "nan"
  const [digits, exponent] = digits17(x)
  const sign = x < 0 ? "-" : ""
  if (exponent < -4 || exponent >= 17) {
    const fraction = digits.slice(1).replace(/0+$/, "")
    const power = Math.abs(exponent)
    return `${sign}${digits[0]}${fraction === "" ? "" : "."}${fraction}e${exponent < 0 ? "-" : "+"}${
      power < 10 ? "0" : ""
    }${power}`
  }
  const whole = exponent < 0 ? "0" : digits.slice(0, exponent + 1)
  const fraction = (exponent < 0 ? "0".repeat(-exponent - 1) + digits : digits.slice(exponent + 1)).replace(/0+$/, "")
  return `${sign}${whole}${fraction === "" ? "" : "."}${fraction}`
}

/** C's `isspace` in the C locale. */
const space = /^[ \t\n\v\f\r]*/

/**
 * A score range's bound as `zslParseRange` reads it: `strtod` over the C
 * string (up to a NUL byte), accepted when it parsed to its end — so blanks
 * before the number are allowed, the empty string is 0, a result out of
 * range is `±inf` or 0 rather than an error, and NaN is refused
 * (`undefined`). (Hexadecimal floats, which `strtod` also reads, are not
 * accepted, as in `parse.ts`.)
 *
 * @since 0.1.0
 */
export const parseStrtod = (arg: ByteString): number | undefined => {
  const nul = arg.indexOf("\0")
  const text = nul === -1 ? arg : arg.slice(0, nul)
  if (text === "") return 0
  const blanks = space.exec(text)![0].length
  return parseFloat(text.slice(blanks))
}
