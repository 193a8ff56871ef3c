/**
 * The glob matcher keeps Redis's semantics exactly — against a reference that
 * interprets the pattern the way `stringmatchlen` walks it, on random short
 * patterns and subjects over the bytes that matter, plus Redis's edge cases
 * as a table — and its cost cannot blow up: on the patterns that froze the
 * server (`*a{20000}b` against a 1 MiB channel) it reads each subject byte a
 * bounded number of times, and a server answers another client's PING while
 * it matches them.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { compile, matches } from "../../../src/handlers/redis/glob.ts"
import * as Redis from "../../../src/handlers/redis/Redis.ts"
import { connect } from "../../fixtures/client.ts"
import { captureLogs, serve } from "../../fixtures/server.ts"
import { cmd } from "./support.ts"

/**
 * Redis 7.0's `stringmatchlen` (case-sensitive) as a plain recursive
 * interpreter: exponential on hostile input, exact on small input.
 */
const reference = (pattern: string, subject: string): boolean => {
  const walk = (p: number, s: number): boolean => {
    while (p < pattern.length && s < subject.length) {
      const c = pattern[p]
      if (c === "*") {
        while (p + 1 < pattern.length && pattern[p + 1] === "*") p++
        if (p + 1 === pattern.length) return true
        // The rest is tried at every remaining position, but never against nothing.
        for (let from = s; from < subject.length; from++) if (walk(p + 1, from)) return true
        return false
      } else if (c === "?") {
        p++
      } else if (c === "[") {
        p++
        const not = pattern[p] === "^"
        if (not) p++
        let match = false
        for (;;) {
          if (pattern[p] === "\\" && pattern.length - p >= 2) {
            p++
            if (pattern[p] === subject[s]) match = true
          } else if (pattern[p] === "]") {
            break
          } else if (p === pattern.length) {
            p--
            break
          } else if (pattern.length - p >= 3 && pattern[p + 1] === "-") {
            const a = pattern.charCodeAt(p)
            const b = pattern.charCodeAt(p + 2)
            const x = subject.charCodeAt(s)
            if (x >= Math.min(a, b) && x <= Math.max(a, b)) match = true
            p += 2
          } else if (pattern[p] === subject[s]) {
            match = true
          }
          p++
        }
        if (match === not) return false
        p++
      } else {
        if (c === "\\" && pattern.length - p >= 2) p++
        if (pattern[p] !== subject[s]) return false
        p++
      }
      s++
      if (s === subject.length) {
        while (pattern[p] === "*") p++
        break
      }
    }
    return p === pattern.length && s === subject.length
  }
  return walk(0, 0)
}

