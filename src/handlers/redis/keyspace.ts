/**
 * The keyspace: the one database every connection of a server shares, as an
 * Effect service built once per server ({@link layer}).
 *
 * - **Values** are typed (`values.ts`); commands check the type.
 * - **Expiry** runs on Effect's `Clock`, so tests drive it with `TestClock`.
 *   It is lazy — every lookup of an expired key deletes it — and active: a
 *   sweep fiber, living in the layer's scope, examines a bounded number of
 *   keys with a TTL per tick, so keys nobody reads again still go away.
 * - **Memory** is counted as `memory.ts` estimates it, kept up to date on
 *   every change ({@link Keyspace.usedBytes}): what `maxmemory` bounds.
 * - **Blocking commands** (`BLPOP`, `BLMOVE`, `BZPOPMIN`…) suspend the
 *   caller's fiber inside the service until a value stored under one of its
 *   keys can serve it (`blocking.ts`): the same blocking style as a
 *   connection's `readLine`, on shared state.
 * - **Changes** of a key — set, deleted, expired, its TTL changed, its
 *   container changed in place — are signalled to `WATCH` ({@link Keyspace.watches}).
 * - **SCAN** walks the keys in a `ScanOrder` (`cursor.ts`), built on the
 *   first scan and kept up to date after; it also gives `RANDOMKEY` its pick.
 *
 * Every operation except {@link Keyspace.block} is synchronous: a command,
 * or a whole `EXEC`, runs without yielding, so no other connection's command
 * interleaves with it. (Past 300 lines because expiry, blocked clients, the
 * memory count, the SCAN order and the signal to `WATCH` all hang on the
 * same `set` and `remove`, which must keep them consistent with each other.)
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Options from "../../Options.ts"
import * as Blocking from "./blocking.ts"
import type { ByteString } from "./bytes.ts"
import { ScanOrder, type ScanPage } from "./cursor.ts"
import { compile } from "./glob.ts"
import { type Meter, overhead } from "./memory.ts"
import { Container, entryBytes, type Value } from "./values.ts"
import { Watches } from "./watch.ts"

/**
 * The shared database.
 *
 * @since 0.1.0
 */
export interface Keyspace {
  /** The current time in milliseconds, from the `Clock` the layer was built with. */
  readonly now: () => number
  /** The value of `key`, or `undefined` if it does not exist or has expired (then it is deleted). */
  readonly get: (key: ByteString) => Value | undefined
  /**
   * Stores `value` under `key`, replacing any value. Its TTL is cleared
   * unless `keepTtl` (as `SET … KEEPTTL`, and every in-place update).
   * Clients blocked on `key` are tried after the command (Redis's
   * `signalKeyAsReady`): a list pushed into a new key, a sorted set added,
   * a key renamed into place.
   */
  readonly set: (key: ByteString, value: Value, keepTtl?: boolean) => void
  /** Deletes `key`; `true` if it existed (and had not expired). */
  readonly delete: (key: ByteString) => boolean
  /** Number of keys, including expired ones not yet collected (as Redis's `DBSIZE`). */
  readonly size: () => number
  /** Keys matching a glob pattern, expired ones left out. */
  readonly keys: (pattern: ByteString) => Array<ByteString>
  /** Deletes every key. */
  readonly flush: () => void
  /** When `key` expires (milliseconds), or `undefined` if it has no TTL. */
  readonly expiresAt: (key: ByteString) => number | undefined
  /** Sets the expiry of an existing `key` to `at` (milliseconds). */
  readonly expire: (key: ByteString, at: number) => void
  /** Removes the TTL of `key`; `true` if it had one. */
  readonly persist: (key: ByteString) => boolean
  /** Number of keys with a TTL. */
  readonly volatileCount: () => number
  /**
   * The bytes the keys, values and TTLs take, as `memory.ts` estimates them:
   * what `maxmemory` bounds (Redis's `used_memory`, for the keyspace alone).
   */
  readonly usedBytes: () => number
  /**
   * Suspends a blocking command until `wait.serve` gives its reply from one
   * of its keys, or its timeout passes (`blocking.ts`). For a command that
   * has found nothing to take, outside `EXEC`.
   */
  readonly block: (wait: Blocking.Wait) => Effect.Effect<Uint8Array>
  /**
   * Serves the clients blocked on keys that got values, in Redis's order;
   * the dispatcher runs it after every command (after the whole `EXEC`).
   */
  readonly serveBlocked: () => void
  /** Number of blocked clients (`blocked_clients`). */
  readonly waiting: () => number
  /**
   * Who `WATCH`es which keys. Every change the keyspace sees signals it:
   * `set`, `delete`, `expire`, `persist`, `flush`, expiry, and in-place
   * changes of stored containers. A change the keyspace cannot see is the
   * command's to signal, with `watches.touch(key)`.
   */
  readonly watches: Watches
  /** Up to `count` keys from `cursor` on, in SCAN order (`cursor.ts`): expired ones not yet collected included. */
  readonly scan: (cursor: number, count: number) => ScanPage<ByteString>
  /** A key chosen at random, expired ones collected on the way; `undefined` if there is none. */
  readonly randomKey: () => ByteString | undefined
  /** Keys deleted because their TTL passed, lazily or by the sweep, since the keyspace was built (`expired_keys`). */
  readonly expiredKeys: () => number
}

