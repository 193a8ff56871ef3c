/**
 * The binary header, version 2 (spec section 2.2): the 12-byte signature,
 * version and command, address family and transport, a 16-bit length, then
 * that many bytes: the address block and the TLVs. {@link parseV2} reads it
 * from the bytes received so far and says whether it is complete, still
 * arriving (and how far it got, so that more bytes resume the TLV walk
 * instead of repeating it), or malformed. Any prefix that can no longer
 * become a valid header is refused at once: a bad version or command at the
 * 13th byte, a TLV that overruns the header as soon as its own header is in.
 *
 * @internal
 */
import type { Address } from "../../Address.ts"
import { crc32c } from "./crc32c.ts"
import type { Refusal } from "./errors.ts"
import { type Complete, type Incomplete, nodeIPv6, type Tlv, TlvType, V2_FIXED_LENGTH } from "./header.ts"

/** How far the TLV walk got: the offset of the next TLV to check, and that of the CRC32C value (-1: none yet). */
export interface V2Progress {
  readonly next: number
  readonly crc: number
}

const FAMILIES = ["AF_UNSPEC", "AF_INET", "AF_INET6", "AF_UNIX"] as const

/**
 * Address block size by family: two addresses, plus two ports for AF_INET
 * and AF_INET6. The size follows from the family alone, for LOCAL headers
 * too (whose addresses are then skipped), and the TLVs follow the block.
 */
const ADDRESS_BLOCK = [0, 12, 36, 216] as const
/** Size of a `sun_path`, each Unix address in the block. */
const UNIX_PATH = 108
/** Longest `PP2_TYPE_UNIQUE_ID` value (section 2.2.5). */
const UNIQUE_ID_MAX = 128

const malformed = (detail: string): Refusal => ({ _tag: "Malformed", version: 2, detail })
const incomplete = (until: number, progress?: V2Progress): Incomplete<V2Progress> => ({
  _tag: "Incomplete",
  until,
  progress
})
const hex = (n: number): string => `0x${n.toString(16).padStart(2, "0")}`
const readUint16 = (bytes: Uint8Array, at: number): number => bytes[at]! << 8 | bytes[at + 1]!

/**
 * Reads a v2 header from `bytes`, the input from its first byte, whose
 * signature bytes (as many as there are, up to 12) are already known to be
 * right. `progress` is what an earlier call on a shorter input of the same
 * header returned, if any.
 *
 * **Details**
 *
 * Strict where the spec leaves room: the version nibble must be 2, the
 * command LOCAL or PROXY, the family AF_UNSPEC, AF_INET, AF_INET6 or AF_UNIX
 * and the transport UNSPEC, STREAM or DGRAM, for both commands. A CRC32C TLV
 * must be 4 bytes, come once, and match; a UNIQUE_ID TLV is at most 128
 * bytes. Addresses are reported only for PROXY with neither family nor
 * transport unspecified. TLV values are copies, never views of `bytes`.
 */
