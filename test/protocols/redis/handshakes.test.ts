/**
 * What real clients send when they connect, as the server then describes
 * them: ioredis (its INFO ready check, CLIENT SETNAME from `connectionName`,
 * CLIENT SETINFO) and node-redis in RESP2 (CLIENT SETINFO, CLIENT SETNAME
 * from `name`) — their handshakes pass and CLIENT INFO shows what they set;
 * their INFO parsing reads the fields they need.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Redis as IORedis } from "ioredis"
import ioredisPackage from "ioredis/package.json" with { type: "json" }
import { createClient } from "redis"
import redisPackage from "@redis/client/package.json" with { type: "json" }
import * as Redis from "../../../src/handlers/redis/Redis.ts"
import { captureLogs, serve } from "../../fixtures/server.ts"

/** Every promise a test awaits is bounded. */
const promise = <A>(what: string, evaluate: () => Promise<A>) =>
  Effect.tryPromise({ try: evaluate, catch: (cause) => new Error(`${what}: ${String(cause)}`) }).pipe(
    Effect.timeoutOrElse({ duration: Duration.seconds(15), orElse: () => Effect.fail(new Error(`${what}: timed out`)) })
  )

const live = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.provide(Layer.merge(Redis.layer(), captureLogs().layer)))

const port = Effect.map(serve(Redis.handler()), (server) => server.port)

describe("client handshakes", () => {
  it.live("ioredis: ready check on INFO, CLIENT SETNAME and SETINFO show in CLIENT INFO", () =>
    live(Effect.gen(function*() {
      const serverPort = yield* port
      const client = yield* Effect.acquireRelease(
        promise("ioredis connect", async () => {
          const connecting = new IORedis(serverPort, "127.0.0.1", { connectionName: "io-conn", retryStrategy: () => null })
          connecting.on("error", () => {})
          await new Promise<void>((resolve, reject) => {
            connecting.once("ready", resolve)
            connecting.once("end", () => reject(new Error("connection ended before ready")))
          })
          return connecting
        }),
        (connected) => Effect.sync(() => connected.disconnect())
      )
      const self = yield* promise("client info", () => client.client("INFO") as Promise<string>)
      assert.include(self, " name=io-conn ")
      assert.include(self, " lib-name=ioredis ")
      assert.include(self, ` lib-ver=${ioredisPackage.version}\n`)
      const info = yield* promise("info", () => client.info("server"))
      assert.match(info, /\r\nredis_version:7\.0\.15\r\n/)
    })))

  it.live("node-redis (RESP2): CLIENT SETINFO and SETNAME pass, CLIENT INFO and INFO read back", () =>
    live(Effect.gen(function*() {
      const serverPort = yield* port
      const client = yield* Effect.acquireRelease(
        promise("node-redis connect", async () => {
          const connecting = createClient({
            RESP: 2,
            name: "nr-conn",
            socket: { port: serverPort, host: "127.0.0.1", reconnectStrategy: false }
          })
          connecting.on("error", () => {})
          await connecting.connect()
          return connecting
        }),
        (connected) => Effect.sync(() => connected.isOpen && connected.destroy())
      )
      const self = yield* promise("client info", () => client.sendCommand(["CLIENT", "INFO"]) as Promise<string>)
      assert.include(self, " name=nr-conn ")
      assert.include(self, " lib-name=node-redis ")
      assert.include(self, ` lib-ver=${redisPackage.version}\n`)
      assert.strictEqual(yield* promise("client getname", () => client.clientGetName()), "nr-conn")
      assert.match(yield* promise("info", () => client.info("clients")), /^# Clients\r\nconnected_clients:1\r\n/)
    })))
})
