/**
 * The chat room: the members by nickname, each with its outbox. Connections
 * meet here; one room is provided per server by {@link layer}, or by
 * `layerRedis` (see `redisBus.ts`) for a room shared by several processes.
 * How it stays consistent, and what it does with a member who does not read,
 * is on {@link make}.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { type Bus, type Link, solo } from "./bus.ts"
import { type ChatOptions, type MemberLimits, resolve } from "./options.ts"
import * as Outbox from "./outbox.ts"
import { isValidNick, nickKey, nickRule } from "./text.ts"

/**
 * A nickname was refused: `invalid` (see `nickRule`) or `taken` by another
 * member (nicknames are unique regardless of case).
 *
 * @since 0.1.0
 */
export class NickRefused extends Schema.TaggedError<NickRefused>("fiberline/chat/NickRefused")("NickRefused", {
  nick: Schema.String,
  reason: Schema.Literals(["invalid", "taken"]),
  maxLength: Schema.Int
}) {
  /** One line, fit to send back: an invalid nickname is not echoed. */
  override get message(): string {
    return this.reason === "taken" ? `Nickname ${this.nick} is taken` : `Invalid nickname: ${nickRule(this.maxLength)}`
  }
}

/**
 * One member of the room, as its own connection sees it.
 *
 * @since 0.1.0
 */
export interface Member {
  /** The current nickname (changed by `rename`). */
  readonly nick: string
  /** Lines for this member; its writer fiber drains it. */
  readonly outbox: Outbox.Outbox
  /** Succeeds once the room has disconnected this member for a full outbox. */
  readonly dropped: Effect.Effect<void>
}

/**
 * What connections do with the room.
 *
 * @since 0.1.0
 */
export interface RoomShape {
  /**
   * Takes `nick` and enters the room; the others get `*** NICK joined`. In a
   * shared room it waits for the bus's claim (uninterruptibly: the bus
   * bounds it).
   */
  readonly join: (nick: string) => Effect.Effect<Member, NickRefused>
  /**
   * Changes `member`'s nickname; the others get `*** OLD is now NEW`.
   * Returns the old one. Waits for the bus's claim as `join` does.
   */
  readonly rename: (member: Member, nick: string) => Effect.Effect<string, NickRefused>
  /**
   * Sends `line` to every member but `from`, never waiting for them (see
   * {@link make} for a member whose outbox is full), then yields to let
   * their writers run.
   */
  readonly say: (from: Member, line: string) => Effect.Effect<void>
  /** Takes `member` out; the others get `*** NICK why`. Does nothing if it is already out. */
  readonly leave: (member: Member, why: string) => Effect.Effect<void>
  /**
   * The nicknames of the members, sorted: of every process sharing the
   * room, or of this one when the bus cannot tell.
   */
  readonly nicks: Effect.Effect<ReadonlyArray<string>>
  /** What each member may do; the handler applies it on the member's own fiber. */
  readonly limits: MemberLimits
}

/**
 * The room service: one per server, provided by {@link layer}.
 *
 * @since 0.1.0
 */
export class Room extends Context.Service<Room, RoomShape>()("fiberline/handlers/Chat/Room") {}

/**
 * A member as the room holds it: the nickname changes, and the room can drop
 * it. The room hands out the seat itself as the {@link Member}.
 */
interface Seat extends Member {
  nick: string
  readonly drop: Deferred.Deferred<void>
}

/**
 * A new, empty room, linked to other processes by the bus `link` gives it
 * (none by default). An invalid option is a programming error: it throws
 * the `InvalidOption` naming it.
 *
 * **Atomicity.** Every change runs in one synchronous step (`Effect.sync`,
 * no `yield` inside), and fibers only switch between steps, so checking that
 * a nickname is free and taking it cannot be split by another connection:
 * two connections never get the same nickname. Membership notices (joined,
 * renamed, left) are sent in the same step as the change, so everyone sees
 * changes in one order, and a member's messages always follow its join
 * notice.
 *
 * **Shared rooms.** The room's {@link Bus} links it to the rooms of other
 * processes. A nickname is then also claimed on the bus, which waits: the
 * room marks it as being taken in the step that checks it (so no other
 * connection here can take it meanwhile), asks the bus, and seats the member
 * in a second step. Every line sent here is also published, and lines from
 * elsewhere are delivered here as if sent here. A room alone has the `solo`
 * bus, which never waits.
 *
 * **Slow members.** Sending offers the line to every other member's outbox
 * and never waits. A member whose outbox is full (it is not reading: its
 * writer is stuck waiting for the socket) is disconnected on the spot: taken
 * out of the room, told through {@link Member.dropped}, and the others get
 * `*** NICK was disconnected (not reading)`. The sender goes on at once.
 *
 * @since 0.1.0
 */
