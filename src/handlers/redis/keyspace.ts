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
 * - **Blocking pops** (`BLPOP`, `BRPOP`) suspend the caller's fiber inside
 *   the service until another connection pushes: the same blocking style as
 *   a connection's `readLine`, on shared state. Waiters on a key are served
 *   first come, first served; an interrupted waiter (timeout, disconnect)
 *   unregisters itself.
 *
 * Every operation except {@link Keyspace.blockingPop} is synchronous: a
 * command, or a whole `EXEC`, runs without yielding, so no other
 * connection's command interleaves with it. (Past 300 lines because expiry,
 * blocking pops and the memory count all hang on the same `set` and
 * `remove`, which must keep them consistent with each other.)
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { positiveInteger } from "../../internal/options.ts"
import type { ByteString } from "./bytes.ts"
import { compile } from "./glob.ts"
import { type Meter, overhead } from "./memory.ts"
import { Container, entryBytes, List, type Side, type Value } from "./values.ts"

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
   * Tells that elements were pushed on the list `key`. Waiters on it are
   * served by the next {@link serveBlocked}, after the whole command (or
   * transaction) that pushed, as Redis does.
   */
  readonly pushed: (key: ByteString) => void
  /** Hands elements of lists that got pushes to their waiters, first come first served. */
  readonly serveBlocked: () => void
  /**
   * Pops from the first non-empty list among `keys` — when there is none,
   * waits until another connection pushes to one of them, or `timeout`
   * passes (`undefined`: forever). Gives the key and the element, or
   * `undefined` on timeout.
   *
   * **Gotchas**
   *
   * It does not check types: the caller does, before waiting.
   */
  readonly blockingPop: (
    keys: ReadonlyArray<ByteString>,
    side: Side,
    timeout: Duration.Duration | undefined
  ) => Effect.Effect<readonly [ByteString, ByteString] | undefined>
  /** Number of fibers waiting in {@link blockingPop}. */
  readonly waiting: () => number
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

/** A fiber suspended in `blockingPop`. */
interface Waiter {
  readonly keys: ReadonlyArray<ByteString>
  readonly side: Side
  readonly resume: (popped: readonly [ByteString, ByteString]) => void
  /** Still in the queues of its keys (not served, not interrupted). */
  registered: boolean
}

/**
 * Builds an empty keyspace in the current scope; its expiry sweep runs until
 * the scope closes.
 *
 * @since 0.1.0
 */
export const make = (options?: KeyspaceOptions): Effect.Effect<Keyspace, never, Scope.Scope> =>
  Effect.gen(function*() {
    const sweepInterval = Duration.fromInputUnsafe(options?.sweepInterval ?? defaults.sweepInterval)
    const sweepBatch = positiveInteger("sweepBatch", options?.sweepBatch ?? defaults.sweepBatch)
    const clock = yield* Clock.Clock
    const now = () => clock.currentTimeMillisUnsafe()
    const data = new Map<ByteString, Value>()
    const expires = new Map<ByteString, number>()
    const waiters = new Map<ByteString, Set<Waiter>>()
    const ready = new Set<ByteString>()
    let waiting = 0
    let expiredKeys = 0
    // A fresh meter after a flush: containers flushed away keep the old one.
    let meter: Meter = { bytes: 0 }

    /** Counts `value` in, or out, of the keyspace; a container reports its own changes while in. */
    const account = (key: ByteString, value: Value, sign: 1 | -1) => {
      meter.bytes += sign * entryBytes(key, value)
      if (value instanceof Container) value.meter = sign === 1 ? meter : undefined
    }

    const clearTtl = (key: ByteString) => {
      if (expires.delete(key)) meter.bytes -= overhead.ttl
    }

    const remove = (key: ByteString) => {
      const value = data.get(key)
      if (value !== undefined) {
        account(key, value, -1)
        data.delete(key)
      }
      clearTtl(key)
    }

    // Redis's rule: a key is expired once the time is past its expiry.
    const expired = (key: ByteString, time: number) => {
      const at = expires.get(key)
      return at !== undefined && time > at
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

    const unregister = (waiter: Waiter) => {
      waiter.registered = false
      for (const key of waiter.keys) {
        const queue = waiters.get(key)
        if (queue?.delete(waiter) === true && queue.size === 0) waiters.delete(key)
      }
      waiting--
    }

    const serveBlocked = () => {
      // Every pop is done before any waiter resumes: a resumed fiber runs at
      // once, inside `resume`, and may run commands of its own.
      const served: Array<readonly [Waiter, readonly [ByteString, ByteString]]> = []
      for (const key of ready) {
        const list = get(key)
        const queue = waiters.get(key)
        if (!(list instanceof List) || queue === undefined) continue
        for (const waiter of queue) {
          unregister(waiter)
          served.push([waiter, [key, list.pop(waiter.side)!]])
          if (list.length === 0) {
            remove(key)
            break
          }
        }
      }
      ready.clear()
      for (const [waiter, popped] of served) waiter.resume(popped)
    }

    const blockingPop = (keys: ReadonlyArray<ByteString>, side: Side, timeout: Duration.Duration | undefined) => {
      const wait = Effect.callback<readonly [ByteString, ByteString]>((resume) => {
        const waiter: Waiter = { keys, side, resume: (popped) => resume(Effect.succeed(popped)), registered: true }
        for (const key of keys) {
          const queue = waiters.get(key)
          if (queue === undefined) waiters.set(key, new Set([waiter]))
          else queue.add(waiter)
        }
        waiting++
        // Interrupted (timeout, disconnect): leave no waiter behind.
        return Effect.sync(() => {
          if (waiter.registered) unregister(waiter)
        })
      })
      return Effect.suspend(() => {
        for (const key of keys) {
          const list = get(key)
          if (!(list instanceof List)) continue
          const element = list.pop(side)!
          if (list.length === 0) remove(key)
          return Effect.succeed([key, element] as const)
        }
        return timeout === undefined ? wait : Effect.map(Effect.timeoutOption(wait, timeout), Option.getOrUndefined)
      })
    }

    return Keyspace.of({
      now,
      get,
      set: (key, value, keepTtl = false) => {
        const old = data.get(key)
        if (old !== undefined) account(key, old, -1)
        data.set(key, value)
        account(key, value, 1)
        if (!keepTtl) clearTtl(key)
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
        data.clear()
        expires.clear()
        meter = { bytes: 0 }
      },
      expiresAt: (key) => expires.get(key),
      expire: (key, at) => {
        if (!expires.has(key)) meter.bytes += overhead.ttl
        expires.set(key, at)
      },
      persist: (key) => {
        if (!expires.has(key)) return false
        clearTtl(key)
        return true
      },
      volatileCount: () => expires.size,
      usedBytes: () => meter.bytes,
      pushed: (key) => {
        if (waiters.has(key)) ready.add(key)
      },
      serveBlocked: () => {
        if (ready.size > 0) serveBlocked()
      },
      blockingPop,
      waiting: () => waiting,
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
