/**
 * Network addresses as fiberline reports them: where a server listens and
 * who is on the other side of a connection, structured (host, port, family)
 * and printed one way everywhere — `127.0.0.1:1234`, `[::1]:1234`, or a
 * socket path.
 *
 * @since 0.1.0
 */

/**
 * A TCP endpoint.
 *
 * @since 0.1.0
 */
export interface TcpAddress {
  readonly family: "IPv4" | "IPv6"
  /** The IP address, without brackets. */
  readonly host: string
  readonly port: number
}

/**
 * A Unix domain socket.
 *
 * @since 0.1.0
 */
export interface UnixAddress {
  readonly family: "unix"
  readonly path: string
}

/**
 * Any address a fiberline server listens on or a peer connects from.
 *
 * @since 0.1.0
 */
export type Address = TcpAddress | UnixAddress

/**
 * Prints an address the one way fiberline prints addresses: `host:port`,
 * `[v6]:port` for IPv6, the path for a Unix socket.
 *
 * @since 0.1.0
 */
export const format = (address: Address): string => {
  switch (address.family) {
    case "unix":
      return address.path
    case "IPv6":
      return `[${address.host}]:${address.port}`
    default:
      return `${address.host}:${address.port}`
  }
}

/**
 * A TCP address from the parts Node reports (`remoteAddress`,
 * `remotePort`, `remoteFamily`, or `server.address()`); `undefined` when
 * they are missing (a socket already closed).
 *
 * @since 0.1.0
 */
export const tcp = (
  host: string | undefined,
  port: number | undefined,
  family: string | undefined
): TcpAddress | undefined =>
  host === undefined || port === undefined ? undefined : { family: family === "IPv6" ? "IPv6" : "IPv4", host, port }
