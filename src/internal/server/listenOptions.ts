/**
 * Where a server listens, as the listener takes it from the decoded options
 * (TCP host and port, or a Unix socket path and mode), how errors name it,
 * and the one `listen` call every kind goes through, with its typed failure.
 *
 * @internal
 */
import * as Net from "node:net"
import * as Effect from "effect/Effect"
import * as Address from "../../Address.ts"
import { ListenError, ServerError } from "../../ServerError.ts"
import type { ServerOptions } from "../../ServerOptions.ts"

/** Where and how to listen on TCP. */
export interface TcpListen {
  readonly _tag: "tcp"
  readonly host: string
  readonly port: number
  readonly backlog: number
  /** With `::`, accept IPv6 only (no IPv4-mapped connections). */
  readonly ipv6Only: boolean
  /** Let several processes bind the same port (Linux `SO_REUSEPORT`); the kernel spreads connections. */
  readonly reusePort: boolean
}

/** Where and how to listen on a Unix domain socket. */
export interface UnixListen {
  readonly _tag: "unix"
  readonly path: string
  readonly backlog: number
  /** File mode of the socket (e.g. `0o660`), set before the socket is at its path. */
  readonly mode: number | undefined
}

/** Where and how to listen. */
export type ListenOptions = TcpListen | UnixListen

/**
 * Where a server's decoded options say to listen: a Unix socket path, or
 * TCP host and port (the schema checked that they exclude each other).
 */
export const fromOptions = (
  options: typeof ServerOptions.Type,
  defaults: { readonly host: string; readonly port: number; readonly backlog: number }
): ListenOptions => {
  const backlog = options.backlog ?? defaults.backlog
  if (options.path !== undefined) return { _tag: "unix", path: options.path, backlog, mode: options.socketMode }
  return {
    _tag: "tcp",
    host: options.host ?? defaults.host,
    port: options.port ?? defaults.port,
    backlog,
    ipv6Only: options.ipv6Only ?? false,
    reusePort: options.reusePort ?? false
  }
}

/** The address `options` names, as errors and logs print it. */
export const describe = (options: ListenOptions): string =>
  options._tag === "unix"
    ? options.path
    : Address.format({ family: Net.isIPv6(options.host) ? "IPv6" : "IPv4", host: options.host, port: options.port })

/** The failure of listening at `options`, with the system's error code when there is one. */
export const serverError = (options: ListenOptions, cause: unknown, code?: string): ServerError => {
  const errorCode = code ?? (cause instanceof Error && "code" in cause && typeof cause.code === "string" ? cause.code : undefined)
  return new ServerError({
    address: describe(options),
    reason: new ListenError({ cause, ...(errorCode === undefined ? {} : { code: errorCode }) })
  })
}

/** Listens on `where`; later errors are accept failures and go to `onAcceptError`. */
export const listen = (
  server: Net.Server,
  options: ListenOptions,
  where: Net.ListenOptions,
  onAcceptError: (cause: Error & { readonly code?: string }) => void
): Effect.Effect<void, ServerError> =>
  Effect.callback<void, ServerError>((resume) => {
    const onError = (cause: Error) => resume(Effect.fail(serverError(options, cause)))
    server.once("error", onError)
    server.listen(where, () => {
      server.off("error", onError)
      server.on("error", onAcceptError)
      resume(Effect.void)
    })
  })
