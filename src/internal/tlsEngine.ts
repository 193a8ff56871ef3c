/**
 * The TLS engine of a server: its settings loaded (files read, PEM parsed,
 * each key checked against its certificate) into a `tls.Server` that never
 * listens, and the server-side handshake of one socket the line server
 * accepted — at once for implicit TLS, or when a handler calls `startTls`.
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
 * **The deadline** is Node's `handshakeTimeout`, counted from the hand-over.
 * It is an inactivity timer of the TLS socket, but no plaintext moves
 * during a handshake, so bytes a client trickles do not extend it (a test
 * holds it to that); and it fires even for a socket that closed before its
 * hand-over, so every handshake ends.
 *
 * A reload builds a new engine and swaps it in ({@link ServerTls}):
 * handshakes under way finish with the engine they started with; a bad new
 * certificate fails the reload and the old engine stays.
 *
 * @internal
 */
import { Buffer } from "node:buffer"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import type * as Net from "node:net"
import * as Tls from "node:tls"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { constVoid } from "effect/Function"
import { TlsConfigError, TlsHandshakeError } from "../services/Errors.ts"
import { defaults, generateTicketKeys, type PemSource, type TlsInfo, type TlsOptions } from "../services/Tls.ts"
import { abort } from "./io/transport.ts"

/** Reads one PEM source: data as given, a file from disk. */
const readPem = (source: PemSource, what: string): Buffer => {
  if (typeof source === "string") return Buffer.from(source)
  if (source instanceof Uint8Array) return Buffer.from(source)
  try {
    return Fs.readFileSync(source.file)
  } catch (cause) {
    const code = cause instanceof Error && "code" in cause ? ` (${String(cause.code)})` : ""
    throw new TlsConfigError({ reason: `cannot read the ${what}${code}`, file: source.file, cause })
  }
}

const fileOf = (source: PemSource): { readonly file?: string } =>
  typeof source === "object" && !(source instanceof Uint8Array) ? { file: source.file } : {}

/** OpenSSL's short reason (`key values mismatch`) rather than its whole error string. */
const reasonOf = (cause: unknown): string =>
  cause instanceof Error ? ("reason" in cause && typeof cause.reason === "string" ? cause.reason : cause.message) : String(cause)

/** Parses the leaf certificate of a chain and refuses one outside its validity period. */
const checkCertificate = (pem: Buffer, source: PemSource): Crypto.X509Certificate => {
  let certificate: Crypto.X509Certificate
  try {
    certificate = new Crypto.X509Certificate(pem)
  } catch (cause) {
    const reason = pem.includes("-----BEGIN")
      ? "the certificate does not parse"
      : typeof source === "string"
      ? "the certificate is not PEM data (to read a file, pass { file: path })"
      : "the certificate is not PEM data"
    throw new TlsConfigError({ reason, ...fileOf(source), cause })
  }
  const now = Date.now()
  if (Date.parse(certificate.validTo) < now) {
    throw new TlsConfigError({ reason: `the certificate expired on ${certificate.validTo}`, ...fileOf(source) })
  }
  if (Date.parse(certificate.validFrom) > now) {
    throw new TlsConfigError({ reason: `the certificate is not valid before ${certificate.validFrom}`, ...fileOf(source) })
  }
  return certificate
}

/**
 * Runs `build`, turning Node's errors about a key or certificate into a
 * {@link TlsConfigError} naming the key's file.
 */
const withKey = <A>(key: PemSource, build: () => A): A => {
  try {
    return build()
  } catch (cause) {
    if (cause instanceof TlsConfigError) throw cause
    throw new TlsConfigError({ reason: `the key does not fit the certificate: ${reasonOf(cause)}`, ...fileOf(key), cause })
  }
}

/**
 * Rejects settings no server can run with (a programming error: it
 * throws a `RangeError`), before anything is read.
 */
