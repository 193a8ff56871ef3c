/**
 * A sorted set: members with a score each, found by name in a `Map` and kept
 * in order of (score, bytes) in a skip list (`skiplist.ts`) — Redis's `dict`
 * plus `zskiplist`. Lookups by name are O(1); adds, removes, score changes,
 * ranks, and finding where a range of scores or of bytes starts or ends are
 * O(log n); a range is then walked in order.
 *
 * Ranges are given as Redis reads them: {@link ScoreRange} (`ZRANGEBYSCORE`)
 * and {@link LexRange} (`ZRANGEBYLEX`, meaningful when the scores are equal).
 *
 * (Past 300 lines: ranges by score and by bytes each need their bounds,
 * walks, counts and deletes, all on the same few private helpers.)
 *
 * @since 0.1.0
 */
import type { ByteString } from "../bytes.ts"
import { ScanOrder } from "../cursor.ts"
import { Container } from "./container.ts"
import { SkipList, type SkipNode } from "./skiplist.ts"

export type { SkipNode }

/**
 * Bytes counted for each member of a sorted set, besides its own bytes, as
 * `memory.ts` counts the keyspace: measured on Node 24 (64-bit), rounded up.
 *
 * @since 0.1.0
 */
export const zsetOverhead = {
  /** Its map entry, its skip-list node (linked at one level) and its string header. */
  member: 168,
  /** The two arrays of a node linked at more than one level (one node in four). */
  upperLevels: 96,
  /** Each level of a node past the first: a link and a span. */
  level: 16
} as const

/** The bytes counted for `node`'s member. */
const memberBytes = (node: SkipNode): number =>
  zsetOverhead.member + node.member.length +
  (node.levels > 1 ? zsetOverhead.upperLevels + (node.levels - 1) * zsetOverhead.level : 0)

/**
 * Scores from `min` to `max`, each end included unless exclusive (`(`).
 *
 * @since 0.1.0
 */
export interface ScoreRange {
  readonly min: number
  readonly max: number
  readonly minExclusive: boolean
  readonly maxExclusive: boolean
}

/**
 * An end of a {@link LexRange}: `-` before every member, `+` after every
 * member, or a member's bytes, included (`[`) or not (`(`).
 *
 * @since 0.1.0
 */
export type LexBound = "-" | "+" | { readonly value: ByteString; readonly exclusive: boolean }

/**
 * Members from `min` to `max` in byte order.
 *
 * @since 0.1.0
 */
export interface LexRange {
  readonly min: LexBound
  readonly max: LexBound
}

/** A condition on a node, monotone along the order. */
type Predicate = (node: SkipNode) => boolean

/** Whether `score` is at or past the range's start. */
const fromMin = (range: ScoreRange) => (node: SkipNode): boolean =>
  range.minExclusive ? node.score > range.min : node.score >= range.min

/** Whether `score` is at or before the range's end. */
const toMax = (range: ScoreRange) => (node: SkipNode): boolean =>
  range.maxExclusive ? node.score < range.max : node.score <= range.max

const fromLexMin = ({ min }: LexRange) => (node: SkipNode): boolean =>
  min === "-" ? true : min === "+" ? false : min.exclusive ? node.member > min.value : node.member >= min.value

const toLexMax = ({ max }: LexRange) => (node: SkipNode): boolean =>
  max === "+" ? true : max === "-" ? false : max.exclusive ? node.member < max.value : node.member <= max.value

/** Ranges that hold nothing whatever the set, as Redis's `zslIsInRange` sees them. */
const emptyScores = (range: ScoreRange): boolean =>
  range.min > range.max || (range.min === range.max && (range.minExclusive || range.maxExclusive))

const emptyLex = ({ min, max }: LexRange): boolean =>
  min === "+" || max === "-" ||
  (typeof min !== "string" && typeof max !== "string" &&
    (min.value > max.value || (min.value === max.value && (min.exclusive || max.exclusive))))

/**
 * Redis's defaults for its compact encoding of small sorted sets
 * (`zset-max-listpack-entries`, `zset-max-listpack-value`).
 *
 * @since 0.1.0
 */
export const listpackLimits = { entries: 128, value: 64 } as const

/**
 * How Redis would store the set: `listpack` while it is small (see
 * {@link listpackLimits}), `skiplist` once it has grown past that, for good.
 *
 * @since 0.1.0
 */
export type Encoding = "listpack" | "skiplist"

/**
 * A sorted set of byte strings.
 *
 * **Gotchas**
 *
 * The one thing Redis's encoding changes that a client sees is a score of
 * -0: a listpack stores an integral score as an integer, so -0 becomes 0.
 * The set keeps track of the encoding Redis would have (`OBJECT ENCODING`)
 * and stores -0 as 0 while it is `listpack`, as Redis does.
 *
 * @since 0.1.0
 */
export class SortedSet extends Container {
  readonly #nodes = new Map<ByteString, SkipNode>()
  readonly #order = new SkipList()
  /** Built by the first `ZSCAN`, then kept up to date. */
  #scan: ScanOrder<ByteString> | undefined = undefined
  #encoding: Encoding

