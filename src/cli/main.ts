#!/usr/bin/env node
/**
 * The `fiberline` command: the built-in servers and `serve MODULE`,
 * composed and run (see `run.ts` for signals and `exit.ts` for exit codes).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Argument, Command, Flag } from "effect/cli"
import packageJson from "../../package.json" with { type: "json" }
import * as Chat from "../handlers/Chat.ts"
import { echo } from "../handlers/Echo.ts"
import * as Redis from "../handlers/redis/Redis.ts"
import { firstLine, UsageError } from "./exit.ts"
import * as HandlerModule from "./handlerModule.ts"
import { main } from "./run.ts"
import { serveCommand } from "./serve.ts"

const echoCommand = serveCommand({
  name: "echo",
  description: "Echo every line back, byte for byte, until the client ends its input",
  setup: () => Effect.succeed({ handler: echo })
})

const redisCommand = serveCommand({
  name: "redis",
  description: "A Redis-compatible in-memory server (RESP2) that Redis clients and redis-benchmark use unchanged",
  defaults: { port: 6379 },
  config: {
    protoMaxBulkLen: Flag.Int("proto-max-bulk-len").pipe(
      Flag.withDefault(Redis.defaults.protoMaxBulkLen),
      Flag.filter(
        (n) => n > 0 && n <= Redis.defaults.protoMaxBulkLen,
        (n) => `--proto-max-bulk-len must be 1..${Redis.defaults.protoMaxBulkLen}, got ${n}`
      ),
      Flag.withDescription(`Longest bulk string of a request, in bytes (default ${Redis.defaults.protoMaxBulkLen})`)
    ),
    pubsubOutputLimit: Flag.Int("pubsub-output-limit").pipe(
      Flag.withDefault(Redis.defaults.pubsubOutputLimit),
      Flag.filter((n) => n > 0, (n) => `--pubsub-output-limit must be positive, got ${n}`),
      Flag.withDescription(
        `Pending output past which a subscriber that does not read is cut off, in bytes (default ${Redis.defaults.pubsubOutputLimit})`
      )
    ),
    maxQueuedCommands: Flag.Int("max-queued-commands").pipe(
      Flag.withDefault(Redis.defaults.maxQueuedCommands),
      Flag.filter((n) => n > 0, (n) => `--max-queued-commands must be positive, got ${n}`),
      Flag.withDescription(
        `Most commands one MULTI may queue; the one past it fails the transaction (default ${Redis.defaults.maxQueuedCommands})`
      )
    ),
    maxQueuedBytes: Flag.Int("max-queued-bytes").pipe(
      Flag.withDefault(Redis.defaults.maxQueuedBytes),
      Flag.filter((n) => n > 0, (n) => `--max-queued-bytes must be positive, got ${n}`),
      Flag.withDescription(
        `Most bytes one MULTI may queue (arguments plus 32 bytes each); past it the transaction fails (default ${Redis.defaults.maxQueuedBytes})`
      )
    ),
    maxmemory: Flag.String("maxmemory").pipe(
      Flag.mapTryCatch(
        (text) => {
          const bytes = Redis.parseMemory(text)
          if (bytes === undefined) throw new Error("not a size")
          return bytes
        },
        () => "bytes, or a size such as 100mb or 2gb"
      ),
      Flag.withDefault(Redis.defaults.maxmemory),
      Flag.withDescription(
        `Bytes the keyspace may take before writes get -OOM, as Redis's maxmemory with noeviction (100mb, 2gb…; 0: no bound; default half the heap, ${Redis.defaults.maxmemory})`
      )
    )
  },
  setup: (options) =>
    Effect.succeed({ handler: Redis.handler(options), layer: Redis.layer(), connection: { lineEnding: "\r\n" } })
})

/**
 * The room of `fiberline chat --redis URL`: a bad URL, or no `redis`
 * package to reach it with, is a usage error (before anything is bound).
 * `redis` is an optional peer dependency, loaded only here.
 */
const sharedRoom = (url: string, options: Chat.ChatOptions) =>
  Effect.gen(function*() {
    const parsed = URL.parse(url)
    if (parsed === null || (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") || parsed.hostname === "") {
      return yield* new UsageError({ message: `--redis: expected a URL such as redis://127.0.0.1:6379, got ${JSON.stringify(url)}` })
    }
    const NodeRedisRoom = yield* Effect.tryPromise({
      try: () => import("../handlers/chat/nodeRedis.ts"),
      catch: (error) =>
        new UsageError({ message: `--redis needs the "redis" package (npm install redis): ${firstLine(error)}` })
    })
    return NodeRedisRoom.layer(url, options)
  })

const chatCommand = serveCommand({
  name: "chat",
  description: "A chat room: pick a nickname, then every line goes to everyone else (/who, /nick, /me, /quit)",
  defaults: { port: 7070 },
  config: {
    outboxBytes: Flag.Int("outbox-bytes").pipe(
      Flag.withDefault(Chat.defaults.outboxBytes),
      Flag.filter((n) => n > 0, (n) => `--outbox-bytes must be positive, got ${n}`),
      Flag.withDescription(
        `Output queued for a client that does not read before it is disconnected, in bytes (default ${Chat.defaults.outboxBytes})`
      )
    ),
    renamesPerMinute: Flag.Int("renames-per-minute").pipe(
      Flag.withDefault(Chat.defaults.renamesPerMinute),
      Flag.filter((n) => n > 0, (n) => `--renames-per-minute must be positive, got ${n}`),
      Flag.withDescription(
        `Nickname changes a client may make a minute; one more is refused (default ${Chat.defaults.renamesPerMinute})`
      )
    ),
    linesPerSecond: Flag.Int("lines-per-second").pipe(
      Flag.withDefault(Chat.defaults.linesPerSecond),
      Flag.filter((n) => n >= 0, (n) => `--lines-per-second must be 0 or more, got ${n}`),
      Flag.withDescription(
        `Lines a client may send a second; a faster one is read no faster, 0 for no limit (default ${Chat.defaults.linesPerSecond})`
      )
    ),
    redis: Flag.String("redis").pipe(
      Flag.optional,
      Flag.withDescription(
        "Share the room with every `fiberline chat --redis` on this Redis server " +
          "(redis://[user:password@]host:port[/db]); needs the redis package"
      )
    )
  },
  setup: ({ redis, ...options }) =>
    Option.isNone(redis)
      ? Effect.succeed({ handler: Chat.chat, layer: Chat.layer(options) })
      : Effect.map(sharedRoom(redis.value, options), (layer) => ({ handler: Chat.chat, layer }))
})

const serveModuleCommand = serveCommand({
  name: "serve",
  description:
    "Serve the handler a module exports (default export, or --export NAME); the module may export `layer` for its services",
  config: {
    module: Argument.String("module").pipe(Argument.withDescription("A .js, .mjs or .ts file")),
    exportName: Flag.String("export").pipe(
      Flag.withDefault("default"),
      Flag.withDescription("The export to serve (default: the default export)")
    )
  },
  setup: ({ exportName, module }) => HandlerModule.load(module, exportName)
})

main(
  Command.make("fiberline").pipe(
    Command.withDescription("Line-protocol servers in blocking style on Effect fibers"),
    Command.withSubcommands([echoCommand, chatCommand, redisCommand, serveModuleCommand])
  ),
  { version: packageJson.version }
)
