/**
 * The listening socket of a server: TCP (IPv4 or IPv6) or a Unix domain
 * socket, created with the options every connection needs, bound with a
 * typed failure, and its accept errors reported instead of thrown.
 *
 * **Unix sockets.** A file at the path is probed first: a stale socket
 * left by a killed server is removed; a live one, one the probe cannot tell
 * about (a full queue answers `EAGAIN`), and anything that is not a socket (a
 * symbolic link included), are refused and left alone. The socket is then
 * put in place with its mode (`unixSocket.ts`).
 *
 * @internal
 */
import Cluster from "node:cluster"
import * as Net from "node:net"
import * as Effect from "effect/Effect"
import * as Address from "../../Address.ts"
import type { ServerError } from "../../ServerError.ts"
import { type ListenOptions, listen } from "./listenOptions.ts"
import { clearStaleSocket, place, placeShared } from "./unixSocket.ts"

export { describe, fromOptions, type ListenOptions, type TcpListen, type UnixListen } from "./listenOptions.ts"
export { clearStaleSocket } from "./unixSocket.ts"

/**
 * A server that hands each accepted socket to `onConnection`.
 * `allowHalfOpen`: a reply can follow the client's FIN. `pauseOnConnect`:
 * nothing is read from a socket until its connection starts reading (a
 * queued one stays unread).
 */
export const create = (onConnection: (socket: Net.Socket) => void): Net.Server =>
  Net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, onConnection)

/**
 * Binds `server` and returns the bound address. Errors after that are
 * accept failures (e.g. `EMFILE`): they go to `onAcceptError` and the
 * server keeps serving.
 */
export const bind = (
  server: Net.Server,
  options: ListenOptions,
  onAcceptError: (cause: Error & { readonly code?: string }) => void
): Effect.Effect<Address.Address, ServerError> =>
  Effect.gen(function*() {
    if (options._tag === "tcp") {
      const { backlog, host, ipv6Only, port, reusePort } = options
      yield* listen(server, options, { host, port, backlog, ipv6Only, reusePort }, onAcceptError)
      const bound = server.address() as Net.AddressInfo
      return Address.tcp(bound.address, bound.port, bound.family)!
    }
    if (Cluster.isWorker) {
      // The primary binds the path a worker gives it (node:cluster): without a mode to set, the path itself.
      yield* options.mode === undefined
        ? listen(server, options, { path: options.path, backlog: options.backlog }, onAcceptError)
        : placeShared(server, options, onAcceptError)
    } else {
      yield* clearStaleSocket(options)
      yield* place(server, options, onAcceptError)
    }
    return { family: "unix", path: options.path } as const
  })
