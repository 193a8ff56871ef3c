/**
 * The PROXY protocol header parser, on exact bytes: a table of valid and
 * malformed v1 and v2 headers (with how many bytes it takes to decide each),
 * then properties showing that every strict prefix of a valid header asks for
 * more, the full header parses to the same result whatever follows it, and no
 * input (random, or a valid header with one byte changed) throws, asks for
 * more than the maximum header size, answers before the byte count it said to
 * wait for, or changes its answer as bytes are added.
 */
import { Buffer } from "node:buffer"
import { isIPv4, isIPv6, SocketAddress } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Schema from "effect/Schema"
import {
  type Accept,
  type Endpoint,
  MAX_LENGTH,
  parse,
  type ParseResult,
  type ProxyHeader,
  type Tlv,
  V1_MAX_LENGTH,
  V2_MAX_LENGTH
} from "../src/internal/proxyProtocol.ts"
import { bytes, concat, crc32c, inet, inet6, SIGNATURE, tlv, unix, v2, words16 } from "./fixtures/proxyHeader.ts"

/** A log-safe reason: one line of printable ASCII (raw bytes only as `\xNN` escapes), short. */
const LOG_SAFE = /^[\x20-\x7e…]{1,160}$/

/**
 * Parses every prefix of `input` and checks what holds for any input: each
 * result is well-formed; the answer is NeedMore up to some point and then one
 * outcome that more bytes never change; NeedMore never asks beyond the
 * version's maximum size, and its `until` holds (no answer with fewer bytes).
 * Returns the final result and the prefix length that decided it (undefined
 * while still NeedMore).
 */
const parsePrefixes = (input: Uint8Array, accept: Accept) => {
  const limit = input[0] === 0x50 ? V1_MAX_LENGTH : MAX_LENGTH
  let decided: { readonly at: number; readonly result: ParseResult } | undefined
  let promised = 0 // the last NeedMore's `until`: no answer before that many bytes
  let result: ParseResult = parse(input.subarray(0, 0), accept)
  for (let k = 0; k <= input.length; k++) {
    result = parse(input.subarray(0, k), accept)
    if (result._tag !== "NeedMore") assert.isAtLeast(k, promised, `decided at ${k}, before the promised ${promised}`)
    switch (result._tag) {
      case "NeedMore":
        assert.isUndefined(decided, `prefix ${k} asks for more after being decided at ${decided?.at}`)
        assert.isAbove(result.until, k)
        assert.isAtMost(result.until, limit)
        promised = result.until
        break
      case "Parsed": {
        assert.isAtMost(result.header.length, k)
        const tlvBytes = result.header.tlvs.reduce((sum, t) => sum + 3 + t.value.length, 0)
        if (result.header.version === 2) assert.isAtMost(tlvBytes, result.header.length - 16, "TLVs lie inside the header")
        if (decided !== undefined) assert.deepStrictEqual(result, decided.result, `prefix ${k} changed the header`)
        break
      }
      case "Malformed":
        assert.match(result.reason, LOG_SAFE)
        if (decided !== undefined) assert.strictEqual(decided.result._tag, "Malformed", `prefix ${k}`)
        break
    }
    decided ??= result._tag === "NeedMore" ? undefined : { at: k, result }
  }
  return { result, decidedAt: decided?.at }
}

const parsed = (header: ProxyHeader): ParseResult => ({ _tag: "Parsed", header })

const v1Header = (length: number, addresses?: ProxyHeader["addresses"]): ProxyHeader => ({
  version: 1,
  command: "proxy",
  addresses,
  tlvs: [],
  length
})

const ipv4 = (address: string, port: number): Endpoint => ({ family: "IPv4", address, port })
const ipv6 = (address: string, port: number): Endpoint => ({ family: "IPv6", address, port })
const tcp = (source: Endpoint, destination: Endpoint) => ({ transport: "stream" as const, source, destination })

const FFFF6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
/** The longest IPv6 text `inet_pton` takes: 45 characters. */
const LONG6 = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"

