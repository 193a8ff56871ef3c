/**
 * The TLS engine of a server: its settings loaded (files read, PEM parsed,
 * each key checked against its certificate: `tlsMaterial.ts`) into a
 * `tls.Server` that never listens, and the server-side handshake of one
 * socket the line server accepted — at once for implicit TLS, or when a
 * handler calls `startTls`. Every context accepts only the cipher suites of
 * `ciphers` (forward-secret AEAD ones by default) and refuses client
 * renegotiation.
 *
 * **Why a `tls.Server` that never listens.** Node verifies client
 * certificates, applies `requestCert`/`rejectUnauthorized`, selects SNI
 * contexts and issues session tickets on its TLS server's connection path.
 * A socket handed to that server with `emit("connection", socket)` (which
 * Node documents for injecting connections) gets exactly the handshake
 * `tls.createServer` would give it, over the same file descriptor: the line
 * server keeps its one `net.Server`. A bare `new TLSSocket(socket, { isServer:
 * true })` would not check a client certificate at all.
 *
 * **The deadline** runs on Effect's `Clock`, counted from the hand-over:
 * an absolute one, so bytes a client trickles do not extend it, of any
 * length (Node's own `handshakeTimeout`, off here, is a Node timer, which
 * fires at once past 2^31 - 1 ms), and `TestClock` drives it.
 *
 * A reload builds a new engine and swaps it in ({@link ServerTls}):
 * handshakes under way finish with the engine they started with; a bad new
 * certificate fails the reload and the old engine stays. (Past 300 lines:
 * the engine, its handshakes and its reload share one state; reading and
 * checking the files is `tlsMaterial.ts`'s.)
 *
 * @internal
 */
import { Buffer } from "node:buffer"
import * as Crypto from "node:crypto"
import type * as Net from "node:net"
import * as Tls from "node:tls"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { constVoid } from "effect/Function"
import * as Semaphore from "effect/Semaphore"
import { TlsConfigError, TlsHandshakeError } from "../Errors.ts"
import * as Options from "../Options.ts"
import { defaults, generateTicketKeys, type TlsInfo, TlsOptions as TlsOptionsSchema, type TlsOptions } from "../Tls.ts"
import { abort } from "./io/transport.ts"
import { loadMaterial, type Material, outOfValidity } from "./tlsMaterial.ts"

/** OpenSSL's short reason (`no cipher match`) rather than its whole error string. */
const reasonOf = (cause: unknown): string =>
  cause instanceof Error ? ("reason" in cause && typeof cause.reason === "string" ? cause.reason : cause.message) : String(cause)

/**
 * Runs `build` (Node's secure contexts, from material already checked),
 * turning what Node still refuses into a {@link TlsConfigError}: a cipher
 * list that matches nothing, or OpenSSL's own reason.
 */
const withContext = <A>(ciphers: string | undefined, build: () => A): A => {
  try {
    return build()
  } catch (cause) {
    const code = cause instanceof Error && "code" in cause ? cause.code : undefined
    const reason = code === "ERR_SSL_NO_CIPHER_MATCH" && ciphers !== undefined
      ? `TLS option ciphers ${JSON.stringify(ciphers)} matches no cipher suite`
      : reasonOf(cause)
    throw new TlsConfigError({ reason, cause })
  }
}

/** A secure context and the certificate it serves. */
interface Served {
  readonly context: Tls.SecureContext
  readonly certificate: Crypto.X509Certificate
}

/** The SNI entry for a server name: exact names first, then `*.` wildcards of one label. */
const lookup = (entries: ReadonlyMap<string, Served>, servername: string): Served | undefined => {
  const name = servername.toLowerCase()
  const dot = name.indexOf(".")
  return entries.get(name) ?? (dot === -1 ? undefined : entries.get(`*${name.slice(dot)}`))
}

