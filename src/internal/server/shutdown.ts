/**
 * The drain policy, in one place: how a server's connections end when it
 * shuts down, used by TCP, Unix sockets and the workers alike.
 *
 * 1. The listener stops accepting; queued and handshaking sockets are
 *    closed (nothing was asked of them).
 * 2. Every connection is told. A connection ends once it is **quiet**: its
 *    read waits, nothing it received waits anywhere in the process (input
 *    buffer, read-ahead queue, the stream's own buffer), and a full turn of
 *    the event loop with the input reading brought nothing. Its read then
 *    fails with `ServerShuttingDown`, which a handler may catch to say
 *    goodbye: at a frame boundary, since a partial frame is not quiet.
 *    Connections mid-request keep running, so every byte that reached the
 *    server before that is read and answered.
 * 3. The close after shutdown never discards late input behind a clean FIN:
 *    input that arrives during the lingering close, or that was received
 *    after the reader was told and never read, gets a TCP reset — the peer
 *    learns it was not answered.
 * 4. At the deadline the remaining connections are interrupted and their
 *    sockets reset, so a peer that never reads cannot hold shutdown hostage;
 *    they count as forced, the rest as drained.
 *
 * 5. One log line sums up: connections drained and forced.
 *
 * @internal
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import type { ConnectionCore } from "../io/core.ts"
import * as Transport from "../io/transport.ts"
import type { Connections } from "./connections.ts"

/**
 * Calls `f` after one full turn of the event loop: two `setImmediate` hops
 * put a complete poll phase after this call, so bytes that were in the
 * kernel now (a request sent just before the signal, to a connection that
 * had not read yet) are read before `f` runs. A real turn is the point, so
 * this is not a `Clock` sleep: no virtual time can stand for it.
 */
const afterEventLoopTurn = (f: () => void): void => {
  setImmediate(() => setImmediate(f))
}

/** Connections with a quiet check under way. */
const checking = new WeakSet<ConnectionCore>()

/**
 * During shutdown, fails the waiting read of `core` with
 * `ServerShuttingDown` once the connection is quiet (see the module doc).
 * Input that arrived meanwhile means another turn; part of a frame waiting
 * for its rest means busy, and the connection asks again when more input
 * arrives (or its deadline ends it).
 */
export const whenQuiet = (core: ConnectionCore): void => {
  if (checking.has(core)) return
  checking.add(core)
  const received = core.reader.chunksReceived
  afterEventLoopTurn(() => {
    checking.delete(core)
    if (!core.readWaiting || core.released) return
    if (core.reader.chunksReceived !== received) return whenQuiet(core)
    if (core.reader.unread === 0) core.notifyShutdown()
  })
}

/** Tells `core` the server is shutting down: its reads end once it is quiet. */
export const tell = (core: ConnectionCore): void => {
  core.shuttingDown = true
  core.shutdownWatch = whenQuiet
  if (core.readWaiting) whenQuiet(core)
}

/** What stops accepting: the listener and the queue of admitted sockets. */
export interface Intake {
  /** Stops accepting (the port is released) and closes whatever waits in the queue. */
  readonly close: () => void
}

/**
 * Steps 1 to 5 of the module doc for a server's `connections`: the whole
 * drain, bounded by `timeout`.
 */
export const drain = <E, R>(
  intake: Intake,
  connections: Connections<E, R>,
  timeout: Duration.Duration,
  address: string,
  active: number
): Effect.Effect<void> =>
  Effect.gen(function*() {
    intake.close()
    yield* Effect.logInfo("shutting down", { address, connections: active })
    connections.shuttingDown = true
    connections.serving.forEach(tell)
    // Nothing was asked of a connection still in its intake: it is closed rather than served.
    connections.admitting.forEach(Transport.abort)
    const finished = yield* FiberSet.awaitEmpty(connections.fibers).pipe(Effect.timeoutOption(timeout))
    if (Option.isNone(finished)) {
      connections.sockets.forEach(Transport.abort)
      connections.closing.forEach((socket) => socket.destroy())
      connections.sockets.forEach((socket) => connections.forcedSockets.add(socket))
      yield* Fiber.interruptAll(connections.fibers)
    }
    yield* connections.closeLogs
    yield* Effect.logInfo("server stopped", { address, drained: connections.drained, forced: connections.forced })
  })