const validate = (options: TlsOptions): void => {
  const clientAuth = options.clientAuth ?? defaults.clientAuth
  if (clientAuth !== "none" && clientAuth !== "request" && clientAuth !== "require") {
    throw new RangeError(`TLS option clientAuth must be "none", "request" or "require", got ${JSON.stringify(clientAuth)}`)
  }
  if (clientAuth !== "none" && options.ca === undefined) {
    throw new RangeError(`TLS option clientAuth "${clientAuth}" needs ca: the CAs that sign client certificates`)
  }
  if (options.ticketKeys !== undefined && options.ticketKeys.length !== 48) {
    throw new RangeError(`TLS option ticketKeys must be 48 bytes, got ${options.ticketKeys.length}`)
  }
  for (const protocol of options.alpnProtocols ?? []) {
    const length = Buffer.byteLength(protocol)
    if (length === 0 || length > 255) throw new RangeError(`TLS option alpnProtocols: invalid protocol name ${JSON.stringify(protocol)}`)
  }
  const millis = Duration.toMillis(Duration.fromInputUnsafe(options.handshakeTimeout ?? defaults.handshakeTimeout))
  if (!(millis > 0 && Number.isFinite(millis))) throw new RangeError(`TLS option handshakeTimeout must be positive, got ${millis} ms`)
}

