/**
 * Redis's glob-style patterns (`stringmatchlen`), used by `KEYS`,
 * `PSUBSCRIBE` and `CONFIG GET`, matched in time that cannot blow up.
 *
 * - `*` any run of bytes, `?` any one byte;
 * - `[abc]` one of, `[^abc]` none of, `[a-z]` a range (reversed ranges
 *   work), `\x` inside a class a literal `x`; a class without its `]` runs
 *   to the end of the pattern (`[]` matches nothing, `[^]` any byte);
 * - `\x` outside a class matches `x` literally; a final `\` matches itself;
 * - the empty subject matches only the empty pattern (Redis never enters
 *   its loop, so not even `*` matches it; `KEYS *` lists every key through
 *   its own shortcut).
 *
 * Bytes compare as unsigned values (Redis compares `char`s, signed on x86
 * and unsigned on arm64, which only differs for ranges with bytes above 127).
 *
 * **How, and the bound.** A backtracking matcher (Redis's, and this
 * module's before) costs up to pattern × subject: minutes for one `PUBLISH`
 * against `PSUBSCRIBE *a{20000}b`. Here a pattern is compiled once into its
 * segments — the runs of one-byte tokens between stars — and a subject of n
 * bytes matches when the first segment matches at its start, the last at its
 * end, and each segment between is found, leftmost, after the one before
 * (leftmost is never worse for what follows). A segment of m tokens is
 * found by KMP when every token is one byte, in O(n + m), and otherwise by a
 * bit-parallel Shift-And over the tokens' byte sets, in
 * O(n · ⌈min(m, s + 1) / 32⌉), s being the bytes the segment may slide over.
 * No linear-time method is known for wildcards inside a segment (that is
 * matching with don't-cares), so a subject and a pattern both large and full
 * of `?` still cost n·m/32 word operations (4 000 tokens against 1 MiB:
 * about 0.4 s); everything else is linear in the subject plus the pattern.
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

/** One token of a segment: the bytes it accepts, and the byte itself when it accepts exactly one. */
interface Token {
  readonly accepts: Uint8Array
  /** The one byte accepted, or -1. */
  readonly byte: number
}

/** A run of tokens between stars, with what finding it needs (built on first use). */
interface Segment {
  readonly tokens: ReadonlyArray<Token>
  /** Every token accepts one byte: the bytes, for KMP; undefined otherwise. */
  readonly literal: Uint8Array | undefined
  /** KMP's failure function, or Shift-And's masks: 256 × ⌈m / 32⌉ words. */
  search: Int32Array | Uint32Array | undefined
}

/**
 * A pattern compiled for matching many subjects (`KEYS` over every key, a
 * `PSUBSCRIBE` pattern over every published channel).
 *
 * @since 0.1.0
 */
export interface Glob {
  /** The pattern as given. */
  readonly pattern: ByteString
  /** Whether `subject` matches the pattern, as Redis's `stringmatchlen`. */
  readonly matches: (subject: ByteString) => boolean
}

/**
 * Reads the class starting after `[` at `start` as `stringmatchlen` walks it;
 * returns the accepted bytes and where the next token starts.
 */
const parseClass = (pattern: ByteString, start: number): { readonly accepts: Uint8Array; readonly next: number } => {
  const end = pattern.length
  const accepts = new Uint8Array(256)
  let i = start
  const negate = i < end && pattern.charCodeAt(i) === CARET
  if (negate) i++
  for (; i < end; i++) {
    const c = pattern.charCodeAt(i)
    if (c === BACKSLASH && i + 1 < end) {
      accepts[pattern.charCodeAt(++i)] = 1
    } else if (c === CLOSE) {
      break
    } else if (i + 2 < end && pattern.charCodeAt(i + 1) === DASH) {
      // The range's end may be `]` or `\`: Redis takes it as it is.
      const other = pattern.charCodeAt(i + 2)
      accepts.fill(1, Math.min(c, other), Math.max(c, other) + 1)
      i += 2
    } else {
      accepts[c] = 1
    }
  }
  if (negate) for (let b = 0; b < 256; b++) accepts[b] = 1 - accepts[b]!
  // Past the `]`, or at the end of a class left open.
  return { accepts, next: Math.min(i + 1, end) }
}

const tokenOf = (accepts: Uint8Array): Token => {
  let byte = -1
  for (let b = 0; b < 256; b++) {
    if (accepts[b] === 0) continue
    if (byte !== -1) return { accepts, byte: -1 }
    byte = b
  }
  return { accepts, byte }
}

/** The pattern as segments: the token runs before, between and after its stars. */
const segmentsOf = (pattern: ByteString): Array<Array<Token>> => {
  // Identical tokens share one table: a long pattern repeats a few tokens.
  const interned = new Map<string, Token>()
  const intern = (key: string, accepts: () => Uint8Array) => {
    let token = interned.get(key)
    if (token === undefined) interned.set(key, token = tokenOf(accepts()))
    return token
  }
  const single = (byte: number) =>
    intern(`=${byte}`, () => {
      const accepts = new Uint8Array(256)
      accepts[byte] = 1
      return accepts
    })
  const segments: Array<Array<Token>> = [[]]
  let p = 0
  while (p < pattern.length) {
    const code = pattern.charCodeAt(p)
    const current = segments[segments.length - 1]!
    if (code === STAR) {
      segments.push([])
      p++
    } else if (code === QUESTION) {
      current.push(intern("?", () => new Uint8Array(256).fill(1)))
      p++
    } else if (code === BACKSLASH && p + 1 < pattern.length) {
      current.push(single(pattern.charCodeAt(p + 1)))
      p += 2
    } else if (code === OPEN) {
      const { accepts, next } = parseClass(pattern, p + 1)
      current.push(intern(pattern.slice(p, next), () => accepts))
      p = next
    } else {
      current.push(single(code))
      p++
    }
  }
  return segments
}

