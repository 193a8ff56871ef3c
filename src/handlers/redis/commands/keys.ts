/**
 * Commands on keys of any type: `DEL`, `UNLINK`, `EXISTS`, `TOUCH`, `TYPE`,
 * `KEYS`, `SCAN`, `RANDOMKEY`, `RENAME`, `RENAMENX`, `COPY`, `OBJECT`,
 * `DBSIZE`, `FLUSHDB`, `FLUSHALL`. (Their TTLs: `expiry.ts`.)
 *
 * **What `OBJECT` answers.** `ENCODING` names the representation Redis 7.0
 * would pick for the value's type and size (`int`, `embstr` or `raw`
 * strings; `quicklist` lists; `intset` or `hashtable` sets; `listpack` or
 * `hashtable` hashes; `skiplist` sorted sets), for tools that ask; values
 * here are held otherwise. `REFCOUNT` is 1: no value is shared between keys.
 * `IDLETIME` is 0: no access time is kept per key, which would cost every
 * read a write. `FREQ` refuses as Redis does without an LFU policy (this
 * server never evicts).
 *
 * @since 0.1.0
 */
import type { ByteString } from "../bytes.ts"
import { type Command, type CommandContext, define } from "../command.ts"
import { parseCursor, scanOptions, scanReply } from "../cursor.ts"
import { rejected, WrongArity } from "../errors.ts"
import { parseInteger, syntaxError } from "../parse.ts"
import * as Reply from "../reply.ts"
import { Hash, List, MemberSet, typeName, type Value } from "../values.ts"

/** `FLUSHDB`/`FLUSHALL [ASYNC|SYNC]`: one database, so both empty it. */
const flush = (name: string) =>
  define(name, -1, ["write"], [0, 0, 0], (ctx, args) => {
    if (args.hasNext() && !args.nextIs("sync") && !args.nextIs("async")) syntaxError()
    args.finish()
    ctx.keyspace.flush()
    return Reply.ok
  })

/** `DEL`/`UNLINK`: the number of keys that existed. */
const del = (name: string) =>
  define(name, -2, name === "del" ? ["write"] : ["write", "fast"], [1, -1, 1], (ctx, args) => {
    let deleted = 0
    for (const key of args.rest()) if (ctx.keyspace.delete(key)) deleted++
    return Reply.integer(deleted)
  })

/** `EXISTS`/`TOUCH`: the number of keys named that exist; a key named twice counts twice. */
const exists = (name: string) =>
  define(name, -2, ["readonly", "fast"], [1, -1, 1], (ctx, args) =>
    Reply.integer(args.rest().filter((key) => ctx.keyspace.get(key) !== undefined).length))

/** `SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]`: the filters apply to what the call found. */
const scan = define("scan", -2, ["readonly"], [0, 0, 0], (ctx, args) => {
  const cursor = parseCursor(args.nextString())
  const { count, match, type } = scanOptions(args, true)
  const page = ctx.keyspace.scan(cursor, count)
  const wanted = type?.toLowerCase()
  const keys = page.elements.filter((key) => {
    if (match !== undefined && !match.matches(key)) return false
    // Looking the key up collects it if it expired.
    const value = ctx.keyspace.get(key)
    return value !== undefined && (wanted === undefined || typeName(value) === wanted)
  })
  return scanReply(page.cursor, keys)
})

/** `RENAME`/`RENAMENX`: the value moves with its TTL; the target's own TTL goes with its old value. */
const rename = (name: string, nx: boolean) =>
  define(name, 3, nx ? ["write", "fast"] : ["write"], [1, 2, 1], (ctx, args) => {
    const from = args.nextString()
    const to = args.nextString()
    const value = ctx.keyspace.get(from)
    if (value === undefined) throw rejected("no such key")
    if (from === to) return nx ? Reply.zero : Reply.ok
    if (nx && ctx.keyspace.get(to) !== undefined) return Reply.zero
    const at = ctx.keyspace.expiresAt(from)
    ctx.keyspace.delete(from)
    store(ctx, to, value, at)
    return nx ? Reply.one : Reply.ok
  })

/** Stores `value` under `key` with expiry `at` (the keyspace wakes clients blocked on `key`). */
const store = (ctx: CommandContext, key: ByteString, value: Value, at: number | undefined) => {
  ctx.keyspace.set(key, value)
  if (at !== undefined) ctx.keyspace.expire(key, at)
}

