/**
 * Connection and server commands — what clients send when they connect, and
 * what tools ask about the server: `HELLO`, `CLIENT SETINFO|SETNAME|GETNAME|ID`,
 * `INFO`, `CONFIG GET`, `COMMAND` (`COUNT`, `DOCS`, `INFO`), `SELECT`, `PING`,
 * `ECHO`, `QUIT`, `RESET`.
 *
 * The server speaks RESP2 only: `HELLO 3` is refused with `NOPROTO`, on
 * which clients (ioredis) fall back to RESP2.
 *
 * @since 0.1.0
 */
import * as Process from "node:process"
import { type ByteString, is } from "../bytes.ts"
import { type Command, type CommandContext, define } from "../command.ts"
import { rejected, WrongArity } from "../errors.ts"
import { matches } from "../glob.ts"
import * as Reply from "../reply.ts"
import * as Session from "../session.ts"

/**
 * The Redis version reported: the one whose commands and error texts this
 * handler follows.
 *
 * @since 0.1.0
 */
export const redisVersion = "7.2.0"

/** Client names and library info must be printable ASCII without spaces. */
const printable = (value: ByteString) => /^[!-~]*$/.test(value)

const helloReply = (ctx: CommandContext) =>
  Reply.array([
    Reply.bulk("server"),
    Reply.bulk("redis"),
    Reply.bulk("version"),
    Reply.bulk(redisVersion),
    Reply.bulk("proto"),
    Reply.integer(2),
    Reply.bulk("id"),
    Reply.integer(ctx.session.id),
    Reply.bulk("mode"),
    Reply.bulk("standalone"),
    Reply.bulk("role"),
    Reply.bulk("master"),
    Reply.bulk("modules"),
    Reply.emptyArray
  ])

const setName = (ctx: CommandContext, name: ByteString) => {
  if (!printable(name)) throw rejected("Client names cannot contain spaces, newlines or special characters.")
  ctx.session.name = name === "" ? undefined : name
}

const hello = define("hello", -1, ["noscript", "loading", "stale", "fast", "no_auth"], [0, 0, 0], (ctx, args) => {
  if (args.hasNext()) {
    const version = args.nextInteger("Protocol version is not an integer or out of range")
    // RESP3 is not spoken here.
    if (version !== 2n) throw rejected("unsupported protocol version", "NOPROTO")
  }
  let name: ByteString | undefined
  while (args.hasNext()) {
    const option = args.nextString()
    if (is(option, "auth") && args.remaining >= 2) {
      // No ACLs: the default user takes any password, as Redis's `nopass` default user.
      if (args.nextString() !== "default") {
        throw rejected("invalid username-password pair or user is disabled.", "WRONGPASS")
      }
      args.nextString()
    } else if (is(option, "setname") && args.remaining >= 1) {
      name = args.nextString()
      if (!printable(name)) throw rejected("Client names cannot contain spaces, newlines or special characters.")
    } else {
      throw rejected(`Syntax error in HELLO option '${option}'`)
    }
  }
  if (name !== undefined) setName(ctx, name)
  return helloReply(ctx)
})

/** Containers that need a subcommand: their arity refuses them alone, so this never runs. */
const subcommandNeeded = (name: string) => () => {
  throw new WrongArity({ command: name })
}

const client = define("client", -2, ["sentinel"], [0, 0, 0], subcommandNeeded("client"), {
  subcommands: [
    define("client|id", 2, ["noscript", "loading", "stale"], [0, 0, 0], (ctx) => Reply.integer(ctx.session.id)),
    define("client|getname", 2, ["noscript", "loading", "stale"], [0, 0, 0], (ctx) => Reply.bulk(ctx.session.name)),
    define("client|setname", 3, ["noscript", "loading", "stale"], [0, 0, 0], (ctx, args) => {
      setName(ctx, args.nextString())
      return Reply.ok
    }),
    define("client|setinfo", 4, ["noscript", "loading", "stale"], [0, 0, 0], (ctx, args) => {
      const attribute = args.nextString()
      const value = args.nextString()
      const field = is(attribute, "lib-name") ? "libName" : is(attribute, "lib-ver") ? "libVersion" : undefined
      if (field === undefined) throw rejected(`Unrecognized option '${attribute}'`)
      if (!printable(value)) throw rejected(`${attribute} cannot contain spaces, newlines or special characters.`)
      ctx.session[field] = value === "" ? undefined : value
      return Reply.ok
    })
  ]
})

/** `INFO` sections, in Redis's order: name, then its `field:value` lines. */
const infoSections = (ctx: CommandContext): ReadonlyArray<readonly [string, ReadonlyArray<string>]> => [
  ["Server", [
    `redis_version:${redisVersion}`,
    "redis_mode:standalone",
    `os:${Process.platform} ${Process.arch}`,
    "arch_bits:64",
    `process_id:${Process.pid}`
  ]],
  ["Clients", [`blocked_clients:${ctx.keyspace.waiting()}`]],
  ["Persistence", ["loading:0", "async_loading:0"]],
  ["Keyspace", ctx.keyspace.size() === 0
    ? []
    : [`db0:keys=${ctx.keyspace.size()},expires=${ctx.keyspace.volatileCount()},avg_ttl=0`]]
]

