/**
 * The CLI's server settings as pure values: a command's own connection
 * options stand unless a flag or variable gives another value, and defaults
 * never replace them; a variable's text is decoded by the same schema as a
 * flag's, and ignored where it does not apply.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Settings from "../../src/cli/settings.ts"

const noFlags = (overrides: Partial<Record<string, Option.Option<Settings.Given<unknown>>>> = {}, stdio = false) => {
  const flags = Object.fromEntries(Object.keys(Settings.serverFlags()).map((key) => [key, Option.none()]))
  return { ...flags, stdio, tlsClientAuth: false, ...overrides } as unknown as Settings.FlagValues
}

const flag = (value: unknown) => Option.some({ from: "flag" as const, value })
const env = (text: string) => Option.some({ from: "env" as const, text })

describe("connection options of a command", () => {
  it.effect("stand when no flag or variable says otherwise; a given one wins", () =>
    Effect.gen(function*() {
      const base = { maxLineLength: 1024, idleTimeout: "5 minutes", lineEnding: "\r\n" } as const
      const defaults = yield* Settings.resolve(noFlags())
      const kept = Settings.connectionOptions(defaults, base)
      assert.strictEqual(kept.maxLineLength, 1024)
      assert.strictEqual(kept.idleTimeout, "5 minutes")
      assert.strictEqual(kept.lineEnding, "\r\n")
      assert.isTrue(Duration.equals(Duration.fromInputUnsafe(kept.lineTimeout!), Duration.seconds(30)), "a default fills what the command left open")
      const flagged = yield* Settings.resolve(noFlags({ maxLineLength: flag(2048), idleTimeout: env("1m"), lineEnding: flag("\n") }))
      const overridden = Settings.connectionOptions(flagged, base)
      assert.strictEqual(overridden.maxLineLength, 2048)
      assert.isTrue(Duration.equals(Duration.fromInputUnsafe(overridden.idleTimeout!), Duration.minutes(1)))
      assert.strictEqual(overridden.lineEnding, "\n", "--line-ending wins over the command's own")
    }))

  it.effect("a variable is decoded like its flag; with --stdio, a listening server's variable is ignored", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Settings.resolve(noFlags({ port: env("1e3") })))
      assert.strictEqual(error.message, "invalid FIBERLINE_PORT \"1e3\": expected an integer from 0 to 65535")
      const stdio = yield* Settings.resolve(noFlags({ port: env("1e3"), idleTimeout: env("0") }, true))
      assert.isTrue(Duration.equals(Duration.fromInputUnsafe(stdio.connection.idleTimeout!), Duration.infinity), "0 means never")
      const refused = yield* Effect.flip(Settings.resolve(noFlags({ port: flag(7000) }, true)))
      assert.strictEqual(refused.message, "--port does not apply with --stdio")
    }))
})
