/**
 * The v2 binary header on exact bytes: a table of valid and malformed
 * headers (every family and transport, LOCAL, TLVs, CRC32C; with how many
 * bytes it takes to decide each), then the checksum verified and returned,
 * a maximal header asked for at once, and TLV values copied out of the
 * input.
 */
import { Buffer } from "node:buffer"
import { assert, describe, it } from "@effect/vitest"
import { parse } from "../../../src/internal/proxy/decoder.ts"
import { V2_MAX_LENGTH } from "../../../src/internal/proxy/header.ts"
import { bytes, concat, inet, inet6, SIGNATURE, tlv, unix, v2 } from "../../fixtures/proxyHeader.ts"
import { assertComplete, assertOutcome, type Case, ipv4, ipv6, parsePrefixes, tcp, unixAt, v2Header } from "./support.ts"

const GET = bytes("GET / HTTP/1.1\r\n")
const ipv4Block = inet("10.0.0.1", "10.0.0.2", 56324, 443)
const sslValue = concat([0x01, 0, 0, 0, 0], tlv(0x21, bytes("TLSv1.3")))

const table: ReadonlyArray<Case> = [
  // valid
  {
    name: "PROXY TCP over IPv4, followed by HTTP",
    input: concat(v2({ familyTransport: 0x11, addresses: ipv4Block }), GET),
    expect: v2Header(28, tcp(ipv4("10.0.0.1", 56324), ipv4("10.0.0.2", 443))),
    decidedAt: 28
  },
  {
    name: "PROXY UDP over IPv6",
    input: v2({ familyTransport: 0x22, addresses: inet6("2001:db8::1", "::ffff:a00:1", 53, 5353) }),
    expect: v2Header(52, { transport: "dgram", source: ipv6("2001:db8::1", 53), destination: ipv6("::ffff:10.0.0.1", 5353) })
  },
  {
    name: "PROXY Unix stream: a path and an abstract name",
    input: v2({ familyTransport: 0x31, addresses: unix("/run/app.sock", "\0hidden") }),
    expect: v2Header(232, { transport: "stream", source: unixAt("/run/app.sock"), destination: unixAt("\0hidden") })
  },
  {
    name: "PROXY Unix datagram: unnamed sockets",
    input: v2({ familyTransport: 0x32, addresses: unix("", "\0") }),
    expect: v2Header(232, { transport: "dgram", source: unixAt(""), destination: unixAt("") })
  },
  {
    name: "LOCAL (a health check): the socket's own addresses apply",
    input: concat(v2({ versionCommand: 0x20, familyTransport: 0x00 }), GET),
    expect: v2Header(16, { command: "local" }),
    decidedAt: 16
  },
  { name: "PROXY with AF_UNSPEC: no addresses", input: v2({ familyTransport: 0x00 }), expect: v2Header(16) },
  {
    name: "PROXY AF_INET with an unspecified transport: block skipped, no addresses",
    input: v2({ familyTransport: 0x10, addresses: ipv4Block, tlvs: [{ type: 0x04, value: new Uint8Array(0) }] }),
    expect: v2Header(31, { tlvs: [{ type: 0x04, value: new Uint8Array(0) }] })
  },
  {
    name: "TLVs: ALPN, authority, NOOP, SSL, a custom type",
    input: v2({
      familyTransport: 0x11,
      addresses: ipv4Block,
      tlvs: [
        { type: 0x01, value: bytes("h2") },
        { type: 0x02, value: bytes("example.com") },
        { type: 0x04, value: new Uint8Array(3) },
        { type: 0x20, value: sslValue },
        { type: 0xe0, value: Uint8Array.of(0xff) }
      ]
    }),
    expect: v2Header(28 + 5 + 14 + 6 + 18 + 4, {
      ...tcp(ipv4("10.0.0.1", 56324), ipv4("10.0.0.2", 443)),
      tlvs: [
        { type: 0x01, value: bytes("h2") },
        { type: 0x02, value: bytes("example.com") },
        { type: 0x04, value: new Uint8Array(3) },
        { type: 0x20, value: sslValue },
        { type: 0xe0, value: Uint8Array.of(0xff) }
      ]
    })
  },
  // malformed
  {
    name: "signature with a wrong byte",
    input: concat(SIGNATURE.slice(0, 8), bytes("UIX\n")),
    expect: /not a PROXY protocol header \(starts with "\\x0d\\x0a\\x0d\\x0a\\x00\\x0d\\x0aQ…"\)/,
    decidedAt: 11
  },
  {
    name: "wrong CRC32C",
    input: v2({ familyTransport: 0x11, addresses: ipv4Block, crc32c: { after: 0, value: "wrong" } }),
    expect: /CRC32C mismatch/,
    decidedAt: 35
  },
  {
    name: "version 1 in binary",
    input: v2({ versionCommand: 0x11, familyTransport: 0x11 }),
    expect: /unsupported version 1/,
    decidedAt: 13
  },
  { name: "version 3", input: v2({ versionCommand: 0x31, familyTransport: 0x11 }), expect: /unsupported version 3/, decidedAt: 13 },
  { name: "command 2", input: v2({ versionCommand: 0x22, familyTransport: 0x11 }), expect: /unknown command 0x02/, decidedAt: 13 },
  { name: "family 4", input: v2({ familyTransport: 0x41 }), expect: /unknown address family 0x04/, decidedAt: 14 },
  { name: "transport 3", input: v2({ familyTransport: 0x13 }), expect: /unknown transport protocol 0x03/, decidedAt: 14 },
  {
    name: "address block too short for AF_INET",
    input: v2({ familyTransport: 0x11, addresses: ipv4Block.subarray(0, 11) }),
    expect: /11 bytes after the fixed header, but AF_INET addresses take 12/,
    decidedAt: 16
  },
  {
    name: "address block too short for AF_INET6",
    input: v2({ familyTransport: 0x21, addresses: ipv4Block }),
    expect: /AF_INET6 addresses take 36/,
    decidedAt: 16
  },
  {
    name: "address block too short for AF_UNIX, even with LOCAL",
    input: v2({ versionCommand: 0x20, familyTransport: 0x31, addresses: new Uint8Array(36) }),
    expect: /AF_UNIX addresses take 216/,
    decidedAt: 16
  },
  {
    name: "TLV overrunning the length, found from its header",
    input: concat(v2({ familyTransport: 0x11, addresses: ipv4Block, extra: [0x02, 0x00, 0x10, 0x61] }), GET),
    expect: /TLV 0x02 of 16 bytes overruns the header by 15/,
    decidedAt: 31
  },
  {
    name: "TLV overrunning the length by one byte",
    input: concat(v2({ familyTransport: 0x00, extra: [0xe0, 0x00, 0x02, 0x61] }), GET),
    expect: /TLV 0xe0 of 2 bytes overruns the header by 1/,
    decidedAt: 19
  },
  {
    name: "length running past a short TLV area",
    input: v2({ familyTransport: 0x11, addresses: ipv4Block, extra: [0x04, 0x00] }),
    expect: /2 stray bytes after the last TLV/,
    decidedAt: 16
  },
  {
    name: "CRC32C TLV of the wrong size",
    input: v2({ familyTransport: 0x00, tlvs: [{ type: 0x03, value: new Uint8Array(2) }] }),
    expect: /CRC32C TLV of 2 bytes instead of 4/,
    decidedAt: 19
  },
  {
    name: "two CRC32C TLVs",
    input: v2({ familyTransport: 0x00, tlvs: [{ type: 0x03, value: new Uint8Array(4) }], crc32c: { after: 0, value: "correct" } }),
    expect: /more than one CRC32C TLV/
  },
  {
    name: "UNIQUE_ID over 128 bytes",
    input: v2({ familyTransport: 0x00, tlvs: [{ type: 0x05, value: new Uint8Array(129) }] }),
    expect: /UNIQUE_ID TLV of 129 bytes/
  },
  // incomplete
  { name: "length field cut short", input: v2({ familyTransport: 0x11, addresses: ipv4Block }).subarray(0, 15), expect: 16 },
  { name: "waiting for its address block", input: v2({ familyTransport: 0x11, addresses: ipv4Block }).subarray(0, 20), expect: 28 }
]

