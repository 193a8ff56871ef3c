/**
 * The `header` decoder over every chunking of valid and invalid headers
 * followed by client bytes: it takes exactly the header (the client's bytes
 * are what remains), refuses with what `parse` says of the shortest refused
 * prefix, takes nothing when it refuses, and gives the same outcome
 * whatever the chunking; a header cut short by the end of input says how
 * much of it arrived; a maximal v2 header trickled byte by byte is read
 * with a bounded number of byte reads per byte.
 */
import { Buffer } from "node:buffer"
import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Decoder from "../../../src/Decoder.ts"
import { type Input, nextFrame } from "../../../src/internal/io/decoding.ts"
import { InputBuffer } from "../../../src/internal/io/inputBuffer.ts"
import * as ProxyDecoder from "../../../src/internal/proxy/decoder.ts"
import { ProxyHeaderError } from "../../../src/internal/proxy/errors.ts"
import { type Accept, type ProxyHeader, V2_MAX_LENGTH } from "../../../src/internal/proxy/header.ts"
import { split } from "../../fixtures/chunks.ts"
import { bytes, concat, v2 } from "../../fixtures/proxyHeader.ts"
import { accepts, anySample, int, octet, oneOf, parsePrefixes, payload, randomInput, refusal, runs } from "./support.ts"

/** `first`'s frame, then everything after it as it arrives: what a handler would read after the header. */
const thenRest = <A, E>(first: Decoder.Decoder<A, E>): Decoder.Decoder<A | Buffer, E> => {
  let done = false
  return {
    decode(input) {
      if (done) return input.length > 0 ? input.take(input.length) : Decoder.NeedMore
      const step = first.decode(input)
      done = step !== Decoder.NeedMore && !(step instanceof Decoder.Failure)
      return step
    },
    decodeEof: (input) => (done || first.decodeEof === undefined ? Decoder.NeedMore : first.decodeEof(input))
  }
}

/** What reading a header from `chunks` gives: the header or the refusal, the bytes after it, and how the input ended. */
const outcome = (accept: Accept, chunks: ReadonlyArray<Uint8Array>) => {
  const decoded = Decoder.run(thenRest(ProxyDecoder.header(accept)), chunks)
  const [first, ...rest] = decoded.frames
  return {
    header: first instanceof Decoder.Failure ? `${first.error.reason._tag}: ${first.error.message}` : first,
    rest: Buffer.concat(rest as Array<Buffer>),
    end: decoded.end?._tag
  }
}

const Cuts = Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 1 << 20 }))).check(Schema.isMaxLength(24))

/** The chunkings tried for an input: one chunk, byte by byte, and at the given cuts. */
const chunkings = (input: Uint8Array, cuts: ReadonlyArray<number>): Array<Array<Uint8Array>> => [
  [input],
  Array.from(input, (b) => Uint8Array.of(b)),
  split(Buffer.from(input), cuts)
]

const invalidInput = oneOf(
  randomInput,
  Arbitrary.map(Arbitrary.all([anySample, int(0, 1_000_000), octet, payload]), ([{ header }, position, value, data]) => {
    const corrupted = Uint8Array.from(header)
    corrupted[position % header.length] = value
    return concat(corrupted, data)
  })
)

/** The message of the refusal of `input`, given in one chunk. */
const refused = (input: string) => {
  const decoded = Decoder.run(ProxyDecoder.header("any"), [bytes(input)])
  const failure = decoded.frames[0]
  return failure instanceof Decoder.Failure ? failure.error.message : undefined
}

/**
 * Feeds `input` to `decoder` one byte at a time, as a connection would,
 * counting every byte the decoder reads from its input; throws once the
 * count passes `budget`.
 */
const trickle = (input: Uint8Array, budget: number) => {
  const buffer = new InputBuffer()
  let reads = 0
  const counted = (view: Uint8Array): Uint8Array =>
    new Proxy(view, {
      get(target, key) {
        if (typeof key === "string" && /^\d+$/.test(key)) {
          if (++reads > budget) throw new Error(`read more than ${budget} bytes`)
          return target[Number(key)]
        }
        if (key === "subarray") return (start?: number, end?: number) => counted(target.subarray(start, end))
        const value: unknown = Reflect.get(target, key, target)
        return typeof value === "function" ? value.bind(target) : value
      }
    })
  const view: Input = {
    get bytes() {
      return counted(buffer.bytes) as Buffer
    },
    get start() {
      return buffer.start
    },
    get length() {
      return buffer.length
    },
    get ended() {
      return buffer.ended
    },
    get state() {
      return buffer.state
    },
    set state(state) {
      buffer.state = state
    },
    take: (n) => buffer.take(n),
    skip: (n) => buffer.skip(n),
    indexOf: (byte, from) => buffer.indexOf(byte, from),
    reserve: (total) => buffer.reserve(total),
    discardThrough: (delimiter) => buffer.discardThrough(delimiter)
  }
  const decoder = ProxyDecoder.header("v2")
  for (let i = 0; i < input.length; i++) {
    buffer.append(Buffer.from(input.subarray(i, i + 1)))
    const step = nextFrame(decoder, view)
    if (step !== Decoder.NeedMore) return { step, reads, left: buffer.length }
  }
  return { step: Decoder.NeedMore, reads, left: buffer.length }
}

