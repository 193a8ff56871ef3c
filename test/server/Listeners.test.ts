/**
 * Where a server listens, over real sockets: a Unix domain socket (a stale
 * file from a killed server is replaced, a live server's socket or a symbolic
 * link is never taken, the mode is the socket's before it is at its path,
 * even against a process racing to swap it, and its own file goes at
 * shutdown), IPv6 on `::1` and
 * dual-stack `::`; and PROXY protocol v1/v2 headers crafted byte by byte in
 * front of the handler's data — valid ones give the handler the real client,
 * malformed, cut-short, slow or untrusted ones are closed before it runs.
 */
import { Buffer } from "node:buffer"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { echo } from "../../src/handlers/echo/Echo.ts"
import type { Connection } from "../../src/services/Connection.ts"
import * as LineServer from "../../src/services/LineServer.ts"
import { tempDir } from "../fixtures/files.ts"
import { closures, closuresReach, freshRegistry } from "../fixtures/metrics.ts"
import { bytes, concat, inet, v2 } from "../fixtures/proxyHeader.ts"
import { exchange } from "../fixtures/client.ts"
import { captureLogs } from "../fixtures/server.ts"

const within = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.timeout(effect, Duration.seconds(10))

/** The system code of a server that could not listen (`undefined` for any other reason). */
const listenCode = (error: LineServer.ServerError) => (error.reason._tag === "ListenError" ? error.reason.code : undefined)

/** Leaves a stale socket file at `path`, as a server killed with SIGKILL does. */
const killedServerSocket = (path: string) =>
  Effect.gen(function*() {
    const killed = ChildProcess.spawn(process.execPath, [
      "-e",
      "require('net').createServer().listen(process.argv[1], () => console.log('up'))",
      path
    ])
    yield* Effect.addFinalizer(() => Effect.sync(() => killed.kill("SIGKILL")))
    yield* within(Effect.callback<void>((resume) => {
      killed.stdout.once("data", () => resume(Effect.void))
    }))
    yield* within(Effect.callback<void>((resume) => {
      killed.once("exit", () => resume(Effect.void))
      killed.kill("SIGKILL")
    }))
  })

/** Writes who the handler thinks the peer is, then echoes. */
const whoAmI = (conn: Connection) =>
  Effect.andThen(conn.writeLine(`peer ${conn.peer}`), echo)