describe("PROXY protocol v2", () => {
  it.each(table)("$name", ({ accept = "any", decidedAt, expect: expected, input }) => {
    const { decidedAt: at, result } = parsePrefixes(input, accept)
    assertOutcome(result, expected)
    if (decidedAt !== undefined) {
      assert.strictEqual(at, decidedAt, "bytes needed to decide")
    }
  })

  it("verifies a correct CRC32C and returns its TLV", () => {
    const input = v2({ versionCommand: 0x20, familyTransport: 0x00, crc32c: { after: -1, value: "correct" } })
    const { decidedAt, result } = parsePrefixes(input, "any")
    assertComplete(result, v2Header(23, { command: "local", tlvs: [{ type: 0x03, value: input.slice(19, 23) }] }))
    assert.strictEqual(decidedAt, 23)
  })

  it("asks for a whole maximal header at once when its only TLV header is in", () => {
    const header = v2({ familyTransport: 0x00, extra: [0x04, 0xff, 0xfc, ...new Uint8Array(0xfffc)] })
    assert.strictEqual(header.length, V2_MAX_LENGTH)
    const waiting = parse(header.subarray(0, 19), "any")
    assert.strictEqual(waiting._tag === "Incomplete" ? waiting.until : undefined, V2_MAX_LENGTH)
    assert.strictEqual(parse(concat(header, GET), "any")._tag, "Complete")
  })

  it("copies TLV values, so the caller may reuse its buffer (a Node Buffer too)", () => {
    const header = v2({ familyTransport: 0x00, tlvs: [{ type: 0xe0, value: bytes("abc") }] })
    for (const input of [Uint8Array.from(header), Buffer.from(header)]) {
      const result = parse(input, "any")
      input.fill(0)
      assert.deepStrictEqual(result._tag === "Complete" ? result.header.tlvs : undefined, [{ type: 0xe0, value: bytes("abc") }])
    }
  })
})
