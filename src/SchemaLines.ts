/**
 * Typed lines: read a line decoded by a `Schema`, write a value encoded by
 * one, for protocols whose lines carry structured values (NDJSON, JSON-RPC
 * over TCP, log shippers).
 *
 * A line that does not decode is a typed, recoverable failure,
 * {@link LineDecodeError}, carrying the line and what the schema said about
 * it; the line is consumed, so a handler may reply with an error and read on,
 * or let the failure close the connection.
 *
 * **Example** (An NDJSON handler that answers bad lines and reads on)
 *
 * ```ts
 * const Request = SchemaLines.json(Schema.Struct({ id: Schema.Number, method: Schema.String }))
 * const Reply = SchemaLines.json(Schema.Struct({ id: Schema.Number, ok: Schema.Boolean }))
 *
 * const rpc = (conn: Connection.Connection) =>
 *   Effect.forever(
 *     Request.read(conn).pipe(
 *       Effect.flatMap((request) => Reply.write(conn, { id: request.id, ok: true })),
 *       Effect.catchTag("LineDecodeError", (error) => conn.writeLine(JSON.stringify({ error: error.issue })))
 *     )
 *   )
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { Connection } from "./services/Connection.ts"
import {
  LineDecodeError,
  LineEncodeError,
  type ReadLineError,
  type WriteLineError
} from "./Errors.ts"

/**
 * Reads and writes lines as values of `A`.
 *
 * @since 0.1.0
 */
export interface LineCodec<A, RD = never, RE = never> {
  /** The next line, decoded; a line that does not decode fails with {@link LineDecodeError}. */
  readonly read: (conn: Connection) => Effect.Effect<A, ReadLineError | LineDecodeError, RD>
  /**
   * Writes `value` as one line (with the connection's line ending); a value
   * that does not encode fails with {@link LineEncodeError} and nothing is
   * written.
   */
  readonly write: (conn: Connection, value: A) => Effect.Effect<void, WriteLineError | LineEncodeError, RE>
}

/**
 * A codec from a schema whose encoded side is the line's text (without its
 * terminator).
 *
 * @since 0.1.0
 */
export const make = <A, RD, RE>(schema: Schema.Codec<A, string, RD, RE>): LineCodec<A, RD, RE> => {
  const decode = Schema.decodeEffect(schema)
  const encode = Schema.encodeEffect(schema)
  return {
    read: (conn) =>
      Effect.flatMap(conn.readLine, (line) =>
        decode(line).pipe(
          Effect.mapError((error) => new LineDecodeError({ line, issue: error.message }))
        )),
    write: (conn, value) =>
      encode(value).pipe(
        Effect.mapError((error) => new LineEncodeError({ issue: error.message })),
        Effect.flatMap(conn.writeLine)
      )
  }
}

/**
 * A codec for one JSON value per line (NDJSON): `schema` describes the
 * value; lines are parsed and printed as compact JSON, which never contains
 * a raw line break.
 *
 * @since 0.1.0
 */
export const json = <A, I, RD, RE>(schema: Schema.Codec<A, I, RD, RE>): LineCodec<A, RD, RE> =>
  make(Schema.fromJsonString(schema))
