/**
 * The listening socket of a server: created with the options every
 * connection needs, bound with a typed failure, and its accept errors
 * reported instead of thrown.
 *
 * @internal
 */
import * as Net from "node:net"
import * as Effect from "effect/Effect"
import * as Address from "../services/Address.ts"
import { ServerError } from "../services/Errors.ts"

/** Where and how to listen. */
export interface ListenOptions {
  readonly host: string
  readonly port: number
  readonly backlog: number
}

/**
 * A TCP server that hands each accepted socket to `onConnection`.
 * `allowHalfOpen`: a reply can follow the client's FIN. `pauseOnConnect`:
 * nothing is read from a socket until its connection starts reading (a
 * queued one stays unread).
 */
export const create = (onConnection: (socket: Net.Socket) => void): Net.Server =>
  Net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, onConnection)

/**
 * Binds `server`. Errors after that are accept failures (e.g. `EMFILE`):
 * they go to `onAcceptError` and the server keeps serving.
 */
export const bind = (
  server: Net.Server,
  options: ListenOptions,
  onAcceptError: (cause: Error) => void
): Effect.Effect<Net.AddressInfo, ServerError> =>
  Effect.callback<Net.AddressInfo, ServerError>((resume) => {
    const { host, port, backlog } = options
    const address = Address.format(Address.tcp(host, port, Net.isIPv6(host) ? "IPv6" : "IPv4")!)
    const onError = (cause: Error & { readonly code?: string }) =>
      resume(Effect.fail(new ServerError({ address, cause, ...(cause.code === undefined ? {} : { code: cause.code }) })))
    server.once("error", onError)
    server.listen({ host, port, backlog }, () => {
      server.off("error", onError)
      server.on("error", onAcceptError)
      resume(Effect.succeed(server.address() as Net.AddressInfo))
    })
  })
