/**
 * One connection's state, as Redis keeps it per client: who it is (id,
 * addresses, name), when it connected and last sent a request, its last
 * command, an open transaction and the keys it watches, its subscriptions
 * and, once it has subscribed, the outbox that all its output goes through;
 * what `CLIENT` set (`REPLY`, `NO-EVICT`, `NO-TOUCH`), and, while a blocking
 * command waits, how `CLIENT UNBLOCK` ends the wait.
 *
 * Subscribing and unsubscribing live here because they change both the
 * session and the shared registry, and because every way a connection ends
 * (QUIT, RESET, end of input, a cut-off) must leave the registry clean
 * ({@link unsubscribeAll}); the same for the keys it watches
 * ({@link discardTransaction}).
 *
 * @since 0.1.0
 */
import type { ByteString, Request } from "./bytes.ts"
import * as Outbox from "./outbox.ts"
import type { PubSub, Subscriber } from "./pubsub.ts"
import { emptyWatcher, type Watcher, type Watches } from "./watch.ts"

/**
 * An open `MULTI`: the requests queued, and whether queueing one failed
 * (then `EXEC` aborts, and nothing more needs to be kept).
 *
 * @since 0.1.0
 */
export interface Transaction {
  /** Requests checked and queued, run in order by `EXEC`. */
  readonly queue: Array<Request>
  /** Their heap estimate, held within `maxQueuedBytes`. */
  bytes: number
  /** One of them is a write that grows memory (`denyoom`): `EXEC` is one too. */
  denyoom: boolean
  failed: boolean
}

/**
 * One connection's state.
 *
 * @since 0.1.0
 */
export interface Session {
  /** The connection's id (`CLIENT ID`, `HELLO`). */
  readonly id: number
  /**
   * `false` once the peer has ended its input or the connection failed: a
   * reply can no longer reach it, so a blocked command of this connection
   * is not served (`blocking.ts`).
   */
  readonly connected: () => boolean
  /** The peer's address as Redis prints it (`addr=`): `host:port`, `[v6]:port`. */
  readonly address: string
  /** This side's address (`laddr=`); `undefined` when the transport has none (memory, Unix sockets). */
  readonly localAddress: string | undefined
  /** When the connection started, in milliseconds (`age=`). */
  readonly createdAt: number
  /** When it last sent a request or got a blocked reply, in milliseconds (`idle=`, the idle `timeout`). */
  lastInteraction: number
  /** Full name of the last command looked up (`cmd=`), even if it was refused. */
  lastCommand: string | undefined
  /** `CLIENT SETNAME`. */
  name: ByteString | undefined
  /** `CLIENT SETINFO LIB-NAME` / `LIB-VER`. */
  libName: ByteString | undefined
  libVersion: ByteString | undefined
  /** Set between `MULTI` and `EXEC`/`DISCARD`. */
  transaction: Transaction | undefined
  /** The keys `WATCH`ed, until `EXEC`, `DISCARD`, `UNWATCH`, `RESET` or the connection's end. */
  readonly watcher: Watcher
  /** While `EXEC` runs the queue: blocking commands do not block. */
  inExec: boolean
  readonly channels: Set<ByteString>
  readonly patterns: Set<ByteString>
  /**
   * Created by the first subscription; from then on all output goes through
   * it. It is also this connection in the pub/sub registry.
   */
  outbox: Outbox.Outbox | undefined
  /** Close after this reply: `QUIT`, or `CLIENT KILL` of this very connection. */
  quit: boolean
  /** `CLIENT KILL` of another connection is ending this one: its read fails, and that is no error. */
  killed: boolean
  /** `CLIENT REPLY`: whether replies are sent (see {@link replySent}). */
  replies: ReplyMode
  /** `MONITOR` was sent: every command run is shown to this connection, through its outbox. */
  monitor: boolean
  /** `CLIENT NO-EVICT`: fiberline never evicts clients, so this only shows in `CLIENT LIST` (flag `e`). */
  noEvict: boolean
  /**
   * `CLIENT NO-TOUCH`: commands of this client should not change the
   * keys' access times (for the commands that keep them).
   */
  noTouch: boolean
  /**
   * Set while a blocking command waits: ends the wait at once, with the
   * reply a timeout gives, or with `-UNBLOCKED` (`CLIENT UNBLOCK`).
   */
  unblock: ((how: "timeout" | "error") => void) | undefined
}

/**
 * `CLIENT REPLY` as Redis keeps it: `off` silences every reply until `ON`;
 * `SKIP` silences the next command's reply (`skip-next` while `CLIENT REPLY
 * SKIP` itself runs, `skip` during the command after it).
 *
 * @since 0.1.0
 */
export type ReplyMode = "on" | "off" | "skip-next" | "skip"

/**
 * A fresh session for connection `id`, from `address` (and to
 * `localAddress`), started at `now` (milliseconds), whose peer is there while
 * `connected` says so (always, by default).
 *
 * @since 0.1.0
 */
export const make = (
  id: number,
  address: string,
  localAddress: string | undefined,
  now: number,
  connected: () => boolean = () => true
): Session => ({
  id,
  connected,
  address,
  localAddress,
  createdAt: now,
  lastInteraction: now,
  lastCommand: undefined,
  name: undefined,
  libName: undefined,
  libVersion: undefined,
  transaction: undefined,
  watcher: emptyWatcher(),
  inExec: false,
  channels: new Set(),
  patterns: new Set(),
  outbox: undefined,
  quit: false,
  killed: false,
  replies: "on",
  monitor: false,
  noEvict: false,
  noTouch: false,
  unblock: undefined
})

/**
 * Whether the reply of the command that just ran is sent, by `CLIENT
 * REPLY`; moves `SKIP` on, as Redis does after each command. Call it only
 * when `replies` is not `on` (the common case needs no call).
 *
 * @since 0.1.0
 */
export const replySent = (session: Session): boolean => {
  switch (session.replies) {
    case "skip-next":
      session.replies = "skip"
      return true
    case "skip":
      session.replies = "on"
      return false
    default:
      return session.replies === "on"
  }
}

/**
 * Number of channels and patterns subscribed: the count Redis puts in
 * subscription replies.
 *
 * @since 0.1.0
 */
export const subscriptions = (session: Session): number => session.channels.size + session.patterns.size

/**
 * This connection as a subscriber, creating its outbox (bounded by `limit()`
 * bytes, 0 for no bound) on first use.
 *
 * @since 0.1.0
 */
export const subscriber = (session: Session, limit: () => number): Subscriber =>
  (session.outbox ??= Outbox.make(limit))

/**
 * Removes every subscription of the session from the registry; returns
 * the channels, then the patterns, it had.
 *
 * @since 0.1.0
 */
export const unsubscribeAll = (
  session: Session,
  pubsub: PubSub
): { readonly channels: Array<ByteString>; readonly patterns: Array<ByteString> } => {
  const channels = [...session.channels]
  const patterns = [...session.patterns]
  const outbox = session.outbox
  if (outbox !== undefined) {
    for (const channel of channels) pubsub.unsubscribe(outbox, channel)
    for (const pattern of patterns) pubsub.punsubscribe(outbox, pattern)
  }
  session.channels.clear()
  session.patterns.clear()
  return { channels, patterns }
}

/**
 * Ends the open transaction, if any, and forgets the watched keys, as
 * Redis's `discardTransaction`: what `EXEC`, `DISCARD`, `RESET` and the
 * connection's end all do.
 *
 * @since 0.1.0
 */
export const discardTransaction = (session: Session, watches: Watches): void => {
  session.transaction = undefined
  watches.unwatch(session.watcher)
  session.watcher.dirty = false
}