describe("glob semantics", () => {
  const table: ReadonlyArray<readonly [string, string, boolean]> = [
    ["", "", true],
    ["", "a", false],
    ["a", "", false],
    // Redis never enters its loop for an empty subject: not even a star matches it.
    ["*", "", false],
    ["**", "", false],
    ["*", "a", true],
    ["a*", "a", true],
    ["*a*", "a", true],
    ["*?", "a", true],
    ["?*?", "a", false],
    ["[a-]", "]", true],
    ["[a-]", "-", false],
    // An escape is one byte, never the start of a range.
    ["[\\]-a]", "-", true],
    ["[\\]-a]", "^", false],
    ["[a-\\]", "b", false],
    ["[a-\\]", "\\", true],
    ["[^", "x", true],
    ["[", "[", false],
    ["[\\", "\\", true],
    ["[]]", "]", false],
    ["[]]", "]]", false],
    ["[^]]", "a]", true],
    ["a[*]b", "a*b", true],
    ["a[*]b", "axb", false],
    ["\\*", "*", true],
    ["\\*", "a", false],
    ["*\\", "ab\\", true],
    ["\\", "\\", true],
    ["a*b*c", "abcbc", true],
    ["*ab*ab*", "abab", true],
    ["*ab*ab*", "aba", false],
    ["[\xff-\x80]", "\x90", true],
    ["h[a", "ha", true],
    ["h[a", "ha]", false]
  ]
  it.each(table)("%j against %j is %s", (pattern, subject, expected) => {
    assert.strictEqual(reference(pattern, subject), expected, "the reference")
    assert.strictEqual(matches(pattern, subject), expected, "the matcher")
  })

  const PatternByte = Schema.Literals(["a", "b", "*", "?", "[", "]", "^", "-", "\\", "\xff"])
  const SubjectByte = Schema.Literals(["a", "b", "c", "]", "-", "^", "\\", "*", "\xff"])
  it.prop(
    "matches as the reference on random short patterns and subjects",
    [
      Schema.Array(PatternByte).check(Schema.isMaxLength(10)),
      Schema.Array(Schema.Array(SubjectByte).check(Schema.isMaxLength(12))).check(Schema.isMaxLength(8))
    ],
    ([pattern, subjects]) => {
      const glob = compile(pattern.join(""))
      for (const subject of subjects) {
        assert.strictEqual(glob.matches(subject.join("")), reference(pattern.join(""), subject.join("")), subject.join(""))
      }
    },
    { arbitrary: { runs: 3000 } }
  )

  it.prop(
    "long runs: segments found leftmost across many candidates, as the reference",
    [
      Schema.Array(Schema.Literals(["a", "?", "[ab]", "*", "b", "aa"])).check(Schema.isMaxLength(8)),
      Schema.Array(Schema.Literals(["a", "b", "aaaa", "ab"])).check(Schema.isMaxLength(12))
    ],
    ([pattern, subject]) => {
      assert.strictEqual(matches(pattern.join(""), subject.join("")), reference(pattern.join(""), subject.join("")))
    },
    { arbitrary: { runs: 1000 } }
  )
})

/**
 * `text` as a subject that counts how often the matcher reads a byte of it
 * (the matcher reads subjects only through `length` and `charCodeAt`).
 */
const counting = (text: string) => {
  const reads = { count: 0 }
  const subject = { length: text.length, charCodeAt: (i: number) => (reads.count++, text.charCodeAt(i)) }
  // A stand-in for a string: the matcher touches nothing else.
  return { subject: subject as unknown as string, reads }
}

describe("glob cost", () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ["*a{20000}b (the last segment, anchored)", `*${"a".repeat(20000)}b`],
    ["*a{20000}b* (a literal middle segment)", `*${"a".repeat(20000)}b*`],
    ["*a{150}b*a{150}c* (two middle segments)", `*${"a".repeat(150)}b*${"a".repeat(150)}c*`],
    ["*a?{1000}b* (a middle segment with wildcards)", `*${"a?".repeat(1000)}b*`]
  ]
  it.each(cases)("%s against 100 000 a's reads each byte at most twice", (_name, pattern) => {
    const { subject, reads } = counting("a".repeat(100_000))
    assert.isFalse(compile(pattern).matches(subject))
    assert.isAtMost(reads.count, 200_000)
  })

  it.live("a server answers another client while it matches *a{20000}b* against a 1 MiB channel", () =>
    Effect.gen(function*() {
      const server = yield* serve(Redis.handler())
      const subscriber = yield* connect(server.port)
      const publisher = yield* connect(server.port)
      const other = yield* connect(server.port)
      // The last segment anchored, and the same run as a middle segment: both checked by one PUBLISH.
      yield* subscriber.write(cmd("PSUBSCRIBE", `*${"a".repeat(20000)}b`, `*${"a".repeat(20000)}b*`))
      yield* subscriber.readUntil(":2\r\n")
      yield* publisher.write(cmd("PUBLISH", "a".repeat(1024 * 1024), "x"))
      yield* other.write(cmd("PING"))
      // Within the suite's liveness bound; the old matcher took minutes here.
      yield* other.readUntil("+PONG\r\n")
      yield* publisher.readUntil(":0\r\n")
    }).pipe(Effect.provide(Layer.merge(Redis.layer(), captureLogs().layer))))
})
