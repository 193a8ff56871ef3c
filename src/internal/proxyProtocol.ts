/**
 * The PROXY protocol header, parsed from the first bytes of a connection.
 *
 * A load balancer or TLS terminator that relays a client's TCP connection can
 * prepend one header saying who the client was (HAProxy's "The PROXY
 * protocol, Versions 1 & 2", `doc/proxy-protocol.txt`). A server behind such a
 * proxy reads that header before anything else, then hands the connection to
 * its handler with the original addresses; everything after the header is the
 * client's own data. This module is the reading part: {@link parse} looks at
 * the bytes received so far and says whether a header is complete, still
 * arriving, or wrong. No I/O and no Effect, so every rule is testable with
 * plain values.
 *
 * Spec sections implemented:
 * - "2.1. Human-readable header format (Version 1)": one US-ASCII line,
 *   `PROXY TCP4|TCP6 src dst srcport dstport\r\n` or `PROXY UNKNOWN …\r\n`, at
 *   most {@link V1_MAX_LENGTH} bytes with the CRLF.
 * - "2.2. Binary header format (version 2)": the 12-byte signature, version
 *   and command, family and transport, a 16-bit length, the address block,
 *   then TLVs; at most {@link V2_MAX_LENGTH} bytes.
 * - "2.2.3. PP2_TYPE_CRC32C": verified when present. "2.2.5.
 *   PP2_TYPE_UNIQUE_ID": at most 128 bytes. Other TLVs are returned raw.
 * - "5. Security considerations": the receiver must be configured to expect
 *   the header and never guess whether it is there; `accept` selects the
 *   versions, and there is deliberately no "maybe absent" mode.
 *
 * Decisions where the spec leaves room (each is strict, so a header is either
 * exactly right or rejected):
 * - Any prefix that can no longer become a valid header is {@link Malformed}
 *   at once (a first byte that is neither `P` nor `\r`, a bad digit in an
 *   address, a TLV that overruns the header…); {@link NeedMore} means the bytes
 *   so far can still be completed into a valid header within the size limits.
 * - v1: exactly one space between fields; IPv4 as four decimal numbers without
 *   leading zeros; IPv6 in any `inet_pton` text form (groups of 1 to 4 hex
 *   digits, one `::`, an optional dotted IPv4 tail), without zone suffix; ports
 *   0..65535 in decimal, no sign, no leading zeros. The line ends at the first
 *   CRLF; a lone CR or LF is an ordinary byte, which is invalid inside TCP4 and
 *   TCP6 fields and ignored after `UNKNOWN ` (the spec says to ignore anything
 *   before the CRLF there).
 * - v2: the version nibble must be 2, the command LOCAL or PROXY, the family
 *   AF_UNSPEC, AF_INET, AF_INET6 or AF_UNIX and the transport UNSPEC, STREAM or
 *   DGRAM, for both commands. The address block size follows from the family
 *   alone (0, 12, 36 or 216 bytes), also for LOCAL, and the TLVs follow it. The
 *   addresses are reported only for PROXY with neither family nor transport
 *   unspecified; otherwise the socket's own addresses apply.
 *
 * Addresses are returned in the text form Node itself gives a socket's
 * addresses (`remoteAddress`: lowercase, longest zero run as `::`, IPv4-mapped
 * as `::ffff:a.b.c.d`), whichever form the v1 line used, so a handler can
 * compare them with what it would have seen without a proxy.
 *
 * @internal
 */

/** Longest v1 header, CRLF included: `PROXY UNKNOWN` with two full IPv6 addresses and ports (spec section 2.1). */
export const V1_MAX_LENGTH = 107

/** Fixed part of a v2 header: signature, version and command, family and transport, length (section 2.2). */
export const V2_FIXED_LENGTH = 16

/** Longest v2 header: the fixed part plus the largest value of its 16-bit length field. */
export const V2_MAX_LENGTH = V2_FIXED_LENGTH + 0xffff

/** Longest header of either version: {@link parse} never asks for more bytes than this. */
export const MAX_LENGTH = V2_MAX_LENGTH

/**
 * Type codes of the v2 TLVs the spec registers (section 2.2). TLVs of every
 * type, registered or not, are returned with their raw value.
 */