interface Case {
  readonly name: string
  readonly input: Uint8Array
  readonly accept?: Accept
  /** The result for the whole input: a header, a reason pattern, or NeedMore with its `until`. */
  readonly expect: ProxyHeader | RegExp | number
  /** Fewest bytes after which the outcome is known. */
  readonly decidedAt?: number
}

const GET = bytes("GET / HTTP/1.1\r\n")
const ipv4Block = inet("10.0.0.1", "10.0.0.2", 56324, 443)

const table: ReadonlyArray<Case> = [
  // v1, valid
  {
    name: "v1 TCP4 (the spec's example), followed by HTTP",
    input: concat(bytes("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"), GET),
    expect: v1Header(47, tcp(ipv4("192.168.0.1", 56324), ipv4("192.168.0.11", 443))),
    decidedAt: 47
  },
  {
    name: "v1 TCP6, addresses returned as Node formats them",
    input: bytes("PROXY TCP6 2001:DB8:0:0::0001 ::FFFF:10.0.0.1 0 65535\r\n"),
    expect: v1Header(55, tcp(ipv6("2001:db8::1", 0), ipv6("::ffff:10.0.0.1", 65535)))
  },
  {
    name: "v1 TCP4, longest (56 bytes)",
    input: bytes("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n"),
    expect: v1Header(56, tcp(ipv4("255.255.255.255", 65535), ipv4("255.255.255.255", 65535)))
  },
  {
    name: "v1 TCP6, longest in hex (104 bytes)",
    input: bytes(`PROXY TCP6 ${FFFF6} ${FFFF6} 65535 65535\r\n`),
    expect: v1Header(104, tcp(ipv6(FFFF6, 65535), ipv6(FFFF6, 65535)))
  },
  { name: "v1 UNKNOWN, short form", input: bytes("PROXY UNKNOWN\r\nx"), expect: v1Header(15) },
  {
    name: "v1 UNKNOWN, worst case of exactly 107 bytes",
    input: bytes(`PROXY UNKNOWN ${FFFF6} ${FFFF6} 65535 65535\r\n`),
    expect: v1Header(107)
  },
  {
    name: "v1 UNKNOWN ignores anything before the CRLF, lone CR and LF included",
    input: bytes("PROXY UNKNOWN \x00\xff\rjunk\n \r\r\nrest"),
    expect: v1Header(26)
  },
  {
    name: "v1 TCP6 with a dotted tail that still fits in 107 bytes",
    input: bytes(`PROXY TCP6 ${LONG6} ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.25 0 0\r\n`),
    expect: v1Header(
      107,
      tcp(ipv6(FFFF6, 0), ipv6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff19", 0))
    )
  },
  // v1, malformed
  { name: "neither signature", input: GET, expect: /^not a PROXY protocol header \(starts with "GET/, decidedAt: 1 },
  { name: "lowercase proxy", input: bytes("proxy TCP4"), expect: /not a PROXY protocol header/, decidedAt: 1 },
  { name: "PROXY without its space", input: bytes("PROXY\r\n"), expect: /not a PROXY protocol header/, decidedAt: 6 },
  { name: "no protocol", input: bytes("PROXY \r\n"), expect: /missing protocol/, decidedAt: 7 },
  { name: "unknown protocol", input: bytes("PROXY TCP5 1.2.3.4"), expect: /unknown protocol "TCP5"/, decidedAt: 10 },
  { name: "UDP is not v1", input: bytes("PROXY UDP4 "), expect: /unknown protocol "U/, decidedAt: 8 },
  { name: "UNKNOWN glued to more", input: bytes("PROXY UNKNOWNx\r\n"), expect: /unknown protocol/, decidedAt: 14 },
  {
    name: "two spaces after PROXY",
    input: bytes("PROXY  TCP4"),
    expect: /more than one space after PROXY/,
    decidedAt: 7
  },
  {
    name: "two spaces between fields",
    input: bytes("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n"),
    expect: /more than one space before the destination address/,
    decidedAt: 20
  },
  {
    name: "line ends with LF only",
    input: bytes("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\nGET"),
    expect: /lone CR or LF in the destination port/,
    decidedAt: 31
  },
  {
    name: "CR not followed by LF",
    input: bytes("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rGET"),
    expect: /lone CR or LF in the destination port/,
    decidedAt: 32
  },
  {
    name: "port 65536",
    input: bytes("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"),
    expect: /bad source port "65536"/,
    decidedAt: 32
  },
  {
    name: "port with +",
    input: bytes("PROXY TCP4 1.2.3.4 5.6.7.8 +80 2\r\n"),
    expect: /bad source port "\+/,
    decidedAt: 28
  },
  { name: "negative port", input: bytes("PROXY TCP4 1.2.3.4 5.6.7.8 1 -2\r\n"), expect: /bad destination port/ },
  {
    name: "port with a leading zero",
    input: bytes("PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n"),
    expect: /bad source port "080"/
  },
  {
    name: "IPv4 with a leading zero",
    input: bytes("PROXY TCP4 192.168.000.1 1.1.1.1 1 2\r\n"),
    expect: /bad source address "192.168.000.1"/
  },
  { name: "IPv4 octet 256", input: bytes("PROXY TCP4 1.2.3.4 1.1.1.256 1 2\r\n"), expect: /bad destination address/ },
  {
    name: "IPv4 with three octets",
    input: bytes("PROXY TCP4 1.2.3 1.1.1.1 1 2\r\n"),
    expect: /bad source address "1.2.3"/,
    decidedAt: 17
  },
  {
    name: "IPv6 address in TCP4",
    input: bytes("PROXY TCP4 ::1 ::1 1 2\r\n"),
    expect: /bad source address/,
    decidedAt: 12
  },
  {
    name: "IPv4 address in TCP6",
    input: bytes("PROXY TCP6 1.2.3.4 ::1 1 2\r\n"),
    expect: /bad source address "1.2.3.4"/,
    decidedAt: 13
  },
  {
    name: "IPv6 with a zone",
    input: bytes("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"),
    expect: /bad source address/,
    decidedAt: 19
  },
  {
    name: "IPv6 with two ::",
    input: bytes("PROXY TCP6 1::2::3 ::1 1 2\r\n"),
    expect: /bad source address/,
    decidedAt: 17
  },
  {
    name: "missing port",
    input: bytes("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"),
    expect: /missing destination port/,
    decidedAt: 29
  },
  {
    name: "extra field",
    input: bytes("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"),
    expect: /unexpected data after the destination port/,
    decidedAt: 31
  },
  {
    name: "108-byte UNKNOWN line, rejected once the CRLF cannot fit",
    input: bytes(`PROXY UNKNOWN ${"x".repeat(92)}\r\n`),
    expect: /no CRLF within the first 107 bytes/,
    decidedAt: 106
  },
  {
    name: "108-byte TCP6 line of two 45-character addresses, rejected before its ports",
    input: bytes(`PROXY TCP6 ${LONG6} ${LONG6} 0 0\r\n`),
    expect: /no CRLF within the first 107 bytes/,
    decidedAt: 102
  },
  // v2, valid
  {
    name: "v2 PROXY TCP over IPv4, followed by HTTP",
    input: concat(v2({ familyTransport: 0x11, addresses: ipv4Block }), GET),
    expect: {
      version: 2,
      command: "proxy",
      addresses: tcp(ipv4("10.0.0.1", 56324), ipv4("10.0.0.2", 443)),
      tlvs: [],
      length: 28
    },
    decidedAt: 28
  },
  {
    name: "v2 PROXY UDP over IPv6",
    input: v2({ familyTransport: 0x22, addresses: inet6("2001:db8::1", "::ffff:a00:1", 53, 5353) }),
    expect: {
      version: 2,
      command: "proxy",
      addresses: {
        transport: "dgram",
        source: ipv6("2001:db8::1", 53),
        destination: ipv6("::ffff:10.0.0.1", 5353)
      },
      tlvs: [],
      length: 52
    }
  },
  {
    name: "v2 PROXY Unix stream: a path and an abstract name",
    input: v2({ familyTransport: 0x31, addresses: unix("/run/app.sock", "\0hidden") }),
    expect: {
      version: 2,
      command: "proxy",
      addresses: {
        transport: "stream",
        source: { family: "unix", address: "/run/app.sock" },
        destination: { family: "unix", address: "\0hidden" }
      },
      tlvs: [],
      length: 232
    }
  },
  {
    name: "v2 PROXY Unix datagram: unnamed sockets",
    input: v2({ familyTransport: 0x32, addresses: unix("", "\0") }),
    expect: {
      version: 2,
      command: "proxy",
      addresses: {
        transport: "dgram",
        source: { family: "unix", address: "" },
        destination: { family: "unix", address: "" }
      },
      tlvs: [],
      length: 232
    }
  },
  {
    name: "v2 LOCAL (a health check): the socket's own addresses apply",
    input: concat(v2({ versionCommand: 0x20, familyTransport: 0x00 }), GET),
    expect: { version: 2, command: "local", addresses: undefined, tlvs: [], length: 16 },
    decidedAt: 16
  },
  {
    name: "v2 PROXY with AF_UNSPEC: no addresses",
    input: v2({ familyTransport: 0x00 }),
    expect: { version: 2, command: "proxy", addresses: undefined, tlvs: [], length: 16 }
  },
  {
    name: "v2 PROXY AF_INET with an unspecified transport: block skipped, no addresses",
    input: v2({ familyTransport: 0x10, addresses: ipv4Block, tlvs: [{ type: 0x04, value: new Uint8Array(0) }] }),
    expect: {
      version: 2,
      command: "proxy",
      addresses: undefined,
      tlvs: [{ type: 0x04, value: new Uint8Array(0) }],
      length: 31
    }
  },
  {
    name: "v2 with TLVs: ALPN, authority, NOOP, SSL, a custom type",
    input: v2({
      familyTransport: 0x11,
      addresses: ipv4Block,
      tlvs: [
        { type: 0x01, value: bytes("h2") },
        { type: 0x02, value: bytes("example.com") },
        { type: 0x04, value: new Uint8Array(3) },
        { type: 0x20, value: concat([0x01, 0, 0, 0, 0], tlv(0x21, bytes("TLSv1.3"))) },
        { type: 0xe0, value: Uint8Array.of(0xff) }
      ]
    }),
    expect: {
      version: 2,
      command: "proxy",
      addresses: tcp(ipv4("10.0.0.1", 56324), ipv4("10.0.0.2", 443)),
      tlvs: [
        { type: 0x01, value: bytes("h2") },
        { type: 0x02, value: bytes("example.com") },
        { type: 0x04, value: new Uint8Array(3) },
        { type: 0x20, value: concat([0x01, 0, 0, 0, 0], tlv(0x21, bytes("TLSv1.3"))) },
        { type: 0xe0, value: Uint8Array.of(0xff) }
      ],
      length: 28 + 5 + 14 + 6 + 18 + 4
    }
  },
  // v2, malformed
  {
    name: "v2 signature with a wrong byte",
    input: concat(SIGNATURE.slice(0, 8), bytes("UIX\n")),
    expect: /not a PROXY protocol header \(starts with "\\x0d\\x0a\\x0d\\x0a\\x00\\x0d\\x0aQ…"\)/,
    decidedAt: 11
  },
  {
    name: "v2 wrong CRC32C",
    input: v2({ familyTransport: 0x11, addresses: ipv4Block, crc32c: { after: 0, value: "wrong" } }),
    expect: /CRC32C mismatch/,
    decidedAt: 35
  },
  {
    name: "v2 version 1 in binary",
    input: v2({ versionCommand: 0x11, familyTransport: 0x11 }),
    expect: /unsupported version 1/,
    decidedAt: 13
  },
  {
    name: "v2 version 3",
    input: v2({ versionCommand: 0x31, familyTransport: 0x11 }),
    expect: /unsupported version 3/,
    decidedAt: 13
  },
  {
    name: "v2 command 2",
    input: v2({ versionCommand: 0x22, familyTransport: 0x11 }),
    expect: /unknown command 0x02/,
    decidedAt: 13
  },
  { name: "v2 family 4", input: v2({ familyTransport: 0x41 }), expect: /unknown address family 0x04/, decidedAt: 14 },
  {
    name: "v2 transport 3",
    input: v2({ familyTransport: 0x13 }),
    expect: /unknown transport protocol 0x03/,
    decidedAt: 14
  },
  {
    name: "v2 address block too short for AF_INET",
    input: v2({ familyTransport: 0x11, addresses: ipv4Block.subarray(0, 11) }),
    expect: /11 bytes after the fixed header, but AF_INET addresses take 12/,
    decidedAt: 16
  },
  {
    name: "v2 address block too short for AF_INET6",
    input: v2({ familyTransport: 0x21, addresses: ipv4Block }),
    expect: /AF_INET6 addresses take 36/,
    decidedAt: 16
  },
  {
    name: "v2 address block too short for AF_UNIX, even with LOCAL",
    input: v2({ versionCommand: 0x20, familyTransport: 0x31, addresses: new Uint8Array(36) }),
    expect: /AF_UNIX addresses take 216/,
    decidedAt: 16
  },
  {
    name: "v2 TLV overrunning the length, found from its header",
    input: concat(v2({ familyTransport: 0x11, addresses: ipv4Block, extra: [0x02, 0x00, 0x10, 0x61] }), GET),
    expect: /TLV 0x02 of 16 bytes overruns the header by 15/,
    decidedAt: 31
  },
  {
    name: "v2 TLV overrunning the length by one byte",
    input: concat(v2({ familyTransport: 0x00, extra: [0xe0, 0x00, 0x02, 0x61] }), GET),
    expect: /TLV 0xe0 of 2 bytes overruns the header by 1/,
    decidedAt: 19
  },
  {
    name: "v2 length running past a short TLV area",
    input: v2({ familyTransport: 0x11, addresses: ipv4Block, extra: [0x04, 0x00] }),
    expect: /2 stray bytes after the last TLV/,
    decidedAt: 16
  },
  {
    name: "v2 CRC32C TLV of the wrong size",
    input: v2({ familyTransport: 0x00, tlvs: [{ type: 0x03, value: new Uint8Array(2) }] }),
    expect: /CRC32C TLV of 2 bytes instead of 4/,
    decidedAt: 19
  },
  {
    name: "v2 two CRC32C TLVs",
    input: v2({
      familyTransport: 0x00,
      tlvs: [{ type: 0x03, value: new Uint8Array(4) }],
      crc32c: { after: 0, value: "correct" }
    }),
    expect: /more than one CRC32C TLV/
  },
  {
    name: "v2 UNIQUE_ID over 128 bytes",
    input: v2({ familyTransport: 0x00, tlvs: [{ type: 0x05, value: new Uint8Array(129) }] }),
    expect: /UNIQUE_ID TLV of 129 bytes/
  },
  {
    name: "v2 length field cut short",
    input: v2({ familyTransport: 0x11, addresses: ipv4Block }).subarray(0, 15),
    expect: 16
  },
  {
    name: "v2 waiting for its address block",
    input: v2({ familyTransport: 0x11, addresses: ipv4Block }).subarray(0, 20),
    expect: 28
  },
  { name: "nothing received yet", input: new Uint8Array(0), expect: 1 },
  // accept modes
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
  {
    name: "v2 accepted alone",
    input: v2({ familyTransport: 0x00 }),
    accept: "v2",
    expect: { version: 2, command: "proxy", addresses: undefined, tlvs: [], length: 16 }
  },
  {
    name: "garbage when only v1 is accepted",
    input: bytes("\x16\x03\x01"),
    accept: "v1",
    expect: /not a PROXY protocol v1 header/,
    decidedAt: 1
  }
]

// ---------------------------------------------------------------------------
// Generators for the properties

const int = (minimum: number, maximum: number) =>
  Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum, maximum })))
