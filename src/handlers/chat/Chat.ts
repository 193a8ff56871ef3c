/**
 * A chat server (`fiberline chat`): a client picks a nickname, then every
 * line it sends goes to every other client. Each connection is a reader in
 * blocking style with a writer fiber beside it, and connections meet in a
 * shared {@link Room}: one per process with {@link layer}, or shared by
 * several processes over Redis with {@link layerRedis}. The protocol, its
 * limits and the policy for clients that do not read are in
 * docs/protocols.md; {@link chat} says how a session runs and ends.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type { Connection } from "../../services/Connection.ts"
import type { ConnectionError, IdleTimeout, LineTimeout, WriteTimeout } from "../../Errors.ts"
import * as Bucket from "./bucket.ts"
import { type Member, Room, type RoomShape } from "./room.ts"

export {
  /** @since 0.1.0 */
  BrokerUnavailable,
  /** @since 0.1.0 */
  layerRedis,
  /** @since 0.1.0 */
  redisDefaults,
  /** @since 0.1.0 */
  RedisRoomOptions
} from "./redisBus.ts"
import { oneLine } from "./text.ts"

export {
  /** @since 0.1.0 */
  ChatOptions,
  /** @since 0.1.0 */
  defaults,
  /** @since 0.1.0 */
  type MemberLimits
} from "./options.ts"

export {
  /** @since 0.1.0 */
  layer,
  /** @since 0.1.0 */
  type Member,
  /** @since 0.1.0 */
  NickRefused,
  /** @since 0.1.0 */
  Room,
  /** @since 0.1.0 */
  type RoomShape
} from "./room.ts"

/**
 * How a chat session can fail: the connection's own failures that end it
 * (after the client was told, when it can be), so the server logs and counts
 * them as usual.
 *
 * @since 0.1.0
 */
export type ChatError = IdleTimeout | LineTimeout | WriteTimeout | ConnectionError

const help = "Commands: /who, /nick NEW, /me ACTION, /quit"

/**
 * The chat handler, a function of its connection; needs a {@link Room}
 * (provide {@link layer} once per server). The protocol is in
 * docs/protocols.md.
 *
 * **Details.** The handler's own fiber asks for a nickname, then reads and
 * answers, one line at a time (see `converse`); a writer fiber hands the
 * member's outbox to the connection (`deliver`). The two race, with the
 * room's disconnect, so whichever ends first ends the others, and the member
 * leaves the room as soon as that race is over, before its last words
 * (`*** Bye`, or why the session ended) are written. The others' leave
 * notice says why (`leaveNotices`).
 *
 * **Example** (A chat server on port 7000)
 *
 * ```ts
 * const server = LineServer.layer({ handler: Chat.chat, port: 7000, idleTimeout: "10 minutes" }).pipe(
 *   Layer.provide(Chat.layer({ outboxBytes: 256 * 1024 }))
 * )
 * ```
 *
 * @since 0.1.0
 */
export const chat = (conn: Connection): Effect.Effect<void, ChatError, Room> =>
  Effect.gen(function*() {
    const room = yield* Room
    yield* conn.writeLine("*** Welcome to fiberline chat. Your nickname?")
    // The member's scope: it leaves the room when the race below is over.
    const ending = yield* Effect.scoped(Effect.gen(function*() {
      const member = yield* enter(conn, room)
      yield* conn.writeLine(`*** Hello ${member.nick}. Here: ${(yield* room.nicks).join(", ")}. ${help}`)
      // Whichever ends first ends the others: the reader's end (quit, end of
      // input, timeout, shutdown) interrupts the writer; a writer that fails
      // (the client stopped reading, the connection is gone) interrupts the
      // reader; the room's disconnect interrupts both.
      return yield* Effect.raceFirst(
        Effect.raceFirst(converse(conn, room, member), deliver(conn, member)),
        Effect.as(member.dropped, "dropped" as const)
      )
    }))
    yield* lastWords(conn, ending === "quit" ? "*** Bye" : "*** Disconnected: you were not reading")
  }).pipe(
    Effect.catchTag("EndOfInput", () => Effect.void),
    Effect.catchTag("ServerShuttingDown", () => lastWords(conn, "*** Server shutting down. Bye")),
    Effect.tapErrorTag("IdleTimeout", (error) => lastWords(conn, `*** No input for ${Duration.format(error.timeout)}. Bye`)),
    Effect.tapErrorTag("LineTimeout", (error) =>
      lastWords(conn, `*** Line not complete within ${Duration.format(error.timeout)}. Bye`)),
    // Every line written is a constant, a nickname or text made one line.
    Effect.catchTag("EmbeddedLineBreak", (error) => Effect.die(error))
  )

/**
 * The conversation, one line at a time, until `/quit`. Ends by failing
 * when the input does (end of input, timeouts, shutdown).
 *
 * The member's limits (`room.limits`) are buckets of its own, here: each
 * line but a blank one waits for a token of `lines` (so a member who sends
 * faster than its line rate is read at that rate, and loses nothing), and
 * each `/nick` takes one of `renames` or is refused.
 */
