/**
 * Helpers shared by the PROXY protocol tests: the rules every answer of
 * `parse` obeys, checked over all prefixes of an input; expected headers;
 * and generators of valid headers of both versions (with the header each
 * must parse to), for the properties.
 */
import { SocketAddress } from "node:net"
import { assert } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Schema from "effect/Schema"
import { parse, type ParseResult } from "../../../src/internal/proxy/decoder.ts"
import { toReason } from "../../../src/internal/proxy/errors.ts"
import { type Accept, MAX_LENGTH, type ProxyHeader, type Tlv, V1_MAX_LENGTH } from "../../../src/internal/proxy/header.ts"
import type { Address } from "../../../src/Address.ts"
import { bytes, concat, inet, SIGNATURE, unix, v2, words16 } from "../../fixtures/proxyHeader.ts"

/** A log-safe reason: one line of printable ASCII (raw bytes only as `\xNN` escapes), short. */
export const LOG_SAFE = /^[\x20-\x7e…]{1,160}$/

/** A header as `parse` returns it when complete: what it says, and the bytes it took. */
export interface Expected {
  readonly header: ProxyHeader
  readonly length: number
}

/**
 * Parses every prefix of `input` and checks what holds for any input: each
 * result is well-formed; the answer is `Incomplete` up to some point and then
 * one outcome that more bytes never change; `Incomplete` never asks beyond
 * the version's maximum size, and its `until` holds (no answer with fewer
 * bytes). Returns the final result and the prefix length that decided it
 * (undefined while still incomplete).
 */
export const parsePrefixes = (input: Uint8Array, accept: Accept) => {
  const limit = input[0] === 0x50 ? V1_MAX_LENGTH : MAX_LENGTH
  let decided: { readonly at: number; readonly result: ParseResult } | undefined
  let promised = 0 // the last Incomplete's `until`: no answer before that many bytes
  let result: ParseResult = parse(input.subarray(0, 0), accept)
  for (let k = 0; k <= input.length; k++) {
    result = parse(input.subarray(0, k), accept)
    if (result._tag !== "Incomplete") assert.isAtLeast(k, promised, `decided at ${k}, before the promised ${promised}`)
    switch (result._tag) {
      case "Incomplete":
        assert.isUndefined(decided, `prefix ${k} asks for more after being decided at ${decided?.at}`)
        assert.isAbove(result.until, k)
        assert.isAtMost(result.until, limit)
        promised = result.until
        break
      case "Complete": {
        assert.isAtMost(result.length, k)
        const tlvBytes = result.header.tlvs.reduce((sum, t) => sum + 3 + t.value.length, 0)
        if (result.header.version === 2) assert.isAtMost(tlvBytes, result.length - 16, "TLVs lie inside the header")
        if (decided !== undefined) assert.deepStrictEqual(result, decided.result, `prefix ${k} changed the header`)
        break
      }
      default:
        assert.match(toReason(result).message, LOG_SAFE)
        if (decided !== undefined) {
          assert.notInclude(["Incomplete", "Complete"], decided.result._tag, `prefix ${k} was refused later`)
        }
    }
    decided ??= result._tag === "Incomplete" ? undefined : { at: k, result }
  }
  return { result, decidedAt: decided?.at }
}

/** The message of the reason `result` gives, or a failed assertion when it is not a refusal. */
export const refusal = (result: ParseResult): string => {
  if (result._tag === "Incomplete" || result._tag === "Complete") return assert.fail(`${result._tag}, not refused`)
  return toReason(result).message
}

/** `result` as a complete header, or a failed assertion. */
export const assertComplete = (result: ParseResult, expected: Expected): void =>
  assert.deepStrictEqual(result, { _tag: "Complete", ...expected })

export const ipv4 = (host: string, port: number): Address => ({ family: "IPv4", host, port })
export const ipv6 = (host: string, port: number): Address => ({ family: "IPv6", host, port })
export const unixAt = (path: string): Address => ({ family: "unix", path })

/** The addresses of a header: both endpoints and the transport, or none. */
type Addresses = Pick<ProxyHeader, "transport" | "source" | "destination">

const NO_ADDRESSES: Addresses = { transport: undefined, source: undefined, destination: undefined }

/** A TCP connection's addresses. */
export const tcp = (source: Address, destination: Address): Addresses => ({ transport: "stream", source, destination })

/** A v1 header of `length` bytes, with the given addresses (`UNKNOWN` without). */
export const v1Header = (length: number, addresses: Addresses = NO_ADDRESSES): Expected => ({
  header: { version: 1, command: "proxy", ...addresses, tlvs: [] },
  length
})

/** A v2 header of `length` bytes. */
export const v2Header = (
  length: number,
  fields: { readonly command?: "proxy" | "local"; readonly tlvs?: ReadonlyArray<Tlv> } & Partial<Addresses> = {}
): Expected => ({
  header: { version: 2, command: fields.command ?? "proxy", ...NO_ADDRESSES, ...fields, tlvs: fields.tlvs ?? [] },
  length
})

// ---------------------------------------------------------------------------
// Generators for the properties

