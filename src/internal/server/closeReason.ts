/**
 * How a connection ended, in one table: the handler's exit is classified
 * into the close reason recorded in metrics, and into the level its log line
 * is written at. Every typed failure of a connection appears here once.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type { CloseReason } from "../../ServerMetrics.ts"

/** Log levels a close is reported at. */
export type CloseLevel = Extract<LogLevel.Severity, "Debug" | "Info" | "Warn" | "Error">

/** How one way of ending is reported. */
export interface CloseKind {
  readonly reason: CloseReason
  readonly level: CloseLevel
  /**
   * A peer can cause it at will, so one connection's line per burst is
   * logged and the rest are summarised (see `BurstLog`).
   */
  readonly peerCaused: boolean
}

/**
 * Typed failures by `_tag`. Routine ends, and peers that reset (common and
 * uninteresting one by one; counted in metrics), at debug; timeouts at info;
 * peers breaking the protocol (an over-long line, input cut in the middle of
 * a block) or not reading at warning.
 */
const byTag: Readonly<Record<string, CloseKind>> = {
  EndOfInput: { reason: "end-of-input", level: "Debug", peerCaused: false },
  UnexpectedEndOfInput: { reason: "unexpected-end-of-input", level: "Warn", peerCaused: true },
  IdleTimeout: { reason: "idle-timeout", level: "Info", peerCaused: true },
  LineTimeout: { reason: "line-timeout", level: "Info", peerCaused: true },
  LineTooLong: { reason: "line-too-long", level: "Warn", peerCaused: true },
  WriteTimeout: { reason: "write-timeout", level: "Warn", peerCaused: true },
  ConnectionError: { reason: "reset", level: "Debug", peerCaused: false },
  ServerShuttingDown: { reason: "shutdown", level: "Debug", peerCaused: false },
  // STARTTLS failures a handler let through: plaintext before the handshake
  // is an injection attempt or a broken client; a failed handshake is common.
  PlaintextBeforeTls: { reason: "tls-handshake", level: "Warn", peerCaused: true },
  TlsHandshakeError: { reason: "tls-handshake", level: "Info", peerCaused: true }
}

const handlerFailure: CloseKind = { reason: "handler-failure", level: "Error", peerCaused: false }

/** The typed failure an exit carries, if it has a string `_tag`. */
const taggedFailure = (exit: Exit.Exit<unknown, unknown>): { readonly _tag: string } | undefined => {
  const error = Exit.findErrorOption(exit)
  return Option.isSome(error) && Predicate.hasProperty(error.value, "_tag") && typeof error.value._tag === "string"
    ? error.value as { readonly _tag: string }
    : undefined
}

/** What the connection's driver knew when the handler ended. */
export interface EndState {
  /** The handler aborted the connection. */
  readonly aborted: boolean
  /** The input reached its end. */
  readonly inputEnded: boolean
  /** The server told the connection it is shutting down. */
  readonly shuttingDown: boolean
}

/**
 * Classifies how a handler ended. Any failure not in the table, and any
 * defect, is a handler failure; an interruption is a shutdown when the
 * server was shutting down.
 */
export const classify = (exit: Exit.Exit<unknown, unknown>, state: EndState): CloseKind => {
  if (state.aborted && !Exit.hasInterrupts(exit)) return { reason: "aborted", level: "Info", peerCaused: true }
  if (Exit.isSuccess(exit)) {
    const reason = state.inputEnded ? "end-of-input" : state.shuttingDown ? "shutdown" : "handler-done"
    return { reason, level: "Debug", peerCaused: false }
  }
  if (Exit.hasInterrupts(exit)) {
    return state.shuttingDown ? { reason: "shutdown", level: "Debug", peerCaused: false } : handlerFailure
  }
  const failure = taggedFailure(exit)
  return (failure !== undefined ? byTag[failure._tag] : undefined) ?? handlerFailure
}

/** What a connection did, for its closing log line and its span. */
export interface ConnectionStats {
  readonly durationMs: number
  readonly bytesIn: number
  readonly bytesOut: number
  /** Frames read (lines, for a line protocol). */
  readonly linesIn: number
  readonly linesOut: number
}

/** Logs the end of one connection at the level its kind says, with its traffic; never payload bytes. */
export const logClose = (exit: Exit.Exit<unknown, unknown>, kind: CloseKind, stats?: ConnectionStats): Effect.Effect<void> => {
  if (kind.reason === "handler-failure") {
    return Exit.isFailure(exit) ? Effect.logError("handler failed", { reason: kind.reason, ...stats }, exit.cause) : Effect.void
  }
  const error = Exit.findErrorOption(exit)
  const fields = Option.isSome(error) && error.value instanceof Error
    ? { reason: kind.reason, error: error.value.message, ...stats }
    : { reason: kind.reason, ...stats }
  return Effect.logWithLevel(kind.level)("connection closed", fields)
}