export const make = <E = never, R = never>(
  options: ChatOptions = {},
  link: Link<E, R> = () => Effect.succeed(solo)
): Effect.Effect<RoomShape, E, R | Scope.Scope> =>
  Effect.suspend(() => {
    const { linesPerSecond, maxNickLength, outboxBytes, renamesPerMinute } = resolve(options)
    /** By `nickKey`; a seat is in the room exactly while it is in this map. */
    const seats = new Map<string, Seat>()
    /** The `nickKey`s being claimed on the bus: taken for everyone else here. */
    const claiming = new Set<string>()
    // Assigned once `link` has given it, before the room is handed out.
    let bus: Bus = solo

    const taken = (nick: string) => new NickRefused({ nick, reason: "taken", maxLength: maxNickLength })

    /** The reason `nick` (whose `nickKey` is `key`) cannot be taken by `seat` (undefined: it can). */
    const refusal = (nick: string, key: string, seat?: Seat): NickRefused | undefined => {
      if (!isValidNick(nick, maxNickLength)) return new NickRefused({ nick, reason: "invalid", maxLength: maxNickLength })
      const holder = seats.get(key)
      return (holder === undefined || holder === seat) && !claiming.has(key) ? undefined : taken(nick)
    }

    /** Sends `line` to every seat here but `from`, and to the other processes. */
    const broadcast = (line: string, from?: Seat): void => {
      deliver(line, from)
      bus.publish(line)
    }

    /** Offers `line` to every seat here but `from`; drops the seats that are full. */
    const deliver = (line: string, from?: Seat): void => {
      const message = Outbox.messageOf(line)
      const full: Array<Seat> = []
      for (const seat of seats.values()) {
        if (seat !== from && !seat.outbox.offer(message)) full.push(seat)
      }
      // Each drop notifies the rest, which may overflow more outboxes; every
      // round removes members, so this ends.
      for (const seat of full) {
        if (!remove(seat)) continue
        bus.release(seat.nick)
        Deferred.doneUnsafe(seat.drop, Effect.void)
        broadcast(`*** ${seat.nick} was disconnected (not reading)`)
      }
    }

    const remove = (seat: Seat): boolean => seats.get(nickKey(seat.nick)) === seat && seats.delete(nickKey(seat.nick))

    // Sound: every member was handed out by `join`, as its seat.
    const seatOf = (member: Member): Seat => member as Seat

    /** The bus's claim of `nick`, with `nick` held here meanwhile; `key` is its `nickKey`. */
    const claim = (nick: string, key: string) => {
      claiming.add(key)
      return Effect.map(bus.claim(nick), (claimed) => {
        claiming.delete(key)
        return claimed
      })
    }

    const join = (nick: string) =>
      Effect.flatMap(Outbox.make(outboxBytes), (outbox) =>
        Effect.suspend(() => {
          // From the check to the mark in `claiming`, one synchronous step: see "Atomicity" above.
          const key = nickKey(nick)
          const refused = refusal(nick, key)
          if (refused !== undefined) return Effect.fail(refused)
          return Effect.flatMap(claim(nick, key), (claimed) => {
            if (!claimed) return Effect.fail(taken(nick))
            const drop = Deferred.makeUnsafe<void>()
            const seat: Seat = { nick, outbox, drop, dropped: Deferred.await(drop) }
            broadcast(`*** ${nick} joined`, seat)
            seats.set(key, seat)
            return Effect.succeed(seat)
          })
        })).pipe(
          // A claim cut short would leave its nickname marked, or claimed
          // with nobody to release it; the bus bounds how long it takes.
          Effect.uninterruptible
        )

    const rename = (member: Member, nick: string) =>
      Effect.suspend(() => {
        const seat = seatOf(member)
        const key = nickKey(nick)
        const refused = refusal(nick, key, seat)
        if (refused !== undefined) return Effect.fail(refused)
        // The same nickname in another case is already this member's here;
        // claimed again all the same, so other processes see the new case.
        const moves = key !== nickKey(seat.nick)
        return Effect.flatMap(moves ? claim(nick, key) : bus.claim(nick), (claimed) => {
          if (!claimed) return Effect.fail(taken(nick))
          const old = seat.nick
          if (!remove(seat)) {
            // Dropped while the bus was asked.
            if (moves) bus.release(nick)
            return Effect.succeed(old)
          }
          seat.nick = nick
          seats.set(key, seat)
          if (moves) bus.release(old)
          broadcast(`*** ${old} is now ${nick}`, seat)
          return Effect.succeed(old)
        })
      }).pipe(Effect.uninterruptible)

    const localNicks = () => [...seats.values()].map((seat) => seat.nick)

    return Effect.map(
      link({
        relay: (line) => deliver(line),
        nicks: localNicks,
        holds: (nick) => seats.has(nickKey(nick)) || claiming.has(nickKey(nick))
      }),
      (linked) => {
        bus = linked
        return Room.of({
          join,
          rename,
          // Then yield, so the recipients' writers take the line before the
          // sender's next one: an outbox fills because its member is not
          // reading, never because a burst of lines arrived in one chunk.
          say: (from, line) => Effect.andThen(Effect.sync(() => broadcast(line, seatOf(from))), Effect.yieldNow),
          leave: (member, why) =>
            Effect.sync(() => {
              const seat = seatOf(member)
              if (!remove(seat)) return
              bus.release(seat.nick)
              broadcast(`*** ${seat.nick} ${why}`)
            }),
          nicks: Effect.map(bus.everyone, (everyone) => {
            // Everyone elsewhere, and everyone here (the bus may lag behind).
            const here = localNicks()
            const keys = new Set(here.map(nickKey))
            return [...here, ...(everyone ?? []).filter((nick) => !keys.has(nickKey(nick)))].toSorted(byKey)
          }),
          limits: { renamesPerMinute, linesPerSecond }
        })
      }
    )
  })

const byKey = (a: string, b: string): number => (nickKey(a) < nickKey(b) ? -1 : nickKey(a) > nickKey(b) ? 1 : 0)

/**
 * A room as a Layer: provide it once to the server, so that every
 * connection meets in the same room.
 *
 * **Example** (A chat server)
 *
 * ```ts
 * const server = LineServer.layer({ handler: Chat.chat, port: 7000 }).pipe(Layer.provide(Chat.layer()))
 * ```
 *
 * @since 0.1.0
 */
export const layer = (options?: ChatOptions): Layer.Layer<Room> => Layer.effect(Room, make(options))
