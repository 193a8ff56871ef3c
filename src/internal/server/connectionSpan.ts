/**
 * A connection's span, when a tracer is installed: the root of a trace of
 * its own, linked to the span the server was started in, so a handler's own
 * spans nest under their connection rather than under the server's whole
 * life. Its attributes use OpenTelemetry's names where there is one. Hot
 * paths (each read or write) are never traced.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Tracer from "effect/Tracer"
import type { ConnectionImpl } from "../io/connection.ts"
import type { CloseKind, ConnectionStats } from "./closeReason.ts"

/** A connection span's attributes when it starts. */
const startAttributes = (core: ConnectionImpl, server: string | undefined): Record<string, unknown> => {
  const address = core.remoteAddress
  const tls = core.tls
  return {
    "fiberline.connection.id": core.id,
    "fiberline.peer": core.peer,
    ...(server === undefined ? {} : { "fiberline.server": server }),
    ...(address === undefined
      ? {}
      : address.family === "unix"
      ? { "network.transport": "unix", "network.peer.address": address.path }
      : { "network.transport": "tcp", "network.peer.address": address.host, "network.peer.port": address.port }),
    ...(core.proxy === undefined ? {} : { "fiberline.proxy.version": core.proxy.version }),
    ...(tls === undefined ? {} : {
      "tls.protocol.version": tls.protocol,
      "tls.cipher": tls.cipher,
      "tls.resumed": tls.resumed,
      ...(tls.alpnProtocol === undefined ? {} : { "tls.next_protocol": tls.alpnProtocol }),
      ...(tls.peerCertificate === undefined ? {} : { "tls.client.subject": tls.peerCertificate.subject })
    })
  }
}

/** `effect` (a connection's whole life, its close included) in the connection's span. */
export const traced = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  core: ConnectionImpl,
  server: { readonly name: string | undefined; readonly span: Tracer.AnySpan | undefined }
): Effect.Effect<A, E, R> =>
  Effect.withSpan(effect, "fiberline.connection", {
    root: true,
    kind: "server",
    links: server.span === undefined ? [] : [{ span: server.span, attributes: {} }],
    attributes: startAttributes(core, server.name)
  })

/** Adds to the current connection span how the connection ended, and what it carried. */
export const annotateEnd = (kind: CloseKind, stats: ConnectionStats): Effect.Effect<void> =>
  Effect.annotateCurrentSpan({
    "fiberline.close.reason": kind.reason,
    "fiberline.bytes.in": stats.bytesIn,
    "fiberline.bytes.out": stats.bytesOut,
    "fiberline.lines.in": stats.linesIn,
    "fiberline.lines.out": stats.linesOut
  })