const converse = Effect.fnUntraced(function*(conn: Connection, room: RoomShape, member: Member) {
  const { linesPerSecond, renamesPerMinute } = room.limits
  const lines = linesPerSecond > 0 ? Bucket.make(linesPerSecond, 1000 / linesPerSecond) : undefined
  const renames = Bucket.make(renamesPerMinute, 60_000 / renamesPerMinute)
  for (;;) {
    const line = yield* nextLine(conn, " Not sent.")
    if (line.trim() === "") continue
    if (lines !== undefined) yield* paced(conn, lines)
    const [command, text] = line.startsWith("/") ? split(line) : ["", line]
    switch (command) {
      case "":
        yield* room.say(member, `${member.nick}: ${text}`)
        break
      case "/me":
        yield* room.say(member, `* ${member.nick} ${text}`)
        break
      case "/who":
        yield* conn.writeLine(`*** Here: ${(yield* room.nicks).join(", ")}`)
        break
      case "/nick":
        yield* conn.writeLine(yield* rename(room, member, text, renames))
        break
      case "/quit":
        return "quit" as const
      default:
        yield* conn.writeLine(`*** Unknown command. ${help}`)
    }
  }
})

/**
 * The writer fiber: hands every line of the member's outbox to the
 * connection. It never reads, so nothing flushes for it: it flushes after
 * each batch (and waits there while the client is slow to read).
 */
const deliver = (conn: Connection, member: Member) =>
  Effect.forever(
    Effect.flatMap(member.outbox.takeAll, (messages) =>
      Effect.andThen(Effect.forEach(messages, (message) => conn.writeLine(message.encoded), { discard: true }), conn.flush))
  )

/**
 * Asks for a nickname until one is valid and free, and enters the room in
 * the current scope: the member leaves when it closes, with a notice that
 * says why.
 */
const enter = Effect.fnUntraced(function*(conn: Connection, room: RoomShape) {
  for (;;) {
    const nick = (yield* nextLine(conn, " Your nickname?")).trim()
    const member = yield* Effect.acquireRelease(room.join(nick), (joined, exit) => room.leave(joined, whyLeft(exit))).pipe(
      Effect.catchTag("NickRefused", (refused) => Effect.as(conn.writeLine(`*** ${refused.message}. Your nickname?`), undefined))
    )
    if (member !== undefined) return member
  }
})

/**
 * The next line, made one harmless line (`chat/text.ts`): whatever follows —
 * a nickname, a command, a message — sees only what a reader of it would.
 * An over-long one is answered (with `hint` after the reason) and skipped.
 */
const nextLine = Effect.fnUntraced(function*(conn: Connection, hint: string) {
  for (;;) {
    const line = yield* conn.readLine.pipe(
      Effect.catchTag("LineTooLong", (error) =>
        Effect.as(conn.writeLine(`*** Line too long (over ${error.limit} bytes).${hint}`), undefined))
    )
    if (line !== undefined) return oneLine(line)
  }
})

/** `/command rest` as its command and the rest, trimmed. */
const split = (line: string): readonly [string, string] => {
  const space = line.indexOf(" ")
  return space === -1 ? [line, ""] : [line.slice(0, space), line.slice(space + 1).trim()]
}

/**
 * Waits until `bucket` has a token (on the Clock), and takes it. Flushes
 * first, as a read that waits does: the member sees the replies so far.
 */
const paced = Effect.fnUntraced(function*(conn: Connection, bucket: Bucket.TokenBucket) {
  for (;;) {
    const now = yield* Clock.currentTimeMillis
    if (bucket.take(now)) return
    yield* conn.flush
    yield* Effect.sleep(bucket.wait(now))
  }
})

/**
 * `/nick NEW`: the reply to the member. Over the limit it changes nothing
 * and nobody else hears of it; a refused nickname gives its token back.
 */
const rename = Effect.fnUntraced(function*(room: RoomShape, member: Member, nick: string, renames: Bucket.TokenBucket) {
  const now = yield* Clock.currentTimeMillis
  if (!renames.take(now)) {
    const seconds = Math.ceil(renames.wait(now) / 1000)
    const limit = room.limits.renamesPerMinute
    return `*** Nickname not changed: at most ${limit} change${limit === 1 ? "" : "s"} a minute. Try again in ${seconds}s`
  }
  return yield* room.rename(member, nick).pipe(
    Effect.map(() => `*** You are now ${member.nick}`),
    Effect.catchTag("NickRefused", (refused) =>
      Effect.sync(() => {
        renames.refund()
        return `*** ${refused.message}`
      }))
  )
})

/** Writes a last line and waits until it is handed to the connection (at most the write timeout). */
const lastWords = (conn: Connection, line: string) => Effect.andThen(conn.writeLine(line), conn.flush)

/** What the others are told when a session ended this way, by the failure's tag. */
const leaveNotices: Readonly<Record<string, string>> = {
  IdleTimeout: "left (idle)",
  LineTimeout: "left (timed out)",
  ConnectionError: "left (connection lost)",
  WriteTimeout: "was disconnected (not reading)",
  ServerShuttingDown: "left (server shutting down)"
}

/** The leave notice for a session that ended with `exit`: `left`, or why. */
const whyLeft = (exit: Exit.Exit<unknown, unknown>): string => {
  const error = Exit.findErrorOption(exit)
  const tag = Option.isSome(error) && Predicate.hasProperty(error.value, "_tag") ? String(error.value._tag) : ""
  return leaveNotices[tag] ?? "left"
}
