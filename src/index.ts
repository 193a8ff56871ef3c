/**
 * fiberline: TCP line-protocol servers written in blocking style on Effect
 * fibers. This entry point is the core; the test kit is `fiberline/testing`
 * and the built-in protocols are `fiberline/echo`, `fiberline/chat` and
 * `fiberline/redis`, so an app loads only the protocols it uses.
 *
 * Layout:
 * - `Connection`: the service a handler reads and writes through
 *   (`readLine`, `readExactly`, `write`…); over TCP, stdio, or in memory;
 *   and the `Handler` type (a function of the connection, or an Effect).
 * - `LineServer`: binds, accepts, runs one fiber per connection, drains on
 *   shutdown; `make` (scoped) and `layer`; `serveStdio`, one connection on
 *   stdin/stdout served the same way; its options (`ServerOptions`) and
 *   `ServerError`.
 * - `LineClient`: connections you open, as the same `Connection` (TCP, TLS,
 *   a Unix socket); `connect` (scoped) and `layer`; `ConnectError`.
 * - `Decoder`: framing as pure, incremental decoders (`conn.read(decoder)`).
 * - `Errors`: the typed failures handlers recover from.
 * - `Options`: the option schemas (`ConnectionOptions`, the field schemas
 *   the others are built of), `InvalidOption`, and `decode`.
 * - `SchemaLines`: lines decoded and encoded by a `Schema` (NDJSON…).
 * - `Address`: addresses, structured and printed one way.
 * - `Tls`: TLS settings (`LineServer` option `tls`, `startTls`) and what a
 *   handler learns about its encrypted connection.
 * - `ServerMetrics`: the Effect metrics fiberline records (served in
 *   Prometheus format by `fiberline/MetricsHttp`, a separate entry point so
 *   the HTTP stack loads only when wanted).
 * - `Readiness`: whether the process's servers accept, which `/readyz` on
 *   the metrics port answers.
 * - `Logging`: stderr loggers (pretty or JSON).
 *
 * @since 0.1.0
 *
 * @module fiberline
 */

/** @since 0.1.0 */
export * as Address from "./Address.ts"
/** @since 0.1.0 */
export * as Connection from "./services/Connection.ts"
/** @since 0.2.0 */
export * as Decoder from "./Decoder.ts"
/** @since 0.2.0 */
export * as ProxyProtocol from "./ProxyProtocol.ts"
/** @since 0.1.0 */
export * as Errors from "./Errors.ts"
/** @since 0.2.0 */
export * as LineClient from "./services/LineClient.ts"
/** @since 0.1.0 */
export * as LineServer from "./services/LineServer.ts"
/** @since 0.1.0 */
export * as Logging from "./services/Logging.ts"
/** @since 0.2.0 */
export * as Options from "./Options.ts"
/** @since 0.2.0 */
export * as Readiness from "./services/Readiness.ts"
/** @since 0.1.0 */
export * as SchemaLines from "./SchemaLines.ts"
/** @since 0.1.0 */
export * as ServerMetrics from "./ServerMetrics.ts"
/** @since 0.1.0 */
export * as Tls from "./Tls.ts"