const oneOf = <A>(...choices: ReadonlyArray<Arbitrary.Arbitrary<A>>): Arbitrary.Arbitrary<A> =>
  Arbitrary.flatMap(int(0, choices.length - 1), (i) => choices[i]!)
const byteArray = (maxLength: number) => Arbitrary.schema(Schema.Uint8Array.check(Schema.isMaxLength(maxLength)))

const octet = int(0, 255)
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
const nodeIPv6 = (address: string) => new SocketAddress({ address, family: "ipv6" }).address

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

interface Sample {
  readonly header: Uint8Array
  readonly expected: ProxyHeader
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
  readonly source?: Endpoint
  readonly destination?: Endpoint
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
    source: { family: "unix" as const, address: src === "\0" ? "" : src },
    destination: { family: "unix" as const, address: dst === "\0" ? "" : dst }
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
        ? {
          transport: transport === 1 ? "stream" as const : "dgram" as const,
          source: block.source,
          destination: block.destination
        }
        : undefined
      return {
        header,
        expected: {
          version: 2,
          command: command === 1 ? "proxy" : "local",
          addresses,
          tlvs: expectedTlvs,
          length: header.length
        }
      }
    })
)

const anySample = oneOf(v1Tcp4, v1Tcp6, v1Unknown, v2Sample, v2Sample, v2Sample)
const payload = byteArray(64)
const runs = { arbitrary: { runs: 300, size: 100 } }

