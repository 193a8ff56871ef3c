/**
 * Why a PROXY protocol header was refused: one {@link ProxyHeaderError}
 * whose `reason` says what was wrong, modelled on Effect's `SocketError`
 * (`effect/socket/Socket`). Catch the whole with
 * `Effect.catchTag("ProxyHeaderError", …)`, or one reason with
 * `Effect.catchReason("ProxyHeaderError", "Malformed", …)`. Each reason's
 * `message` is one log line naming what was wrong and, where there is one,
 * the value, quoted with anything but printable ASCII escaped, so a
 * hostile header cannot forge log lines.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"

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

const hex = (n: number, digits: number): string => `0x${n.toString(16).padStart(digits, "0")}`

/**
 * The input starts with neither signature (`PROXY ` for v1, the 12-byte
 * binary one for v2), or not with the one `accept` allows: a client that
 * reached the server without the proxy, or a proxy not configured to send
 * headers. `received` is how the input began: read from a connection, up to
 * and including the first byte that ruled a header out.
 */
export class NotAHeader extends Schema.TaggedError<NotAHeader>("fiberline/ProxyHeaderError/NotAHeader")("NotAHeader", {
  accept: Schema.Literals(["v1", "v2", "any"]),
  received: Schema.Uint8Array
}) {
  override get message(): string {
    const version = this.accept === "any" ? "" : `${this.accept} `
    return `not a PROXY protocol ${version}header (starts with ${excerpt(this.received, 8)})`
  }
}

/** A header of a version the listener does not accept (`accept` is the one it does). */
export class VersionNotAccepted extends Schema.TaggedError<VersionNotAccepted>(
  "fiberline/ProxyHeaderError/VersionNotAccepted"
)("VersionNotAccepted", { version: Schema.Literals([1, 2]), accept: Schema.Literals(["v1", "v2"]) }) {
  override get message(): string {
    return this.version === 2
      ? `v2 signature, but only ${this.accept} headers are accepted`
      : `v1 header, but only ${this.accept} headers are accepted`
  }
}

/** A binary header whose version nibble is not 2: a version of the protocol this server does not know. */
export class UnsupportedVersion extends Schema.TaggedError<UnsupportedVersion>(
  "fiberline/ProxyHeaderError/UnsupportedVersion"
)("UnsupportedVersion", { version: Schema.Int }) {
  override get message(): string {
    return `v2: unsupported version ${this.version}`
  }
}

/**
 * The header breaks a rule of its version: `detail` says which (a bad
 * address, an unknown command, a TLV that overruns the header…), and `value`
 * is the offending field's text, for v1, as far as it had arrived.
 */
export class Malformed extends Schema.TaggedError<Malformed>("fiberline/ProxyHeaderError/Malformed")("Malformed", {
  version: Schema.Literals([1, 2]),
  detail: Schema.String,
  value: Schema.optional(Schema.String)
}) {
  override get message(): string {
    const value = this.value === undefined ? "" : ` ${excerpt(Array.from(this.value, (c) => c.charCodeAt(0)), 24)}`
    return `v${this.version}: ${this.detail}${value}`
  }
}

/** A v1 line that cannot end within `limit` bytes (107, the spec's longest), CRLF included. */
export class TooLong extends Schema.TaggedError<TooLong>("fiberline/ProxyHeaderError/TooLong")("TooLong", {
  limit: Schema.Int
}) {
  override get message(): string {
    return `v1: no CRLF within the first ${this.limit} bytes`
  }
}

/**
 * A v2 header whose CRC32C TLV does not match its bytes (`sent` is the TLV's
 * value, `computed` the checksum of what arrived): corrupted on the way.
 */
export class ChecksumMismatch extends Schema.TaggedError<ChecksumMismatch>(
  "fiberline/ProxyHeaderError/ChecksumMismatch"
)("ChecksumMismatch", { sent: Schema.Int, computed: Schema.Int }) {
  override get message(): string {
    return `v2: CRC32C mismatch (header says ${hex(this.sent, 8)}, bytes give ${hex(this.computed, 8)})`
  }
}

/** The input ended after `received` bytes (at least one) of a header that was valid so far. */
export class Truncated extends Schema.TaggedError<Truncated>("fiberline/ProxyHeaderError/Truncated")("Truncated", {
  received: Schema.Int
}) {
  override get message(): string {
    return `input ended after ${this.received} bytes of a PROXY header`
  }
}

/** The connection came from an address that is not one of the trusted proxies: no header is read from it. */
export class UntrustedSource extends Schema.TaggedError<UntrustedSource>("fiberline/ProxyHeaderError/UntrustedSource")(
  "UntrustedSource",
  { address: Schema.optional(Schema.String) }
) {
  override get message(): string {
    return `${this.address ?? "an unknown source"} is not a trusted proxy`
  }
}

/** No complete header arrived within the header timeout (`received` bytes of one did). */
export class HeaderTimeout extends Schema.TaggedError<HeaderTimeout>("fiberline/ProxyHeaderError/HeaderTimeout")(
  "HeaderTimeout",
  { timeout: Schema.Duration, received: Schema.Int }
) {
  override get message(): string {
    return `no complete PROXY header within ${Duration.format(this.timeout)} (${this.received} bytes)`
  }
}

/** Every reason a header is refused. */
export const ProxyHeaderReason = Schema.Union([
  NotAHeader,
  VersionNotAccepted,
  UnsupportedVersion,
  Malformed,
  TooLong,
  ChecksumMismatch,
  Truncated,
  UntrustedSource,
  HeaderTimeout
])

/** The type of {@link ProxyHeaderReason}. */
export type ProxyHeaderReason =
  | NotAHeader
  | VersionNotAccepted
  | UnsupportedVersion
  | Malformed
  | TooLong
  | ChecksumMismatch
  | Truncated
  | UntrustedSource
  | HeaderTimeout

const reasons = { NotAHeader, VersionNotAccepted, UnsupportedVersion, Malformed, TooLong, ChecksumMismatch, Truncated }

/**
 * A reason as plain data, its tag and its fields: what the parsers return.
 * Building an error captures a stack and checks its fields, tens of
 * microseconds; the decoder may ask the parser about several prefixes of a
 * refused header, so an error is built only once, by {@link toReason}.
 */
export type Refusal = {
  readonly [Tag in keyof typeof reasons]: { readonly _tag: Tag } & ConstructorParameters<(typeof reasons)[Tag]>[0]
}[keyof typeof reasons]

/** The reason a {@link Refusal} stands for. */
export const toReason = ({ _tag, ...fields }: Refusal): ProxyHeaderReason =>
  // The tag picks the class whose fields these are; TypeScript cannot correlate the two.
  new reasons[_tag](fields as never)

/**
 * A connection's PROXY protocol header was refused; `reason` says why, and
 * `message` is the reason's.
 *
 * **Details**
 *
 * A read that fails with it takes nothing from the input, so reading again
 * fails the same way. A connection that ends before sending a byte fails
 * its read with `EndOfInput` instead.
 */
export class ProxyHeaderError extends Schema.TaggedError<ProxyHeaderError>("fiberline/ProxyHeaderError")(
  "ProxyHeaderError",
  { reason: ProxyHeaderReason }
) {
  override get message(): string {
    return this.reason.message
  }
}
