import { Context, Effect, Layer, PubSub } from "effect"
import { Connection } from "fiberline"

/** Announcements shared by every connection; a subscriber more than 1024 behind loses the oldest. */
export class Announcements extends Context.Service<Announcements, PubSub.PubSub<string>>()("example/Announcements") {
  static readonly layer = Layer.effect(Announcements, PubSub.sliding<string>(1024))
}

// `fiberline serve examples/announce.ts --export announce` builds this once per server.
export const layer = Announcements.layer

export const announce = (conn: Connection.Connection) =>
  Effect.gen(function*() {
    const announcements = yield* Announcements
    // Subscribed in the connection's own scope: unsubscribed when it closes.
    const inbox = yield* PubSub.subscribe(announcements)
    // The writer fiber does not read, so it flushes what it writes itself.
    const writer = Effect.forever(
      Effect.flatMap(PubSub.take(inbox), (text) => Effect.andThen(conn.writeLine(text), conn.flush))
    )
    // The reader: every line received is announced to everyone.
    const reader = Effect.forever(
      Effect.flatMap(conn.readLine, (line) => PubSub.publish(announcements, `${conn.peer}: ${line}`))
    )
    // Whichever ends first ends the other: the end of input interrupts the
    // writer; a writer that fails (the peer stopped reading) interrupts the reader.
    yield* Effect.raceFirst(reader, writer)
  }).pipe(Effect.catchTag("EndOfInput", () => Effect.void))
