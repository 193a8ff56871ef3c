/**
 * `MULTI`, `EXEC`, `DISCARD`, and the queue between them: while a
 * transaction is open, the dispatcher checks every other command and hands it
 * to {@link enqueue}; `EXEC` runs the queue in one synchronous pass, so no
 * other connection's command interleaves with it.
 *
 * @since 0.1.0
 */
import type { Request } from "../bytes.ts"
import { type Command, type CommandContext, define, execute, lookup } from "../command.ts"
import { rejected } from "../errors.ts"
import * as Reply from "../reply.ts"
import type { Transaction } from "../session.ts"

const transactionControl = { controlsTransaction: true } as const

/**
 * Queues `request` (checked: its command exists, its arity fits) in the open
 * `transaction`, and answers `+QUEUED`.
 *
 * @since 0.1.0
 */
export const enqueue = (transaction: Transaction, request: Request): Uint8Array => {
  // A failed transaction can only be discarded: what it would run need not be kept.
  if (!transaction.failed) transaction.queue.push(request)
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
    ctx.session.transaction = { queue: [], failed: false }
    return Reply.ok
  }, transactionControl),
  define("exec", 1, ["noscript", "loading", "stale", "skip_slowlog"], [0, 0, 0], (ctx) => {
    const transaction = ctx.session.transaction
    if (transaction === undefined) throw rejected("EXEC without MULTI")
    ctx.session.transaction = undefined
    if (transaction.failed) throw rejected("Transaction discarded because of previous errors.", "EXECABORT")
    ctx.session.inExec = true
    try {
      // Errors of single commands are replies in the array; they do not stop the others.
      return Reply.array(transaction.queue.map((request) => runQueued(ctx, request)))
    } finally {
      ctx.session.inExec = false
    }
  }, transactionControl),
  define("discard", 1, ["noscript", "loading", "stale", "fast", "allow_busy"], [0, 0, 0], (ctx) => {
    if (ctx.session.transaction === undefined) throw rejected("DISCARD without MULTI")
    ctx.session.transaction = undefined
    return Reply.ok
  }, transactionControl)
]
