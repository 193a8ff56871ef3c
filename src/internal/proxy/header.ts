/**
 * What a PROXY protocol header is (HAProxy's "The PROXY protocol, Versions 1
 * & 2", `doc/proxy-protocol.txt`): {@link ProxyHeader}, what a handler sees
 * of a connection that came through a load balancer, and the constants the
 * two wire formats share. The formats themselves are read by `v1.ts` (the
 * text line) and `v2.ts` (the binary header); `decoder.ts` reads a header off
 * a connection's input.
 *
 * @internal
 */
import { SocketAddress } from "node:net"
import type { Address } from "../../Address.ts"

/**
 * Which header versions a listener accepts. There is deliberately no "maybe
 * absent" mode: the spec's section 5 ("Security considerations") says a
 * receiver must be configured to expect the header and never guess whether
 * it is there.
 */
export type Accept = "v1" | "v2" | "any"

/** A v2 type-length-value extension, in the order it came in. */
export interface Tlv {
  /** The type code; {@link TlvType} names the registered ones. */
  readonly type: number
  /** The value's bytes: a copy owned by the header, never a view of the connection's input. */
  readonly value: Uint8Array
}

/**
 * The PROXY protocol header a load balancer or TLS terminator (HAProxy
 * `send-proxy`, nginx `proxy_protocol`, cloud load balancers) sent ahead of
 * the client's own bytes: who the client was, and where it connected to.
 *
 * **Details**
 *
 * Addresses are in the text form Node gives a socket's own `remoteAddress`
 * (lowercase hex, the longest run of zero groups as `::`, IPv4-mapped as
 * `::ffff:a.b.c.d`), whichever form the proxy wrote, so they compare equal to
 * what the server would have seen without a proxy.
 *
 * **Gotchas**
 *
 * A header is only as trustworthy as the proxy that sent it: a client that
 * can reach the server directly can send any header it likes. Read headers
 * only on listeners that sit behind a proxy, and restrict who may connect.
 */
export interface ProxyHeader {
  /** 1 for the text header (`PROXY TCP4 …\r\n`), 2 for the binary one. */
  readonly version: 1 | 2
  /**
   * `local` when the proxy opened the connection itself (a v2 LOCAL header,
   * typically a health check): the connection's own addresses apply. Every v1
   * header is `proxy`.
   */
  readonly command: "proxy" | "local"
  /**
   * `stream` for TCP (and v1 always), `dgram` for UDP or a Unix datagram
   * socket. `undefined` exactly when {@link source} is.
   */
  readonly transport: "stream" | "dgram" | undefined
  /**
   * The client, as the proxy saw it. `undefined` when the connection's own
   * addresses apply: v1 `UNKNOWN`, v2 LOCAL, or a v2 header whose address
   * family or transport is unspecified.
   */
  readonly source: Address | undefined
  /** The address the client connected to (the proxy's own, as a rule); `undefined` exactly when {@link source} is. */
  readonly destination: Address | undefined
  /** The v2 TLVs in order of appearance, whatever their type (the CRC32C one included); empty for v1. */
  readonly tlvs: ReadonlyArray<Tlv>
}

/**
 * Type codes of the v2 TLVs the spec registers (section 2.2). TLVs of every
 * type, registered or not, are returned with their raw value.
 */
export const TlvType = {
  /** Application-Layer Protocol Negotiation, the TLS ALPN extension's bytes. */
  ALPN: 0x01,
  /** Host name passed by the client (TLS SNI), UTF-8. */
  Authority: 0x02,
  /** CRC32C of the whole header; a header whose checksum does not match is refused. */
  CRC32C: 0x03,
  /** Padding, to be ignored. */
  Noop: 0x04,
  /** Opaque connection id of at most 128 bytes; a longer one is refused. */
  UniqueId: 0x05,
  /** TLS details: client flags, verify result, then sub-TLVs (not decoded here). */
  SSL: 0x20,
  /** Network namespace name, US-ASCII. */
  NetNS: 0x30
} as const

/** Longest v1 header, CRLF included: `PROXY UNKNOWN` with two full IPv6 addresses and ports (section 2.1). */
export const V1_MAX_LENGTH = 107

/** Fixed part of a v2 header: signature, version and command, family and transport, length (section 2.2). */
export const V2_FIXED_LENGTH = 16

/** Longest v2 header: the fixed part plus the largest value of its 16-bit length field. */
export const V2_MAX_LENGTH = V2_FIXED_LENGTH + 0xffff

/** Longest header of either version: a header is decided within this many bytes. */
export const MAX_LENGTH = V2_MAX_LENGTH

/** How a v1 header begins: `PROXY ` (section 2.1). */
export const V1_PREFIX: Uint8Array = Uint8Array.of(0x50, 0x52, 0x4f, 0x58, 0x59, 0x20)

/**
 * How a v2 header begins (section 2.2): twelve bytes no text protocol starts
 * with, a NUL among them, so that a v1 parser (or an HTTP server) refuses it.
 */
export const V2_SIGNATURE: Uint8Array = Uint8Array.of(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a)

/**
 * An IPv6 address in the text form of a socket's `remoteAddress`, from any
 * text form `net.isIPv6` accepts (without a zone): Node's own formatter
 * (`inet_ntop`), so the two agree by construction.
 */
export const nodeIPv6 = (text: string): string => new SocketAddress({ address: text, family: "ipv6" }).address

/** A whole header: what it says, and how many bytes of the input it took. */
export interface Complete {
  readonly _tag: "Complete"
  readonly header: ProxyHeader
  /** Bytes from the start of the input; those after them are the client's. */
  readonly length: number
}

/**
 * A valid beginning of a header: read more. `until` is the input length at
 * which the answer can next change (fewer bytes give `Incomplete` again); it
 * is more than the bytes given and at most the version's longest header.
 */
export interface Incomplete<Progress = never> {
  readonly _tag: "Incomplete"
  readonly until: number
  /** How far the parser got, to resume from with more bytes (v2's TLV walk). */
  readonly progress: Progress | undefined
}