/**
 * The socket a server-side TLS socket was made over. `tls.Server`'s events
 * name only the TLS socket; Node's `TLSSocket` keeps the `net.Socket` it
 * wraps as `_parent` (set for every `net.Socket` in its `_init`). Were that
 * ever to change, every handshake would time out and every TLS test fail.
 */
const parentOf = (tlsSocket: Tls.TLSSocket): unknown =>
  // oxlint-disable-next-line no-underscore-dangle -- Node's field, see above
  (tlsSocket as Tls.TLSSocket & { readonly _parent?: unknown })._parent

/** What a failed handshake says about itself, the peer's side of it. */
const handshakeError = (error: Error & { readonly code?: string }, tlsSocket: Tls.TLSSocket): TlsHandshakeError => {
  // Set by Node when it refuses a client certificate that does not verify.
  const rejected = tlsSocket.authorizationError as unknown
  if (rejected !== null && rejected !== undefined) {
    return new TlsHandshakeError({ reason: "client-certificate", detail: `client certificate rejected: ${String(rejected)}` })
  }
  if (error.code === "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE") {
    return new TlsHandshakeError({ reason: "client-certificate", detail: "no client certificate" })
  }
  return new TlsHandshakeError({ reason: "failed", detail: reasonOf(error) })
}

/**
 * A failed handshake is the server's fault when its certificate is outside
 * its validity period at `now` (it expired while the server ran): clients
 * that check it refuse it. Only the server's state decides, so no peer can
 * pass its refusal off as the server's fault; OpenSSL's reason would not
 * tell ("no suitable signature algorithm" is also what a client that
 * offers no algorithm for the server's key gets).
 */
const blame = (failure: TlsHandshakeError, certificate: Crypto.X509Certificate, now: number): TlsHandshakeError => {
  const problem = failure.reason === "failed" ? outOfValidity(certificate, now) : undefined
  return problem === undefined ? failure : new TlsHandshakeError({
    reason: "server-certificate",
    detail: `the server's certificate ${problem}, so clients refuse it (${failure.detail})`
  })
}

/** What the handler sees of a completed handshake. */
export const infoOf = (tlsSocket: Tls.TLSSocket): TlsInfo => {
  const authorizationError = tlsSocket.authorizationError as unknown
  return {
    protocol: tlsSocket.getProtocol() ?? "unknown",
    cipher: tlsSocket.getCipher().standardName,
    alpnProtocol: typeof tlsSocket.alpnProtocol === "string" ? tlsSocket.alpnProtocol : undefined,
    servername: typeof tlsSocket.servername === "string" ? tlsSocket.servername : undefined,
    authorized: tlsSocket.authorized,
    authorizationError: authorizationError === null || authorizationError === undefined ? undefined : String(authorizationError),
    peerCertificate: tlsSocket.getPeerX509Certificate(),
    resumed: tlsSocket.isSessionReused()
  }
}

type Settle = (outcome: Effect.Effect<Tls.TLSSocket, TlsHandshakeError>) => void

/**
 * What every context refuses: client-initiated renegotiation (TLS 1.2),
 * which Node would otherwise honour three times per connection in ten
 * minutes (each one a full handshake's CPU at the client's will).
 */
const secureOptions = Crypto.constants.SSL_OP_NO_RENEGOTIATION

/** One set of TLS settings, loaded; runs handshakes. */
export class TlsEngine {
  /** The (leaf) certificate served by default. */
  readonly certificate: Crypto.X509Certificate
  readonly handshakeTimeout: Duration.Duration
  private readonly server: Tls.Server
  private readonly sni: ReadonlyMap<string, Served>
  /** Handshakes under way, by the socket they run over. */
  private readonly pending = new Map<unknown, Settle>()

