/**
 * Builds `Connection`s: the Effect API over a `Driver`, and the scoped
 * acquisition that releases the transport when the handler's scope closes.
 *
 * @internal
 */
import type { Buffer } from "node:buffer"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import * as Utils from "effect/Utils"
import type { Connection, ConnectionOptions } from "../services/Connection.ts"
import {
  EmbeddedLineBreak,
  EndOfInput,
  LineTooLong,
  type LineWaitError,
  type ReadExactlyError,
  type ReadLineError,
  UnexpectedEndOfInput,
  type WriteError,
  type WriteLineError
} from "../services/Errors.ts"
import { Driver, type Limits, type Resume } from "./driver.ts"
import type { Endpoint } from "./endpoint.ts"
import { contentLength, NeedMore, TooLong } from "./lineBuffer.ts"
import { duration, positiveInteger } from "./options.ts"
import { startTls } from "./startTls.ts"
import type { ServerTls } from "./tlsEngine.ts"

/** Default limits; documented on `Connection.defaults`. */
export const defaults = {
  maxLineLength: 64 * 1024,
  writeTimeout: Duration.seconds(30),
  writeHighWaterMark: 64 * 1024,
  lingerTimeout: Duration.seconds(2),
  lineEnding: "\n"
} as const

/**
 * Validates options and fills in {@link defaults}. An invalid value is a
 * programming error: it throws a `RangeError`.
 */
export const resolveLimits = (options: ConnectionOptions = {}): Limits => ({
  maxLineLength: positiveInteger("maxLineLength", options.maxLineLength ?? defaults.maxLineLength),
  idleTimeout: options.idleTimeout === undefined ? undefined : duration("idleTimeout", options.idleTimeout, false),
  lineTimeout: options.lineTimeout === undefined ? undefined : duration("lineTimeout", options.lineTimeout, false),
  writeTimeout: duration("writeTimeout", options.writeTimeout ?? defaults.writeTimeout, false),
  writeHighWaterMark: positiveInteger(
    "writeHighWaterMark",
    options.writeHighWaterMark ?? defaults.writeHighWaterMark
  ),
  lingerTimeout: duration("lingerTimeout", options.lingerTimeout ?? defaults.lingerTimeout, true),
  lineEnding: lineEnding(options.lineEnding ?? defaults.lineEnding)
})

const lineEnding = (value: string): "\n" | "\r\n" => {
  if (value !== "\n" && value !== "\r\n") throw new RangeError(`lineEnding must be "\\n" or "\\r\\n", got ${JSON.stringify(value)}`)
  return value
}

const LF = 10
const CR = 13

const LINE_BREAK = /[\r\n]/

/** Index of the first `\n` or `\r` in a line to write, or -1. */
const lineBreakIndex = (line: string | Uint8Array): number => {
  if (typeof line === "string") return line.search(LINE_BREAK)
  const lf = line.indexOf(LF)
  const cr = line.indexOf(CR)
  return lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr)
}

let nextId = 0

/** A read step found no complete frame: pull more input, or wait. */
const NEED = Symbol("fiberline/NeedInput")

/**
 * One attempt to take a frame: the value, {@link NEED}, or an Effect that
 * fails (end of input, an over-long line…). Steps are plain functions of the
 * connection, shared by all connections.
 */
type Step<A, E> = (conn: ConnectionImpl) => A | typeof NEED | Effect.Effect<never, E>

/**
 * The iterator of an effect yielded with `yield*` whose value is already
 * known: its first `next` says done, with the value.
 *
 * One instance serves every connection: `yield*` asks for the iterator and
 * calls `next` at once, synchronously, so nothing can run in between, and
 * the result is read right away. That saves two allocations per line.
 */
const done = {
  result: { done: true, value: undefined as unknown } as IteratorReturnResult<unknown>,
  next(): IteratorReturnResult<unknown> {
    return this.result
  }
}