/**
 * The `Keyspace` service tag.
 *
 * @since 0.1.0
 */
export const Keyspace: Context.Service<Keyspace, Keyspace> = Context.Service<Keyspace>(
  "fiberline/handlers/redis/Keyspace"
)

/**
 * Tuning of the active expiry sweep.
 *
 * @since 0.1.0
 */
export interface KeyspaceOptions {
  /** Time between sweeps. Default 100 ms (Redis's `hz 10`). */
  readonly sweepInterval?: Duration.Input | undefined
  /** Keys with a TTL examined per sweep, at most. Default 200. */
  readonly sweepBatch?: number | undefined
}

/**
 * Default sweep: every 100 ms, at most 200 keys.
 *
 * @since 0.1.0
 */
export const defaults = { sweepInterval: Duration.millis(100), sweepBatch: 200 } as const

/**
 * Builds an empty keyspace in the current scope; its expiry sweep runs until
 * the scope closes.
 *
 * @since 0.1.0
 */
export const make = (options?: KeyspaceOptions): Effect.Effect<Keyspace, never, Scope.Scope> =>
  Effect.gen(function*() {
    const sweepInterval = Duration.fromInputUnsafe(options?.sweepInterval ?? defaults.sweepInterval)
    const sweepBatch = Options.decodeUnsafe(Options.PositiveInt, options?.sweepBatch ?? defaults.sweepBatch, { prefix: "sweepBatch" })
    const clock = yield* Clock.Clock
    const now = () => clock.currentTimeMillisUnsafe()
    const data = new Map<ByteString, Value>()
    const expires = new Map<ByteString, number>()
    let expiredKeys = 0
    // A fresh meter after a flush: containers flushed away keep the old one.
    let meter: Meter = { bytes: 0 }
    // Built by the first SCAN or RANDOMKEY: a server that never scans pays nothing for it.
    let order: ScanOrder<ByteString> | undefined
    // Redis's rule: a key is expired once the time is past its expiry.
    const expired = (key: ByteString, time: number) => {
      const at = expires.get(key)
      return at !== undefined && time > at
    }
    const watches = new Watches({
      stored: (key) => data.has(key),
      expired: (key) => data.has(key) && expired(key, now())
    })

    /** Counts `value` in, or out, of the keyspace; a container reports its own changes while in. */
    const account = (key: ByteString, value: Value, sign: 1 | -1) => {
      meter.bytes += sign * entryBytes(key, value)
      if (value instanceof Container) {
        value.meter = sign === 1 ? meter : undefined
        value.changed = sign === 1 ? () => watches.touch(key) : undefined
      }
    }

    const clearTtl = (key: ByteString) => {
      if (expires.delete(key)) meter.bytes -= overhead.ttl
    }

    const remove = (key: ByteString) => {
      const value = data.get(key)
      if (value !== undefined) {
        account(key, value, -1)
        data.delete(key)
        order?.delete(key)
      }
      clearTtl(key)
      if (value !== undefined) watches.touch(key)
    }

    const get = (key: ByteString): Value | undefined => {
      const value = data.get(key)
      if (value === undefined || expires.size === 0 || !expired(key, now())) return value
      remove(key)
      expiredKeys++
      return undefined
    }

    // Map iterators stay valid while entries are added and deleted, so the
    // sweep resumes where the previous tick stopped, and starts over at the end.
    let cursor = expires.keys()
    const sweep = () => {
      const time = now()
      for (let examined = 0; examined < sweepBatch && expires.size > 0; examined++) {
        const next = cursor.next()
        if (next.done === true) {
          cursor = expires.keys()
          return
        }
        if (expired(next.value, time)) {
          remove(next.value)
          expiredKeys++
        }
      }
    }
    yield* Effect.forkScoped(Effect.forever(Effect.andThen(Effect.sleep(sweepInterval), Effect.sync(sweep))))

    const blocking = Blocking.make((key) => get(key) !== undefined)

    const scanOrder = () => (order ??= ScanOrder.from(data.keys()))

    const randomKey = (): ByteString | undefined => {
      // Each expired key met is collected, so this ends.
      for (;;) {
        const keys = scanOrder()
        if (keys.size === 0) return undefined
        const key = keys.at(Math.floor(Math.random() * keys.size))
        if (!expired(key, now())) return key
        remove(key)
      }
    }

    return Keyspace.of({
      now,
      get,
      set: (key, value, keepTtl = false) => {
        const old = data.get(key)
        if (old !== undefined) account(key, old, -1)
        else order?.add(key)
        data.set(key, value)
        account(key, value, 1)
        if (!keepTtl) clearTtl(key)
        watches.touch(key)
        blocking.signal(key)
      },
      delete: (key) => {
        if (get(key) === undefined) return false
        remove(key)
        return true
      },
      size: () => data.size,
      keys: (pattern) => {
        const time = now()
        // As Redis: `*` alone lists every key (the empty one too, which no glob matches).
        const glob = pattern === "*" ? undefined : compile(pattern)
        const found: Array<ByteString> = []
        for (const key of data.keys()) {
          if ((glob === undefined || glob.matches(key)) && !expired(key, time)) found.push(key)
        }
        return found
      },
      flush: () => {
        watches.touchAll()
        data.clear()
        expires.clear()
        order?.clear()
        meter = { bytes: 0 }
      },
      expiresAt: (key) => expires.get(key),
      expire: (key, at) => {
        if (!expires.has(key)) meter.bytes += overhead.ttl
        expires.set(key, at)
        watches.touch(key)
      },
      persist: (key) => {
        if (!expires.has(key)) return false
        clearTtl(key)
        watches.touch(key)
        return true
      },
      volatileCount: () => expires.size,
      usedBytes: () => meter.bytes + (order?.bytes ?? 0),
      block: blocking.block,
      serveBlocked: blocking.serve,
      waiting: blocking.waiting,
      watches,
      scan: (from, count) => scanOrder().scan(from, count),
      randomKey,
      expiredKeys: () => expiredKeys
    })
  })

/**
 * A fresh keyspace as a Layer: provide it once per server, so every
 * connection shares it.
 *
 * @since 0.1.0
 */
export const layer = (options?: KeyspaceOptions): Layer.Layer<Keyspace> => Layer.effect(Keyspace, make(options))
