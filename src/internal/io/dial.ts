/**
 * Opening a client's socket: TCP to a host and port, or a Unix socket at a
 * path, half-open allowed and Nagle off, as a server's accepted sockets
 * are; and what a failed connect means, as a `ConnectError` reason.
 *
 * @internal
 */
import * as Net from "node:net"
import * as Effect from "effect/Effect"
import { constVoid } from "effect/Function"
import {
  ConnectFailed,
  type ConnectErrorReason,
  ConnectionRefused,
  HostNotFound
} from "../../ConnectError.ts"

/** Where a client connects. */
export type Target =
  | { readonly host: string; readonly port: number }
  | { readonly path: string }

/** `target` printed as fiberline prints addresses: `host:port`, `[v6]:port`, or the path. */
export const address = (target: Target): string =>
  "path" in target ? target.path : Net.isIPv6(target.host) ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`

/**
 * Starts connecting to `target`. Replies may follow the peer's FIN
 * (`allowHalfOpen`); output is batched by the connection, so Nagle's delay
 * would only add latency. A late error never goes uncaught.
 */
export const open = (target: Target): Net.Socket => {
  const socket = Net.connect({ ...target, allowHalfOpen: true, noDelay: true })
  socket.on("error", constVoid)
  return socket
}

/** The system code of a connect error (Node sets one on the `AggregateError` of several addresses tried). */
const codeOf = (error: unknown): string | undefined => {
  if (!(error instanceof Error)) return undefined
  if ("code" in error && typeof error.code === "string") return error.code
  return error instanceof AggregateError ? codeOf(error.errors[0]) : undefined
}

/** What a failed connect's error means. */
export const reasonOf = (error: unknown, target: Target): ConnectErrorReason => {
  const code = codeOf(error)
  if (code === "ECONNREFUSED") return new ConnectionRefused()
  if ((code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EAI_NONAME") && "host" in target) {
    return new HostNotFound({ host: target.host, code })
  }
  return new ConnectFailed({ cause: error, ...(code === undefined ? {} : { code }) })
}

/** Completes once `socket` (from {@link open}) is connected, or fails with why not. */
export const connected = (socket: Net.Socket, target: Target): Effect.Effect<void, ConnectErrorReason> =>
  Effect.callback<void, ConnectErrorReason>((resume) => {
    const onConnect = () => {
      socket.off("error", onError)
      resume(Effect.void)
    }
    const onError = (error: Error) => {
      socket.off("connect", onConnect)
      resume(Effect.fail(reasonOf(error, target)))
    }
    socket.once("connect", onConnect)
    socket.once("error", onError)
    return Effect.sync(() => {
      socket.off("connect", onConnect)
      socket.off("error", onError)
    })
  })
