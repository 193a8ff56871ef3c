/**
 * The options of a line server as one `Schema`, decoded once by
 * `LineServer.make`: where it listens (TCP, or a Unix socket), the limits
 * of each connection (`Options.ConnectionOptions`, the same fields every
 * connection takes), admission (`maxConnections`, `whenFull`,
 * `busyMessage`), the shutdown grace, and the two features that are
 * switched on as a whole: `proxy` and `tls`. The CLI's server flags read
 * through the same field schemas.
 *
 * Flat where every server has a value (so the common case stays
 * `{ handler, port, idleTimeout }`), nested where a feature brings fields
 * that mean nothing without it (a PROXY header timeout without PROXY
 * headers cannot be written).
 *
 * @since 0.2.0
 */
import * as Net from "node:net"
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"
import * as Options from "./Options.ts"
import * as Tls from "./Tls.ts"

/**
 * An IP address (v4 or v6), as `net.isIP` reads it.
 *
 * @since 0.2.0
 */
export const IpAddress = Schema.String.check(Schema.makeFilter((address: string) => Net.isIP(address) !== 0, { expected: "an IP address" }))

/**
 * Reading the PROXY protocol header (HAProxy's) that a load balancer in
 * front sends at the start of every connection (HAProxy `send-proxy-v2`,
 * nginx `proxy_protocol on`). The connection's `peer` and `remoteAddress`
 * are then the real client's (for a `LOCAL` or `UNKNOWN` header: the
 * socket's own). A connection without a valid header in time is closed
 * before the handler runs (close reason `proxy-header`).
 *
 * @since 0.2.0
 */
export const ProxyOptions = Schema.Struct({
  /** The header versions accepted: `v1` (text), `v2` (binary) or `any`. */
  version: Schema.Literals(["v1", "v2", "any"]),
  /** How long the header may take to arrive, on Effect's `Clock`. Default 3 s. */
  headerTimeout: Schema.optional(Options.Timeout),
  /**
   * Addresses of the proxies allowed to connect; a connection from any
   * other source is closed before the handler runs, so a client cannot
   * claim to be someone else. Default: any source.
   */
  trusted: Schema.optional(Schema.Array(IpAddress))
})

/**
 * PROXY protocol settings, as given (see the schema above).
 *
 * @since 0.2.0
 */
export interface ProxyOptions extends Schema.Codec.Encoded<typeof ProxyOptions> {}

/**
 * A connection limit: a positive integer, or `Infinity` for none.
 *
 * @since 0.2.0
 */
export const MaxConnections = Schema.Number.check(
  Schema.makeFilter((n: number) => n === Infinity || (Number.isSafeInteger(n) && n > 0), {
    expected: "a positive integer, or Infinity for no limit"
  })
)

/** One line of text: no line break of its own. */
const OneLine = Schema.String.check(Schema.makeFilter((line: string) => !/[\r\n]/.test(line), { expected: "one line, without a line break" }))

/** Listen fields a Unix socket takes none of. */
const tcpOnly = ["host", "port", "ipv6Only", "reusePort"] as const

/**
 * The options of `LineServer.make` but its handler: see the module doc.
 *
 * @since 0.2.0
 */
