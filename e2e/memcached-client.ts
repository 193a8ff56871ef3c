/**
 * End to end, against a server nobody here wrote: the memcached text-protocol
 * client of `examples/memcachedClient.ts`, over `LineClient` connections,
 * talks to a real `memcached` started on a free loopback port and on a Unix
 * socket.
 *
 * It checks `set` and `get` of a value holding CRLF and every byte value
 * (read with `readExactly`), a multi-get that skips a missing key, `delete`
 * of a present and of a missing key, a value over the server's item limit
 * refused with `SERVER_ERROR` while the connection goes on, a connection
 * provided to a program by `LineClient.layer`, and the same client over
 * memcached's Unix socket. It prints each check with its evidence and exits
 * 0 if all passed, 1 if any failed or a step timed out, 2 if `memcached` is
 * missing. Each server is stopped by its PID; the socket's directory is
 * removed.
 *
 * **Needs** Node 24, the built library (`npm run e2e:memcached-client`
 * builds it), and the Debian (or Ubuntu) package `memcached`.
 */
import { Buffer } from "node:buffer"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Context, Effect } from "effect"
import type * as Scope from "effect/Scope"
import { type Connection, LineClient } from "fiberline"
import * as Memcached from "../examples/memcachedClient.ts"
import { check, freePort, listensOn, main, say, start, stop, until } from "./support.ts"

/** Runs one client program, bounded by 15 s. */
const run = <A, E>(program: Effect.Effect<A, E, Scope.Scope>) =>
  Effect.runPromise(Effect.scoped(program).pipe(Effect.timeout("15 seconds")))

/** The connection the app's services use, provided by a layer. */
class Cache extends Context.Service<Cache, Connection.Connection>()("e2e/Cache") {}

const scenario = async (memcached: string) => {
  const port = await freePort()
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "fiberline-e2e-memcached-"))
  const socketPath = Path.join(dir, "memcached.sock")
  // memcached refuses to run as root unless told whom to run as: ourselves.
  const user = ["-u", Os.userInfo().username]
  try {
    const tcp = start("memcached", memcached, [...user, "-l", "127.0.0.1", "-p", String(port), "-U", "0", "-I", "1m"])
    const unix = start("memcached (unix)", memcached, [...user, "-s", socketPath, "-a", "0600"])
    for (const child of [tcp, unix]) say(`$ ${child.command}`)
    await until("memcached listening", () => (listensOn(port) && Fs.existsSync(socketPath) ? true : undefined))
    const options = { host: "127.0.0.1", port, lineEnding: "\r\n", connectTimeout: "2 seconds" } as const

    const binary = Buffer.concat([Buffer.from("line one\r\nline two\r\n"), Buffer.from(Array.from({ length: 256 }, (_, i) => i))])
    const basics = await run(Effect.gen(function*() {
      const conn = yield* LineClient.connect(options)
      yield* Memcached.set(conn, "fiberline:binary", binary)
      yield* Memcached.set(conn, "fiberline:text", "hello memcached")
      const one = yield* Memcached.get(conn, "fiberline:binary")
      const many = yield* Memcached.get(conn, "fiberline:text", "fiberline:missing", "fiberline:binary")
      return { one, many, peer: conn.peer }
    }))
    check(
      "set and get round-trip a value holding CRLF and all 256 byte values (read with readExactly)",
      basics.one.get("fiberline:binary")?.equals(binary) === true,
      `connected to ${basics.peer}; set ${binary.length} bytes; get -> ${basics.one.get("fiberline:binary")?.length} bytes, equal`
    )
    check(
      "a multi-get returns the stored keys and skips a missing one",
      [...basics.many.keys()].join(",") === "fiberline:text,fiberline:binary" &&
        basics.many.get("fiberline:text")?.toString() === "hello memcached",
      `get fiberline:text fiberline:missing fiberline:binary -> keys ${[...basics.many.keys()].join(", ")}`
    )

    const deletes = await run(Effect.gen(function*() {
      const conn = yield* LineClient.connect(options)
      const present = yield* Memcached.remove(conn, "fiberline:text")
      const again = yield* Memcached.remove(conn, "fiberline:text")
      const after = yield* Memcached.get(conn, "fiberline:text")
      return { present, again, after: after.size }
    }))
    check(
      "delete says DELETED for a stored key and NOT_FOUND after; get finds nothing",
      deletes.present && !deletes.again && deletes.after === 0,
      `delete -> ${deletes.present}, delete again -> ${deletes.again}, get -> ${deletes.after} value(s)`
    )

    const tooBig = await run(Effect.gen(function*() {
      const conn = yield* LineClient.connect(options)
      const refused = yield* Effect.flip(Memcached.set(conn, "fiberline:big", Buffer.alloc(2 * 1024 * 1024, 0x61)))
      const still = yield* Memcached.get(conn, "fiberline:binary")
      return { refused, still: still.get("fiberline:binary")?.length }
    }))
    check(
      "a value over memcached's 1 MiB item limit is refused with SERVER_ERROR, and the connection goes on",
      tooBig.refused._tag === "MemcachedError" && tooBig.refused.message.includes("SERVER_ERROR") && tooBig.still === binary.length,
      `set 2 MiB -> ${tooBig.refused._tag}: ${tooBig.refused.message}; get after it -> ${tooBig.still} bytes`
    )

    const layered = await run(
      Effect.gen(function*() {
        const cache = yield* Cache
        yield* Memcached.set(cache, "fiberline:layer", "from a layer")
        return (yield* Memcached.get(cache, "fiberline:layer")).get("fiberline:layer")?.toString()
      }).pipe(Effect.provide(LineClient.layer(Cache, options)))
    )
    check(
      "LineClient.layer provides one connection to a program as a service of its own",
      layered === "from a layer",
      `yield* Cache; set then get fiberline:layer -> ${JSON.stringify(layered)}`
    )

    const overUnix = await run(Effect.gen(function*() {
      const conn = yield* LineClient.connect({ path: socketPath, lineEnding: "\r\n" })
      yield* Memcached.set(conn, "fiberline:unix", "over a Unix socket")
      return { value: (yield* Memcached.get(conn, "fiberline:unix")).get("fiberline:unix")?.toString(), peer: conn.peer }
    }))
    check(
      "the same client over memcached's Unix socket",
      overUnix.value === "over a Unix socket" && overUnix.peer === socketPath,
      `connected to ${overUnix.peer}; set then get -> ${JSON.stringify(overUnix.value)}`
    )

    const codes = [await stop(tcp), await stop(unix)]
    check("both memcached processes stop on SIGTERM", codes.every((code) => code === 0), `exit codes ${codes.join(", ")}`)
  } finally {
    Fs.rmSync(dir, { recursive: true, force: true })
  }
}

process.exitCode = await main("e2e/memcached-client.ts", { executable: "memcached", debianPackage: "memcached" }, scenario)