  /** Builds the contexts of checked `material`; throws a {@link TlsConfigError} for what Node still refuses. */
  constructor(material: Material, options: TlsSettings, ticketKeys: Buffer) {
    this.handshakeTimeout = options.handshakeTimeout ?? defaults.handshakeTimeout
    const { pair } = material
    const ca = material.ca === undefined ? undefined : [...material.ca]
    this.certificate = pair.certificate
    const clientAuth = options.clientAuth ?? defaults.clientAuth
    const ciphers = options.ciphers ?? defaults.ciphers
    // A session resumes only where its certificate, CAs and client
    // authentication were the same.
    const digest = Crypto.createHash("sha256").update(pair.cert).update(clientAuth)
    for (const pem of ca ?? []) digest.update(pem)
    const sessionIdContext = digest.digest("hex").slice(0, 32)
    const sni = new Map<string, Served>()
    for (const [name, { cert, certificate, key }] of material.sni) {
      const context = withContext(
        options.ciphers,
        () => Tls.createSecureContext({ cert, key, ca, ciphers, secureOptions, ticketKeys, sessionIdContext })
      )
      sni.set(name, { context, certificate })
    }
    this.sni = sni
    this.server = withContext(options.ciphers, () =>
      new Tls.Server({
        cert: pair.cert,
        key: pair.key,
        ca,
        ciphers,
        secureOptions,
        requestCert: clientAuth !== "none",
        rejectUnauthorized: clientAuth === "require",
        ticketKeys,
        sessionIdContext,
        // The deadline is the Clock's (see the module doc).
        handshakeTimeout: 0,
        ...(options.alpnProtocols === undefined ? {} : { ALPNProtocols: [...options.alpnProtocols] }),
        ...(sni.size === 0 ? {} : {
          // No match: the default certificate.
          SNICallback: (servername: string, callback: (error: Error | null, context?: Tls.SecureContext) => void) =>
            callback(null, lookup(sni, servername)?.context)
        })
      }))
    this.server.on("secureConnection", (tlsSocket: Tls.TLSSocket) => {
      // Errors reach the connection once it listens; none may go uncaught before.
      tlsSocket.on("error", constVoid)
      // Replies may follow the peer's close_notify and FIN, as over TCP (see handshake).
      tlsSocket.allowHalfOpen = true
      const settle = this.pending.get(parentOf(tlsSocket))
      // Its handshake was given up (the connection's fiber was interrupted).
      if (settle === undefined) return void tlsSocket.destroy()
      settle(Effect.succeed(tlsSocket))
    })
    this.server.on("tlsClientError", (error: Error, tlsSocket: Tls.TLSSocket) => {
      const settle = this.pending.get(parentOf(tlsSocket))
      if (settle === undefined) return
      const failure = handshakeError(error, tlsSocket)
      const certificate = this.certificateFor(tlsSocket.servername)
      settle(Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.fail(blame(failure, certificate, now))))
    })
  }

  /** The certificate served to a client that asked for `servername` (SNI), or for none. */
  private certificateFor(servername: unknown): Crypto.X509Certificate {
    const served = typeof servername === "string" ? lookup(this.sni, servername) : undefined
    return served?.certificate ?? this.certificate
  }

  /**
   * Runs the server side of a handshake over `socket` (paused, nothing of it
   * read but what is still in its own buffer, which TLS then consumes) and
   * returns the TLS socket to read and write through. Fails after the
   * handshake timeout, or when the handshake fails; the socket is then
   * aborted.
   */
  handshake(socket: Net.Socket): Effect.Effect<Tls.TLSSocket, TlsHandshakeError> {
    const timeout = this.handshakeTimeout
    return Effect.callback<Tls.TLSSocket, TlsHandshakeError>((resume) => {
      const settle: Settle = (outcome) => {
        this.pending.delete(socket)
        resume(Effect.tapError(outcome, () => Effect.sync(() => abort(socket))))
      }
      this.pending.set(socket, settle)
      // The TLS socket copies this: a peer that half-closes during the
      // handshake can never finish it, and ending at once reports it (as
      // `tlsClientError`) instead of waiting for the deadline.
      const allowHalfOpen = socket.allowHalfOpen
      socket.allowHalfOpen = false
      this.server.emit("connection", socket)
      socket.allowHalfOpen = allowHalfOpen
      return Effect.sync(() => {
        this.pending.delete(socket)
      })
    }).pipe(
      Effect.timeoutOrElse({
        duration: timeout,
        orElse: () =>
          Effect.sync(() => abort(socket)).pipe(
            Effect.andThen(Effect.fail(new TlsHandshakeError({ reason: "timeout", detail: `not complete within ${Duration.toMillis(timeout)} ms` })))
          )
      })
    )
  }
}

