/**
 * Splitting an inline request (`SET "a b" 'c'`) into arguments with Redis's
 * quoting rules (`sdssplitargs`), so what telnet users and `redis-cli`-style
 * tools type means what it means to Redis:
 *
 * - arguments are separated by blanks (space, tab, CR, LF, and, between
 *   arguments, also vertical tab and form feed);
 * - `"double quotes"` take the escapes `\n \r \t \b \a \xHH`, and `\c` for any
 *   other character `c` (so `\"` and `\\`);
 * - `'single quotes'` take one escape, `\'`;
 * - a closing quote must be followed by a blank or the end of the line;
 *   a quote may open inside an argument (`a"b c"` is `ab c`);
 * - a NUL byte ends the arguments (Redis handles the line as a C string;
 *   it does not even find the line's end past a NUL, and waits for more
 *   input, which is not copied here).
 *
 * @since 0.1.0
 */
import type { ByteString } from "./bytes.ts"

/** C's `isspace` in the C locale. */
const isBlank = (code: number) => code === 32 || (code >= 9 && code <= 13)

const hexValue = (code: number): number =>
  code >= 48 && code <= 57 ? code - 48 : code >= 97 && code <= 102 ? code - 87 : code >= 65 && code <= 70 ? code - 55 : -1

/** The character a backslash escape inside double quotes stands for. */
const escaped = (char: string): string => {
  switch (char) {
    case "n":
      return "\n"
    case "r":
      return "\r"
    case "t":
      return "\t"
    case "b":
      return "\b"
    case "a":
      return "\x07"
    default:
      return char
  }
}

/**
 * The arguments of an inline request `line` (terminator removed), or
 * `undefined` when its quotes are unbalanced.
 *
 * @since 0.1.0
 */
export const splitArgs = (line: ByteString): Array<ByteString> | undefined => {
  const nul = line.indexOf("\0")
  const end = nul === -1 ? line.length : nul
  const args: Array<ByteString> = []
  let i = 0
  for (;;) {
    while (i < end && isBlank(line.charCodeAt(i))) i++
    if (i === end) return args
    let current = ""
    let quote: "" | "\"" | "'" = ""
    for (;;) {
      if (quote === "") {
        if (i === end) break
        const char = line[i]!
        // Unlike blanks between arguments, only these four end an unquoted one.
        if (char === " " || char === "\n" || char === "\r" || char === "\t") break
        if (char === "\"" || char === "'") quote = char
        else current += char
        i++
        continue
      }
      if (i === end) return undefined
      const char = line[i]!
      if (char === quote) {
        if (i + 1 < end && !isBlank(line.charCodeAt(i + 1))) return undefined
        i++
        break
      }
      if (char === "\\" && i + 1 < end) {
        const next = line[i + 1]!
        if (quote === "'") {
          if (next === "'") {
            current += "'"
            i += 2
            continue
          }
        } else {
          const high = i + 3 < end && next === "x" ? hexValue(line.charCodeAt(i + 2)) : -1
          const low = high === -1 ? -1 : hexValue(line.charCodeAt(i + 3))
          if (low !== -1) {
            current += String.fromCharCode(high * 16 + low)
            i += 4
          } else {
            current += escaped(next)
            i += 2
          }
          continue
        }
      }
      current += char
      i++
    }
    args.push(current)
  }
}
