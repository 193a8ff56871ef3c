/**
 * The shared room over node-redis, as `fiberline chat --redis URL` builds
 * it: Effect's own `NodeRedis` layer (which reconnects and subscribes again
 * by itself) with the client options the room relies on, and one line for
 * an operator when the broker cannot be reached at startup.
 *
 * The client's own warnings (one per failed reconnection attempt, of each
 * of its connections, every 2 s while the broker is away) are logged at
 * debug level: the room logs one warning when the broker becomes
 * unreachable and one line when it is back (see `redisBus.ts`).
 *
 * A module of its own so that `redis`, an optional peer dependency, is
 * loaded only when it is asked for: the CLI imports this module
 * dynamically, and nothing else imports it.
 *
 * @since 0.1.0
 */
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as References from "effect/References"
import { BrokerUnavailable, layerRedis, reasonOf, type RedisRoomOptions } from "./redisBus.ts"
import type { ChatOptions } from "./options.ts"
import type { Room } from "./room.ts"

/**
 * `url` without its password, fit for a log line.
 *
 * @since 0.1.0
 */
export const redact = (url: string): string => {
  const parsed = URL.parse(url)
  if (parsed === null || parsed.password === "") return url
  parsed.password = "***"
  return parsed.href
}

/** Logs `NodeRedis …` warnings through `logger` at debug level, when debug is enabled. */
const demoted = (logger: Logger.Logger<unknown, unknown>) =>
  Logger.make<unknown, unknown>((options) => {
    const first = Array.isArray(options.message) ? options.message[0] : options.message
    if (typeof first !== "string" || !first.startsWith("NodeRedis ")) return logger.log(options)
    if (!LogLevel.isGreaterThanOrEqualTo("Debug", options.fiber.getRef(References.MinimumLogLevel))) return undefined
    return logger.log({ ...options, logLevel: "Debug" })
  })

/** Builds `effect` (the client's layer, whose warnings go to the loggers it captures) with {@link demoted} loggers. */
const quietly = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const loggers = yield* Logger.CurrentLoggers
    return yield* Effect.provideService(effect, Logger.CurrentLoggers, new Set([...loggers].map(demoted)))
  })

/**
 * A room shared through the Redis server at `url`.
 *
 * **Details**
 *
 * The client speaks RESP2 (what `fiberline redis` speaks; a real Redis
 * answers the same) and has no offline queue: while it reconnects, commands
 * fail at once, so lines said meanwhile are dropped (at most once, see
 * `redisBus.ts`) rather than published late, and a join is not held up. A
 * broker that refuses the first connection fails the layer with
 * {@link BrokerUnavailable}.
 *
 * @since 0.1.0
 */
export const layer = (url: string, options: ChatOptions & RedisRoomOptions = {}): Layer.Layer<Room, BrokerUnavailable> =>
  Layer.provide(
    layerRedis(options),
    Layer.effectContext(
      Layer.build(NodeRedis.layer({ url, RESP: 2, disableOfflineQueue: true, socket: { connectTimeout: 5_000 } })).pipe(
        quietly,
        Effect.mapError((error) =>
          new BrokerUnavailable({ message: `cannot connect to the chat broker at ${redact(url)}: ${reasonOf(error)}` })
        )
      )
    )
  )
