/**
 * Clients blocked on keys (`BLPOP`, `BLMOVE`, `BLMPOP`, `BZPOPMIN`…): a
 * command that finds nothing to take suspends its fiber here, inside the
 * keyspace service, until a change to one of its keys lets it be served —
 * Redis's `blockForKeys` and `handleClientsBlockedOnKeys`, in the blocking
 * style of a connection's `readLine`.
 *
 * A waiter brings its own "serve me from this key now" function, so one
 * mechanism serves every blocking command. A value stored under a key
 * somebody waits on marks the key ready; after the command (or the whole
 * `EXEC`) that stored it, ready keys are served in the order they became
 * ready, and on each key its waiters in the order they blocked, until the key
 * is gone. A served waiter leaves every key it waited on. What serving does
 * (a `BLMOVE`'s push) may make more keys ready: they are served in a further
 * round. Waiters resume only once every serving is done, because a resumed
 * fiber runs at once and may run commands of its own.
 *
 * Timeouts run on Effect's `Clock`; an interrupted waiter (timeout, its peer
 * gone) unregisters itself. A waiter whose peer is gone but which is not yet
 * interrupted is skipped: what it waited for is never handed to a reply that
 * cannot be written.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { ByteString } from "./bytes.ts"

/**
 * The client a waiter answers: whether its reply can still be written.
 *
 * @since 0.1.0
 */
export interface Client {
  /** `false` once the peer has ended its input or the connection failed. */
  readonly connected: () => boolean
}

/**
 * What a blocking command waits for.
 *
 * @since 0.1.0
 */
export interface Wait {
  /** The keys, in the command's order (duplicates are harmless). */
  readonly keys: ReadonlyArray<ByteString>
  /**
   * Tries to serve the client from `key`, synchronously, as a command would:
   * takes what it needs from the keyspace and returns the reply, or
   * `undefined` if `key` cannot serve it (missing, or of another type), and
   * then must change nothing. An error reply serves it too (`BLMOVE` to a
   * destination of the wrong type).
   */
  readonly serve: (key: ByteString) => Uint8Array | undefined
  /** How long to wait; `undefined` for ever. */
  readonly timeout: Duration.Duration | undefined
  /** The reply when the timeout passes. */
  readonly timedOut: Uint8Array
  readonly client: Client
}

/**
 * The blocked clients of one keyspace.
 *
 * @since 0.1.0
 */
export interface Blocking {
  /**
   * Waits until `wait.serve` gives a reply for one of its keys, or the
   * timeout passes (then `wait.timedOut`). The caller has already found
   * nothing to take; should a key have been filled since, it is served at
   * once.
   */
  readonly block: (wait: Wait) => Effect.Effect<Uint8Array>
  /** Tells that a value was stored under `key`: its waiters are tried at the next {@link serve}. */
  readonly signal: (key: ByteString) => void
  /** Serves the waiters of the keys signalled so far; runs after every command. */
  readonly serve: () => void
  /** Number of waiters (`blocked_clients`). */
  readonly waiting: () => number
}

/** A fiber suspended in `block`. */
interface Waiter {
  readonly wait: Wait
  readonly resume: (reply: Uint8Array) => void
  /** Still in the queues of its keys (not served, not interrupted). */
  registered: boolean
}

/**
 * The blocked clients of a keyspace in which `exists` tells whether a key
 * holds a value (expired keys do not).
 *
 * @since 0.1.0
 */
export const make = (exists: (key: ByteString) => boolean): Blocking => {
  const queues = new Map<ByteString, Set<Waiter>>()
  let ready = new Set<ByteString>()
  let waiting = 0

  const register = (waiter: Waiter) => {
    for (const key of waiter.wait.keys) {
      const queue = queues.get(key)
      if (queue === undefined) queues.set(key, new Set([waiter]))
      else queue.add(waiter)
    }
    waiting++
  }

  const unregister = (waiter: Waiter) => {
    waiter.registered = false
    for (const key of waiter.wait.keys) {
      const queue = queues.get(key)
      if (queue?.delete(waiter) === true && queue.size === 0) queues.delete(key)
    }
    waiting--
  }

  const serveKey = (key: ByteString, served: Array<readonly [Waiter, Uint8Array]>) => {
    const queue = queues.get(key)
    if (queue === undefined || !exists(key)) return
    // Deleting the visited waiter from the Set keeps the iteration going.
    for (const waiter of queue) {
      if (!waiter.wait.client.connected()) continue
      const reply = waiter.wait.serve(key)
      if (reply === undefined) continue
      unregister(waiter)
      served.push([waiter, reply])
      if (!exists(key)) return
    }
  }

  const serve = () => {
    if (ready.size === 0) return
    const served: Array<readonly [Waiter, Uint8Array]> = []
    while (ready.size > 0) {
      const round = ready
      ready = new Set()
      for (const key of round) serveKey(key, served)
    }
    for (const [waiter, reply] of served) waiter.resume(reply)
  }

  const block = (wait: Wait): Effect.Effect<Uint8Array> => {
    const suspended = Effect.callback<Uint8Array>((resume) => {
      // A key filled between the command's own look and now is served at once.
      if (wait.client.connected()) {
        for (const key of wait.keys) {
          const reply = wait.serve(key)
          if (reply === undefined) continue
          resume(Effect.succeed(reply))
          serve()
          return
        }
      }
      const waiter: Waiter = { wait, resume: (reply) => resume(Effect.succeed(reply)), registered: true }
      register(waiter)
      // Interrupted (timeout, the peer gone): leave no waiter behind.
      return Effect.sync(() => {
        if (waiter.registered) unregister(waiter)
      })
    })
    return wait.timeout === undefined ? suspended : Effect.map(
      Effect.timeoutOption(suspended, wait.timeout),
      Option.getOrElse(() => wait.timedOut)
    )
  }

  return {
    block,
    // Every store into the keyspace goes through here: with nobody blocked it costs a size check.
    signal: (key) => {
      if (queues.size !== 0 && queues.has(key)) ready.add(key)
    },
    serve,
    waiting: () => waiting
  }
}
