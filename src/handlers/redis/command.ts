/**
 * What a command is — its entry in the command table: a name, an arity,
 * Redis's flags and key positions (what `COMMAND` reports, and what the
 * dispatcher checks), and a synchronous implementation over the shared
 * state — and the helpers command modules share: what an implementation
 * receives ({@link CommandContext}), 64-bit arithmetic, and typed access to a
 * key's value. Arguments are read through `parse.ts`.
 *
 * Past 300 lines because every command module leans on it: splitting the
 * shared helpers out would leave each command importing three modules.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import { type ByteString, int64Max, int64Min, type Request } from "./bytes.ts"
import {
  errorReply,
  isCommandError,
  rejected,
  UnknownCommand,
  UnknownSubcommand,
  words,
  WrongArity,
  WrongType
} from "./errors.ts"
import { Arguments } from "./parse.ts"
import type { Keyspace } from "./keyspace.ts"
import type { OutputBound } from "./outputLimit.ts"
import * as Reply from "./reply.ts"
import type { PubSub } from "./pubsub.ts"
import type { Server } from "./server.ts"
import type { Session } from "./session.ts"
import { Hash, List, MemberSet, type Value } from "./values.ts"

/**
 * A command's reply: encoded bytes, or — for a command that blocks — the
 * effect that waits and then gives them.
 *
 * @since 0.1.0
 */
export type CommandResult = Uint8Array | Effect.Effect<Uint8Array>

/**
 * Server-wide settings commands need: one object per handler, shared by its
 * connections, which `CONFIG SET` changes in place (`config.ts` says what
 * each one is called there).
 *
 * @since 0.1.0
 */
export interface Settings {
  /** Longest bulk string accepted, and longest string a command may build (`APPEND`). */
  protoMaxBulkLen: number
  /** Most bytes a subscriber may have pending before it is cut off. */
  pubsubOutputLimit: number
  /** The bound on a normal client's pending output (`outputLimit.ts`). */
  normalOutputLimit: OutputBound
  /** Most commands one transaction may queue. */
  maxQueuedCommands: number
  /** Most bytes (heap estimate) one transaction may queue. */
  maxQueuedBytes: number
  /** Bytes the keyspace may take (`memory.ts`) before writes are refused; 0 for no bound. */
  maxmemory: number
  /** Seconds a client may stay idle before it is closed (Redis's `timeout`); 0 for never. */
  timeout: number
  /**
   * Values `CONFIG SET` stores and `CONFIG GET` returns that change nothing
   * here (`config.ts`): Redis's encoding thresholds (one representation per
   * type), the replica class's output limits (no replicas), keyspace
   * events that send nothing.
   */
  readonly inert: Map<string, string>
}

/**
 * What an implementation runs against.
 *
 * @since 0.1.0
 */
export interface CommandContext {
  readonly keyspace: Keyspace
  readonly pubsub: PubSub
  /** The server's clients and counters. */
  readonly server: Server
  readonly session: Session
  readonly settings: Settings
  /** Every command, by lowercase name, for `COMMAND`. */
  readonly commands: ReadonlyMap<string, Command>
}

/**
 * The flags of Redis 7's command table this handler's commands carry, as
 * `COMMAND` spells them.
 *
 * @since 0.1.0
 */
export type CommandFlag =
  | "write"
  | "readonly"
  | "denyoom"
  | "admin"
  | "pubsub"
  | "noscript"
  | "blocking"
  | "loading"
  | "stale"
  | "skip_slowlog"
  | "fast"
  | "no_auth"
  | "allow_busy"
  | "sentinel"
  | "movablekeys"
  | "skip_monitor"
  | "no_mandatory_keys"

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
  /** Redis's flags, in `COMMAND`'s order; `denyoom` is also checked against `maxmemory`. */
  readonly flags: ReadonlyArray<CommandFlag>
  /** First key, last key (negative: from the end), step; zeros for no keys. */
  readonly keys: readonly [number, number, number]
  /** Allowed while the connection is subscribed (RESP2 subscriber mode). */
  readonly whileSubscribed: boolean
  /** Runs at once inside `MULTI` instead of being queued (`EXEC`, `DISCARD`…). */
  readonly controlsTransaction: boolean
  /**
   * The implementation, given the arguments after the name (and subcommand
   * name); for a container, what runs when it is named alone (if its arity
   * lets it).
   */
  readonly run: (ctx: CommandContext, args: Arguments) => CommandResult
  /** For container commands (`CLIENT`, `CONFIG`, `COMMAND`): subcommands by lowercase name. */
  readonly subcommands?: ReadonlyMap<string, Command>
}

/**
 * Defines a command: one row of the command table.
 *
 * @since 0.1.0
 */
export const define = (
  name: string,
  arity: number,
  flags: ReadonlyArray<CommandFlag>,
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
  flags,
  keys,
  whileSubscribed: options?.whileSubscribed ?? false,
  controlsTransaction: options?.controlsTransaction ?? false,
  run,
  ...(options?.subcommands === undefined
    ? {}
    : { subcommands: new Map(options.subcommands.map((sub) => [sub.name.slice(sub.name.indexOf("|") + 1), sub])) })
})