describe("PROXY protocol header", () => {
  it.each(table)("$name", ({ input, accept = "any", expect, decidedAt }) => {
    const { result, decidedAt: at } = parsePrefixes(input, accept)
    if (typeof expect === "number") {
      assert.deepStrictEqual(result, { _tag: "NeedMore", until: expect })
    } else if (expect instanceof RegExp) {
      assert.strictEqual(result._tag, "Malformed")
      if (result._tag === "Malformed") assert.match(result.reason, expect)
    } else {
      assert.deepStrictEqual(result, parsed(expect))
    }
    if (decidedAt !== undefined) assert.strictEqual(at, decidedAt, "bytes needed to decide")
  })

  it("verifies a correct CRC32C and returns its TLV", () => {
    const input = v2({ versionCommand: 0x20, familyTransport: 0x00, crc32c: { after: -1, value: "correct" } })
    const { result, decidedAt } = parsePrefixes(input, "any")
    assert.deepStrictEqual(result, parsed({
      version: 2,
      command: "local",
      addresses: undefined,
      tlvs: [{ type: 0x03, value: input.slice(19, 23) }],
      length: 23
    }))
    assert.strictEqual(decidedAt, 23)
  })

  it("the test encoder's CRC32C is the standard one", () => {
    assert.strictEqual(crc32c(bytes("123456789")), 0xe3069283)
  })

  it("asks for a whole maximal v2 header at once when its only TLV header is in", () => {
    const header = v2({ familyTransport: 0x00, extra: [0x04, 0xff, 0xfc, ...new Uint8Array(0xfffc)] })
    assert.strictEqual(header.length, V2_MAX_LENGTH)
    assert.deepStrictEqual(parse(header.subarray(0, 19), "any"), { _tag: "NeedMore", until: V2_MAX_LENGTH })
    assert.strictEqual(parse(concat(header, GET), "any")._tag, "Parsed")
  })

  it("copies TLV values, so the caller may reuse its buffer (a Node Buffer too)", () => {
    const header = v2({ familyTransport: 0x00, tlvs: [{ type: 0xe0, value: bytes("abc") }] })
    for (const input of [Uint8Array.from(header), Buffer.from(header)]) {
      const result = parse(input, "any")
      input.fill(0)
      assert.deepStrictEqual(result._tag === "Parsed" ? result.header.tlvs : undefined, [{ type: 0xe0, value: bytes("abc") }])
    }
  })

  // Properties, over the generators above.

  it.prop(
    "a valid header: every strict prefix asks for more, then it parses the same whatever follows",
    [anySample, payload],
    ([{ header, expected }, data]) => {
      const own: Accept = expected.version === 1 ? "v1" : "v2"
      for (const accept of [own, "any"] as const) {
        for (let k = 0; k < header.length; k++) {
          const result = parse(header.subarray(0, k), accept)
          assert.strictEqual(result._tag, "NeedMore", `prefix ${k} of ${header.length}`)
          if (result._tag === "NeedMore") {
            assert.isTrue(result.until > k && result.until <= header.length, `until ${result.until} at ${k}`)
          }
        }
        assert.deepStrictEqual(parse(header, accept), parsed(expected))
        const input = concat(header, data)
        assert.deepStrictEqual(parse(input, accept), parsed(expected))
        assert.deepStrictEqual(input.subarray(expected.length), data, "the application's bytes are left as they were")
      }
      const other = parse(header.subarray(0, 1), expected.version === 1 ? "v2" : "v1")
      assert.strictEqual(other._tag, "Malformed", "the other version is refused at the first byte")
    },
    runs
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

  it.prop(
    "random bytes never throw, never ask past the maximum size, and never change a decided answer",
    [oneOf(...starts), byteArray(120), oneOf<Accept>(...(["v1", "v2", "any"] as const).map(Arbitrary.Constant))],
    ([start, rest, accept]) => {
      const input = concat(start, rest)
      parsePrefixes(input, accept)
      // Followed by as many bytes as the largest header, every input is decided.
      assert.notStrictEqual(parse(concat(input, new Uint8Array(MAX_LENGTH)), accept)._tag, "NeedMore")
    },
    runs
  )

  it.prop(
    "a valid header with one byte changed is still valid or malformed, never a crash",
    [anySample, int(0, 1_000_000), octet, payload],
    ([{ header, expected }, position, value, data]) => {
      const corrupted = Uint8Array.from(header)
      corrupted[position % header.length] = value
      const { result } = parsePrefixes(concat(corrupted, data), "any")
      if (corrupted[position % header.length] === header[position % header.length]) {
        assert.deepStrictEqual(result, parsed(expected))
      }
      const settled = parse(concat(corrupted, new Uint8Array(MAX_LENGTH)), "any")
      assert.include(["Parsed", "Malformed"], settled._tag)
    },
    runs
  )

  // Address text, against Node's own parser (`net.isIPv4`, `net.isIPv6`, `SocketAddress`).
  const Tokens = Schema.Array(
    Schema.Literals(["0", "1", "9", "a", "F", "ff", "ffff", "12345", "255", "256", "01", ":", "::", ".", "1.2.3.4"])
  ).check(Schema.isMaxLength(12))
  const candidates = ["", "0", ":", "::", ".0", "0.0", ".0.0", "0.0.0", ".0.0.0", "0.0.0.0"]

  it.prop("v1 addresses are exactly what Node's isIPv4 and isIPv6 accept, in Node's text", [Tokens], ([tokens]) => {
    const text = tokens.join("")
    const six = parse(bytes(`PROXY TCP6 ${text} ::1 1 2\r\n`), "any")
    assert.strictEqual(six._tag === "Parsed", isIPv6(text), `TCP6 ${text}`)
    if (six._tag === "Parsed") assert.strictEqual(six.header.addresses?.source.address, nodeIPv6(text))
    const four = parse(bytes(`PROXY TCP4 ${text} 1.1.1.1 1 2\r\n`), "any")
    assert.strictEqual(four._tag === "Parsed", isIPv4(text), `TCP4 ${text}`)
  }, runs)

  it.prop("an address being received asks for more exactly when it can still become valid", [Tokens, Tokens], ([head, tail]) => {
    const text = head.join("")
    for (const [family, isValid] of [["TCP4", isIPv4], ["TCP6", isIPv6]] as const) {
      const waiting = parse(bytes(`PROXY ${family} ${text}`), "any")._tag === "NeedMore"
      if (isValid(text + tail.join(""))) assert.isTrue(waiting, `${family} ${text} can become ${text + tail.join("")}`)
      if (waiting) assert.isTrue(candidates.some((c) => isValid(text + c)), `${family} ${text} cannot be completed`)
    }
  }, runs)
})

