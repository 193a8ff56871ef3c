/**
 * A Redis-compatible handler: real Redis clients and tools (ioredis,
 * node-redis, redis-cli, redis-benchmark) use it unchanged.
 *
 * Per connection it reads like the protocol: read a request, dispatch it,
 * write the reply, until the peer ends its input, sends `QUIT`, or breaks the
 * protocol (then it gets Redis's error and the connection closes, after every
 * request before the bad one was answered). The state connections share —
 * the keyspace, the pub/sub registry, the clients and counters — are services
 * provided once per server by {@link layer}. (Past 300 lines because the
 * loop's every way to wait and to end — read, subscriber output, blocking,
 * `CLIENT UNBLOCK`, `CLIENT KILL`, `CLIENT REPLY` — must be read together.)
 *
 * **Example** (A Redis server on port 6380)
 *
 * ```ts
 * const server = LineServer.make({ handler: Redis.handler(), port: 6380 }).pipe(Effect.provide(Redis.layer()))
 * ```
 *
 * Layout of `handlers/redis/`: `bytes.ts` (byte strings and 64-bit bounds,
 * a leaf every layer shares); `resp.ts` (the request decoder), `inline.ts` (inline
 * quoting) and `reply.ts` (encoding); `keyspace.ts`, `pubsub.ts` and
 * `server.ts` (shared state, as services: the data, the subscriptions, the
 * clients and counters) with `values.ts` (the value types, some in
 * `values/`), `double.ts` (scores as Redis writes and reads them), `memory.ts` (what
 * `maxmemory` counts) and `glob.ts`; `commands.ts` (table, dispatch) over
 * `commands/*.ts`, with `command.ts` (what a command is), `parse.ts` (the
 * argument cursor) and `errors.ts` (Redis's words); `config.ts` (the `CONFIG`
 * parameters) and `info.ts` (the `INFO` text); `session.ts` (per-connection
 * state), `outbox.ts` (a subscriber's or monitor's bounded output) and
 * `outputLimit.ts` (the bound on every other client's output).
 *
 * @since 0.1.0
 */
import { constants as BufferConstants } from "node:buffer"
import * as V8 from "node:v8"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Decoder from "../../Decoder.ts"
import * as Options from "../../Options.ts"
import type { Connection } from "../../services/Connection.ts"
import type { LineWaitError } from "../../Errors.ts"
import * as Address from "../../Address.ts"
import type { CommandContext, Settings } from "./command.ts"
import { dispatch, table } from "./commands.ts"
import * as Config from "./config.ts"
import * as Keyspace from "./keyspace.ts"
import * as Memory from "./memory.ts"
import * as OutputLimit from "./outputLimit.ts"
import * as PubSub from "./pubsub.ts"
import * as Reply from "./reply.ts"
import * as Resp from "./resp.ts"
import * as Server from "./server.ts"
import * as Session from "./session.ts"

/** A positive integer of at most `max`. */
const sizeUpTo = (max: number) =>
  Schema.Number.check(
    Schema.makeFilter((n: number) => Number.isSafeInteger(n) && n > 0 && n <= max, { expected: `an integer from 1 to ${max}` })
  )

/** A limit: 0 (none) or a positive integer. */
const Limit = Schema.Number.check(
  Schema.makeFilter((n: number) => Number.isSafeInteger(n) && n >= 0, { expected: "0 (no limit) or a positive integer" })
)

/**
 * Options of the handler, as a Schema: a value the handler cannot run with
 * is an `InvalidOption` naming the field and the value.
 *
 * @since 0.1.0
 */