const info = define("info", -1, ["loading", "stale", "sentinel"], [0, 0, 0], (ctx, args) => {
  const wanted = args.rest().map((section) => section.toLowerCase())
  const all = wanted.length === 0 || wanted.some((section) => ["all", "default", "everything"].includes(section))
  const text = infoSections(ctx)
    .filter(([name]) => all || wanted.includes(name.toLowerCase()))
    .map(([name, lines]) => `# ${name}\r\n${lines.map((line) => `${line}\r\n`).join("")}`)
    .join("\r\n")
  return Reply.bulk(text)
})

/** The configuration `CONFIG GET` reports: enough for tools to know there is no persistence. */
const configuration = (ctx: CommandContext): ReadonlyArray<readonly [string, string]> => [
  ["save", ""],
  ["appendonly", "no"],
  ["databases", "1"],
  ["proto-max-bulk-len", `${ctx.settings.protoMaxBulkLen}`],
  ["client-output-buffer-limit", `normal 0 0 0 slave 0 0 0 pubsub ${ctx.settings.pubsubOutputLimit} 0 0`]
]

const config = define("config", -2, [], [0, 0, 0], subcommandNeeded("config"), {
  subcommands: [
    define("config|get", -3, ["admin", "noscript", "loading", "stale"], [0, 0, 0], (ctx, args) => {
      const patterns = args.rest().map((pattern) => pattern.toLowerCase())
      const found = configuration(ctx).filter(([name]) => patterns.some((pattern) => matches(pattern, name)))
      return Reply.bulkArray(found.flat())
    })
  ]
})

/** One entry of `COMMAND` / `COMMAND INFO`, in Redis 7's ten-field shape. */
const commandInfo = (command: Command): Uint8Array =>
  Reply.array([
    Reply.bulk(command.name),
    Reply.integer(command.arity),
    Reply.array(command.flags.map(Reply.simple)),
    Reply.integer(command.keys[0]),
    Reply.integer(command.keys[1]),
    Reply.integer(command.keys[2]),
    Reply.emptyArray,
    Reply.emptyArray,
    Reply.emptyArray,
    Reply.array([...command.subcommands?.values() ?? []].map(commandInfo))
  ])

/** The commands named in `names`, all of them if none is named. */
const named = (ctx: CommandContext, names: ReadonlyArray<ByteString>) =>
  names.length > 0 ? names.map((name) => ctx.commands.get(name.toLowerCase())) : [...ctx.commands.values()]

const command = define(
  "command",
  -1,
  ["loading", "stale", "sentinel"],
  [0, 0, 0],
  (ctx) => Reply.array([...ctx.commands.values()].map(commandInfo)),
  {
    subcommands: [
      define("command|count", 2, ["loading", "stale", "sentinel"], [0, 0, 0], (ctx) => Reply.integer(ctx.commands.size)),
      define("command|info", -2, ["loading", "stale", "sentinel"], [0, 0, 0], (ctx, args) =>
        Reply.array(named(ctx, args.rest()).map((found) => found === undefined ? Reply.nullBulk : commandInfo(found)))),
      // Names with empty documentation: enough for tools that ask (redis-cli's hints).
      define("command|docs", -2, ["loading", "stale", "sentinel"], [0, 0, 0], (ctx, args) =>
        Reply.array(
          named(ctx, args.rest()).flatMap((found) => found === undefined ? [] : [Reply.bulk(found.name), Reply.emptyArray])
        ))
    ]
  }
)

/**
 * The connection and server commands.
 *
 * @since 0.1.0
 */
export const commands: ReadonlyArray<Command> = [
  hello,
  client,
  info,
  config,
  command,
  define("select", 2, ["loading", "stale", "fast"], [0, 0, 0], (_ctx, args) => {
    const index = args.nextInteger()
    if (index < -2147483648n || index > 2147483647n) throw rejected("value is out of range, value must between -2147483648 and 2147483647")
    if (index !== 0n) throw rejected("DB index is out of range")
    return Reply.ok
  }),
  define("ping", -1, ["fast", "sentinel"], [0, 0, 0], (ctx, args) => {
    const message = args.hasNext() ? args.nextString() : undefined
    args.finishArity()
    // A subscribed RESP2 connection gets PONG in the shape of a message, as in Redis.
    if (Session.subscriptions(ctx.session) > 0) return Reply.bulkArray(["pong", message ?? ""])
    return message !== undefined ? Reply.bulk(message) : Reply.simple("PONG")
  }, { whileSubscribed: true }),
  define("echo", 2, ["loading", "stale", "fast"], [0, 0, 0], (_ctx, args) => Reply.bulk(args.nextString())),
  define("quit", -1, ["allow_busy", "noscript", "loading", "stale", "fast", "no_auth"], [0, 0, 0], (ctx) => {
    ctx.session.quit = true
    return Reply.ok
  }, { whileSubscribed: true, controlsTransaction: true }),
  define("reset", 1, ["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], [0, 0, 0], (ctx) => {
    Session.discardTransaction(ctx.session, ctx.keyspace.watches)
    Session.unsubscribeAll(ctx.session, ctx.pubsub)
    ctx.session.name = undefined
    return Reply.simple("RESET")
  }, { whileSubscribed: true, controlsTransaction: true })
]
