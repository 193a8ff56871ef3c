/**
 * RESP2 reply encoders. Each reply is built as one `Uint8Array` (the
 * connection batches pipelined replies into one write); the constant replies
 * are shared and must never be modified.
 *
 * @since 0.1.0
 */
import { Buffer } from "node:buffer"
import type { ByteString } from "./bytes.ts"

const CR = 13
const LF = 10

const ascii = (text: string): Uint8Array => Buffer.from(text, "latin1")

/**
 * `+OK`.
 *
 * @since 0.1.0
 */
export const ok: Uint8Array = ascii("+OK\r\n")

/**
 * `+QUEUED`, a command queued inside `MULTI`.
 *
 * @since 0.1.0
 */
export const queued: Uint8Array = ascii("+QUEUED\r\n")

/**
 * The RESP2 null bulk string, `$-1`.
 *
 * @since 0.1.0
 */
export const nullBulk: Uint8Array = ascii("$-1\r\n")

/**
 * The RESP2 null array, `*-1`.
 *
 * @since 0.1.0
 */
export const nullArray: Uint8Array = ascii("*-1\r\n")

/**
 * The empty array, `*0`.
 *
 * @since 0.1.0
 */
export const emptyArray: Uint8Array = ascii("*0\r\n")

/**
 * No reply at all, for the commands that answer nothing (`CLIENT REPLY
 * OFF`): the connection writes nothing for it.
 *
 * @since 0.1.0
 */
export const nothing: Uint8Array = new Uint8Array(0)

/**
 * `:0`.
 *
 * @since 0.1.0
 */
export const zero: Uint8Array = ascii(":0\r\n")

/**
 * `:1`.
 *
 * @since 0.1.0
 */
export const one: Uint8Array = ascii(":1\r\n")

/**
 * A simple string reply, `+text`. `text` must not contain CR or LF.
 *
 * @since 0.1.0
 */
export const simple = (text: ByteString): Uint8Array => ascii(`+${text}\r\n`)

/**
 * An error reply, `-text`; `text` starts with its code (`ERR …`,
 * `WRONGTYPE …`). CR and LF become spaces, as Redis makes sure of, since the
 * text may quote the client's input.
 *
 * @since 0.1.0
 */
export const error = (text: ByteString): Uint8Array => ascii(`-${text.replace(/[\r\n]/g, " ")}\r\n`)

/**
 * An integer reply, `:n`.
 *
 * @since 0.1.0
 */
export const integer = (n: number | bigint): Uint8Array =>
  n === 0 ? zero : n === 1 ? one : ascii(`:${n}\r\n`)

/**
 * A bulk string reply, or the null bulk for `undefined`.
 *
 * @since 0.1.0
 */
export const bulk = (value: ByteString | undefined): Uint8Array => {
  if (value === undefined) return nullBulk
  const header = `$${value.length}\r\n`
  const out = Buffer.allocUnsafe(header.length + value.length + 2)
  let at = out.write(header, 0, "latin1")
  at += out.write(value, at, "latin1")
  out[at] = CR
  out[at + 1] = LF
  return out
}

/**
 * The bytes `value` takes as a bulk string in a reply: `$len`, CRLF, the
 * value, CRLF.
 *
 * @since 0.1.0
 */
export const bulkBytes = (value: ByteString): number => `${value.length}`.length + value.length + 5

/**
 * An array of bulk strings (`undefined` items are null bulks) as one buffer.
 *
 * @since 0.1.0
 */
export const bulkArray = (values: ReadonlyArray<ByteString | undefined>): Uint8Array => {
  if (values.length === 0) return emptyArray
  const header = `*${values.length}\r\n`
  let size = header.length
  for (const value of values) size += value === undefined ? 5 : bulkBytes(value)
  const out = Buffer.allocUnsafe(size)
  let at = out.write(header, 0, "latin1")
  for (const value of values) {
    if (value === undefined) {
      at += out.write("$-1\r\n", at, "latin1")
    } else {
      at += out.write(`$${value.length}\r\n`, at, "latin1")
      at += out.write(value, at, "latin1")
      out[at++] = CR
      out[at++] = LF
    }
  }
  return out
}

/**
 * An array of already encoded replies, as one buffer.
 *
 * @since 0.1.0
 */
export const array = (items: ReadonlyArray<Uint8Array>): Uint8Array =>
  items.length === 0 ? emptyArray : Buffer.concat([ascii(`*${items.length}\r\n`), ...items])
