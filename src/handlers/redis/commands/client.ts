/**
 * `CLIENT` — a connection about itself (`ID`, `SETNAME`, `GETNAME`,
 * `SETINFO`, `INFO`, `REPLY`, `NO-EVICT`, `NO-TOUCH`, `GETREDIR`) and about the
 * others, through the server's registry (`LIST`, `KILL`, `UNBLOCK`).
 *
 * `CLIENT LIST` prints Redis's fields that fiberline knows, in Redis's
 * order, and leaves out those it has no measure of (`fd`, `qbuf`,
 * `qbuf-free`, `argv-mem`, `rbs`, `rbp`, `obl`, `oll`, `tot-mem`, `events`):
 * tools read the fields by name. `omem` is the output not yet handed to the
 * OS, `multi-mem` what the open transaction's queue is counted as.
 *
 * @since 0.1.0
 */
import type { ByteString } from "../bytes.ts"
import { type Command, type CommandContext, container, define, help } from "../command.ts"
import { rejected } from "../errors.ts"
import { type Arguments, integer, parseInteger, syntaxError } from "../parse.ts"
import * as Reply from "../reply.ts"
import type { Client } from "../server.ts"
import * as Session from "../session.ts"

/** Client names and library info must be printable ASCII without spaces. */
const printable = (value: ByteString) => /^[!-~]*$/.test(value)

/**
 * Refuses a name a connection cannot take, in Redis's words.
 *
 * @since 0.1.0
 */
export const checkName = (name: ByteString): void => {
  if (!printable(name)) throw rejected("Client names cannot contain spaces, newlines or special characters.")
}

/**
 * Names the connection (`CLIENT SETNAME`, `HELLO … SETNAME`); the empty name
 * removes it.
 *
 * @since 0.1.0
 */
export const setName = (ctx: CommandContext, name: ByteString): void => {
  checkName(name)
  ctx.session.name = name === "" ? undefined : name
}

/** Redis's client types, as `CLIENT LIST TYPE` and `CLIENT KILL TYPE` name them. */
const clientTypes = new Set(["normal", "slave", "replica", "pubsub", "master"])

/** The type of a connection: `pubsub` while subscribed, else `normal` (no replica or master connects here). */
const typeOf = (session: Session.Session) => Session.subscriptions(session) > 0 ? "pubsub" : "normal"

const clientType = (name: ByteString) => {
  const lower = name.toLowerCase()
  if (!clientTypes.has(lower)) throw rejected(`Unknown client type '${name}'`)
  return lower === "replica" ? "slave" : lower
}

/** Redis's flag letters, in its order: O monitor, P subscribed, x in MULTI, b blocked, c closing after this reply, e no-evict, T no-touch. */
const flags = (session: Session.Session) => {
  let letters = session.monitor ? "O" : ""
  if (Session.subscriptions(session) > 0) letters += "P"
  if (session.transaction !== undefined) letters += "x"
  if (session.unblock !== undefined) letters += "b"
  if (session.quit) letters += "c"
  if (session.noEvict) letters += "e"
  if (session.noTouch) letters += "T"
  return letters === "" ? "N" : letters
}

/** One line of `CLIENT LIST` / `CLIENT INFO` (without its newline). */
const describe = (ctx: CommandContext, client: Client) => {
  const { session } = client
  const now = ctx.server.time()
  const transaction = session.transaction
  return [
    `id=${session.id}`,
    `addr=${session.address}`,
    `laddr=${session.localAddress ?? ""}`,
    `name=${session.name ?? ""}`,
    `age=${Math.floor((now - session.createdAt) / 1000)}`,
    `idle=${Math.floor((now - session.lastInteraction) / 1000)}`,
    `flags=${flags(session)}`,
    "db=0",
    `sub=${session.channels.size}`,
    `psub=${session.patterns.size}`,
    "ssub=0",
    `multi=${transaction === undefined ? -1 : transaction.queue.length}`,
    `multi-mem=${transaction?.bytes ?? 0}`,
    `omem=${client.pendingOutput()}`,
    `cmd=${session.lastCommand ?? "NULL"}`,
    "user=default",
    "redir=-1",
    "resp=2",
    `lib-name=${session.libName ?? ""}`,
    `lib-ver=${session.libVersion ?? ""}`
  ].join(" ")
}

