/**
 * Why a connection could not be opened (`LineClient.connect`): one
 * {@link ConnectError} naming the address tried, whose `reason` says why, as
 * data — the shape of Effect's own `SocketError`. Catch it broadly with
 * `Effect.catchTag("ConnectError", ...)`, or one reason with
 * `Effect.catchReason("ConnectError", "ConnectionRefused", ...)`; retry it
 * with a `Schedule` (`Effect.retry`), and decide by its reason what is worth
 * retrying.
 *
 * @since 0.2.0
 */
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"

/**
 * The peer refused the connection: nothing listens at that port (or at
 * that Unix socket, whose file is still there).
 *
 * @since 0.2.0
 */
export class ConnectionRefused extends Schema.TaggedError<ConnectionRefused>("fiberline/ConnectionRefused")(
  "ConnectionRefused",
  {}
) {
  override get message(): string {
    return "connection refused (nothing listens there)"
  }
}

/**
 * The connection (or its TLS handshake) was not complete within `timeout`:
 * the client's `connectTimeout`, or the handshake timeout of its TLS
 * settings. The attempt was abandoned and its socket destroyed.
 *
 * @since 0.2.0
 */
export class ConnectTimeout extends Schema.TaggedError<ConnectTimeout>("fiberline/ConnectTimeout")("ConnectTimeout", {
  timeout: Schema.Duration
}) {
  override get message(): string {
    return `not connected within ${Duration.format(this.timeout)}`
  }
}

/**
 * The host name did not resolve: `code` is the resolver's (`ENOTFOUND`: no
 * such name; `EAI_AGAIN`: the lookup failed for now, and may work later).
 *
 * @since 0.2.0
 */
export class HostNotFound extends Schema.TaggedError<HostNotFound>("fiberline/HostNotFound")("HostNotFound", {
  host: Schema.String,
  code: Schema.String
}) {
  override get message(): string {
    return `host ${this.host} not found (${this.code})`
  }
}

/**
 * The server's certificate did not verify: `code` is Node's
 * (`UNABLE_TO_VERIFY_LEAF_SIGNATURE`: signed by a CA the client does not
 * trust; `ERR_TLS_CERT_ALTNAME_INVALID`: issued for another name;
 * `CERT_HAS_EXPIRED`, `DEPTH_ZERO_SELF_SIGNED_CERT`, …), `detail` its
 * explanation. Retrying will not help until the server or the client's
 * settings change.
 *
 * @since 0.2.0
 */
export class TlsVerificationFailed extends Schema.TaggedError<TlsVerificationFailed>("fiberline/TlsVerificationFailed")(
  "TlsVerificationFailed",
  { code: Schema.String, detail: Schema.String }
) {
  override get message(): string {
    return `the server's certificate did not verify: ${this.detail}`
  }
}

/** Words for the system errors of a connect that have no reason of their own. */
const connectErrors: Readonly<Record<string, string>> = {
  ENOENT: "no socket at that path",
  EACCES: "permission denied",
  ECONNRESET: "connection reset by the peer",
  ENETUNREACH: "network unreachable",
  EHOSTUNREACH: "host unreachable",
  EADDRNOTAVAIL: "address not available"
}

/**
 * Any other failure: `code` is the system's (`ENOENT` for a Unix socket
 * path with no socket, `ENETUNREACH`, `ECONNRESET` during the handshake…)
 * or OpenSSL's (`ERR_SSL_WRONG_VERSION_NUMBER`: the server does not speak
 * TLS) when there is one; `cause` is what Node reported.
 *
 * @since 0.2.0
 */
export class ConnectFailed extends Schema.TaggedError<ConnectFailed>("fiberline/ConnectFailed")("ConnectFailed", {
  code: Schema.optional(Schema.String),
  cause: Schema.Defect()
}) {
  override get message(): string {
    const known = this.code === undefined ? undefined : connectErrors[this.code]
    return known ?? (this.cause instanceof Error ? this.cause.message : String(this.cause))
  }
}

/**
 * Why a connect failed.
 *
 * @since 0.2.0
 */
export type ConnectErrorReason = ConnectionRefused | ConnectTimeout | HostNotFound | TlsVerificationFailed | ConnectFailed

/**
 * A connection could not be opened: `address` is where it was tried
 * (`host:port`, `[v6]:port`, or a Unix socket path), `reason` why.
 *
 * @since 0.2.0
 */
export class ConnectError extends Schema.TaggedError<ConnectError>("fiberline/ConnectError")("ConnectError", {
  address: Schema.String,
  reason: Schema.Union([ConnectionRefused, ConnectTimeout, HostNotFound, TlsVerificationFailed, ConnectFailed])
}) {
  override get message(): string {
    return `cannot connect to ${this.address}: ${this.reason.message}`
  }
}
