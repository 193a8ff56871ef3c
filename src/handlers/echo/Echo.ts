/**
 * The reference handler: read a line, write it back, until end of input.
 *
 * Byte-exact: each line is written back with the terminator it arrived with
 * (`\r\n` stays `\r\n`), invalid UTF-8 and NUL bytes survive, and a final
 * unterminated line comes back unterminated before the connection closes.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { Connection } from "../../services/Connection.ts"

/**
 * Echoes every line until the peer ends its input. Any other failure
 * (`LineTooLong`, timeouts, a reset) ends the handler with that error.
 *
 * @since 0.1.0
 */
export const echo = Effect.gen(function*() {
  const conn = yield* Connection
  while (true) {
    yield* conn.write(yield* conn.readLineBytes)
  }
}).pipe(Effect.catchTag("EndOfInput", () => Effect.void))
