/**
 * `MULTI`, `EXEC`, `DISCARD`. Queueing itself is the dispatcher's business
 * (every other command is queued while a transaction is open); `EXEC` runs
 * the queue in one synchronous pass, so no other connection's command
 * interleaves with it.
 *
 * @since 0.1.0
 */
import { type Command, define } from "../command.ts"
import { rejected } from "../errors.ts"
import * as Reply from "../reply.ts"

const transactionControl = { controlsTransaction: true } as const

/**
 * The transaction commands.
 *
 * @since 0.1.0
 */
export const commands: ReadonlyArray<Command> = [
  define("multi", 1, "noscript loading stale fast allow_busy", [0, 0, 0], (ctx) => {
    if (ctx.session.transaction !== undefined) throw rejected("MULTI calls can not be nested")
    ctx.session.transaction = { queue: [], failed: false }
    return Reply.ok
  }, transactionControl),
  define("exec", 1, "noscript loading stale skip_slowlog", [0, 0, 0], (ctx) => {
    const transaction = ctx.session.transaction
    if (transaction === undefined) throw rejected("EXEC without MULTI")
    ctx.session.transaction = undefined
    if (transaction.failed) throw rejected("Transaction discarded because of previous errors.", "EXECABORT")
    ctx.session.inExec = true
    try {
      // Errors of single commands are replies in the array; they do not stop the others.
      return Reply.array(transaction.queue.map(({ args, run }) => run(args)))
    } finally {
      ctx.session.inExec = false
    }
  }, transactionControl),
  define("discard", 1, "noscript loading stale fast allow_busy", [0, 0, 0], (ctx) => {
    if (ctx.session.transaction === undefined) throw rejected("DISCARD without MULTI")
    ctx.session.transaction = undefined
    return Reply.ok
  }, transactionControl)
]
