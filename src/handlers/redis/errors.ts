/**
 * The errors a command answers with, and the one place that turns them into
 * Redis's words ({@link errorReply}).
 *
 * Commands are synchronous functions over the keyspace (that is what makes
 * `EXEC` atomic without a lock), so they raise these errors with `throw`;
 * the dispatcher catches them and replies. Anything else thrown is a bug and
 * stays a defect.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as Reply from "./reply.ts"

/**
 * The key holds a value of another type than the command works on.
 *
 * @since 0.1.0
 */
export class WrongType extends Schema.TaggedError<WrongType>()("WrongType", {}) {}

/**
 * An argument (or a stored value) that must be a 64-bit integer is not.
 *
 * @since 0.1.0
 */
export class NotAnInteger extends Schema.TaggedError<NotAnInteger>()("NotAnInteger", {}) {}

/**
 * An argument that must be a double is not one, or is out of range.
 *
 * @since 0.1.0
 */
export class NotAFloat extends Schema.TaggedError<NotAFloat>()("NotAFloat", {}) {}

/**
 * The command's options do not parse.
 *
 * @since 0.1.0
 */
export class InvalidSyntax extends Schema.TaggedError<InvalidSyntax>()("InvalidSyntax", {}) {}

/**
 * The command got too few or too many arguments.
 *
 * @since 0.1.0
 */
export class WrongArity extends Schema.TaggedError<WrongArity>()("WrongArity", {
  /** Full lowercase name, `get` or `client|setname`. */
  command: Schema.String
}) {}

/**
 * No command has this name.
 *
 * @since 0.1.0
 */
export class UnknownCommand extends Schema.TaggedError<UnknownCommand>()("UnknownCommand", {
  name: Schema.String,
  args: Schema.Array(Schema.String)
}) {}

/**
 * A container command (`CLIENT`, `CONFIG`, `COMMAND`) has no such subcommand.
 *
 * @since 0.1.0
 */
export class UnknownSubcommand extends Schema.TaggedError<UnknownSubcommand>()("UnknownSubcommand", {
  command: Schema.String,
  subcommand: Schema.String
}) {}

/**
 * A write (or, inside `MULTI`, any command but `EXEC`, `DISCARD`, `QUIT`,
 * `RESET`) while the keyspace is at `maxmemory`: Redis's `noeviction` policy.
 *
 * @since 0.1.0
 */
export class OutOfMemory extends Schema.TaggedError<OutOfMemory>()("OutOfMemory", {
  /** The bound, in bytes. */
  maxmemory: Schema.Number,
  /** The keyspace's bytes plus the request's. */
  wouldUse: Schema.Number
}) {}

/**
 * Any other refusal, with Redis's own code (`ERR`, `NOPROTO`, `EXECABORT`…)
 * and text: errors that each occur in one command only.
 *
 * @since 0.1.0
 */
export class Rejected extends Schema.TaggedError<Rejected>()("Rejected", {
  code: Schema.String,
  text: Schema.String
}) {}

/**
 * Every error a command replies with.
 *
 * @since 0.1.0
 */
export type CommandError =
  | WrongType
  | NotAnInteger
  | NotAFloat
  | InvalidSyntax
  | WrongArity
  | UnknownCommand
  | UnknownSubcommand
  | OutOfMemory
  | Rejected

/**
 * An `ERR` with `text`: `throw rejected("DB index is out of range")`.
 *
 * @since 0.1.0
 */
export const rejected = (text: string, code = "ERR"): Rejected => new Rejected({ code, text })

/**
 * Whether `u` is a {@link CommandError}.
 *
 * @since 0.1.0
 */
export const isCommandError = (u: unknown): u is CommandError =>
  u instanceof WrongType || u instanceof NotAnInteger || u instanceof NotAFloat || u instanceof InvalidSyntax ||
  u instanceof WrongArity || u instanceof UnknownCommand || u instanceof UnknownSubcommand || u instanceof OutOfMemory ||
  u instanceof Rejected

/** The text of a C string: Redis formats arguments with `%s`, which stops at a NUL byte. */
const cString = (s: string): string => {
  const nul = s.indexOf("\0")
  return nul === -1 ? s : s.slice(0, nul)
}

/**
 * What Redis says for `error`, code first (`WRONGTYPE Operation against…`).
 *
 * @since 0.1.0
 */
export const words = (error: CommandError): string => {
  switch (error._tag) {
    case "WrongType":
      return "WRONGTYPE Operation against a key holding the wrong kind of value"
    case "NotAnInteger":
      return "ERR value is not an integer or out of range"
    case "NotAFloat":
      return "ERR value is not a valid float"
    case "InvalidSyntax":
      return "ERR syntax error"
    case "WrongArity":
      return `ERR wrong number of arguments for '${error.command}' command`
    case "UnknownCommand": {
      // As Redis: quote arguments while fewer than 128 bytes were quoted, each cut to what is left of those.
      let args = ""
      for (const arg of error.args) {
        if (args.length >= 128) break
        args += `'${cString(arg).slice(0, 128 - args.length)}' `
      }
      return `ERR unknown command '${cString(error.name).slice(0, 128)}', with args beginning with: ${args}`
    }
    case "UnknownSubcommand":
      return `ERR unknown subcommand '${cString(error.subcommand).slice(0, 128)}'. Try ${error.command.toUpperCase()} HELP.`
    case "OutOfMemory":
      return "OOM command not allowed when used memory > 'maxmemory'."
    case "Rejected":
      return `${error.code} ${error.text}`
  }
}

/**
 * The error reply for `error`.
 *
 * @since 0.1.0
 */
export const errorReply = (error: CommandError): Uint8Array => Reply.error(words(error))
