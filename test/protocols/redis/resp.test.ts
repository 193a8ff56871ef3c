/**
 * Pure RESP framing, the request decoder over scripted chunks (no socket,
 * no runtime): exact request bytes to arguments or to Redis's protocol
 * error, the inline quoting rules and glob patterns as tables, then
 * properties — any chunking of any pipeline of generated requests
 * (multibulk and inline, binary payloads with CR/LF inside) parses to
 * exactly the generated argument lists, and any chunking of arbitrary bytes
 * parses to the same outcome.
 */
import { Buffer } from "node:buffer"
import { assert, describe, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import * as Decoder from "../../../src/Decoder.ts"
import { matches } from "../../../src/handlers/redis/glob.ts"
import { splitArgs } from "../../../src/handlers/redis/inline.ts"
import * as Resp from "../../../src/handlers/redis/resp.ts"
import { InputBuffer } from "../../../src/internal/io/inputBuffer.ts"
import { split } from "../../fixtures/chunks.ts"
import { cmd } from "./support.ts"

/**
 * Decodes requests until the input ends or a protocol error: each request as
 * its argument list, the end as `<Tag>`, a protocol error as `<Tag: message>`.
 */
const parseAll = (chunks: ReadonlyArray<Buffer>, maxBulkLength = 1024): Array<unknown> => {
  const decoded = Decoder.run(Resp.request({ maxBulkLength }), chunks)
  const results: Array<unknown> = decoded.frames.map((frame) =>
    frame instanceof Decoder.Failure ? `<${frame.error._tag}: ${frame.error.message}>` : frame
  )
  return decoded.end === undefined ? results : [...results, `<${decoded.end._tag}>`]
}

const bytes = (text: string) => Buffer.from(text, "latin1")

/** An inline request for `args`: plain words bare, anything else double-quoted with escapes. */
const inlineRequest = (args: ReadonlyArray<string>) =>
  args.map((arg) =>
    /^[a-z0-9]+$/.test(arg)
      ? arg
      : `"${
        [...arg].map((char) => {
          const code = char.charCodeAt(0)
          if (char === "\"" || char === "\\") return `\\${char}`
          return code < 32 || code > 126 ? `\\x${code.toString(16).padStart(2, "0")}` : char
        }).join("")
      }"`
  ).join(" ") + "\r\n"

describe("request decoder", () => {
  const long = "x".repeat(Resp.maxInlineLength)
  const table: ReadonlyArray<{ readonly name: string; readonly input: string; readonly expected: ReadonlyArray<unknown> }> = [
    { name: "multibulk", input: cmd("PING"), expected: [["PING"], "<EndOfInput>"] },
    { name: "binary bulk with CR/LF inside", input: "*2\r\n$3\r\nGET\r\n$4\r\na\r\nb\r\n", expected: [["GET", "a\r\nb"], "<EndOfInput>"] },
    { name: "empty bulk", input: "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", expected: [["ECHO", ""], "<EndOfInput>"] },
    { name: "zero and negative counts are empty requests", input: "*0\r\n*-1\r\n", expected: [[], [], "<EndOfInput>"] },
    { name: "inline, CRLF or LF", input: "PING\r\nECHO a\n", expected: [["PING"], ["ECHO", "a"], "<EndOfInput>"] },
    { name: "empty inline lines", input: "\r\n\n  \t\r\n", expected: [[], [], [], "<EndOfInput>"] },
    { name: "inline quoting", input: "SET \"a b\" 'c d'\r\n", expected: [["SET", "a b", "c d"], "<EndOfInput>"] },
    { name: "inline of exactly the limit", input: `${long}\r\n`, expected: [[long], "<EndOfInput>"] },
    { name: "bulk of exactly the limit", input: cmd("x".repeat(1024)), expected: [["x".repeat(1024)], "<EndOfInput>"] },
    {
      name: "a good request, then a bad count",
      input: `${cmd("PING")}*x\r\n`,
      expected: [["PING"], "<InvalidMultibulkLength: Protocol error: invalid multibulk length>"]
    },
    { name: "count with a leading zero", input: "*01\r\n", expected: ["<InvalidMultibulkLength: Protocol error: invalid multibulk length>"] },
    { name: "count with a plus sign", input: "*+1\r\n", expected: ["<InvalidMultibulkLength: Protocol error: invalid multibulk length>"] },
    { name: "count without CR", input: "*1\n$4\r\nPING\r\n", expected: ["<InvalidMultibulkLength: Protocol error: invalid multibulk length>"] },
    { name: "count over INT_MAX", input: "*2147483648\r\n", expected: ["<InvalidMultibulkLength: Protocol error: invalid multibulk length>"] },
    {
      name: "count over the argument bound (2^20)",
      input: "*1048577\r\n",
      expected: ["<InvalidMultibulkLength: Protocol error: invalid multibulk length>"]
    },
    { name: "count of the argument bound, then the input ends", input: "*1048576\r\n", expected: ["<UnexpectedEndOfInput>"] },
    { name: "count past 64 bits", input: "*-9223372036854775809\r\n", expected: ["<InvalidMultibulkLength: Protocol error: invalid multibulk length>"] },
    { name: "most negative 64-bit count", input: "*-9223372036854775808\r\n", expected: [[], "<EndOfInput>"] },
    { name: "negative bulk length", input: "*1\r\n$-1\r\n", expected: ["<InvalidBulkLength: Protocol error: invalid bulk length>"] },
    { name: "bulk length not a number", input: "*1\r\n$abc\r\n", expected: ["<InvalidBulkLength: Protocol error: invalid bulk length>"] },
    { name: "bulk length over the limit", input: "*1\r\n$1025\r\n", expected: ["<InvalidBulkLength: Protocol error: invalid bulk length>"] },
    { name: "bulk length with a leading zero", input: "*1\r\n$04\r\nPING\r\n", expected: ["<InvalidBulkLength: Protocol error: invalid bulk length>"] },
    { name: "no $ before a bulk", input: "*2\r\n$4\r\nPING\r\n%3\r\n", expected: ["<ExpectedBulk: Protocol error: expected '$', got '%'>"] },
    { name: "an empty line instead of a bulk", input: "*1\r\n\r\n", expected: ["<ExpectedBulk: Protocol error: expected '$', got '\r'>"] },
    { name: "inline over the limit", input: `${long}x\r\n`, expected: ["<RequestTooBig: Protocol error: too big inline request>"] },
    { name: "count line over the limit", input: `*${long}x`, expected: ["<RequestTooBig: Protocol error: too big mbulk count string>"] },
    { name: "bulk line over the limit", input: `*1\r\n$${long}`, expected: ["<RequestTooBig: Protocol error: too big bulk count string>"] },
    { name: "unclosed double quote", input: "GET \"abc\r\n", expected: ["<UnbalancedQuotes: Protocol error: unbalanced quotes in request>"] },
    { name: "closing quote not followed by a space", input: "GET 'a'b\r\n", expected: ["<UnbalancedQuotes: Protocol error: unbalanced quotes in request>"] },
    // A request cut short is never run: the input ended in the middle of a frame.
    { name: "input ends inside a bulk", input: "*1\r\n$4\r\nPI", expected: ["<UnexpectedEndOfInput>"] },
    { name: "input ends inside a multibulk, between lines", input: "*2\r\n$4\r\nPING\r\n", expected: ["<UnexpectedEndOfInput>"] },
    { name: "input ends inside an inline line", input: "PING", expected: ["<UnexpectedEndOfInput>"] },
    { name: "input ends inside a count line", input: "*1\r", expected: ["<UnexpectedEndOfInput>"] }
  ]
  it.each(table)("$name", ({ input, expected }) => {
    const all = bytes(input)
    assert.deepStrictEqual(parseAll([all]), expected)
    // One byte at a time must agree.
    assert.deepStrictEqual(parseAll(split(all, [...all.keys()])), expected)
  })

  it("grows with the bytes that arrive, not with an announced count or length", () => {
    // A peer announcing a million arguments of 512 MiB each, then sending three bytes.
    const input = new InputBuffer()
    input.append(bytes("*1000000\r\n$536870912\r\nabc"))
    assert.strictEqual(Resp.request({ maxBulkLength: 512 * 1024 * 1024 }).decode(input), Decoder.NeedMore)
    input.append(bytes("def"))
    assert.isBelow(input.bytes.buffer.byteLength, 1024 * 1024, "the buffer follows the bytes received, not the 512 MiB announced")
  })

  it("bounds the bytes of a whole request", () => {
    const decoder = Resp.request({ maxBulkLength: 100, maxRequestBytes: 150 })
    const decoded = Decoder.run(decoder, [cmd("SET", "k".repeat(60), "v".repeat(90))])
    assert.strictEqual((decoded.frames[0] as Decoder.Failure<{ readonly _tag: string }>).error._tag, "RequestTooLarge")
  })

  it("decodes a request trickled byte by byte with work linear in its size", () => {
    // Progress through a multibulk is kept between chunks: 20 000 arguments
    // one byte at a time would take ~10^9 steps if each chunk parsed from the start.
    const request = bytes(cmd("DEL", ...Array.from({ length: 20_000 }, (_, i) => `k${i}`)))
    const decoded = Decoder.run(Resp.request({ maxBulkLength: 1024 }), split(request, [...request.keys()]))
    assert.strictEqual((decoded.frames[0] as ReadonlyArray<string>).length, 20_001)
  }, 10_000)
})

describe("splitArgs (inline quoting)", () => {
  const table: ReadonlyArray<readonly [string, ReadonlyArray<string> | undefined]> = [
    ["a b  c", ["a", "b", "c"]],
    ["\t a\tb \r", ["a", "b"]],
    ["\"a b\" 'c d'", ["a b", "c d"]],
    ["\"\\n\\r\\t\\b\\a\\\\\\\"\\q\"", ["\n\r\t\b\x07\\\"q"]],
    ["\"\\x41\\x7a\\xff\\x4\"", ["Az\xffx4"]],
    ["'it\\'s' 'a\\b'", ["it's", "a\\b"]],
    ["a\"b c\"d", undefined],
    ["a\"b c\" d", ["ab c", "d"]],
    ["\"\" ''", ["", ""]],
    ["\"abc", undefined],
    ["'abc", undefined],
    ["\"a\"b", undefined],
    ["\"a\"\x0bb", ["a", "b"]],
    ["a\x0bb", ["a\x0bb"]],
    ["\"a\\", undefined],
    ["a\0b c", ["a"]],
    ["", []]
  ]
  it.each(table)("%j", (line, expected) => {
    assert.deepStrictEqual(splitArgs(line), expected)
  })
})

describe("glob matches", () => {
  const table: ReadonlyArray<readonly [string, string, boolean]> = [
    ["*", "", false],
    ["h?llo", "hello", true],
    ["h?llo", "hllo", false],
    ["h*llo", "hllo", true],
    ["h*llo", "heeeello", true],
    ["h[ae]llo", "hallo", true],
    ["h[ae]llo", "hillo", false],
    ["h[^e]llo", "hallo", true],
    ["h[^e]llo", "hello", false],
    ["h[a-b]llo", "hbllo", true],
    ["h[b-a]llo", "hbllo", true],
    ["h[a-b]llo", "hcllo", false],
    ["h\\[a\\]llo", "h[a]llo", true],
    ["h[\\]]", "h]", true],
    ["h[a", "ha", true],
    ["h[a", "ha]", false],
    ["a*b*c", "axxbyyc", true],
    ["a*b*c", "axxbyy", false],
    ["*?", "", false],
    ["a\\", "a\\", true],
    ["[]", "a", false],
    ["[^]", "a", true]
  ]
  it.each(table)("%j against %j is %s", (pattern, subject, expected) => {
    assert.strictEqual(matches(pattern, subject), expected)
  })
})

describe("properties", () => {
  // Bytes that matter to framing: CR, LF, quotes, backslash, NUL, high bytes, the type markers.
  const Byte = Schema.Literals(["a", "z", "0", " ", "\r", "\n", "\"", "'", "\\", "\x00", "\xff", "*", "$", "\t"])
  const Request = Schema.Struct({ inline: Schema.Boolean, args: Schema.Array(Schema.Array(Byte)) })
  const Cuts = Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 2000 })))

  it.prop(
    "any chunking of a pipeline parses to the generated requests",
    [Schema.Array(Request), Cuts],
    ([generated, cuts]) => {
      const requests = generated.map(({ args, inline }) => ({ inline, args: args.map((arg) => arg.join("")) }))
      const input = bytes(requests.map(({ args, inline: isInline }) => isInline ? inlineRequest(args) : cmd(...args)).join(""))
      const expected = [...requests.map(({ args }) => args), "<EndOfInput>"]
      assert.deepStrictEqual(parseAll(split(input, cuts)), expected)
    }
  )

  const Token = Schema.Literals([
    "*1\r\n",
    "*2\r\n",
    "*0\r\n",
    "*-1\r\n",
    "$3\r\n",
    "$0\r\n",
    "$-1\r\n",
    "*",
    "$",
    "\r\n",
    "\n",
    "\r",
    "PING",
    "abc",
    "\"",
    "'",
    " ",
    "\\x4",
    "\x00",
    "1",
    "x"
  ])

  it.prop("any chunking of arbitrary bytes gives the same outcome", [Schema.Array(Token), Cuts], ([tokens, cuts]) => {
    const input = bytes(tokens.join(""))
    assert.deepStrictEqual(parseAll(split(input, cuts)), parseAll([input]))
  })
})
