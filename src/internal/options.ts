/**
 * `positiveInteger(name, value)`, the check the Redis keyspace makes of
 * its `sweepBatch`, on the `Options.PositiveInt` schema: an invalid value
 * is a programming error, thrown as the `InvalidOption` naming it. (Kept
 * for that one caller; new code decodes its options with `Options`.)
 *
 * @internal
 */
import * as Options from "../Options.ts"

/** `value`, if it is a positive safe integer; else throws the `InvalidOption`. */
export const positiveInteger = (name: string, value: number): number =>
  Options.decodeUnsafe(Options.PositiveInt, value, { prefix: name })