describe("Unix sockets", () => {
  it.live("serves on a path with the asked file mode, and removes the file at shutdown", () =>
    Effect.gen(function*() {
      const path = Path.join(yield* tempDir("listeners"), "echo.sock")
      const scope = yield* Scope.make()
      const server = yield* LineServer.make({ handler: whoAmI, path, socketMode: 0o600 }).pipe(Scope.provide(scope))
      assert.deepStrictEqual(server.address, { family: "unix", path })
      assert.strictEqual(Fs.statSync(path).mode & 0o777, 0o600)
      const { data } = yield* within(exchange({ path }, ["hello\n"]))
      assert.strictEqual(data, `peer unix:${path}\nhello\n`)
      yield* Scope.close(scope, Exit.void)
      assert.isFalse(Fs.existsSync(path), "the socket file is gone")
    }).pipe(Effect.scoped, Effect.provide(captureLogs().layer)))

  it.live("replaces a stale socket file left by a killed server; never takes a live server's", () =>
    Effect.gen(function*() {
      const path = Path.join(yield* tempDir("listeners"), "stale.sock")
      yield* killedServerSocket(path)
      assert.isTrue(Fs.existsSync(path))
      const server = yield* LineServer.make({ handler: echo, path })
      const { data } = yield* within(exchange({ path }, ["again\n"]))
      assert.strictEqual(data, "again\n")
      const taken = yield* Effect.flip(LineServer.make({ handler: echo, path }))
      assert.strictEqual(listenCode(taken), "EADDRINUSE")
      assert.strictEqual(taken.message, `cannot listen on ${path}: address already in use`)
      // The live server still serves.
      assert.strictEqual((yield* within(exchange({ path }, ["still\n"]))).data, "still\n")
      assert.deepStrictEqual(server.address, { family: "unix", path })
    }).pipe(Effect.scoped, Effect.provide(captureLogs().layer)))

  it.live("never takes the socket of a server whose queue is full (EAGAIN is not a stale socket)", () =>
    Effect.gen(function*() {
      const path = Path.join(yield* tempDir("listeners"), "busy.sock")
      // A live server that accepts nothing: queue of 1, its event loop held for at most 30 s.
      const busy = ChildProcess.spawn(process.execPath, [
        "-e",
        `require("net").createServer().listen({ path: process.argv[1], backlog: 1 }, () => {
          require("fs").writeSync(1, "up\\n")
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30000)
        })`,
        path
      ])
      yield* Effect.addFinalizer(() => Effect.sync(() => busy.kill("SIGKILL")))
      yield* within(Effect.callback<void>((resume) => {
        busy.stdout.once("data", () => resume(Effect.void))
      }))
      // Fill its queue: connections are queued until one is refused with EAGAIN.
      const held: Array<Net.Socket> = []
      yield* Effect.addFinalizer(() => Effect.sync(() => held.forEach((socket) => socket.destroy())))
      let refused: string | undefined
      while (refused === undefined && held.length < 10) {
        refused = yield* within(Effect.callback<string | undefined>((resume) => {
          const socket = Net.connect({ path })
          held.push(socket)
          socket.once("connect", () => resume(Effect.succeed(undefined)))
          socket.once("error", (cause: NodeJS.ErrnoException) => resume(Effect.succeed(cause.code)))
        }))
      }
      assert.strictEqual(refused, "EAGAIN", "the queue is full")
      const before = Fs.lstatSync(path)
      const error = yield* Effect.flip(LineServer.make({ handler: echo, path }))
      assert.strictEqual(listenCode(error), "EAGAIN")
      assert.strictEqual(
        error.message,
        `cannot listen on ${path}: a socket is there and connecting to it failed with EAGAIN, not refused: a server may listen there, so it is left alone`
      )
      assert.strictEqual(Fs.lstatSync(path).ino, before.ino, "its socket file is still there")
    }).pipe(Effect.scoped, Effect.provide(captureLogs().layer)))

  it.live("a path in a directory that does not exist is refused, saying so", () =>
    Effect.gen(function*() {
      const path = Path.join(yield* tempDir("listeners"), "missing", "echo.sock")
      const error = yield* Effect.flip(LineServer.make({ handler: echo, path }))
      assert.strictEqual(listenCode(error), "ENOENT")
      assert.strictEqual(error.message, `cannot listen on ${path}: its directory does not exist`)
    }).pipe(Effect.scoped, Effect.provide(captureLogs().layer)))

  it.live("refuses a symbolic link at the path, even to a stale socket, and follows it nowhere", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("listeners")
      const stale = Path.join(dir, "stale.sock")
      yield* killedServerSocket(stale)
      const path = Path.join(dir, "link.sock")
      Fs.symlinkSync(stale, path)
      const error = yield* Effect.flip(LineServer.make({ handler: echo, path, socketMode: 0o600 }))
      assert.strictEqual(listenCode(error), "EEXIST")
      assert.strictEqual(error.message, `cannot listen on ${path}: the path is a symbolic link, which is never followed`)
      assert.strictEqual(Fs.readlinkSync(path), stale)
      assert.isTrue(Fs.lstatSync(stale).isSocket(), "the link's target is untouched")
      assert.notStrictEqual(Fs.lstatSync(stale).mode & 0o777, 0o600)
    }).pipe(Effect.scoped, Effect.provide(captureLogs().layer)))

  it.live("at shutdown removes its own socket file only: one another server put at the path since stays", () =>
    Effect.gen(function*() {
      const path = Path.join(yield* tempDir("listeners"), "echo.sock")
      const scope = yield* Scope.make()
      yield* LineServer.make({ handler: echo, path }).pipe(Scope.provide(scope))
      // Someone removes the file and another server binds the path.
      Fs.unlinkSync(path)
      const other = Net.createServer((socket) => socket.end("other\n"))
      yield* Effect.addFinalizer(() => Effect.sync(() => other.close()))
      yield* within(Effect.callback<void>((resume) => {
        other.listen(path, () => resume(Effect.void))
      }))
      yield* Scope.close(scope, Exit.void)
      assert.isTrue(Fs.existsSync(path), "the other server's socket file is still there")
      assert.strictEqual((yield* within(exchange({ path }, []))).data, "other\n")
    }).pipe(Effect.scoped, Effect.provide(captureLogs().layer)))

  it.live("a path too long for a socket address is refused, with a mode as without", () =>
    Effect.gen(function*() {
      const path = Path.join(yield* tempDir("listeners"), `${"s".repeat(120)}.sock`)
      for (const socketMode of [undefined, 0o600]) {
        const error = yield* Effect.flip(LineServer.make({ handler: echo, path, socketMode }))
        assert.strictEqual(listenCode(error), "EINVAL")
        assert.isFalse(Fs.existsSync(path))
      }
    }).pipe(Effect.scoped, Effect.provide(captureLogs().layer)))

  it.live("refuses a path that exists and is not a socket, and leaves the file alone", () =>
    Effect.gen(function*() {
      const path = Path.join(yield* tempDir("listeners"), "not-a-socket")
      Fs.writeFileSync(path, "precious")
      const error = yield* Effect.flip(LineServer.make({ handler: echo, path }))
      assert.strictEqual(listenCode(error), "EEXIST")
      assert.strictEqual(Fs.readFileSync(path, "utf8"), "precious")
    }).pipe(Effect.scoped, Effect.provide(captureLogs().layer)))
})