export const RedisOptions = Schema.Struct({
  /**
   * Longest bulk string a request may carry, in bytes (Redis's
   * `proto-max-bulk-len`); a longer one is a protocol error.
   */
  protoMaxBulkLen: Schema.optional(sizeUpTo(BufferConstants.MAX_STRING_LENGTH)),
  /**
   * Pending output, in bytes, past which a subscriber that does not read is
   * cut off (the hard limit of Redis's `client-output-buffer-limit pubsub`;
   * `CONFIG SET` may also make it 0, no bound).
   */
  pubsubOutputLimit: Schema.optional(Options.PositiveInt),
  /**
   * The bound on a normal client's pending output (Redis's
   * `client-output-buffer-limit normal`): cut off past `hard` bytes, or
   * above `soft` bytes for `softSeconds`; 0 turns a limit off.
   */
  normalOutputLimit: Schema.optional(Schema.Struct({ hard: Limit, soft: Limit, softSeconds: Limit })),
  /** Most commands one `MULTI` may queue; the one past it fails the transaction. */
  maxQueuedCommands: Schema.optional(Options.PositiveInt),
  /**
   * Most bytes one `MULTI` may queue, counted as their heap estimate (each
   * argument's length plus 32, and 32 per command); the command past it
   * fails the transaction.
   */
  maxQueuedBytes: Schema.optional(Options.PositiveInt),
  /**
   * Bytes the keyspace may take, as `memory.ts` counts them, before writes
   * are refused with Redis's `-OOM` (its `maxmemory` with `noeviction`); 0
   * for no bound.
   */
  maxmemory: Schema.optional(Limit)
})

/**
 * The handler's options as given (see the {@link RedisOptions} schema for each).
 *
 * @since 0.1.0
 */
export interface RedisOptions extends Schema.Codec.Encoded<typeof RedisOptions> {}

/**
 * Defaults: 512 MiB bulks as Redis (or V8's longest string, 24 bytes less,
 * since values are held as strings), 32 MiB of pending subscriber output,
 * and a normal client's output bounded as `outputLimit.ts`'s
 * `normalDefault` says why (256 MiB hard, 32 MiB soft for 60 s).
 *
 * A transaction queues at most 100 000 commands and 64 MiB (Redis has no
 * such bound; its queue grows until memory runs out). Queued bytes are
 * counted close to the heap they take (`INCR counter`: counted 107, takes
 * 122), so a flood of small commands stops at about 12 MiB (a 64 MiB old
 * space survives it) and big ones at 64 MiB: a small part of the default
 * heap (2–4 GiB). The bound is per connection: the server holds at most
 * `maxConnections` full queues.
 *
 * `maxmemory` is half the V8 heap this process may grow to (Redis's
 * default, 0, means no bound: for Redis the machine's memory, for Node the
 * heap limit, past which the process dies with everything it held). Half
 * leaves the rest for connections, queues, outboxes and the garbage
 * collector's headroom; `memory.ts`'s estimate is within 15% of the heap the
 * keyspace takes.
 *
 * @since 0.1.0
 */
export const defaults = {
  protoMaxBulkLen: Math.min(512 * 1024 * 1024, BufferConstants.MAX_STRING_LENGTH),
  pubsubOutputLimit: 32 * 1024 * 1024,
  normalOutputLimit: OutputLimit.normalDefault,
  maxQueuedCommands: 100_000,
  maxQueuedBytes: 64 * 1024 * 1024,
  maxmemory: Math.floor(V8.getHeapStatistics().heap_size_limit / 2)
} as const

/**
 * A memory size as Redis's configuration reads it (`100mb`, `2gb`, `1000`),
 * for `maxmemory`; `undefined` if it does not read.
 *
 * @since 0.1.0
 */
export const parseMemory: (text: string) => number | undefined = Memory.parseMemory

/**
 * How a connection of this handler can fail: the waits of its reads and
 * writes (end of input, protocol errors and a cut-off are normal ends).
 *
 * @since 0.1.0
 */
export type RedisError = LineWaitError

/**
 * Normal clients cut off because their pending output passed a limit of
 * {@link RedisOptions.normalOutputLimit}.
 *
 * @since 0.1.0
 */
export const clientsCutOff = Metric.counter("fiberline_redis_clients_cut_off_total", {
  description: "Normal clients disconnected because their pending output passed client-output-buffer-limit normal",
  incremental: true
})

/**
 * Subscribers cut off because their pending output passed the limit.
 *
 * @since 0.1.0
 */
export const subscribersCutOff = Metric.counter("fiberline_redis_subscribers_cut_off_total", {
  description: "Pub/sub subscribers disconnected because their pending output passed pubsubOutputLimit",
  incremental: true
})

/** What a blocked command gets from `CLIENT UNBLOCK … ERROR`. */
const unblockedError = Reply.error("UNBLOCKED client unblocked via CLIENT UNBLOCK")

