/**
 * CRC32C, the Castagnoli CRC (RFC 3720 section 12.1, RFC 4960 appendix B):
 * the checksum of iSCSI, SCTP and the PROXY protocol v2's `PP2_TYPE_CRC32C`
 * TLV. Node's `zlib.crc32` is the other CRC-32 (IEEE 802.3 polynomial), so
 * this one is computed here, a byte at a time from a 256-entry table of the
 * reflected polynomial 0x82F63B78; a header is at most 64 KiB, so nothing
 * faster is needed.
 *
 * @internal
 */

let table: Uint32Array | undefined

const makeTable = (): Uint32Array => {
  const entries = new Uint32Array(256)
  for (let i = 0; i < 256; i++) {
    let c = i
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
    entries[i] = c
  }
  return entries
}

/**
 * The CRC32C of `bytes`, as an unsigned 32-bit number. With `previous`, the
 * CRC32C of earlier bytes, it continues over them:
 * `crc32c(b, crc32c(a))` is the checksum of `a` followed by `b`.
 */
export const crc32c = (bytes: Uint8Array, previous = 0): number => {
  const t = table ??= makeTable()
  let crc = ~previous
  for (let i = 0; i < bytes.length; i++) crc = t[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8)
  return ~crc >>> 0
}
