/**
 * A Unix domain socket put at its path safely: a stale socket left by a
 * killed server is cleared ({@link clearStaleSocket}); the socket is bound
 * where nobody else can reach it, given its mode there, and only then linked
 * to its path, by a single server ({@link place}) or by the workers of one
 * `node:cluster` primary ({@link placeShared}); closing a single server
 * removes the file if it is still that socket.
 *
 * @internal
 */
import { Buffer } from "node:buffer"
import { randomUUID } from "node:crypto"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { ServerError } from "../../ServerError.ts"
import { listen, serverError, type UnixListen } from "./listenOptions.ts"

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
export const place = (
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
 * {@link place} for a worker of `node:cluster`, whose primary binds the path
 * the worker gives it and shares the socket with every worker that gives the
 * same one. Each worker of one primary gives the same name in one directory
 * beside the path, `.<name>.fiberline-<primary's pid>`, made by the first and
 * checked by each (this user's, nobody else may enter it); through its own
 * descriptor of that directory, it sets the socket's mode there and links it
 * to the path, where a sibling may already have linked the same socket. So
 * the socket is never at the path with another mode. A stale socket at the
 * path (a previous run's) is cleared as a single server clears it.
 *
 * **Gotchas**
 *
 * The socket stays linked at the path when a worker stops (its siblings
 * serve on), and after the primary exits, as a stale socket the next start
 * clears; the directory beside it stays too, empty.
 */
export const placeShared = (
  server: Net.Server,
  options: UnixListen,
  onAcceptError: (cause: Error & { readonly code?: string }) => void
): Effect.Effect<void, ServerError> =>
  Effect.gen(function*() {
    const room = Path.join(Path.dirname(options.path), `.${Path.basename(options.path)}.fiberline-${process.ppid}`)
    const socket = Path.join(room, "socket")
    if (Buffer.byteLength(socket) >= socketPathBytes) {
      const reason = `a Unix socket path has at most ${socketPathBytes - 1} bytes, and with workers the socket is bound at ${socket} first`
      return yield* Effect.fail(serverError(options, new Error(reason), "EINVAL"))
    }
    const opened = yield* Effect.try({ try: () => sharedRoom(room), catch: (cause) => serverError(options, cause) })
    yield* Effect.ensuring(
      Effect.gen(function*() {
        yield* listen(server, options, { path: socket, backlog: options.backlog }, onAcceptError)
        // Through this worker's own descriptor of the directory: a directory swapped in since is not followed.
        const mine = Fs.existsSync(`/proc/self/fd/${opened}`) ? `/proc/self/fd/${opened}/socket` : socket
        const link = () => Effect.try({ try: () => linkShared(mine, options.path), catch: (cause) => serverError(options, cause) })
        yield* Effect.try({ try: () => Fs.chmodSync(mine, options.mode!), catch: (cause) => serverError(options, cause) })
        if (yield* link()) return
        // A previous run's socket is there, or a sibling is replacing one: clear it if stale, then link again.
        const cleared = yield* Effect.exit(clearStaleSocket(options))
        if (yield* link()) return
        if (Exit.isFailure(cleared)) return yield* Effect.failCause(cleared.cause)
        const reason = "something was put at the path while the socket was being bound"
        return yield* Effect.fail(serverError(options, new Error(reason), "EADDRINUSE"))
      }).pipe(Effect.tapError(() => Effect.sync(() => server.close()))),
      Effect.sync(() => Fs.closeSync(opened))
    )
  })

/**
 * The workers' shared directory at `room`, made if it is not there, opened
 * without following a link; fails unless it is this user's and closed to
 * everyone else. Gives the open descriptor.
 */
const sharedRoom = (room: string): number => {
  try {
    Fs.mkdirSync(room, { mode: 0o700 })
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== "EEXIST") throw cause
  }
  const opened = Fs.openSync(room, Fs.constants.O_RDONLY | Fs.constants.O_DIRECTORY | Fs.constants.O_NOFOLLOW)
  const stat = Fs.fstatSync(opened)
  if (stat.uid !== process.geteuid?.() || (stat.mode & 0o077) !== 0) {
    Fs.closeSync(opened)
    throw new Error(`${room} is not a directory of this user that only it may enter`)
  }
  return opened
}

/**
 * Links the socket at `socket` to `path`; `true` if the path now holds it
 * (linked here, or by a sibling before), `false` if something else is there.
 */
const linkShared = (socket: string, path: string): boolean => {
  try {
    Fs.linkSync(socket, path)
    return true
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== "EEXIST") throw cause
    const there = Fs.lstatSync(path, { throwIfNoEntry: false })
    const ours = Fs.statSync(socket)
    return there !== undefined && there.isSocket() && there.ino === ours.ino && there.dev === ours.dev
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