export const ServerOptions = Schema.Struct({
  /**
   * A name for this server, added to every log line it writes (annotation
   * `server`), for apps that run several. Default: none.
   */
  name: Schema.optional(Schema.String),
  /**
   * Interface to bind: an IPv4 or IPv6 address (`::1`, `::`) or a host name.
   * Default `127.0.0.1`. An empty string is refused (say `0.0.0.0` or `::`).
   */
  host: Schema.optional(Options.Host),
  /** Port to bind; `0` picks a free one (read it from `address`). Default `1234`. */
  port: Schema.optional(Options.Port),
  /** With `host: "::"`, accept IPv6 connections only (no IPv4-mapped ones). Default false. */
  ipv6Only: Schema.optional(Schema.Boolean),
  /**
   * Let several processes bind the same port (`SO_REUSEPORT`, Linux and
   * some BSDs); the kernel spreads connections among them. Default false.
   */
  reusePort: Schema.optional(Schema.Boolean),
  /**
   * Listen on a Unix domain socket at this path instead of TCP (`host`,
   * `port`, `ipv6Only` and `reusePort` must then be absent). A stale socket
   * file left by a killed server is removed at start; a live server's socket
   * is never taken over (a `ListenError` with code `EADDRINUSE`). The file
   * is removed at shutdown.
   */
  path: Schema.optional(Options.Path),
  /** File mode of the Unix socket, e.g. `0o660`; default: the process umask decides. */
  socketMode: Schema.optional(Options.FileMode),
  /** Kernel accept backlog, and the length of the `queue` when full. Default 511. */
  backlog: Schema.optional(Options.PositiveInt),
  ...Options.ConnectionOptions.fields,
  /**
   * Connections served at once. Default: the process's file-descriptor limit
   * minus a reserve for everything else (an eighth of it, between 64 and
   * 1024), so running out of descriptors shows as counted, logged refusals
   * rather than connections the OS drops silently; unlimited where the limit
   * is unknown. `Infinity` lifts the cap.
   */
  maxConnections: Schema.optional(MaxConnections),
  /** Beyond `maxConnections`: `refuse` (default) or `queue`; see `LineServer.WhenFull`. */
  whenFull: Schema.optional(Schema.Literals(["refuse", "queue"])),
  /** Line sent to a refused client before closing (a `\n` is added). */
  busyMessage: Schema.optional(OneLine),
  /** How long shutdown waits for busy connections before forcing them; `Infinity`: as long as they take. Default 10 s. */
  shutdownTimeout: Schema.optional(Options.Grace),
  /** Expect a PROXY protocol header on every connection; see {@link ProxyOptions}. Default: none expected. */
  proxy: Schema.optional(ProxyOptions),
  /**
   * Serve TLS with these settings (certificates from files or PEM data,
   * client certificates, ALPN, SNI, session ticket keys, handshake timeout;
   * see `Tls.TlsOptions`), at once or on `startTls` as `tlsMode` says. The
   * handshake runs after any PROXY header and holds the connection's slot
   * from accept; one that fails or times out closes the connection before
   * the handler runs (close reason `tls-handshake`). Files are read when the
   * server starts and again by `reloadTls`; settings that cannot be used
   * fail `make` with a `ServerError` whose `reason` is the `TlsConfigError`.
   * Default: plaintext.
   */
  tls: Schema.optional(Tls.TlsOptions),
  /**
   * `implicit` (default): TLS from the first byte. `starttls`: connections
   * start in plaintext and the handler upgrades them with `conn.startTls()`,
   * which uses `tls`.
   */
  tlsMode: Schema.optional(Tls.TlsMode)
}).check(Schema.makeFilter((options) => {
  if (options.path !== undefined) {
    const tcp = tcpOnly.find((key) => options[key] !== undefined)
    if (tcp !== undefined) return { path: [tcp], issue: "no TCP setting with path: a Unix socket takes no host or port" }
  } else if (options.socketMode !== undefined) {
    return { path: ["socketMode"], issue: "a path: socketMode is the mode of a Unix socket" }
  }
  if (options.tlsMode !== undefined && options.tls === undefined) return { path: ["tlsMode"], issue: "tls settings to go with it" }
  return undefined
}))

/**
 * The options of `LineServer.make` but its handler, as given (see the
 * schema above).
 *
 * @since 0.2.0
 */
export interface ServerOptions extends Schema.Codec.Encoded<typeof ServerOptions> {}

/**
 * Default server options: 127.0.0.1:1234, backlog 511, refuse when full,
 * 10 s shutdown timeout, 3 s PROXY header timeout (when headers are
 * expected). The connection limit derives from the descriptor limit (see
 * `maxConnections`).
 *
 * @since 0.1.0
 */
export const defaults = {
  host: "127.0.0.1",
  port: 1234,
  backlog: 511,
  whenFull: "refuse",
  shutdownTimeout: Duration.seconds(10),
  proxyHeaderTimeout: Duration.seconds(3)
} as const

/**
 * The options of `LineServer.serveStdio` but its handler: the limits of
 * the connection, and how long a shutdown waits for it.
 *
 * @since 0.2.0
 */
export const StdioOptions = Schema.Struct({
  ...Options.ConnectionOptions.fields,
  /** How long shutdown waits for the connection to end before forcing it; `Infinity`: as long as it takes. Default 10 s. */
  shutdownTimeout: Schema.optional(Options.Grace)
})

/**
 * The options of `LineServer.serveStdio` but its handler, as given.
 *
 * @since 0.2.0
 */
export interface StdioOptions extends Schema.Codec.Encoded<typeof StdioOptions> {}