/**
 * A container command (`CLIENT`, `CONFIG`…): named alone, its arity refuses
 * it; its subcommands do the work.
 *
 * @since 0.1.0
 */
export const container = (name: string, flags: ReadonlyArray<CommandFlag>, subcommands: ReadonlyArray<Command>): Command =>
  define(name, -2, flags, [0, 0, 0], () => {
    throw new WrongArity({ command: name })
  }, { subcommands })

/**
 * The `HELP` subcommand of container `name`: Redis's header and footer
 * around `lines` (pairs of a usage line and its indented explanation).
 *
 * @since 0.1.0
 */
export const help = (name: string, lines: ReadonlyArray<string>): Command =>
  define(`${name}|help`, 2, ["loading", "stale"], [0, 0, 0], () =>
    Reply.array([
      Reply.simple(`${name.toUpperCase()} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:`),
      ...lines.map(Reply.simple),
      Reply.simple("HELP"),
      Reply.simple("    Prints this help.")
    ]))

/**
 * The command a (non-empty) request names, in `commands` (the command
 * table); throws `UnknownCommand` or `UnknownSubcommand` as Redis words them.
 * A container named alone is the container itself, whose arity then refuses
 * it.
 *
 * @since 0.1.0
 */
export const lookup = (commands: ReadonlyMap<string, Command>, request: Request): Command => {
  const [name = "", subcommand] = request
  const command = commands.get(name.toLowerCase())
  if (command === undefined) throw new UnknownCommand({ name, args: request.slice(1) })
  if (subcommand === undefined || command.subcommands === undefined) return command
  const found = command.subcommands.get(subcommand.toLowerCase())
  if (found === undefined) throw new UnknownSubcommand({ command: name, subcommand })
  return found
}

/**
 * Runs `command` on `request` (already checked), counted in the server's
 * command statistics; a `CommandError` it throws becomes its error reply
 * (counted as a failed call). Anything else thrown is a bug and propagates.
 *
 * @since 0.1.0
 */
export const execute = (ctx: CommandContext, command: Command, request: Request): CommandResult => {
  let reply: CommandResult
  let failed = false
  try {
    // Its arguments start after the name, and after the subcommand's name for a subcommand.
    reply = command.run(ctx, new Arguments(request, command.name, command.name.includes("|") ? 2 : 1))
  } catch (error) {
    if (!isCommandError(error)) throw error
    const text = words(error)
    ctx.server.countError(text)
    reply = Reply.error(text)
    failed = true
  }
  // Counted and shown to monitors after it ran, as Redis does: `INFO` does not count itself, `CONFIG RESETSTAT` counts itself.
  if (ctx.server.monitors.size > 0 && !command.flags.includes("admin") && !command.flags.includes("skip_monitor")) {
    ctx.server.feedMonitors(ctx.session, request)
  }
  const stats = ctx.server.statsOf(command)
  stats.calls++
  if (failed) stats.failed++
  ctx.server.stats.commandsProcessed++
  return reply
}

/**
 * What a blocking command waits for (see {@link block}).
 *
 * @since 0.1.0
 */
export interface BlockOptions {
  /** The keys to wait on, in the command's order. */
  readonly keys: ReadonlyArray<ByteString>
  /**
   * Serves the client from `key` when it gets a value: takes from it and
   * returns the reply, or `undefined` (changing nothing) if `key` cannot serve
   * it; a `CommandError` it throws is its error reply.
   */
  readonly serve: (key: ByteString) => Uint8Array | undefined
  /** `undefined` waits for ever (a timeout of 0). */
  readonly timeout: Duration.Duration | undefined
  /** The reply on timeout. */
  readonly timedOut: Uint8Array
  /** The reply inside `EXEC`, where it may not block; default {@link timedOut}. */
  readonly denied?: Uint8Array | undefined
}

/**
 * Blocks a command that found nothing to take, in the keyspace
 * (`blocking.ts`): first come first served on each key, after the command
 * or `EXEC` that gave the key a value. Inside `EXEC` it answers `denied` at
 * once, as Redis does for a client that may not block.
 *
 * @since 0.1.0
 */
export const block = (ctx: CommandContext, options: BlockOptions): CommandResult => {
  if (ctx.session.inExec) return options.denied ?? options.timedOut
  const { serve } = options
  return ctx.keyspace.block({
    keys: options.keys,
    timeout: options.timeout,
    timedOut: options.timedOut,
    client: ctx.session,
    serve: (key) => {
      try {
        return serve(key)
      } catch (error) {
        if (isCommandError(error)) return errorReply(error)
        throw error
      }
    }
  })
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
export const getHash = (ctx: CommandContext, key: ByteString): Hash | undefined => getOf(ctx, key, Hash)
