/**
 * The limits of one connection, decoded once per server (or per
 * standalone connection) and shared by all its connections, with the
 * decoders of its line reads: nothing here is per connection.
 *
 * @internal
 */
import type { Buffer } from "node:buffer"
import * as Duration from "effect/Duration"
import * as Decoder from "../../Decoder.ts"
import type { LineTooLong } from "../../Errors.ts"
import * as Options from "../../Options.ts"

/** Limits of one connection, already validated. */
export interface Limits {
  readonly maxLineLength: number
  /** `undefined`: no idle timeout. */
  readonly idleTimeout: Duration.Duration | undefined
  /** `undefined`: no frame deadline. */
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

/** An infinite timeout is no timeout: no timer is armed for it. */
const orNone = (d: Duration.Duration | undefined) => (d === undefined || !Duration.isFinite(d) ? undefined : d)

/** Decoded options with {@link defaults} filled in. */
export const fromDecoded = (options: typeof Options.ConnectionOptions.Type): Limits => {
  const maxLineLength = options.maxLineLength ?? defaults.maxLineLength
  return {
    maxLineLength,
    idleTimeout: orNone(options.idleTimeout),
    lineTimeout: orNone(options.lineTimeout),
    writeTimeout: options.writeTimeout ?? defaults.writeTimeout,
    writeHighWaterMark: options.writeHighWaterMark ?? defaults.writeHighWaterMark,
    lingerTimeout: options.lingerTimeout ?? defaults.lingerTimeout,
    lineEnding: options.lineEnding ?? defaults.lineEnding,
    line: Decoder.line({ maxLength: maxLineLength }),
    lineBytes: Decoder.lineBytes({ maxLength: maxLineLength })
  }
}

/**
 * Decodes the connection options among `options` (which may carry others,
 * as `TestConnection.run`'s do) and fills in {@link defaults}. An invalid
 * value is a programming error of the constructor's caller: it throws the
 * `InvalidOption`.
 */
export const resolve = (options: Options.ConnectionOptions = {}): Limits =>
  fromDecoded(Options.decodeUnsafe(Options.ConnectionOptions, options, { excess: "ignore" }))
