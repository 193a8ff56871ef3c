/**
 * TLS for line servers, on Node's own `tls` module: the settings a server
 * (or one `startTls` call) is given, and what a handler learns about its
 * encrypted connection.
 *
 * A server with a `tls` option either speaks TLS from the first byte
 * (`tlsMode: "implicit"`, the default: IMAPS, SMTPS, LDAPS…) or plaintext
 * until its handler calls `conn.startTls()` (`tlsMode: "starttls"`: SMTP,
 * IMAP, POP3, XMPP, LDAP). Either way the handshake runs on the accepted
 * socket, after any PROXY protocol header, and the handler reads and writes
 * plaintext as before; `conn.tls` tells it what was negotiated.
 *
 * Why these shapes: certificates come from files (re-read by
 * `LineServer.reloadTls`, so a renewed certificate is served without a
 * restart) or as PEM data (from a secret store); client authentication is
 * one setting with three meanings rather than Node's two interacting
 * booleans; session ticket keys can be given so that several processes
 * resume each other's sessions.
 *
 * Past 300 lines because it is one option group's whole schema, each field
 * with the rule it follows, and what a handler learns of its session.
 *
 * @since 0.1.0
 */
import { Buffer } from "node:buffer"
import * as Crypto from "node:crypto"
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"
import * as Options from "./Options.ts"

/**
 * PEM text (`"-----BEGIN CERTIFICATE-----\n…"`) or its bytes, or a file to
 * read it from. Files are read when the server starts and again on every
 * `reloadTls`; data is used as given.
 *
 * **Gotchas**
 *
 * A plain string is data, never a path: write `{ file: "cert.pem" }`.
 *
 * A file is read asynchronously and must arrive within 5 s and be at most
 * 1 MiB (a pipe works too, e.g. a shell's `<(…)`); a pipe nobody writes to,
 * or a mount that hangs, fails the load with a `TlsConfigError` naming the
 * file instead of freezing the server.
 *
 * @since 0.1.0
 */
export const PemSource = Schema.Union([
  Schema.String,
  Schema.Uint8Array,
  Schema.Struct({ file: Options.Path })
]).annotate({ expected: "PEM text or bytes, or { file }" })

/**
 * PEM text or bytes, or a file to read it from (see the schema above).
 *
 * @since 0.1.0
 */
export type PemSource = typeof PemSource.Type

/**
 * Whether a server asks clients for a certificate:
 *
 * - `none`: never (the default);
 * - `request`: asks; a client without one, or with one that does not verify
 *   against `ca`, is served anyway, and `conn.tls.authorized` is false;
 * - `require`: a client without a certificate signed by `ca` is refused
 *   during the handshake (close reason `tls-handshake`); the handler never
 *   runs for it.
 *
 * @since 0.1.0
 */
export const ClientAuth = Schema.Literals(["none", "request", "require"])

/**
 * Whether a server asks clients for a certificate (see the schema above).
 *
 * @since 0.1.0
 */
export type ClientAuth = typeof ClientAuth.Type

/**
 * The certificate and key served to clients that ask for one server name
 * (SNI), instead of the default ones.
 *
 * @since 0.1.0
 */
export const SniCertificate = Schema.Struct({ cert: PemSource, key: PemSource })

/**
 * A certificate and key for one server name (see the schema above).
 *
 * @since 0.1.0
 */
export interface SniCertificate extends Schema.Codec.Encoded<typeof SniCertificate> {}

/** An ALPN protocol name: 1 to 255 bytes. */
const AlpnProtocol = Schema.String.check(
  Schema.makeFilter((name: string) => Buffer.byteLength(name) > 0 && Buffer.byteLength(name) <= 255, {
    expected: "a protocol name of 1 to 255 bytes"
  })
)

const PemSources = Schema.Union([PemSource, Schema.Array(PemSource)])

/**
 * TLS settings of a server (`LineServer` option `tls`) or of one
 * `startTls` call. The schema checks shapes and numbers; whether the files
 * and PEM data can be used is checked when they are loaded (a
 * `TlsConfigError`).
 *
 * @since 0.1.0
 */
