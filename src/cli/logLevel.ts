/**
 * `--log-level`, with its `FIBERLINE_LOG_LEVEL` variable like every other
 * setting: a global flag in place of effect/cli's own (which has no
 * variable), read by the serve commands, which set the minimum log level
 * from it. A bad value names the flag or the variable and the value, as
 * every setting's does.
 *
 * @since 0.2.0
 */
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import type * as LogLevel from "effect/LogLevel"
import * as Schema from "effect/Schema"
import { CliError, Flag, GlobalFlag } from "effect/cli"
import * as Text from "./textOf.ts"

const names = ["all", "trace", "debug", "info", "warn", "warning", "error", "fatal", "none"] as const

/** A level by the name a user types. */
const levels: Readonly<Record<(typeof names)[number], LogLevel.LogLevel>> = {
  all: "All",
  trace: "Trace",
  debug: "Debug",
  info: "Info",
  warn: "Warn",
  warning: "Warn",
  error: "Error",
  fatal: "Fatal",
  none: "None"
}

const codec = Text.plain(Schema.Literals(names))

/** The variable of `--log-level`. */
export const variable = "FIBERLINE_LOG_LEVEL"

/**
 * The minimum log level a run asked for (flag, else variable; an empty one
 * counts as unset); none: the program's default.
 *
 * @since 0.2.0
 */
export const LogLevelSetting = GlobalFlag.Setting("log-level")({
  flag: Flag.String("log-level").pipe(
    Flag.map((text) => ({ name: "log-level", text })),
    Flag.withFallbackConfig(Config.map(Config.String(variable), (text) => ({ name: variable, text }))),
    Flag.mapEffect(({ name, text }) =>
      Effect.mapBoth(Text.decode(codec, text), {
        // Named as the user gave it: `--log-level` or the variable (see the presenter in `run.ts`).
        onFailure: (expected) => new CliError.InvalidValue({ option: name, value: text, expected, kind: "flag" }),
        onSuccess: (level) => levels[level]
      })
    ),
    Flag.optional,
    Flag.withMetavar(names.join("|")),
    Flag.withDescription(`Sets the minimum log level (env ${variable})`)
  )
})