export const TlvType = {
  /** Application-Layer Protocol Negotiation, the TLS ALPN extension's bytes. */
  ALPN: 0x01,
  /** Host name passed by the client (TLS SNI), UTF-8. */
  Authority: 0x02,
  /** CRC32C of the whole header; verified by {@link parse}. */
  CRC32C: 0x03,
  /** Padding, to be ignored. */
  Noop: 0x04,
  /** Opaque connection id of at most 128 bytes. */
  UniqueId: 0x05,
  /** TLS details: client flags, verify result, then sub-TLVs (not decoded here). */
  SSL: 0x20,
  /** Network namespace name, US-ASCII. */
  NetNS: 0x30
} as const

/** Which header versions a listener accepts. */
export type Accept = "v1" | "v2" | "any"

/** An IP endpoint: the address as Node formats it, and the port. */
export interface InetEndpoint {
  readonly family: "IPv4" | "IPv6"
  readonly address: string
  readonly port: number
}

/**
 * A Unix socket endpoint (v2 only). `address` is the path up to its first NUL
 * byte, decoded as UTF-8; an abstract-namespace name is prefixed with `"\0"`
 * (as Node spells it) and also ends at its first NUL; an unnamed socket is `""`.
 */
export interface UnixEndpoint {
  readonly family: "unix"
  readonly address: string
}

/** One end of the proxied connection. */
export type Endpoint = InetEndpoint | UnixEndpoint

/** The original connection's endpoints, as the proxy saw them. */
export interface Addresses {
  /** `stream` for TCP (and v1 always), `dgram` for UDP or Unix datagrams. */
  readonly transport: "stream" | "dgram"
  /** The client. */
  readonly source: Endpoint
  /** The address the client connected to. */
  readonly destination: Endpoint
}

/** A v2 type-length-value extension; `value` is a copy, owned by the caller. */
export interface Tlv {
  readonly type: number
  readonly value: Uint8Array
}

/** A complete, valid header. */
export interface ProxyHeader {
  readonly version: 1 | 2
  /**
   * `local` for a v2 LOCAL header: the proxy opened the connection itself
   * (a health check). Every v1 header is `proxy`.
   */
  readonly command: "proxy" | "local"
  /**
   * The original endpoints, or `undefined` when the connection's own socket
   * addresses apply: v1 `UNKNOWN`, v2 LOCAL, v2 with an unspecified family or
   * transport.
   */
  readonly addresses: Addresses | undefined
  /** The v2 TLVs in order of appearance; empty for v1. */
  readonly tlvs: ReadonlyArray<Tlv>
  /** Bytes the header took from the start of the input; the bytes after it are the application's. */
  readonly length: number
}

/**
 * The bytes so far are a valid beginning of a header: read more.
 *
 * `until` is the input length at which the answer can next change: with fewer
 * bytes `parse` would say `NeedMore` again, so a caller can wait until it has
 * received that many. It is always more than the bytes given and at most the
 * maximum header size of the version being read.
 */
export interface NeedMore {
  readonly _tag: "NeedMore"
  readonly until: number
}

/** A header was read; the input from `header.length` on is the application's data. */
export interface Parsed {
  readonly _tag: "Parsed"
  readonly header: ProxyHeader
}

/**
 * The input is not a valid header and cannot become one: drop the connection.
 * `reason` is one line for a log, quoting at most a short escaped excerpt of
 * the input.
 */
export interface Malformed {
  readonly _tag: "Malformed"
  readonly reason: string
}

/** What {@link parse} found. */
export type ParseResult = NeedMore | Parsed | Malformed

/**
 * Reads a PROXY protocol header from `bytes`, the bytes received so far from
 * the start of a connection.
 *
 * **Details**
 *
 * The version is decided by the first byte: `P` for the v1 text line, `\r`
 * for the v2 binary signature; with `accept` set to one version the other is
 * {@link Malformed} as soon as it is recognizable. `bytes` is only read, and
 * the result never refers to it (TLV values are copies).
 *
 * **Gotchas**
 *
 * Only use this on listeners that are configured to sit behind a proxy: a
 * client that can reach the server directly can send any header it likes.
 */
