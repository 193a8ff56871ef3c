/**
 * The options of fiberline, defined once as `Schema`s and decoded once: the
 * limits of each connection here, TLS settings in `Tls`, a server's in
 * `LineServer`, a client's in `LineClient`, all built from the field
 * schemas below. A value that cannot be used is an {@link InvalidOption}
 * naming the option and the value. The `fiberline` command line reads its
 * flags and `FIBERLINE_*` variables through the same field schemas.
 *
 * Durations are `Duration.Input` (`"30 seconds"`, `500` milliseconds, a
 * `Duration`); negative ones and `NaN` are refused everywhere, `Infinity`
 * where a deadline must end (where it is accepted it means "none").
 *
 * @since 0.2.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaGetter from "effect/SchemaGetter"
import * as SchemaIssue from "effect/SchemaIssue"

/**
 * An option value that cannot be used: `option` is its path
 * (`idleTimeout`, `proxy.headerTimeout`, `tls.ticketKeys`), `value` the
 * value as given (hidden for keys), `expected` what would do.
 *
 * @since 0.2.0
 */
export class InvalidOption extends Schema.TaggedError<InvalidOption>("fiberline/InvalidOption")("InvalidOption", {
  option: Schema.String,
  value: Schema.String,
  expected: Schema.String
}) {
  override get message(): string {
    return `option ${this.option}: expected ${this.expected}, got ${this.value}`
  }
}

/** A value as an error message quotes it. */
const show = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value)
  if (Duration.isDuration(value)) return Duration.format(value)
  if (value instanceof Uint8Array) return `${value.length} bytes`
  if (typeof value === "function") return "a function"
  if (typeof value === "object" && value !== null) {
    try {
      return JSON.stringify(value)
    } catch {
      return String(value)
    }
  }
  return String(value)
}

/** Private keys and ticket keys are never quoted. */
const secret = (path: ReadonlyArray<PropertyKey>): boolean => path.some((key) => key === "key" || key === "ticketKeys")

/** The value at `path` in `input`, if there is one. */
const at = (input: unknown, path: ReadonlyArray<PropertyKey>): unknown =>
  path.reduce<unknown>((value, key) => (typeof value === "object" && value !== null ? (value as Record<PropertyKey, unknown>)[key] : undefined), input)

/** The first problem of an issue: where, and what was expected there. */
const firstProblem = (
  issue: SchemaIssue.Issue,
  path: ReadonlyArray<PropertyKey>
): { readonly path: ReadonlyArray<PropertyKey>; readonly message: string } => {
  switch (issue._tag) {
    case "Pointer":
      return firstProblem(issue.issue, [...path, ...issue.path])
    case "Composite":
      return firstProblem(issue.issues[0], path)
    case "AnyOf": {
      // A union that says what it expects, rather than what its first member did.
      const expected = issue.ast.annotations?.expected
      if (typeof expected === "string") return { path, message: `Expected ${expected}` }
      // An optional group (`X | undefined`): the problem is the group's.
      if (issue.issues.length > 0) return firstProblem(issue.issues[0]!, path)
      break
    }
  }
  const first = SchemaIssue.makeFormatterStandardSchemaV1()(issue).issues[0]
  const rest = (first?.path ?? []).map((segment) => (typeof segment === "object" ? segment.key : segment))
  return { path: [...path, ...rest], message: first?.message ?? "Expected a valid value" }
}

/**
 * The first problem of a failed decode as an {@link InvalidOption}; `prefix`
 * names where `input` sits (`tls`).
 */
const invalidOption = (issue: SchemaIssue.Issue, input: unknown, prefix: string | undefined): InvalidOption => {
  const { message, path } = firstProblem(issue, [])
  const excess = message === "Expected no excess property"
  const option = [...(prefix === undefined ? [] : [prefix]), ...path.map(String)].join(".")
  return new InvalidOption({
    option: option === "" ? "options" : option,
    value: excess ? "an option of that name" : secret(path) ? "(hidden)" : show(at(input, path)),
    expected: excess ? "no such option" : message.replace(/^Expected /, "").replace(/, got .*$/s, "")
  })
}

/**
 * How to decode: `prefix` names where the options sit (`tls`, for the
 * messages); `excess` says what a key the schema does not know is — an
 * error (the default: a misspelt option is caught), or ignored (options
 * shared with other settings, as a room's options carry a broker's).
 *
 * @since 0.2.0
 */
export interface DecodeOptions {
  readonly prefix?: string | undefined
  readonly excess?: "error" | "ignore" | undefined
}

/**
 * {@link decode}'s result, for code that is not an Effect.
 *
 * @since 0.2.0
 */
export const decodeResult = <S extends Schema.Decoder<unknown>>(
  schema: S,
  input: unknown,
  options?: DecodeOptions
): Result.Result<S["Type"], InvalidOption> =>
  Result.mapError(
    Schema.decodeUnknownResult(schema)(input, { onExcessProperty: options?.excess ?? "error" }),
    (error) => invalidOption(error.issue, input, options?.prefix)
  )

/**
 * Decodes `input` with `schema`, failing with an {@link InvalidOption} for
 * the first problem.
 *
 * @since 0.2.0
 */
export const decode = <S extends Schema.Decoder<unknown>>(
  schema: S,
  input: unknown,
  options?: DecodeOptions
): Effect.Effect<S["Type"], InvalidOption> =>
  Effect.suspend(() => Effect.fromResult(decodeResult(schema, input, options)))

/**
 * {@link decode} for constructors whose options are the program's own
 * constants (`Connection.fromSocket`, `TestConnection.make`, a room): an
 * invalid value is a programming error, thrown as the {@link InvalidOption}
 * (a defect of the Effect that calls it).
 *
 * @since 0.2.0
 */
