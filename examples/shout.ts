import { Effect } from "effect"
import type { Connection } from "fiberline"

// Serve it with `fiberline serve examples/shout.ts`: every line comes back in capitals.
export default (conn: Connection.Connection) =>
  Effect.forever(Effect.flatMap(conn.readLine, (line) => conn.writeLine(line.toUpperCase()))).pipe(
    Effect.catchTag("EndOfInput", () => Effect.void),
    Effect.catchTag("ServerShuttingDown", () => conn.writeLine("BYE"))
  )