export const parse = (bytes: Uint8Array, accept: Accept): ParseResult => {
  const n = bytes.length
  if (n === 0) return needMore(1)
  if (bytes[0] === V2_SIGNATURE[0]) {
    if (!startsWith(bytes, V2_SIGNATURE)) return notAHeader(bytes, accept)
    if (accept === "v1") return malformed("v2 signature, but only v1 headers are accepted")
    return parseV2(bytes)
  }
  if (bytes[0] === V1_PREFIX[0]) {
    if (!startsWith(bytes, V1_PREFIX)) return notAHeader(bytes, accept)
    if (accept === "v2") return malformed("v1 header, but only v2 headers are accepted")
    return n < V1_PREFIX.length ? needMore(n + 1) : parseV1(bytes)
  }
  return notAHeader(bytes, accept)
}

// ---------------------------------------------------------------------------
// Shared helpers

const CR = 0x0d
const LF = 0x0a

/** `PROXY ` (section 2.1). */
const V1_PREFIX = Uint8Array.of(0x50, 0x52, 0x4f, 0x58, 0x59, 0x20)
/** The v2 signature (section 2.2); the NUL in it makes it unusable as a C string. */
const V2_SIGNATURE = Uint8Array.of(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a)

const needMore = (until: number): NeedMore => ({ _tag: "NeedMore", until })
const malformed = (reason: string): Malformed => ({ _tag: "Malformed", reason })

/** Whether the first bytes of `bytes` (as many as both have) equal `prefix`'s. */
const startsWith = (bytes: Uint8Array, prefix: Uint8Array): boolean => {
  const end = Math.min(bytes.length, prefix.length)
  for (let i = 0; i < end; i++) if (bytes[i] !== prefix[i]) return false
  return true
}

const notAHeader = (bytes: Uint8Array, accept: Accept): Malformed =>
  malformed(`not a PROXY protocol ${accept === "any" ? "" : `${accept} `}header (starts with ${excerpt(bytes, 8)})`)

/**
 * A quoted excerpt of at most `max` bytes for a log line: printable ASCII as
 * is, anything else (and `"`, `\`) as `\xNN`, `…` when cut.
 */
const excerpt = (bytes: ArrayLike<number>, max: number): string => {
  let out = "\""
  for (let i = 0; i < Math.min(bytes.length, max); i++) {
    const b = bytes[i]!
    out += b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c
      ? String.fromCharCode(b)
      : `\\x${b.toString(16).padStart(2, "0")}`
  }
  return out + (bytes.length > max ? "…\"" : "\"")
}

const latin1 = (bytes: Uint8Array, start: number, end: number): string =>
  String.fromCharCode(...bytes.subarray(start, end))

const charCodes = (text: string): Array<number> => Array.from(text, (c) => c.charCodeAt(0))

const hex = (n: number): string => `0x${n.toString(16).padStart(2, "0")}`

// ---------------------------------------------------------------------------
// Version 1 (section 2.1)

/**
 * What a scanner makes of a field's text: `undefined` when no completion can
 * be valid; otherwise the fewest characters that must still be appended to
 * make it valid (`more`), and the decoded value once it is valid as it is.
 */
type Scan<A> = { readonly more: number; readonly value: A | undefined } | undefined

const isDigit = (c: number) => c >= 0x30 && c <= 0x39
const isHexDigit = (c: number) => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)

/** A decimal number in 0..max, no sign, no leading zero, at most `digits` digits; or a prefix of one. */
const scanDecimal = (text: string, max: number, digits: number): Scan<number> => {
  if (text.length === 0) return { more: 1, value: undefined }
  if (text.length > digits || (text.length > 1 && text.charCodeAt(0) === 0x30)) return undefined
  for (let i = 0; i < text.length; i++) if (!isDigit(text.charCodeAt(i))) return undefined
  const value = Number(text)
  return value <= max ? { more: 0, value } : undefined
}

const scanPort = (text: string): Scan<number> => scanDecimal(text, 0xffff, 5)