/**
 * What a process that can write the socket's directory does to a server that
 * places its socket there, as fast as it can: a socket that appears at the
 * path is swapped for a symbolic link to `target` (its mode noted first: it
 * must already be the one asked for); a new directory beside it is moved away
 * and replaced by a link to a directory of the swapper's own, where any socket
 * that appears is swapped for a link to `target`, and where every name a
 * socket is bound to (Linux lists them in /proc/net/unix, for everyone) gets
 * a link to `target` in advance. Runs until killed, at most 60 s.
 */
const swapper = `
const fs = require("node:fs"), path = require("node:path")
const [dir, name, target] = process.argv.slice(1)
const final = path.join(dir, name)
const spare = path.join(dir, "spare-link")
const decoy = path.join(dir, "decoy")
fs.mkdirSync(decoy)
const own = new Set([name, "spare-link", "decoy"])
const swap = (file) => {
  try { fs.symlinkSync(target, spare) } catch {}
  try { fs.renameSync(spare, file) } catch {}
}
const until = Date.now() + 60000
fs.writeSync(1, "ready\\n")
while (Date.now() < until) {
  let stat
  try { stat = fs.lstatSync(final) } catch {}
  if (stat !== undefined && stat.isSocket()) {
    swap(final)
    fs.writeSync(1, "socket " + (stat.mode & 0o777).toString(8) + "\\n")
  }
  for (const entry of fs.readdirSync(dir)) {
    if (own.has(entry) || entry.endsWith(".moved")) continue
    const p = path.join(dir, entry)
    try {
      if (fs.lstatSync(p).isDirectory()) {
        fs.renameSync(p, p + ".moved")
        fs.symlinkSync(decoy, p)
      }
    } catch {}
  }
  let bound = ""
  try { bound = fs.readFileSync("/proc/net/unix", "latin1") } catch {}
  for (const line of bound.split("\\n")) {
    const socket = line.split(" ").pop()
    if (socket.startsWith("/")) try { fs.symlinkSync(target, path.join(decoy, path.basename(socket))) } catch {}
  }
  for (const entry of fs.readdirSync(decoy)) {
    const p = path.join(decoy, entry)
    try {
      if (fs.lstatSync(p).isSocket()) swap(p)
    } catch {}
  }
}
`

/**
 * Starts and stops a server with `socketMode: 0o666` on a socket path in a
 * world-writable directory, up to 100 times (at most 20 s) while {@link swapper}
 * runs as `uid` (this process's own when undefined). Returns how often a
 * 0600 file elsewhere changed mode, how often a server started, and the
 * modes the swapper saw the socket at the path with.
 */
