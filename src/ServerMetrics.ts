/**
 * The metrics fiberline records, as ordinary Effect metrics: they land in
 * whatever `MetricRegistry` the running Effect uses, so an app that embeds
 * the server exports them with its own (e.g. `PrometheusMetrics`).
 *
 * The traffic counters (lines and bytes) are plain numbers the per-line path
 * increments; they are registered in the registry with hooks that read those
 * numbers, so the hot path never touches the registry.
 *
 * A server with a `name` updates every series below with the attribute
 * `server` set to it (a `server="api"` label in Prometheus), so two servers
 * of one app keep their series apart; an unnamed server's series have no
 * such attribute.
 *
 * @since 0.1.0
 */
import * as Metric from "effect/Metric"

/**
 * Why a connection ended, as recorded by {@link connectionsClosed}.
 *
 * - `end-of-input`: the peer closed its side and the handler finished.
 * - `unexpected-end-of-input`: the peer closed its side in the middle of a block.
 * - `idle-timeout`, `line-timeout`, `line-too-long`, `write-timeout`: the typed failure ended it.
 * - `reset`: the transport failed (peer reset, broken pipe).
 * - `shutdown`: ended by server shutdown, drained or forced.
 * - `proxy-header`: refused before the handler ran: not from a trusted proxy,
 *   or its PROXY protocol header was malformed, cut short or too slow.
 * - `tls-handshake`: the TLS handshake failed or timed out (before the
 *   handler ran on a TLS listener; in `startTls` otherwise), a client
 *   certificate was refused, or plaintext arrived before a STARTTLS
 *   handshake.
 * - `aborted`: the handler aborted it (`conn.abort`).
 * - `handler-failure`: any other failure or defect of the handler.
 * - `handler-done`: the handler returned by itself.
 *
 * @since 0.1.0
 */
export type CloseReason =
  | "end-of-input"
  | "unexpected-end-of-input"
  | "idle-timeout"
  | "line-timeout"
  | "line-too-long"
  | "write-timeout"
  | "reset"
  | "shutdown"
  | "proxy-header"
  | "tls-handshake"
  | "aborted"
  | "handler-failure"
  | "handler-done"

/**
 * Every {@link CloseReason}, in a stable order.
 *
 * @since 0.1.0
 */
export const closeReasons: ReadonlyArray<CloseReason> = [
  "end-of-input",
  "unexpected-end-of-input",
  "idle-timeout",
  "line-timeout",
  "line-too-long",
  "write-timeout",
  "reset",
  "shutdown",
  "proxy-header",
  "tls-handshake",
  "aborted",
  "handler-failure",
  "handler-done"
]

/**
 * Connections currently served (gauge).
 *
 * @since 0.1.0
 */
export const connectionsActive = Metric.gauge("fiberline_connections_active", {
  description: "Connections currently being served"
})

/**
 * Connections accepted and handed to a handler.
 *
 * @since 0.1.0
 */
export const connectionsAccepted = Metric.counter("fiberline_connections_accepted_total", {
  description: "Connections accepted and handed to a handler",
  incremental: true
})

/**
 * Connections refused because `maxConnections` was reached.
 *
 * @since 0.1.0
 */
export const connectionsRefused = Metric.counter("fiberline_connections_refused_total", {
  description: "Connections refused because the server was full",
  incremental: true
})

/**
 * Connections closed, one series per {@link CloseReason} (attribute `reason`).
 *
 * @since 0.1.0
 */
export const connectionsClosed: { readonly [K in CloseReason]: Metric.Metric<number, Metric.CounterState<number>> } =
  Object.fromEntries(
    closeReasons.map((reason) => [
      reason,
      Metric.counter("fiberline_connections_closed_total", {
        description: "Connections closed, by reason",
        attributes: { reason },
        incremental: true
      })
    ])
  ) as { readonly [K in CloseReason]: Metric.Metric<number, Metric.CounterState<number>> }

/**
 * Times the process was found out of file descriptors: an accept failed with
 * `EMFILE`/`ENFILE`, or a check while over the descriptor budget found none
 * free (the OS then drops new connections without telling the server).
 *
 * @since 0.1.0
 */
export const descriptorsExhausted = Metric.counter("fiberline_descriptors_exhausted_total", {
  description: "Times the process was found out of file descriptors",
  incremental: true
})

/**
 * Lines taken by `readLine`/`readLineBytes`.
 *
 * @since 0.1.0
 */
export const linesRead = Metric.counter("fiberline_lines_read_total", {
  description: "Lines read by handlers",
  incremental: true
})

/**
 * Lines written: `writeLine` calls and `write`s that end with `\n`.
 *
 * @since 0.1.0
 */
export const linesWritten = Metric.counter("fiberline_lines_written_total", {
  description: "Lines written by handlers",
  incremental: true
})

/**
 * Bytes received from peers.
 *
 * @since 0.1.0
 */
export const bytesRead = Metric.counter("fiberline_bytes_read_total", {
  description: "Bytes received",
  incremental: true
})

/**
 * Bytes handed to the transport for peers.
 *
 * @since 0.1.0
 */
export const bytesWritten = Metric.counter("fiberline_bytes_written_total", {
  description: "Bytes sent",
  incremental: true
})

/**
 * Bucket boundaries of {@link connectionDuration}, in seconds: 5 ms,
 * doubling up to about 87 minutes.
 *
 * @since 0.2.0
 */
export const connectionDurationBoundaries: ReadonlyArray<number> = Metric.exponentialBoundaries({
  start: 0.005,
  factor: 2,
  count: 22
})

/**
 * How long connections lived, in seconds, from accept to their full
 * release (the handler ended and the socket closed, a lingering close
 * included), recorded once per connection whatever ended it, refusals
 * before the handler included. Time is read from Effect's `Clock`.
 *
 * @since 0.2.0
 */
export const connectionDuration = Metric.histogram("fiberline_connection_duration_seconds", {
  description: "How long connections lived, from accept to release",
  boundaries: connectionDurationBoundaries
})