/** Dotted-quad IPv4, four numbers 0..255 without leading zeros; or a prefix of one. */
const scanIPv4 = (text: string): Scan<Uint8Array> => {
  const parts = text.split(".")
  if (parts.length > 4) return undefined
  const octets = new Uint8Array(4)
  for (let i = 0; i < parts.length; i++) {
    const octet = scanDecimal(parts[i]!, 255, 3)
    if (octet === undefined || (i < parts.length - 1 && octet.value === undefined)) return undefined
    octets[i] = octet.value ?? 0
  }
  const last = parts[parts.length - 1]!
  // Each missing octet costs ".0"; an empty last one costs a digit.
  const more = (last === "" ? 1 : 0) + 2 * (4 - parts.length)
  return { more, value: more === 0 ? octets : undefined }
}

/**
 * IPv6 text as `inet_pton` takes it (RFC 4291 section 2.2): up to eight groups
 * of 1 to 4 hex digits, at most one `::` standing for one or more zero groups,
 * optionally ending in a dotted IPv4 address for the last two groups; or a
 * prefix of that.
 */
const scanIPv6 = (text: string): Scan<Uint8Array> => {
  const groups: Array<number> = []
  let gap = -1 // index in `groups` where "::" stands
  let start = 0 // start of the current group or octet
  let dotted: Array<number> | undefined // complete octets of an IPv4 tail
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (dotted !== undefined) {
      if (c === 0x2e) {
        if (i === start || dotted.length === 3) return undefined
        dotted.push(Number(text.slice(start, i)))
        start = i + 1
      } else if (!isDigit(c) || scanDecimal(text.slice(start, i + 1), 255, 3) === undefined) {
        return undefined
      }
    } else if (isHexDigit(c)) {
      if (i - start === 4) return undefined
      // Room for one more group: eight in all, seven when "::" stands for at least one.
      if (i === start && groups.length + 1 > (gap >= 0 ? 7 : 8)) return undefined
    } else if (c === 0x3a) {
      if (i > start) {
        groups.push(Number.parseInt(text.slice(start, i), 16))
        // Another group or "::" must follow.
        if (groups.length + 1 > (gap >= 0 ? 7 : 8)) return undefined
      } else if (i === 0) {
        // A leading colon is the first half of "::".
        if (text.length > 1 && text.charCodeAt(1) !== 0x3a) return undefined
      } else {
        if (gap >= 0) return undefined
        gap = groups.length
      }
      start = i + 1
    } else if (c === 0x2e) {
      // The group just read was the first octet of an IPv4 tail: the last two groups.
      const octet = scanDecimal(text.slice(start, i), 255, 3)
      if (i === start || octet?.value === undefined) return undefined
      if (gap >= 0 ? groups.length + 2 > 7 : groups.length + 2 !== 8) return undefined
      dotted = [octet.value]
      start = i + 1
    } else {
      return undefined
    }
  }
  const current = text.length - start
  let more: number
  if (dotted !== undefined) {
    more = (current === 0 ? 1 : 0) + 2 * (3 - dotted.length)
    if (more === 0) {
      const last = Number(text.slice(start))
      groups.push(dotted[0]! << 8 | dotted[1]!, dotted[2]! << 8 | last)
    }
  } else if (text.length === 0) {
    more = 2 // "::"
  } else if (text.length === 1 && start === 1) {
    more = 1 // ":" needs its second colon
  } else if (current > 0) {
    groups.push(Number.parseInt(text.slice(start), 16))
    more = gap >= 0 || groups.length === 8 ? 0 : 2 // else "::"
  } else {
    more = gap === groups.length ? 0 : 1 // ends in "::", or in one colon that needs ":" or "0"
  }
  if (more > 0) return { more, value: undefined }
  const words = gap >= 0
    ? [...groups.slice(0, gap), ...Array.from({ length: 8 - groups.length }, () => 0), ...groups.slice(gap)]
    : groups
  const value = new Uint8Array(16)
  words.forEach((word, i) => {
    value[2 * i] = word >> 8
    value[2 * i + 1] = word & 0xff
  })
  return { more, value }
}

const V1_FIELDS = ["source address", "destination address", "source port", "destination port"] as const

/** Fewest characters of each field after the protocol, with its leading space: `0.0.0.0`/`::`, `0`. */
const V1_MIN_FIELDS = { TCP4: [8, 8, 2, 2], TCP6: [3, 3, 2, 2] } as const

/** The v1 protocols, with the fewest characters a line needs after the protocol word (CRLF excluded). */
const V1_PROTOCOLS = [["TCP4", 20], ["TCP6", 10], ["UNKNOWN", 0]] as const