export const TlsOptions = Schema.Struct({
  /** The certificate chain to serve, leaf first (PEM). */
  cert: PemSource,
  /** The private key of `cert` (PEM, unencrypted). */
  key: PemSource,
  /** CA certificates that sign acceptable client certificates; needed by `clientAuth` other than `none`. */
  ca: Schema.optional(PemSources),
  /** Whether to ask clients for a certificate; see {@link ClientAuth}. Default `none`. */
  clientAuth: Schema.optional(ClientAuth),
  /**
   * Application protocols the server speaks, most preferred first, for ALPN
   * (e.g. `["imap"]`). A client that offers protocols, none of them in this
   * list, is refused during the handshake. Default: no ALPN.
   */
  alpnProtocols: Schema.optional(Schema.Array(AlpnProtocol)),
  /**
   * Certificates by server name (SNI), for clients that ask for a name:
   * `"mail.example.com"`, or `"*.example.com"` for any one label in front.
   * Other clients get `cert`.
   */
  sni: Schema.optional(Schema.Record(Schema.String, SniCertificate)),
  /**
   * 48 bytes that encrypt TLS session tickets. Servers (processes) given the
   * same keys resume each other's sessions, so a client that reconnects to
   * another worker skips the full handshake. Default: random keys of this
   * server, kept across reloads.
   */
  ticketKeys: Schema.optional(Schema.Uint8Array.check(
    Schema.makeFilter((keys: Uint8Array) => keys.length === 48, { expected: "48 bytes" })
  )),
  /**
   * How long a handshake may take, counted from its start (accept, or the
   * `startTls` call's hand-over), on Effect's `Clock`: bytes a client
   * trickles do not extend it. Default 10 s.
   */
  handshakeTimeout: Schema.optional(Options.Timeout),
  /**
   * The cipher suites accepted, in OpenSSL's cipher-list format, TLS 1.3
   * suites (`TLS_…`) and TLS 1.2 ones in one list. It replaces the default,
   * {@link defaults}`.ciphers`: forward-secret AEAD suites only (TLS 1.3's,
   * and ECDHE with AES-GCM or ChaCha20-Poly1305 for TLS 1.2). To accept
   * more (old clients), name them after the default:
   * `` `${Tls.defaults.ciphers}:AES128-SHA` ``.
   *
   * **Gotchas**
   *
   * A list that names no `TLS_…` suite turns TLS 1.3 off. A list that
   * matches no suite fails the load with a `TlsConfigError`. Client-initiated
   * renegotiation (TLS 1.2) is refused whatever the list.
   */
  // Node takes an empty list for its own default, which is wider than ours.
  ciphers: Schema.optional(Schema.String.check(
    Schema.makeFilter((list: string) => list.trim() !== "", { expected: "an OpenSSL cipher list" })
  ))
}).check(Schema.makeFilter((options) =>
  (options.clientAuth ?? "none") === "none" || options.ca !== undefined
    ? undefined
    : { path: ["clientAuth"], issue: "a ca: the CAs that sign client certificates, for clientAuth other than none" }
))

/**
 * TLS settings of a server or of one `startTls` call, as given (see the
 * schema above).
 *
 * @since 0.1.0
 */
export interface TlsOptions extends Schema.Codec.Encoded<typeof TlsOptions> {}

/**
 * TLS settings of a client (`LineClient` option `tls`, or one `startTls`
 * call on a client's connection). Every field is optional: with none, the
 * server's certificate is verified against Node's bundled root CAs and the
 * host connected to.
 *
 * @since 0.2.0
 */
export const ClientTlsOptions = Schema.Struct({
  /**
   * The name asked for (SNI) and checked against the server's certificate.
   * Default: the host connected to (an IP address is checked as one and not
   * sent as SNI). Over a Unix socket there is no host: give it.
   */
  servername: Schema.optional(Schema.String),
  /** CA certificates to trust instead of Node's bundled roots (a private CA). */
  ca: Schema.optional(PemSources),
  /** A client certificate chain, leaf first, for servers that ask for one (mutual TLS); needs `key`. */
  cert: Schema.optional(PemSource),
  /** The private key of `cert` (PEM, unencrypted). */
  key: Schema.optional(PemSource),
  /** Application protocols to offer, most preferred first, for ALPN (e.g. `["imap"]`). Default: none. */
  alpnProtocols: Schema.optional(Schema.Array(AlpnProtocol)),
  /**
   * Whether the server's certificate must verify: chain to a trusted CA and
   * name the server. Default true. Turned off, any certificate is accepted
   * and `conn.tls.authorized` says whether it verified: for tests, never for
   * a server on another machine.
   */
  verify: Schema.optional(Schema.Boolean),
  /** How long a handshake may take, on Effect's `Clock`. Default 10 s. */
  handshakeTimeout: Schema.optional(Options.Timeout)
}).check(Schema.makeFilter((options) =>
  (options.cert === undefined) === (options.key === undefined)
    ? undefined
    : { path: [options.cert === undefined ? "key" : "cert"], issue: "cert and key together: a client certificate needs its key" }
))

