/**
 * The pub/sub registry: which connection listens to which channel and
 * pattern, shared by all connections of a server like the keyspace.
 *
 * `PUBLISH` never waits: {@link PubSub.publish} encodes each message once and
 * hands the same bytes to every receiver's {@link Subscriber.deliver}, which
 * only queues them (a connection's bounded outbox, drained by its own writer
 * fiber). A slow subscriber therefore costs a publisher nothing, and never
 * delays the other subscribers.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import type { ByteString } from "./bytes.ts"
import { compile, type Glob } from "./glob.ts"
import * as Reply from "./reply.ts"

/**
 * A receiver of messages: one per subscribed connection.
 *
 * @since 0.1.0
 */
export interface Subscriber {
  /** Queues an encoded message for the connection; must not block. The bytes are shared: do not modify them. */
  readonly deliver: (message: Uint8Array) => void
}

/**
 * The registry.
 *
 * @since 0.1.0
 */
export interface PubSub {
  readonly subscribe: (subscriber: Subscriber, channel: ByteString) => void
  readonly unsubscribe: (subscriber: Subscriber, channel: ByteString) => void
  readonly psubscribe: (subscriber: Subscriber, pattern: ByteString) => void
  readonly punsubscribe: (subscriber: Subscriber, pattern: ByteString) => void
  /**
   * Delivers `message` to the subscribers of `channel` and of every pattern
   * matching it; returns how many deliveries were made (a connection
   * subscribed both to the channel and to a matching pattern counts twice,
   * and receives both, as in Redis).
   */
  readonly publish: (channel: ByteString, message: ByteString) => number
  /** The channels with at least one subscriber, those matching `pattern` if given (`PUBSUB CHANNELS`). */
  readonly channels: (pattern?: ByteString) => Array<ByteString>
  /** How many connections subscribe to `channel` (`PUBSUB NUMSUB`). */
  readonly subscribers: (channel: ByteString) => number
  /** How many patterns have at least one subscriber (`PUBSUB NUMPAT`). */
  readonly patternCount: () => number
}

/**
 * The `PubSub` service tag.
 *
 * @since 0.1.0
 */
export const PubSub: Context.Service<PubSub, PubSub> = Context.Service<PubSub>("fiberline/handlers/redis/PubSub")

const add = (index: Map<ByteString, Set<Subscriber>>, name: ByteString, subscriber: Subscriber) => {
  const subscribers = index.get(name)
  if (subscribers === undefined) index.set(name, new Set([subscriber]))
  else subscribers.add(subscriber)
}

const remove = (index: Map<ByteString, Set<Subscriber>>, name: ByteString, subscriber: Subscriber) => {
  const subscribers = index.get(name)
  if (subscribers?.delete(subscriber) === true && subscribers.size === 0) index.delete(name)
}

/** A pattern's subscribers, with the pattern compiled once for every `PUBLISH`. */
interface PatternEntry {
  readonly glob: Glob
  readonly subscribers: Set<Subscriber>
}

/**
 * An empty registry.
 *
 * @since 0.1.0
 */
export const make = (): PubSub => {
  const channels = new Map<ByteString, Set<Subscriber>>()
  const patterns = new Map<ByteString, PatternEntry>()
  return PubSub.of({
    subscribe: (subscriber, channel) => add(channels, channel, subscriber),
    unsubscribe: (subscriber, channel) => remove(channels, channel, subscriber),
    psubscribe: (subscriber, pattern) => {
      const entry = patterns.get(pattern)
      if (entry === undefined) patterns.set(pattern, { glob: compile(pattern), subscribers: new Set([subscriber]) })
      else entry.subscribers.add(subscriber)
    },
    punsubscribe: (subscriber, pattern) => {
      const entry = patterns.get(pattern)
      if (entry?.subscribers.delete(subscriber) === true && entry.subscribers.size === 0) patterns.delete(pattern)
    },
    publish: (channel, message) => {
      // Receivers are listed before any delivery: a delivery can end a
      // subscriber at once (cut off), which unsubscribes it.
      const deliveries: Array<readonly [Uint8Array, ReadonlyArray<Subscriber>]> = []
      const direct = channels.get(channel)
      if (direct !== undefined) {
        deliveries.push([Reply.bulkArray(["message", channel, message]), [...direct]])
      }
      for (const [pattern, { glob, subscribers }] of patterns) {
        if (!glob.matches(channel)) continue
        deliveries.push([Reply.bulkArray(["pmessage", pattern, channel, message]), [...subscribers]])
      }
      let receivers = 0
      for (const [bytes, subscribers] of deliveries) {
        for (const subscriber of subscribers) subscriber.deliver(bytes)
        receivers += subscribers.length
      }
      return receivers
    },
    channels: (pattern) => {
      if (pattern === undefined) return [...channels.keys()]
      const glob = compile(pattern)
      return [...channels.keys()].filter((channel) => glob.matches(channel))
    },
    subscribers: (channel) => channels.get(channel)?.size ?? 0,
    patternCount: () => patterns.size
  })
}

/**
 * A fresh registry as a Layer, provided once per server.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<PubSub> = Layer.sync(PubSub, make)
