/**
 * Pub/sub commands: `SUBSCRIBE`, `UNSUBSCRIBE`, `PSUBSCRIBE`,
 * `PUNSUBSCRIBE`, `PUBLISH`.
 *
 * Each (un)subscription is confirmed with Redis's RESP2 array — kind,
 * channel or pattern (null when unsubscribing from nothing), then the number
 * of subscriptions left — one per name, in one reply. A subscribed
 * connection's output, these confirmations included, goes through its outbox
 * (see `session.ts`), so they stay in order with the messages.
 *
 * @since 0.1.0
 */
import { Buffer } from "node:buffer"
import type { ByteString } from "../bytes.ts"
import { type Command, type CommandContext, define } from "../command.ts"
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

const channels: Kind = {
  names: (ctx) => ctx.session.channels,
  add: (ctx, name) => ctx.pubsub.subscribe(Session.subscriber(ctx.session, ctx.settings.pubsubOutputLimit), name),
  remove: (ctx, name) => ctx.pubsub.unsubscribe(ctx.session.outbox!, name)
}

const patterns: Kind = {
  names: (ctx) => ctx.session.patterns,
  add: (ctx, name) => ctx.pubsub.psubscribe(Session.subscriber(ctx.session, ctx.settings.pubsubOutputLimit), name),
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
    return Buffer.concat(replies)
  }, { whileSubscribed: true })

const unsubscribe = (name: string, kind: Kind) =>
  define(name, -1, ["pubsub", "noscript", "loading", "stale"], [0, 0, 0], (ctx, args) => {
    const names = kind.names(ctx)
    // Without arguments: every subscription of this kind, and a null one if there is none.
    const targets = args.hasNext() ? args.rest() : [...names]
    if (targets.length === 0) return confirmation(name, undefined, Session.subscriptions(ctx.session))
    return Buffer.concat(targets.map((channel) => {
      if (names.delete(channel)) kind.remove(ctx, channel)
      return confirmation(name, channel, Session.subscriptions(ctx.session))
    }))
  }, { whileSubscribed: true })

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
  )
]
