/**
 * CRC32C against published check values (RFC 3720 appendix B.4, the
 * "123456789" check value of the CRC catalogue), against a bit-at-a-time
 * reference on random bytes, and continued over a split input.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import { crc32c } from "../../../src/internal/proxy/crc32c.ts"
import { bytes, crc32c as bitwise } from "../../fixtures/proxyHeader.ts"

/** RFC 3720 B.4 lists each CRC as sent, least significant byte first. */
const rfc3720 = (...sent: ReadonlyArray<number>) => (sent[0]! | sent[1]! << 8 | sent[2]! << 16 | sent[3]! << 24) >>> 0

/** The iSCSI Read (type 0x01) command PDU of RFC 3720 B.4. */
const readPdu = Uint8Array.of(
  0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
  0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00
)

describe("CRC32C", () => {
  it.each([
    { name: "32 bytes of zeros", input: new Uint8Array(32), crc: rfc3720(0xaa, 0x36, 0x91, 0x8a) },
    { name: "32 bytes of 0xff", input: new Uint8Array(32).fill(0xff), crc: rfc3720(0x43, 0xab, 0xa8, 0x62) },
    { name: "32 incrementing bytes", input: Uint8Array.from({ length: 32 }, (_, i) => i), crc: rfc3720(0x4e, 0x79, 0xdd, 0x46) },
    { name: "32 decrementing bytes", input: Uint8Array.from({ length: 32 }, (_, i) => 31 - i), crc: rfc3720(0x5c, 0xdb, 0x3f, 0x11) },
    { name: "an iSCSI Read command PDU", input: readPdu, crc: rfc3720(0x56, 0x3a, 0x96, 0xd9) },
    { name: "the check value of \"123456789\"", input: bytes("123456789"), crc: 0xe3069283 },
    { name: "no bytes", input: new Uint8Array(0), crc: 0 }
  ])("RFC 3720 B.4 and the catalogue: $name", ({ crc, input }) => {
    assert.strictEqual(crc32c(input), crc)
    assert.strictEqual(bitwise(input), crc, "the test fixture's bitwise CRC agrees")
  })

  it.prop(
    "equals the bitwise reference, and continues over a split input",
    [Schema.Uint8Array.check(Schema.isMaxLength(300)), Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 300 }))],
    ([input, cut]) => {
      const at = Math.min(cut, input.length)
      assert.strictEqual(crc32c(input), bitwise(input))
      assert.strictEqual(crc32c(input.subarray(at), crc32c(input.subarray(0, at))), crc32c(input))
    }
  )
})
