/**
 * Reading a PROXY protocol header: {@link parse} says what the bytes
 * received so far are. The version is decided by the first byte (`P` for
 * the v1 text line, `\r` for the v2 binary signature), and `v1.ts` or
 * `v2.ts` reads the rest.
 *
 * @internal
 */
import { NotAHeader, type ProxyHeaderReason, VersionNotAccepted } from "./errors.ts"
import { type Accept, type Complete, type Incomplete, V1_PREFIX, V2_SIGNATURE } from "./header.ts"
import { parseV1 } from "./v1.ts"
import { parseV2, type V2Progress } from "./v2.ts"

/** What {@link parse} found: a whole header, a valid beginning of one, or why it cannot be one. */
export type ParseResult = Complete | Incomplete<V2Progress> | ProxyHeaderReason

const incomplete = (until: number): Incomplete<V2Progress> => ({ _tag: "Incomplete", until, progress: undefined })

/** Whether the first bytes of `bytes` (as many as both have) equal `prefix`'s. */
const startsWith = (bytes: Uint8Array, prefix: Uint8Array): boolean => {
  const end = Math.min(bytes.length, prefix.length)
  for (let i = 0; i < end; i++) if (bytes[i] !== prefix[i]) return false
  return true
}

/** A copy of the first bytes: enough for a log line's excerpt, never a view of the input. */
const notAHeader = (bytes: Uint8Array, accept: Accept) =>
  new NotAHeader({ accept, received: new Uint8Array(bytes.subarray(0, 9)) })

/**
 * Reads a PROXY protocol header from `bytes`, the bytes received so far
 * from the start of a connection. `progress` is what an earlier answer on a
 * shorter input said (`Incomplete`), to resume from.
 *
 * **Details**
 *
 * With `accept` set to one version, the other is refused as soon as it is
 * recognizable. Any prefix that can no longer become a valid header is
 * refused at once; `Incomplete` means the bytes so far can still be
 * completed into a valid header within the size limits, and once decided,
 * the answer never changes as bytes are added. `bytes` is only read, and
 * the result never refers to it.
 */
export const parse = (bytes: Uint8Array, accept: Accept, progress?: V2Progress): ParseResult => {
  const n = bytes.length
  if (n === 0) return incomplete(1)
  if (bytes[0] === V2_SIGNATURE[0]) {
    if (!startsWith(bytes, V2_SIGNATURE)) return notAHeader(bytes, accept)
    if (accept === "v1") return new VersionNotAccepted({ version: 2, accept })
    return parseV2(bytes, progress)
  }
  if (bytes[0] === V1_PREFIX[0]) {
    if (!startsWith(bytes, V1_PREFIX)) return notAHeader(bytes, accept)
    if (accept === "v2") return new VersionNotAccepted({ version: 1, accept })
    return n < V1_PREFIX.length ? incomplete(n + 1) : parseV1(bytes)
  }
  return notAHeader(bytes, accept)
}
