/**
 * The transport's stream events, wired to its connection. The listeners are
 * shared functions that find their connection on the stream (a symbol
 * property): no closures per connection, which counts with tens of
 * thousands of idle ones.
 *
 * A socket is one duplex stream (one 'error', one 'close' for both
 * directions); stdio is two (stdin at EOF closes without saying anything
 * about stdout).
 *
 * @internal
 */
import type { Buffer } from "node:buffer"
import type { ConnectionCore } from "./core.ts"
import { closedError, failureOf } from "./failures.ts"

/** Where a stream keeps the connection listening to it. */
const connectionOf = Symbol("fiberline/Connection")

/** A stream a connection listens to. */
type Listened = { [connectionOf]?: ConnectionCore | undefined }

function onData(this: Listened, chunk: Buffer): void {
  const core = this[connectionOf]
  if (core === undefined) return
  core.traffic.bytesRead += chunk.length
  core.reader.received(chunk)
  core.inputArrived()
}

function onEnd(this: Listened): void {
  const core = this[connectionOf]
  if (core === undefined) return
  core.reader.streamEnded = true
  core.inputEndedNow()
  core.inputArrived()
}

function onDrain(this: Listened): void {
  const core = this[connectionOf]
  if (core === undefined) return
  core.drainEnded()
  core.writer.wake()
}

/** An error after the input ended (EPIPE on a half-closed socket) is the output's. */
function onInputError(this: Listened, error: unknown): void {
  const core = this[connectionOf]
  if (core === undefined) return
  if (!core.reader.streamEnded) core.reader.failure ??= failureOf("read", error)
  if (core.duplex) core.writer.failure ??= failureOf("write", error)
  core.wakeOnFailure()
}

function onOutputError(this: Listened, error: unknown): void {
  const core = this[connectionOf]
  if (core === undefined) return
  core.writer.failure ??= failureOf("write", error)
  core.wakeOnFailure()
}

/**
 * An ended input stream closes too (stdin at EOF, a half-closed test peer):
 * that is a failure only if it closed before its end, and it says nothing
 * about a separate output stream. A socket's 'close' closes both ways.
 */
function onInputClose(this: Listened): void {
  const core = this[connectionOf]
  if (core === undefined) return
  if (!core.reader.streamEnded) core.reader.failure ??= closedError("read")
  if (core.duplex) core.writer.failure ??= closedError("write")
  core.wakeOnFailure()
}

function onOutputClose(this: Listened): void {
  const core = this[connectionOf]
  if (core === undefined) return
  core.writer.failure ??= closedError("write")
  core.wakeOnFailure()
}

/** Listens to the connection's transport and lets its input flow. */
export const attach = (core: ConnectionCore): void => {
  const input = core.reader.stream as Listened & typeof core.reader.stream
  const output = core.writer.stream as Listened & typeof core.writer.stream
  // One connection per stream at a time: a second would get every chunk too.
  if (input[connectionOf] !== undefined || output[connectionOf] !== undefined) {
    throw new Error("a stream can carry one connection at a time (release the other first)")
  }
  input[connectionOf] = core
  output[connectionOf] = core
  input.on("data", onData)
  input.on("end", onEnd)
  input.on("close", onInputClose)
  input.on("error", onInputError)
  if (!core.duplex) {
    output.on("close", onOutputClose)
    output.on("error", onOutputError)
  }
  output.on("drain", onDrain)
  // A socket accepted with pauseOnConnect stays paused until told to flow.
  input.resume()
}

/** Stops listening (release, or the transport is handed to TLS). */
export const detach = (core: ConnectionCore): void => {
  const input = core.reader.stream as Listened & typeof core.reader.stream
  const output = core.writer.stream as Listened & typeof core.writer.stream
  input.off("data", onData)
  input.off("end", onEnd)
  input.off("close", onInputClose)
  input.off("error", onInputError)
  output.off("close", onOutputClose)
  output.off("error", onOutputError)
  output.off("drain", onDrain)
  input[connectionOf] = undefined
  output[connectionOf] = undefined
}
