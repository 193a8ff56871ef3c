import { Effect } from "effect"
import type { Connection } from "fiberline"

export const keyValue = (store: Map<string, Uint8Array>) => (conn: Connection.Connection) =>
  Effect.gen(function*() {
    const request = Effect.gen(function*() {
      const [command, key = "", size = ""] = (yield* conn.readLine).split(" ")
      if (command === "SET") {
        const length = Number(size)
        // The size comes from the peer: bound it before reading that much.
        if (!Number.isSafeInteger(length) || length < 0 || length > 1024 * 1024) return `ERR bad size ${size}`
        // A copy: the block is a view of the received chunk.
        store.set(key, (yield* conn.readExactly(length)).slice())
        return "OK"
      }
      if (command === "GET") return store.get(key) ?? "NONE"
      return `ERR unknown command ${command}`
    })
    while (true) {
      const reply = yield* request.pipe(
        Effect.catchTag("LineTooLong", (error) => Effect.succeed(`ERR line longer than ${error.limit} bytes`))
      )
      // `write`, not `writeLine`: a stored value may hold line breaks of its own.
      yield* conn.write(reply)
      yield* conn.write("\n")
    }
  }).pipe(
    Effect.catchTag("EndOfInput", () => Effect.void),
    Effect.catchTag("ServerShuttingDown", () => conn.writeLine("BYE"))
  )
