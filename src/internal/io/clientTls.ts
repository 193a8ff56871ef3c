/**
 * The TLS of a client: its settings loaded (CAs, certificate and key read
 * and checked as a server's are, by `tlsMaterial.ts`) and the client side of
 * a handshake over a connected socket, run by Node's `tls.connect({ socket
 * })` — at connect (`LineClient`) or when the client calls `startTls`. The
 * handshake is bounded by its timeout on Effect's `Clock`; a failure says
 * whether the server's certificate was refused (with Node's code), and
 * aborts the socket.
 *
 * @internal
 */
import { Buffer } from "node:buffer"
import * as Net from "node:net"
import * as Tls from "node:tls"
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { constVoid } from "effect/Function"
import { TlsConfigError, TlsHandshakeError } from "../../Errors.ts"
import * as Options from "../../Options.ts"
import { type ClientTlsOptions, ClientTlsOptions as ClientTlsOptionsSchema, defaults, type PemSource } from "../../Tls.ts"
import { loadCa, loadPair } from "../tlsMaterial.ts"
import { abort } from "./transport.ts"

/** What Node says went wrong, and its code when it has one. */
const detailOf = (error: Error & { readonly code?: unknown; readonly reason?: unknown }) => ({
  detail: typeof error.reason === "string" ? error.reason : error.message,
  ...(typeof error.code === "string" ? { code: error.code } : {})
})

/** Decodes a client's settings: an invalid one fails like settings whose files are unusable. */
const decodeSettings = (options: ClientTlsOptions) =>
  Effect.mapError(Options.decode(ClientTlsOptionsSchema, options, { prefix: "tls" }), (cause) => new TlsConfigError({ reason: cause.message, cause }))

/** A client's TLS settings, loaded: runs the client side of handshakes. */
export class ClientTls {
  /** The host connected to, checked against the server's certificate unless `servername` says otherwise. */
  readonly host: string | undefined
  readonly handshakeTimeout: Duration.Duration
  private readonly connectOptions: Tls.ConnectionOptions

  private constructor(host: string | undefined, options: Tls.ConnectionOptions, handshakeTimeout: Duration.Duration) {
    this.host = host
    this.connectOptions = options
    this.handshakeTimeout = handshakeTimeout
  }

  /**
   * Loads `options` for connections to `host` (`undefined` over a Unix
   * socket): files read, certificate and key checked. Settings that cannot
   * be used, invalid values included, fail with a {@link TlsConfigError}.
   */
  static load(input: ClientTlsOptions, host: string | undefined): Effect.Effect<ClientTls, TlsConfigError> {
    return Effect.gen(function*() {
      const options = yield* decodeSettings(input)
      const handshakeTimeout = options.handshakeTimeout ?? defaults.handshakeTimeout
      const now = yield* Clock.currentTimeMillis
      const pair = options.cert === undefined || options.key === undefined ? undefined : yield* loadPair(options.cert, options.key, now)
      const sources = options.ca === undefined ? [] : Array.isArray(options.ca) ? options.ca : [options.ca as PemSource]
      const ca: Array<Buffer> = yield* Effect.forEach(sources, loadCa)
      const servername = options.servername ?? (host === undefined || Net.isIP(host) !== 0 ? undefined : host)
      const verify = options.verify ?? true
      return new ClientTls(host, {
        ...(host === undefined ? {} : { host }),
        ...(servername === undefined ? {} : { servername }),
        ...(ca.length === 0 ? {} : { ca }),
        ...(pair === undefined ? {} : { cert: pair.cert, key: pair.key }),
        ...(options.alpnProtocols === undefined ? {} : { ALPNProtocols: [...options.alpnProtocols] }),
        rejectUnauthorized: verify,
        ...(verify ? {} : { checkServerIdentity: () => undefined })
      }, handshakeTimeout)
    })
  }

  /** Other settings for the same host (`startTls({ tls })`). */
  with(options: ClientTlsOptions): Effect.Effect<ClientTls, TlsConfigError> {
    return ClientTls.load(options, this.host)
  }

  /**
   * Runs the client side of a handshake over `socket` (connected, nothing
   * of it read but what is still in its own buffer, which TLS then
   * consumes) and returns the TLS socket to read and write through. Fails
   * after the handshake timeout, or when the handshake fails (`reason`
   * `server-certificate` when the server's certificate did not verify); the
   * socket is then aborted, as it is when the handshake is interrupted.
   */
  handshake(socket: Net.Socket): Effect.Effect<Tls.TLSSocket, TlsHandshakeError> {
    return Effect.callback<Tls.TLSSocket, TlsHandshakeError>((resume) => {
      const tlsSocket = Tls.connect({ ...this.connectOptions, socket })
      const onError = (error: Error) => {
        // Set by Node when it refuses the server's certificate (chain or name).
        const refused = tlsSocket.authorizationError as unknown
        const failure = detailOf(error)
        resume(Effect.fail(
          refused === null || refused === undefined
            ? new TlsHandshakeError({ reason: "failed", ...failure })
            : new TlsHandshakeError({ reason: "server-certificate", detail: failure.detail, code: failure.code ?? String(refused) })
        ))
      }
      tlsSocket.once("error", onError)
      tlsSocket.once("secureConnect", () => {
        tlsSocket.off("error", onError)
        // Errors reach the connection once it listens; none may go uncaught before.
        tlsSocket.on("error", constVoid)
        resume(Effect.succeed(tlsSocket))
      })
      return Effect.sync(() => {
        tlsSocket.off("error", onError)
        tlsSocket.on("error", constVoid)
        // The TCP socket first: destroying the TLS socket would close it with a FIN, not a reset.
        abort(socket)
        tlsSocket.destroy()
      })
    }).pipe(
      Effect.timeoutOrElse({
        duration: this.handshakeTimeout,
        orElse: () => Effect.fail(new TlsHandshakeError({ reason: "timeout", detail: "the server did not complete the handshake in time" }))
      }),
      Effect.tapError(() => Effect.sync(() => abort(socket)))
    )
  }
}