export const int = (minimum: number, maximum: number) =>
  Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum, maximum })))
export const oneOf = <A>(...choices: ReadonlyArray<Arbitrary.Arbitrary<A>>): Arbitrary.Arbitrary<A> =>
  Arbitrary.flatMap(int(0, choices.length - 1), (i) => choices[i]!)
export const byteArray = (maxLength: number) =>
  Arbitrary.schema(Schema.Uint8Array.check(Schema.isMaxLength(maxLength)))

export const octet = int(0, 255)
const port = int(0, 0xffff)
const ipv4Text = Arbitrary.map(Arbitrary.all([octet, octet, octet, octet]), (o) => o.join("."))
/**
 * Zero runs and the ::/96 forms (IPv4-compatible, IPv4-mapped, neither) are
 * where IPv6 text forms differ, so make them common.
 */
const word = oneOf(Arbitrary.Constant(0), Arbitrary.Constant(0xffff), int(0, 0xffff))
const ipv6Words = oneOf(
  Arbitrary.all(Array.from({ length: 8 }, () => word)),
  Arbitrary.map(Arbitrary.all([word, word, word]), ([w, a, b]) => [0, 0, 0, 0, 0, w, a, b])
)

/** Node's own text for an IPv6 address: what `socket.remoteAddress` would say. */
export const nodeIPv6 = (address: string) => new SocketAddress({ address, family: "ipv6" }).address

/** The same IPv6 address in one of the text forms `inet_pton` accepts. */
const ipv6Text = (ws: ReadonlyArray<number>, style: number): string => {
  const groups = ws.map((w) => w.toString(16))
  switch (style) {
    case 0:
      return nodeIPv6(groups.join(":"))
    case 1:
      return ws.map((w) => w.toString(16).padStart(4, "0").toUpperCase()).join(":")
    case 2: {
      const tail = [ws[6]! >> 8, ws[6]! & 0xff, ws[7]! >> 8, ws[7]! & 0xff].join(".")
      return `${groups.slice(0, 6).join(":")}:${tail}`
    }
    default: {
      // "::" over the last run of zero groups, even a single one (inet_ntop would pick the longest).
      const end = groups.lastIndexOf("0")
      if (end === -1) return groups.join(":")
      let start = end
      while (start > 0 && groups[start - 1] === "0") start--
      return `${groups.slice(0, start).join(":")}::${groups.slice(end + 1).join(":")}`
    }
  }
}

/** A valid header's bytes, and what it must parse to. */
export interface Sample {
  readonly header: Uint8Array
  readonly expected: Expected
}

const v1Tcp4 = Arbitrary.map(Arbitrary.all([ipv4Text, ipv4Text, port, port]), ([src, dst, sp, dp]): Sample => {
  const line = `PROXY TCP4 ${src} ${dst} ${sp} ${dp}\r\n`
  return { header: bytes(line), expected: v1Header(line.length, tcp(ipv4(src, sp), ipv4(dst, dp))) }
})

const v1Tcp6 = Arbitrary.map(
  Arbitrary.all([ipv6Words, ipv6Words, int(0, 3), int(0, 3), port, port]),
  ([src, dst, srcStyle, dstStyle, sp, dp]): Sample => {
    let line = `PROXY TCP6 ${ipv6Text(src, srcStyle)} ${ipv6Text(dst, dstStyle)} ${sp} ${dp}\r\n`
    // Two dotted-tail forms can overflow the 107 bytes: fall back to the short form.
    if (line.length > V1_MAX_LENGTH) line = `PROXY TCP6 ${ipv6Text(src, 0)} ${ipv6Text(dst, 0)} ${sp} ${dp}\r\n`
    const expected = tcp(ipv6(ipv6Text(src, 0), sp), ipv6(ipv6Text(dst, 0), dp))
    return { header: bytes(line), expected: v1Header(line.length, expected) }
  }
)

const v1Unknown = Arbitrary.map(oneOf(Arbitrary.Constant(undefined), byteArray(91)), (tail): Sample => {
  // Anything may follow "UNKNOWN " except the CRLF that ends the line.
  const text = tail === undefined
    ? ""
    : ` ${String.fromCharCode(...tail.map((b, i) => (b === 0x0a && tail[i - 1] === 0x0d ? 0x20 : b)))}`
  const line = `PROXY UNKNOWN${text}\r\n`
  return { header: bytes(line), expected: v1Header(line.length) }
})

const unixPath = Arbitrary.map(
  Arbitrary.all([
    int(0, 2),
    Arbitrary.schema(
      Schema.Array(Schema.Literals(["a", "Z", "0", "/", ".", "-", "_", "é", " "])).check(Schema.isMaxLength(50))
    )
  ]),
  ([kind, chars]) => (kind === 0 ? "" : kind === 1 ? chars.join("") : `\0${chars.join("")}`)
)

interface Block {
  readonly bytes: Uint8Array
  readonly source?: Address
  readonly destination?: Address
}

