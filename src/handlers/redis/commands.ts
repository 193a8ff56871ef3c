/**
 * The command table and the dispatcher: from a request to a reply, with
 * the checks Redis makes before running a command, in Redis's order —
 * unknown command or subcommand, arity, what a subscribed connection may
 * send — then queueing inside `MULTI`, then the command itself.
 *
 * This is the one place where a command's `CommandError` becomes an error
 * reply, and where a refusal while a transaction is open marks it to fail.
 *
 * @since 0.1.0
 */
import type { Request } from "./bytes.ts"
import type { Command, CommandContext, CommandResult } from "./command.ts"
import * as ConnectionCommands from "./commands/connection.ts"
import * as HashesCommands from "./commands/hashes.ts"
import * as KeysCommands from "./commands/keys.ts"
import * as ListsCommands from "./commands/lists.ts"
import * as PubSubCommands from "./commands/pubsub.ts"
import * as SetsCommands from "./commands/sets.ts"
import * as StringsCommands from "./commands/strings.ts"
import * as TransactionsCommands from "./commands/transactions.ts"
import {
  type CommandError,
  errorReply,
  isCommandError,
  rejected,
  UnknownCommand,
  UnknownSubcommand,
  words,
  WrongArity
} from "./errors.ts"
import * as Reply from "./reply.ts"
import * as Session from "./session.ts"

/**
 * Every command, by lowercase name.
 *
 * @since 0.1.0
 */
export const table: ReadonlyMap<string, Command> = new Map(
  [
    ...ConnectionCommands.commands,
    ...KeysCommands.commands,
    ...StringsCommands.commands,
    ...ListsCommands.commands,
    ...SetsCommands.commands,
    ...HashesCommands.commands,
    ...TransactionsCommands.commands,
    ...PubSubCommands.commands
  ].map((command) => [command.name, command])
)

/** The command `args` name, or throws the error Redis gives. */
const lookup = (args: Request): Command => {
  const command = table.get(args[0]!.toLowerCase())
  if (command === undefined) throw new UnknownCommand({ name: args[0]!, args: args.slice(1) })
  // A container named alone is the container itself, whose arity then refuses it.
  if (args.length === 1 || command.subcommands === undefined) return command
  const subcommand = command.subcommands.get(args[1]!.toLowerCase())
  if (subcommand === undefined) throw new UnknownSubcommand({ command: args[0]!, subcommand: args[1]! })
  return subcommand
}

/** Checks before running: the command, its arity, and subscriber mode. */
const check = (ctx: CommandContext, args: Request): Command => {
  const command = lookup(args)
  if ((command.arity > 0 && args.length !== command.arity) || args.length < -command.arity) {
    throw new WrongArity({ command: command.name })
  }
  if (Session.subscriptions(ctx.session) > 0 && !command.whileSubscribed) {
    throw rejected(
      `Can't execute '${command.name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`
    )
  }
  return command
}

/** Runs `command`; its refusal becomes the error reply. Other exceptions are bugs and propagate. */
const execute = (ctx: CommandContext, command: Command, args: Request): CommandResult => {
  try {
    return command.run(ctx, args)
  } catch (error) {
    if (isCommandError(error)) return errorReply(error)
    throw error
  }
}

/** The reply to a refused command; a refused `EXEC` aborts the transaction, as Redis's `execCommandAbort`. */
const refusal = (ctx: CommandContext, args: Request, error: CommandError): Uint8Array => {
  if (ctx.session.transaction === undefined) return errorReply(error)
  ctx.session.transaction.failed = true
  if (args[0]!.toLowerCase() !== "exec") return errorReply(error)
  ctx.session.transaction = undefined
  const text = words(error)
  return Reply.error(`EXECABORT Transaction discarded because of: ${text.slice(text.indexOf(" ") + 1)}`)
}

/**
 * The reply to one (non-empty) request.
 *
 * **Details**
 *
 * Runs synchronously, except that a blocking command that has to wait
 * returns the effect that waits. After a command runs, lists it pushed to
 * are handed to blocked clients (after the whole `EXEC` for a transaction).
 *
 * @since 0.1.0
 */
export const dispatch = (ctx: CommandContext, args: Request): CommandResult => {
  let command: Command
  try {
    command = check(ctx, args)
  } catch (error) {
    if (isCommandError(error)) return refusal(ctx, args, error)
    throw error
  }
  const transaction = ctx.session.transaction
  if (transaction !== undefined && !command.controlsTransaction) {
    transaction.queue.push({
      args,
      run: (queued) => {
        const reply = execute(ctx, command, queued)
        // Blocking commands do not block inside EXEC (`session.inExec`).
        if (!(reply instanceof Uint8Array)) throw new Error(`${command.name} blocked inside EXEC`)
        return reply
      }
    })
    return Reply.queued
  }
  const reply = execute(ctx, command, args)
  ctx.keyspace.serveBlocked()
  return reply
}
