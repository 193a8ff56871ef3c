/**
 * End to end, against a server nobody here wrote: the blocking-style Redis
 * client of `examples/redisClient.ts`, over `LineClient` connections, talks
 * to a real `redis-server` started on a free loopback port.
 *
 * It checks that a connect retried with a `Schedule` succeeds once the
 * server is up, PING, SET and GET (a value with CRLF and UTF-8 inside, a
 * missing key), an error reply failing a command, every reply type the
 * decoder knows (nested arrays, nil, integers, error replies inside an
 * array) from `EVAL`, a 1 000-command pipeline answered in order with an
 * error reply among the values, and SUBSCRIBE reading pushes (one of
 * 200 KiB, arriving in many chunks) published from another connection. It
 * prints each check with its evidence and exits 0 if all passed, 1 if any
 * failed or a step timed out, 2 if `redis-server` is missing. The server is
 * stopped by its PID.
 *
 * **Needs** Node 24, the built library (`npm run e2e:redis-client` builds
 * it), and the Debian (or Ubuntu) package `redis-server`.
 */
import { Effect, Schedule } from "effect"
import type * as Scope from "effect/Scope"
import { LineClient } from "fiberline"
import * as Redis from "../examples/redisClient.ts"
import { check, freePort, main, say, start, stop, until } from "./support.ts"

/** Runs one client program in a scope of its own, bounded by 15 s. */
const run = <A, E>(program: Effect.Effect<A, E, Scope.Scope>) =>
  Effect.runPromise(Effect.scoped(program).pipe(Effect.timeout("15 seconds")))

const show = (value: unknown) => JSON.stringify(value)