const raceSocketMode = (uid: number | undefined) =>
  Effect.gen(function*() {
    const root = yield* tempDir("listeners")
    Fs.chmodSync(root, 0o755)
    const dir = Path.join(root, "shared")
    Fs.mkdirSync(dir, { mode: 0o777 })
    Fs.chmodSync(dir, 0o777)
    const target = Path.join(root, "precious")
    Fs.writeFileSync(target, "precious", { mode: 0o600 })
    const path = Path.join(dir, "echo.sock")
    const child = ChildProcess.spawn(process.execPath, ["-e", swapper, dir, "echo.sock", target], {
      ...(uid === undefined ? {} : { uid, gid: uid }),
      stdio: ["ignore", "pipe", "inherit"]
    })
    yield* Effect.addFinalizer(() => Effect.sync(() => child.kill("SIGKILL")))
    let seen = ""
    child.stdout.setEncoding("latin1")
    yield* within(Effect.callback<void>((resume) => {
      child.stdout.on("data", (chunk: string) => {
        seen += chunk
        if (seen.startsWith("ready\n")) resume(Effect.void)
      })
    }))
    let tries = 0
    let changed = 0
    let started = 0
    const until = Date.now() + 20_000
    while (tries < 100 && Date.now() < until) {
      tries++
      Fs.rmSync(path, { force: true })
      const scope = yield* Scope.make()
      const exit = yield* Effect.exit(
        LineServer.make({ handler: echo, path, socketMode: 0o666 }).pipe(Scope.provide(scope))
      )
      yield* Scope.close(scope, Exit.void)
      if (Exit.isSuccess(exit)) started++
      if ((Fs.statSync(target).mode & 0o777) !== 0o600) {
        changed++
        Fs.chmodSync(target, 0o600)
      }
    }
    // Its last lines are read once it has exited.
    yield* within(Effect.callback<void>((resume) => {
      child.once("close", () => resume(Effect.void))
      child.kill("SIGKILL")
    }))
    const modes = new Set(seen.split("\n").filter((line) => line.startsWith("socket ")).map((line) => line.slice(7)))
    return { tries, changed, started, modes: [...modes] }
  })

/** Races {@link swapper} (as `uid`) and asserts that nothing it did redirected the mode. */
const neverRedirected = (uid: number | undefined) =>
  Effect.gen(function*() {
    const { changed, modes, started, tries } = yield* raceSocketMode(uid)
    assert.deepStrictEqual(
      { changed, otherModes: modes.filter((mode) => mode !== "666") },
      { changed: 0, otherModes: [] },
      `in ${tries} tries: how often the 0600 file became 0666; the modes the socket was seen at its path with`
    )
    assert.isAbove(started, 0, "a server started")
  }).pipe(Effect.scoped, Effect.provide(captureLogs().layer))

describe("Unix socket mode", () => {
  it.live("is the socket's from the start: whoever can write the directory cannot make chmod follow a link", () =>
    neverRedirected(undefined))

  it.live.skipIf(process.getuid?.() !== 0)("the same against a root server, the swapper running as uid 65534", () =>
    neverRedirected(65534))
})

describe("reusePort", () => {
  it.live("lets two servers bind one port (SO_REUSEPORT); without it the second is refused", () =>
    Effect.gen(function*() {
      const first = yield* LineServer.make({ handler: echo, port: 0, reusePort: true })
      const port = LineServer.port(first)
      const second = yield* LineServer.make({ handler: echo, port, reusePort: true })
      assert.strictEqual(LineServer.port(second), port)
      const { data } = yield* within(exchange({ host: "127.0.0.1", port }, ["shared\n"]))
      assert.strictEqual(data, "shared\n")
      const taken = yield* Effect.flip(LineServer.make({ handler: echo, port }))
      assert.strictEqual(listenCode(taken), "EADDRINUSE")
    }).pipe(Effect.scoped, Effect.provide(captureLogs().layer)))
})

describe("IPv6", () => {
  it.live("listens on :: for IPv6 and IPv4 clients; ipv6Only refuses IPv4", () =>
    Effect.gen(function*() {
      const dual = yield* LineServer.make({ handler: whoAmI, host: "::", port: 0 })
      const port = LineServer.port(dual)
      const v6 = yield* within(exchange({ host: "::1", port }, ["six\n"]))
      assert.match(v6.data, /^peer \[::1\]:\d+\nsix\n$/)
      const v4 = yield* within(exchange({ host: "127.0.0.1", port }, ["four\n"]))
      assert.match(v4.data, /^peer \[::ffff:127\.0\.0\.1\]:\d+\nfour\n$/)
      const only = yield* LineServer.make({ handler: echo, host: "::", port: 0, ipv6Only: true })
      const refused = yield* within(exchange({ host: "127.0.0.1", port: LineServer.port(only) }, ["x\n"]))
      assert.strictEqual(refused.error, "ECONNREFUSED")
    }).pipe(Effect.scoped, Effect.provide(captureLogs().layer)))
})

