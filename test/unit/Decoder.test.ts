/**
 * Pure framing: the built-in decoders' rules as tables, then properties
 * showing that any chunking of any input (splits inside `\r\n`, inside a
 * delimiter and inside UTF-8 characters included) gives exactly what a
 * reference model of the rules says, also when line, block and delimited
 * reads are mixed on one input.
 */
import { Buffer } from "node:buffer"
import { assert, describe, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import * as Decoder from "../../src/Decoder.ts"
import { nextFrame } from "../../src/internal/io/decoding.ts"
import { InputBuffer } from "../../src/internal/io/inputBuffer.ts"
import { split } from "../fixtures/chunks.ts"

const TOO_LONG = "<too long>"

/** Every frame `decoder` gives for `chunks`, as latin1 text, and how the input ended. */
const frames = (decoder: Decoder.Decoder<Buffer, unknown>, chunks: ReadonlyArray<Buffer>): Array<string> => {
  const decoded = Decoder.run(decoder, chunks)
  const texts = decoded.frames.map((frame) => (frame instanceof Decoder.Failure ? TOO_LONG : frame.toString("latin1")))
  return decoded.end?._tag === "UnexpectedEndOfInput" ? [...texts, `end:${Buffer.from(decoded.end.received).toString("latin1")}`] : texts
}

/** The line rules, stated directly on the whole input. */
const referenceLines = (input: Buffer, max: number): Array<string> => {
  const lines: Array<string> = []
  for (let start = 0; start < input.length;) {
    const nl = input.indexOf(10, start)
    const end = nl === -1 ? input.length : nl + 1
    const line = input.subarray(start, end)
    lines.push(Decoder.contentLength(line) > max ? TOO_LONG : line.toString("latin1"))
    start = end
  }
  return lines
}

/** The `until` rules, stated directly on the whole input. */
const referenceUntil = (input: Buffer, delimiter: Buffer, max: number): Array<string> => {
  const out: Array<string> = []
  for (let start = 0; start < input.length;) {
    const at = input.indexOf(delimiter, start)
    if (at === -1) {
      out.push(input.length - start >= max ? TOO_LONG : `end:${input.subarray(start).toString("latin1")}`)
      break
    }
    const end = at + delimiter.length
    out.push(end - start > max ? TOO_LONG : input.subarray(start, end).toString("latin1"))
    start = end
  }
  return out
}

/** Tokens to bytes; `\uffff` stands for the invalid UTF-8 byte 0xff. */
const encode = (tokens: ReadonlyArray<string>) =>
  Buffer.concat(tokens.map((token) => (token === "\uffff" ? Buffer.from([0xff]) : Buffer.from(token))))

const bytesOf = (text: string) => Buffer.from(text, "latin1")

describe("Decoder.lineBytes", () => {
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
    const bytes = bytesOf(input)
    assert.deepStrictEqual(frames(Decoder.lineBytes({ maxLength: max }), [bytes]), expected)
    // one byte at a time must agree
    assert.deepStrictEqual(frames(Decoder.lineBytes({ maxLength: max }), split(bytes, [...bytes.keys()])), expected)
  })

  it("refuses a line as too long before its newline arrives, keeping nothing of it", () => {
    const input = new InputBuffer()
    const decoder = Decoder.lineBytes({ maxLength: 4 })
    input.append(bytesOf("abcdef"))
    const refused = decoder.decode(input)
    assert.instanceOf(refused, Decoder.Failure)
    assert.strictEqual((refused as Decoder.Failure<{ readonly limit: number }>).error.limit, 4)
    assert.strictEqual(input.length, 0)
    input.append(bytesOf("ghij"))
    assert.strictEqual(decoder.decode(input), Decoder.NeedMore, "the rest of the long line is dropped")
    assert.strictEqual(input.length, 0)
    input.append(bytesOf("kl\nnext\n"))
    assert.strictEqual((decoder.decode(input) as Buffer).toString(), "next\n")
  })

  it("waits at the limit when a trailing CR may still be the terminator", () => {
    const input = new InputBuffer()
    const decoder = Decoder.lineBytes({ maxLength: 3 })
    input.append(bytesOf("abc\r"))
    assert.strictEqual(decoder.decode(input), Decoder.NeedMore)
    input.append(bytesOf("\n"))
    assert.strictEqual((decoder.decode(input) as Buffer).toString(), "abc\r\n")
  })

  it("never holds more than the limit plus the current chunk, however the line trickles in", () => {
    const max = 1000
    const input = new InputBuffer()
    const decoder = Decoder.lineBytes({ maxLength: max })
    let peak = 0
    for (let i = 0; i < 10_000; i++) {
      input.append(bytesOf("y"))
      decoder.decode(input)
      peak = Math.max(peak, input.length)
    }
    assert.isAtMost(peak, max + 1)
  })

  it("returns lines without copying when they lie in one chunk", () => {
    const received = bytesOf("one\ntwo\n")
    const input = new InputBuffer()
    input.append(received)
    const line = Decoder.lineBytes({ maxLength: 100 }).decode(input) as Buffer
    assert.strictEqual(line.buffer, received.buffer)
  })

  it("never writes again into bytes it handed out", () => {
    const input = new InputBuffer()
    const decoder = Decoder.lineBytes({ maxLength: 100 })
    input.append(bytesOf("ab"))
    assert.strictEqual(decoder.decode(input), Decoder.NeedMore)
    input.append(bytesOf("c\nde"))
    const first = decoder.decode(input) as Buffer
    input.append(bytesOf("f\n"))
    const second = decoder.decode(input) as Buffer
    assert.strictEqual(first.toString(), "abc\n")
    assert.strictEqual(second.toString(), "def\n")
  })

  it("rejects a negative limit", () => {
    assert.throws(() => Decoder.lineBytes({ maxLength: -1 }), RangeError)
  })

  // Bytes that exercise every rule: CR, LF, CRLF, multi-byte UTF-8, NUL, invalid UTF-8.
  const Tokens = Schema.Array(Schema.Literals(["a", "b", "\n", "\r", "\r\n", "é", "€", "😀", "\u0000", "\uffff"]))
  const Cuts = Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 400 })))
  const Limit = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 12 }))

  it.prop("any chunking gives the reference lines", [Tokens, Cuts, Limit], ([tokens, cuts, max]) => {
    const input = encode(tokens)
    assert.deepStrictEqual(frames(Decoder.lineBytes({ maxLength: max }), split(input, cuts)), referenceLines(input, max))
  })

  const Read = Schema.Union([
    Schema.Literal("line"),
    Schema.Literal("until"),
    Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 9 }))
  ])

  it.prop("any chunking gives the same mixed line, block and delimited reads", [Tokens, Cuts, Schema.Array(Read)], ([tokens, cuts, reads]) => {
    const input = encode(tokens)
    const lines = Decoder.lineBytes({ maxLength: 6 })
    const delimited = Decoder.until("\r\n", { maxLength: 5 })
    /** Reads as a connection does: more input only when the decoder needs it. */
    const readAll = (chunks: ReadonlyArray<Buffer>) => {
      const buffer = new InputBuffer()
      const results: Array<string> = []
      let next = 0
      for (const read of reads) {
        const decoder: Decoder.Decoder<Buffer, unknown> = read === "line" ? lines : read === "until" ? delimited : Decoder.exactly(read)
        for (;;) {
          const step = nextFrame(decoder, buffer)
          if (step === Decoder.NeedMore) {
            if (next < chunks.length) buffer.append(chunks[next++]!)
            else buffer.end()
            continue
          }
          const error = step instanceof Decoder.Failure ? step.error as { readonly _tag: string; readonly received?: Uint8Array } : undefined
          results.push(
            error === undefined
              ? (step as Buffer).toString("latin1")
              : error.received === undefined ? error._tag : `end:${Buffer.from(error.received).toString("latin1")}`
          )
          break
        }
      }
      return results
    }
    assert.deepStrictEqual(readAll(split(input, cuts)), readAll([input]))
  })
})

