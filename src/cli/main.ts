#!/usr/bin/env node
/**
 * The `fiberline` command: the built-in servers and `serve MODULE`,
 * composed and run (see `run.ts` for signals and `exit.ts` for exit codes).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { Argument, Command, Flag } from "effect/cli"
import packageJson from "../../package.json" with { type: "json" }
import * as Chat from "../handlers/chat/Chat.ts"
import { echo } from "../handlers/echo/Echo.ts"
import * as Redis from "../handlers/redis/Redis.ts"
import * as Options from "../Options.ts"
import { firstLine, UsageError } from "./exit.ts"
import * as HandlerModule from "./handlerModule.ts"
import { main } from "./run.ts"
import { serveCommand } from "./serve.ts"
import * as Text from "./textOf.ts"

const echoCommand = serveCommand({
  name: "echo",
  description: "Echo every line back, byte for byte, until the client ends its input",
  setup: () => Effect.succeed({ handler: echo })
})

/** An integer from 1 to `max`. */
const upTo = (max: number) =>
  Schema.Number.check(Schema.makeFilter((n: number) => Number.isSafeInteger(n) && n >= 1 && n <= max, { expected: `an integer from 1 to ${max}` }))

const redisCommand = serveCommand({
  name: "redis",
  description: "A Redis-compatible in-memory server (RESP2) that Redis clients and redis-benchmark use unchanged",
  defaults: { port: 6379 },
  config: {
    protoMaxBulkLen: Text.integerFlag(
      "proto-max-bulk-len",
      upTo(Redis.defaults.protoMaxBulkLen),
      Redis.defaults.protoMaxBulkLen,
      "Longest bulk string of a request, in bytes"
    ),
    pubsubOutputLimit: Text.integerFlag(
      "pubsub-output-limit",
      Options.PositiveInt,
      Redis.defaults.pubsubOutputLimit,
      "Pending output past which a subscriber that does not read is cut off, in bytes"
    ),
    maxQueuedCommands: Text.integerFlag(
      "max-queued-commands",
      Options.PositiveInt,
      Redis.defaults.maxQueuedCommands,
      "Most commands one MULTI may queue; the one past it fails the transaction"
    ),
    maxQueuedBytes: Text.integerFlag(
      "max-queued-bytes",
      Options.PositiveInt,
      Redis.defaults.maxQueuedBytes,
      "Most bytes one MULTI may queue (arguments plus 32 bytes each); past it the transaction fails"
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
    outboxBytes: Text.integerFlag(
      "outbox-bytes",
      Schema.required(Chat.ChatOptions.fields.outboxBytes),
      Chat.defaults.outboxBytes,
      "Output queued for a client that does not read before it is disconnected, in bytes"
    ),
    renamesPerMinute: Text.integerFlag(
      "renames-per-minute",
      Schema.required(Chat.ChatOptions.fields.renamesPerMinute),
      Chat.defaults.renamesPerMinute,
      "Nickname changes a client may make a minute; one more is refused"
    ),
    linesPerSecond: Text.integerFlag(
      "lines-per-second",
      Schema.required(Chat.ChatOptions.fields.linesPerSecond),
      Chat.defaults.linesPerSecond,
      "Lines a client may send a second; a faster one is read no faster, 0 for no limit"
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
    "Serve the handler a module exports (default export, or --export NAME); the module may export `layer` for its services and `connection` for its connection options",
  config: {
    module: Argument.String("module").pipe(Argument.withDescription(`A ${HandlerModule.extensionList} file`)),
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
