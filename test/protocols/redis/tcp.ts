/**
 * A Redis server on a free loopback port for one test, with its keyspace; an
 * exchange of exact bytes with it over a raw `node:net` client; and an
 * ioredis client for it.
 */
import { Buffer } from "node:buffer"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Redis as IORedis } from "ioredis"
import * as Keyspace from "../../../src/handlers/redis/keyspace.ts"
import * as Redis from "../../../src/handlers/redis/Redis.ts"
import { connect } from "../../fixtures/client.ts"
import { captureLogs, serve } from "../../fixtures/server.ts"

/** Bounds every wait on the server at 10 s. */
export const within = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.timeout(effect, Duration.seconds(10))

/** A Redis server (with `options`) on a free port in the test's scope, and its keyspace. */
export const redisServer = (options?: Redis.RedisOptions) =>
  Effect.gen(function*() {
    const server = yield* serve(Redis.handler(options))
    return { port: server.port, keyspace: yield* Keyspace.Keyspace }
  })

/** Provides what {@link redisServer} needs: fresh shared state, and logs captured. */
export const provided = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.provide(Layer.merge(Redis.layer(), captureLogs().layer)))

/**
 * Sends `input` on a new connection to `port`, then `PING`; gives every byte
 * that came back before the `+PONG`, once `expectedLength` bytes and the
 * `+PONG` have (more bytes than expected show as a mismatch).
 */
export const exchange = (port: number, input: string, expectedLength: number) =>
  Effect.gen(function*() {
    const client = yield* connect(port)
    yield* client.write(Buffer.from(`${input}PING\r\n`, "latin1"))
    const data = yield* within(client.readBytes(expectedLength + "+PONG\r\n".length))
    return data.toString("latin1").slice(0, -"+PONG\r\n".length)
  })

/** An ioredis client (default options) to `port`, disconnected when the scope closes. */
export const ioredis = (port: number) =>
  Effect.acquireRelease(
    Effect.sync(() => new IORedis(port, "127.0.0.1", { maxRetriesPerRequest: 0 })),
    (client) => Effect.sync(() => client.disconnect())
  )

/** A client call, bounded in time; a rejection is a defect (the test fails with it). */
export const call = <A>(run: () => Promise<A>) => within(Effect.promise(run)).pipe(Effect.orDie)
