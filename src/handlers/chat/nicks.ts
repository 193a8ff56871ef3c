/**
 * Nicknames shared by the processes of one room, kept in Redis: who holds
 * which nickname, so that it is unique across processes, and who is there,
 * for `/who`. Only plain commands that `fiberline redis` implements too
 * (`SET NX XX PX`, `GET`, `MGET`, `PEXPIRE`, `DEL`, `SADD`, `SREM`,
 * `SMEMBERS`), so the test suite needs no real Redis. The keys, and why
 * claims cannot be lost or stolen, are on {@link make}.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Redis from "effect/persistence/Redis"
import * as Semaphore from "effect/Semaphore"
import { nickKey } from "./text.ts"

/**
 * The nickname operations of one process on the broker. Each fails with
 * the broker's error; what to do then is the caller's policy.
 *
 * @since 0.1.0
 */
export interface Nicks {
  /** Claims `nick` for this process: `false` when another process holds it (any case). */
  readonly claim: (nick: string) => Effect.Effect<boolean, Redis.RedisError>
  /** Deletes this process's claim of `nick`, unless a member here holds it again. */
  readonly release: (nick: string) => Effect.Effect<void, Redis.RedisError>
  /**
   * Extends the claims of `nicks` (the members here), claiming again those
   * that are gone (the broker restarted). Returns the nicknames that another
   * process holds meanwhile (both were let in while the broker was down).
   */
  readonly refresh: (nicks: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<string>, Redis.RedisError>
  /** Every nickname claimed, by any process. */
  readonly everyone: Effect.Effect<ReadonlyArray<string>, Redis.RedisError>
}

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 */
export interface NicksOptions {
  /** The key prefix, e.g. `chat`. */
  readonly prefix: string
  /** This process's name in claims: no spaces. */
  readonly instance: string
  /** How long a claim lives unless refreshed, in milliseconds. */
  readonly ttlMillis: number
  /** Whether a member here holds or is taking `nick` (see "One at a time" on {@link make}). */
  readonly holds: (nick: string) => boolean
}

/** A reply that should be an array of strings (`MGET`, `SMEMBERS`; a RESP3 set is a `Set`). */
const strings = (reply: unknown): ReadonlyArray<string | null> =>
  Array.isArray(reply) ? reply : reply instanceof Set ? [...reply] : []

/** The instance a claim's value names. */
const ownerOf = (value: string): string => value.slice(0, value.indexOf(" "))

/** The nickname a claim's value holds. */
const nickOf = (value: string): string => value.slice(value.indexOf(" ") + 1)

/**
 * The nickname operations of one process over `redis`.
 *
 * **Keys** (`P` is the room's prefix, `chat` by default)
 *
 * - `P:nick:NAME` (NAME lowercased) holds `INSTANCE Nick`: the process that
 *   holds it, and the nickname as its member wrote it. Claimed with
 *   `SET … NX PX ttl`, so two processes never both get it; refreshed while
 *   its member is here (every third of the TTL), so a process that dies
 *   without saying so frees its nicknames within the TTL.
 * - `P:nicks`, a set of every NAME claimed: `/who` reads it and the claims
 *   (`SMEMBERS`, then `MGET`), and removes the names whose claim expired.
 *
 * **Releasing.** Only the owner deletes a claim: `GET`, then `DEL` if the
 * value names this process. Between the two the claim cannot change hands
 * unless it expired just then, which takes a process that could not refresh
 * it for two thirds of its TTL; Redis itself is the only fix (a Lua script
 * or `WATCH`, which `fiberline redis` lacks).
 *
 * **One at a time.** A process runs its claims, releases and refreshes one
 * after the other, and a release deletes nothing that a member here holds
 * or is taking when it runs: a member that leaves and one that takes the
 * same nickname on the same process at once cannot delete each other's
 * claim, in whatever order they reach the broker.
 *
 * @since 0.1.0
 */
export const make = (redis: Redis.Redis["Service"], options: NicksOptions): Effect.Effect<Nicks> =>
  Effect.map(Semaphore.make(1), (semaphore) => {
    const lock = Semaphore.withPermit(semaphore)
    const { instance, prefix } = options
    const ttl = String(options.ttlMillis)
    const names = `${prefix}:nicks`
    const keyOf = (nick: string) => `${prefix}:nick:${nickKey(nick)}`
    const valueOf = (nick: string) => `${instance} ${nick}`
    const send = redis.send
    const listed = (nick: string) => send("SADD", names, nickKey(nick))

    const claimOnce = Effect.fnUntraced(function*(nick: string) {
      const key = keyOf(nick)
      // Three tries: the claim may be released or expire between our reads.
      for (let attempt = 0; attempt < 3; attempt++) {
        if ((yield* send<string | null>("SET", key, valueOf(nick), "NX", "PX", ttl)) === "OK") {
          yield* listed(nick)
          return true
        }
        const current = yield* send<string | null>("GET", key)
        if (current === null) continue
        if (ownerOf(current) !== instance) return false
        // Ours already: a release still to come, or a change of case.
        yield* send("SET", key, valueOf(nick), "XX", "PX", ttl)
        yield* listed(nick)
        return true
      }
      return false
    })

    const releaseOnce = Effect.fnUntraced(function*(nick: string) {
      const key = keyOf(nick)
      const current = yield* send<string | null>("GET", key)
      if (current === null || ownerOf(current) !== instance || options.holds(nick)) return
      yield* send("DEL", key)
      yield* send("SREM", names, nickKey(nick))
    })

    const refreshOnce = Effect.fnUntraced(function*(nicks: ReadonlyArray<string>) {
      if (nicks.length === 0) return []
      const current = strings(yield* send("MGET", ...nicks.map(keyOf)))
      // Sent together, so they share round trips.
      const outcomes = yield* Effect.forEach(nicks, (nick, i) => {
        const value = current[i] ?? null
        if (value !== null && ownerOf(value) !== instance) return Effect.succeed(nick)
        // A claim that expires between the two commands is claimed again next time.
        const extend = value === null
          ? Effect.map(send<string | null>("SET", keyOf(nick), valueOf(nick), "NX", "PX", ttl), (reply) => reply === "OK")
          : Effect.as(send("PEXPIRE", keyOf(nick), ttl), true)
        return Effect.flatMap(extend, (ok) => (ok ? Effect.as(listed(nick), undefined) : Effect.succeed(nick)))
      }, { concurrency: "unbounded" })
      return outcomes.filter((nick) => nick !== undefined)
    })

    return {
      claim: (nick) => lock(claimOnce(nick)),
      release: (nick) => lock(releaseOnce(nick)),
      refresh: (nicks) => lock(refreshOnce(nicks)),
      everyone: Effect.gen(function*() {
        const keys = strings(yield* send("SMEMBERS", names)).filter((key) => key !== null)
        if (keys.length === 0) return []
        const values = strings(yield* send("MGET", ...keys.map((key) => `${prefix}:nick:${key}`)))
        const gone = keys.filter((_, i) => (values[i] ?? null) === null)
        // Expired claims of processes that went away without releasing them.
        if (gone.length > 0) yield* send("SREM", names, ...gone)
        return values.filter((value) => value !== null).map(nickOf)
      })
    }
  })
