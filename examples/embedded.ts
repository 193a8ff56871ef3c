import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { Connection, LineServer } from "fiberline"

const upper = Effect.gen(function*() {
  const conn = yield* Connection.Connection
  while (true) yield* conn.writeLine((yield* conn.readLine).toUpperCase())
}).pipe(Effect.catchTag("EndOfInput", () => Effect.void))

const Server = LineServer.layer({ handler: upper, port: 7000, idleTimeout: "5 minutes" })

Layer.launch(Server).pipe(NodeRuntime.runMain)
