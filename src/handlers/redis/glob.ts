/**
 * Redis's glob-style patterns (`stringmatchlen`), used by `KEYS`,
 * `PSUBSCRIBE` and `CONFIG GET`:
 *
 * - `*` any run of bytes, `?` any one byte;
 * - `[abc]` one of, `[^abc]` none of, `[a-z]` a range (reversed ranges
 *   work), `\x` inside a class a literal `x`; a class without its `]` runs
 *   to the end of the pattern;
 * - `\x` outside a class matches `x` literally.
 *
 * Bytes compare as unsigned values (Redis compares `char`s, signed on most
 * platforms, which only differs for ranges with bytes above 127).
 *
 * @since 0.1.0
 */
import type { ByteString } from "./bytes.ts"

const STAR = 42
const QUESTION = 63
const OPEN = 91
const CLOSE = 93
const CARET = 94
const BACKSLASH = 92
const DASH = 45

/**
 * Matches the pattern token at `p` against one byte; returns where the
 * next token starts, or -1 when the byte does not match.
 */
const matchToken = (pattern: ByteString, p: number, byte: number): number => {
  const end = pattern.length
  const code = pattern.charCodeAt(p)
  if (code === QUESTION) return p + 1
  if (code === BACKSLASH && p + 1 < end) return pattern.charCodeAt(p + 1) === byte ? p + 2 : -1
  if (code !== OPEN) return code === byte ? p + 1 : -1
  let i = p + 1
  const negate = i < end && pattern.charCodeAt(i) === CARET
  if (negate) i++
  let matched = false
  for (; i < end; i++) {
    const c = pattern.charCodeAt(i)
    if (c === BACKSLASH && i + 1 < end) {
      i++
      if (pattern.charCodeAt(i) === byte) matched = true
    } else if (c === CLOSE) {
      break
    } else if (i + 2 < end && pattern.charCodeAt(i + 1) === DASH) {
      const from = Math.min(c, pattern.charCodeAt(i + 2))
      const to = Math.max(c, pattern.charCodeAt(i + 2))
      if (byte >= from && byte <= to) matched = true
      i += 2
    } else if (c === byte) {
      matched = true
    }
  }
  // Past the `]`, or at the end of a class left open.
  return matched !== negate ? Math.min(i + 1, end) : -1
}

/**
 * Whether `subject` matches the glob `pattern`.
 *
 * **Details**
 *
 * On a mismatch after a `*`, the star absorbs one more byte and matching
 * resumes after it: the classic backtracking matcher, which needs to revisit
 * only the most recent star, so time is bounded by pattern length times
 * subject length.
 *
 * @since 0.1.0
 */
export const matches = (pattern: ByteString, subject: ByteString): boolean => {
  let p = 0
  let s = 0
  let starP = -1
  let starS = 0
  while (s < subject.length) {
    if (p < pattern.length && pattern.charCodeAt(p) === STAR) {
      while (p < pattern.length && pattern.charCodeAt(p) === STAR) p++
      if (p === pattern.length) return true
      starP = p
      starS = s
      continue
    }
    const next = p < pattern.length ? matchToken(pattern, p, subject.charCodeAt(s)) : -1
    if (next !== -1) {
      p = next
      s++
    } else if (starP === -1) {
      return false
    } else {
      p = starP
      s = ++starS
    }
  }
  while (p < pattern.length && pattern.charCodeAt(p) === STAR) p++
  return p === pattern.length
}
