/**
 * STARTTLS: upgrading a plaintext connection to TLS in place, in the
 * middle of its handler (SMTP, IMAP, POP3, XMPP, LDAP).
 *
 * The transport is swapped under the connection, in order:
 *
 * 1. the connection stops reading the socket and lets go of it; input it
 *    holds that the handler has not taken (in the input buffer, the queue,
 *    or the socket stream's own buffer) arrived before the peer could have
 *    seen the reply to its command: plaintext a man in the middle may have
 *    appended (CVE-2011-0411). It is refused with `PlaintextBeforeTls` and
 *    the connection closed; it is never read. On a client, the same holds
 *    for bytes that came after the server's go-ahead;
 * 2. the pending output (the "go ahead" reply) is written in plaintext and
 *    awaited until the OS has it, within the write timeout (on Effect's
 *    `Clock`); output written meanwhile by other fibers is held;
 * 3. the handshake runs over the same socket, bounded by the handshake
 *    timeout: the server's side on a server's connection, the client's
 *    (`clientTls.ts`) on one opened by `LineClient`; bytes the peer sent
 *    after the reply (its hello) are TLS's to read;
 * 4. the connection attaches to the TLS socket: reads, writes, timeouts, the
 *    lingering close and destroy now go through it.
 *
 * A failure after step 1 closes the connection: half a handshake leaves
 * nothing a protocol could go on with.
 *
 * @internal
 */
import type * as Net from "node:net"
import type * as NodeTls from "node:tls"
import * as Effect from "effect/Effect"
import {
  PlaintextBeforeTls,
  type StartTlsError,
  TlsHandshakeError,
  TlsUnavailable,
  type WriteError,
  WriteTimeout
} from "../../Errors.ts"
import type { ClientTlsOptions, StartTlsOptions, TlsInfo, TlsOptions } from "../../Tls.ts"
import { infoOf, ServerTls, type TlsEngine } from "../tlsEngine.ts"
import { ClientTls } from "./clientTls.ts"
import type { ConnectionCore } from "./core.ts"
import * as Events from "./events.ts"
import { closedError, failureOf } from "./failures.ts"
import * as Transport from "./transport.ts"

const EMPTY = new Uint8Array(0)

/** What runs one side of a handshake: a server's engine, or a client's settings. */
interface Handshake {
  readonly handshake: (socket: Net.Socket) => Effect.Effect<NodeTls.TLSSocket, TlsHandshakeError>
}

/**
 * The engine for this upgrade: the settings given to the call, else the
 * connection's own. A client's connection takes a client's settings.
 */
const engineFor = (
  settings: ServerTls | ClientTls | undefined,
  options: TlsOptions | ClientTlsOptions | undefined
): Effect.Effect<Handshake, StartTlsError> => {
  if (settings instanceof ClientTls) return options === undefined ? Effect.succeed(settings) : Effect.suspend(() => settings.with(options))
  if (options !== undefined) {
    if (options.cert === undefined || options.key === undefined) {
      return Effect.die(new RangeError("startTls on a server's connection needs a server's settings: cert and key"))
    }
    // Loaded as a server's settings would be; `implicit` does not matter to one handshake.
    return Effect.suspend(() => Effect.map(ServerTls.make(options as TlsOptions, false), (loaded) => loaded.engine))
  }
  return settings === undefined ? Effect.fail(new TlsUnavailable({ reason: "not-configured" })) : Effect.succeed(settings.engine)
}

/** Step 1: stop reading, let go of the transport, hold output; what was received and not taken. */
const detach = (core: ConnectionCore) => {
  core.syncFailures()
  const failure = core.reader.failure ?? core.writer.failure
  if (failure !== undefined) return failure
  core.reader.stream.pause()
  Events.detach(core)
  core.writer.held = true
  return { early: core.reader.unread, inputEnded: core.reader.streamEnded }
}

/** Step 2: the held output, written to the plaintext transport and handed to the OS. */
const flushPlaintext = (core: ConnectionCore): Effect.Effect<void, WriteError> => {
  const output = core.writer.stream
  return Effect.callback<void, WriteError>((resume) => {
    if (core.writer.queued > 0) output.write(core.writer.takeBatch())
    // Writes complete in order: this one's callback runs once all before it are out.
    output.write(EMPTY, (error) => resume(error ? Effect.fail(failureOf("write", error)) : Effect.void))
  }).pipe(
    Effect.timeoutOrElse({
      duration: core.limits.writeTimeout,
      orElse: () => {
        core.stalled = true
        return Effect.fail(new WriteTimeout({ timeout: core.limits.writeTimeout, pendingBytes: output.writableLength }))
      }
    })
  )
}

