/**
 * The PROXY protocol parser in the shape `proxyIntake.ts` reads it (a
 * result with `until`, a header with its `length` and `addresses`), over
 * `proxy/decoder.ts`'s {@link parse}. Kept until the intake reads the header
 * with the `proxy/decoder.ts` decoder; then this module goes.
 *
 * @internal
 */
import type { Address } from "../services/Address.ts"
import { parse as parseHeader } from "./proxy/decoder.ts"
import { toReason } from "./proxy/errors.ts"
import type { Accept, Tlv } from "./proxy/header.ts"

export { type Accept, MAX_LENGTH } from "./proxy/header.ts"

/** An endpoint as the intake reads it: the address as Node formats it, and the port. */
export type Endpoint =
  | { readonly family: "IPv4" | "IPv6"; readonly address: string; readonly port: number }
  | { readonly family: "unix"; readonly address: string }

/** A complete, valid header, with the bytes it took. */
export interface ProxyHeader {
  readonly version: 1 | 2
  readonly command: "proxy" | "local"
  readonly addresses: {
    readonly transport: "stream" | "dgram"
    readonly source: Endpoint
    readonly destination: Endpoint
  } | undefined
  readonly tlvs: ReadonlyArray<Tlv>
  readonly length: number
}

/** What {@link parse} found; `until` is the input length at which the answer can next change. */
export type ParseResult =
  | { readonly _tag: "NeedMore"; readonly until: number }
  | { readonly _tag: "Parsed"; readonly header: ProxyHeader }
  | { readonly _tag: "Malformed"; readonly reason: string }

const endpoint = (address: Address): Endpoint =>
  address.family === "unix"
    ? { family: "unix", address: address.path }
    : { family: address.family, address: address.host, port: address.port }

/** Reads a PROXY protocol header from `bytes`, the bytes received so far from the start of a connection. */
export const parse = (bytes: Uint8Array, accept: Accept): ParseResult => {
  const result = parseHeader(bytes, accept)
  switch (result._tag) {
    case "Incomplete":
      return { _tag: "NeedMore", until: result.until }
    case "Complete": {
      const { command, destination, source, tlvs, transport, version } = result.header
      const addresses = source === undefined || destination === undefined || transport === undefined
        ? undefined
        : { transport, source: endpoint(source), destination: endpoint(destination) }
      return { _tag: "Parsed", header: { version, command, addresses, tlvs, length: result.length } }
    }
    default:
      return { _tag: "Malformed", reason: toReason(result).message }
  }
}
