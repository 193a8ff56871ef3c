/**
 * What a command is — a name, an arity, flags and a synchronous
 * implementation over the shared state — and the helpers command modules
 * share: what an implementation receives ({@link CommandContext}), parsing of
 * integer, float and timeout arguments by Redis's rules, and typed access to
 * a key's value.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import { type ByteString, int64Max, int64Min, type Request } from "./bytes.ts"
import { InvalidSyntax, NotAnInteger, rejected, WrongType } from "./errors.ts"
import type { Keyspace } from "./keyspace.ts"
import type { PubSub } from "./pubsub.ts"
import type { Session } from "./session.ts"
import { type Hash, List, MemberSet, type Value } from "./values.ts"

/**
 * A command's reply: encoded bytes, or — for a command that blocks — the
 * effect that waits and then gives them.
 *
 * @since 0.1.0
 */
export type CommandResult = Uint8Array | Effect.Effect<Uint8Array>

/**
 * Server-wide settings commands need.
 *
 * @since 0.1.0
 */
export interface Settings {
  /** Longest bulk string accepted, and longest string a command may build (`APPEND`). */
  readonly protoMaxBulkLen: number
  /** Most bytes a subscriber may have pending before it is cut off. */
  readonly pubsubOutputLimit: number
}

/**
 * What an implementation runs against.
 *
 * @since 0.1.0
 */
export interface CommandContext {
  readonly keyspace: Keyspace
  readonly pubsub: PubSub
  readonly session: Session
  readonly settings: Settings
  /** Every command, by lowercase name, for `COMMAND`. */
  readonly commands: ReadonlyMap<string, Command>
}

/**
 * One command.
 *
 * **Details**
 *
 * `arity` follows Redis: `n` means exactly `n` arguments, `-n` at least `n`,
 * the name (and subcommand name) included. `run` is synchronous and throws a
 * `CommandError` to refuse; only blocking commands return an effect, and only
 * outside `EXEC`.
 *
 * @since 0.1.0
 */
export interface Command {
  /** Full lowercase name, as Redis words errors: `get`, `client|setname`. */
  readonly name: string
  readonly arity: number
  /** Redis's flags for `COMMAND` (`write`, `readonly`, `fast`…). */
  readonly flags: ReadonlyArray<string>
  /** First key, last key (negative: from the end), step; zeros for no keys. */
  readonly keys: readonly [number, number, number]
  /** Allowed while the connection is subscribed (RESP2 subscriber mode). */
  readonly whileSubscribed: boolean
  /** Runs at once inside `MULTI` instead of being queued (`EXEC`, `DISCARD`…). */
  readonly controlsTransaction: boolean
  /** The implementation; for a container, what runs when it is named alone (if its arity lets it). */
  readonly run: (ctx: CommandContext, args: Request) => CommandResult
  /** For container commands (`CLIENT`, `CONFIG`, `COMMAND`): subcommands by lowercase name. */
  readonly subcommands?: ReadonlyMap<string, Command>
}

/**
 * Defines a command; `flags` is a space-separated list of Redis flag names.
 *
 * @since 0.1.0
 */
export const define = (
  name: string,
  arity: number,
  flags: string,
  keys: readonly [number, number, number],
  run: Command["run"],
  options?: {
    readonly whileSubscribed?: boolean
    readonly controlsTransaction?: boolean
    readonly subcommands?: ReadonlyArray<Command>
  }
): Command => ({
  name,
  arity,
  flags: flags === "" ? [] : flags.split(" "),
  keys,
  whileSubscribed: options?.whileSubscribed ?? false,
  controlsTransaction: options?.controlsTransaction ?? false,
  run,
  ...(options?.subcommands === undefined
    ? {}
    : { subcommands: new Map(options.subcommands.map((sub) => [sub.name.slice(sub.name.indexOf("|") + 1), sub])) })
})

const int64Syntax = /^(?:0|-?[1-9][0-9]*)$/

/**
 * A 64-bit integer as Redis's `string2ll` reads it: no sign but `-`, no
 * leading zeros, no blanks; `undefined` otherwise.
 *
 * @since 0.1.0
 */
