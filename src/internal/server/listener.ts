/**
 * The listening socket of a server: TCP (IPv4 or IPv6) or a Unix domain
 * socket, created with the options every connection needs, bound with a
 * typed failure, and its accept errors reported instead of thrown.
 *
 * **Unix sockets.** A file at the path is probed first
 * ({@link clearStaleSocket}): a stale socket left by a killed server is
 * removed; a live one, one the probe cannot tell about (a full queue
 * answers `EAGAIN`), and anything that is not a socket (a symbolic link
 * included), are refused and left alone. The socket is then put in place
 * with its mode ({@link place}); closing the server removes the file if it
 * is still that socket. (Past 300 lines: placing a Unix socket safely is
 * most of it, and reads best in one place.)
 *
 * @internal
 */
import { Buffer } from "node:buffer"
import Cluster from "node:cluster"
import { randomUUID } from "node:crypto"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
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
  return new ServerError({
    address: describe(options),
    reason: new ListenError({ cause, ...(errorCode === undefined ? {} : { code: errorCode }) })
  })
}

/** Connects to the Unix socket at `path`: `undefined` when a server accepted, else the error's code. */
const probe = (path: string): Effect.Effect<string | undefined> =>
  Effect.callback<string | undefined>((resume) => {
    const socket = Net.connect({ path })
    const done = (code: string | undefined) => {
      socket.destroy()
      resume(Effect.succeed(code))
    }
    socket.once("connect", () => done(undefined))
    socket.once("error", (cause: NodeJS.ErrnoException) => done(cause.code ?? cause.message))
    return Effect.sync(() => socket.destroy())
  })

/**
 * Removes a stale socket file at the path; refuses a live one, one it cannot
 * tell about, or anything that is not a socket. With `--workers`, the
 * primary does this once before it forks: a worker would find its siblings'
 * socket answering.
 *
 * **Gotchas.** The probe and the removal go by the path (Node has no
 * `unlinkat`): whoever can rename entries in its directory meanwhile can put
 * something else there to be removed, which they could remove themselves;
 * a path through directories that others can write is theirs to redirect.
 */
export const clearStaleSocket = (options: UnixListen): Effect.Effect<void, ServerError> =>
  Effect.gen(function*() {
    const refuse = (code: string, reason: string) => Effect.fail(serverError(options, new Error(reason), code))
    // libuv reports a missing directory as "permission denied": say what it is.
    const directory = Path.dirname(Path.resolve(options.path))
    if (!Fs.existsSync(directory)) return yield* refuse("ENOENT", `no such directory: ${directory}`)
    const stat = yield* Effect.sync(() => Fs.lstatSync(options.path, { throwIfNoEntry: false }))
    if (stat === undefined) return
    if (stat.isSymbolicLink()) return yield* refuse("EEXIST", "the path is a symbolic link, which is never followed")
    if (!stat.isSocket()) return yield* refuse("EEXIST", "the path exists and is not a socket")
    const code = yield* probe(options.path)
    if (code === undefined) return yield* refuse("EADDRINUSE", "a running server listens there")
    // Removed meanwhile: nothing left to clear.
    if (code === "ENOENT") return
    // Only a refused connection means that nobody listens.
    if (code !== "ECONNREFUSED") {
      return yield* refuse(code, `a socket is there and connecting to it failed with ${code}, not refused: a server may listen there, so it is left alone`)
    }
    yield* Effect.try({
      try: () => Fs.unlinkSync(options.path),
      catch: (cause) => serverError(options, cause)
    })
  })

