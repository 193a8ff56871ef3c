/**
 * The framing of a shared room's channel (`PREFIX:room`): one JSON object
 * per `PUBLISH`, `{"origin":"INSTANCE","lines":["alice: hi", …]}` — the
 * lines said in one process since its last publish, in the order they were
 * said, and the random name of that process, by which a process knows its
 * own frames (see `redisBus.ts`). A frame with no lines is a heartbeat.
 *
 * Decoding trusts nothing that came through the broker: a frame of any other
 * shape is refused, and every line is made one line again (`text.ts`)
 * before any member sees it, whatever a publisher put there.
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { oneLine } from "./text.ts"

/**
 * One published message of a shared room.
 *
 * @since 0.1.0
 */
export interface Frame {
  /** The name of the process that published it. */
  readonly origin: string
  /** What was said there, oldest first; none in a heartbeat. */
  readonly lines: ReadonlyArray<string>
}

const decodeJson = Schema.decodeUnknownOption(
  Schema.fromJsonString(Schema.Struct({ origin: Schema.String, lines: Schema.Array(Schema.String) }))
)

/**
 * `frame` as published.
 *
 * @since 0.1.0
 */
export const encode = (frame: Frame): string => JSON.stringify({ origin: frame.origin, lines: frame.lines })

/**
 * The frame `message` holds, each line made one line; `undefined` if it is
 * not a frame.
 *
 * @since 0.1.0
 */
export const decode = (message: string): Frame | undefined =>
  Option.getOrUndefined(Option.map(decodeJson(message), ({ lines, origin }) => ({ origin, lines: lines.map(oneLine) })))
