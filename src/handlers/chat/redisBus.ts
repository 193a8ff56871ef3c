/**
 * A room shared by several processes (or machines) over Redis pub/sub:
 * every line said in one process is published on the room's channel, and
 * each process delivers the lines of the others to its own members. The
 * slow-member policy stays local: a member's outbox is in its own process.
 * It runs over Effect's `Redis` service (`effect/persistence/Redis`), so any
 * client can carry it; `fiberline chat --redis URL` uses node-redis through
 * `@effect/platform-node/NodeRedis`, which reconnects and subscribes again by
 * itself. What crosses, and what happens while the broker is away, is on
 * {@link link}, whose state its five fibers share: hence one module of
 * over 300 lines.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import type * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redis from "effect/persistence/Redis"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Options from "../../Options.ts"
import type { Bus, Local } from "./bus.ts"
import * as Frame from "./frame.ts"
import * as Nicks from "./nicks.ts"
import type { ChatOptions } from "./options.ts"
import { make as makeRoom, Room } from "./room.ts"

/**
 * Options of a shared room, beyond the room's own. Every field is optional;
 * see {@link redisDefaults}.
 *
 * @since 0.1.0
 */
export const RedisRoomOptions = Schema.Struct({
  /**
   * Prefix of the room's channel (`PREFIX:room`) and keys (`PREFIX:nick:…`,
   * `PREFIX:nicks`): processes with the same prefix share a room; rooms with
   * different prefixes can share a broker.
   */
  prefix: Schema.optional(Schema.String),
  /**
   * How long a nickname stays claimed after its process stops refreshing
   * it (it refreshes every third of this): how long a process that died
   * keeps its members' nicknames, and lists them in `/who`.
   */
  nickTtl: Schema.optional(Options.Timeout),
  /** How often a process checks its link by publishing a frame to itself. */
  heartbeat: Schema.optional(Options.Timeout)
})

/**
 * Options of a shared room, as given (see the schema above).
 *
 * @since 0.1.0
 */
export interface RedisRoomOptions extends Schema.Codec.Encoded<typeof RedisRoomOptions> {}

/**
 * Default shared-room options: prefix `chat`, nicknames claimed for 30 s,
 * a heartbeat every second.
 *
 * @since 0.1.0
 */
export const redisDefaults = { prefix: "chat", nickTtl: "30 seconds", heartbeat: "1 second" } as const

/**
 * The shared room could not start: the broker did not deliver the
 * process's own first frame in time (or, from the CLI, refused the
 * connection). `message` is one line fit for an operator.
 *
 * @since 0.1.0
 */
export class BrokerUnavailable extends Schema.TaggedError<BrokerUnavailable>("fiberline/chat/BrokerUnavailable")(
  "BrokerUnavailable",
  { message: Schema.String }
) {}

/** Heartbeats without a frame of our own back before the link is down. */
const missedLimit = 5
/** Longest wait for any one broker command: a hung broker must not hold a join. */
const commandTimeout = Duration.seconds(2)
/** How long the first frame may take to come back at startup. */
const startTimeout = Duration.seconds(5)
/** How long shutdown waits for the last publishes and releases. */
const drainTimeout = Duration.seconds(2)
/** Lines waiting to be published; past this (a slow broker) they are dropped. */
const maxQueued = 10_000
/** Lines in one frame at most. */
const maxFrameLines = 500

/**
 * One line saying why a broker operation failed: the error's message, or
 * its code (a refused connection's `AggregateError` has no message).
 *
 * @since 0.1.0
 */
export const reasonOf = (cause: unknown): string => {
  if (cause instanceof Redis.RedisError) return reasonOf(cause.cause)
  if (cause instanceof AggregateError && cause.errors.length > 0) return reasonOf(cause.errors[0])
  if (cause instanceof Error) return cause.message || ((cause as NodeJS.ErrnoException).code ?? cause.name)
  return String(cause)
}

/** `effect`, failed as the broker's error when it has no answer within {@link commandTimeout}. */
const bounded = <A>(effect: Effect.Effect<A, Redis.RedisError>): Effect.Effect<A, Redis.RedisError> =>
  Effect.timeoutOrElse(effect, {
    duration: commandTimeout,
    orElse: () => Effect.fail(new Redis.RedisError({ cause: new Error(`no reply within ${Duration.format(commandTimeout)}`) }))
  })

