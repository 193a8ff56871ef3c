/**
 * `WATCH`'s bookkeeping, as Redis's `multi.c` keeps it: which connections
 * watch which keys, and the signal that a key changed — after which each
 * connection watching it is dirty, and its next `EXEC` aborts.
 *
 * The keyspace owns one {@link Watches} and sends it {@link Watches.touch}
 * on every change of a key it sees: a value set, a key deleted (an expired
 * key collected too), a TTL set or removed, and every in-place change of a
 * container stored in it (containers report their changes, `values.ts`).
 * Nobody watching costs one size check per change.
 *
 * A key watched while already expired but not yet collected is flagged:
 * collecting it changes nothing anyone could see, so it does not make the
 * watcher dirty (Redis's `watchedKey.expired`).
 *
 * @since 0.1.0
 */
import type { ByteString } from "./bytes.ts"

/**
 * One connection's watched keys (Redis's `watched_keys` and
 * `CLIENT_DIRTY_CAS`).
 *
 * @since 0.1.0
 */
export interface Watcher {
  /** A watched key changed since it was watched: the next `EXEC` aborts. */
  dirty: boolean
  /** The keys, each with whether it was already expired, not yet collected, when watched. */
  readonly keys: Map<ByteString, boolean>
}

/**
 * A watcher with nothing watched.
 *
 * @since 0.1.0
 */
export const emptyWatcher = (): Watcher => ({ dirty: false, keys: new Map() })

/**
 * The watchers of one keyspace, by key.
 *
 * @since 0.1.0
 */
export class Watches {
  readonly #byKey = new Map<ByteString, Set<Watcher>>()
  readonly #stored: (key: ByteString) => boolean
  readonly #expired: (key: ByteString) => boolean

  /**
   * Watches over a keyspace that tells whether it holds a key (`stored`,
   * expired but not yet collected included) and whether a key it holds is
   * past its expiry (`expired`).
   */
  constructor(keyspace: { readonly stored: (key: ByteString) => boolean; readonly expired: (key: ByteString) => boolean }) {
    this.#stored = keyspace.stored
    this.#expired = keyspace.expired
  }

  /** Number of keys somebody watches. */
  get size(): number {
    return this.#byKey.size
  }

  /** Adds `key` to what `watcher` watches. */
  watch(watcher: Watcher, key: ByteString): void {
    if (watcher.keys.has(key)) return
    watcher.keys.set(key, this.#expired(key))
    const watchers = this.#byKey.get(key)
    if (watchers === undefined) this.#byKey.set(key, new Set([watcher]))
    else watchers.add(watcher)
  }

  /** Drops every key `watcher` watches; its `dirty` flag is the caller's to clear. */
  unwatch(watcher: Watcher): void {
    for (const key of watcher.keys.keys()) {
      const watchers = this.#byKey.get(key)
      if (watchers?.delete(watcher) === true && watchers.size === 0) this.#byKey.delete(key)
    }
    watcher.keys.clear()
  }

  /** `key` changed: whoever watches it is dirty, and stops watching anything (nothing more can matter to it). */
  touch(key: ByteString): void {
    if (this.#byKey.size === 0) return
    const watchers = this.#byKey.get(key)
    if (watchers === undefined) return
    for (const watcher of Array.from(watchers)) {
      if (watcher.keys.get(key) === true) {
        // Watched while expired: its collection is no change; once collected, it is watched as absent.
        if (!this.#stored(key)) watcher.keys.set(key, false)
        continue
      }
      watcher.dirty = true
      this.unwatch(watcher)
    }
  }

  /**
   * The keyspace is about to be emptied (`FLUSHALL`, `FLUSHDB`): whoever
   * watches a key it holds is dirty, as Redis's `touchAllWatchedKeysInDb`.
   */
  touchAll(): void {
    for (const [key, watchers] of Array.from(this.#byKey)) {
      if (!this.#stored(key)) continue
      for (const watcher of Array.from(watchers)) {
        if (watcher.keys.get(key) === true) {
          watcher.keys.set(key, false)
        } else {
          watcher.dirty = true
          this.unwatch(watcher)
        }
      }
    }
  }

  /**
   * Whether a key `watcher` watches has passed its expiry since it was
   * watched, collected or not: checked by `EXEC`, as Redis's
   * `isWatchedKeyExpired`.
   */
  expiredSinceWatched(watcher: Watcher): boolean {
    for (const [key, expiredWhenWatched] of watcher.keys) {
      if (!expiredWhenWatched && this.#expired(key)) return true
    }
    return false
  }
}
