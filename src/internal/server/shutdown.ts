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
 * Steps 1 and 4 are the server's (`LineServer`, `connections.ts`); this
 * module is the per-connection part: the quiet check.
 *
 * @internal
 */
import type { ConnectionCore } from "../io/connection.ts"

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