/** Server names to secure contexts, exact names first, then `*.` wildcards of one label. */
const sniCallback = (contexts: ReadonlyMap<string, Tls.SecureContext>) =>
(servername: string, callback: (error: Error | null, context?: Tls.SecureContext) => void): void => {
  const name = servername.toLowerCase()
  const dot = name.indexOf(".")
  // No match: the default certificate.
  callback(null, contexts.get(name) ?? (dot === -1 ? undefined : contexts.get(`*${name.slice(dot)}`)))
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

/** What a failed handshake says about itself. */
const handshakeError = (
  error: Error & { readonly code?: string },
  tlsSocket: Tls.TLSSocket,
  timeoutMillis: number
): TlsHandshakeError => {
  // Set by Node when it refuses a client certificate that does not verify.
  const rejected = tlsSocket.authorizationError as unknown
  if (rejected !== null && rejected !== undefined) {
    return new TlsHandshakeError({ reason: "client-certificate", detail: `client certificate rejected: ${String(rejected)}` })
  }
  if (error.code === "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE") {
    return new TlsHandshakeError({ reason: "client-certificate", detail: "no client certificate" })
  }
  if (error.code === "ERR_TLS_HANDSHAKE_TIMEOUT") {
    return new TlsHandshakeError({ reason: "timeout", detail: `not complete within ${timeoutMillis} ms` })
  }
  return new TlsHandshakeError({ reason: "failed", detail: reasonOf(error) })
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

/** One set of TLS settings, loaded; runs handshakes. */
export class TlsEngine {
  /** The (leaf) certificate served by default. */
  readonly certificate: Crypto.X509Certificate
  readonly handshakeMillis: number
  private readonly server: Tls.Server
  /** Handshakes under way, by the socket they run over. */
  private readonly pending = new Map<unknown, Settle>()

  /** Loads `options`; throws a {@link TlsConfigError} (see {@link load}). */
  constructor(options: TlsOptions, ticketKeys: Buffer) {
    this.handshakeMillis = Duration.toMillis(Duration.fromInputUnsafe(options.handshakeTimeout ?? defaults.handshakeTimeout))
    const cert = readPem(options.cert, "certificate")
    const key = readPem(options.key, "key")
    this.certificate = checkCertificate(cert, options.cert)
    const cas = options.ca === undefined ? [] : Array.isArray(options.ca) ? options.ca : [options.ca as PemSource]
    const ca = cas.length === 0 ? undefined : cas.map((source) => readPem(source, "CA certificate"))
    const clientAuth = options.clientAuth ?? defaults.clientAuth
    // A session resumes only where its certificate, CAs and client
    // authentication were the same.
    const digest = Crypto.createHash("sha256").update(cert).update(clientAuth)
    for (const pem of ca ?? []) digest.update(pem)
    const sessionIdContext = digest.digest("hex").slice(0, 32)
    const contexts = new Map<string, Tls.SecureContext>()
    for (const [name, sni] of Object.entries(options.sni ?? {})) {
      const sniCert = readPem(sni.cert, `certificate for ${name}`)
      checkCertificate(sniCert, sni.cert)
      const sniKey = readPem(sni.key, `key for ${name}`)
      contexts.set(
        name.toLowerCase(),
        withKey(sni.key, () => Tls.createSecureContext({ cert: sniCert, key: sniKey, ca, ticketKeys, sessionIdContext }))
      )
    }
    this.server = withKey(options.key, () =>
      new Tls.Server({
        cert,
        key,
        ca,
        requestCert: clientAuth !== "none",
        rejectUnauthorized: clientAuth === "require",
        ticketKeys,
        sessionIdContext,
        handshakeTimeout: this.handshakeMillis,
        ...(options.alpnProtocols === undefined ? {} : { ALPNProtocols: [...options.alpnProtocols] }),
        ...(contexts.size === 0 ? {} : { SNICallback: sniCallback(contexts) })
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
      this.pending.get(parentOf(tlsSocket))?.(Effect.fail(handshakeError(error, tlsSocket, this.handshakeMillis)))
    })
  }

  /**
   * Runs the server side of a handshake over `socket` (paused, nothing of it
   * read but what is still in its own buffer, which TLS then consumes) and
   * returns the TLS socket to read and write through. Fails after the
   * handshake timeout, or when the handshake fails; the socket is then
   * aborted.
   */
  handshake(socket: Net.Socket): Effect.Effect<Tls.TLSSocket, TlsHandshakeError> {
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
    })
  }
}

/**
 * Loads TLS settings: reads the files, checks certificates and keys.
 * Settings that cannot be used fail with a {@link TlsConfigError}.
 */
const load = (options: TlsOptions, ticketKeys: Buffer): Effect.Effect<TlsEngine, TlsConfigError> =>
  Effect.try({
    try: () => new TlsEngine(options, ticketKeys),
    catch: (cause) =>
      cause instanceof TlsConfigError ? cause : new TlsConfigError({ reason: reasonOf(cause), cause })
  })

/** A server's TLS: the engine new connections use, and how it is reloaded. */
export class ServerTls {
  /** TLS from the first byte, or only when a handler calls `startTls`. */
  readonly implicit: boolean
  private current: TlsEngine
  private options: TlsOptions
  private ticketKeys: Buffer

  private constructor(engine: TlsEngine, options: TlsOptions, ticketKeys: Buffer, implicit: boolean) {
    this.current = engine
    this.options = options
    this.ticketKeys = ticketKeys
    this.implicit = implicit
  }

  /** Loads a server's settings; its ticket keys are random unless given. */
  static make(options: TlsOptions, implicit: boolean): Effect.Effect<ServerTls, TlsConfigError> {
    validate(options)
    const ticketKeys = Buffer.from(options.ticketKeys ?? generateTicketKeys())
    return Effect.map(load(options, ticketKeys), (engine) => new ServerTls(engine, options, ticketKeys, implicit))
  }

  /** The engine for a handshake starting now. */
  get engine(): TlsEngine {
    return this.current
  }

  /**
   * Loads `options` (default: the settings in use, files read again) and
   * swaps them in for new handshakes; returns the certificate now served.
   * Ticket keys stay unless new ones are given, so sessions keep resuming.
   * On failure nothing changes.
   */
  reload(options?: TlsOptions): Effect.Effect<Crypto.X509Certificate, TlsConfigError> {
    return Effect.suspend(() => {
      const next = options ?? this.options
      validate(next)
      const ticketKeys = next.ticketKeys === undefined ? this.ticketKeys : Buffer.from(next.ticketKeys)
      return Effect.map(load(next, ticketKeys), (engine) => {
        this.current = engine
        this.options = next
        this.ticketKeys = ticketKeys
        return engine.certificate
      })
    })
  }
}