/** A server expecting PROXY headers, with a fresh metric registry; returns how to reach it. */
const proxied = (options: Omit<LineServer.LineServerOptions<never, never>, "handler">) =>
  Effect.map(LineServer.make({ ...options, handler: whoAmI, port: 0 }), (server) => ({ host: "127.0.0.1", port: LineServer.port(server) }))

describe("PROXY protocol", () => {
  it.live("v1: the handler sees the client the header names; data after the header, even in the same packet, is intact", () =>
    Effect.gen(function*() {
      const target = yield* proxied({ proxy: { version: "v1" } })
      const { data } = yield* within(exchange(target, ["PROXY TCP4 203.0.113.7 127.0.0.1 51234 1234\r\nhello\n"]))
      assert.strictEqual(data, "peer 203.0.113.7:51234\nhello\n")
    }).pipe(Effect.scoped, Effect.provide(captureLogs().layer)))

  it.live("v2 split across writes, IPv6 source, then data; LOCAL keeps the socket's own address", () =>
    Effect.gen(function*() {
      const target = yield* proxied({ proxy: { version: "v2" } })
      const header = v2({
        familyTransport: 0x21,
        addresses: concat(bytes("\x20\x01\x0d\xb8" + "\0".repeat(11) + "\x01"), bytes("\0".repeat(15) + "\x01"), [0xc3, 0x50, 0x04, 0xd2])
      })
      const pieces = [header.subarray(0, 5), header.subarray(5, 20), header.subarray(20), Buffer.from("after\n")]
      const { data } = yield* within(exchange(target, pieces, { gapMillis: 20 }))
      assert.strictEqual(data, "peer [2001:db8::1]:50000\nafter\n")
      const local = yield* within(exchange(target, [v2({ versionCommand: 0x20, familyTransport: 0x00 }), "x\n"]))
      assert.match(local.data, /^peer 127\.0\.0\.1:\d+\nx\n$/)
    }).pipe(Effect.scoped, Effect.provide(captureLogs().layer)))

  it.live("malformed, cut short, slow, wrong version or untrusted: closed before the handler runs, counted, logged", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const target = yield* proxied({ proxy: { version: "v1", headerTimeout: "300 millis" } })
      const cases: ReadonlyArray<readonly [string, ReadonlyArray<string | Uint8Array>]> = [
        ["malformed", ["PROXY TCP4 300.1.1.1 127.0.0.1 1 2\r\nhello\n"]],
        ["not a header at all", ["hello\n"]],
        ["cut short", ["PROXY TCP4 10.0.0.1"]],
        ["a v2 header on a v1 listener", [v2({ familyTransport: 0x11, addresses: inet("10.0.0.1", "10.0.0.2", 1, 2) })]]
      ]
      for (const [name, pieces] of cases) {
        const { data } = yield* within(exchange(target, pieces))
        assert.strictEqual(data, "", `${name}: the handler never ran`)
      }
      // Slow: connected, but the header never completes; the timeout closes it.
      const slow = Net.connect(target)
      yield* Effect.addFinalizer(() => Effect.sync(() => slow.destroy()))
      slow.on("error", () => {})
      slow.write("PROXY ")
      yield* within(Effect.callback<void>((resume) => {
        slow.once("close", () => resume(Effect.void))
        slow.resume()
      }))
      const untrustedTarget = yield* proxied({ proxy: { version: "any", trusted: ["192.0.2.1"] } })
      const untrusted = yield* within(exchange(untrustedTarget, ["PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\nhi\n"]))
      assert.strictEqual(untrusted.data, "")
      yield* within(closuresReach("proxy-header", 6))
      assert.strictEqual(yield* closures("proxy-header"), 6)
      const refused = logs.lines.filter((line) => line.message.startsWith("connection refused"))
      assert.isAtLeast(refused.length, 1)
      assert.include(refused[0]?.message, "proxy-header")
    }).pipe(freshRegistry, Effect.scoped, Effect.provide(logs.layer))
  })

  it.live("a trusted proxy is served", () =>
    Effect.gen(function*() {
      const target = yield* proxied({ proxy: { version: "any", trusted: ["127.0.0.1"] } })
      const { data } = yield* within(exchange(target, ["PROXY TCP6 2001:db8::7 ::1 4000 1234\r\nok\n"]))
      assert.strictEqual(data, "peer [2001:db8::7]:4000\nok\n")
    }).pipe(Effect.scoped, Effect.provide(captureLogs().layer)))
})
