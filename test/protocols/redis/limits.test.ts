/**
 * What bounds memory in `fiberline redis`. A transaction's queue (commands
 * and bytes) is bounded — the command past a bound is refused with an error
 * naming it and the transaction fails like any other queueing error — so a
 * CLI child with a 64 MiB old space survives a flood of queued commands and
 * still answers another client. `maxmemory` bounds the keyspace as Redis's
 * `noeviction` policy does: writes that would pass it get Redis's `-OOM`,
 * reads and deletes still run, and so does a transaction that queued no
 * write.
 */
import { Buffer } from "node:buffer"
import * as Net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Redis as IORedis } from "ioredis"
import * as Redis from "../../../src/handlers/redis/Redis.ts"
import * as TestConnection from "../../../src/testing/TestConnection.ts"
import { connect } from "../../fixtures/client.ts"
import { listeningPort, runCli, spawnCli } from "../../fixtures/cli.ts"
import { captureLogs, serve } from "../../fixtures/server.ts"
import { cmd } from "./support.ts"

/** The replies of one connection that sends `input`, against a fresh keyspace. */
const replies = (input: string, options?: Redis.RedisOptions) =>
  Effect.map(
    TestConnection.run(Redis.handler(options), [Buffer.from(input, "latin1")]).pipe(Effect.provide(Redis.layer())),
    (result) => Buffer.from(result.outputBytes).toString("latin1")
  )

const execAbort = "-EXECABORT Transaction discarded because of previous errors.\r\n"

describe("transaction queue bounds", () => {
  it.effect("the command past maxQueuedCommands is refused and fails the transaction; the connection goes on", () =>
    Effect.gen(function*() {
      const output = yield* replies(
        cmd("MULTI") + cmd("INCR", "k").repeat(5) + cmd("EXEC") + cmd("GET", "k") + cmd("PING"),
        { maxQueuedCommands: 3 }
      )
      assert.strictEqual(
        output,
        "+OK\r\n" + "+QUEUED\r\n".repeat(3) +
          "-ERR transaction too big: more than 3 queued commands (max-queued-commands)\r\n+QUEUED\r\n" +
          execAbort + "$-1\r\n+PONG\r\n"
      )
    }))

  it.effect("the command past maxQueuedBytes (arguments plus 32 bytes each, 32 per command) is refused", () =>
    Effect.gen(function*() {
      const value = "v".repeat(400)
      // SET k <400 bytes>: 32 + (3 + 32) + (1 + 32) + (400 + 32) = 532 bytes; two are 1064.
      const output = yield* replies(
        cmd("MULTI") + cmd("SET", "k", value).repeat(2) + cmd("EXEC") + cmd("MULTI") + cmd("SET", "k", value) +
          cmd("EXEC"),
        { maxQueuedBytes: 1064 - 1 }
      )
      assert.strictEqual(
        output,
        "+OK\r\n+QUEUED\r\n-ERR transaction too big: more than 1063 bytes queued (max-queued-bytes)\r\n" + execAbort +
          "+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n"
      )
    }))

  it.live("a CLI child with a 64 MiB old space survives MULTI and 200 000 queued INCRs, and answers PING meanwhile", () =>
    Effect.gen(function*() {
      const cli = yield* spawnCli(["redis", "--port", "0", "--log-format", "json"], {
        env: { NODE_OPTIONS: "--max-old-space-size=64" }
      })
      const port = yield* listeningPort(cli)
      const flooder = yield* lineCounter(port)
      const flood = 200_000
      // 4 MB on the wire. Before the bound the child died of heap exhaustion after about 116 000.
      yield* flooder.send(cmd("MULTI") + cmd("INCR", "counter").repeat(flood))
      yield* flooder.until("every reply", () => flooder.lines() === flood + 1)
      const other = yield* lineCounter(port)
      yield* other.send(cmd("PING"))
      yield* other.until("PONG", () => other.lines() === 1)
      assert.deepStrictEqual(other.distinct(), ["+PONG"])
      yield* flooder.send(cmd("EXEC") + cmd("GET", "counter"))
      yield* flooder.until("EXEC and GET", () => flooder.lines() === flood + 3)
      assert.deepStrictEqual(flooder.distinct(), [
        "+OK",
        "+QUEUED",
        `-ERR transaction too big: more than ${Redis.defaults.maxQueuedCommands} queued commands (max-queued-commands)`,
        "-EXECABORT Transaction discarded because of previous errors.",
        "$-1"
      ])
      assert.strictEqual(flooder.count("+QUEUED"), flood - 1)
      const exited = yield* Effect.result(cli.exited("10 millis"))
      assert.strictEqual(exited._tag, "Failure", "the child is still running")
    }), 180_000)
})

const oom = "-OOM command not allowed when used memory > 'maxmemory'.\r\n"

