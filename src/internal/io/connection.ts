/**
 * The `Connection` a handler sees: the Effect API over a connection's
 * machinery (`core.ts`). The effects run on every frame — a read, a write —
 * are one object each, with no closures, and complete in place when their
 * outcome is known at once (`inPlace.ts`); the rest are made on first use
 * and kept.
 *
 * @internal
 */
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import { type Decoder, exactly, until, type UntilOptions } from "../../Decoder.ts"
import {
  EmbeddedLineBreak,
  type FrameTooLong,
  type ReadError,
  type ReadExactlyError,
  type ReadLineError,
  type StartTlsError,
  type WriteError,
  type WriteLineError
} from "../../Errors.ts"
import type { StartTlsOptions, TlsInfo } from "../../Tls.ts"
import type { ServerTls } from "../tlsEngine.ts"
import type { ClientTls } from "./clientTls.ts"
import { ConnectionCore } from "./core.ts"
import { closedError } from "./failures.ts"
import { type InPlace, prototype, type Stepped } from "./inPlace.ts"
import type { Limits } from "./limits.ts"
import { startTls } from "./startTls.ts"
import type { Transport } from "./transport.ts"
import type { DrainWaiter } from "./writer.ts"

/** Index of the first `\n` or `\r` in a line to write, or -1. */
const lineBreakIndex = (line: string | Uint8Array): number => {
  if (typeof line === "string") return line.search(/[\r\n]/)
  const lf = line.indexOf(10)
  const cr = line.indexOf(13)
  return lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr)
}

// The effects handlers run on every frame: one object each, no closures
// (see `inPlace.ts`).
class ReadEffect implements Stepped {
  readonly inPlace: InPlace
  readonly core: ConnectionImpl
  readonly decoder: Decoder<unknown, unknown>
  constructor(core: ConnectionImpl, decoder: Decoder<unknown, unknown>) {
    this.inPlace = core.inPlace
    this.core = core
    this.decoder = decoder
  }
}
Object.setPrototypeOf(ReadEffect.prototype, prototype("fiberline/Connection/read", (self: ReadEffect) => self.core.readStep(self.decoder)))

class WriteEffect implements Stepped {
  readonly inPlace: InPlace
  readonly core: ConnectionImpl
  readonly data: string | Uint8Array
  readonly line: boolean
  constructor(core: ConnectionImpl, data: string | Uint8Array, line: boolean) {
    this.inPlace = core.inPlace
    this.core = core
    this.data = data
    this.line = line
  }
}
Object.setPrototypeOf(WriteEffect.prototype, prototype("fiberline/Connection/write", (self: WriteEffect) => self.core.writeStep(self.data, self.line)))

/** A connection, as its handler sees it. */
export class ConnectionImpl extends ConnectionCore {
  private cachedReadLine: Effect.Effect<string, ReadLineError> | undefined = undefined
  private cachedReadLineBytes: Effect.Effect<Uint8Array, ReadLineError> | undefined = undefined
  private cachedFlush: Effect.Effect<void, WriteError> | undefined = undefined
  private cachedAbort: Effect.Effect<void> | undefined = undefined
  private cachedAwaitInputEnd: Effect.Effect<void> | undefined = undefined
  private cachedReadExactly: ((n: number) => Effect.Effect<Uint8Array, ReadExactlyError>) | undefined = undefined
  private cachedReadUntil: ConnectionImpl["readUntil"] | undefined = undefined
  private cachedWrite: ((data: string | Uint8Array) => Effect.Effect<void, WriteError>) | undefined = undefined
  private cachedWriteLine: ((line: string | Uint8Array) => Effect.Effect<void, WriteLineError>) | undefined = undefined
  private cachedStartTls: ((options?: StartTlsOptions) => Effect.Effect<TlsInfo, StartTlsError>) | undefined = undefined
  private lastDecoder: Decoder<unknown, unknown> | undefined = undefined
  private lastRead: Effect.Effect<unknown, unknown> | undefined = undefined

  read<A, E>(decoder: Decoder<A, E>): Effect.Effect<A, E | ReadError> {
    if (decoder !== this.lastDecoder) {
      this.lastDecoder = decoder
      this.lastRead = new ReadEffect(this, decoder) as unknown as Effect.Effect<unknown, unknown>
    }
    return this.lastRead as Effect.Effect<A, E | ReadError>
  }

  get readLine(): Effect.Effect<string, ReadLineError> {
    return this.cachedReadLine ??= new ReadEffect(this, this.limits.line) as unknown as Effect.Effect<string, ReadLineError>
  }

