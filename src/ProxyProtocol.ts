/**
 * The PROXY protocol (HAProxy's, versions 1 and 2) as fiberline reads it: a
 * load balancer in front of the server prepends one header saying who the
 * client really was. A server with `proxy` set reads it before the
 * handler (and before TLS); the handler sees it as `conn.proxy`, and the
 * connection's `peer` and `remoteAddress` are the header's client. The
 * decoder is public too, for a protocol that reads a header itself.
 *
 * @since 0.2.0
 */
export {
  /** @since 0.2.0 */
  ChecksumMismatch,
  /** @since 0.2.0 */
  HeaderTimeout,
  /** @since 0.2.0 */
  Malformed,
  /** @since 0.2.0 */
  NotAHeader,
  /** @since 0.2.0 */
  ProxyHeaderError,
  /** @since 0.2.0 */
  ProxyHeaderReason,
  /** @since 0.2.0 */
  TooLong,
  /** @since 0.2.0 */
  Truncated,
  /** @since 0.2.0 */
  UnsupportedVersion,
  /** @since 0.2.0 */
  UntrustedSource,
  /** @since 0.2.0 */
  VersionNotAccepted
} from "./internal/proxy/errors.ts"
export {
  /** @since 0.2.0 */
  type Accept,
  /** @since 0.2.0 */
  type ProxyHeader,
  /** @since 0.2.0 */
  type Tlv,
  /** @since 0.2.0 */
  TlvType
} from "./internal/proxy/header.ts"
export {
  /** @since 0.2.0 */
  header
} from "./internal/proxy/decoder.ts"