export const parseV2 = (
  bytes: Uint8Array,
  progress: V2Progress | undefined
): Complete | Incomplete<V2Progress> | Refusal => {
  const n = bytes.length
  if (n > 12) {
    const version = bytes[12]! >> 4
    const command = bytes[12]! & 0x0f
    if (version !== 2) return { _tag: "UnsupportedVersion", version }
    if (command > 1) return malformed(`unknown command ${hex(command)}`)
  }
  if (n > 13) {
    const family = bytes[13]! >> 4
    const transport = bytes[13]! & 0x0f
    if (family >= FAMILIES.length) return malformed(`unknown address family ${hex(family)}`)
    if (transport > 2) return malformed(`unknown transport protocol ${hex(transport)}`)
  }
  if (n < V2_FIXED_LENGTH) return incomplete(n + 1)
  const command = bytes[12]! & 0x0f
  const family = bytes[13]! >> 4
  const transport = bytes[13]! & 0x0f
  const length = V2_FIXED_LENGTH + readUint16(bytes, 14)
  const blockLength = ADDRESS_BLOCK[family as 0 | 1 | 2 | 3]
  if (length - V2_FIXED_LENGTH < blockLength) {
    return malformed(
      `${length - V2_FIXED_LENGTH} bytes after the fixed header, but ${FAMILIES[family]} addresses take ${blockLength}`
    )
  }
  // Walk the TLV headers that have arrived: an overrun shows before the bytes it claims.
  let crc = progress?.crc ?? -1
  let at = progress?.next ?? V2_FIXED_LENGTH + blockLength
  while (at < length) {
    if (length - at < 3) return malformed(`${length - at} stray bytes after the last TLV`)
    if (at + 3 > n) return incomplete(at + 3, { next: at, crc })
    const type = bytes[at]!
    const valueLength = readUint16(bytes, at + 1)
    const end = at + 3 + valueLength
    if (end > length) return malformed(`TLV ${hex(type)} of ${valueLength} bytes overruns the header by ${end - length}`)
    if (type === TlvType.CRC32C) {
      if (valueLength !== 4) return malformed(`CRC32C TLV of ${valueLength} bytes instead of 4`)
      if (crc !== -1) return malformed("more than one CRC32C TLV")
      crc = at + 3
    }
    if (type === TlvType.UniqueId && valueLength > UNIQUE_ID_MAX) {
      return malformed(`UNIQUE_ID TLV of ${valueLength} bytes (at most ${UNIQUE_ID_MAX})`)
    }
    at = end
  }
  if (n < length) return incomplete(length, { next: at, crc })
  if (crc !== -1) {
    const sent = readUint16(bytes, crc) * 0x10000 + readUint16(bytes, crc + 2)
    // The checksum is computed with its own field as zeros (section 2.2.3).
    const computed = crc32c(bytes.subarray(crc + 4, length), crc32c(ZEROS, crc32c(bytes.subarray(0, crc))))
    if (sent !== computed) return { _tag: "ChecksumMismatch", sent, computed }
  }
  const tlvs: Array<Tlv> = []
  for (at = V2_FIXED_LENGTH + blockLength; at < length;) {
    const end = at + 3 + readUint16(bytes, at + 1)
    // A copy: `slice` on a Node Buffer would share the input's memory.
    tlvs.push({ type: bytes[at]!, value: new Uint8Array(bytes.subarray(at + 3, end)) })
    at = end
  }
  const proxied = command === 1 && family !== 0 && transport !== 0
  const [source, destination] = proxied ? addresses(bytes, family) : [undefined, undefined]
  return {
    _tag: "Complete",
    header: {
      version: 2,
      command: command === 1 ? "proxy" : "local",
      transport: proxied ? (transport === 1 ? "stream" : "dgram") : undefined,
      source,
      destination,
      tlvs
    },
    length
  }
}

const ZEROS = new Uint8Array(4)

/** The address block at offset 16, in network byte order: source and destination addresses, then their ports. */
const addresses = (bytes: Uint8Array, family: number): readonly [Address, Address] => {
  const at = V2_FIXED_LENGTH
  if (family === 3) {
    return [
      { family: "unix", path: unixPath(bytes.subarray(at, at + UNIX_PATH)) },
      { family: "unix", path: unixPath(bytes.subarray(at + UNIX_PATH, at + 2 * UNIX_PATH)) }
    ]
  }
  const size = family === 1 ? 4 : 16
  const ip = family === 1 ? ipv4 : ipv6
  const name = family === 1 ? "IPv4" : "IPv6"
  return [
    { family: name, host: ip(bytes.subarray(at, at + size)), port: readUint16(bytes, at + 2 * size) },
    { family: name, host: ip(bytes.subarray(at + size, at + 2 * size)), port: readUint16(bytes, at + 2 * size + 2) }
  ]
}

const ipv4 = (address: Uint8Array): string => address.join(".")

/** Eight hex groups, in the text form Node gives a socket's address. */
const ipv6 = (address: Uint8Array): string =>
  nodeIPv6(Array.from({ length: 8 }, (_, i) => readUint16(address, 2 * i).toString(16)).join(":"))

const utf8 = new TextDecoder()

/**
 * A `sun_path`, decoded as UTF-8, up to its first NUL; an abstract name
 * (leading NUL) keeps it as a `"\0"` prefix, as Node spells one, and also
 * ends at its next NUL; an unnamed socket is `""`.
 */
const unixPath = (path: Uint8Array): string => {
  const abstract = path[0] === 0
  const from = abstract ? 1 : 0
  const nul = path.indexOf(0, from)
  const name = utf8.decode(path.subarray(from, nul === -1 ? path.length : nul))
  return abstract && name !== "" ? `\0${name}` : name
}
