/**
 * The text header, version 1 (spec section 2.1): one US-ASCII line,
 * `PROXY TCP4|TCP6 <src> <dst> <srcport> <dstport>\r\n` or
 * `PROXY UNKNOWN …\r\n`, at most 107 bytes with its CRLF. {@link parseV1}
 * reads it from the bytes received so far and says whether it is complete,
 * still arriving, or malformed; a line that can no longer become valid within
 * 107 bytes is refused at the byte that makes it so. Addresses are checked by
 * Node's own parsers (`net.isIPv4`, `net.isIPv6`) and returned in Node's
 * text (`net.SocketAddress`).
 *
 * @internal
 */
import { isIPv4, isIPv6 } from "node:net"
import type { Refusal } from "./errors.ts"
import { type Complete, type Incomplete, nodeIPv6, type ProxyHeader, V1_MAX_LENGTH, V1_PREFIX } from "./header.ts"

const CR = 0x0d
const LF = 0x0a

type Malformed = Extract<Refusal, { readonly _tag: "Malformed" }>

const malformed = (detail: string, value?: string): Malformed => ({ _tag: "Malformed", version: 1, detail, value })
const tooLong: Refusal = { _tag: "TooLong", limit: V1_MAX_LENGTH }

/**
 * How the address of each protocol is checked. Node's `isIPv4` takes four
 * decimal numbers from 0 to 255 without leading zeros, as `inet_pton` does
 * (not `inet_aton`'s octal and short forms); `isIPv6` takes the `inet_pton`
 * forms (groups of 1 to 4 hex digits, one `::`, an optional dotted IPv4
 * tail) and also a zone suffix (`%eth0`), which has no meaning in a header:
 * the character set below leaves it out.
 *
 * `completions` are the shortest texts that can complete a valid beginning
 * of an address, shortest first: appending zeros, dots and colons in one of
 * these shapes is always the cheapest way to finish an address (an octet or
 * group needs a digit, a dotted tail its missing octets, an IPv6 address with
 * too few groups a `::`), so the first one that makes the text valid says
 * how many characters it still needs, and none means it never can be valid.
 */
const ADDRESSES = {
  TCP4: {
    chars: /^[0-9.]*$/,
    isValid: isIPv4,
    completions: ["", "0", ".0", "0.0", ".0.0", "0.0.0", ".0.0.0", "0.0.0.0"],
    family: "IPv4",
    host: (text: string): string => text
  },
  TCP6: {
    chars: /^[0-9a-fA-F:.]*$/,
    isValid: isIPv6,
    completions: ["", "0", ":", "::", ".0", "0.0", ".0.0", "0.0.0"],
    family: "IPv6",
    host: nodeIPv6
  }
} as const

type Protocol = keyof typeof ADDRESSES

/** Characters `text` still needs to become a valid address of `protocol` (0: it is one), or `undefined`: never. */
const addressMissing = (text: string, protocol: Protocol): number | undefined => {
  const address = ADDRESSES[protocol]
  if (!address.chars.test(text)) return undefined
  return address.completions.find((completion) => address.isValid(text + completion))?.length
}

/** A port: 0..65535 in decimal, no sign, no leading zero. As {@link addressMissing}. */
const portMissing = (text: string): number | undefined => {
  if (text === "") return 1
  return /^(?:0|[1-9][0-9]{0,4})$/.test(text) && Number(text) <= 0xffff ? 0 : undefined
}

const FIELDS = ["source address", "destination address", "source port", "destination port"] as const

/** Fewest characters of each field after the protocol, with its leading space: `0.0.0.0` or `::`, then `0`. */
const MIN_FIELDS = { TCP4: [8, 8, 2, 2], TCP6: [3, 3, 2, 2] } as const

/** The v1 protocols, with the fewest characters a line needs after the protocol word (CRLF excluded). */
const PROTOCOLS = [["TCP4", 20], ["TCP6", 10], ["UNKNOWN", 0]] as const

const UNKNOWN: ProxyHeader = {
  version: 1,
  command: "proxy",
  transport: undefined,
  source: undefined,
  destination: undefined,
  tlvs: []
}