const scenario = async (redisServer: string) => {
  const port = await freePort()
  const options = { host: "127.0.0.1", port, connectTimeout: "2 seconds" } as const

  // The client starts first and retries until the server listens.
  const attempts = { count: 0 }
  const retried = run(
    Effect.gen(function*() {
      const conn = yield* LineClient.connect(options).pipe(
        Effect.tapError(() => Effect.sync(() => attempts.count++)),
        Effect.retry({
          schedule: Schedule.spaced("50 millis"),
          times: 200,
          while: (error) => error._tag === "ConnectError" && error.reason._tag === "ConnectionRefused"
        })
      )
      return yield* Redis.ping(conn)
    })
  )
  await new Promise((resolve) => setTimeout(resolve, 200))
  const redis = start("redis-server", redisServer, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
  say(`$ ${redis.command}`)
  await until("redis-server ready", () => redis.lines.find((line) => line.includes("Ready to accept connections")))
  const pong = await retried
  check(
    "a connect retried with Schedule.spaced connects once redis-server listens",
    pong === "PONG" && attempts.count > 0,
    `${attempts.count} attempt(s) refused before the server was up; then PING -> ${show(pong)}`
  )

  const basics = await run(Effect.gen(function*() {
    const conn = yield* LineClient.connect(options)
    const value = "line one\r\nline two: ünïcödé ✓"
    const stored = yield* Redis.set(conn, "fiberline:e2e", value)
    const back = yield* Redis.get(conn, "fiberline:e2e")
    const unknown = yield* Effect.flip(Redis.command(conn, "NOSUCHCOMMAND", "x"))
    const missing = yield* Redis.get(conn, "fiberline:missing")
    return { value, stored, back, missing, unknown: unknown.message, peer: conn.peer }
  }))
  check(
    "SET and GET round-trip a value with CRLF and UTF-8 inside; a missing key is nil",
    basics.stored === "OK" && basics.back === basics.value && basics.missing === null,
    `connected to ${basics.peer}; SET -> ${show(basics.stored)}; GET -> ${show(basics.back)}; GET missing -> ${show(basics.missing)}`
  )
  check(
    "an error reply fails the command with ReplyError, and the connection goes on",
    basics.unknown.startsWith("ERR unknown command") && basics.missing === null,
    `NOSUCHCOMMAND -> ReplyError ${show(basics.unknown)}; the GET after it -> ${show(basics.missing)}`
  )

  const shapes = await run(Effect.gen(function*() {
    const conn = yield* LineClient.connect(options)
    const nested = yield* Redis.command(
      conn,
      "EVAL",
      "return {1, {2, {3, 'deep'}}, {}, redis.status_reply('FINE'), redis.error_reply('MY ERR'), -42}",
      "0"
    )
    const nilArray = yield* Redis.command(conn, "BLPOP", "fiberline:empty", "0.01")
    return { nested, nilArray }
  }))
  const [one, inner, empty, fine, error, negative] = shapes.nested as ReadonlyArray<Redis.Reply>
  check(
    "EVAL's reply decodes: integers, nested arrays, an empty array, a status, an error reply inside an array; BLPOP's nil array",
    one === 1 && show(inner) === show([2, [3, "deep"]]) && show(empty) === "[]" && fine === "FINE" &&
      error instanceof Redis.ReplyError && error.message === "MY ERR" && negative === -42 && shapes.nilArray === null,
    `EVAL -> [${show(one)}, ${show(inner)}, ${show(empty)}, ${show(fine)}, ReplyError(${show((error as Redis.ReplyError).message)}), ${
      show(negative)
    }]; BLPOP -> ${show(shapes.nilArray)}`
  )

  const piped = await run(Effect.gen(function*() {
    const conn = yield* LineClient.connect(options)
    yield* Redis.command(conn, "DEL", "fiberline:counter", "fiberline:text")
    yield* Redis.set(conn, "fiberline:text", "not a number")
    const commands = [
      ...Array.from({ length: 998 }, () => ["INCR", "fiberline:counter"]),
      ["INCR", "fiberline:text"],
      ["GET", "fiberline:counter"]
    ]
    return yield* Redis.pipeline(conn, commands)
  }))
  const counts = piped.slice(0, 998)
  const failedIncr = piped[998]
  check(
    "a pipeline of 1 000 commands in one write gets its replies in order, an error reply among them as a value",
    counts.every((reply, i) => reply === i + 1) && failedIncr instanceof Redis.ReplyError && piped[999] === "998",
    `INCR x998 -> 1..${show(counts.at(-1))}; INCR on a string -> ReplyError(${
      show((failedIncr as Redis.ReplyError | undefined)?.message)
    }); GET -> ${show(piped[999])}`
  )

  const pushes = await run(Effect.gen(function*() {
    const subscriber = yield* LineClient.connect(options)
    const publisher = yield* LineClient.connect(options)
    const confirmations = yield* Redis.subscribe(subscriber, "fiberline:news", "fiberline:big")
    const big = "x".repeat(200 * 1024)
    const receivers = [
      yield* Redis.command(publisher, "PUBLISH", "fiberline:news", "hello subscribers"),
      yield* Redis.command(publisher, "PUBLISH", "fiberline:big", big)
    ]
    const first = yield* Redis.nextMessage(subscriber)
    const second = yield* Redis.nextMessage(subscriber)
    return { confirmations, receivers, first, second, bigLength: big.length }
  }))
  check(
    "SUBSCRIBE confirms each channel, then reads pushes published from another connection (one of 200 KiB)",
    show(pushes.confirmations) === show([["subscribe", "fiberline:news", 1], ["subscribe", "fiberline:big", 2]]) &&
      show(pushes.receivers) === "[1,1]" && pushes.first.channel === "fiberline:news" &&
      pushes.first.payload === "hello subscribers" && pushes.second.payload.length === pushes.bigLength,
    `confirmations ${show(pushes.confirmations)}; PUBLISH -> ${show(pushes.receivers)} receiver(s); ` +
      `pushes: ${show(pushes.first)}, {"channel":"${pushes.second.channel}","payload":<${pushes.second.payload.length} bytes>}`
  )

  const code = await stop(redis)
  const refused = await run(Effect.flip(LineClient.connect(options)))
  const reason = refused._tag === "ConnectError" ? refused.reason._tag : "none"
  check(
    "once redis-server stopped, a connect fails with a ConnectError whose reason is ConnectionRefused",
    code === 0 && reason === "ConnectionRefused",
    `redis-server exited ${code} (SIGTERM); connect -> ${refused._tag} (reason ${reason}): ${refused.message}`
  )
}

process.exitCode = await main("e2e/redis-client.ts", { executable: "redis-server", debianPackage: "redis-server" }, scenario)
