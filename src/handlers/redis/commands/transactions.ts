/**
 * `MULTI`, `EXEC`, `DISCARD`, `WATCH`, `UNWATCH`, and the queue between
 * them: while a transaction is open, the dispatcher checks every other
 * command and hands it to {@link enqueue}; `EXEC` runs the queue in one
 * synchronous pass, so no other connection's command interleaves with it —
 * unless a watched key changed since it was watched (`watch.ts`): then `EXEC`
 * answers a null array and runs nothing.
 *
 * The queue is bounded (`maxQueuedCommands`, `maxQueuedBytes`): the command
 * that would pass a bound is refused with an error naming it, and, like any
 * command refused while queueing, fails the transaction (`EXEC` answers
 * `EXECABORT`). The queue is dropped at once, and a failed transaction keeps
 * nothing more, so one connection cannot fill the heap through `MULTI`.
 *
 * @since 0.1.0
 */
import type { Request } from "../bytes.ts"
import { type Command, type CommandContext, define, execute, lookup } from "../command.ts"
import { errorReply, rejected } from "../errors.ts"
import * as Reply from "../reply.ts"
import { discardTransaction, type Transaction } from "../session.ts"

const transactionControl = { controlsTransaction: true } as const

/** What a queued request is counted as: its arguments' bytes plus an estimate of their strings' and array's overhead. */
const queuedBytes = (request: Request): number => {
  let bytes = 32
  for (const arg of request) bytes += arg.length + 32
  return bytes
}

/**
 * Queues `request` (checked: its command exists, its arity fits) in the open
 * `transaction`, and answers `+QUEUED`; past the queue's bounds, fails the
 * transaction instead.
 *
 * @since 0.1.0
 */
export const enqueue = (
  ctx: CommandContext,
  transaction: Transaction,
  command: Command,
  request: Request
): Uint8Array => {
  // A failed transaction can only be discarded: what it would run need not be kept.
  if (transaction.failed) return Reply.queued
  const bytes = transaction.bytes + queuedBytes(request)
  const { maxQueuedBytes, maxQueuedCommands } = ctx.settings
  const tooMany = transaction.queue.length >= maxQueuedCommands
  if (tooMany || bytes > maxQueuedBytes) {
    transaction.failed = true
    transaction.queue.length = 0
    transaction.bytes = 0
    return errorReply(rejected(
      tooMany
        ? `transaction too big: more than ${maxQueuedCommands} queued commands (max-queued-commands)`
        : `transaction too big: more than ${maxQueuedBytes} bytes queued (max-queued-bytes)`
    ))
  }
  // A copy of exactly its length: the request's array may have room to spare (`INCR counter` takes 122 bytes so, 242 not).
  transaction.queue.push(request.slice())
  transaction.bytes = bytes
  if (command.flags.includes("denyoom")) transaction.denyoom = true
  return Reply.queued
}

/** Runs one queued request; a blocking command does not block inside EXEC (`session.inExec`). */
const runQueued = (ctx: CommandContext, request: Request): Uint8Array => {
  const command = lookup(ctx.commands, request)
  const reply = execute(ctx, command, request)
  if (!(reply instanceof Uint8Array)) throw new Error(`${command.name} blocked inside EXEC`)
  return reply
}

/**
 * The transaction commands.
 *
 * @since 0.1.0
 */
export const commands: ReadonlyArray<Command> = [
  define("multi", 1, ["noscript", "loading", "stale", "fast", "allow_busy"], [0, 0, 0], (ctx) => {
    if (ctx.session.transaction !== undefined) throw rejected("MULTI calls can not be nested")
    ctx.session.transaction = { queue: [], bytes: 0, denyoom: false, failed: false }
    return Reply.ok
  }, transactionControl),
  define("exec", 1, ["noscript", "loading", "stale", "skip_slowlog"], [0, 0, 0], (ctx) => {
    const { session } = ctx
    const transaction = session.transaction
    if (transaction === undefined) throw rejected("EXEC without MULTI")
    const { watches } = ctx.keyspace
    // A watched key past its expiry counts as changed, collected or not.
    const dirty = session.watcher.dirty || watches.expiredSinceWatched(session.watcher)
    // The keys are unwatched before the queue runs: its own writes cannot abort it.
    discardTransaction(session, watches)
    if (transaction.failed) throw rejected("Transaction discarded because of previous errors.", "EXECABORT")
    if (dirty) return Reply.nullArray
    session.inExec = true
    try {
      // Errors of single commands are replies in the array; they do not stop the others.
      return Reply.array(transaction.queue.map((request) => runQueued(ctx, request)))
    } finally {
      session.inExec = false
    }
  }, transactionControl),
  define("discard", 1, ["noscript", "loading", "stale", "fast", "allow_busy"], [0, 0, 0], (ctx) => {
    if (ctx.session.transaction === undefined) throw rejected("DISCARD without MULTI")
    discardTransaction(ctx.session, ctx.keyspace.watches)
    return Reply.ok
  }, transactionControl),
  // Runs at once inside MULTI, to refuse there (without failing the transaction).
  define("watch", -2, ["noscript", "loading", "stale", "fast", "allow_busy"], [1, -1, 1], (ctx, args) => {
    if (ctx.session.transaction !== undefined) throw rejected("WATCH inside MULTI is not allowed")
    const { watcher } = ctx.session
    // Dirty already: EXEC will abort whatever else is watched.
    if (watcher.dirty) return Reply.ok
    for (const key of args.rest()) ctx.keyspace.watches.watch(watcher, key)
    return Reply.ok
  }, transactionControl),
  define("unwatch", 1, ["noscript", "loading", "stale", "fast", "allow_busy"], [0, 0, 0], (ctx) => {
    ctx.keyspace.watches.unwatch(ctx.session.watcher)
    ctx.session.watcher.dirty = false
    return Reply.ok
  })
]
