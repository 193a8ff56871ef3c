/**
 * `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]`: the longest
 * common subsequence of two strings, by the textbook dynamic programme, as
 * Redis 7.0 computes it — the same table, walked back the same way, so that
 * the string and the ranges come out as Redis's.
 *
 * The table takes 4 bytes per pair of positions; as Redis, a table past
 * `proto-max-bulk-len` bytes is refused, and the command runs to its end
 * before any other (O(N·M) time, like Redis's).
 *
 * @since 0.1.0
 */
import type { ByteString } from "../bytes.ts"
import { type Command, type CommandContext, define } from "../command.ts"
import { rejected } from "../errors.ts"
import { syntaxError } from "../parse.ts"
import * as Reply from "../reply.ts"

/** A key's string for LCS: empty if it does not exist; any other type is refused. */
const stringAt = (ctx: CommandContext, key: ByteString): ByteString => {
  const value = ctx.keyspace.get(key) ?? ""
  if (typeof value !== "string") throw rejected("The specified keys must contain string values")
  return value
}

/** `table[i * (b.length + 1) + j]`: the LCS length of `a[0, i)` and `b[0, j)`. */
const lcsTable = (ctx: CommandContext, a: ByteString, b: ByteString): Uint32Array => {
  const cells = (a.length + 1) * (b.length + 1)
  if (cells * 4 > ctx.settings.protoMaxBulkLen) {
    throw rejected("Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
  }
  let table: Uint32Array
  try {
    table = new Uint32Array(cells)
  } catch {
    throw rejected("Insufficient memory, failed allocating transient memory for LCS")
  }
  const width = b.length + 1
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      table[i * width + j] = a.charCodeAt(i - 1) === b.charCodeAt(j - 1)
        ? table[(i - 1) * width + j - 1]! + 1
        : Math.max(table[(i - 1) * width + j]!, table[i * width + j - 1]!)
    }
  }
  return table
}

/** One range of `IDX`: where a run of matching bytes is in each string, both ends included. */
interface Match {
  readonly a: readonly [number, number]
  readonly b: readonly [number, number]
}

/**
 * Walks the table back from its end: the common subsequence, and its runs
 * of contiguous matches, last first (as Redis emits them).
 */
const walk = (table: Uint32Array, a: ByteString, b: ByteString) => {
  const width = b.length + 1
  const at = (i: number, j: number) => table[i * width + j]!
  const chars: Array<string> = []
  const matches: Array<Match> = []
  let range: { aStart: number; aEnd: number; bStart: number; bEnd: number } | undefined
  let i = a.length
  let j = b.length
  while (i > 0 && j > 0) {
    let emit = false
    if (a.charCodeAt(i - 1) === b.charCodeAt(j - 1)) {
      chars.push(a[i - 1]!)
      if (range === undefined) {
        range = { aStart: i - 1, aEnd: i - 1, bStart: j - 1, bEnd: j - 1 }
      } else if (range.aStart === i && range.bStart === j) {
        // Contiguous with the run: extend it backwards.
        range.aStart--
        range.bStart--
      } else {
        emit = true
      }
      if (range.aStart === 0 || range.bStart === 0) emit = true
      i--
      j--
    } else {
      if (at(i - 1, j) > at(i, j - 1)) i--
      else j--
      if (range !== undefined) emit = true
    }
    if (emit && range !== undefined) {
      matches.push({ a: [range.aStart, range.aEnd], b: [range.bStart, range.bEnd] })
      range = undefined
    }
  }
  return { subsequence: chars.toReversed().join(""), matches }
}

/**
 * The LCS command.
 *
 * @since 0.1.0
 */
export const commands: ReadonlyArray<Command> = [
  define("lcs", -3, ["readonly"], [1, 2, 1], (ctx, args) => {
    const a = stringAt(ctx, args.nextString())
    const b = stringAt(ctx, args.nextString())
    let len = false, idx = false, withMatchLen = false
    let minMatchLen = 0n
    while (args.hasNext()) {
      if (args.nextIs("idx")) idx = true
      else if (args.nextIs("len")) len = true
      else if (args.nextIs("withmatchlen")) withMatchLen = true
      else if (args.remaining >= 2 && args.nextIs("minmatchlen")) {
        const n = args.nextInteger()
        minMatchLen = n < 0n ? 0n : n
      } else syntaxError()
    }
    if (len && idx) throw rejected("If you want both the length and indexes, please just use IDX.")
    const table = lcsTable(ctx, a, b)
    const length = table[table.length - 1]!
    if (len) return Reply.integer(length)
    const { matches, subsequence } = walk(table, a, b)
    if (!idx) return Reply.bulk(subsequence)
    const ranges = matches
      .filter((match) => BigInt(match.a[1] - match.a[0] + 1) >= minMatchLen)
      .map((match) =>
        Reply.array([
          Reply.array(match.a.map(Reply.integer)),
          Reply.array(match.b.map(Reply.integer)),
          ...(withMatchLen ? [Reply.integer(match.a[1] - match.a[0] + 1)] : [])
        ])
      )
    return Reply.array([Reply.bulk("matches"), Reply.array(ranges), Reply.bulk("len"), Reply.integer(length)])
  })
]