/**
 * TLS settings of a client, as given (see the schema above).
 *
 * @since 0.2.0
 */
export interface ClientTlsOptions extends Schema.Codec.Encoded<typeof ClientTlsOptions> {}

/**
 * Options of one `conn.startTls(options)` call.
 *
 * @since 0.1.0
 */
export interface StartTlsOptions {
  /**
   * The protocol's "go ahead" line (SMTP's `220 2.0.0 Ready to start TLS`,
   * IMAP's `a1 OK Begin TLS negotiation now`), written with the
   * connection's line ending once the upgrade is known to be possible and
   * flushed in plaintext right before the handshake. When the upgrade is
   * unavailable nothing is written, so the handler can send its refusal
   * instead. A line break inside it is a defect: it is the handler's text,
   * never a peer's.
   */
  readonly reply?: string | undefined
  /**
   * TLS settings for this upgrade instead of the server's, loaded for this
   * call (files read, keys parsed): for connections that have no server's
   * settings, e.g. made with `Connection.fromSocket`. On a connection
   * opened with `LineClient`, a client's settings ({@link ClientTlsOptions})
   * instead of the client's own.
   */
  readonly tls?: TlsOptions | ClientTlsOptions | undefined
}

/**
 * Where TLS starts on a server's connections: at once (`implicit`) or when
 * the handler calls `conn.startTls()` (`starttls`).
 *
 * @since 0.1.0
 */
export const TlsMode = Schema.Literals(["implicit", "starttls"])

/**
 * Where TLS starts on a server's connections (see the schema above).
 *
 * @since 0.1.0
 */
export type TlsMode = typeof TlsMode.Type

/**
 * What a handler knows about its encrypted connection (`conn.tls`). On a
 * connection opened with `LineClient` the peer is the server:
 * `peerCertificate` is the server's, `authorized` says it verified.
 *
 * @since 0.1.0
 */
export interface TlsInfo {
  /** The protocol version negotiated: `TLSv1.3`, `TLSv1.2`. */
  readonly protocol: string
  /** The cipher suite, by its standard name (e.g. `TLS_AES_256_GCM_SHA384`). */
  readonly cipher: string
  /** The application protocol chosen by ALPN; `undefined` when none was. */
  readonly alpnProtocol: string | undefined
  /** The server name the client asked for (SNI); `undefined` when it asked for none. */
  readonly servername: string | undefined
  /**
   * The client presented a certificate that verified against the server's
   * `ca`. Always true under `clientAuth: "require"`; false when no
   * certificate was asked for.
   */
  readonly authorized: boolean
  /** Why the client's certificate did not verify (OpenSSL's code, e.g. `UNABLE_TO_GET_ISSUER_CERT`), when it did not. */
  readonly authorizationError: string | undefined
  /**
   * The client's certificate, when it sent one (verified only if
   * `authorized`): `subject`, `issuer`, `subjectAltName`, `fingerprint256`,
   * `checkHost(name)`, …
   */
  readonly peerCertificate: Crypto.X509Certificate | undefined
  /** The session was resumed from a ticket (an abbreviated handshake). */
  readonly resumed: boolean
}

/**
 * Defaults of {@link TlsOptions}: a 10 s handshake timeout, no client
 * certificates, and forward-secret AEAD cipher suites only — Node's own
 * default list less every suite without forward secrecy (static-RSA key
 * exchange such as `AES128-SHA`) or without an AEAD cipher (CBC suites
 * such as `ECDHE-RSA-AES128-SHA`): TLS 1.3's three, then ECDHE with AES-GCM
 * or ChaCha20-Poly1305 for TLS 1.2. (No DHE suites: Node offers them only
 * with a `dhparam`, and every client that has DHE has ECDHE.)
 *
 * @since 0.1.0
 */
export const defaults = {
  handshakeTimeout: Duration.seconds(10),
  clientAuth: "none",
  ciphers: [
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_GCM_SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-CHACHA20-POLY1305",
    "ECDHE-ECDSA-CHACHA20-POLY1305"
  ].join(":")
} as const

/**
 * Fresh random session ticket keys (48 bytes), for a process that starts
 * several servers sharing them (see {@link TlsOptions.ticketKeys}).
 *
 * @since 0.1.0
 */
export const generateTicketKeys = (): Uint8Array => Crypto.randomBytes(48)