  /** An empty set, in the encoding Redis would create it with. */
  constructor(encoding: Encoding = "skiplist") {
    super()
    this.#encoding = encoding
  }

  /** The encoding Redis would have the set in now. */
  get encoding(): Encoding {
    return this.#encoding
  }

  /**
   * Turns a computed set back to `listpack` if it fits, as Redis's
   * `*STORE` commands do before storing it (with -0 becoming 0).
   */
  compactIfSmall(): void {
    if (this.size > listpackLimits.entries) return
    for (const member of this.#nodes.keys()) if (member.length > listpackLimits.value) return
    this.#encoding = "listpack"
    // -0 and 0 are equal in the order: the nodes stay where they are.
    for (const node of this.#nodes.values()) if (node.score === 0) node.score = 0
  }

  /** Number of members. */
  get size(): number {
    return this.#nodes.size
  }

  /** The score of `member`, or `undefined`. */
  score(member: ByteString): number | undefined {
    return this.#nodes.get(member)?.score
  }

  /** Gives `member` the score `score`, adding it if it is not a member. */
  set(member: ByteString, score: number): void {
    const node = this.#nodes.get(member)
    if (node !== undefined) {
      // As Redis, an equal score (0 for -0 too) leaves the member as it is.
      if (node.score !== score) {
        this.#order.move(node, this.#stored(score))
        // Nothing more to count, but a change all the same (`WATCH` sees changes through `grow`).
        this.grow(0)
      }
      return
    }
    if (this.#encoding === "listpack" && (this.size >= listpackLimits.entries || member.length > listpackLimits.value)) {
      this.#encoding = "skiplist"
    }
    const added = this.#order.insert(member, this.#stored(score))
    this.#nodes.set(member, added)
    this.grow(memberBytes(added))
    this.#scanChange(() => this.#scan!.add(member))
  }

  /** A copy with the same members, scores and encoding, stored nowhere (`COPY`). */
  clone(): SortedSet {
    const copy = new SortedSet(this.#encoding)
    for (let node = this.first; node !== undefined; node = node.following) copy.set(node.member, node.score)
    return copy
  }

  /** Removes `member`; `true` if it was a member. */
  delete(member: ByteString): boolean {
    const node = this.#nodes.get(member)
    if (node === undefined) return false
    this.#order.delete(node)
    this.#forget(node)
    return true
  }

  /** The 0-based rank of `member` (from the highest score if `reverse`), or `undefined`. */
  rank(member: ByteString, reverse = false): number | undefined {
    const node = this.#nodes.get(member)
    if (node === undefined) return undefined
    const rank = this.#order.rank(node)
    return reverse ? this.size - 1 - rank : rank
  }

  /** The member at 0-based `rank`, or `undefined` past the end. */
  at(rank: number): SkipNode | undefined {
    return this.#order.at(rank)
  }

  /** The member with the lowest score (`undefined` when empty). */
  get first(): SkipNode | undefined {
    return this.#order.first
  }

  /** The member with the highest score (`undefined` when empty). */
  get last(): SkipNode | undefined {
    return this.#order.last
  }

  /** The members of 0-based ranks `start` to `stop` (within bounds), from the highest score if `reverse`. */
  rangeByRank(start: number, stop: number, reverse: boolean): Array<SkipNode> {
    const size = this.size
    return this.#walk(this.#order.at(reverse ? size - 1 - start : start), reverse, stop - start + 1, () => true)
  }

  /**
   * The members in `range`, in order (reversed: from the end of the range),
   * skipping `offset` and taking at most `limit` (negative: all), as
   * `ZRANGEBYSCORE … LIMIT offset limit`.
   */
  rangeByScore(range: ScoreRange, reverse: boolean, offset = 0, limit = -1): Array<SkipNode> {
    if (emptyScores(range)) return []
    const start = reverse
      ? this.#last(toMax(range), fromMin(range), false)
      : this.#first(fromMin(range), toMax(range), false)
    return this.#walk(this.#skip(start, reverse, offset), reverse, limit, reverse ? fromMin(range) : toMax(range))
  }

  /**
   * The members in the byte range `range`, as {@link rangeByScore}. (Over
   * unequal scores the answer is Redis's for a listpack; past one, Redis's
   * own depends on its skip list's random levels.)
   */
  rangeByLex(range: LexRange, reverse: boolean, offset = 0, limit = -1): Array<SkipNode> {
    if (emptyLex(range)) return []
    const linear = this.#encoding === "listpack"
    const start = reverse
      ? this.#last(toLexMax(range), fromLexMin(range), linear)
      : this.#first(fromLexMin(range), toLexMax(range), linear)
    return this.#walk(this.#skip(start, reverse, offset), reverse, limit, reverse ? fromLexMin(range) : toLexMax(range))
  }

  /** How many members are in `range`, in O(log n). */
  countScores(range: ScoreRange): number {
    if (emptyScores(range)) return 0
    return this.#count(this.#first(fromMin(range), toMax(range), false), this.#last(toMax(range), fromMin(range), false))
  }

  /** How many members are in the byte range `range`: O(log n), or a walk in a listpack, as Redis. */
  countLex(range: LexRange): number {
    if (emptyLex(range)) return 0
    if (this.#encoding === "listpack") {
      return this.#walk(this.#first(fromLexMin(range), toLexMax(range), true), false, -1, toLexMax(range)).length
    }
    return this.#count(this.#first(fromLexMin(range), toLexMax(range), false), this.#last(toLexMax(range), fromLexMin(range), false))
  }

  /** Removes the members in `range`; gives how many. */
  deleteScores(range: ScoreRange): number {
    if (emptyScores(range)) return 0
    return this.#order.deleteWhile(fromMin(range), toMax(range), (node) => this.#forget(node))
  }

  /** Removes the members in `range` by bytes; gives how many. */
  deleteLex(range: LexRange): number {
    if (emptyLex(range)) return 0
    if (this.#encoding === "listpack") {
      const start = this.#first(fromLexMin(range), toLexMax(range), true)
      return start === undefined ? 0 : this.#order.deleteFrom(start, toLexMax(range), (node) => this.#forget(node))
    }
    return this.#order.deleteWhile(fromLexMin(range), toLexMax(range), (node) => this.#forget(node))
  }

  /** Removes the members of 0-based ranks `start` to `stop` (within bounds); gives how many. */
  deleteRanks(start: number, stop: number): number {
    return this.#order.deleteRanks(start, stop, (node) => this.#forget(node))
  }

  /**
   * The order members are scanned in (`ZSCAN`): built on the first call,
   * from the members in score order, then kept as members come and go.
   */
  scanOrder(): ScanOrder<ByteString> {
    if (this.#scan === undefined) {
      const order = new ScanOrder<ByteString>()
      for (let node = this.first; node !== undefined; node = node.following) order.add(node.member)
      this.#scan = order
      this.grow(order.bytes)
    }
    return this.#scan
  }

  /**
   * The first node `reached` holds for, if `within` holds for it too; none
   * when the set's ends rule the range out, as Redis checks first. `linear`
   * walks from the head, as Redis walks a listpack: the same node when the
   * conditions are monotone, and Redis's node when they are not (bytes over
   * unequal scores).
   */
  #first(reached: Predicate, within: Predicate, linear: boolean): SkipNode | undefined {
    if (!this.#spans(reached, within)) return undefined
    let node = linear ? this.first : this.#order.firstWhere(reached)
    if (linear) while (node !== undefined && !reached(node)) node = node.following
    return node !== undefined && within(node) ? node : undefined
  }

  /** The last node `within` holds for, if `reached` holds for it too; as {@link #first}, from the tail. */
  #last(within: Predicate, reached: Predicate, linear: boolean): SkipNode | undefined {
    if (!this.#spans(reached, within)) return undefined
    let node = linear ? this.last : this.#order.lastWhere(within)
    if (linear) while (node !== undefined && !within(node)) node = node.previous
    return node !== undefined && reached(node) ? node : undefined
  }

  /** Whether the set's ends leave room for a range: its last node reached, its first within (`zslIsInRange`). */
  #spans(reached: Predicate, within: Predicate): boolean {
    const first = this.first
    const last = this.last
    return first !== undefined && last !== undefined && reached(last) && within(first)
  }

  /** Members from `first` to `last` by rank, Redis's way: from `first` to the end, less what follows `last`. */
  #count(first: SkipNode | undefined, last: SkipNode | undefined): number {
    if (first === undefined) return 0
    const count = this.size - this.#order.rank(first)
    return last === undefined ? count : count - (this.size - 1 - this.#order.rank(last))
  }

  /**
   * The node `offset` places on from `start`, by rank in O(log n). A
   * negative offset gives nothing: Redis steps that node on until it runs
   * off the end.
   */
  #skip(start: SkipNode | undefined, reverse: boolean, offset: number): SkipNode | undefined {
    if (start === undefined || offset === 0) return start
    if (offset < 0 || offset >= this.size) return undefined
    return this.#order.at(this.#order.rank(start) + (reverse ? -offset : offset))
  }

  /** Up to `limit` (negative: all) nodes from `start` on, while `within` holds. */
  #walk(start: SkipNode | undefined, reverse: boolean, limit: number, within: Predicate): Array<SkipNode> {
    const nodes: Array<SkipNode> = []
    for (let node = start; node !== undefined && nodes.length !== limit && within(node);) {
      nodes.push(node)
      node = reverse ? node.previous : node.following
    }
    return nodes
  }

  /** The score as the set's encoding holds it: a listpack holds -0 as the integer 0. */
  #stored(score: number): number {
    return this.#encoding === "listpack" && score === 0 ? 0 : score
  }

  /** Forgets a node already unlinked from the order. */
  #forget(node: SkipNode): void {
    this.#nodes.delete(node.member)
    this.grow(-memberBytes(node))
    this.#scanChange(() => this.#scan!.delete(node.member))
  }

  /** Runs a change of the scan order, if there is one, counting what it grows or shrinks by. */
  #scanChange(change: () => void): void {
    if (this.#scan === undefined) return
    const before = this.#scan.bytes
    change()
    this.grow(this.#scan.bytes - before)
  }
}
