/**
 * The limits of one connection, validated once per server (or per
 * standalone connection) and shared by all its connections, with the
 * decoders of its line reads: nothing here is per connection.
 *
 * @internal
 */
import type { Buffer } from "node:buffer"
import * as Duration from "effect/Duration"
import * as Decoder from "../../Decoder.ts"
import type { ConnectionOptions } from "../../services/Connection.ts"
import type { LineTooLong } from "../../services/Errors.ts"
import { duration, positiveInteger } from "../options.ts"

/** Limits of one connection, already validated. */
export interface Limits {
  readonly maxLineLength: number
  readonly idleTimeout: Duration.Duration | undefined
  readonly lineTimeout: Duration.Duration | undefined
  readonly writeTimeout: Duration.Duration
  readonly writeHighWaterMark: number
  readonly lingerTimeout: Duration.Duration
  /** What `writeLine` appends. */
  readonly lineEnding: "\n" | "\r\n"
  /** The decoder of `readLine`. */
  readonly line: Decoder.Decoder<string, LineTooLong>
  /** The decoder of `readLineBytes`. */
  readonly lineBytes: Decoder.Decoder<Buffer, LineTooLong>
}

/** Default limits; documented on `Connection.defaults`. */
export const defaults = {
  maxLineLength: 64 * 1024,
  writeTimeout: Duration.seconds(30),
  writeHighWaterMark: 64 * 1024,
  lingerTimeout: Duration.seconds(2),
  lineEnding: "\n"
} as const

const lineEnding = (value: string): "\n" | "\r\n" => {
  if (value !== "\n" && value !== "\r\n") throw new RangeError(`lineEnding must be "\\n" or "\\r\\n", got ${JSON.stringify(value)}`)
  return value
}

/**
 * Validates options and fills in {@link defaults}. An invalid value is a
 * programming error: it throws a `RangeError`.
 */
export const resolve = (options: ConnectionOptions = {}): Limits => {
  const maxLineLength = positiveInteger("maxLineLength", options.maxLineLength ?? defaults.maxLineLength)
  return {
    maxLineLength,
    idleTimeout: options.idleTimeout === undefined ? undefined : duration("idleTimeout", options.idleTimeout, false),
    lineTimeout: options.lineTimeout === undefined ? undefined : duration("lineTimeout", options.lineTimeout, false),
    writeTimeout: duration("writeTimeout", options.writeTimeout ?? defaults.writeTimeout, false),
    writeHighWaterMark: positiveInteger("writeHighWaterMark", options.writeHighWaterMark ?? defaults.writeHighWaterMark),
    lingerTimeout: duration("lingerTimeout", options.lingerTimeout ?? defaults.lingerTimeout, true),
    lineEnding: lineEnding(options.lineEnding ?? defaults.lineEnding),
    line: Decoder.line({ maxLength: maxLineLength }),
    lineBytes: Decoder.lineBytes({ maxLength: maxLineLength })
  }
}