/** `CLIENT LIST [TYPE type | ID id …]`. */
const list = (ctx: CommandContext, args: Arguments) => {
  let clients: Array<Client> = [...ctx.server.clients.values()]
  if (args.remaining === 2 && args.nextIs("type")) {
    const type = clientType(args.nextString())
    clients = clients.filter((client) => typeOf(client.session) === type)
  } else if (args.remaining >= 2 && args.nextIs("id")) {
    const ids = args.rest().map((arg) => Number(integer(arg, "Invalid client ID")))
    clients = ids.flatMap((id) => {
      const client = ctx.server.clients.get(id)
      return client === undefined ? [] : [client]
    })
  } else if (args.hasNext()) {
    syntaxError()
  }
  return Reply.bulk(clients.map((client) => `${describe(ctx, client)}\n`).join(""))
}

/** The filters of `CLIENT KILL` (new style), as Redis's `clientKillCommand` reads them. */
interface KillFilter {
  id?: number
  type?: string
  address?: ByteString
  localAddress?: ByteString
  skipMe: boolean
}

const killFilter = (args: Arguments): KillFilter => {
  const filter: KillFilter = { skipMe: true }
  while (args.hasNext()) {
    const option = args.nextString().toLowerCase()
    if (!args.hasNext()) syntaxError()
    const value = args.nextString()
    if (option === "id") {
      const id = parseInteger(value)
      if (id === undefined || id < 1n) throw rejected("client-id should be greater than 0")
      filter.id = Number(id)
    } else if (option === "type") {
      filter.type = clientType(value)
    } else if (option === "addr") {
      filter.address = value
    } else if (option === "laddr") {
      filter.localAddress = value
    } else if (option === "user") {
      // No ACLs: `default` is the only user.
      if (value !== "default") throw rejected(`No such user '${value}'`)
    } else if (option === "skipme") {
      const lower = value.toLowerCase()
      if (lower !== "yes" && lower !== "no") syntaxError()
      filter.skipMe = lower === "yes"
    } else {
      syntaxError()
    }
  }
  return filter
}

const matchesFilter = (ctx: CommandContext, filter: KillFilter) => (client: Client) => {
  const { session } = client
  if (filter.address !== undefined && session.address !== filter.address) return false
  if (filter.localAddress !== undefined && session.localAddress !== filter.localAddress) return false
  if (filter.type !== undefined && typeOf(session) !== filter.type) return false
  if (filter.id !== undefined && session.id !== filter.id) return false
  return !(filter.skipMe && session === ctx.session)
}

/**
 * `CLIENT KILL addr` or `CLIENT KILL <filter> <value> …`: other connections end
 * at once; this one after its reply (`OK`, `No such client`, or how many were
 * killed).
 */
const kill = (ctx: CommandContext, args: Arguments) => {
  const oldStyle = args.remaining === 1
  const filter: KillFilter = oldStyle ? { address: args.nextString(), skipMe: false } : killFilter(args)
  // Listed before any kill: a kill can run the killed connection's finalizers at once.
  const killed = [...ctx.server.clients.values()].filter(matchesFilter(ctx, filter))
  for (const client of killed) {
    if (client.session === ctx.session) ctx.session.quit = true
    else client.kill()
  }
  if (!oldStyle) return Reply.integer(killed.length)
  if (killed.length === 0) throw rejected("No such client")
  return Reply.ok
}

/** `ON`/`OFF` of `CLIENT NO-EVICT` and `NO-TOUCH`. */
const onOff = (args: Arguments): boolean => {
  if (args.nextIs("on")) return true
  if (args.nextIs("off")) return false
  return syntaxError()
}

const connection = ["noscript", "loading", "stale"] as const
const administration = ["admin", "noscript", "loading", "stale"] as const

/**
 * The `CLIENT` command.
 *
 * @since 0.1.0
 */
