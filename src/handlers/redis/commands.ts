/**
 * The command table and the dispatcher: from a request to a reply, with
 * the checks Redis makes before running a command, in Redis's order —
 * unknown command or subcommand, arity, `maxmemory`, what a subscribed
 * connection may send — then queueing inside `MULTI`, then the command
 * itself.
 *
 * This is where a refusal before a command runs becomes an error reply, and
 * where a refusal while a transaction is open marks it to fail.
 *
 * @since 0.1.0
 */
import { is, type Request } from "./bytes.ts"
import { type Command, type CommandContext, type CommandResult, execute, lookup } from "./command.ts"
import * as BitsCommands from "./commands/bits.ts"
import * as ClientCommands from "./commands/client.ts"
import * as ConnectionCommands from "./commands/connection.ts"
import * as CountersCommands from "./commands/counters.ts"
import * as ExpiryCommands from "./commands/expiry.ts"
import * as FunctionsCommands from "./commands/functions.ts"
import * as HashesCommands from "./commands/hashes.ts"
import * as KeysCommands from "./commands/keys.ts"
import * as LcsCommands from "./commands/lcs.ts"
import * as ListsCommands from "./commands/lists.ts"
import * as PubSubCommands from "./commands/pubsub.ts"
import * as ServerCommands from "./commands/server.ts"
import * as SetsCommands from "./commands/sets.ts"
import * as StringsCommands from "./commands/strings.ts"
import * as TransactionsCommands from "./commands/transactions.ts"
import * as SortedSetsCommands from "./commands/zsets.ts"
import { type CommandError, isCommandError, OutOfMemory, rejected, words, WrongArity } from "./errors.ts"
import * as Reply from "./reply.ts"
import * as Session from "./session.ts"

/**
 * Every command, by lowercase name: what `COMMAND` lists, and what requests
 * are looked up in.
 *
 * @since 0.1.0
 */
export const table: ReadonlyMap<string, Command> = new Map(
  [
    ...ConnectionCommands.commands,
    ...ClientCommands.commands,
    ...KeysCommands.commands,
    ...ExpiryCommands.commands,
    ...StringsCommands.commands,
    ...CountersCommands.commands,
    ...BitsCommands.commands,
    ...LcsCommands.commands,
    ...ListsCommands.commands,
    ...SetsCommands.commands,
    ...HashesCommands.commands,
    ...SortedSetsCommands.commands,
    ...TransactionsCommands.commands,
    ...PubSubCommands.commands,
    ...ServerCommands.commands,
    ...FunctionsCommands.commands
  ].map((command) => [command.name, command])
)

/** What Redis lets through inside `MULTI` when memory is full: the commands that end it. */
const endsTransaction = new Set(["exec", "discard", "quit", "reset"])

/**
 * Redis's `noeviction` policy: with `maxmemory` set, a command that may grow
 * memory (`denyoom`; `EXEC` when it queued one), and inside `MULTI` any
 * command that would be queued, is refused when the keyspace's bytes plus
 * the request's would pass the bound. Reads and deletes always run.
 */
const checkMemory = (ctx: CommandContext, command: Command, request: Request) => {
  const { maxmemory } = ctx.settings
  if (maxmemory === 0) return
  const transaction = ctx.session.transaction
  const denyoom = command.flags.includes("denyoom") ||
    (transaction !== undefined && (command.name === "exec" ? transaction.denyoom : !endsTransaction.has(command.name)))
  if (!denyoom) return
  let wouldUse = ctx.keyspace.usedBytes()
  for (const arg of request) wouldUse += arg.length
  if (wouldUse > maxmemory) throw new OutOfMemory({ maxmemory, wouldUse })
}

/** Checks before running: the command, its arity, memory, and subscriber mode. */
const check = (ctx: CommandContext, request: Request): Command => {
  const command = lookup(table, request)
  ctx.session.lastCommand = command.name
  if ((command.arity > 0 && request.length !== command.arity) || request.length < -command.arity) {
    throw new WrongArity({ command: command.name })
  }
  checkMemory(ctx, command, request)
  if (Session.subscriptions(ctx.session) > 0 && !command.whileSubscribed) {
    throw rejected(
      `Can't execute '${command.name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`
    )
  }
  return command
}

/**
 * The reply to a refused command, counted (as a rejected call of a command
 * that exists); a refused `EXEC` aborts the transaction, as Redis's
 * `execCommandAbort`.
 */
const refusal = (ctx: CommandContext, request: Request, error: CommandError): Uint8Array => {
  if (error._tag !== "UnknownCommand" && error._tag !== "UnknownSubcommand") {
    ctx.server.statsOf(lookup(table, request)).rejected++
  }
  let text = words(error)
  if (ctx.session.transaction !== undefined) {
    ctx.session.transaction.failed = true
    if (is(request[0] ?? "", "exec")) {
      Session.discardTransaction(ctx.session, ctx.keyspace.watches)
      // Redis quotes its shared errors whole (`OOM …`), the ones it formats without their `ERR`.
      const reason = error._tag === "OutOfMemory" ? text : text.slice(text.indexOf(" ") + 1)
      text = `EXECABORT Transaction discarded because of: ${reason}`
    }
  }
  ctx.server.countError(text)
  return Reply.error(text)
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
export const dispatch = (ctx: CommandContext, request: Request): CommandResult => {
  let command: Command
  try {
    command = check(ctx, request)
  } catch (error) {
    if (isCommandError(error)) return refusal(ctx, request, error)
    throw error
  }
  const transaction = ctx.session.transaction
  if (transaction !== undefined && !command.controlsTransaction) {
    return TransactionsCommands.enqueue(ctx, transaction, command, request)
  }
  const reply = execute(ctx, command, request)
  ctx.keyspace.serveBlocked()
  return reply
}
