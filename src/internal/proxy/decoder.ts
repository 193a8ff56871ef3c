/**
 * Reading a PROXY protocol header off a connection's input: {@link header}
 * is the `Decoder` a server runs before its handler (or TLS) sees a byte. It
 * takes exactly the header's bytes, so whatever the client sent after it,
 * even in the same packet, stays in the input for the handler. Underneath,
 * {@link parse} says what the bytes received so far are: the version is
 * decided by the first byte (`P` for the v1 text line, `\r` for the v2
 * binary signature), and `v1.ts` or `v2.ts` reads the rest.
 *
 * @internal
 */
import { type Decoder, fail, NeedMore } from "../io/decoding.ts"
import { ProxyHeaderError, type Refusal, toReason, Truncated } from "./errors.ts"
import { type Accept, type Complete, type Incomplete, type ProxyHeader, V1_PREFIX, V2_SIGNATURE } from "./header.ts"
import { parseV1 } from "./v1.ts"
import { parseV2, type V2Progress } from "./v2.ts"

/** What {@link parse} found: a whole header, a valid beginning of one, or why it cannot be one. */
export type ParseResult = Complete | Incomplete<V2Progress> | Refusal

const incomplete = (until: number): Incomplete<V2Progress> => ({ _tag: "Incomplete", until, progress: undefined })

/** Whether the first bytes of `bytes` (as many as both have) equal `prefix`'s. */
const startsWith = (bytes: Uint8Array, prefix: Uint8Array): boolean => {
  const end = Math.min(bytes.length, prefix.length)
  for (let i = 0; i < end; i++) if (bytes[i] !== prefix[i]) return false
  return true
}

/** A copy of the first bytes: enough for a log line's excerpt, never a view of the input. */
const notAHeader = (bytes: Uint8Array, accept: Accept): Refusal => ({
  _tag: "NotAHeader",
  accept,
  received: new Uint8Array(bytes.subarray(0, 9))
})

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
    if (accept === "v1") return { _tag: "VersionNotAccepted", version: 2, accept }
    return parseV2(bytes, progress)
  }
  if (bytes[0] === V1_PREFIX[0]) {
    if (!startsWith(bytes, V1_PREFIX)) return notAHeader(bytes, accept)
    if (accept === "v2") return { _tag: "VersionNotAccepted", version: 1, accept }
    return n < V1_PREFIX.length ? incomplete(n + 1) : parseV1(bytes)
  }
  return notAHeader(bytes, accept)
}

/**
 * The reason {@link parse} gives for the shortest prefix of `bytes` it
 * refuses, given that it refuses `bytes` (with `refusal`) and not the first
 * `open` bytes. So a refusal is the same whatever the chunking, and names
 * nothing that came after the byte that decided it (the client's data, for
 * all a header knows). Found by bisection, as answers never change once
 * decided. Only the signature and v1 quote the input: v2 checks its bytes in
 * order and names none of them, so its reason is already the shortest's.
 */
const firstRefusal = (bytes: Uint8Array, accept: Accept, open: number, refusal: Refusal): Refusal => {
  if (refusal._tag !== "NotAHeader" && bytes[0] !== V1_PREFIX[0]) return refusal
  let low = open
  let high = bytes.length
  let found = refusal
  while (high - low > 1) {
    const middle = (low + high) >>> 1
    const result = parse(bytes.subarray(0, middle), accept)
    if (result._tag === "Incomplete") {
      low = middle
    } else {
      high = middle
      // Not Complete either: a prefix of bytes that are no header is none.
      found = result as Refusal
    }
  }
  return found
}

/**
 * A connection's PROXY protocol header, for `conn.read`: the header, with
 * its bytes taken and nothing after them; or a {@link ProxyHeaderError},
 * taking nothing.
 *
 * **Details**
 *
 * The read waits while the bytes so far can still become a valid header,
 * and fails as soon as they cannot. It is bounded: a header is decided
 * within 107 bytes (v1) or 16 + 65535 (v2, whose length field is read
 * first), so the input never holds more of one. Incremental: the decoder
 * keeps, in `input.state`, the input length before which nothing can change
 * and how far the v2 TLV walk got, so a header trickled byte by byte costs
 * linear work. At end of input, a header cut short fails with reason
 * `Truncated` (an input that ended before its first byte, with
 * `EndOfInput`).
 */
export const header = (accept: Accept): Decoder<ProxyHeader, ProxyHeaderError> => ({
  decode(input) {
    const state = input.state as Incomplete<V2Progress> | undefined
    const n = input.length
    if (state !== undefined && n < state.until) return NeedMore
    const bytes = input.bytes.subarray(input.start)
    const result = parse(bytes, accept, state?.progress)
    switch (result._tag) {
      case "Incomplete":
        input.state = result
        // A jump (v2's length field): let the buffer grow to the whole header at once.
        if (result.until > n + 1) input.reserve(result.until)
        return NeedMore
      case "Complete":
        input.skip(result.length)
        return result.header
      default: {
        const open = state === undefined ? 0 : state.until - 1
        return fail(new ProxyHeaderError({ reason: toReason(firstRefusal(bytes, accept, open, result)) }))
      }
    }
  },
  decodeEof: (input) => fail(new ProxyHeaderError({ reason: new Truncated({ received: input.length }) }))
})