describe("Decoder.line", () => {
  it("is the line as UTF-8 text without its terminator", () => {
    const decoded = Decoder.run(Decoder.line({ maxLength: 100 }), ["h\xc3", "\xa9llo\r\n", "\xff\n", "last"].map(bytesOf))
    assert.deepStrictEqual(decoded.frames, ["héllo", "\ufffd", "last"])
    assert.strictEqual(decoded.end?._tag, "EndOfInput")
  })
})

describe("Decoder.exactly", () => {
  it("mixes with lines (a header line, then a binary body)", () => {
    const input = new InputBuffer()
    for (const piece of ["LEN 5\r", "\nab", "\n\x00", "d", "next\n"]) input.append(bytesOf(piece))
    assert.strictEqual((Decoder.lineBytes({ maxLength: 100 }).decode(input) as Buffer).toString(), "LEN 5\r\n")
    assert.strictEqual((Decoder.exactly(5).decode(input) as Buffer).toString("latin1"), "ab\n\x00d")
    assert.strictEqual((Decoder.lineBytes({ maxLength: 100 }).decode(input) as Buffer).toString(), "next\n")
  })

  it("fails a block cut short by the end of input with the bytes that came", () => {
    const decoded = Decoder.run(Decoder.exactly(5), [bytesOf("abc")])
    assert.deepStrictEqual(decoded.frames, [])
    assert.strictEqual(decoded.end?._tag, "UnexpectedEndOfInput")
    if (decoded.end?._tag !== "UnexpectedEndOfInput") return
    assert.strictEqual(decoded.end.expected, 5)
    assert.strictEqual(Buffer.from(decoded.end.received).toString(), "abc")
  })

  it("gathers a large block into one buffer of its size", () => {
    const input = new InputBuffer()
    const decoder = Decoder.exactly(100_000)
    const chunk = Buffer.alloc(1000, 7)
    let block: Buffer | typeof Decoder.NeedMore = Decoder.NeedMore
    input.append(chunk)
    while ((block = decoder.decode(input) as Buffer | typeof Decoder.NeedMore) === Decoder.NeedMore) input.append(chunk)
    assert.strictEqual(block.length, 100_000)
    assert.strictEqual(block.buffer.byteLength, 100_000, "no doubling past the size the decoder reserved")
  })
})