/** Step 4: runs over the TLS transport from now on; output written meanwhile goes out over TLS. */
const attach = (core: ConnectionCore, transport: Transport.Transport): void => {
  core.transport = transport
  core.duplex = true
  core.reader.replaceStream(transport.input)
  core.writer.stream = transport.output
  core.writer.held = false
  Events.attach(core)
  core.syncFailures()
  if (core.writer.flush()) core.writer.wake()
  else core.wakeOnFailure()
}

/**
 * After step 1 failed: input received in plaintext is dropped unread, the
 * transport is destroyed, and every later use fails.
 */
const abandon = (core: ConnectionCore): void => {
  if (!core.writer.held) return
  core.writer.held = false
  core.reader.drop()
  core.reader.failure ??= closedError("read")
  core.writer.failure ??= closedError("write")
  core.transport.destroy()
  core.wakeOnFailure()
}

/** Steps 1 to 4 of the module doc, over the connection's socket. */
const upgrade = (
  core: ConnectionCore,
  socket: Net.Socket,
  engine: Handshake,
  reply: string | undefined
): Effect.Effect<TlsInfo, StartTlsError> =>
  Effect.gen(function*() {
    // Pending until the flush below; dropped if early input is refused.
    if (reply !== undefined) core.writer.enqueueLine(reply)
    const detached = detach(core)
    if (detached instanceof Error) return yield* detached
    if (detached.early > 0) return yield* new PlaintextBeforeTls({ bytes: detached.early })
    if (detached.inputEnded) {
      return yield* new TlsHandshakeError({ reason: "failed", detail: "the peer ended its input before the handshake" })
    }
    yield* flushPlaintext(core)
    const tlsSocket = yield* engine.handshake(socket)
    const info = infoOf(tlsSocket)
    attach(core, Transport.fromSocket(socket, core.remoteAddress, core.peer, { socket: tlsSocket, info }))
    return info
  }).pipe(
    // Interruption included: a connection left half upgraded is closed.
    Effect.onError(() => Effect.sync(() => abandon(core)))
  )

/**
 * TLS from the first byte after a PROXY header (a TLS listener behind a
 * proxy): the connection lets go of its socket, hands what it read past the
 * header back to the socket's stream (Node feeds bytes buffered there to
 * the TLS socket made over it), runs the server side of the handshake, and
 * attaches to the TLS transport. A failure closes the connection.
 */
export const implicitTls = (core: ConnectionCore, engine: TlsEngine): Effect.Effect<TlsInfo, StartTlsError> => {
  const socket = core.transport.socket
  if (socket === undefined) return Effect.fail(new TlsUnavailable({ reason: "no-socket" }))
  return Effect.gen(function*(): Effect.fn.Return<TlsInfo, StartTlsError> {
    const detached = detach(core)
    if (detached instanceof Error) return yield* detached
    const handshakeBytes = core.reader.takeUnread()
    if (handshakeBytes.length > 0) socket.unshift(handshakeBytes)
    const tlsSocket = yield* engine.handshake(socket)
    const info = infoOf(tlsSocket)
    attach(core, Transport.fromSocket(socket, core.remoteAddress, core.peer, { socket: tlsSocket, info }))
    return info
  }).pipe(Effect.onError(() => Effect.sync(() => abandon(core))))
}

/**
 * Upgrades `core` to TLS; see the module doc. Fails with `TlsUnavailable`
 * without touching the connection when it has no socket, is encrypted
 * already, or has no settings to use.
 */
export const startTls = (core: ConnectionCore, options: StartTlsOptions | undefined): Effect.Effect<TlsInfo, StartTlsError> =>
  Effect.suspend(() => {
    const reply = options?.reply
    if (reply !== undefined && /[\r\n]/.test(reply)) {
      return Effect.die(new RangeError(`startTls reply must be one line without its ending, got ${JSON.stringify(reply)}`))
    }
    if (reply !== undefined && core.tlsSettings instanceof ClientTls) {
      return Effect.die(new RangeError("startTls reply is the server's go-ahead: a client reads it, then calls startTls"))
    }
    const socket = core.transport.socket
    if (socket === undefined) return Effect.fail(new TlsUnavailable({ reason: "no-socket" }))
    if (core.tls !== undefined) return Effect.fail(new TlsUnavailable({ reason: "already-tls" }))
    return Effect.flatMap(engineFor(core.tlsSettings, options?.tls), (engine) => upgrade(core, socket, engine, reply))
  })