type V1Line = { readonly more: number; readonly addresses: Addresses | undefined } | string

/**
 * Checks the text of a v1 line after `PROXY ` (CRLF excluded). With
 * `complete`, the text must be a whole line; otherwise a beginning of one, and
 * `more` is the fewest characters still needed before the CRLF. A string
 * result is the reason it is neither.
 */
const scanV1 = (text: string, complete: boolean): V1Line => {
  if (text.startsWith("UNKNOWN") && (text.length === 7 || text.charCodeAt(7) === 0x20)) {
    return { more: 0, addresses: undefined }
  }
  const space = text.indexOf(" ")
  const protocol = space === -1 ? text : text.slice(0, space)
  if (space === -1 && !complete) {
    let more = Infinity
    for (const [name, rest] of V1_PROTOCOLS) {
      if (name.startsWith(protocol)) more = Math.min(more, name.length - protocol.length + rest)
    }
    if (more < Infinity) return { more, addresses: undefined }
  }
  if (protocol !== "TCP4" && protocol !== "TCP6") {
    return protocol === ""
      ? (complete && space === -1 ? "v1: missing protocol" : "v1: more than one space after PROXY")
      : `v1: unknown protocol ${excerpt(charCodes(protocol), 16)}`
  }
  const scanAddress = protocol === "TCP4" ? scanIPv4 : scanIPv6
  const fields = space === -1 ? [] : text.slice(space + 1).split(" ")
  const values: Array<Uint8Array | number> = []
  let more = 0
  for (let k = 0; k < V1_FIELDS.length; k++) {
    const name = V1_FIELDS[k]!
    const field = fields[k]
    if (field === undefined) {
      if (complete) return `v1: missing ${name}`
      more += V1_MIN_FIELDS[protocol][k]!
      continue
    }
    const last = k === fields.length - 1
    if (field === "" && !(last && !complete)) {
      return last ? `v1: missing ${name}` : `v1: more than one space before the ${name}`
    }
    const scan = k < 2 ? scanAddress(field) : scanPort(field)
    if (scan === undefined || ((complete || !last) && scan.value === undefined)) {
      return /[\r\n]/.test(field)
        ? `v1: lone CR or LF in the ${name} (the line must end with CRLF)`
        : `v1: bad ${name} ${excerpt(charCodes(field), 24)}`
    }
    if (scan.value !== undefined) values.push(scan.value)
    more += scan.more
  }
  if (fields.length > V1_FIELDS.length) return "v1: unexpected data after the destination port"
  if (values.length < V1_FIELDS.length) return { more, addresses: undefined }
  const [source, destination, sourcePort, destinationPort] = values as [Uint8Array, Uint8Array, number, number]
  const family = protocol === "TCP4" ? "IPv4" : "IPv6"
  return {
    more,
    addresses: {
      transport: "stream",
      source: { family, address: formatAddress(source), port: sourcePort },
      destination: { family, address: formatAddress(destination), port: destinationPort }
    }
  }
}

/**
 * Version 1: one line, at most {@link V1_MAX_LENGTH} bytes with its CRLF.
 * Called with at least the 6 bytes of `PROXY `.
 */
const parseV1 = (bytes: Uint8Array): ParseResult => {
  const n = bytes.length
  const limit = Math.min(n, V1_MAX_LENGTH)
  const start = V1_PREFIX.length
  for (let i = start; i + 1 < limit; i++) {
    if (bytes[i] === CR && bytes[i + 1] === LF) {
      const line = scanV1(latin1(bytes, start, i), true)
      if (typeof line === "string") return malformed(line)
      return { _tag: "Parsed", header: { version: 1, command: "proxy", addresses: line.addresses, tlvs: [], length: i + 2 } }
    }
  }
  const tooLong = `v1: no CRLF within the first ${V1_MAX_LENGTH} bytes`
  // No CRLF yet. A CR last may be the first half of it: then the line before
  // it must be whole (a CR is invalid inside TCP4 and TCP6 fields anyway).
  if (bytes[limit - 1] === CR) {
    const line = scanV1(latin1(bytes, start, limit - 1), true)
    if (typeof line === "string") return malformed(line)
    return limit === n && n + 1 <= V1_MAX_LENGTH ? needMore(n + 1) : malformed(tooLong)
  }
  // Otherwise the text so far must still be completable, CRLF included, within the limit.
  const partial = scanV1(latin1(bytes, start, limit), false)
  if (typeof partial === "string") return malformed(partial)
  return limit + partial.more + 2 <= V1_MAX_LENGTH ? needMore(n + 1) : malformed(tooLong)
}

