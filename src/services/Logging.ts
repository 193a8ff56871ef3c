/**
 * Logging for processes that speak a protocol on stdout: every log line goes
 * to stderr, as one human-readable line or as one JSON object per line for
 * log shippers.
 *
 * Each entry is written with a single `write`, so entries of several
 * processes sharing stderr (`--workers`) do not interleave line by line.
 * `BurstLog` keeps a flood of events a peer can cause to a few lines.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as References from "effect/References"

export {
  /**
   * Logging for events a remote peer can cause at will (refusals, protocol
   * violations, crashes of a worker that keeps restarting): the first of a
   * burst is logged at once, the rest counted and summarised at most once
   * per interval, on Effect's `Clock`, by a fiber `fork` runs.
   *
   * @since 0.2.0
   */
  BurstLog,
  /** @since 0.2.0 */
  type Fork
} from "../internal/server/burstLog.ts"

/**
 * `pretty`: one line per entry — time, level, message, then the fields and
 * annotations as `key=value` (the level colored when stderr is a terminal);
 * a failure's cause follows on indented lines. `json`: one object per line,
 * always of one shape: `timestamp`, `level`, `message` (a string), then the
 * entry's fields and the fiber's annotations (`client`, `connection`,
 * `server`…) as fields of their own, and `cause` (pretty-printed) when
 * there is one.
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

const levelColors: Readonly<Record<string, string>> = {
  Fatal: "\x1b[41m",
  Error: "\x1b[31m",
  Warn: "\x1b[33m",
  Info: "\x1b[32m",
  Debug: "\x1b[34m",
  Trace: "\x1b[90m"
}

/** A field value as `key=value` shows it: bare when it is one word, else as JSON. */
const fieldValue = (value: unknown): string => {
  if (typeof value === "string") return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)
  if (typeof value === "number" || typeof value === "boolean" || value === null || value === undefined) return String(value)
  try {
    return JSON.stringify(value)
  } catch {
    return String(value)
  }
}

const fields = (record: object): string =>
  Object.entries(record).map(([key, value]) => `${key}=${fieldValue(value)}`).join(" ")

const time = (date: Date): string => date.toISOString().slice(11, 23)

/** The `pretty` logger: one entry, one write to stderr. */
const pretty = (colors: boolean) =>
  Logger.make(({ cause, date, fiber, logLevel, message }) => {
    const parts = Array.isArray(message) ? message : [message]
    const text = parts
      .map((part) => (typeof part === "string" ? part : typeof part === "object" && part !== null ? fields(part) : String(part)))
      .join(" ")
    const annotations = fiber.getRef(References.CurrentLogAnnotations)
    const level = logLevel.toUpperCase()
    let entry = `[${time(date)}] ${colors ? `${levelColors[logLevel] ?? ""}${level}\x1b[0m` : level} ${text}`
    if (Object.keys(annotations).length > 0) entry += ` ${fields(annotations)}`
    if (cause.reasons.length > 0) entry += `\n${Cause.pretty(cause).replace(/^/gm, "  ")}`
    process.stderr.write(`${entry}\n`)
  })

/** A value JSON can hold: bigints as strings, errors by their message, cycles cut. */
const jsonSafe = (value: unknown): unknown => {
  if (typeof value === "bigint") return value.toString()
  if (value instanceof Error) return value.message
  return value
}

const stringify = (entry: Record<string, unknown>): string => {
  const seen = new WeakSet<object>()
  return JSON.stringify(entry, (_key, value: unknown) => {
    const safe = jsonSafe(value)
    if (typeof safe === "object" && safe !== null) {
      if (seen.has(safe)) return "[Circular]"
      seen.add(safe)
    }
    return safe
  })
}

/** Whether a logged argument is a record of fields (rather than text to show). */
const isFields = (part: unknown): part is Record<string, unknown> =>
  typeof part === "object" && part !== null && !Array.isArray(part) && !(part instanceof Error)

/** The `json` logger: one object per entry, one write to stderr; see {@link LogFormat}. */
const json = Logger.make(({ cause, date, fiber, logLevel, message }) => {
  const parts = Array.isArray(message) ? message : [message]
  const texts: Array<string> = []
  const entryFields: Record<string, unknown> = {}
  for (const part of parts) {
    if (isFields(part)) Object.assign(entryFields, part)
    else texts.push(typeof part === "string" ? part : String(jsonSafe(part)))
  }
  const entry: Record<string, unknown> = {
    timestamp: date.toISOString(),
    level: logLevel.toUpperCase(),
    message: texts.join(" "),
    ...fiber.getRef(References.CurrentLogAnnotations),
    ...entryFields
  }
  if (cause.reasons.length > 0) entry.cause = Cause.pretty(cause)
  process.stderr.write(`${stringify(entry)}\n`)
})

/**
 * Replaces the current loggers with one that writes `format` to stderr.
 *
 * @since 0.1.0
 */
export const layer = (format: LogFormat): Layer.Layer<never> =>
  Logger.layer([format === "json" ? json : pretty(process.stderr.isTTY === true)])