/**
 * The iterator of a fast-path effect: when the outcome is a value, `yield*`
 * completes right there, without suspending the generator or allocating an
 * `Exit`; a failure or a wait is handed to `Effect.gen` as an effect.
 */
const iterate = <A, E>(outcome: A | Effect.Effect<A, E>): Iterator<Effect.Effect<A, E>, A> => {
  if (!isValue(outcome)) return new Utils.SingleShotGen(outcome as Effect.Effect<A, E>)
  // Now and then through the run loop, with a yield: a handler working
  // through much buffered input still lets other fibers run and sees
  // interruption, as Effect's own operation budget would have it.
  if (++fastInARow >= fastBudget) {
    fastInARow = 0
    return new Utils.SingleShotGen(Effect.andThen(Effect.yieldNow, Effect.succeed(outcome as A)))
  }
  done.result.value = outcome
  return done as unknown as Iterator<never, A>
}

/** Fast completions in a row before one goes through the run loop and yields. */
const fastBudget = 1024
let fastInARow = 0

/**
 * Whether an outcome is a value rather than an effect. The values of this
 * module are text, bytes or nothing, so this is cheaper than
 * `Effect.isEffect`, whose property lookup on a `Buffer` walks its
 * prototype chain on every line.
 */
const isValue = (outcome: unknown): boolean =>
  outcome === undefined || typeof outcome === "string" || outcome instanceof Uint8Array

/** An outcome as an effect: a value succeeds with itself. */
const toEffect = <A, E>(outcome: A | Effect.Effect<A, E>): Effect.Effect<A, E> =>
  isValue(outcome) ? Effect.succeed(outcome as A) : outcome as Effect.Effect<A, E>

/**
 * An effect that computes its outcome when executed: a value (the fast path)
 * or an effect to run (a failure, a wait).
 *
 * **Details**
 *
 * `yield* effect` inside `Effect.gen` first asks the effect for its iterator;
 * here the iterator computes the outcome right then, at the moment the
 * generator reaches the `yield*`, which is when the effect is executed
 * anyway. A value (a line already buffered, a write below the high-water
 * mark) finishes the `yield*` in place: no generator suspension, no run-loop
 * round trip, no `Exit`. Executed any other way, the effect behaves exactly
 * like `Effect.suspend`.
 */
const fastPath = <A, E>(outcome: () => A | Effect.Effect<A, E>): Effect.Effect<A, E> => {
  const effect = Effect.suspend(() => toEffect(outcome()))
  effect[Symbol.iterator] = () => iterate(outcome())
  return effect
}

/** A second read while one waits: a defect. (Built when it happens: an `Error` carries a stack string.) */
const concurrentRead = Effect.suspend(() =>
  Effect.die(new Error("concurrent reads on one connection: read from one fiber at a time"))
)

const lineTooLong = (conn: ConnectionImpl) => Effect.fail(new LineTooLong({ limit: conn.driver.lines.maxLineLength }))

/** Takes a line as raw bytes, terminator included. */
const lineBytesStep: Step<Uint8Array, EndOfInput | LineTooLong> = (conn) => {
  const line = conn.driver.lines.takeLine()
  if (typeof line !== "number") {
    conn.driver.traffic.linesRead++
    conn.driver.frameTaken()
    return line
  }
  return line === NeedMore ? NEED : line === TooLong ? lineTooLong(conn) : Effect.fail(new EndOfInput())
}

/** Takes a line as UTF-8 text, terminator excluded. */
const lineTextStep: Step<string, EndOfInput | LineTooLong> = (conn) => {
  const line = lineBytesStep(conn)
  return line instanceof Uint8Array ? (line as Buffer).toString("utf8", 0, contentLength(line)) : line
}

