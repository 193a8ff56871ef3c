/**
 * What a connection goes through between accept and its handler: the PROXY
 * protocol header of a listener behind a load balancer, and the TLS
 * handshake of a TLS listener. The header is a read the server asks for
 * (Ranch's model): it goes through the connection's own reader with the
 * header decoder, bounded by its deadline on Effect's `Clock`, and the bytes
 * after it stay in the input, for the handler, or for TLS when a handshake
 * follows. A connection refused here never reaches its handler; every step
 * holds the connection's slot from accept. A refused connection is a
 * {@link Refusal}: the close reason and the line its log gets.
 *
 * @internal
 */
import type * as Net from "node:net"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type { TlsHandshakeError } from "../../Errors.ts"
import type { ConnectionImpl } from "../io/connection.ts"
import { implicitTls } from "../io/startTls.ts"
import * as Transport from "../io/transport.ts"
import { infoOf, type ServerTls } from "../tlsEngine.ts"
import type { CloseKind } from "./closeReason.ts"
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
  core: ConnectionImpl,
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

/** How connections closed before their handler ran are reported. */
const proxyRefusal: CloseKind = { reason: "proxy-header", level: "Warn", peerCaused: true }
const tlsRefusal: CloseKind = { reason: "tls-handshake", level: "Info", peerCaused: true }
/** A handshake the server's own certificate made fail: every one is logged. */
const tlsServerFault: CloseKind = { reason: "tls-handshake", level: "Error", peerCaused: false }
const shutdownRefusal: CloseKind = { reason: "shutdown", level: "Debug", peerCaused: false }

/** Why a connection was refused before its handler ran, for its log line and its burst's summary. */
export class Refusal {
  /** The close reason (`proxy-header`, `tls-handshake`, `shutdown`) and how it is logged. */
  readonly kind: CloseKind
  readonly client: string
  /** The error's message: one line naming what was wrong. */
  readonly detail: string
  /** What exactly was refused (`malformed`, `untrusted-source`, `timeout`…): summaries count each apart. */
  readonly why: string
  constructor(kind: CloseKind, client: string, detail: string, why: string) {
    this.kind = kind
    this.client = client
    this.detail = detail
    this.why = why
  }
}

/** An error's tag as a refusal's `why`: `UntrustedSource` is `untrusted-source`. */
const kebab = (tag: string): string => tag.replace(/[A-Z]/g, (letter, at: number) => `${at === 0 ? "" : "-"}${letter.toLowerCase()}`)

/** The server side of an intake: what it asks of the connections it admits into. */
export interface IntakeHost {
  /** The drain has begun: no handshake is started any more. */
  readonly shuttingDown: boolean
  /** The peer of a socket that has no address of its own (a Unix socket's client). */
  readonly fallbackPeer: string
  /** A connection over `transport`, in a scope of its own. */
  readonly makeConnection: (transport: Transport.Transport) => ConnectionImpl
}

const handshakeRefusal = (host: IntakeHost, client: string, error: TlsHandshakeError): Refusal => {
  if (host.shuttingDown) return new Refusal(shutdownRefusal, client, error.detail, "shutdown")
  return new Refusal(error.reason === "server-certificate" ? tlsServerFault : tlsRefusal, client, error.detail, error.reason)
}

/** A TLS listener's handshake, before the connection is built over the TLS socket. */
export const handshaken = (host: IntakeHost, socket: Net.Socket, tls: ServerTls): Effect.Effect<ConnectionImpl, Refusal> => {
  // Read now: a socket closed by a failed handshake no longer knows its peer.
  const client = Transport.peerOf(socket, undefined, host.fallbackPeer).peer
  if (host.shuttingDown) return Effect.fail(new Refusal(shutdownRefusal, client, "server shutting down", "shutdown"))
  return tls.engine.handshake(socket).pipe(
    Effect.mapError((error) => handshakeRefusal(host, client, error)),
    Effect.map((tlsSocket) =>
      host.makeConnection(Transport.fromSocket(socket, undefined, host.fallbackPeer, { socket: tlsSocket, info: infoOf(tlsSocket) }))
    )
  )
}

/** A listener behind a proxy: the connection reads its header, then (on a TLS listener) handshakes. */
export const proxied = (
  host: IntakeHost,
  socket: Net.Socket,
  proxy: ProxyOptions,
  tls: ServerTls | undefined
): Effect.Effect<ConnectionImpl, Refusal> => {
  const source = socket.remoteAddress
  const core = host.makeConnection(Transport.fromSocket(socket, undefined, host.fallbackPeer))
  return readProxyHeader(core, source, proxy).pipe(
    Effect.mapError((error) => new Refusal(proxyRefusal, core.peer, error.message, kebab(error.reason._tag))),
    Effect.flatMap(() => {
      if (tls === undefined) return Effect.succeed(core)
      if (host.shuttingDown) return Effect.fail(new Refusal(shutdownRefusal, core.peer, "server shutting down", "shutdown"))
      return implicitTls(core, tls.engine).pipe(
        Effect.mapError((error) =>
          error._tag === "TlsHandshakeError"
            ? handshakeRefusal(host, core.peer, error)
            : new Refusal(tlsRefusal, core.peer, error.message, kebab(error._tag))
        ),
        Effect.as(core)
      )
    }),
    // Refused: the connection is released at once, with a reset.
    Effect.tapError(() => Effect.andThen(Scope.close(core.scope!, Exit.void), core.release(false)))
  )
}
