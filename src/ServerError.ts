/**
 * Why a server did not start (`LineServer.make`): one {@link ServerError}
 * whose `reason` says why, as data — the shape of Effect's own
 * `SocketError`. Catch it broadly with `Effect.catchTag("ServerError", ...)`,
 * or one reason with `Effect.catchReason("ServerError", "TlsConfigError", ...)`.
 *
 * @since 0.2.0
 */
import * as Schema from "effect/Schema"
import { InvalidOption } from "./Options.ts"
import { TlsConfigError } from "./Errors.ts"

/** Operator-readable words for the system errors of `listen`. */
const listenErrors: Readonly<Record<string, string>> = {
  EADDRINUSE: "address already in use",
  EACCES: "permission denied",
  EADDRNOTAVAIL: "address not available on this machine",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  EINVAL: "invalid address",
  ENOENT: "its directory does not exist"
}

/**
 * The address could not be bound: `code` is the system's (`EADDRINUSE`,
 * `EACCES`, `EADDRNOTAVAIL`, `ENOTFOUND`…) when there is one, `cause` what
 * Node reported.
 *
 * @since 0.2.0
 */
export class ListenError extends Schema.TaggedError<ListenError>("fiberline/ListenError")("ListenError", {
  code: Schema.optional(Schema.String),
  cause: Schema.Defect()
}) {
  override get message(): string {
    const known = this.code === undefined ? undefined : listenErrors[this.code]
    return known ?? (this.cause instanceof Error ? this.cause.message : String(this.cause))
  }
}

/**
 * Why a server did not start: its address could not be bound, its TLS
 * settings could not be used (files unreadable, a key that does not fit),
 * or an option was invalid.
 *
 * @since 0.2.0
 */
export type ServerErrorReason = ListenError | TlsConfigError | InvalidOption

/**
 * The server did not start: `address` is where it would have listened
 * (`host:port`, `[v6]:port` or a socket path; absent when the options were
 * invalid), `reason` why. Its `message` is one line for an operator.
 *
 * @since 0.1.0
 */
export class ServerError extends Schema.TaggedError<ServerError>("fiberline/ServerError")("ServerError", {
  address: Schema.optional(Schema.String),
  reason: Schema.Union([ListenError, TlsConfigError, InvalidOption])
}) {
  override get message(): string {
    return this.address === undefined
      ? `cannot start the server: ${this.reason.message}`
      : `cannot listen on ${this.address}: ${this.reason.message}`
  }
}
