/**
 * Server commands — what tools and test harnesses ask the server about
 * itself: `CONFIG GET|SET|RESETSTAT|REWRITE`, `INFO`, `COMMAND` (`COUNT`,
 * `INFO`, `DOCS`, `LIST`, `GETKEYS`), `MEMORY USAGE`, `MONITOR`, `TIME`, `DEBUG`.
 *
 * fiberline has no `DEBUG` subcommand: each gets Redis's error for one it
 * does not know.
 *
 * @since 0.1.0
 */
import type { ByteString, Request } from "../bytes.ts"
import { type Command, type CommandContext, container, define, help, lookup } from "../command.ts"
import * as Config from "../config.ts"
import { isCommandError, rejected } from "../errors.ts"
import { compile } from "../glob.ts"
import { info } from "../info.ts"
import { overhead } from "../memory.ts"
import { syntaxError } from "../parse.ts"
import * as Reply from "../reply.ts"
import * as Session from "../session.ts"
import { entryBytes } from "../values.ts"

const admin = ["admin", "noscript", "loading", "stale"] as const

/** `CONFIG GET`: exact names (any case) as asked, patterns (`[*?`) over every name as Redis spells it. */
const configGet = (ctx: CommandContext, names: ReadonlyArray<ByteString>) => {
  const found = new Map<string, readonly [ByteString, Config.Parameter]>()
  for (const name of names) {
    const lower = name.toLowerCase()
    if (!/[[*?]/.test(name)) {
      const parameter = Config.byName.get(lower)
      if (parameter !== undefined && !found.has(lower)) found.set(lower, [name, parameter])
      continue
    }
    const glob = compile(lower)
    for (const [known, parameter] of Config.byName) {
      if (!found.has(known) && glob.matches(known)) found.set(known, [known, parameter])
    }
  }
  return Reply.bulkArray([...found.values()].flatMap(([name, parameter]) => [name, parameter.get(ctx.settings)]))
}

/**
 * `CONFIG SET name value …`, all or nothing, as Redis's `configSetCommand`:
 * first every name (unknown, immutable, named twice), then every value, and
 * only then any change; the first problem met is the error.
 */
const configSet = (ctx: CommandContext, pairs: ReadonlyArray<readonly [ByteString, ByteString]>) => {
  const named: Array<readonly [string, Config.Parameter, ByteString]> = []
  for (const [name, value] of pairs) {
    const lower = name.toLowerCase()
    const parameter = Config.byName.get(lower)
    if (parameter === undefined) throw rejected(`Unknown option or number of arguments for CONFIG SET - '${name}'`)
    const failed = (reason: string) => rejected(`CONFIG SET failed (possibly related to argument '${name}') - ${reason}`)
    if (parameter.immutable) throw failed("can't set immutable config")
    if (named.some(([seen]) => seen === lower)) throw failed("duplicate parameter")
    named.push([lower, parameter, value])
  }
  const changes = named.map(([name, parameter, value]) => {
    const parsed = parameter.parse(value)
    if (typeof parsed === "string") throw rejected(`CONFIG SET failed (possibly related to argument '${name}') - ${parsed}`)
    return parsed
  })
  for (const change of changes) change(ctx.settings)
  return Reply.ok
}

const config = container("config", [], [
  define("config|get", -3, admin, [0, 0, 0], (ctx, args) => configGet(ctx, args.rest())),
  define("config|set", -4, admin, [0, 0, 0], (ctx, args) => {
    if (args.remaining % 2 !== 0) syntaxError()
    return configSet(ctx, args.restPairs())
  }),
  define("config|resetstat", 2, admin, [0, 0, 0], (ctx) => {
    ctx.server.resetStats(ctx.keyspace.expiredKeys())
    return Reply.ok
  }),
  define("config|rewrite", 2, admin, [0, 0, 0], () => {
    throw rejected("The server is running without a config file")
  }),
  help("config", [
    "GET <pattern> [<pattern> ...]",
    "    The parameters matching any pattern, with their values.",
    "SET <parameter> <value> [<parameter> <value> ...]",
    "    Sets them all, or none if one is refused.",
    "RESETSTAT",
    "    Zeroes the statistics INFO reports.",
    "REWRITE",
    "    Refused: there is no configuration file."
  ])
])

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

/** A command by its full name, `get` or `config|get`, as Redis's `lookupCommandBySds`; `undefined` if none. */
const byFullName = (ctx: CommandContext, name: ByteString): Command | undefined => {
  const [first = "", sub, ...more] = name.toLowerCase().split("|")
  const command = ctx.commands.get(first)
  if (sub === undefined || more.length > 0) return more.length > 0 ? undefined : command
  return command?.subcommands?.get(sub)
}

/** The commands named in `names`, all of them if none is named. */
const named = (ctx: CommandContext, names: ReadonlyArray<ByteString>) =>
  names.length > 0 ? names.map((name) => byFullName(ctx, name)) : [...ctx.commands.values()]

/** Every command and subcommand, in table order (`COMMAND LIST`). */
const everyCommand = (ctx: CommandContext): Array<Command> => {
  const all: Array<Command> = []
  for (const command of ctx.commands.values()) all.push(command, ...command.subcommands?.values() ?? [])
  return all
}

/** The keys of `request` for `command`, from its first, last and step, as `COMMAND GETKEYS` gives them. */
const keysOf = (command: Command, request: Request): Array<ByteString> => {
  const [first, lastKey, step] = command.keys
  const last = lastKey < 0 ? request.length + lastKey : lastKey
  const keys: Array<ByteString> = []
  for (let at = first; at <= last; at += step) {
    const key = request[at]
    if (key === undefined) throw rejected("Invalid arguments specified for command")
    keys.push(key)
  }
  return keys
}

const commandList = (ctx: CommandContext, filter: readonly [ByteString, ByteString] | undefined) => {
  const all = everyCommand(ctx)
  if (filter === undefined) return Reply.bulkArray(all.map((command) => command.name))
  const [kind, value] = filter
  if (kind.toLowerCase() === "module") return Reply.emptyArray
  if (kind.toLowerCase() === "pattern") {
    const glob = compile(value.toLowerCase())
    return Reply.bulkArray(all.filter((command) => glob.matches(command.name)).map((command) => command.name))
  }
  return Reply.bulkArray(all.filter(aclCategory(value)).map((command) => command.name))
}

/** Redis's ACL categories that follow from a command's flags alone, as its `setImplicitACLCategories`. */
const implicitCategories: Readonly<Record<string, (command: Command) => boolean>> = {
  write: (command) => command.flags.includes("write"),
  read: (command) => command.flags.includes("readonly"),
  admin: (command) => command.flags.includes("admin"),
  dangerous: (command) => command.flags.includes("admin"),
  pubsub: (command) => command.flags.includes("pubsub"),
  fast: (command) => command.flags.includes("fast"),
  slow: (command) => !command.flags.includes("fast"),
  blocking: (command) => command.flags.includes("blocking")
}
const untrackedCategories = new Set([
  "keyspace", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog", "geo", "stream", "connection",
  "transaction", "scripting"
])

/**
 * `FILTERBY ACLCAT`: the categories flags imply are answered; the others
 * Redis knows are refused (the table does not record them); an unknown one
 * matches nothing, as in Redis.
 */
const aclCategory = (name: ByteString) => {
  const lower = name.toLowerCase()
  if (untrackedCategories.has(lower)) throw rejected(`fiberline's command table does not record ACL category '${name}'`)
  return implicitCategories[lower] ?? (() => false)
}

const meta = ["loading", "stale", "sentinel"] as const

const command = define("command", -1, meta, [0, 0, 0], (ctx) => Reply.array([...ctx.commands.values()].map(commandInfo)), {
  subcommands: [
    define("command|count", 2, meta, [0, 0, 0], (ctx) => Reply.integer(ctx.commands.size)),
    define("command|info", -2, meta, [0, 0, 0], (ctx, args) =>
      Reply.array(named(ctx, args.rest()).map((found) => found === undefined ? Reply.nullBulk : commandInfo(found)))),
    // Names with empty documentation: enough for tools that ask (redis-cli's hints).
    define("command|docs", -2, meta, [0, 0, 0], (ctx, args) =>
      Reply.array(
        named(ctx, args.rest()).flatMap((found) => found === undefined ? [] : [Reply.bulk(found.name), Reply.emptyArray])
      )),
    define("command|list", -2, meta, [0, 0, 0], (ctx, args) => {
      let filter: readonly [ByteString, ByteString] | undefined
      if (args.hasNext()) {
        if (args.remaining !== 3 || !args.nextIs("filterby")) syntaxError()
        const kind = args.nextString()
        if (!["module", "aclcat", "pattern"].includes(kind.toLowerCase())) syntaxError()
        filter = [kind, args.nextString()]
      }
      return commandList(ctx, filter)
    }),
    define("command|getkeys", -4, meta, [0, 0, 0], (ctx, args) => {
      const request = args.rest()
      let found: Command
      try {
        found = lookup(ctx.commands, request)
      } catch (error) {
        if (isCommandError(error)) throw rejected("Invalid command specified")
        throw error
      }
      if (found.keys[0] === 0) throw rejected("The command has no key arguments")
      if ((found.arity > 0 && found.arity !== request.length) || request.length < -found.arity) {
        throw rejected("Invalid number of arguments specified for command")
      }
      return Reply.bulkArray(keysOf(found, request))
    }),
    help("command", [
      "(no subcommand)",
      "    Every command, as COMMAND INFO describes it.",
      "COUNT",
      "    How many commands there are.",
      "DOCS [<command-name> ...]",
      "    Each command's name with empty documentation.",
      "GETKEYS <full-command>",
      "    The keys of a full command line.",
      "INFO [<command-name> ...]",
      "    Name, arity, flags and key positions of each command, all if none is named.",
      "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
      "    The names of the commands and subcommands."
    ])
  ]
})

/**
 * The server commands.
 *
 * @since 0.1.0
 */
export const commands: ReadonlyArray<Command> = [
  config,
  define("info", -1, meta, [0, 0, 0], (ctx, args) => Reply.bulk(info(ctx, args.rest()))),
  command,
  define("time", 1, ["loading", "stale", "fast"], [0, 0, 0], (ctx) => {
    const now = ctx.server.now()
    return Reply.bulkArray([`${Math.floor(now / 1000)}`, `${(now % 1000) * 1000}`])
  }),
  // Only USAGE: the other MEMORY subcommands report on Redis's allocator, which fiberline does not have.
  container("memory", [], [
    define("memory|usage", -3, ["readonly"], [2, 2, 1], (ctx, args) => {
      const key = args.nextString()
      while (args.hasNext()) {
        if (!args.nextIs("samples") || !args.hasNext()) syntaxError()
        if (args.nextInteger() < 0n) syntaxError()
      }
      const value = ctx.keyspace.get(key)
      if (value === undefined) return Reply.nullBulk
      return Reply.integer(entryBytes(key, value) + (ctx.keyspace.expiresAt(key) === undefined ? 0 : overhead.ttl))
    }),
    help("memory", [
      "USAGE <key> [SAMPLES <count>]",
      "    The bytes <key> and its value are counted as (what maxmemory bounds), every element counted."
    ])
  ]),
  define("monitor", 1, ["admin", "noscript", "loading", "stale"], [0, 0, 0], (ctx) => {
    if (ctx.session.inExec) throw rejected("MONITOR isn't allowed for DENY BLOCKING client")
    // Already monitoring: Redis ignores it, without a reply.
    if (ctx.session.monitor) return Reply.nothing
    // Monitor lines come between replies, so from now on output goes through the outbox, bounded like a subscriber's.
    Session.subscriber(ctx.session, () => ctx.settings.pubsubOutputLimit)
    ctx.session.monitor = true
    ctx.server.monitors.add(ctx.session)
    return Reply.ok
  }),
  // No DEBUG subcommand is implemented: every one gets Redis's answer for one it does not know.
  define("debug", -2, ["admin", "noscript", "loading", "stale"], [0, 0, 0], (_ctx, args) => {
    if (args.remaining === 1 && args.nextIs("help")) {
      return Reply.array([
        Reply.simple("DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"),
        Reply.simple("HELP"),
        Reply.simple("    Prints this help.")
      ])
    }
    return args.subcommandSyntaxError()
  })
]