/**
 * The bus of one process over `redis`, for the room whose side is `local`:
 * what it does, and how it fails.
 *
 * **Framing.** One JSON object per `PUBLISH` on `PREFIX:room`, naming the
 * process it comes from (see `frame.ts`). A process skips its own frames
 * (its members already got those lines) and takes them as proof that its
 * link works; a frame that does not decode is logged and skipped.
 *
 * **Nicknames and `/who`.** A nickname is claimed in Redis before its
 * member is seated, so it is unique across processes (regardless of case),
 * and given back by its owner when the member leaves; `/who` and the
 * greeting list every claim, so everyone in the room. A member elsewhere
 * may be listed a moment before its join notice arrives; one whose process
 * died without draining stays listed, and its nickname taken, until its
 * claim expires (`nickTtl`, 30 s), with no leave notice. See `nicks.ts`.
 *
 * **Delivery: at most once.** Lines reach the other processes in the order
 * they were said here, or not at all: Redis pub/sub keeps nothing for a
 * subscriber that is reconnecting, and a process drops the lines it cannot
 * publish rather than queue them for later.
 *
 * **Broker failures.** Nothing crashes and chat within each process goes on.
 * Each process publishes a heartbeat frame every `heartbeat` and waits for
 * its own frames to come back. A failed command, or five heartbeats without
 * one of its own frames back, makes the link *down*: one warning is logged
 * (`chat broker unreachable`), the members here are told `*** The other chat
 * servers are unreachable: only people on this server hear you`, lines said
 * here stay here, nicknames are checked here only (a claim cannot be made;
 * one given back meanwhile expires by itself), and `/who` lists the members
 * here. The first of its own frames to come
 * back makes it *up* again: `chat broker reachable again` (with the number
 * of lines not relayed), `*** The other chat servers are reachable again`,
 * and every nickname here is claimed again at once; one that another
 * process took meanwhile is logged (`chat nickname also held elsewhere`) and
 * left to its two holders.
 *
 * **Startup and shutdown.** The room is ready once its own first frame came
 * back (within 5 s, else {@link BrokerUnavailable}). On shutdown, the lines
 * still to publish (the members' leave notices) and the nicknames to
 * release are sent first, for up to 2 s.
 *
 * @since 0.1.0
 */
