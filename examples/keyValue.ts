import { Effect } from "effect"
import { Connection } from "fiberline"

export const keyValue = (store: Map<string, Uint8Array>) =>
  Effect.gen(function*() {
    const conn = yield* Connection.Connection
    const request = Effect.gen(function*() {
      const [command, key = "", size = "0"] = (yield* conn.readLine).split(" ")
      if (command === "SET") {
        store.set(key, yield* conn.readExactly(Math.min(Number(size), 1024 * 1024)))
        return "OK"
      }
      if (command === "GET") return store.get(key) ?? "NONE"
      return `ERR unknown command ${command}`
    })
    while (true) {
      const reply = yield* request.pipe(
        Effect.catchTag("LineTooLong", (error) => Effect.succeed(`ERR line longer than ${error.limit} bytes`))
      )
      yield* conn.write(reply)
      yield* conn.write("\n")
    }
  }).pipe(
    Effect.catchTag("EndOfInput", () => Effect.void),
    Effect.catchTag("ServerShuttingDown", () =>
      Effect.flatMap(Effect.service(Connection.Connection), (conn) => conn.writeLine("BYE")))
  )