describe("Decoder.until", () => {
  const table: ReadonlyArray<{ readonly name: string; readonly input: string; readonly expected: ReadonlyArray<string> }> = [
    { name: "frames end with the delimiter, included", input: "a\r\nbc\r\n", expected: ["a\r\n", "bc\r\n"] },
    { name: "a lone CR or LF is content", input: "\rb\n\r\n", expected: ["\rb\n\r\n"] },
    { name: "bytes without a delimiter at the end are cut short", input: "a\r\nbc", expected: ["a\r\n", "end:bc"] },
    { name: "too long: dropped through the delimiter", input: "abcdefgh\r\nok\r\n", expected: [TOO_LONG, "ok\r\n"] },
    { name: "too long, its delimiter split", input: "abcdefgh\r", expected: [TOO_LONG] },
    { name: "exactly the limit", input: "abc\r\n", expected: ["abc\r\n"] }
  ]
  it.each(table)("$name", ({ input, expected }) => {
    const bytes = bytesOf(input)
    assert.deepStrictEqual(frames(Decoder.until("\r\n", { maxLength: 5 }), [bytes]), expected)
    assert.deepStrictEqual(frames(Decoder.until("\r\n", { maxLength: 5 }), split(bytes, [...bytes.keys()])), expected)
  })

  const Tokens = Schema.Array(Schema.Literals(["a", "\r", "\n", "\r\n", "\r\n\r\n", "\u0000"]))
  const Cuts = Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 200 })))
  const Delimiter = Schema.Literals(["\n", "\r\n", "\r\n\r\n", "\u0000"])
  const Limit = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10 }))

  it.prop("any chunking gives the reference frames", [Tokens, Cuts, Delimiter, Limit], ([tokens, cuts, delimiter, max]) => {
    const input = encode(tokens)
    const decoder = Decoder.until(delimiter, { maxLength: max })
    assert.deepStrictEqual(frames(decoder, split(input, cuts)), referenceUntil(input, Buffer.from(delimiter), max))
  })
})

describe("Decoder.schema", () => {
  it("decodes each line, and a line that does not decode is a failure with the line", () => {
    const decoder = Decoder.schema(Schema.fromJsonString(Schema.Struct({ n: Schema.Number })), { maxLength: 100 })
    const decoded = Decoder.run(decoder, ["{\"n\":1}\nnope\n{\"n\":2}\n"])
    assert.deepStrictEqual(decoded.frames[0], { n: 1 })
    const failure = decoded.frames[1]
    assert.instanceOf(failure, Decoder.Failure)
    assert.strictEqual((failure as Decoder.Failure<{ readonly line: string }>).error.line, "nope")
    assert.deepStrictEqual(decoded.frames[2], { n: 2 })
  })
})
