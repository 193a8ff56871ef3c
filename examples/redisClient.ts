import { Buffer } from "node:buffer"
import { Data, Effect } from "effect"
import { type Connection, Decoder } from "fiberline"

// A blocking-style Redis client over a `LineClient` connection: commands go
// out as RESP arrays, replies come back through one `Decoder`. Run it
// against redis-server with `npm run e2e:redis-client`.

/** A RESP2 reply: a simple or bulk string, an integer, nil, an array, or an error reply. */
export type Reply = string | number | null | ReplyError | ReadonlyArray<Reply>

/** An error reply (`-ERR ...`): a value inside a pipeline, a failure of `command`. */
export class ReplyError extends Data.TaggedError("ReplyError")<{ readonly message: string }> {}

/** Bytes that are not RESP: the connection cannot be trusted any more. */
export class RespError extends Data.TaggedError("RespError")<{ readonly message: string }> {}

const maxLine = 64 * 1024 // a header or simple reply without its CRLF by then is not RESP
const maxBulk = 512 * 1024 * 1024 // Redis's own proto-max-bulk-len
const maxDepth = 32 // arrays nested deeper than any reply Redis sends

type Parsed = { readonly reply: Reply; readonly end: number } | Decoder.NeedMore | Decoder.Failure<RespError>

const invalid = (message: string) => Decoder.fail(new RespError({ message }))

// One reply starting at `at`, or NeedMore. It re-parses from the reply's
// start when more input arrives, as mini-redis's `check` does: fine for
// replies of ordinary size.
const parse = (bytes: Buffer, at: number, depth: number): Parsed => {
  const eol = bytes.indexOf("\r\n", at)
  if (eol === -1) return bytes.length - at > maxLine ? invalid("line too long") : Decoder.NeedMore
  const text = bytes.toString("utf8", at + 1, eol)
  const next = eol + 2
  switch (bytes[at]) {
    case 0x2b: // +
      return { reply: text, end: next }
    case 0x2d: // -
      return { reply: new ReplyError({ message: text }), end: next }
    case 0x3a: // :
      return /^-?\d+$/.test(text) ? { reply: Number(text), end: next } : invalid(`bad integer ${text}`)
    case 0x24: { // $
      const size = Number(text)
      if (size === -1) return { reply: null, end: next }
      if (!Number.isInteger(size) || size < 0 || size > maxBulk) return invalid(`bad bulk length ${text}`)
      if (bytes.length < next + size + 2) return Decoder.NeedMore
      if (bytes[next + size] !== 0x0d || bytes[next + size + 1] !== 0x0a) return invalid("bulk not ended by CRLF")
      return { reply: bytes.toString("utf8", next, next + size), end: next + size + 2 }
    }
    case 0x2a: { // *
      const count = Number(text)
      if (count === -1) return { reply: null, end: next }
      if (!Number.isInteger(count) || count < 0 || count > 1024 * 1024) return invalid(`bad array length ${text}`)
      if (depth >= maxDepth) return invalid("arrays nested too deep")
      const items: Array<Reply> = []
      let end = next
      for (let i = 0; i < count; i++) {
        const item = parse(bytes, end, depth + 1)
        if (item === Decoder.NeedMore || item instanceof Decoder.Failure) return item
        items.push(item.reply)
        end = item.end
      }
      return { reply: items, end }
    }
    default:
      return invalid(`unexpected byte 0x${bytes[at]!.toString(16)}`)
  }
}

/** Decodes one reply from a connection's input: `conn.read(reply)`. */
export const reply: Decoder.Decoder<Reply, RespError> = {
  decode(input) {
    const parsed = parse(input.bytes, input.start, 0)
    if (parsed === Decoder.NeedMore || parsed instanceof Decoder.Failure) return parsed
    input.skip(parsed.end - input.start)
    return parsed.reply
  }
}

/** A command as clients send it: an array of bulk strings. */
export const encode = (args: ReadonlyArray<string>): Buffer =>
  Buffer.concat([
    Buffer.from(`*${args.length}\r\n`),
    ...args.flatMap((arg) => [Buffer.from(`$${Buffer.byteLength(arg)}\r\n`), Buffer.from(arg), Buffer.from("\r\n")])
  ])

/** Sends one command and reads its reply; an error reply fails with `ReplyError`. */
export const command = (conn: Connection.Connection, ...args: ReadonlyArray<string>) =>
  conn.write(encode(args)).pipe(
    Effect.andThen(conn.read(reply)),
    Effect.flatMap((answer) => (answer instanceof ReplyError ? Effect.fail(answer) : Effect.succeed(answer)))
  )

/**
 * Sends every command in one write, then reads their replies in order; an
 * error reply is one of the values (the commands after it still ran).
 */
export const pipeline = (conn: Connection.Connection, commands: ReadonlyArray<ReadonlyArray<string>>) =>
  conn.write(Buffer.concat(commands.map(encode))).pipe(
    Effect.andThen(Effect.forEach(commands, () => conn.read(reply)))
  )

/** A reply of the shape a command promises, or a `RespError`. */
const expect = <A extends Reply>(what: string, check: (answer: Reply) => answer is A) => (answer: Reply) =>
  check(answer) ? Effect.succeed(answer) : Effect.fail(new RespError({ message: `expected ${what}, got ${JSON.stringify(answer)}` }))

const isText = (answer: Reply): answer is string => typeof answer === "string"
const isTextOrNil = (answer: Reply): answer is string | null => answer === null || typeof answer === "string"

export const ping = (conn: Connection.Connection) => Effect.flatMap(command(conn, "PING"), expect("PONG", isText))

export const set = (conn: Connection.Connection, key: string, value: string) =>
  Effect.flatMap(command(conn, "SET", key, value), expect("OK", isText))

/** The value at `key`, or `null` when there is none. */
export const get = (conn: Connection.Connection, key: string) =>
  Effect.flatMap(command(conn, "GET", key), expect("a bulk string or nil", isTextOrNil))

/** A message published to a channel this connection subscribed to. */
export interface Message {
  readonly channel: string
  readonly payload: string
}

/** Subscribes to `channels`; from then on the connection only receives pushes (read them with `nextMessage`). */
export const subscribe = (conn: Connection.Connection, ...channels: ReadonlyArray<string>) =>
  conn.write(encode(["SUBSCRIBE", ...channels])).pipe(
    // One confirmation per channel: ["subscribe", channel, count].
    Effect.andThen(Effect.forEach(channels, () => conn.read(reply)))
  )

/** Waits for the next push of a subscribed connection. */
export const nextMessage = (conn: Connection.Connection) =>
  Effect.flatMap(conn.read(reply), (push): Effect.Effect<Message, RespError> => {
    if (Array.isArray(push) && push.length === 3 && push[0] === "message") {
      const [, channel, payload] = push
      if (typeof channel === "string" && typeof payload === "string") return Effect.succeed({ channel, payload })
    }
    return Effect.fail(new RespError({ message: `expected a message push, got ${JSON.stringify(push)}` }))
  })