/**
 * What the text of a line after `PROXY ` (CRLF excluded) is: with `complete`,
 * it must be a whole line, and its header is returned; otherwise a beginning
 * of one, and `more` is the fewest characters still needed before the CRLF.
 *
 * Exactly one space separates fields. After `UNKNOWN ` anything may follow
 * (the spec says to ignore it), a lone CR or LF included; inside TCP4 and
 * TCP6 fields, a CR or LF is invalid.
 */
const scanLine = (
  text: string,
  complete: boolean
): { readonly more: number; readonly header: ProxyHeader | undefined } | Malformed => {
  if (text.startsWith("UNKNOWN") && (text.length === 7 || text.charCodeAt(7) === 0x20)) {
    return { more: 0, header: UNKNOWN }
  }
  const space = text.indexOf(" ")
  const protocol = space === -1 ? text : text.slice(0, space)
  if (space === -1 && !complete) {
    let more = Infinity
    for (const [name, rest] of PROTOCOLS) {
      if (name.startsWith(protocol)) more = Math.min(more, name.length - protocol.length + rest)
    }
    if (more < Infinity) return { more, header: undefined }
  }
  if (protocol !== "TCP4" && protocol !== "TCP6") {
    if (protocol !== "") return malformed("unknown protocol", protocol)
    return malformed(complete && space === -1 ? "missing protocol" : "more than one space after PROXY")
  }
  const fields = space === -1 ? [] : text.slice(space + 1).split(" ")
  let more = 0
  for (let k = 0; k < FIELDS.length; k++) {
    const name = FIELDS[k]!
    const field = fields[k]
    if (field === undefined) {
      if (complete) return malformed(`missing ${name}`)
      more += MIN_FIELDS[protocol][k]!
      continue
    }
    const last = k === fields.length - 1
    if (field === "" && !(last && !complete)) {
      return malformed(last ? `missing ${name}` : `more than one space before the ${name}`)
    }
    const missing = k < 2 ? addressMissing(field, protocol) : portMissing(field)
    if (missing === undefined || (missing > 0 && (complete || !last))) {
      return /[\r\n]/.test(field)
        ? malformed(`lone CR or LF in the ${name} (the line must end with CRLF)`)
        : malformed(`bad ${name}`, field)
    }
    more += missing
  }
  if (fields.length > FIELDS.length) return malformed("unexpected data after the destination port")
  if (!complete) return { more, header: undefined }
  const [source, destination, sourcePort, destinationPort] = fields as [string, string, string, string]
  const { family, host } = ADDRESSES[protocol]
  return {
    more,
    header: {
      version: 1,
      command: "proxy",
      transport: "stream",
      source: { family, host: host(source), port: Number(sourcePort) },
      destination: { family, host: host(destination), port: Number(destinationPort) },
      tlvs: []
    }
  }
}

const latin1 = (bytes: Uint8Array, start: number, end: number): string =>
  String.fromCharCode(...bytes.subarray(start, end))

/**
 * Reads a v1 header from `bytes`, the input from its first byte, which
 * begins with `PROXY ` (all 6 bytes of it). The line ends at its first CRLF;
 * the bytes after it are the client's.
 */
export const parseV1 = (bytes: Uint8Array): Complete | Incomplete | Refusal => {
  const n = bytes.length
  const limit = Math.min(n, V1_MAX_LENGTH)
  const start = V1_PREFIX.length
  for (let i = start; i + 1 < limit; i++) {
    if (bytes[i] === CR && bytes[i + 1] === LF) {
      const line = scanLine(latin1(bytes, start, i), true)
      return "detail" in line ? line : { _tag: "Complete", header: line.header!, length: i + 2 }
    }
  }
  const more = (): Incomplete => ({ _tag: "Incomplete", until: n + 1, progress: undefined })
  // No CRLF yet. A CR last may be the first half of it: then the line before
  // it must be whole (a CR is invalid inside TCP4 and TCP6 fields anyway).
  if (bytes[limit - 1] === CR) {
    const line = scanLine(latin1(bytes, start, limit - 1), true)
    if ("detail" in line) return line
    return limit === n && n + 1 <= V1_MAX_LENGTH ? more() : tooLong
  }
  // Otherwise the text so far must still be completable, CRLF included, within the limit.
  const partial = scanLine(latin1(bytes, start, limit), false)
  if ("detail" in partial) return partial
  return limit + partial.more + 2 <= V1_MAX_LENGTH ? more() : tooLong
}
