/**
 * SCAN with real clients over 10 000 keys while another client deletes,
 * re-adds and adds keys: ioredis's `scanStream` and node-redis's
 * `scanIterator` each return every key present for the whole iteration
 * exactly once, and only keys that existed. The deletes hit the keys a
 * scan has already passed, the case that makes a position in a `Map`'s
 * order skip keys it has not reached. Every loop is bounded.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Redis as IORedis } from "ioredis"
import { createClient } from "redis"
import * as Redis from "../../../src/handlers/redis/Redis.ts"
import { captureLogs, serve } from "../../fixtures/server.ts"

const total = 10_000
const key = (i: number) => `key:${String(i).padStart(5, "0")}`
/** The first 2 000 keys are deleted (half of them re-added) during the scan; the rest stay throughout. */
const doomed = 2_000
const stays = Array.from({ length: total - doomed }, (_, i) => key(doomed + i))

/** Every promise a test awaits is bounded. */
const promise = <A>(what: string, evaluate: () => Promise<A>) =>
  Effect.tryPromise({ try: evaluate, catch: (cause) => new Error(`${what}: ${String(cause)}`) }).pipe(
    Effect.timeoutOrElse({ duration: Duration.seconds(30), orElse: () => Effect.fail(new Error(`${what}: timed out`)) })
  )

/**
 * Deletes the doomed keys, re-adds every other one and adds as many new
 * keys, in 100 pipelined batches of 60 commands, through `send`.
 */
const churn = async (send: (commands: ReadonlyArray<ReadonlyArray<string>>) => Promise<unknown>) => {
  const batches = Array.from({ length: 100 }, (_, b) => {
    const commands: Array<ReadonlyArray<string>> = []
    for (let i = b * 20; i < (b + 1) * 20; i++) {
      commands.push(["DEL", key(i)], i % 2 === 0 ? ["SET", key(i), "again"] : ["PING"], ["SET", `new:${i}`, "v"])
    }
    return commands
  })
  // One batch at a time, so the scan's calls fall between them.
  await batches.reduce((previous, commands) => previous.then(() => send(commands)), Promise.resolve<unknown>(undefined))
}

/** Checks what a scan returned: each key that stayed exactly once, nothing that never existed. */
const check = (seen: ReadonlyArray<string>) => {
  const counts = new Map<string, number>()
  for (const found of seen) counts.set(found, (counts.get(found) ?? 0) + 1)
  for (const expected of stays) assert.strictEqual(counts.get(expected), 1, expected)
  for (const found of counts.keys()) assert.match(found, /^(key:\d{5}|new:\d+)$/)
}

const populate = (client: IORedis) =>
  promise("populate", async () => {
    const pipeline = client.pipeline()
    for (let i = 0; i < total; i++) pipeline.set(key(i), "v")
    await pipeline.exec()
  })

const live = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.provide(Layer.merge(Redis.layer(), captureLogs().layer)))

const ioredisPair = (port: number) =>
  Effect.acquireRelease(
    Effect.sync(() => [new IORedis(port, "127.0.0.1"), new IORedis(port, "127.0.0.1")] as const),
    (clients) => Effect.sync(() => clients.forEach((client) => client.disconnect()))
  )

describe("SCAN under churn with real clients", () => {
  it.live("ioredis scanStream returns every key present throughout exactly once", () =>
    live(Effect.gen(function*() {
      const server = yield* serve(Redis.handler())
      const [scanner, writer] = yield* ioredisPair(server.port)
      yield* populate(writer)
      const seen = yield* promise("scan with churn", async () => {
        const keys: Array<string> = []
        const scanned = new Promise<void>((resolve, reject) => {
          const stream = scanner.scanStream({ count: 50 })
          stream.on("data", (page: Array<string>) => keys.push(...page))
          stream.on("end", resolve)
          stream.on("error", reject)
        })
        await Promise.all([
          scanned,
          churn(async (commands) => {
            const pipeline = writer.pipeline()
            for (const [name, ...args] of commands) pipeline.call(name!, ...args)
            await pipeline.exec()
          })
        ])
        return keys
      })
      check(seen)
    })))

  it.live("node-redis scanIterator returns every key present throughout exactly once", () =>
    live(Effect.gen(function*() {
      const server = yield* serve(Redis.handler())
      const [filler] = yield* ioredisPair(server.port)
      yield* populate(filler)
      const open = () => createClient({ RESP: 2, socket: { port: server.port, host: "127.0.0.1", reconnectStrategy: false } })
      const [scanner, writer] = yield* Effect.acquireRelease(
        promise("connect", () => Promise.all([open().connect(), open().connect()])),
        (clients) => Effect.sync(() => clients.forEach((client) => client.destroy()))
      )
      const seen = yield* promise("scan with churn", async () => {
        const keys: Array<string> = []
        const scan = async () => {
          for await (const page of scanner.scanIterator({ COUNT: 50 })) keys.push(...page)
        }
        await Promise.all([
          scan(),
          churn(async (commands) => {
            const multi = writer.multi()
            for (const command of commands) multi.addCommand([...command])
            await multi.execAsPipeline()
          })
        ])
        return keys
      })
      check(seen)
    })))
})
