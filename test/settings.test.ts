/**
 * The CLI's server settings as pure values: a command's own connection
 * options stand unless a flag or variable gives another value, and defaults
 * never replace them.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Settings from "../src/cli/settings.ts"

const noFlags = (overrides: Partial<Record<string, Option.Option<string>>> = {}) => {
  const flags = Object.fromEntries(Object.keys(Settings.serverFlags()).map((key) => [key, Option.none()]))
  return { ...flags, stdio: false, ...overrides } as unknown as Settings.FlagValues
}

describe("connection options of a command", () => {
  it.effect("stand when no flag or variable says otherwise; a given one wins", () =>
    Effect.gen(function*() {
      const base = { maxLineLength: 1024, idleTimeout: "5 minutes", lineEnding: "\r\n" } as const
      const defaults = yield* Settings.resolve(noFlags(), {})
      const kept = Settings.connectionOptions(defaults, base)
      assert.strictEqual(kept.maxLineLength, 1024)
      assert.strictEqual(kept.idleTimeout, "5 minutes")
      assert.strictEqual(kept.lineEnding, "\r\n")
      assert.isTrue(Duration.equals(Duration.fromInputUnsafe(kept.lineTimeout!), Duration.seconds(30)), "a default fills what the command left open")
      const flagged = yield* Settings.resolve(noFlags({ maxLineLength: Option.some("2048") }), { FIBERLINE_IDLE_TIMEOUT: "1m" })
      const overridden = Settings.connectionOptions(flagged, base)
      assert.strictEqual(overridden.maxLineLength, 2048)
      assert.isTrue(Duration.equals(Duration.fromInputUnsafe(overridden.idleTimeout!), Duration.minutes(1)))
    }))
})