export const commands: ReadonlyArray<Command> = [
  container("client", ["sentinel"], [
    define("client|id", 2, connection, [0, 0, 0], (ctx) => Reply.integer(ctx.session.id)),
    define("client|getname", 2, connection, [0, 0, 0], (ctx) => Reply.bulk(ctx.session.name)),
    define("client|setname", 3, connection, [0, 0, 0], (ctx, args) => {
      setName(ctx, args.nextString())
      return Reply.ok
    }),
    define("client|setinfo", 4, connection, [0, 0, 0], (ctx, args) => {
      const attribute = args.nextString()
      const value = args.nextString()
      const field = attribute.toLowerCase() === "lib-name" ? "libName" : attribute.toLowerCase() === "lib-ver" ? "libVersion" : undefined
      if (field === undefined) throw rejected(`Unrecognized option '${attribute}'`)
      if (!printable(value)) throw rejected(`${attribute} cannot contain spaces, newlines or special characters.`)
      ctx.session[field] = value === "" ? undefined : value
      return Reply.ok
    }),
    define("client|info", 2, connection, [0, 0, 0], (ctx) => {
      const self = ctx.server.clients.get(ctx.session.id)
      return Reply.bulk(self === undefined ? "" : `${describe(ctx, self)}\n`)
    }),
    define("client|list", -2, administration, [0, 0, 0], list),
    define("client|kill", -3, administration, [0, 0, 0], kill),
    define("client|unblock", -3, administration, [0, 0, 0], (ctx, args) => {
      if (args.remaining > 2) args.subcommandSyntaxError()
      const idText = args.nextString()
      let how: "timeout" | "error" = "timeout"
      if (args.hasNext() && !args.nextIs("timeout")) {
        if (!args.nextIs("error")) throw rejected("CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
        how = "error"
      }
      const unblock = ctx.server.clients.get(Number(integer(idText)))?.session.unblock
      if (unblock === undefined) return Reply.zero
      unblock(how)
      return Reply.one
    }),
    define("client|reply", 3, connection, [0, 0, 0], (ctx, args) => {
      if (args.nextIs("on")) {
        ctx.session.replies = "on"
        return Reply.ok
      }
      if (args.nextIs("off")) ctx.session.replies = "off"
      else if (args.nextIs("skip")) {
        if (ctx.session.replies !== "off") ctx.session.replies = "skip-next"
      } else syntaxError()
      return Reply.nothing
    }),
    define("client|no-evict", 3, administration, [0, 0, 0], (ctx, args) => {
      ctx.session.noEvict = onOff(args)
      return Reply.ok
    }),
    define("client|no-touch", 3, connection, [0, 0, 0], (ctx, args) => {
      ctx.session.noTouch = onOff(args)
      return Reply.ok
    }),
    // No client tracking here: never redirecting.
    define("client|getredir", 2, connection, [0, 0, 0], () => Reply.integer(-1)),
    help("client", [
      "GETNAME",
      "    This connection's name.",
      "GETREDIR",
      "    -1: there is no client-side caching here.",
      "ID",
      "    This connection's id.",
      "INFO",
      "    This connection, as CLIENT LIST prints it.",
      "KILL <ip:port> | KILL <option> <value> [<option> <value> ...]",
      "    Closes connections by ADDR, LADDR, ID, TYPE, USER, SKIPME.",
      "LIST [TYPE <type>] [ID <id> [<id> ...]]",
      "    The connections, one line each.",
      "NO-EVICT (ON|OFF)",
      "    Accepted: clients are never evicted here.",
      "NO-TOUCH (ON|OFF)",
      "    Whether this connection's commands leave keys' access times alone.",
      "REPLY (ON|OFF|SKIP)",
      "    Sends replies, none, or none to the next command.",
      "SETINFO <LIB-NAME|LIB-VER> <value>",
      "    Names the client library.",
      "SETNAME <name>",
      "    Names this connection.",
      "UNBLOCK <id> [TIMEOUT|ERROR]",
      "    Ends a blocking command's wait, as a timeout or with an error."
    ])
  ])
]