export const parseInteger = (arg: ByteString): bigint | undefined => {
  if (arg.length > 20 || !int64Syntax.test(arg)) return undefined
  const value = BigInt(arg)
  return value > int64Max || value < int64Min ? undefined : value
}

/**
 * {@link parseInteger}, or throws `NotAnInteger` (or `ERR message` if given).
 *
 * @since 0.1.0
 */
export const integer = (arg: ByteString, message?: string): bigint => {
  const value = parseInteger(arg)
  if (value !== undefined) return value
  throw message === undefined ? new NotAnInteger() : rejected(message)
}

/**
 * The result of a 64-bit addition, or throws `message` on overflow.
 *
 * @since 0.1.0
 */
export const add = (a: bigint, b: bigint, message = "increment or decrement would overflow"): bigint => {
  const sum = a + b
  if (sum > int64Max || sum < int64Min) throw rejected(message)
  return sum
}

/**
 * A count that must be 0 or more (`LPOP key count`, `SPOP key count`).
 *
 * @since 0.1.0
 */
export const count = (arg: ByteString): number => {
  const value = integer(arg, "value is out of range, must be positive")
  if (value < 0n) throw rejected("value is out of range, must be positive")
  return Number(value)
}

const decimal = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/
const infinity = /^[+-]?inf(?:inity)?$/i

/**
 * A float as Redis's `string2ld` (`strtold`) reads it: decimal notation with
 * an optional exponent, or `inf`/`infinity`; no blanks, no NaN. (Hexadecimal
 * floats, which `strtold` also reads, are not accepted.)
 *
 * @since 0.1.0
 */
export const parseFloat = (arg: ByteString): number | undefined => {
  if (decimal.test(arg)) return Number(arg)
  if (infinity.test(arg)) return arg.startsWith("-") ? -Infinity : Infinity
  return undefined
}

/**
 * A blocking command's timeout in seconds (fractions allowed, rounded up to
 * the millisecond): `undefined` for 0, which waits forever.
 *
 * @since 0.1.0
 */
export const timeout = (arg: ByteString, now: number): Duration.Duration | undefined => {
  const seconds = parseFloat(arg)
  if (seconds === undefined) throw rejected("timeout is not a float or out of range")
  const millis = seconds * 1000
  // 2^63: the first value past a 64-bit integer, as close as a double gets to Redis's LLONG_MAX check.
  if (millis >= 2 ** 63) throw rejected("timeout is out of range")
  const rounded = Math.ceil(millis)
  if (rounded < 0) throw rejected("timeout is negative")
  if (rounded >= 2 ** 63 - now) throw rejected("timeout is out of range")
  return rounded === 0 ? undefined : Duration.millis(rounded)
}

/**
 * The string at `key`, `undefined` if none, or throws `WrongType`.
 *
 * @since 0.1.0
 */
export const getString = (ctx: CommandContext, key: ByteString): ByteString | undefined => {
  const value = ctx.keyspace.get(key)
  if (value === undefined || typeof value === "string") return value
  throw new WrongType()
}

/** The container of class `kind` at `key`: `undefined` if none, or throws `WrongType`. */
const getOf = <A extends Value>(
  ctx: CommandContext,
  key: ByteString,
  kind: abstract new(...args: never) => A
): A | undefined => {
  const value = ctx.keyspace.get(key)
  if (value === undefined || value instanceof kind) return value
  throw new WrongType()
}

/**
 * The list at `key`, or `undefined`; throws `WrongType` for another type.
 *
 * @since 0.1.0
 */
export const getList = (ctx: CommandContext, key: ByteString): List | undefined => getOf(ctx, key, List)

/**
 * The set at `key`, or `undefined`; throws `WrongType` for another type.
 *
 * @since 0.1.0
 */
export const getSet = (ctx: CommandContext, key: ByteString): MemberSet | undefined => getOf(ctx, key, MemberSet)

/**
 * The hash at `key`, or `undefined`; throws `WrongType` for another type.
 *
 * @since 0.1.0
 */
export const getHash = (ctx: CommandContext, key: ByteString): Hash | undefined => getOf<Hash>(ctx, key, Map)

/**
 * Throws `InvalidSyntax` (`-ERR syntax error`).
 *
 * @since 0.1.0
 */
export const syntaxError = (): never => {
  throw new InvalidSyntax()
}