/** Listens on `where`; later errors are accept failures and go to `onAcceptError`. */
const listen = (
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

/** The size of a Unix socket address's path (`sun_path`), its closing NUL included. */
const socketPathBytes = process.platform === "linux" ? 108 : 104

/**
 * A new directory beside `path` that only this user can enter, and a name in
 * it to bind. On Linux the name goes through the directory's descriptor
 * (`/proc/self/fd/N/…`), so renaming the directory away and putting a link
 * in its place changes nothing for the steps that follow; elsewhere it is the
 * directory's path. The name is random: libuv removes it once more when the
 * server closes, long after the directory is gone, and no file anywhere has
 * that name.
 */
const privateDirectory = (path: string): { readonly socket: string; readonly release: () => void } => {
  const directory = Fs.mkdtempSync(Path.join(Path.dirname(path), `.${Path.basename(path)}.`))
  // By its path and never recursively: whatever was swapped in meanwhile is not walked; an
  // error means that it is no longer our empty directory, which then stays.
  const remove = () => {
    try {
      Fs.rmdirSync(directory)
    } catch {
      // left as it is
    }
  }
  // Moved away, or replaced by a link or by a directory someone else can write into.
  const replaced = new Error(`${directory} was replaced before the socket could be bound in it`)
  let opened: number
  try {
    opened = Fs.openSync(directory, Fs.constants.O_RDONLY | Fs.constants.O_DIRECTORY | Fs.constants.O_NOFOLLOW)
  } catch {
    remove()
    throw replaced
  }
  const stat = Fs.fstatSync(opened)
  if (stat.uid !== process.geteuid?.() || (stat.mode & 0o077) !== 0) {
    Fs.closeSync(opened)
    remove()
    throw replaced
  }
  const base = Fs.existsSync(`/proc/self/fd/${opened}`) ? `/proc/self/fd/${opened}` : directory
  return {
    socket: Path.join(base, randomUUID()),
    release: () => {
      Fs.closeSync(opened)
      remove()
    }
  }
}

/**
 * Binds `server` to the Unix socket `options.path` without the socket ever
 * being at that path with another mode than `options.mode`:
 *
 * 1. bind in a fresh private directory beside the path (same file system),
 * 2. `chmod` it there, where nobody else can put a link in its place,
 * 3. hard-link it to the path: `link(2)` never replaces what is there, a
 *    symbolic link planted meanwhile included (the server then refuses),
 * 4. remove the private name and directory.
 *
 * Closing the server removes the file at the path only if it is still this
 * socket (same inode), not one another server put there since.
 *
 * Not a restrictive `umask` around `bind`: the mask is the whole process's,
 * so files that other threads (libuv's pool, worker threads) create meanwhile
 * would get it too, and a worker thread may not set it at all. Node has no
 * `fchmod` for a listening socket, and Linux applies none to its file.
 */
const place = (
  server: Net.Server,
  options: UnixListen,
  onAcceptError: (cause: Error & { readonly code?: string }) => void
): Effect.Effect<void, ServerError> =>
  Effect.gen(function*() {
    const path = options.path
    // Bound elsewhere, a path too long for a socket address would link fine and take no connection.
    if (Buffer.byteLength(path) >= socketPathBytes) {
      return yield* Effect.fail(serverError(options, new Error(`a Unix socket path has at most ${socketPathBytes - 1} bytes`), "EINVAL"))
    }
    const room = yield* Effect.try({ try: () => privateDirectory(path), catch: (cause) => serverError(options, cause) })
    yield* listen(server, options, { path: room.socket, backlog: options.backlog }, onAcceptError).pipe(
      Effect.tapError(() => Effect.sync(room.release))
    )
    yield* Effect.try({
      try: () => settle(server, options, room),
      catch: (cause) =>
        (cause as NodeJS.ErrnoException).code === "EEXIST"
          ? serverError(options, new Error("something was put at the path while the socket was being bound"), "EADDRINUSE")
          : serverError(options, cause)
    }).pipe(
      // Bound but not in place: do not leave it listening.
      Effect.tapError(() => Effect.sync(() => server.close()))
    )
  })

/** Gives the socket bound in `room` its mode and links it to its path; its private name and directory go either way. */
const settle = (server: Net.Server, options: UnixListen, room: ReturnType<typeof privateDirectory>) => {
  try {
    if (options.mode !== undefined) Fs.chmodSync(room.socket, options.mode)
    const placed = Fs.lstatSync(room.socket)
    Fs.linkSync(room.socket, options.path)
    removeOnClose(server, options.path, placed)
  } finally {
    Fs.rmSync(room.socket, { force: true })
    room.release()
  }
}

/**
 * Removes the socket file at `path` when `server.close()` is called, as libuv
 * removes the file it bound, unless the file there is no longer `placed`.
 * Node emits no event for `close()` itself ('close' waits for every
 * connection to end), so the call is wrapped.
 */
const removeOnClose = (server: Net.Server, path: string, placed: Fs.Stats) => {
  const close = server.close.bind(server)
  let removed = false
  server.close = (callback?: (error?: Error) => void) => {
    close(callback)
    if (removed) return server
    removed = true
    try {
      const stat = Fs.lstatSync(path, { throwIfNoEntry: false })
      if (stat?.isSocket() && stat.ino === placed.ino && stat.dev === placed.dev) Fs.unlinkSync(path)
    } catch {
      // Gone or changed meanwhile: not ours to remove.
    }
    return server
  }
}

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
      // A worker listens on its primary's socket, which its siblings may
      // already serve: the primary binds the path for it (node:cluster), so
      // the mode can only be set afterwards, by the path, with the window
      // that `place` closes (the primary would have to place the socket).
      yield* listen(server, options, { path: options.path, backlog: options.backlog }, onAcceptError)
      const mode = options.mode
      if (mode !== undefined) {
        yield* Effect.try({ try: () => Fs.chmodSync(options.path, mode), catch: (cause) => serverError(options, cause) }).pipe(
          Effect.tapError(() => Effect.sync(() => server.close()))
        )
      }
    } else {
      yield* clearStaleSocket(options)
      yield* place(server, options, onAcceptError)
    }
    return { family: "unix", path: options.path } as const
  })