export const decodeUnsafe = <S extends Schema.Decoder<unknown>>(schema: S, input: unknown, options?: DecodeOptions): S["Type"] => {
  const result = decodeResult(schema, input, options)
  if (Result.isFailure(result)) throw result.failure
  return result.success
}

// Field schemas: each names what it expects, as a message says it.

/**
 * A positive safe integer: a length, a count, a number of bytes.
 *
 * @since 0.2.0
 */
export const PositiveInt = Schema.Number.check(
  Schema.makeFilter((n: number) => Number.isSafeInteger(n) && n > 0, { expected: "a positive integer" })
)

/**
 * A TCP port, 0 to 65535 (0: any free port).
 *
 * @since 0.2.0
 */
export const Port = Schema.Number.check(
  Schema.makeFilter((n: number) => Number.isInteger(n) && n >= 0 && n <= 65535, { expected: "an integer from 0 to 65535" })
)

/**
 * A host to bind, never empty: an empty host would bind every interface,
 * which must be asked for by name (`0.0.0.0` or `::`).
 *
 * @since 0.2.0
 */
export const Host = Schema.String.check(
  Schema.makeFilter((host: string) => host.trim() !== "", {
    expected: "a host name or address (to listen on every interface, say 0.0.0.0 or ::)"
  })
)

/**
 * A file path, never empty.
 *
 * @since 0.2.0
 */
export const Path = Schema.String.check(Schema.makeFilter((path: string) => path !== "", { expected: "a path" }))

/**
 * A file mode of permission bits only, `0o000` to `0o777` (no setuid,
 * setgid or sticky bit).
 *
 * @since 0.2.0
 */
export const FileMode = Schema.Number.check(
  Schema.makeFilter((n: number) => Number.isInteger(n) && n >= 0 && n <= 0o777, {
    expected: "a file mode from 000 to 777 (octal: permission bits only)"
  })
)

const isDurationInput = (u: unknown): u is Duration.Input => Option.isSome(Duration.fromInput(u as Duration.Input))

/** A `Duration.Input`, decoded to a `Duration`. */
const DurationFromInput = Schema.declare(isDurationInput, {
  expected: "a duration (\"30 seconds\", \"500 millis\", or milliseconds as a number)"
}).pipe(Schema.decodeTo(Schema.Duration, {
  decode: SchemaGetter.transform((input: Duration.Input) => Duration.fromInputUnsafe(input)),
  encode: SchemaGetter.transform((duration: Duration.Duration): Duration.Input => duration)
}))

const millis = (d: Duration.Duration) => Duration.toMillis(d)
const positive = Schema.makeFilter((d: Duration.Duration) => millis(d) > 0, { expected: "a duration of more than 0" })
const nonNegative = Schema.makeFilter((d: Duration.Duration) => millis(d) >= 0, { expected: "a duration of 0 or more" })
const finite = Schema.makeFilter((d: Duration.Duration) => Number.isFinite(millis(d)), { expected: "a finite duration" })

/**
 * A deadline that must end: positive and finite. Every deadline runs on
 * Effect's `Clock`, which takes any length (no Node timer, which fires at
 * once past 2^31 - 1 ms).
 *
 * @since 0.2.0
 */
export const Timeout = DurationFromInput.check(positive, finite)

/**
 * A positive duration, or `Infinity` for none.
 *
 * @since 0.2.0
 */
export const TimeoutOrNone = DurationFromInput.check(positive)

/**
 * A finite duration, zero included (a lingering close that may be skipped).
 *
 * @since 0.2.0
 */
export const Delay = DurationFromInput.check(nonNegative, finite)

/**
 * Zero or more, `Infinity` for no limit (how long a drain may wait).
 *
 * @since 0.2.0
 */
export const Grace = DurationFromInput.check(nonNegative)

/**
 * The limits of one connection, for every way of making one: a server's
 * (its options include these), `Connection.fromSocket`, `Connection.stdio`,
 * `TestConnection`, `LineClient`. Every field is optional; see
 * `Connection.defaults`.
 *
 * @since 0.2.0
 */
export const ConnectionOptions = Schema.Struct({
  /** Longest accepted line content in bytes, terminator excluded. */
  maxLineLength: Schema.optional(PositiveInt),
  /**
   * A read that waits longer than this for input fails with `IdleTimeout`.
   * No timeout when absent (or `Infinity`).
   */
  idleTimeout: Schema.optional(TimeoutOrNone),
  /**
   * How long a frame may take to arrive once its first byte has — a line, a
   * block of `readExactly`, a whole request of a decoder, header and body: a
   * read still waiting for the rest after this fails with `LineTimeout`.
   * Unlike the idle timeout, which every byte restarts, this closes a peer
   * that trickles a frame byte by byte (slowloris). No timeout when absent
   * (or `Infinity`).
   */
  lineTimeout: Schema.optional(TimeoutOrNone),
  /** How long output may stay above the high-water mark before writes fail with `WriteTimeout`. */
  writeTimeout: Schema.optional(Timeout),
  /** Pending output size in bytes that triggers a flush (and write backpressure). */
  writeHighWaterMark: Schema.optional(PositiveInt),
  /** How long a graceful TCP close reads and discards late input before destroying the socket; 0 for none. */
  lingerTimeout: Schema.optional(Delay),
  /** What `writeLine` ends a line with: `"\n"` (default) or `"\r\n"` (SMTP, RESP, IRC, POP3…). */
  lineEnding: Schema.optional(Schema.Literals(["\n", "\r\n"]))
})

/**
 * The limits of one connection, as given; every field is optional.
 *
 * @since 0.2.0
 */
export interface ConnectionOptions extends Schema.Codec.Encoded<typeof ConnectionOptions> {}
