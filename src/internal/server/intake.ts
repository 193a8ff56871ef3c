/**
 * What a connection goes through between accept and its handler: the PROXY
 * protocol header of a listener behind a load balancer, and the TLS
 * handshake of a TLS listener. The header is a read the server asks for
 * (Ranch's model): it goes through the connection's own reader with the
 * header decoder, bounded by its deadline on Effect's `Clock`, and the bytes
 * after it stay in the input, for the handler, or for TLS when a handshake
 * follows. A connection refused here never reaches its handler; every step
 * holds the connection's slot from accept.
 *
 * @internal
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { ConnectionCore } from "../io/connection.ts"
import { header } from "../proxy/decoder.ts"
import { HeaderTimeout, ProxyHeaderError, Truncated, UntrustedSource } from "../proxy/errors.ts"
import type { Accept, ProxyHeader } from "../proxy/header.ts"

/** How a listener reads PROXY headers. */
export interface ProxyOptions {
  readonly accept: Accept
  readonly timeout: Duration.Duration
  /** Source addresses allowed to connect (the proxies); every source when absent. */
  readonly trusted: ReadonlySet<string> | undefined
}

/** `::ffff:10.0.0.1` and `10.0.0.1` are one source. */
const plainSource = (address: string): string => (address.startsWith("::ffff:") ? address.slice(7) : address)

/** The set of trusted proxy addresses, normalized as sources are compared. */
export const trustedSet = (addresses: ReadonlyArray<string>): ReadonlySet<string> => new Set(addresses.map(plainSource))

const refused = (reason: ProxyHeaderError["reason"]) => new ProxyHeaderError({ reason })

/**
 * Reads the PROXY header of `core`, whose socket came from `source`, and
 * makes the header's client the connection's peer. Fails with a
 * `ProxyHeaderError` saying why a connection is refused: an untrusted
 * source, a malformed or truncated header, or none complete in time.
 */
export const readProxyHeader = (
  core: ConnectionCore,
  source: string | undefined,
  options: ProxyOptions
): Effect.Effect<ProxyHeader, ProxyHeaderError> => {
  if (options.trusted !== undefined && (source === undefined || !options.trusted.has(plainSource(source)))) {
    return Effect.fail(refused(new UntrustedSource(source === undefined ? {} : { address: source })))
  }
  return core.read(header(options.accept)).pipe(
    Effect.catch((error) =>
      error instanceof ProxyHeaderError
        ? Effect.fail(error)
        // The input ended before a byte of it, or the transport failed.
        : Effect.fail(refused(new Truncated({ received: core.reader.unread })))
    ),
    Effect.timeoutOrElse({
      duration: options.timeout,
      orElse: () => Effect.fail(refused(new HeaderTimeout({ timeout: options.timeout, received: core.reader.unread })))
    }),
    Effect.tap((proxied) => Effect.sync(() => core.proxied(proxied)))
  )
}
