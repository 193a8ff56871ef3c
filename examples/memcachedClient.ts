import { Buffer } from "node:buffer"
import { Data, Effect } from "effect"
import type { Connection } from "fiberline"

// A memcached text-protocol client over a `LineClient` connection opened
// with `lineEnding: "\r\n"`: commands and replies are lines, values are
// blocks of a length the server announces, read with `readExactly`. Run it
// against memcached with `npm run e2e:memcached-client`.

/** A reply the command does not expect (`NOT_STORED`, `SERVER_ERROR ...`, `ERROR`). */
export class MemcachedError extends Data.TaggedError("MemcachedError")<{ readonly reply: string }> {
  override get message() {
    return `memcached replied ${this.reply}`
  }
}

/** memcached's default item size limit: a larger announced value is not memcached talking. */
const maxValue = 1024 * 1024

/** Keys are up to 250 bytes, without spaces or control characters; anything else would break the line. */
const checkKey = (key: string) => {
  const bytes = Buffer.from(key)
  return bytes.length > 0 && bytes.length <= 250 && bytes.every((byte) => byte > 0x20 && byte !== 0x7f)
    ? Effect.void
    : Effect.die(new RangeError(`invalid memcached key ${JSON.stringify(key)}`))
}

/** Stores `value` at `key` (flags and expiry in seconds optional). */
export const set = (conn: Connection.Connection, key: string, value: string | Uint8Array, exptime = 0, flags = 0) =>
  Effect.gen(function*() {
    yield* checkKey(key)
    const bytes = Buffer.from(value)
    yield* conn.writeLine(`set ${key} ${flags} ${exptime} ${bytes.length}`)
    // The value may hold CRLF of its own: raw bytes, then the terminator.
    yield* conn.write(bytes)
    yield* conn.write("\r\n")
    const answer = yield* conn.readLine
    if (answer !== "STORED") return yield* new MemcachedError({ reply: answer })
  })

/** The values of those `keys` that are stored (a multi-get: one request, one reply). */
export const get = (conn: Connection.Connection, ...keys: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    yield* Effect.forEach(keys, checkKey, { discard: true })
    yield* conn.writeLine(`get ${keys.join(" ")}`)
    const values = new Map<string, Buffer>()
    while (true) {
      // VALUE <key> <flags> <bytes>, the block and its CRLF; END after the last.
      const header = yield* conn.readLine
      if (header === "END") return values
      const [word, key, , bytes] = header.split(" ")
      const size = Number(bytes)
      if (word !== "VALUE" || key === undefined || !Number.isSafeInteger(size) || size < 0 || size > maxValue) {
        return yield* new MemcachedError({ reply: header })
      }
      // A copy: the block is a view of the received chunk.
      values.set(key, Buffer.from(yield* conn.readExactly(size)))
      const end = yield* conn.readLine
      if (end !== "") return yield* new MemcachedError({ reply: end })
    }
  })

/** Deletes `key`: whether it was there. */
export const remove = (conn: Connection.Connection, key: string) =>
  Effect.gen(function*() {
    yield* checkKey(key)
    yield* conn.writeLine(`delete ${key}`)
    const answer = yield* conn.readLine
    if (answer === "DELETED") return true
    if (answer === "NOT_FOUND") return false
    return yield* new MemcachedError({ reply: answer })
  })