/** The settings of one handler: shared by its connections, changed in place by `CONFIG SET`. */
const resolve = (options: RedisOptions | undefined): Settings => {
  // The handler's options are the program's own constants: an invalid one is a defect, the InvalidOption.
  const decoded = Options.decodeUnsafe(RedisOptions, options ?? {})
  return {
    protoMaxBulkLen: decoded.protoMaxBulkLen ?? defaults.protoMaxBulkLen,
    pubsubOutputLimit: decoded.pubsubOutputLimit ?? defaults.pubsubOutputLimit,
    normalOutputLimit: decoded.normalOutputLimit ?? defaults.normalOutputLimit,
    maxQueuedCommands: decoded.maxQueuedCommands ?? defaults.maxQueuedCommands,
    maxQueuedBytes: decoded.maxQueuedBytes ?? defaults.maxQueuedBytes,
    maxmemory: decoded.maxmemory ?? defaults.maxmemory,
    timeout: 0,
    inert: Config.inertDefaults()
  }
}

/**
 * One connection, from its first request to its close: read a request,
 * dispatch it, write the reply (mini-redis's `Handler::run`). A buffered
 * pipeline is read, run and answered without the fiber suspending once;
 * the replies go out in one write when the next read has to wait.
 *
 * **Details**
 *
 * A blocking command (`BLPOP`) waits in the keyspace; meanwhile the input
 * is still read ahead, so a peer that leaves (its input ends, or the
 * connection fails) ends the wait and its waiter, whatever it pipelined
 * after the command; from the moment the input has ended the waiter is
 * passed over (the session's `connected`), so a push in between stays in
 * the list. Once subscribed, the connection's output goes through
 * its outbox, drained by a writer fiber in the connection's scope; reads
 * race the outbox closing, so a subscriber cut off for not reading ends at
 * once, and when the reader ends, the writer writes what is queued and ends
 * too.
 */
