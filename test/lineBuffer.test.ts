/**
 * Pure framing: the line rules as a table, then properties showing that any
 * chunking of any input (splits inside `\r\n` and inside UTF-8 characters
 * included) gives exactly what a one-line reference model of the rules says.
 */
import { Buffer } from "node:buffer"
import { assert, describe, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import { contentLength, End, LineBuffer, NeedMore, TooLong } from "../src/internal/lineBuffer.ts"
import { split } from "./fixtures/chunks.ts"

const TOO_LONG = "<too long>"

/** Feeds chunks one at a time, only when the buffer asks for more; takes lines until End. */
const takeAllLines = (chunks: ReadonlyArray<Buffer>, max: number): Array<string> => {
  const buffer = new LineBuffer(max)
  const lines: Array<string> = []
  let next = 0
  for (let steps = 0; steps < 100_000; steps++) {
    const line = buffer.takeLine()
    if (line === NeedMore) {
      if (next < chunks.length) buffer.push(chunks[next++]!)
      else buffer.end()
    } else if (line === End) {
      return lines
    } else {
      lines.push(line === TooLong ? TOO_LONG : line.toString("latin1"))
    }
  }
  throw new Error("no progress")
}

/** The rules, stated directly on the whole input. */
const referenceLines = (input: Buffer, max: number): Array<string> => {
  const lines: Array<string> = []
  for (let start = 0; start < input.length;) {
    const nl = input.indexOf(10, start)
    const end = nl === -1 ? input.length : nl + 1
    const line = input.subarray(start, end)
    lines.push(contentLength(line) > max ? TOO_LONG : line.toString("latin1"))
    start = end
  }
  return lines
}

/** Tokens to bytes; `\uffff` stands for the invalid UTF-8 byte 0xff. */
const encode = (tokens: ReadonlyArray<string>) =>
  Buffer.concat(tokens.map((token) => (token === "\uffff" ? Buffer.from([0xff]) : Buffer.from(token))))

describe("LineBuffer", () => {
  const table: ReadonlyArray<{
    readonly name: string
    readonly input: string
    readonly max: number
    readonly expected: ReadonlyArray<string>
  }> = [
    { name: "one line", input: "abc\n", max: 10, expected: ["abc\n"] },
    { name: "CRLF belongs to the terminator", input: "abc\r\n", max: 3, expected: ["abc\r\n"] },
    { name: "lone CR is content", input: "a\rb\n", max: 3, expected: ["a\rb\n"] },
    { name: "empty lines are lines", input: "\n\r\n\n", max: 0, expected: ["\n", "\r\n", "\n"] },
    { name: "final unterminated line", input: "a\nbc", max: 10, expected: ["a\n", "bc"] },
    { name: "final CR without LF is content", input: "ab\r", max: 2, expected: [TOO_LONG] },
    { name: "exactly the limit", input: "abc\n", max: 3, expected: ["abc\n"] },
    { name: "one over the limit", input: "abcd\nok\n", max: 3, expected: [TOO_LONG, "ok\n"] },
    { name: "limit with CRLF", input: "abc\r\nabcd\r\n", max: 3, expected: ["abc\r\n", TOO_LONG] },
    { name: "too long, then more", input: "xxxxxxxxxx\nyy\n", max: 2, expected: [TOO_LONG, "yy\n"] },
    { name: "too long at end of input", input: "ok\nxxxxx", max: 3, expected: ["ok\n", TOO_LONG] },
    { name: "nothing", input: "", max: 5, expected: [] }
  ]
  it.each(table)("$name", ({ input, max, expected }) => {
    const bytes = Buffer.from(input, "latin1")
    assert.deepStrictEqual(takeAllLines([bytes], max), expected)
    // one byte at a time must agree
    assert.deepStrictEqual(takeAllLines(split(bytes, [...bytes.keys()]), max), expected)
  })

  it("reports a line as too long before its newline arrives, keeping nothing of it", () => {
    const buffer = new LineBuffer(4)
    buffer.push(Buffer.from("abcdef"))
    assert.strictEqual(buffer.takeLine(), TooLong)
    assert.strictEqual(buffer.buffered, 0)
    buffer.push(Buffer.from("ghij"))
    assert.strictEqual(buffer.takeLine(), NeedMore, "the rest of the long line is skipped")
    assert.strictEqual(buffer.buffered, 0)
    buffer.push(Buffer.from("kl\nnext\n"))
    assert.strictEqual((buffer.takeLine() as Buffer).toString(), "next\n")
  })

  it("waits at the limit when a trailing CR may still be the terminator", () => {
    const buffer = new LineBuffer(3)
    buffer.push(Buffer.from("abc\r"))
    assert.strictEqual(buffer.takeLine(), NeedMore)
    buffer.push(Buffer.from("\n"))
    assert.strictEqual((buffer.takeLine() as Buffer).toString(), "abc\r\n")
  })

  it("mixes lines and exact reads (a header line, then a binary body)", () => {
    const buffer = new LineBuffer(100)
    for (const piece of ["LEN 5\r", "\nab", "\n\x00", "d", "next\n"]) buffer.push(Buffer.from(piece, "latin1"))
    assert.strictEqual((buffer.takeLine() as Buffer).toString(), "LEN 5\r\n")
    assert.strictEqual((buffer.takeExactly(5) as Buffer).toString("latin1"), "ab\n\x00d")
    assert.strictEqual((buffer.takeLine() as Buffer).toString(), "next\n")
  })

  it("reports End for an exact read cut short, leaving the partial bytes", () => {
    const buffer = new LineBuffer(100)
    buffer.push(Buffer.from("abc"))
    assert.strictEqual(buffer.takeExactly(5), NeedMore)
    buffer.end()
    assert.strictEqual(buffer.takeExactly(5), End)
    assert.strictEqual(buffer.takeRest().toString(), "abc")
    assert.strictEqual(buffer.takeLine(), End)
  })

  it("finds a line inside bytes left by an unfinished exact read", () => {
    const buffer = new LineBuffer(100)
    buffer.push(Buffer.from("ab\ncd"))
    assert.strictEqual(buffer.takeExactly(10), NeedMore)
    assert.strictEqual((buffer.takeLine() as Buffer).toString(), "ab\n")
    buffer.push(Buffer.from("\n"))
    assert.strictEqual((buffer.takeLine() as Buffer).toString(), "cd\n")
  })

  it("never holds more than the limit plus the current chunk", () => {
    const max = 1000
    const buffer = new LineBuffer(max)
    let peak = 0
    for (let i = 0; i < 10_000; i++) {
      buffer.push(Buffer.from("y"))
      buffer.takeLine()
      peak = Math.max(peak, buffer.buffered)
    }
    assert.isAtMost(peak, max + 1)
  })

  it("returns lines without copying when they lie in one chunk", () => {
    const received = Buffer.from("one\ntwo\n")
    const buffer = new LineBuffer(100)
    buffer.push(received)
    const line = buffer.takeLine() as Buffer
    assert.strictEqual(line.buffer, received.buffer)
  })

  it("rejects a negative limit", () => {
    assert.throws(() => new LineBuffer(-1), RangeError)
  })

  // Bytes that exercise every rule: CR, LF, CRLF, multi-byte UTF-8, NUL, invalid UTF-8.
  const Tokens = Schema.Array(Schema.Literals(["a", "b", "\n", "\r", "\r\n", "é", "€", "😀", "\u0000", "\uffff"]))
  const Cuts = Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 400 })))
  const Limit = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 12 }))

  it.prop("any chunking gives the reference lines", [Tokens, Cuts, Limit], ([tokens, cuts, max]) => {
    const input = encode(tokens)
    assert.deepStrictEqual(takeAllLines(split(input, cuts), max), referenceLines(input, max))
  })

  const Reads = Schema.Array(Schema.Union([Schema.Literal("line"), Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 9 }))]))

  it.prop("any chunking gives the same mixed line and exact reads", [Tokens, Cuts, Reads], ([tokens, cuts, reads]) => {
    const input = encode(tokens)
    const run = (chunks: ReadonlyArray<Buffer>) => {
      const buffer = new LineBuffer(6)
      const results: Array<string> = []
      let next = 0
      for (const read of reads) {
        for (;;) {
          const result = read === "line" ? buffer.takeLine() : buffer.takeExactly(read)
          if (result === NeedMore) {
            if (next < chunks.length) buffer.push(chunks[next++]!)
            else buffer.end()
            continue
          }
          results.push(
            result === End
              ? `end:${buffer.takeRest().toString("latin1")}`
              : result === TooLong
              ? TOO_LONG
              : result.toString("latin1")
          )
          break
        }
      }
      return results
    }
    assert.deepStrictEqual(run(split(input, cuts)), run([input]))
  })
})
