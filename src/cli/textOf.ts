/**
 * Command-line text decoded by the library's option schemas: each codec
 * here turns a flag's or a variable's text into what a field schema takes
 * (`500ms` into a duration, `660` into a file mode, `1e3` into nothing a
 * number field accepts), and the field schema says what is wrong. One
 * number parser for every flag, the server's and the protocols' alike.
 *
 * @since 0.2.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type * as SchemaAST from "effect/SchemaAST"
import * as SchemaGetter from "effect/SchemaGetter"
import { CliError, Flag } from "effect/cli"
import * as Options from "../Options.ts"

/** A field schema that takes an input of type `I`. */
type Field<A, I> = Schema.Codec<A, I>

/** `field`, read from text by `parse` (after `check`, whose message then wins). */
const fromText = <A, I>(field: Field<A, I>, parse: (text: string) => I, check?: SchemaAST.Check<string>): Schema.Codec<A, string> =>
  (check === undefined ? Schema.String : Schema.String.check(check)).pipe(
    Schema.decodeTo(field, {
      decode: SchemaGetter.transform(parse),
      encode: SchemaGetter.transform((input: I) => String(input))
    })
  ) as unknown as Schema.Codec<A, string>

/**
 * The text as it is: a host, a path, one of a few words.
 *
 * @since 0.2.0
 */
export const plain = <A>(field: Field<A, string>): Schema.Codec<A, string> => fromText(field, (text) => text)

/**
 * A decimal integer (`Infinity` too, for limits that take it); anything
 * else, `1e3` and `0x10` included, is no number the field accepts.
 *
 * @since 0.2.0
 */
export const integer = <A>(field: Field<A, number>): Schema.Codec<A, string> =>
  fromText(field, (text) => (/^\s*-?\d+\s*$/.test(text) ? Number(text) : text.trim() === "Infinity" ? Infinity : NaN))

/**
 * An octal file mode (`660`).
 *
 * @since 0.2.0
 */
export const octal = <A>(field: Field<A, number>): Schema.Codec<A, string> =>
  fromText(field, (text) => (/^[0-7]+$/.test(text) ? Number.parseInt(text, 8) : NaN))

/**
 * Comma-separated values, at least one.
 *
 * @since 0.2.0
 */
export const list = <A>(field: Field<A, ReadonlyArray<string>>): Schema.Codec<A, string> =>
  fromText(
    field,
    (text) => text.split(",").map((item) => item.trim()).filter((item) => item !== ""),
    Schema.makeFilter((text: string) => text.split(",").some((item) => item.trim() !== ""), { expected: "a comma-separated list" })
  )

const COMPACT = /^(-?\d+(?:\.\d+)?)(ms|s|m|h|d)$/
const UNITS = { ms: "millis", s: "seconds", m: "minutes", h: "hours", d: "days" } as const

/** A duration as operators write it (`500ms`, `30s`, `5m`, `1h`, `2d`, Effect's `30 seconds`, `0`), as a `Duration.Input`. */
const durationInput = (text: string): Duration.Input => {
  const input = text.trim()
  if (input === "0") return 0
  const compact = COMPACT.exec(input)
  return (compact === null ? input : `${compact[1]} ${UNITS[compact[2] as keyof typeof UNITS]}`) as Duration.Input
}

const isDurationText = Schema.makeFilter((text: string) => Option.isSome(Duration.fromInput(durationInput(text))), {
  expected: "a duration such as 500ms, 30s, 5m or 1h"
})

/**
 * A duration: `500ms`, `30s`, `5m`, `1h`, `2d`, Effect's `30 seconds`, or
 * `0`; the field decides which it takes.
 *
 * @since 0.2.0
 */
export const duration = <A>(field: Field<A, Duration.Input>): Schema.Codec<A, string> =>
  fromText(field, durationInput, isDurationText)

/**
 * A timeout where `0` means "never" (the field's `Infinity`).
 *
 * @since 0.2.0
 */
export const timeoutOrNever = <A>(field: Field<A, Duration.Input>): Schema.Codec<A, string> =>
  fromText(
    field,
    (text) => (text.trim() === "0" ? Infinity : durationInput(text)),
    Schema.makeFilterGroup([
      isDurationText,
      Schema.makeFilter((text: string) => !text.trim().startsWith("-"), { expected: "a duration of 0 (never) or more" })
    ])
  )

/**
 * `lf` or `crlf`, as the line ending it names.
 *
 * @since 0.2.0
 */
export const lineEnding = <A>(field: Field<A, "\n" | "\r\n">): Schema.Codec<A, string> =>
  fromText(
    field,
    (text) => (text === "crlf" ? "\r\n" : "\n"),
    Schema.makeFilter((text: string) => text === "lf" || text === "crlf", { expected: "lf or crlf" })
  )

/**
 * `true` or `false` (`1`, `yes`, `on`, `0`, `no`, `off`).
 *
 * @since 0.2.0
 */
export const boolean: Schema.Codec<boolean, string> = fromText(
  Schema.Boolean,
  (text) => ["1", "true", "yes", "on"].includes(text.trim().toLowerCase()),
  Schema.makeFilter((text: string) => ["1", "true", "yes", "on", "0", "false", "no", "off"].includes(text.trim().toLowerCase()), {
    expected: "true or false"
  })
)

/** `"a" | "b"`, as a person reads it: `one of a, b`. */
const readable = (expected: string): string =>
  /^"[^"]*"(?: \| "[^"]*")+$/.test(expected) ? `one of ${expected.slice(1, -1).split("\" | \"").join(", ")}` : expected

/**
 * Decodes `text`; fails with what was expected, as a usage message says it
 * (`expected an integer from 0 to 65535`).
 *
 * @since 0.2.0
 */
export const decode = <A>(codec: Schema.Codec<A, string>, text: string): Effect.Effect<A, string> =>
  Effect.suspend(() => {
    const result = Options.decodeResult(codec, text)
    return Result.isSuccess(result) ? Effect.succeed(result.success) : Effect.fail(`expected ${readable(result.failure.expected)}`)
  })

/**
 * A flag whose text `codec` decodes; a bad value is a `CliError.InvalidValue`
 * naming the flag, the text and what was expected (the presenter prints it
 * as one line, see `run.ts`).
 *
 * @since 0.2.0
 */
export const flag = <A>(name: string, codec: Schema.Codec<A, string>): Flag.Flag<A> =>
  Flag.String(name).pipe(
    Flag.mapEffect((text) =>
      Effect.mapError(decode(codec, text), (expected) => new CliError.InvalidValue({ option: name, value: text, expected, kind: "flag" }))
    )
  )

/**
 * A protocol's own integer option as a flag (no variable), decoded by the
 * same number parser as the server's flags: `field` says what it takes.
 *
 * @since 0.2.0
 */
export const integerFlag = (name: string, field: Field<number, number>, fallback: number, description: string): Flag.Flag<number> =>
  flag(name, integer(field)).pipe(
    Flag.withDefault(fallback),
    Flag.withMetavar("integer"),
    Flag.withDescription(`${description} (default ${fallback})`)
  )
