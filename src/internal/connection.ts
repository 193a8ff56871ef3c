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
  type ReadExactlyError,
  UnexpectedEndOfInput,
  type LineWaitError,
  type WriteError,
  type WriteLineError
} from "../services/Errors.ts"
import { Driver, type Limits, type Resume } from "./driver.ts"
import type { Endpoint } from "./endpoint.ts"
import { contentLength, NeedMore, TooLong } from "./lineBuffer.ts"
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

const positiveInteger = (name: string, value: number): number => {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`)
  }
  return value
}

const duration = (name: string, input: Duration.Input, allowZero: boolean): Duration.Duration => {
  const value = Duration.fromInputUnsafe(input)
  const millis = Duration.toMillis(value)
  if (!(millis > 0 || (allowZero && millis === 0))) {
    throw new RangeError(`${name} must be ${allowZero ? "zero or more" : "positive"}, got ${Duration.format(value)}`)
  }
  return value
}

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

/** Index of the first `\n` or `\r` in a line to write, or -1. */
const lineBreakIndex = (line: string | Uint8Array): number => {
  if (typeof line === "string") return line.search(/[\r\n]/)
  const lf = line.indexOf(LF)
  const cr = line.indexOf(CR)
  return lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr)
}

let nextId = 0

/**
 * An effect that runs `evaluate` when executed, like `Effect.suspend`, with
 * one shortcut for blocking-style handlers.
 *
 * **Details**
 *
 * `yield* effect` inside `Effect.gen` first asks the effect for its iterator;
 * here the iterator calls `evaluate` right then, at the moment the generator
 * reaches the `yield*`, which is when the effect is executed anyway. When
 * `evaluate` returns an `Exit` (a line already buffered, a write below the
 * high-water mark), `Effect.gen` consumes it in place instead of a round trip
 * through the fiber's run loop; otherwise (a wait) it runs the returned
 * effect as usual. Executed any other way, the effect behaves exactly like
 * `Effect.suspend(evaluate)`.
 */
const inlineWhenYielded = <A, E>(evaluate: () => Effect.Effect<A, E>): Effect.Effect<A, E> => {
  const effect = Effect.suspend(evaluate)
  effect[Symbol.iterator] = () => new Utils.SingleShotGen(evaluate())
  return effect
}

/** A second read while one waits: a defect. (Built when it happens: an `Error` carries a stack string.) */
const concurrentRead = Effect.suspend(() =>
  Effect.die(new Error("concurrent reads on one connection: read from one fiber at a time"))
)

/**
 * Builds the Effect API over a driver. Reads are loops over the driver's
 * synchronous `take`/`fill` that suspend only when nothing is available, so
 * a buffered line costs one `Effect.succeed`.
 */
const fromDriver = (driver: Driver, serverTls: ServerTls | undefined): Connection => {
  const lines = driver.lines
  // Any number of fibers may wait for output to drain (a writer fiber beside
  // the reader); each wait is its own registration.
  const awaitDrain = Effect.callback<void, WriteError>((resume) => {
    const onDrained: Resume<WriteError> = (failure) => resume(failure === undefined ? Effect.void : Effect.fail(failure))
    driver.awaitDrain(onDrained)
    return Effect.sync(() => driver.cancel(onDrained))
  })
  // Reads are sequential: a read waiting for input is the only one.
  let readerParked = false

  /** Repeats `step` until it yields an outcome, pulling input and suspending as needed. */
  const reader = <A, E>(
    step: () => Effect.Effect<A, E> | undefined,
    inLine: boolean
  ): Effect.Effect<A, E | LineWaitError> => {
    const pull = (): Effect.Effect<A, E | LineWaitError> => {
      for (;;) {
        const outcome = step()
        if (outcome !== undefined) return outcome
        if (!driver.fill()) return readAfterWait
      }
    }
    // The parked read is resumed with what `pull` finds once input arrives,
    // saving a trip through the run loop per wait.
    let resumeRead: ((outcome: Effect.Effect<A, E | LineWaitError>) => void) | undefined
    const onWake: Resume = (failure) => {
      const resume = resumeRead!
      resumeRead = undefined
      readerParked = false
      resume(failure === undefined ? pull() : Effect.fail(failure))
    }
    const cancelRead = Effect.sync(() => {
      readerParked = false
      driver.cancel(onWake)
    })
    const readAfterWait = Effect.callback<A, E | LineWaitError>((resume) => {
      if (readerParked) return resume(concurrentRead)
      readerParked = true
      resumeRead = resume
      driver.awaitInput(onWake, inLine)
      return cancelRead
    })
    return inlineWhenYielded(pull)
  }

  const lineStep = <A>(decode: (line: Buffer) => A) => (): Effect.Effect<A, EndOfInput | LineTooLong> | undefined => {
    const line = lines.takeLine()
    if (typeof line !== "number") {
      driver.traffic.linesRead++
      driver.frameTaken()
      return Effect.succeed(decode(line))
    }
    if (line === NeedMore) return undefined
    return line === TooLong ? Effect.fail(new LineTooLong({ limit: lines.maxLineLength })) : Effect.fail(new EndOfInput())
  }

  const readExactly = (n: number): Effect.Effect<Uint8Array, ReadExactlyError> => {
    if (!Number.isSafeInteger(n) || n < 0) {
      return Effect.die(new RangeError(`readExactly needs a non-negative integer, got ${n}`))
    }
    // Sound: a block read waits with `inLine` false, which never fails with LineTimeout.
    return reader((): Effect.Effect<Uint8Array, EndOfInput | UnexpectedEndOfInput> | undefined => {
      const block = lines.takeExactly(n)
      if (typeof block !== "number") {
        driver.frameTaken()
        return Effect.succeed(block)
      }
      if (block === NeedMore) return undefined
      const received = lines.takeRest()
      return received.length === 0
        ? Effect.fail(new EndOfInput())
        : Effect.fail(new UnexpectedEndOfInput({ expected: n, received }))
    }, false) as Effect.Effect<Uint8Array, ReadExactlyError>
  }

  const write = (data: string | Uint8Array): Effect.Effect<void, WriteError> =>
    inlineWhenYielded(() => {
      const failure = driver.writeFailure
      if (failure !== undefined) return Effect.fail(failure)
      return driver.enqueue(data) ? awaitDrain : Effect.void
    })

  const writeLine = (line: string | Uint8Array): Effect.Effect<void, WriteLineError> =>
    inlineWhenYielded<void, WriteLineError>(() => {
      const failure = driver.writeFailure
      if (failure !== undefined) return Effect.fail(failure)
      const index = lineBreakIndex(line)
      if (index !== -1) return Effect.fail(new EmbeddedLineBreak({ index }))
      return driver.enqueueLine(line) ? awaitDrain : Effect.void
    })

  return {
    id: ++nextId,
    peer: driver.peer,
    remoteAddress: driver.remoteAddress,
    readLine: reader(lineStep((line) => line.toString("utf8", 0, contentLength(line))), true),
    readLineBytes: reader(lineStep((line): Uint8Array => line), true),
    readExactly,
    write,
    writeLine,
    flush: awaitDrain,
    get tls() {
      return driver.tls
    },
    startTls: (options) => startTls(driver, serverTls, options)
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
  ).pipe(Effect.map((driver) => [fromDriver(driver, serverTls), driver] as const))