/** `COPY source destination [DB db] [REPLACE]`: one database here, so `DB` takes 0 only. */
const copy = define("copy", -3, ["write", "denyoom"], [1, 2, 1], (ctx, args) => {
  const from = args.nextString()
  const to = args.nextString()
  let replace = false
  while (args.hasNext()) {
    if (args.nextIs("replace")) {
      replace = true
    } else if (args.remaining >= 2 && args.nextIs("db")) {
      const db = args.nextInteger()
      if (db < -2147483648n || db > 2147483647n) {
        throw rejected("value is out of range, value must between -2147483648 and 2147483647")
      }
      if (db !== 0n) throw rejected("DB index is out of range")
    } else {
      syntaxError()
    }
  }
  if (from === to) throw rejected("source and destination objects are the same")
  const value = ctx.keyspace.get(from)
  if (value === undefined) return Reply.zero
  if (!replace && ctx.keyspace.get(to) !== undefined) return Reply.zero
  store(ctx, to, typeof value === "string" ? value : value.clone(), ctx.keyspace.expiresAt(from))
  return Reply.one
})

/** Redis 7.0's thresholds for its small encodings (`*-max-intset-entries`, `*-max-listpack-*`). */
const small = { intsetEntries: 512, listpackEntries: 128, listpackValue: 64 } as const

/** What Redis 7.0 would store `value` as (see the module's doc). */
const encoding = (value: Value): string => {
  if (typeof value === "string") {
    return value.length <= 20 && parseInteger(value) !== undefined ? "int" : value.length <= 44 ? "embstr" : "raw"
  }
  if (value instanceof List) return "quicklist"
  if (value instanceof MemberSet) {
    const integers = value.size <= small.intsetEntries && value.toArray().every((m) => parseInteger(m) !== undefined)
    return integers ? "intset" : "hashtable"
  }
  if (value instanceof Hash) {
    const short = value.size <= small.listpackEntries && value.flat().every((s) => s.length <= small.listpackValue)
    return short ? "listpack" : "hashtable"
  }
  // The one other type: a sorted set, which keeps the encoding Redis would have.
  return value.encoding
}

/** The `OBJECT` subcommand `name` (`OBJECT name key`), answering `answer(value)` for an existing key. */
const objectOf = (name: string, answer: (value: Value) => Uint8Array) =>
  define(`object|${name}`, 3, ["readonly"], [2, 2, 1], (ctx, args) => {
    const value = ctx.keyspace.get(args.nextString())
    return value === undefined ? Reply.nullBulk : answer(value)
  })

const objectHelp = [
  "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "ENCODING <key>",
  "    The name of the representation Redis 7.0 would keep the value of <key> in.",
  "FREQ <key>",
  "    Not tracked here: no LFU eviction policy.",
  "IDLETIME <key>",
  "    Seconds since <key> was last accessed: always 0, access times are not tracked here.",
  "REFCOUNT <key>",
  "    References to the value of <key>: always 1, values are not shared here.",
  "HELP",
  "    Print this help."
]

const object = define("object", -2, [], [0, 0, 0], () => {
  // Its arity refuses OBJECT alone, and a subcommand runs instead of it.
  throw new WrongArity({ command: "object" })
}, {
  subcommands: [
    objectOf("encoding", (value) => Reply.bulk(encoding(value))),
    objectOf("freq", () => {
      throw rejected(
        "An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
      )
    }),
    objectOf("idletime", () => Reply.zero),
    objectOf("refcount", () => Reply.one),
    define("object|help", 2, ["loading", "stale"], [0, 0, 0], () => Reply.array(objectHelp.map(Reply.simple)))
  ]
})

/**
 * The key commands.
 *
 * @since 0.1.0
 */
export const commands: ReadonlyArray<Command> = [
  del("del"),
  del("unlink"),
  exists("exists"),
  // No access times are kept (see OBJECT IDLETIME), so touching a key is looking it up.
  exists("touch"),
  define("type", 2, ["readonly", "fast"], [1, 1, 1], (ctx, args) =>
    Reply.simple(typeName(ctx.keyspace.get(args.nextString())))),
  define("keys", 2, ["readonly"], [0, 0, 0], (ctx, args) => Reply.bulkArray(ctx.keyspace.keys(args.nextString()))),
  scan,
  define("randomkey", 1, ["readonly"], [0, 0, 0], (ctx) => Reply.bulk(ctx.keyspace.randomKey())),
  rename("rename", false),
  rename("renamenx", true),
  copy,
  object,
  define("dbsize", 1, ["readonly", "fast"], [0, 0, 0], (ctx) => Reply.integer(ctx.keyspace.size())),
  flush("flushdb"),
  flush("flushall")
]
