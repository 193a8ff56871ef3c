/**
 * Logging for processes that speak a protocol on stdout: every log line goes
 * to stderr, as human-readable text or as one JSON object per line for log
 * shippers.
 *
 * @since 0.1.0
 */
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"

/**
 * `pretty`: colored when stderr is a terminal. `json`: one object per line
 * (message, level, timestamp, annotations such as `client` and `connection`).
 *
 * @since 0.1.0
 */
export type LogFormat = "pretty" | "json"

/**
 * Every supported {@link LogFormat}.
 *
 * @since 0.1.0
 */
export const logFormats: ReadonlyArray<LogFormat> = ["pretty", "json"]

/**
 * Replaces the current loggers with one that writes `format` to stderr.
 *
 * @since 0.1.0
 */
export const layer = (format: LogFormat): Layer.Layer<never> =>
  format === "json"
    ? Logger.layer([Logger.withConsoleError(Logger.formatJson)])
    : Layer.merge(
      Logger.layer([Logger.consolePretty({ colors: process.stderr.isTTY === true })]),
      Layer.succeed(Logger.LogToStderr, true)
    )
