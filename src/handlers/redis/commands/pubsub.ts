/**
 * Pub/sub commands: `SUBSCRIBE`, `UNSUBSCRIBE`, `PSUBSCRIBE`,
 * `PUNSUBSCRIBE`, `PUBLISH`, and `PUBSUB CHANNELS|NUMSUB|NUMPAT` (with
 * `SHARDCHANNELS|SHARDNUMSUB`, empty: there are no shard channels here).
 *
 * Each (un)subscription is confirmed with Redis's RESP2 array — kind,
 * channel or pattern (null when unsubscribing from nothing), then the number
 * of subscriptions left — one per name, in one reply. A subscribed
 * connection's output, these confirmations included, goes through its outbox
 * (see `session.ts`), so they stay in order with the messages. As in Redis,
 * confirmations are pushed like messages: `CLIENT REPLY OFF` does not
 * silence them.
 *
 * @since 0.1.0
 */
import { Buffer } from "node:buffer"
import type { ByteString } from "../bytes.ts"
import { type Command, type CommandContext, container, define, help } from "../command.ts"
import type { Arguments } from "../parse.ts"
import * as Reply from "../reply.ts"
import * as Session from "../session.ts"

const confirmation = (kind: string, name: ByteString | undefined, count: number) =>
  Reply.array([Reply.bulk(kind), Reply.bulk(name), Reply.integer(count)])

/** Channels and patterns work alike; this is where they differ. */
interface Kind {
  readonly names: (ctx: CommandContext) => Set<ByteString>
  readonly add: (ctx: CommandContext, name: ByteString) => void
  readonly remove: (ctx: CommandContext, name: ByteString) => void
}

/** This connection as a subscriber, bounded by the setting as it is at each delivery. */
const subscriber = (ctx: CommandContext) => Session.subscriber(ctx.session, () => ctx.settings.pubsubOutputLimit)

/**
 * Confirmations as pushes: into the outbox, where `CLIENT REPLY` does not
 * reach, unless they can go as the reply unsilenced anyway.
 */
const push = (ctx: CommandContext, confirmations: Uint8Array): Uint8Array => {
  if (ctx.session.replies === "on" && ctx.session.outbox === undefined) return confirmations
  subscriber(ctx).deliver(confirmations)
  return Reply.nothing
}

const channels: Kind = {
  names: (ctx) => ctx.session.channels,
  add: (ctx, name) => ctx.pubsub.subscribe(subscriber(ctx), name),
  remove: (ctx, name) => ctx.pubsub.unsubscribe(ctx.session.outbox!, name)
}

const patterns: Kind = {
  names: (ctx) => ctx.session.patterns,
  add: (ctx, name) => ctx.pubsub.psubscribe(subscriber(ctx), name),
  remove: (ctx, name) => ctx.pubsub.punsubscribe(ctx.session.outbox!, name)
}

const subscribe = (name: string, kind: Kind) =>
  define(name, -2, ["pubsub", "noscript", "loading", "stale"], [0, 0, 0], (ctx, args) => {
    const replies = args.rest().map((channel) => {
      const names = kind.names(ctx)
      if (!names.has(channel)) {
        kind.add(ctx, channel)
        names.add(channel)
      }
      return confirmation(name, channel, Session.subscriptions(ctx.session))
    })
    return push(ctx, Buffer.concat(replies))
  }, { whileSubscribed: true })

const unsubscribe = (name: string, kind: Kind) =>
  define(name, -1, ["pubsub", "noscript", "loading", "stale"], [0, 0, 0], (ctx, args) => {
    const names = kind.names(ctx)
    // Without arguments: every subscription of this kind, and a null one if there is none.
    const targets = args.hasNext() ? args.rest() : [...names]
    if (targets.length === 0) return push(ctx, confirmation(name, undefined, Session.subscriptions(ctx.session)))
    return push(
      ctx,
      Buffer.concat(targets.map((channel) => {
        if (names.delete(channel)) kind.remove(ctx, channel)
        return confirmation(name, channel, Session.subscriptions(ctx.session))
      }))
    )
  }, { whileSubscribed: true })

const introspection = ["pubsub", "loading", "stale"] as const

/** `NUMSUB`/`SHARDNUMSUB`: each channel and its count, flat. */
const counts = (channelsOf: ReadonlyArray<ByteString>, count: (channel: ByteString) => number) =>
  Reply.array(channelsOf.flatMap((channel) => [Reply.bulk(channel), Reply.integer(count(channel))]))

/** `[<pattern>]`: the pattern if given; more arguments are Redis's subcommand syntax error. */
const optionalPattern = (args: Arguments) => {
  if (args.remaining > 1) args.subcommandSyntaxError()
  return args.hasNext() ? args.nextString() : undefined
}

const pubsub = container("pubsub", [], [
    define("pubsub|channels", -2, introspection, [0, 0, 0], (ctx, args) =>
      Reply.bulkArray(ctx.pubsub.channels(optionalPattern(args)))),
    define("pubsub|numsub", -2, introspection, [0, 0, 0], (ctx, args) =>
      counts(args.rest(), (channel) => ctx.pubsub.subscribers(channel))),
    define("pubsub|numpat", 2, introspection, [0, 0, 0], (ctx) => Reply.integer(ctx.pubsub.patternCount())),
    define("pubsub|shardchannels", -2, introspection, [0, 0, 0], (_ctx, args) => {
      optionalPattern(args)
      return Reply.emptyArray
    }),
    define("pubsub|shardnumsub", -2, introspection, [0, 0, 0], (_ctx, args) => counts(args.rest(), () => 0)),
    help("pubsub", [
      "CHANNELS [<pattern>]",
      "    The channels with at least one subscriber, those matching <pattern> if given.",
      "NUMPAT",
      "    How many patterns have at least one subscriber.",
      "NUMSUB [<channel> ...]",
      "    Each channel with its number of subscribers.",
      "SHARDCHANNELS [<pattern>]",
      "    Shard channels with subscribers: none here.",
      "SHARDNUMSUB [<shardchannel> ...]",
      "    Each shard channel with its number of subscribers: 0 here."
    ])
])

/**
 * The pub/sub commands.
 *
 * @since 0.1.0
 */
export const commands: ReadonlyArray<Command> = [
  subscribe("subscribe", channels),
  unsubscribe("unsubscribe", channels),
  subscribe("psubscribe", patterns),
  unsubscribe("punsubscribe", patterns),
  define(
    "publish",
    3,
    ["pubsub", "loading", "stale", "fast"],
    [0, 0, 0],
    (ctx, args) => {
      const channel = args.nextString()
      return Reply.integer(ctx.pubsub.publish(channel, args.nextString()))
    }
  ),
  pubsub
]
