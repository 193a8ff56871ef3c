/**
 * An in-memory connection for unit-testing handlers: script the peer's
 * input chunk by chunk (including end of input and a reset), capture what the
 * handler flushes, and observe how the connection was closed. It runs the
 * same connection code as a TCP socket, minus the socket.
 *
 * **Example** (Testing a handler in a few lines)
 *
 * ```ts
 * import { TestConnection } from "fiberline"
 *
 * const { output } = yield* TestConnection.run(echo, ["hel", "lo\r\n", "bye"])
 * assert.strictEqual(output, "hello\r\nbye")
 * ```
 *
 * It is the scripted server of a client under test too: code that talks
 * through a `Connection` (one from `LineClient.connect`, in production) is
 * given {@link make}'s `connection`, and the test plays the server with
 * `awaitOutput` (what the client sent) and `send` (the replies).
 *
 * **Example** (A client against a scripted server)
 *
 * ```ts
 * const server = yield* TestConnection.make()
 * const reply = yield* Effect.forkChild(shout(server.connection, "hello"))
 * yield* server.awaitOutput("hello\n")
 * yield* server.send("HELLO\n")
 * assert.strictEqual(yield* Fiber.join(reply), "HELLO")
 * ```
 *
 * @since 0.1.0
 */
import { Buffer } from "node:buffer"
import { Readable, Writable } from "node:stream"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import { make as makeConnection } from "../internal/io/connection.ts"
import * as Limits from "../internal/io/limits.ts"
import type { Transport } from "../internal/io/transport.ts"
import * as Observers from "../internal/observers.ts"
import { type Connection, type ConnectionOptions, type Handler, runHandler } from "../services/Connection.ts"

/**
 * How the connection released its output: `ended` gracefully (flushed, then
 * end of stream) or `destroyed` (interrupted, the transport failed, or a
 * write timed out).
 *
 * @since 0.1.0
 */
export type CloseKind = "ended" | "destroyed"

/**
 * The peer's side of an in-memory connection: what a client (or, for a
 * client under test, its server) would do and see.
 *
 * @since 0.1.0
 */
export interface TestPeer {
  /** Delivers `data` to the handler as one chunk. */
  readonly send: (data: string | Uint8Array) => Effect.Effect<void>
  /** Ends the handler's input (the peer half-closes); its output stays open. */
  readonly end: Effect.Effect<void>
  /** Resets the connection: the handler's input fails with `ECONNRESET` and its output is closed. */
  readonly reset: Effect.Effect<void>
  /** Everything the handler has flushed so far. */
  readonly output: Effect.Effect<Uint8Array>
  /** {@link output} decoded as UTF-8. */
  readonly outputText: Effect.Effect<string>
  /**
   * Waits until the flushed output contains `text`, then returns all output
   * as text. Once the connection has closed without it, dies with a message
   * showing what was written instead (a test's expectation that can no longer
   * be met).
   */
  readonly awaitOutput: (text: string) => Effect.Effect<string>
  /** Waits until the connection has released its output, and tells how. */
  readonly awaitClose: Effect.Effect<CloseKind>
}

/**
 * An in-memory connection and its peer, built by {@link make}.
 *
 * @since 0.1.0
 */
export interface TestConnection extends TestPeer {
  /** The connection to provide to the handler under test. */
  readonly connection: Connection
}

/** A peer and the endpoint it drives, before any connection is built over it. */
const makePeer = (): { readonly peer: TestPeer; readonly endpoint: Transport } => {
  const received: Array<Buffer> = []
  let closed: CloseKind | undefined
  const { notify, waitFor } = Observers.make()

  // Object mode: each scripted chunk arrives as one chunk, so tests control chunking.
  const input = new Readable({ objectMode: true, read() {} })
  const output = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      received.push(chunk)
      notify()
      callback()
    }
  })
  input.on("error", () => {})
  output.on("error", () => {})
  const settle = (kind: CloseKind) => {
    closed ??= kind
    notify()
  }
  const endpoint: Transport = {
    input,
    output,
    peer: "memory",
    remoteAddress: undefined,
    close: () =>
      Effect.callback<void>((resume) => {
        output.end(() => {
          settle("ended")
          resume(Effect.void)
        })
      }),
    destroy() {
      input.destroy()
      output.destroy()
      settle("destroyed")
    }
  }
  const outputBytes = () => Buffer.concat(received)
  const peer: TestPeer = {
    send: (data) =>
      Effect.sync(() => {
        input.push(typeof data === "string" ? Buffer.from(data) : Buffer.from(data))
      }),
    end: Effect.sync(() => {
      input.push(null)
    }),
    reset: Effect.sync(() => {
      input.destroy(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }))
      output.destroy()
    }),
    output: Effect.sync(outputBytes),
    outputText: Effect.sync(() => outputBytes().toString("utf8")),
    awaitOutput: (text) =>
      Effect.flatMap(
        waitFor((): { readonly all: string; readonly found: boolean } | undefined => {
          const all = outputBytes().toString("utf8")
          if (all.includes(text)) return { all, found: true }
          return closed === undefined ? undefined : { all, found: false }
        }),
        ({ all, found }) =>
          found ? Effect.succeed(all) : Effect.die(
            new Error(
              `awaitOutput: the connection closed (${closed}) and its output never held ${JSON.stringify(text)}; it was ${JSON.stringify(all)}`
            )
          )
      ),
    awaitClose: waitFor(() => closed)
  }
  return { peer, endpoint }
}