const blocks: ReadonlyArray<Arbitrary.Arbitrary<Block>> = [
  Arbitrary.Constant({ bytes: new Uint8Array(0) }),
  Arbitrary.map(Arbitrary.all([ipv4Text, ipv4Text, port, port]), ([src, dst, sp, dp]) => ({
    bytes: inet(src, dst, sp, dp),
    source: ipv4(src, sp),
    destination: ipv4(dst, dp)
  })),
  Arbitrary.map(Arbitrary.all([ipv6Words, ipv6Words, port, port]), ([src, dst, sp, dp]) => ({
    bytes: concat(words16(src), words16(dst), [sp >> 8, sp & 0xff, dp >> 8, dp & 0xff]),
    source: ipv6(ipv6Text(src, 0), sp),
    destination: ipv6(ipv6Text(dst, 0), dp)
  })),
  Arbitrary.map(Arbitrary.all([unixPath, unixPath]), ([src, dst]) => ({
    bytes: unix(src, dst),
    source: unixAt(src === "\0" ? "" : src),
    destination: unixAt(dst === "\0" ? "" : dst)
  }))
]

const tlvList = Arbitrary.array(
  Arbitrary.all({ type: Arbitrary.filter(int(0, 255), (t) => t !== 0x03), value: byteArray(40) }),
  { maxLength: 6 }
)
const crcOption = oneOf(Arbitrary.Constant(undefined), int(-1, 6))

// Mostly PROXY with a transport, where the addresses are reported.
const v2Sample = Arbitrary.flatMap(
  Arbitrary.all([Arbitrary.map(int(0, 3), (c) => Math.min(c, 1)), int(0, 3), Arbitrary.map(int(0, 4), (t) => (t + 1) >> 1)]),
  ([command, family, transport]) =>
    Arbitrary.map(Arbitrary.all([blocks[family]!, tlvList, crcOption]), ([block, tlvs, crcAfter]): Sample => {
      const header = v2({
        versionCommand: 0x20 | command,
        familyTransport: family << 4 | transport,
        addresses: block.bytes,
        tlvs,
        ...(crcAfter === undefined ? {} : { crc32c: { after: crcAfter, value: "correct" as const } })
      })
      const expectedTlvs: Array<Tlv> = tlvs.map(({ type, value }) => ({ type, value }))
      if (crcAfter !== undefined) {
        const index = Math.min(crcAfter + 1, tlvs.length)
        const offset = 16 + block.bytes.length + tlvs.slice(0, index).reduce((sum, t) => sum + 3 + t.value.length, 0)
        expectedTlvs.splice(index, 0, { type: 0x03, value: header.slice(offset + 3, offset + 7) })
      }
      const addresses = command === 1 && transport !== 0 && block.source !== undefined && block.destination !== undefined
        ? { transport: transport === 1 ? "stream" as const : "dgram" as const, source: block.source, destination: block.destination }
        : {}
      return {
        header,
        expected: v2Header(header.length, { command: command === 1 ? "proxy" : "local", ...addresses, tlvs: expectedTlvs })
      }
    })
)

/** Starts that lead random bytes deep into each version's rules. */
const starts = [
  [],
  SIGNATURE,
  [...SIGNATURE, 0x21],
  [...SIGNATURE, 0x21, 0x11, 0x00],
  [...SIGNATURE, 0x20, 0x00, 0x00, 0x0a],
  bytes("PROXY "),
  bytes("PROXY TCP4 "),
  bytes("PROXY TCP6 "),
  bytes("PROXY UNKNOWN")
].map((start) => Arbitrary.Constant(Uint8Array.from(start)))
/** Random bytes after one of the starts: mostly invalid, deep in a version's rules. */
export const randomInput = Arbitrary.map(Arbitrary.all([oneOf(...starts), byteArray(120)]), ([start, rest]) => concat(start, rest))
/** Any `accept` setting. */
export const accepts = oneOf<Accept>(...(["v1", "v2", "any"] as const).map(Arbitrary.Constant))

/** A valid header of either version, v2 (the more varied) more often. */
export const anySample = oneOf(v1Tcp4, v1Tcp6, v1Unknown, v2Sample, v2Sample, v2Sample)
/** What a client may send after the header. */
export const payload = byteArray(64)
export const runs = { arbitrary: { runs: 300, size: 100 } }

/** One row of a table: an input and what `parse` must make of it. */
export interface Case {
  readonly name: string
  readonly input: Uint8Array
  readonly accept?: Accept
  /** The result for the whole input: a header, a pattern for the reason's message, or `Incomplete` with its `until`. */
  readonly expect: Expected | RegExp | number
  /** Fewest bytes after which the outcome is known. */
  readonly decidedAt?: number
}

/** Checks that `result`, what `parse` made of a {@link Case}'s whole input, is what the case expects. */
export const assertOutcome = (result: ParseResult, expect: Case["expect"]): void => {
  if (typeof expect === "number") {
    assert.strictEqual(result._tag, "Incomplete")
    assert.strictEqual(result._tag === "Incomplete" ? result.until : undefined, expect)
  } else if (expect instanceof RegExp) {
    assert.match(refusal(result), expect)
  } else {
    assertComplete(result, expect)
  }
}
