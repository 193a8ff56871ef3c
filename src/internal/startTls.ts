/**
 * STARTTLS: upgrading a plaintext connection to TLS in place, in the
 * middle of its handler (SMTP, IMAP, POP3, XMPP, LDAP).
 *
 * The transport is swapped under the connection's driver, in order:
 *
 * 1. the driver stops reading the socket and lets go of it; input it holds
 *    that the handler has not taken (in the line buffer, the queued chunks,
 *    or the socket stream's own buffer) arrived before the peer could have
 *    seen the reply to its command: plaintext a man in the middle may have
 *    appended (CVE-2011-0411). It is refused with `PlaintextBeforeTls` and
 *    the connection closed; it is never read;
 * 2. the pending output (the "go ahead" reply) is written in plaintext and
 *    awaited until the OS has it; output written meanwhile by other fibers
 *    is held;
 * 3. the server side of the handshake runs over the same socket, bounded by
 *    the handshake timeout; bytes the peer sent after the reply (its hello)
 *    are TLS's to read;
 * 4. the driver attaches to the TLS socket: reads, writes, timeouts, the
 *    lingering close and destroy now go through it.
 *
 * A failure after step 1 closes the connection: half a handshake leaves
 * nothing a protocol could go on with.
 *
 * @internal
 */
import type * as Net from "node:net"
import * as Effect from "effect/Effect"
import {
  ConnectionError,
  PlaintextBeforeTls,
  type StartTlsError,
  TlsHandshakeError,
  TlsUnavailable,
  type WriteError
} from "../services/Errors.ts"
import type { StartTlsOptions, TlsInfo, TlsOptions } from "../services/Tls.ts"
import type { Driver } from "./driver.ts"
import * as Endpoint from "./endpoint.ts"
import { infoOf, ServerTls, type TlsEngine } from "./tlsEngine.ts"

/** The engine for this upgrade: the settings given to the call, else the server's. */
const engineFor = (
  serverTls: ServerTls | undefined,
  options: TlsOptions | undefined
): Effect.Effect<TlsEngine, StartTlsError> => {
  if (options !== undefined) {
    // Loaded as a server's settings would be; `implicit` does not matter to one handshake.
    return Effect.suspend(() => Effect.map(ServerTls.make(options, false), (loaded) => loaded.engine))
  }
  return serverTls === undefined ? Effect.fail(new TlsUnavailable({ reason: "not-configured" })) : Effect.succeed(serverTls.engine)
}

/** Steps 1 to 4 of the module doc, over `driver`'s socket. */
const upgrade = (
  driver: Driver,
  socket: Net.Socket,
  engine: TlsEngine,
  reply: string | undefined
): Effect.Effect<TlsInfo, StartTlsError> =>
  Effect.gen(function*() {
    // Pending until the flush below; dropped if early input is refused.
    if (reply !== undefined) driver.enqueueLine(reply)
    const begun = driver.beginUpgrade()
    if (begun instanceof ConnectionError) return yield* begun
    if (begun.early > 0) return yield* new PlaintextBeforeTls({ bytes: begun.early })
    if (begun.inputEnded) {
      return yield* new TlsHandshakeError({ reason: "failed", detail: "the peer ended its input before the handshake" })
    }
    yield* Effect.callback<void, WriteError>((resume) => {
      driver.flushForUpgrade((failure) => resume(failure === undefined ? Effect.void : Effect.fail(failure)))
    })
    const tlsSocket = yield* engine.handshake(socket)
    const info = infoOf(tlsSocket)
    driver.finishUpgrade(Endpoint.fromSocket(socket, driver.remoteAddress, driver.peer, { socket: tlsSocket, info }))
    return info
  }).pipe(
    // Interruption included: a connection left half upgraded is closed.
    Effect.onError(() => Effect.sync(() => driver.failUpgrade()))
  )

/**
 * Upgrades the connection `driver` runs to TLS; see the module doc.
 * Fails with `TlsUnavailable` without touching the connection when it has
 * no socket, is encrypted already, or has no settings to use.
 */
export const startTls = (
  driver: Driver,
  serverTls: ServerTls | undefined,
  options: StartTlsOptions | undefined
): Effect.Effect<TlsInfo, StartTlsError> =>
  Effect.suspend(() => {
    const reply = options?.reply
    if (reply !== undefined && /[\r\n]/.test(reply)) {
      return Effect.die(new RangeError(`startTls reply must be one line without its ending, got ${JSON.stringify(reply)}`))
    }
    const socket = driver.socket
    if (socket === undefined) return Effect.fail(new TlsUnavailable({ reason: "no-socket" }))
    if (driver.tls !== undefined) return Effect.fail(new TlsUnavailable({ reason: "already-tls" }))
    return Effect.flatMap(engineFor(serverTls, options?.tls), (engine) => upgrade(driver, socket, engine, reply))
  })