/** Takes the block `conn.blockSize` asked for. */
const blockStep: Step<Uint8Array, EndOfInput | UnexpectedEndOfInput> = (conn) => {
  const lines = conn.driver.lines
  const n = conn.blockSize
  const block = lines.takeExactly(n)
  if (typeof block !== "number") {
    conn.driver.frameTaken()
    return block
  }
  if (block === NeedMore) return NEED
  const received = lines.takeRest()
  return received.length === 0
    ? Effect.fail(new EndOfInput())
    : Effect.fail(new UnexpectedEndOfInput({ expected: n, received }))
}

/**
 * The Effect API over a driver.
 *
 * **Details**
 *
 * Reads are loops over the driver's synchronous take/fill that suspend only
 * when nothing is available; reads of one connection are sequential, so one
 * wait serves them all. The effects a handler uses on every line
 * (`readLine`, `readLineBytes`, `flush`) are built on first use and kept, and
 * the steps are shared functions: a connection costs a few objects, not a
 * few dozen closures, which counts with tens of thousands of them.
 */
class ConnectionImpl implements Connection {
  readonly id = ++nextId
  readonly peer: string
  readonly remoteAddress: Connection["remoteAddress"]
  readonly driver: Driver
  /** Size of the block the current `readExactly` wants. */
  blockSize = 0
  private readonly serverTls: ServerTls | undefined
  private readLineEffect: Effect.Effect<string, ReadLineError> | undefined
  private readLineBytesEffect: Effect.Effect<Uint8Array, ReadLineError> | undefined
  private flushEffect: Effect.Effect<void, WriteError> | undefined
  private waitEffect: Effect.Effect<unknown, unknown> | undefined
  private abortEffect: Effect.Effect<void> | undefined
  private readExactlyFn: Connection["readExactly"] | undefined
  private writeFn: Connection["write"] | undefined
  private writeLineFn: Connection["writeLine"] | undefined
  private startTlsFn: Connection["startTls"] | undefined
  /** The parked read: what it takes when input arrives, and how it is resumed. */
  private parkedStep: Step<unknown, unknown> | undefined
  private parkedInLine = false
  private resumeRead: ((outcome: Effect.Effect<unknown, unknown>) => void) | undefined
  private readonly onWake: Resume
  private readonly cancelRead: Effect.Effect<void>

  constructor(driver: Driver, serverTls: ServerTls | undefined) {
    this.driver = driver
    this.peer = driver.peer
    this.remoteAddress = driver.remoteAddress
    this.serverTls = serverTls
    this.onWake = (failure) => {
      const resume = this.resumeRead
      const step = this.parkedStep
      // Cancelled meanwhile (the reader was interrupted by a fiber woken just before).
      if (resume === undefined || step === undefined) return
      this.resumeRead = undefined
      this.parkedStep = undefined
      // The parked read is resumed with what it finds now, or waits again.
      resume(failure === undefined ? toEffect(this.pull(step, this.parkedInLine)) : Effect.fail(failure))
    }
    this.cancelRead = Effect.sync(() => {
      this.resumeRead = undefined
      this.parkedStep = undefined
      driver.cancel(this.onWake)
    })
  }

  get readLine(): Effect.Effect<string, ReadLineError> {
    return this.readLineEffect ??= this.reader(lineTextStep, true)
  }

  get readLineBytes(): Effect.Effect<Uint8Array, ReadLineError> {
    return this.readLineBytesEffect ??= this.reader(lineBytesStep, true)
  }

  get flush(): Effect.Effect<void, WriteError> {
    return this.flushEffect ??= Effect.callback<void, WriteError>((resume) => {
      // Any number of fibers may wait for output to drain (a writer fiber
      // beside the reader); each wait is its own registration.
      const onDrained: Resume<WriteError> = (failure) => resume(failure === undefined ? Effect.void : Effect.fail(failure))
      this.driver.awaitDrain(onDrained)
      return Effect.sync(() => this.driver.cancel(onDrained))
    })
  }

  get abort(): Effect.Effect<void> {
    return this.abortEffect ??= Effect.sync(() => this.driver.abort())
  }