/**
 * Loads TLS settings: reads the files, checks certificates and keys
 * (see `tlsMaterial.ts`), builds the contexts. Settings that cannot be used
 * fail with a {@link TlsConfigError}.
 */
const load = (options: TlsSettings, ticketKeys: Buffer): Effect.Effect<TlsEngine, TlsConfigError> =>
  Effect.flatMap(loadMaterial(options), (material) =>
    Effect.try({
      try: () => new TlsEngine(material, options, ticketKeys),
      catch: (cause) => cause instanceof TlsConfigError ? cause : new TlsConfigError({ reason: reasonOf(cause), cause })
    }))

/** TLS settings as decoded by their schema. */
type TlsSettings = typeof TlsOptionsSchema.Type

/**
 * Decodes settings given to `startTls` or `reloadTls`: an invalid one fails
 * like settings whose files are unusable (`LineServer.make` decodes its own
 * first, as an option of the server).
 */
const decodeSettings = (options: TlsOptions): Effect.Effect<TlsSettings, TlsConfigError> =>
  Effect.mapError(Options.decode(TlsOptionsSchema, options, { prefix: "tls" }), (cause) => new TlsConfigError({ reason: cause.message, cause }))

/** A server's TLS: the engine new connections use, and how it is reloaded. */
export class ServerTls {
  /** TLS from the first byte, or only when a handler calls `startTls`. */
  readonly implicit: boolean
  private current: TlsEngine
  private options: TlsSettings
  private ticketKeys: Buffer
  /** One reload at a time: reads take a while now, and the last one started must win. */
  private readonly reloading = Semaphore.makeUnsafe(1)

  private constructor(engine: TlsEngine, options: TlsSettings, ticketKeys: Buffer, implicit: boolean) {
    this.current = engine
    this.options = options
    this.ticketKeys = ticketKeys
    this.implicit = implicit
  }

  /** Loads a server's settings; its ticket keys are random unless given. */
  static make(options: TlsOptions, implicit: boolean): Effect.Effect<ServerTls, TlsConfigError> {
    return Effect.flatMap(decodeSettings(options), (settings) => {
      const ticketKeys = Buffer.from(settings.ticketKeys ?? generateTicketKeys())
      return Effect.map(load(settings, ticketKeys), (engine) => new ServerTls(engine, settings, ticketKeys, implicit))
    })
  }

  /** The engine for a handshake starting now. */
  get engine(): TlsEngine {
    return this.current
  }

  /**
   * Loads `options` (default: the settings in use, files read again) and
   * swaps them in for new handshakes; returns the certificate now served.
   * Ticket keys stay unless new ones are given, so sessions keep resuming.
   * On failure nothing changes. Reloads run one after another.
   */
  reload(options?: TlsOptions): Effect.Effect<Crypto.X509Certificate, TlsConfigError> {
    return this.reloading.withPermit(Effect.flatMap(
      options === undefined ? Effect.sync(() => this.options) : decodeSettings(options),
      (next) => {
        const ticketKeys = next.ticketKeys === undefined ? this.ticketKeys : Buffer.from(next.ticketKeys)
        return Effect.map(load(next, ticketKeys), (engine) => {
          this.current = engine
          this.options = next
          this.ticketKeys = ticketKeys
          return engine.certificate
        })
      }
    ))
  }
}