const session = (conn: Connection, settings: Settings, requests: Decoder.Decoder<Resp.Request | Resp.ProtocolError>) => {
  // The name the client gave itself, for the cut-off's log line.
  let named: Session.Session | undefined
  return Effect.gen(function*() {
    const server = yield* Server.Server
    const local = conn.localAddress
    const address = local === undefined ? undefined : Address.format(local)
    const state = Session.make(conn.id, conn.peer, address, server.time(), () => !conn.inputEnded)
    named = state
    const ctx: CommandContext = {
      keyspace: yield* Keyspace.Keyspace,
      pubsub: yield* PubSub.PubSub,
      server,
      session: state,
      settings,
      commands: table
    }
    server.connect({
      session: state,
      settings,
      // From another connection's command (`CLIENT KILL`) or the idle timeout: this read fails, quietly.
      kill: () => {
        state.killed = true
        server.disconnect(state.id)
        Effect.runSync(conn.abort)
      },
      pendingOutput: () => conn.pendingOutput
    })
    // Whatever ends the connection leaves no subscription, no watched key and no registration behind.
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        server.disconnect(state.id)
        server.monitors.delete(state)
        Session.unsubscribeAll(state, ctx.pubsub)
        Session.discardTransaction(state, ctx.keyspace.watches)
      })
    )
    const readRequest = conn.read(requests)
    let writer: Fiber.Fiber<void, RedisError> | undefined

    // A normal client's reply is checked against its output limit; a subscriber's outbox has its own.
    const write = OutputLimit.limitedWriter(conn, () => settings.normalOutputLimit, server.time, server.now)
    const send = (reply: Uint8Array) =>
      reply.length === 0
        ? Effect.void
        : state.outbox === undefined
        ? write(reply)
        : Effect.sync(() => state.outbox?.deliver(reply))
    // `CLIENT UNBLOCK` ends the wait with what a timeout gives every blocking command here (a null array), or an error.
    const unblocked = Effect.callback<Uint8Array>((resume) => {
      state.unblock = (how) => resume(Effect.succeed(how === "error" ? unblockedError : Reply.nullArray))
      return Effect.sync(() => {
        state.unblock = undefined
      })
    })
    // Blocked: the replies before the blocking command go out now, not when the wait ends; the peer
    // leaving ends the wait (false), else the reply is sent (true), unless silenced.
    const whileBlocked = (blocked: Effect.Effect<Uint8Array>, silenced: boolean) =>
      Effect.flatMap(
        Effect.raceFirst(
          Effect.raceFirst(blocked, unblocked),
          Effect.as(Effect.andThen(conn.flush, conn.awaitInputEnd), undefined)
        ),
        (reply) => {
          state.unblock = undefined
          state.lastInteraction = server.time()
          return reply === undefined ? Effect.succeed(false) : Effect.as(silenced ? Effect.void : send(reply), true)
        }
      )

    const serve = Effect.gen(function*() {
      while (!state.quit) {
        // Subscribed: a cut-off (or the writer failing) ends the wait for input.
        const request = yield* (state.outbox === undefined ? readRequest : Effect.raceFirst(readRequest, state.outbox.closed))
        if (!Array.isArray(request)) {
          const error = request as Resp.ProtocolError
          yield* Effect.logDebug("protocol error", { error: error.message })
          server.countError("ERR")
          yield* send(Reply.error(`ERR ${error.message}`))
          return
        }
        if (request.length === 0) continue
        state.lastInteraction = server.time()
        const reply = dispatch(ctx, request)
        // `CLIENT REPLY OFF|SKIP`: decided once the command ran (`CLIENT REPLY ON` is answered).
        const silenced = state.replies !== "on" && !Session.replySent(state)
        // The first subscription created the outbox; its writer lives in the connection's scope.
        if (state.outbox !== undefined && writer === undefined) writer = yield* Effect.forkScoped(state.outbox.writer(conn))
        if (reply instanceof Uint8Array) {
          if (!silenced) yield* send(reply)
        } else if (!(yield* whileBlocked(reply, silenced))) return
      }
    })
    // The peer ended its input (a request cut short is never run), or another connection killed this one.
    yield* serve.pipe(
      Effect.catchTags({ EndOfInput: () => Effect.void, UnexpectedEndOfInput: () => Effect.void }),
      Effect.catchIf(() => state.killed, () => Effect.void)
    )

    // The writer writes what is queued, then ends.
    if (writer !== undefined) {
      Session.unsubscribeAll(state, ctx.pubsub)
      state.outbox?.end()
      yield* Fiber.join(writer)
    }
  }).pipe(
    // Cut off as Redis does: at once, with what it did not read dropped.
    Effect.catchTag("OutputLimitExceeded", (error: OutputLimit.OutputLimitExceeded) =>
      Effect.logWarning(`${error.clientClass === "pubsub" ? "subscriber" : "client"} cut off: ${error.message}`, {
        client: conn.peer,
        id: conn.id,
        name: named?.name,
        class: error.clientClass,
        limit: error.limit,
        pending: error.pending
      }).pipe(
        Effect.andThen(Metric.update(error.clientClass === "pubsub" ? subscribersCutOff : clientsCutOff, 1)),
        Effect.andThen(conn.abort)
      ))
  )
}

/**
 * The handler, as a function of its connection.
 *
 * **Details**
 *
 * The connection ends normally when the peer ends its input, after `QUIT`,
 * after a protocol error (answered first), and when a client is cut off for
 * its pending output (logged at warning and counted in
 * {@link subscribersCutOff} or {@link clientsCutOff}); the waits of
 * reads and writes fail it ({@link RedisError}). Needs the shared state of
 * {@link layer}.
 *
 * @since 0.1.0
 */
export const handler = (options?: RedisOptions) => {
  const settings = resolve(options)
  // The bulk limit is read at each bulk: `CONFIG SET proto-max-bulk-len` applies to the next request.
  const requests = Decoder.failuresAsFrames(Resp.request({
    get maxBulkLength() {
      return settings.protoMaxBulkLen
    }
  }))
  return (conn: Connection): Effect.Effect<void, RedisError, Keyspace.Keyspace | PubSub.PubSub | Server.Server | Scope.Scope> =>
    session(conn, settings, requests)
}

/**
 * The state all connections of one server share: a keyspace (with its
 * expiry sweep), a pub/sub registry, and the server's own state (its
 * clients and counters). Provide it once per server.
 *
 * @since 0.1.0
 */
export const layer = (
  options?: Keyspace.KeyspaceOptions
): Layer.Layer<Keyspace.Keyspace | PubSub.PubSub | Server.Server> =>
  Layer.mergeAll(Keyspace.layer(options), PubSub.layer, Server.layer)