const segment = (tokens: ReadonlyArray<Token>): Segment => ({
  tokens,
  literal: tokens.every((token) => token.byte !== -1) ? Uint8Array.from(tokens, (token) => token.byte) : undefined,
  search: undefined
})

/** Whether `tokens` match `subject` from `at` (which leaves room for all of them). */
const matchesAt = (tokens: ReadonlyArray<Token>, subject: ByteString, at: number): boolean => {
  for (let j = 0; j < tokens.length; j++) {
    if (tokens[j]!.accepts[subject.charCodeAt(at + j)] !== 1) return false
  }
  return true
}

/** KMP over a literal segment: the leftmost start in [from, to - m], or -1. */
const findLiteral = (literal: Uint8Array, failure: Int32Array, subject: ByteString, from: number, to: number) => {
  const m = literal.length
  let q = 0
  for (let i = from; i < to; i++) {
    const c = subject.charCodeAt(i)
    while (q > 0 && literal[q] !== c) q = failure[q - 1]!
    if (literal[q] === c && ++q === m) return i - m + 1
  }
  return -1
}

const failureOf = (literal: Uint8Array): Int32Array => {
  const failure = new Int32Array(literal.length)
  for (let i = 1, q = 0; i < literal.length; i++) {
    while (q > 0 && literal[q] !== literal[i]) q = failure[q - 1]!
    if (literal[q] === literal[i]) q++
    failure[i] = q
  }
  return failure
}

/** Shift-And's masks: bit j of word `byte * words + j / 32` is set when token j accepts `byte`. */
const masksOf = (tokens: ReadonlyArray<Token>): Uint32Array => {
  const words = Math.ceil(tokens.length / 32)
  const masks = new Uint32Array(256 * words)
  tokens.forEach((token, j) => {
    const word = j >>> 5
    const bit = 1 << (j & 31)
    for (let b = 0; b < 256; b++) if (token.accepts[b] === 1) masks[b * words + word] = masks[b * words + word]! | bit
  })
  return masks
}

/**
 * Shift-And over the segment's tokens: the leftmost start in [from, to - m],
 * or -1. Bit j of the state says the last j + 1 bytes match the first j + 1
 * tokens; only the words between the lowest and highest live bit are
 * updated, so a state that dies costs one word per byte.
 */
const findTokens = (m: number, masks: Uint32Array, subject: ByteString, from: number, to: number) => {
  const words = Math.ceil(m / 32)
  const state = new Uint32Array(words)
  const lastWord = (m - 1) >>> 5
  const lastBit = 1 << ((m - 1) & 31)
  // Past `lastStart` no occurrence fits before `to`: no new start enters bit 0.
  const lastStart = to - m
  let lo = 0
  let hi = 0
  for (let i = from; i < to; i++) {
    const base = subject.charCodeAt(i) * words
    let carry = i <= lastStart ? 1 : 0
    const top = Math.min(hi + 1, words - 1)
    for (let w = lo; w <= top; w++) {
      const x = state[w]!
      state[w] = ((x << 1) | carry) & masks[base + w]!
      carry = x >>> 31
    }
    if ((state[lastWord]! & lastBit) !== 0) return i - m + 1
    hi = top
    while (hi > lo && state[hi] === 0) hi--
    if (i >= lastStart) while (lo < hi && state[lo] === 0) lo++
  }
  return -1
}

/** Where `seg` occurs first in `subject` within [from, to), or -1. */
const find = (seg: Segment, subject: ByteString, from: number, to: number): number => {
  if (seg.literal !== undefined) {
    const failure = (seg.search ??= failureOf(seg.literal)) as Int32Array
    return findLiteral(seg.literal, failure, subject, from, to)
  }
  const masks = (seg.search ??= masksOf(seg.tokens)) as Uint32Array
  return findTokens(seg.tokens.length, masks, subject, from, to)
}

/**
 * Compiles `pattern`, in time and space linear in its length (each distinct
 * class costs a 256-byte table).
 *
 * @since 0.1.0
 */
export const compile = (pattern: ByteString): Glob => {
  const segments = segmentsOf(pattern)
  const first = segments[0]!
  // Every token takes one byte: a subject shorter than their count cannot match.
  const length = segments.reduce((sum, run) => sum + run.length, 0)
  if (segments.length === 1) {
    return {
      pattern,
      matches: (subject) => subject.length === length && matchesAt(first, subject, 0)
    }
  }
  const last = segments[segments.length - 1]!
  const middle = segments.slice(1, -1).filter((run) => run.length > 0).map(segment)
  return {
    pattern,
    matches: (subject) => {
      const n = subject.length
      if (n === 0 || n < length) return false
      if (!matchesAt(first, subject, 0) || !matchesAt(last, subject, n - last.length)) return false
      let at = first.length
      const end = n - last.length
      for (const seg of middle) {
        const found = find(seg, subject, at, end)
        if (found === -1) return false
        at = found + seg.tokens.length
      }
      return true
    }
  }
}

/**
 * Whether `subject` matches the glob `pattern` (compiles it; use
 * {@link compile} to match one pattern against many subjects).
 *
 * @since 0.1.0
 */
export const matches = (pattern: ByteString, subject: ByteString): boolean => compile(pattern).matches(subject)
