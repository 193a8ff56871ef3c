/**
 * The hand-written bar of the redis bench: a RESP2 server in plain Node, as a
 * Node developer would write one without a library. A state machine on
 * `data` events parses commands (multibulk, and inline for `PING`) and keeps
 * its place between chunks; the replies to the commands a chunk completes go
 * out in one write. It serves what `redis-benchmark -t
 * ping,set,get,incr,lpush,rpush,lpop,rpop` sends, and the `CONFIG GET save`
 * and `CONFIG GET appendonly` it asks first; anything else is an error reply.
 * Like the echo references it trusts its client: no limit on a command's size.
 *
 * Usage: `node bench/reference/node-resp.ts PORT` — listens on 127.0.0.1:PORT
 * until it is killed.
 */
import * as Net from "node:net"

const port = Number(process.argv[2])
const [STAR, DOLLAR, CR, LF] = [0x2a, 0x24, 0x0d, 0x0a]
const text = (reply: string) => Buffer.from(reply, "latin1")
const OK = text("+OK\r\n")
const PONG = text("+PONG\r\n")
const NIL = text("$-1\r\n")
const WRONGTYPE = text("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")

/** A list as two stacks, `front` (the head, reversed) and `back` (the tail); a pop from an empty side takes the far end of the other. */
class List {
  front: Array<Buffer> = []
  back: Array<Buffer> = []
  get length() {
    return this.front.length + this.back.length
  }
  popLeft = () => this.front.pop() ?? this.back.shift()
  popRight = () => this.back.pop() ?? this.front.shift()
}

const store = new Map<string, Buffer | List>()
const bulk = (value: Buffer) => Buffer.concat([text(`$${value.length}\r\n`), value, text("\r\n")])
const integer = (value: number) => text(`:${value}\r\n`)

const incr = (key: string): Buffer => {
  const value = store.get(key) ?? text("0")
  if (!(value instanceof Buffer)) return WRONGTYPE
  const digits = value.toString("latin1")
  if (!/^-?\d{1,15}$/.test(digits)) return text("-ERR value is not an integer or out of range\r\n")
  const next = Number(digits) + 1
  store.set(key, text(String(next)))
  return integer(next)
}

const push = (left: boolean, key: string, values: ReadonlyArray<Buffer>): Buffer => {
  const list = store.get(key) ?? new List()
  if (!(list instanceof List)) return WRONGTYPE
  store.set(key, list)
  for (const value of values) (left ? list.front : list.back).push(Buffer.from(value))
  return integer(list.length)
}

const pop = (left: boolean, key: string): Buffer => {
  const list = store.get(key)
  if (list === undefined) return NIL
  if (!(list instanceof List)) return WRONGTYPE
  const value = left ? list.popLeft() : list.popRight()
  if (list.length === 0) store.delete(key)
  return value === undefined ? NIL : bulk(value)
}

/** `CONFIG GET` of one exact name: the two settings redis-benchmark reads, nothing else. */
const configGet = (name: string): Buffer => {
  const value = name === "save" ? "" : name === "appendonly" ? "no" : undefined
  return text(value === undefined ? "*0\r\n" : `*2\r\n$${name.length}\r\n${name}\r\n$${value.length}\r\n${value}\r\n`)
}

type Command = (key: string, args: ReadonlyArray<Buffer>) => Buffer

/** Each command's arity as Redis counts it (the name included; negative: at least that many), and what it does. */
// The `!`s below are safe: `execute` checks the arity before it runs a command.
const commands = new Map<string, readonly [number, Command]>([
  ["PING", [1, () => PONG]],
  ["SET", [3, (key, args) => {
    store.set(key, Buffer.from(args[2]!))
    return OK
  }]],
  ["GET", [2, (key) => {
    const value = store.get(key)
    return value === undefined ? NIL : value instanceof Buffer ? bulk(value) : WRONGTYPE
  }]],
  ["INCR", [2, incr]],
  ["LPUSH", [-3, (key, args) => push(true, key, args.slice(2))]],
  ["RPUSH", [-3, (key, args) => push(false, key, args.slice(2))]],
  ["LPOP", [2, (key) => pop(true, key)]],
  ["RPOP", [2, (key) => pop(false, key)]],
  ["CONFIG", [3, (sub, args) => (sub.toUpperCase() === "GET" ? configGet(args[2]!.toString("latin1")) : text("-ERR only CONFIG GET\r\n"))]]
])

