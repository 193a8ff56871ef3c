/**
 * The listening socket of a server: TCP (IPv4 or IPv6) or a Unix domain
 * socket, created with the options every connection needs, bound with a
 * typed failure, and its accept errors reported instead of thrown.
 *
 * **Unix sockets.** A socket file left behind by a killed server would make
 * `listen` fail with `EADDRINUSE` forever, so a file at the path is probed
 * first: if nothing accepts on it, it is stale and removed; if a server
 * answers, the path is in use and is never taken over; if it is not a
 * socket, it is left alone. The file mode, when asked for, is set right
 * after binding. Closing the server removes the file.
 *
 * @internal
 */
import Cluster from "node:cluster"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import * as Effect from "effect/Effect"
import * as Address from "../services/Address.ts"
import { ServerError } from "../services/Errors.ts"

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
  /** File mode of the socket (e.g. `0o660`), set after binding. */
  readonly mode: number | undefined
}

/** Where and how to listen. */
export type ListenOptions = TcpListen | UnixListen

/** The address `options` names, as errors and logs print it. */
export const describe = (options: ListenOptions): string =>
  options._tag === "unix"
    ? options.path
    : Address.format({ family: Net.isIPv6(options.host) ? "IPv6" : "IPv4", host: options.host, port: options.port })

/**
 * A server that hands each accepted socket to `onConnection`.
 * `allowHalfOpen`: a reply can follow the client's FIN. `pauseOnConnect`:
 * nothing is read from a socket until its connection starts reading (a
 * queued one stays unread).
 */
export const create = (onConnection: (socket: Net.Socket) => void): Net.Server =>
  Net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, onConnection)

const serverError = (options: ListenOptions, cause: unknown, code?: string): ServerError => {
  const errorCode = code ?? (cause instanceof Error && "code" in cause && typeof cause.code === "string" ? cause.code : undefined)
  return new ServerError({ address: describe(options), cause, ...(errorCode === undefined ? {} : { code: errorCode }) })
}

/** Whether a server accepts connections on the Unix socket at `path`. */
const answers = (path: string): Effect.Effect<boolean> =>
  Effect.callback<boolean>((resume) => {
    const probe = Net.connect({ path })
    const done = (alive: boolean) => {
      probe.destroy()
      resume(Effect.succeed(alive))
    }
    probe.once("connect", () => done(true))
    probe.once("error", () => done(false))
    return Effect.sync(() => probe.destroy())
  })

/**
 * Removes a stale socket file at the path; refuses a live one or a file that
 * is not a socket. With `--workers`, the primary does this once before it
 * forks: a worker would find its siblings' socket answering.
 */
export const clearStaleSocket = (options: UnixListen): Effect.Effect<void, ServerError> =>
  Effect.gen(function*() {
    // libuv reports a missing directory as "permission denied": say what it is.
    const directory = Path.dirname(Path.resolve(options.path))
    if (!Fs.existsSync(directory)) {
      return yield* Effect.fail(serverError(options, new Error(`no such directory: ${directory}`), "ENOENT"))
    }
    const stat = yield* Effect.sync(() => Fs.lstatSync(options.path, { throwIfNoEntry: false }))
    if (stat === undefined) return
    if (!stat.isSocket()) {
      return yield* Effect.fail(serverError(options, new Error("the path exists and is not a socket"), "EEXIST"))
    }
    if (yield* answers(options.path)) {
      return yield* Effect.fail(serverError(options, new Error("a running server listens there"), "EADDRINUSE"))
    }
    yield* Effect.try({
      try: () => Fs.unlinkSync(options.path),
      catch: (cause) => serverError(options, cause)
    })
  })

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
    // A cluster worker listens on its primary's socket, which its siblings may already serve.
    if (options._tag === "unix" && !Cluster.isWorker) yield* clearStaleSocket(options)
    yield* Effect.callback<void, ServerError>((resume) => {
      const onError = (cause: Error) => resume(Effect.fail(serverError(options, cause)))
      server.once("error", onError)
      const listen = options._tag === "unix"
        ? { path: options.path, backlog: options.backlog }
        : {
          host: options.host,
          port: options.port,
          backlog: options.backlog,
          ipv6Only: options.ipv6Only,
          reusePort: options.reusePort
        }
      server.listen(listen, () => {
        server.off("error", onError)
        server.on("error", onAcceptError)
        resume(Effect.void)
      })
    })
    if (options._tag === "unix") {
      if (options.mode !== undefined) {
        const mode = options.mode
        yield* Effect.try({ try: () => Fs.chmodSync(options.path, mode), catch: (cause) => serverError(options, cause) }).pipe(
          // Bound but unusable: do not leave it listening.
          Effect.tapError(() => Effect.sync(() => server.close()))
        )
      }
      return { family: "unix", path: options.path } as const
    }
    const bound = server.address() as Net.AddressInfo
    return Address.tcp(bound.address, bound.port, bound.family)!
  })