// ---------------------------------------------------------------------------
// Version 2 (section 2.2)

const FAMILIES = ["AF_UNSPEC", "AF_INET", "AF_INET6", "AF_UNIX"] as const
/** Address block size by family: two addresses, plus two ports for AF_INET and AF_INET6. */
const ADDRESS_BLOCK = [0, 12, 36, 216] as const
const UNIX_PATH = 108
const UNIQUE_ID_MAX = 128

/** Version 2: the fixed 16 bytes, the address block, then TLVs up to `16 + length`. */
const parseV2 = (bytes: Uint8Array): ParseResult => {
  const n = bytes.length
  if (n > 12) {
    const version = bytes[12]! >> 4
    const command = bytes[12]! & 0x0f
    if (version !== 2) return malformed(`v2: unsupported version ${version}`)
    if (command > 1) return malformed(`v2: unknown command ${hex(command)}`)
  }
  if (n > 13) {
    const family = bytes[13]! >> 4
    const transport = bytes[13]! & 0x0f
    if (family >= FAMILIES.length) return malformed(`v2: unknown address family ${hex(family)}`)
    if (transport > 2) return malformed(`v2: unknown transport protocol ${hex(transport)}`)
  }
  if (n < V2_FIXED_LENGTH) return needMore(n + 1)
  const command = bytes[12]! & 0x0f
  const family = bytes[13]! >> 4
  const transport = bytes[13]! & 0x0f
  const length = V2_FIXED_LENGTH + (bytes[14]! << 8 | bytes[15]!)
  const blockLength = ADDRESS_BLOCK[family as 0 | 1 | 2 | 3]
  if (length - V2_FIXED_LENGTH < blockLength) {
    return malformed(
      `v2: ${length - V2_FIXED_LENGTH} bytes after the fixed header, but ${FAMILIES[family]} addresses take ${blockLength}`
    )
  }
  // Walk the TLV headers that have arrived: an overrun shows before the bytes it claims.
  let crc = -1
  let at = V2_FIXED_LENGTH + blockLength
  while (at < length) {
    if (length - at < 3) return malformed(`v2: ${length - at} stray bytes after the last TLV`)
    if (at + 3 > n) return needMore(at + 3)
    const type = bytes[at]!
    const valueLength = bytes[at + 1]! << 8 | bytes[at + 2]!
    const end = at + 3 + valueLength
    if (end > length) return malformed(`v2: TLV ${hex(type)} of ${valueLength} bytes overruns the header by ${end - length}`)
    if (type === TlvType.CRC32C) {
      if (valueLength !== 4) return malformed(`v2: CRC32C TLV of ${valueLength} bytes instead of 4`)
      if (crc !== -1) return malformed("v2: more than one CRC32C TLV")
      crc = at + 3
    }
    if (type === TlvType.UniqueId && valueLength > UNIQUE_ID_MAX) {
      return malformed(`v2: UNIQUE_ID TLV of ${valueLength} bytes (at most ${UNIQUE_ID_MAX})`)
    }
    at = end
  }
  if (n < length) return needMore(length)
  if (crc !== -1) {
    const sent = readUint32(bytes, crc)
    const computed = crc32c(bytes.subarray(0, length), crc)
    if (sent !== computed) return malformed(`v2: CRC32C mismatch (header says ${hex(sent)}, bytes give ${hex(computed)})`)
  }
  const tlvs: Array<Tlv> = []
  for (at = V2_FIXED_LENGTH + blockLength; at < length;) {
    const end = at + 3 + (bytes[at + 1]! << 8 | bytes[at + 2]!)
    // A copy: `slice` on a Node Buffer would share the caller's memory.
    tlvs.push({ type: bytes[at]!, value: new Uint8Array(bytes.subarray(at + 3, end)) })
    at = end
  }
  const addresses = command === 1 && family !== 0 && transport !== 0
    ? v2Addresses(bytes, family, transport === 1 ? "stream" : "dgram")
    : undefined
  return { _tag: "Parsed", header: { version: 2, command: command === 1 ? "proxy" : "local", addresses, tlvs, length } }
}

