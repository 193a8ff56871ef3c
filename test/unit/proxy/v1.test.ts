/**
 * The v1 text header on exact bytes: a table of valid and malformed lines
 * (with how many bytes it takes to decide each), then properties showing
 * that the addresses a line may carry are exactly those Node's own parsers
 * accept, returned in Node's text, and that a line being received waits
 * exactly as long as its address can still become valid.
 */
import { isIPv4, isIPv6 } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import { parse } from "../../../src/internal/proxy/decoder.ts"
import { bytes, concat } from "../../fixtures/proxyHeader.ts"
import { assertOutcome, type Case, ipv4, ipv6, nodeIPv6, parsePrefixes, runs, tcp, v1Header } from "./support.ts"

const FFFF6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
/** The longest IPv6 text `inet_pton` takes: 45 characters. */
const LONG6 = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
const GET = bytes("GET / HTTP/1.1\r\n")

const table: ReadonlyArray<Case> = [
  // valid
  {
    name: "TCP4 (the spec's example), followed by HTTP",
    input: concat(bytes("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"), GET),
    expect: v1Header(47, tcp(ipv4("192.168.0.1", 56324), ipv4("192.168.0.11", 443))),
    decidedAt: 47
  },
  {
    name: "TCP6, addresses returned as Node formats them",
    input: bytes("PROXY TCP6 2001:DB8:0:0::0001 ::FFFF:10.0.0.1 0 65535\r\n"),
    expect: v1Header(55, tcp(ipv6("2001:db8::1", 0), ipv6("::ffff:10.0.0.1", 65535)))
  },
  {
    name: "TCP4, longest (56 bytes)",
    input: bytes("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n"),
    expect: v1Header(56, tcp(ipv4("255.255.255.255", 65535), ipv4("255.255.255.255", 65535)))
  },
  {
    name: "TCP6, longest in hex (104 bytes)",
    input: bytes(`PROXY TCP6 ${FFFF6} ${FFFF6} 65535 65535\r\n`),
    expect: v1Header(104, tcp(ipv6(FFFF6, 65535), ipv6(FFFF6, 65535)))
  },
  { name: "UNKNOWN, short form", input: bytes("PROXY UNKNOWN\r\nx"), expect: v1Header(15) },
  {
    name: "UNKNOWN, worst case of exactly 107 bytes",
    input: bytes(`PROXY UNKNOWN ${FFFF6} ${FFFF6} 65535 65535\r\n`),
    expect: v1Header(107)
  },
  {
    name: "UNKNOWN ignores anything before the CRLF, lone CR and LF included",
    input: bytes("PROXY UNKNOWN \x00\xff\rjunk\n \r\r\nrest"),
    expect: v1Header(26)
  },
  {
    name: "TCP6 with a dotted tail that still fits in 107 bytes",
    input: bytes(`PROXY TCP6 ${LONG6} ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.25 0 0\r\n`),
    expect: v1Header(107, tcp(ipv6(FFFF6, 0), ipv6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff19", 0)))
  },
  // malformed
  { name: "no protocol", input: bytes("PROXY \r\n"), expect: /missing protocol/, decidedAt: 7 },
  { name: "unknown protocol", input: bytes("PROXY TCP5 1.2.3.4"), expect: /unknown protocol "TCP5"/, decidedAt: 10 },
  { name: "UDP is not v1", input: bytes("PROXY UDP4 "), expect: /unknown protocol "U/, decidedAt: 8 },
  { name: "UNKNOWN glued to more", input: bytes("PROXY UNKNOWNx\r\n"), expect: /unknown protocol/, decidedAt: 14 },
  { name: "two spaces after PROXY", input: bytes("PROXY  TCP4"), expect: /more than one space after PROXY/, decidedAt: 7 },
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
  { name: "port with +", input: bytes("PROXY TCP4 1.2.3.4 5.6.7.8 +80 2\r\n"), expect: /bad source port "\+/, decidedAt: 28 },
  { name: "negative port", input: bytes("PROXY TCP4 1.2.3.4 5.6.7.8 1 -2\r\n"), expect: /bad destination port/ },
  { name: "port with a leading zero", input: bytes("PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n"), expect: /bad source port "080"/ },
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
  { name: "IPv6 address in TCP4", input: bytes("PROXY TCP4 ::1 ::1 1 2\r\n"), expect: /bad source address/, decidedAt: 12 },
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
  { name: "IPv6 with two ::", input: bytes("PROXY TCP6 1::2::3 ::1 1 2\r\n"), expect: /bad source address/, decidedAt: 17 },
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
  }
]

describe("PROXY protocol v1", () => {
  it.each(table)("$name", ({ accept = "any", decidedAt, expect: expected, input }) => {
    const { decidedAt: at, result } = parsePrefixes(input, accept)
    assertOutcome(result, expected)
    if (decidedAt !== undefined) {
      assert.strictEqual(at, decidedAt, "bytes needed to decide")
    }
  })

  // Address text, against Node's own parser (`net.isIPv4`, `net.isIPv6`, `SocketAddress`).
  const Tokens = Schema.Array(
    Schema.Literals(["0", "1", "9", "a", "F", "ff", "ffff", "12345", "255", "256", "01", ":", "::", ".", "1.2.3.4"])
  ).check(Schema.isMaxLength(12))
  const candidates = ["", "0", ":", "::", ".0", "0.0", ".0.0", "0.0.0", ".0.0.0", "0.0.0.0"]

  it.prop("addresses are exactly what Node's isIPv4 and isIPv6 accept, in Node's text", [Tokens], ([tokens]) => {
    const text = tokens.join("")
    const six = parse(bytes(`PROXY TCP6 ${text} ::1 1 2\r\n`), "any")
    assert.strictEqual(six._tag === "Complete", isIPv6(text), `TCP6 ${text}`)
    if (six._tag === "Complete") assert.deepStrictEqual(six.header.source, ipv6(nodeIPv6(text), 1))
    const four = parse(bytes(`PROXY TCP4 ${text} 1.1.1.1 1 2\r\n`), "any")
    assert.strictEqual(four._tag === "Complete", isIPv4(text), `TCP4 ${text}`)
    if (four._tag === "Complete") assert.deepStrictEqual(four.header.source, ipv4(text, 1))
  }, runs)

  it.prop("an address being received asks for more exactly when it can still become valid", [Tokens, Tokens], ([head, tail]) => {
    const text = head.join("")
    for (const [family, isValid] of [["TCP4", isIPv4], ["TCP6", isIPv6]] as const) {
      const waiting = parse(bytes(`PROXY ${family} ${text}`), "any")._tag === "Incomplete"
      if (isValid(text + tail.join(""))) assert.isTrue(waiting, `${family} ${text} can become ${text + tail.join("")}`)
      if (waiting) assert.isTrue(candidates.some((c) => isValid(text + c)), `${family} ${text} cannot be completed`)
    }
  }, runs)
})