describe("header decoder", () => {
  it.prop(
    "any chunking of a valid header and client bytes: the header, then exactly the client's bytes",
    [anySample, payload, Cuts],
    ([{ expected, header }, data, cuts]) => {
      const accept: Accept = expected.header.version === 1 ? "v1" : "v2"
      for (const chunks of chunkings(concat(header, data), cuts)) {
        assert.deepStrictEqual(outcome(accept, chunks), { header: expected.header, rest: Buffer.from(data), end: "EndOfInput" })
      }
    },
    runs
  )

  it.prop(
    "any chunking of any input: one outcome, the refusal of its shortest refused prefix, nothing taken",
    [invalidInput, accepts, Cuts],
    ([input, accept, cuts]) => {
      const [whole, ...others] = chunkings(input, cuts).map((chunks) => outcome(accept, chunks)) as [
        ReturnType<typeof outcome>,
        ...Array<ReturnType<typeof outcome>>
      ]
      for (const other of others) assert.deepStrictEqual(other, whole)
      const { decidedAt, result } = parsePrefixes(input, accept)
      if (decidedAt === undefined) {
        // Cut short: the end of input says how much arrived.
        assert.deepStrictEqual(whole, {
          header: input.length === 0 ? undefined : `Truncated: input ended after ${input.length} bytes of a PROXY header`,
          rest: Buffer.alloc(0),
          end: input.length === 0 ? "EndOfInput" : undefined
        })
      } else if (result._tag !== "Complete") {
        const shortest = ProxyDecoder.parse(input.subarray(0, decidedAt), accept)
        assert.strictEqual(whole.header, `${shortest._tag}: ${refusal(shortest)}`)
        assert.deepStrictEqual([whole.rest.length, whole.end], [0, undefined], "a refusal takes nothing")
      }
    },
    runs
  )

  it("quotes nothing after the byte that refused the header, whatever else arrived", () => {
    assert.strictEqual(refused("GET / HTTP/1.1\r\n"), "not a PROXY protocol header (starts with \"G\")")
    assert.strictEqual(refused("PROXY TCP6 1.2.3.4 ::1 1 2\r\n"), "v1: bad source address \"1.\"")
    // The 108-byte TCP6 line is refused before its ports, so their garbage is not what it reports.
    const long6 = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
    assert.strictEqual(refused(`PROXY TCP6 ${long6} ${long6} x y\r\n`), "v1: no CRLF within the first 107 bytes")
  })

  it("at end of input: nothing is EndOfInput, part of a header is Truncated with its size", () => {
    assert.deepStrictEqual(outcome("any", []), { header: undefined, rest: Buffer.alloc(0), end: "EndOfInput" })
    const line = bytes("PROXY TCP4 10.0.0.1")
    assert.deepStrictEqual(outcome("any", [line]), {
      header: "Truncated: input ended after 19 bytes of a PROXY header",
      rest: Buffer.alloc(0),
      end: undefined
    })
  })

  it.effect("a refusal is a ProxyHeaderError, its reason caught with Effect.catchReason", () =>
    Effect.gen(function*() {
      const decoded = Decoder.run(ProxyDecoder.header("v1"), [bytes("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n")])
      const failure = decoded.frames[0]
      assert.instanceOf(failure, Decoder.Failure)
      const error = (failure as Decoder.Failure<ProxyHeaderError>).error
      assert.instanceOf(error, ProxyHeaderError)
      assert.strictEqual(error.message, "v1: bad source port \"65536\"")
      const caught = yield* Effect.fail(error).pipe(
        Effect.catchReason("ProxyHeaderError", "Malformed", (reason) => Effect.succeed([reason.version, reason.detail, reason.value]))
      )
      assert.deepStrictEqual(caught, [1, "bad source port", "65536"])
    }))

  it("a maximal v2 header trickled byte by byte is read with a bounded number of reads per byte", () => {
    // One 65532-byte TLV: nothing to check between its header and its end. Then 21845 empty TLVs: a walk
    // of the TLVs that restarted with each byte (or each TLV) would read them all again every time.
    const oneTlv = v2({ familyTransport: 0x00, extra: [0x04, 0xff, 0xfc, ...new Uint8Array(0xfffc)] })
    const manyTlvs = v2({ familyTransport: 0x00, extra: Array.from({ length: 0xffff }, (_, i) => (i % 3 === 0 ? 0x04 : 0)) })
    for (const [name, input, tlvs] of [["one TLV", oneTlv, 1], ["many TLVs", manyTlvs, 21845]] as const) {
      assert.strictEqual(input.length, V2_MAX_LENGTH)
      const { left, reads, step } = trickle(input, 12 * V2_MAX_LENGTH)
      assert.notInstanceOf(step, Decoder.Failure, name)
      assert.strictEqual((step as ProxyHeader).tlvs.length, tlvs, name)
      assert.strictEqual(left, 0, `${name}: the header is taken`)
      assert.isAtMost(reads, 12 * V2_MAX_LENGTH, name)
    }
  })
})