/** Runs one command; `args` are slices of the connection's input, copied before they are stored. */
const execute = (args: ReadonlyArray<Buffer>): Buffer => {
  const name = args[0]?.toString("latin1").toUpperCase() ?? ""
  const command = commands.get(name)
  const fits = command !== undefined && (command[0] >= 0 ? args.length === command[0] : args.length >= -command[0])
  return fits
    ? command[1](args[1]?.toString("latin1") ?? "", args)
    : text(`-ERR unknown command or wrong number of arguments for '${name}'\r\n`)
}

/** The decimal integer in `buf[from, to)`; NaN when it is not one. */
const integerAt = (buf: Buffer, from: number, to: number): number => {
  let value = 0
  for (let i = from; i < to; i++) {
    const digit = (buf[i] ?? 0) - 0x30
    if (digit < 0 || digit > 9) return Number.NaN
    value = value * 10 + digit
  }
  return to > from ? value : Number.NaN
}

/** The number on the `*N` or `$L` line at `pos`, and where the next line starts; undefined until its `\r\n` arrives. */
const numberLine = (buf: Buffer, pos: number): readonly [number, number] | undefined => {
  const lf = buf.indexOf(LF, pos)
  if (lf === -1) return undefined
  return [buf[lf - 1] === CR ? integerAt(buf, pos + 1, lf - 1) : Number.NaN, lf + 1]
}

Net.createServer({ noDelay: true }, (socket) => {
  let pending = Buffer.alloc(0) // bytes received and not parsed yet
  let args: Array<Buffer> = [] // the bulk strings of the command being read
  let argsLeft = 0 // bulk strings that command still needs (0: between commands)
  let bulkLength = -1 // length of the next bulk string, once its `$L` line is read
  socket.on("data", (chunk: Buffer) => {
    const buf = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
    const replies: Array<Buffer> = []
    let pos = 0
    while (pos < buf.length) {
      if (argsLeft === 0 && buf[pos] !== STAR) { // an inline command: words up to the end of the line
        const lf = buf.indexOf(LF, pos)
        if (lf === -1) break
        const words = buf.toString("latin1", pos, lf).split(/\s+/).filter((word) => word !== "")
        if (words.length > 0) replies.push(execute(words.map(text)))
        pos = lf + 1
      } else if (argsLeft === 0 || bulkLength < 0) { // a `*N` line (between commands) or a `$L` line (within one)
        const line = numberLine(buf, pos)
        if (line === undefined) break
        if (!(line[0] >= 0) || (argsLeft > 0 && buf[pos] !== DOLLAR)) {
          socket.end(Buffer.concat([...replies, text("-ERR Protocol error\r\n")]))
          return
        }
        if (argsLeft === 0) [argsLeft, args] = [line[0], []]
        else bulkLength = line[0]
        pos = line[1]
      } else { // the bulk string itself, then its `\r\n`
        if (buf.length - pos < bulkLength + 2) break
        args.push(buf.subarray(pos, pos + bulkLength))
        pos += bulkLength + 2
        bulkLength = -1
        if (--argsLeft === 0) replies.push(execute(args))
      }
    }
    pending = pos === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(pos))
    if (replies.length > 0) socket.write(replies.length === 1 ? replies[0]! : Buffer.concat(replies))
  })
  socket.on("error", () => socket.destroy())
}).listen(port, "127.0.0.1")