describe("maxmemory (noeviction)", () => {
  it.effect("over the bound: writes and queueing refused, reads served; DEL frees room", () =>
    Effect.gen(function*() {
      const value = "v".repeat(990)
      // SET a <990 bytes> fits (0 + its 994 request bytes), then the keyspace counts 96 + 1 + 990 > 1000.
      const output = yield* replies(
        cmd("SET", "a", value) + cmd("SET", "b", "x") + cmd("GET", "a") + cmd("STRLEN", "a") +
          cmd("MULTI") + cmd("GET", "a") + cmd("EXEC") +
          cmd("DEL", "a") + cmd("SET", "b", "x") + cmd("MULTI") + cmd("SET", "c", "x") + cmd("EXEC"),
        { maxmemory: 1000 }
      )
      assert.strictEqual(
        output,
        `+OK\r\n${oom}$990\r\n${value}\r\n:990\r\n` +
          `+OK\r\n${oom}${execAbort}` +
          ":1\r\n+OK\r\n+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n"
      )
    }))

  it.effect("a write is refused when the keyspace plus the request would pass the bound; 0 is no bound", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* replies(cmd("SET", "k", "v".repeat(996)), { maxmemory: 1000 }), "+OK\r\n")
      assert.strictEqual(yield* replies(cmd("SET", "k", "v".repeat(997)), { maxmemory: 1000 }), oom)
      assert.strictEqual(yield* replies(cmd("SET", "k", "v".repeat(10_000)), { maxmemory: 0 }), "+OK\r\n")
    }))

  it.live("EXEC of a queued write is refused once another client filled memory, with Redis's EXECABORT", () =>
    Effect.gen(function*() {
      const server = yield* serve(Redis.handler({ maxmemory: 2000 }))
      const a = yield* connect(server.port)
      const b = yield* connect(server.port)
      yield* a.write(cmd("MULTI") + cmd("SET", "c", "x"))
      yield* a.readUntil("+QUEUED\r\n")
      yield* b.write(cmd("SET", "big", "x".repeat(1900)) + cmd("SET", "z", "x") + cmd("DEL", "nothing"))
      assert.strictEqual(yield* b.readUntil(":0\r\n"), `+OK\r\n${oom}:0\r\n`)
      yield* a.write(cmd("EXEC") + cmd("GET", "c"))
      assert.strictEqual(
        yield* a.readUntil("$-1\r\n"),
        "+OK\r\n+QUEUED\r\n" +
          "-EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.\r\n$-1\r\n"
      )
    }).pipe(Effect.provide(Layer.merge(Redis.layer(), captureLogs().layer))))

  it.live("fiberline redis --maxmemory 1mb: SETs until OOM, then GET still works and DEL frees room", () =>
    Effect.gen(function*() {
      const cli = yield* spawnCli(["redis", "--port", "0", "--log-format", "json", "--maxmemory", "1mb"])
      const client = new IORedis({ port: yield* listeningPort(cli), host: "127.0.0.1", maxRetriesPerRequest: 0 })
      yield* Effect.addFinalizer(() => Effect.sync(() => client.disconnect()))
      // 1 MiB holds about a hundred 10 kB values; the loop is bounded well past that.
      let stored = 0
      let error: string | undefined
      while (stored < 1000) {
        error = yield* Effect.promise(() =>
          client.set(`key:${stored}`, "x".repeat(10_000)).then(() => undefined, (cause: unknown) => String(cause))
        )
        if (error !== undefined) break
        stored++
      }
      assert.isAbove(stored, 90)
      assert.isBelow(stored, 110)
      assert.strictEqual(error, "ReplyError: OOM command not allowed when used memory > 'maxmemory'.")
      const reads = yield* Effect.promise(async () => {
        const value = await client.get("key:0")
        const deleted = await client.del("key:0", "key:1")
        await client.set("key:again", "x".repeat(10_000))
        return { length: value?.length, deleted, again: await client.strlen("key:again") }
      })
      assert.deepStrictEqual(reads, { length: 10_000, deleted: 2, again: 10_000 })
    }), 60_000)

  it.live("fiberline redis --maxmemory with a bad size exits 2 with one line naming it", () =>
    Effect.gen(function*() {
      const { code, stderr } = yield* runCli(["redis", "--port", "0", "--maxmemory", "12xb"])
      assert.strictEqual(code, 2)
      assert.include(stderr.split("\n")[0], "invalid --maxmemory \"12xb\"")
    }), 60_000)
})

/**
 * A raw client that counts the reply lines it receives without keeping them
 * (a flood's replies are megabytes): how many, how many of each, and the
 * distinct ones in order of first arrival.
 */
const lineCounter = (port: number) =>
  Effect.acquireRelease(
    Effect.callback<Net.Socket, Error>((resume) => {
      const socket = Net.connect({ port, host: "127.0.0.1" }, () => resume(Effect.succeed(socket)))
      socket.once("error", (error) => resume(Effect.fail(error)))
    }),
    (socket) => Effect.sync(() => socket.destroy())
  ).pipe(Effect.map((socket) => {
    const counts = new Map<string, number>()
    let total = 0
    let partial = ""
    socket.setEncoding("latin1")
    socket.on("data", (chunk: string) => {
      const lines = (partial + chunk).split("\r\n")
      partial = lines.pop()!
      for (const line of lines) {
        counts.set(line, (counts.get(line) ?? 0) + 1)
        total++
      }
    })
    return {
      send: (data: string) => Effect.callback<void>((resume) => void socket.write(data, "latin1", () => resume(Effect.void))),
      lines: () => total,
      count: (line: string) => counts.get(line) ?? 0,
      distinct: () => [...counts.keys()],
      /**
       * Checks every 20 ms, for at most 120 s: a liveness bound (a 64 MiB heap
       * queueing 100 000 commands spends most of its time collecting garbage).
       */
      until: (what: string, check: () => boolean) =>
        Effect.gen(function*() {
          for (let i = 0; i < 6000; i++) {
            if (check()) return
            yield* Effect.sleep(Duration.millis(20))
          }
          return yield* Effect.die(new Error(`never came: ${what} (${total} lines so far)`))
        })
    }
  }))