export const link = Effect.fnUntraced(function*(
  redis: Redis.Redis["Service"],
  local: Local,
  options: RedisRoomOptions = {}
): Effect.fn.Return<Bus, BrokerUnavailable, Scope.Scope> {
  // The room's own options ride along: they are the room's to check.
  const decoded = Options.decodeUnsafe(RedisRoomOptions, options, { excess: "ignore" })
  const prefix = decoded.prefix ?? redisDefaults.prefix
  const nickTtl = decoded.nickTtl ?? Duration.fromInputUnsafe(redisDefaults.nickTtl)
  const heartbeat = decoded.heartbeat ?? Duration.fromInputUnsafe(redisDefaults.heartbeat)
  const instance = randomBytes(6).toString("hex")
  const channel = `${prefix}:room`
  const nicks = yield* Nicks.make(redis, {
    prefix,
    instance,
    ttlMillis: Duration.toMillis(nickTtl),
    holds: local.holds
  })
  const refreshInterval = Duration.divideUnsafe(nickTtl, 3)

  let state: "starting" | "up" | "down" = "starting"
  let missed = 0
  /** Lines not published since the link went down. */
  let lost = 0
  /** The nicknames held elsewhere too, already logged. */
  let conflicts = new Set<string>()
  const started = Deferred.makeUnsafe<void>()

  const down = (reason: string) =>
    Effect.suspend(() => {
      if (state !== "up") return Effect.void
      state = "down"
      lost = 0
      local.relay("*** The other chat servers are unreachable: only people on this server hear you")
      return Effect.logWarning("chat broker unreachable", { instance, error: reason })
    })
  const failed = (error: Redis.RedisError) => down(reasonOf(error))

  const refresh = Effect.suspend(() => bounded(nicks.refresh(local.nicks()))).pipe(
    Effect.flatMap((held) => {
      const fresh = held.filter((nick) => !conflicts.has(nick))
      conflicts = new Set(held)
      return Effect.forEach(fresh, (nick) => Effect.logWarning("chat nickname also held elsewhere", { instance, nick }), {
        discard: true
      })
    }),
    Effect.catch(failed)
  )

  /** One of our own frames came back: the link works. */
  const echoed = Effect.suspend(() => {
    missed = 0
    if (state === "up") return Effect.void
    const was = state
    // The state first: completing `started` resumes the layer's fiber at once.
    state = "up"
    if (was === "starting") {
      Deferred.doneUnsafe(started, Effect.void)
      return Effect.logInfo("chat room shared", { instance, channel })
    }
    // Claimed again before anyone is told: from then on the room is whole.
    return Effect.andThen(
      refresh,
      Effect.suspend(() => {
        if (state !== "up") return Effect.void
        local.relay("*** The other chat servers are reachable again")
        return Effect.logInfo("chat broker reachable again", { instance, lost })
      })
    )
  })

  const publishFrame = (lines: ReadonlyArray<string>) =>
    bounded(redis.send("PUBLISH", channel, Frame.encode({ origin: instance, lines })))

  const receive = (messages: ReadonlyArray<Redis.RedisMessage>) =>
    Effect.suspend(() => {
      let ours = false
      const malformed: Array<string> = []
      for (const { message } of messages) {
        const frame = Frame.decode(message)
        if (frame === undefined) malformed.push(message.slice(0, 200))
        else if (frame.origin === instance) ours = true
        else for (const line of frame.lines) local.relay(line)
      }
      return Effect.all([
        ours ? echoed : Effect.void,
        Effect.forEach(malformed, (frame) => Effect.logWarning("chat frame ignored", { instance, frame }), { discard: true }),
        // Let the members' writers take what was delivered before the next batch.
        Effect.yieldNow
      ], { discard: true })
    })

  /** Subscribes, and delivers what comes; subscribes again after a failure. */
  const subscriber = Effect.scoped(Effect.gen(function*() {
    const messages = yield* redis.subscribe(channel)
    // Subscribed: check the link now rather than at the next heartbeat.
    yield* Effect.catch(publishFrame([]), failed)
    for (;;) yield* receive(yield* Queue.takeAll(messages))
  })).pipe(
    Effect.catch((error) => Effect.andThen(failed(error), Effect.sleep(heartbeat))),
    Effect.forever
  )

  const heartbeats = Effect.gen(function*() {
    for (;;) {
      yield* Effect.sleep(heartbeat)
      if (++missed > missedLimit) yield* down(`none of this process's frames came back in ${missedLimit} heartbeats`)
      yield* Effect.catch(publishFrame([]), failed)
    }
  })

  const refresher = Effect.gen(function*() {
    for (;;) {
      yield* Effect.sleep(refreshInterval)
      if (state === "up") yield* refresh
    }
  })

  const outgoing = yield* Queue.dropping<string, Cause.Done>(maxQueued)
  const publisher = Effect.gen(function*() {
    for (;;) {
      const lines = yield* Queue.takeBetween(outgoing, 1, maxFrameLines)
      yield* publishFrame(lines).pipe(
        Effect.catch((error) => {
          lost += lines.length
          return failed(error)
        })
      )
    }
  }).pipe(Effect.catch(() => Effect.void)) // ended: shut down

  const releases = yield* Queue.unbounded<string, Cause.Done>()
  const releaser = Effect.gen(function*() {
    for (;;) {
      const nick = yield* Queue.take(releases)
      yield* Effect.catch(bounded(nicks.release(nick)), failed)
    }
  }).pipe(Effect.catch(() => Effect.void)) // ended: shut down

  yield* Effect.forkScoped(subscriber)
  yield* Effect.forkScoped(heartbeats)
  yield* Effect.forkScoped(refresher)
  const fibers = [yield* Effect.forkScoped(publisher), yield* Effect.forkScoped(releaser)]
  // Added after the forks, so it runs before they are interrupted.
  yield* Effect.addFinalizer(() =>
    Effect.suspend(() => {
      Queue.endUnsafe(outgoing)
      Queue.endUnsafe(releases)
      return Effect.ignore(Effect.timeout(Fiber.awaitAll(fibers), drainTimeout))
    })
  )

  if (Option.isNone(yield* Effect.timeoutOption(Deferred.await(started), startTimeout))) {
    return yield* new BrokerUnavailable({
      message: `the chat broker did not deliver this process's own message on ${channel} within ${Duration.format(startTimeout)}`
    })
  }

  return {
    claim: (nick) =>
      Effect.suspend(() =>
        // Down: checked here only (see "Broker failures" above), and at once.
        state === "down"
          ? Effect.succeed(true)
          : Effect.catch(bounded(nicks.claim(nick)), (error) => Effect.as(failed(error), true))
      ),
    release: (nick) => {
      // Down: the claim expires by itself.
      if (state !== "down") Queue.offerUnsafe(releases, nick)
    },
    publish: (line) => {
      if (state !== "up" || !Queue.offerUnsafe(outgoing, line)) lost++
    },
    everyone: Effect.suspend(() =>
      state !== "up"
        ? Effect.succeed(undefined)
        : Effect.catch(bounded(nicks.everyone), (error) => Effect.as(failed(error), undefined))
    )
  }
})

/**
 * A room shared over Redis, as a Layer: provide it once to the server,
 * with a `Redis` service (`effect/persistence/Redis`) to reach the broker.
 * The same room across processes needs the same `prefix`. See {@link link}
 * for the guarantees.
 *
 * **Example** (A chat server sharing its room over node-redis)
 *
 * ```ts
 * import * as NodeRedis from "@effect/platform-node/NodeRedis"
 *
 * const server = LineServer.layer({ handler: Chat.chat, port: 7070 }).pipe(
 *   Layer.provide(Chat.layerRedis()),
 *   // RESP2 also speaks to `fiberline redis`; lines are dropped, not queued, while the broker is away.
 *   Layer.provide(NodeRedis.layer({ url: "redis://127.0.0.1:6379", RESP: 2, disableOfflineQueue: true }))
 * )
 * ```
 *
 * @since 0.1.0
 */
export const layerRedis = (
  options: ChatOptions & RedisRoomOptions = {}
): Layer.Layer<Room, BrokerUnavailable, Redis.Redis> =>
  Layer.effect(
    Room,
    Effect.gen(function*() {
      const redis = yield* Redis.Redis
      return yield* makeRoom(options, (local) => link(redis, local, options))
    })
  )