  get tls(): Connection["tls"] {
    return this.driver.tls
  }

  // The functions handlers call are bound to this connection (`Effect.flatMap(x,
  // conn.writeLine)` must work), each made on first use.

  get readExactly(): Connection["readExactly"] {
    return this.readExactlyFn ??= (n) => {
      if (!Number.isSafeInteger(n) || n < 0) {
        return Effect.die(new RangeError(`readExactly needs a non-negative integer, got ${n}`))
      }
      // Sound: a block read waits with `inLine` false, which never fails with LineTimeout.
      return this.reader((conn) => {
        conn.blockSize = n
        return blockStep(conn)
      }, false) as Effect.Effect<Uint8Array, ReadExactlyError>
    }
  }

  get write(): Connection["write"] {
    return this.writeFn ??= (data) =>
      fastPath(() => {
        const failure = this.driver.writeFailure
        if (failure !== undefined) return Effect.fail(failure)
        return this.driver.enqueue(data) ? this.flush : undefined
      })
  }

  get writeLine(): Connection["writeLine"] {
    return this.writeLineFn ??= (line) =>
      fastPath<void, WriteLineError>(() => {
        const failure = this.driver.writeFailure
        if (failure !== undefined) return Effect.fail(failure)
        const index = lineBreakIndex(line)
        if (index !== -1) return Effect.fail(new EmbeddedLineBreak({ index }))
        return this.driver.enqueueLine(line) ? this.flush : undefined
      })
  }

  get startTls(): Connection["startTls"] {
    return this.startTlsFn ??= (options) => startTls(this.driver, this.serverTls, options)
  }

  /** A read: `step` until it gives an outcome, pulling input and waiting as needed. */
  private reader<A, E>(step: Step<A, E>, inLine: boolean): Effect.Effect<A, E | LineWaitError> {
    return fastPath(() => this.pull(step, inLine) as A | Effect.Effect<A, E | LineWaitError>)
  }

  /** Takes with `step`, moving input into the buffer while there is some; a wait when there is none. */
  private pull<A, E>(step: Step<A, E>, inLine: boolean): A | Effect.Effect<never, E> | Effect.Effect<unknown, unknown> {
    // A second read while one waits must not touch the waiting read's state.
    if (this.resumeRead !== undefined) return concurrentRead
    for (;;) {
      const outcome = step(this)
      if (outcome !== NEED) return outcome
      if (!this.driver.fill()) {
        this.parkedStep = step as Step<unknown, unknown>
        this.parkedInLine = inLine
        return this.wait
      }
    }
  }

  /** Parks the read until input may be available (one wait per connection: reads are sequential). */
  private get wait(): Effect.Effect<unknown, unknown> {
    return this.waitEffect ??= Effect.callback<unknown, unknown>((resume) => {
      if (this.resumeRead !== undefined) return resume(concurrentRead)
      this.resumeRead = resume
      this.driver.awaitInput(this.onWake, this.parkedInLine)
      return this.cancelRead
    })
  }
}

/**
 * A connection over an endpoint, acquired in the current scope; the driver
 * stays reachable for the server. Closing the scope releases the transport:
 * abortively if the scope closes by interruption, gracefully otherwise.
 * `serverTls` is what `startTls` uses when it is given no settings.
 */
export const make = (
  endpoint: Endpoint,
  limits: Limits,
  serverTls?: ServerTls
): Effect.Effect<readonly [Connection, Driver], never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.withFiber((fiber) =>
      Effect.succeed(new Driver(endpoint, limits, fiber.getRef(Clock.Clock), fiber.context))
    ),
    (driver, exit) =>
      Effect.callback<void>((resume) => {
        driver.release(!Exit.hasInterrupts(exit), () => resume(Effect.void))
      })
  ).pipe(Effect.map((driver) => [new ConnectionImpl(driver, serverTls), driver] as const))
