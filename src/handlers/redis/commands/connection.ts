/**
 * Connection commands — what clients send when they connect and to keep
 * the connection in shape: `HELLO`, `SELECT`, `PING`, `ECHO`, `QUIT`,
 * `RESET` (`CLIENT` has a module of its own).
 *
 * The server speaks RESP2 only: `HELLO 3` is refused with `NOPROTO`, on
 * which clients (ioredis) fall back to RESP2.
 *
 * @since 0.1.0
 */
import { type ByteString, is } from "../bytes.ts"
import { type Command, type CommandContext, define } from "../command.ts"
import { rejected } from "../errors.ts"
import { redisVersion } from "../info.ts"
import * as Reply from "../reply.ts"
import * as Session from "../session.ts"
import { checkName, setName } from "./client.ts"

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
      checkName(name)
    } else {
      throw rejected(`Syntax error in HELLO option '${option}'`)
    }
  }
  if (name !== undefined) setName(ctx, name)
  return helloReply(ctx)
})

/**
 * The connection commands.
 *
 * @since 0.1.0
 */
export const commands: ReadonlyArray<Command> = [
  hello,
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
    // As Redis's `clearClientConnectionState`: a `CLIENT REPLY SKIP` in force still skips this reply.
    Session.discardTransaction(ctx.session, ctx.keyspace.watches)
    Session.unsubscribeAll(ctx.session, ctx.pubsub)
    ctx.session.name = undefined
    ctx.session.monitor = false
    ctx.server.monitors.delete(ctx.session)
    if (ctx.session.replies !== "skip") ctx.session.replies = "on"
    return Reply.simple("RESET")
  }, { whileSubscribed: true, controlsTransaction: true })
]
