/**
 * A member's outbox: the lines sent to it that its writer fiber has not yet
 * taken, bounded by **bytes**. Offering never waits: an offer that does not
 * fit is refused, and the room then disconnects the member (see `room.ts`).
 *
 * @since 0.1.0
 */
import { Buffer } from "node:buffer"
import type * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"

/**
 * One line to deliver, encoded and counted once for every outbox it goes
 * to (the same object is shared by all of them).
 *
 * @since 0.1.0
 */
export interface Message {
  readonly line: string
  /** `line` as UTF-8, what each recipient's connection writes. */
  readonly encoded: Uint8Array
  /** Size of `encoded` plus one for its line ending. */
  readonly bytes: number
}

/**
 * A {@link Message} for `line`.
 *
 * @since 0.1.0
 */
export const messageOf = (line: string): Message => {
  const encoded = Buffer.from(line)
  return { line, encoded, bytes: encoded.length + 1 }
}

/**
 * The lines waiting for one member.
 *
 * @since 0.1.0
 */
export interface Outbox {
  /**
   * Adds `message` unless it would take the outbox over its limit; never
   * waits. An empty outbox takes any one message, however long, so a line
   * longer than the limit is delivered rather than held against its
   * recipients.
   */
  readonly offer: (message: Message) => boolean
  /** Waits for at least one message, then takes every message waiting, oldest first. */
  readonly takeAll: Effect.Effect<Arr.NonEmptyReadonlyArray<Message>>
}

/**
 * An empty outbox holding at most `limit` bytes (one message whatever its
 * size).
 *
 * @since 0.1.0
 */
export const make = (limit: number): Effect.Effect<Outbox> =>
  Effect.map(Queue.unbounded<Message>(), (queue) => {
    let bytes = 0
    return {
      offer: (message) => {
        if (bytes > 0 && bytes + message.bytes > limit) return false
        bytes += message.bytes
        return Queue.offerUnsafe(queue, message)
      },
      takeAll: Effect.map(Queue.takeAll(queue), (messages) => {
        for (const message of messages) bytes -= message.bytes
        return messages
      })
    }
  })
