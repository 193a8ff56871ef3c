import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { type Connection, LineServer, Logging } from "fiberline"

const upper = (conn: Connection.Connection) =>
  Effect.forever(Effect.flatMap(conn.readLine, (line) => conn.writeLine(line.toUpperCase()))).pipe(
    Effect.catchTag("EndOfInput", () => Effect.void),
    Effect.catchTag("ServerShuttingDown", () => conn.writeLine("bye"))
  )

const Server = LineServer.layer({ handler: upper, port: 7000, idleTimeout: "5 minutes", name: "upper" })

// Logging.layer sends fiberline's log lines (and the app's) to stderr.
Layer.launch(Server).pipe(Effect.provide(Logging.layer("pretty")), NodeRuntime.runMain)