/**
 * Builds an in-memory connection in the current scope; closing the scope
 * releases it as a socket would be. Hand `connection` to a handler, or to a
 * client under test (the peer is then its server).
 *
 * @since 0.1.0
 */
export const make = (options?: ConnectionOptions): Effect.Effect<TestConnection, never, Scope.Scope> =>
  Effect.suspend(() => {
    const { peer, endpoint } = makePeer()
    return Effect.map(makeConnection(endpoint, Limits.resolve(options)), (connection) => ({ ...peer, connection }))
  })

/**
 * A handler started by {@link start}, and its peer.
 *
 * @since 0.1.0
 */
export interface Started<E> extends TestPeer {
  /** Waits until the handler has ended and its connection is released; how the handler ended. */
  readonly exit: Effect.Effect<Exit.Exit<void, E>>
}

/**
 * Starts `handler` in a fiber of its own over a new in-memory connection,
 * and returns its peer at once, to drive like a client: send, read the
 * output, end. The connection is released when the handler exits (its
 * last writes are flushed then, and `awaitClose` resolves), as a server
 * would release it; closing the current scope interrupts a handler still
 * running. Several started handlers meet in whatever shared services they
 * use, e.g. two chat clients in one test.
 *
 * **Example** (Two clients of one handler)
 *
 * ```ts
 * const alice = yield* TestConnection.start(chat)
 * const bob = yield* TestConnection.start(chat)
 * yield* alice.send("alice\n")
 * yield* bob.send("bob\n")
 * yield* alice.awaitOutput("*** bob joined")
 * yield* alice.send("hello\n")
 * yield* bob.awaitOutput("alice: hello")
 * yield* alice.end
 * yield* alice.awaitClose
 * ```
 *
 * @since 0.1.0
 */
export const start = <E, R>(
  handler: Handler<E, R>,
  options?: ConnectionOptions
): Effect.Effect<Started<E>, never, Scope.Scope | Exclude<R, Connection | Scope.Scope>> =>
  Effect.gen(function*() {
    const { peer, endpoint } = makePeer()
    const limits = Limits.resolve(options)
    const fiber = yield* Effect.forkScoped(
      Effect.scoped(Effect.flatMap(makeConnection(endpoint, limits), (connection) => runHandler(handler, connection)))
    )
    // `Exclude<Exclude<R, Connection>, Scope>` is this type; TypeScript cannot see it for a generic `R`.
    return { ...peer, exit: Fiber.await(fiber) } as Started<E>
  }) as Effect.Effect<Started<E>, never, Scope.Scope | Exclude<R, Connection | Scope.Scope>>

/**
 * What {@link run} observed.
 *
 * @since 0.1.0
 */
export interface RunResult<E> {
  /** How the handler ended. */
  readonly exit: Exit.Exit<void, E>
  /** Everything the handler wrote, as text. */
  readonly output: string
  /** Everything the handler wrote, as bytes. */
  readonly outputBytes: Uint8Array
  /** How the connection was released. */
  readonly closed: CloseKind
}

/**
 * Options of {@link run}: the connection's limits, and how the scripted
 * input ends (`ending`): `end` (the peer half-closes, the default) or
 * `reset`.
 *
 * @since 0.1.0
 */
export interface RunOptions extends ConnectionOptions {
  readonly ending?: "end" | "reset" | undefined
}

/**
 * Runs `handler` against scripted input: each element of `input` is one
 * chunk; then the input ends (`ending: "end"`, the default) or the peer
 * resets (`ending: "reset"`). Returns once the connection is released.
 *
 * @since 0.1.0
 */
export const run = <E, R>(
  handler: Handler<E, R>,
  input: ReadonlyArray<string | Uint8Array>,
  options?: RunOptions
): Effect.Effect<RunResult<E>, never, Exclude<R, Connection | Scope.Scope>> =>
  Effect.gen(function*() {
    let peer: TestConnection | undefined
    // The scope closes with the handler's own exit, so release sees it.
    const exit = yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
      const test = peer = yield* make(options)
      for (const chunk of input) yield* test.send(chunk)
      yield* options?.ending === "reset" ? test.reset : test.end
      yield* runHandler(handler, test.connection)
    })))
    const test = peer!
    const outputBytes = yield* test.output
    return {
      exit,
      output: Buffer.from(outputBytes).toString("utf8"),
      outputBytes,
      closed: yield* test.awaitClose
    }
    // `Exclude<Exclude<R, Connection>, Scope>` is this type; TypeScript cannot see it for a generic `R`.
  }) as Effect.Effect<RunResult<E>, never, Exclude<R, Connection | Scope.Scope>>