  get readLineBytes(): Effect.Effect<Uint8Array, ReadLineError> {
    return this.cachedReadLineBytes ??= new ReadEffect(this, this.limits.lineBytes) as unknown as Effect.Effect<
      Uint8Array,
      ReadLineError
    >
  }

  // Functions handlers may pass around (`Effect.flatMap(x, conn.writeLine)`) are bound, made on first use.

  get readExactly(): (n: number) => Effect.Effect<Uint8Array, ReadExactlyError> {
    return this.cachedReadExactly ??= (n) => {
      if (!Number.isSafeInteger(n) || n < 0) return Effect.die(new RangeError(`readExactly needs a non-negative integer, got ${n}`))
      return new ReadEffect(this, exactly(n)) as unknown as Effect.Effect<Uint8Array, ReadExactlyError>
    }
  }

  get readUntil(): (
    delimiter: string | Uint8Array,
    options?: { readonly maxLength?: UntilOptions["maxLength"] | undefined }
  ) => Effect.Effect<Uint8Array, FrameTooLong | ReadError> {
    return this.cachedReadUntil ??= (delimiter, options) =>
      new ReadEffect(this, until(delimiter, { maxLength: options?.maxLength ?? this.limits.maxLineLength })) as unknown as Effect.Effect<
        Uint8Array,
        FrameTooLong | ReadError
      >
  }

  get write(): (data: string | Uint8Array) => Effect.Effect<void, WriteError> {
    return this.cachedWrite ??= (data) => new WriteEffect(this, data, false) as unknown as Effect.Effect<void, WriteError>
  }

  get writeLine(): (line: string | Uint8Array) => Effect.Effect<void, WriteLineError> {
    return this.cachedWriteLine ??= (line) => new WriteEffect(this, line, true) as unknown as Effect.Effect<void, WriteLineError>
  }

  get startTls(): (options?: StartTlsOptions) => Effect.Effect<TlsInfo, StartTlsError> {
    return this.cachedStartTls ??= (options) => startTls(this, options)
  }

  get flush(): Effect.Effect<void, WriteError> {
    return this.cachedFlush ??= Effect.callback<void, WriteError>((resume) => {
      const waiter: DrainWaiter = (failure) => resume(failure === undefined ? Effect.void : Effect.fail(failure))
      this.syncFailures()
      if (this.writer.flush()) return resume(Effect.void)
      if (this.writer.failure !== undefined) return resume(Effect.fail(this.writer.failure))
      this.writer.park(waiter)
      this.deadlines.drainWaiting()
      return Effect.sync(() => this.writer.cancel(waiter))
    })
  }

  get abort(): Effect.Effect<void> {
    return this.cachedAbort ??= Effect.sync(() => {
      if (this.aborted || this.released) return
      this.aborted = true
      this.stalled = true
      this.writer.discard()
      this.reader.failure ??= closedError("read", "EABORTED")
      this.writer.failure ??= closedError("write", "EABORTED")
      this.transport.destroy()
      this.wakeOnFailure()
    })
  }

  get awaitInputEnd(): Effect.Effect<void> {
    return this.cachedAwaitInputEnd ??= Effect.callback<void>((resume) => {
      if (this.inputEnded) return resume(Effect.void)
      const waiter = () => resume(Effect.void)
      ;(this.inputEndWaiters ??= []).push(waiter)
      return Effect.sync(() => {
        const index = this.inputEndWaiters?.indexOf(waiter) ?? -1
        if (index !== -1) this.inputEndWaiters!.splice(index, 1)
      })
    })
  }

  /** A write: nothing, or {@link Deferred} (a failure, or a wait for drain at the high-water mark). */
  writeStep(data: string | Uint8Array, line: boolean): unknown {
    const failure = this.writer.failure
    if (failure !== undefined) return this.inPlace.defer(Effect.fail(failure))
    if (line) {
      const index = lineBreakIndex(data)
      if (index !== -1) return this.inPlace.defer(Effect.fail(new EmbeddedLineBreak({ index })))
    }
    return (line ? this.writer.enqueueLine(data) : this.writer.enqueue(data)) ? this.inPlace.defer(this.flush) : undefined
  }
}

/**
 * A connection over `transport`, acquired in the current scope. Closing the
 * scope releases the transport: abortively if the scope closes by
 * interruption, gracefully otherwise. `tlsSettings` (a server's, or a
 * client's) are what `startTls` uses when it is given no settings.
 */
export const make = (
  transport: Transport,
  limits: Limits,
  tlsSettings?: ServerTls | ClientTls
): Effect.Effect<ConnectionImpl, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.withFiber((fiber) => Effect.succeed(new ConnectionImpl(transport, limits, tlsSettings, fiber.context as Context.Context<never>))),
    (core, exit) => core.release(!Exit.hasInterrupts(exit))
  )
