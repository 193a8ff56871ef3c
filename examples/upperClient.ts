import { Context, Effect, Layer, Schedule } from "effect"
import { type Connection, LineClient } from "fiberline"

// A client of examples/embedded.ts (an upper-casing server on 127.0.0.1:7000).

/** One request, one reply: blocking style, on the client's side. */
export const shout = (conn: Connection.Connection, text: string) => Effect.andThen(conn.writeLine(text), conn.readLine)

// Refused or timed out (the server is not up yet): tried again with backoff,
// for up to 10 s. A certificate that does not verify is not worth retrying.
const connect = LineClient.connect({ port: 7000, connectTimeout: "2 seconds" }).pipe(
  Effect.retry({
    schedule: Schedule.exponential("100 millis").pipe(Schedule.upTo({ duration: "10 seconds" })),
    while: (error) => error._tag === "ConnectError" && error.reason._tag !== "TlsVerificationFailed"
  })
)

// The app's services reach one long-lived connection through a tag of its
// own; `LineClient.layer(Upper, options)` is the same without the retry.
export class Upper extends Context.Service<Upper, Connection.Connection>()("example/Upper") {}
export const UpperLive = Layer.effect(Upper, connect)

// The connection is closed (flushed, FIN) when the layer is: here, once the program ends.
export const program = Effect.gen(function*() {
  const upper = yield* Upper
  return yield* shout(upper, "hello")
}).pipe(Effect.provide(UpperLive))