const readUint16 = (bytes: Uint8Array, at: number): number => bytes[at]! << 8 | bytes[at + 1]!
const readUint32 = (bytes: Uint8Array, at: number): number => (readUint16(bytes, at) * 0x10000) + readUint16(bytes, at + 2)

/** The address block at offset 16, in network byte order: addresses, then ports for IP. */
const v2Addresses = (bytes: Uint8Array, family: number, transport: "stream" | "dgram"): Addresses => {
  const at = V2_FIXED_LENGTH
  if (family === 3) {
    return {
      transport,
      source: { family: "unix", address: unixPath(bytes.subarray(at, at + UNIX_PATH)) },
      destination: { family: "unix", address: unixPath(bytes.subarray(at + UNIX_PATH, at + 2 * UNIX_PATH)) }
    }
  }
  const size = family === 1 ? 4 : 16
  const name = family === 1 ? "IPv4" : "IPv6"
  return {
    transport,
    source: { family: name, address: formatAddress(bytes.subarray(at, at + size)), port: readUint16(bytes, at + 2 * size) },
    destination: {
      family: name,
      address: formatAddress(bytes.subarray(at + size, at + 2 * size)),
      port: readUint16(bytes, at + 2 * size + 2)
    }
  }
}

const utf8 = new TextDecoder()

/** A `sun_path`: up to the first NUL; abstract names (leading NUL) keep it as a `"\0"` prefix. */
const unixPath = (path: Uint8Array): string => {
  const abstract = path[0] === 0
  const from = abstract ? 1 : 0
  const nul = path.indexOf(0, from)
  const name = utf8.decode(path.subarray(from, nul === -1 ? path.length : nul))
  return abstract && name !== "" ? `\0${name}` : name
}

// ---------------------------------------------------------------------------
// Address text and CRC32C

/**
 * An IPv4 (4 bytes) or IPv6 (16 bytes) address as Node formats a socket's
 * address (libuv's `inet_ntop`): hex groups without leading zeros, the first
 * longest run of two or more zero groups as `::`, and a dotted IPv4 tail for
 * IPv4-compatible (`::a.b.c.d`) and IPv4-mapped (`::ffff:a.b.c.d`) addresses.
 */
const formatAddress = (bytes: Uint8Array): string => {
  if (bytes.length === 4) return bytes.join(".")
  const words = Array.from({ length: 8 }, (_, i) => readUint16(bytes, 2 * i))
  let best = { start: -1, length: 0 }
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && words[j] === 0) j++
    if (j - i > best.length) best = { start: i, length: j - i }
    i = j
  }
  if (best.length < 2) best = { start: -1, length: 0 }
  if (best.start === 0 && (best.length === 6 || (best.length === 5 && words[5] === 0xffff))) {
    return `::${best.length === 5 ? "ffff:" : ""}${bytes.subarray(12).join(".")}`
  }
  if (best.start === -1) return words.map((w) => w.toString(16)).join(":")
  const head = words.slice(0, best.start).map((w) => w.toString(16)).join(":")
  const tail = words.slice(best.start + best.length).map((w) => w.toString(16)).join(":")
  return `${head}::${tail}`
}

let crcTable: Uint32Array | undefined

/**
 * CRC32C (Castagnoli, RFC 4960 appendix B) of `bytes`, with the four bytes at
 * `zeroed` counted as zeros: the v2 checksum is computed with its own field
 * cleared (section 2.2.3).
 */
const crc32c = (bytes: Uint8Array, zeroed: number): number => {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256)
    for (let i = 0; i < 256; i++) {
      let c = i
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
      crcTable[i] = c
    }
  }
  const table = crcTable
  let crc = 0xffffffff
  for (let i = 0; i < bytes.length; i++) {
    const b = i >= zeroed && i < zeroed + 4 ? 0 : bytes[i]!
    crc = table[(crc ^ b) & 0xff]! ^ (crc >>> 8)
  }
  return (crc ^ 0xffffffff) >>> 0
}
