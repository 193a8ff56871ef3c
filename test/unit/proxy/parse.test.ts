/**
 * Reading which header a connection starts with, on exact bytes: the
 * signature, and which versions are accepted; then properties showing that
 * every strict prefix of a valid header asks for more, the full header
 * parses the same whatever follows it, and no input throws, asks for more
 * than the maximum header size, answers before the byte count it said to
 * wait for, or changes its answer as bytes are added.
 */
import { assert, describe, it } from "@effect/vitest"
import { parse } from "../../../src/internal/proxy/decoder.ts"
import { type Accept, MAX_LENGTH } from "../../../src/internal/proxy/header.ts"
import { bytes, concat, v2 } from "../../fixtures/proxyHeader.ts"
import {
  accepts,
  anySample,
  assertComplete,
  assertOutcome,
  type Case,
  int,
  octet,
  parsePrefixes,
  payload,
  randomInput,
  runs,
  v1Header,
  v2Header
} from "./support.ts"

const GET = bytes("GET / HTTP/1.1\r\n")

const table: ReadonlyArray<Case> = [
  { name: "nothing received yet", input: new Uint8Array(0), expect: 1 },
  { name: "neither signature", input: GET, expect: /^not a PROXY protocol header \(starts with "GET/, decidedAt: 1 },
  { name: "lowercase proxy", input: bytes("proxy TCP4"), expect: /not a PROXY protocol header/, decidedAt: 1 },
  { name: "PROXY without its space", input: bytes("PROXY\r\n"), expect: /not a PROXY protocol header/, decidedAt: 6 },
  {
    name: "v1 header when only v2 is accepted",
    input: bytes("PROXY UNKNOWN\r\n"),
    accept: "v2",
    expect: /v1 header, but only v2/,
    decidedAt: 1
  },
  {
    name: "v2 header when only v1 is accepted",
    input: v2({ familyTransport: 0x00 }),
    accept: "v1",
    expect: /v2 signature, but only v1/,
    decidedAt: 1
  },
  { name: "v1 accepted alone", input: bytes("PROXY UNKNOWN\r\n"), accept: "v1", expect: v1Header(15) },
  { name: "v2 accepted alone", input: v2({ familyTransport: 0x00 }), accept: "v2", expect: v2Header(16) },
  {
    name: "garbage when only v1 is accepted",
    input: bytes("\x16\x03\x01"),
    accept: "v1",
    expect: /not a PROXY protocol v1 header/,
    decidedAt: 1
  }
]

describe("parse", () => {
  it.each(table)("$name", ({ accept = "any", decidedAt, expect: expected, input }) => {
    const { decidedAt: at, result } = parsePrefixes(input, accept)
    assertOutcome(result, expected)
    if (decidedAt !== undefined) {
      assert.strictEqual(at, decidedAt, "bytes needed to decide")
    }
  })

  it.prop(
    "a valid header: every strict prefix asks for more, then it parses the same whatever follows",
    [anySample, payload],
    ([{ expected, header }, data]) => {
      const own: Accept = expected.header.version === 1 ? "v1" : "v2"
      for (const accept of [own, "any"] as const) {
        for (let k = 0; k < header.length; k++) {
          const result = parse(header.subarray(0, k), accept)
          assert.strictEqual(result._tag, "Incomplete", `prefix ${k} of ${header.length}`)
          if (result._tag === "Incomplete") {
            assert.isTrue(result.until > k && result.until <= header.length, `until ${result.until} at ${k}`)
          }
        }
        assertComplete(parse(header, accept), expected)
        const input = concat(header, data)
        assertComplete(parse(input, accept), expected)
        assert.deepStrictEqual(input.subarray(expected.length), data, "the application's bytes are left as they were")
      }
      const other = parse(header.subarray(0, 1), own === "v1" ? "v2" : "v1")
      assert.notInclude(["Incomplete", "Complete"], other._tag, "the other version is refused at the first byte")
    },
    runs
  )

  it.prop(
    "random bytes never throw, never ask past the maximum size, and never change a decided answer",
    [randomInput, accepts],
    ([input, accept]) => {
      parsePrefixes(input, accept)
      // Followed by as many bytes as the largest header, every input is decided.
      assert.notStrictEqual(parse(concat(input, new Uint8Array(MAX_LENGTH)), accept)._tag, "Incomplete")
    },
    runs
  )

  it.prop(
    "a valid header with one byte changed is still valid or malformed, never a crash",
    [anySample, int(0, 1_000_000), octet, payload],
    ([{ expected, header }, position, value, data]) => {
      const corrupted = Uint8Array.from(header)
      corrupted[position % header.length] = value
      const { result } = parsePrefixes(concat(corrupted, data), "any")
      if (corrupted[position % header.length] === header[position % header.length]) assertComplete(result, expected)
      const settled = parse(concat(corrupted, new Uint8Array(MAX_LENGTH)), "any")
      assert.notStrictEqual(settled._tag, "Incomplete")
    },
    runs
  )
})
