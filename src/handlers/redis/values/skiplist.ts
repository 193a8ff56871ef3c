/**
 * The ordered index of a sorted set: a skip list (Pugh) of members ordered by
 * score, then by their bytes, as Redis's `t_zset.c` keeps it. Each forward
 * link records its span — how many positions it jumps — so finding a
 * member's rank, the member at a rank, and the first or last member a
 * monotone condition holds for all take O(log n) expected steps; insert and
 * delete too. Backward links walk it in reverse.
 *
 * (Past 300 lines: insert, delete, rank and every range walk share one
 * search path and its scratch arrays, which keeps them in one module.)
 *
 * It holds no map: the sorted set beside it finds a member's node by name,
 * and hands the node back to move or delete it.
 *
 * @since 0.1.0
 */
import type { ByteString } from "../bytes.ts"

/** Redis's `ZSKIPLIST_MAXLEVEL` and `ZSKIPLIST_P`: enough levels for 2^64 elements at p = 1/4. */
const maxLevel = 32
const promotion = 0.25

/**
 * One member in a {@link SkipList}.
 *
 * @since 0.1.0
 */
export class SkipNode {
  /** The member's bytes. */
  readonly member: ByteString
  /** Its score; changed only by {@link SkipList.move}. */
  score: number
  /** The previous node, `undefined` for the first. */
  previous: SkipNode | undefined = undefined
  /** How many levels it is linked at (1 for three nodes in four). */
  readonly levels: number
  // Level 0 in fields of its own, the levels above in arrays only for the
  // nodes that have them: about 90 bytes less per member than two arrays each.
  #next: SkipNode | undefined = undefined
  #span = 0
  readonly #upperNext: Array<SkipNode | undefined> | undefined
  readonly #upperSpan: Array<number> | undefined

  constructor(member: ByteString, score: number, levels: number) {
    this.member = member
    this.score = score
    this.levels = levels
    this.#upperNext = levels > 1 ? Array.from({ length: levels - 1 }) : undefined
    this.#upperSpan = levels > 1 ? Array.from({ length: levels - 1 }, () => 0) : undefined
  }

  /** The node after it in order, or `undefined` for the last. */
  get following(): SkipNode | undefined {
    return this.#next
  }

  /** The next node at `level` (below {@link levels}). */
  next(level: number): SkipNode | undefined {
    return level === 0 ? this.#next : this.#upperNext![level - 1]
  }

  /** How many positions the link at `level` moves forward. */
  span(level: number): number {
    return level === 0 ? this.#span : this.#upperSpan![level - 1]!
  }

  /** Links it at `level` to `node`, `span` positions on. */
  link(level: number, node: SkipNode | undefined, span: number): void {
    if (level === 0) {
      this.#next = node
      this.#span = span
    } else {
      this.#upperNext![level - 1] = node
      this.#upperSpan![level - 1] = span
    }
  }

  /** Changes the span of the link at `level` by `delta`. */
  stretch(level: number, delta: number): void {
    if (level === 0) this.#span += delta
    else this.#upperSpan![level - 1]! += delta
  }
}

/** Whether `node` comes strictly before (score, member) in the order. */
const isBefore = (node: SkipNode, score: number, member: ByteString): boolean =>
  node.score < score || (node.score === score && node.member < member)

/** Whether `node` comes strictly after (score, member) in the order. */
const isAfter = (node: SkipNode, score: number, member: ByteString): boolean =>
  node.score > score || (node.score === score && node.member > member)

/**
 * Members in order of (score, bytes), each at most once (the caller makes
 * sure of it).
 *
 * @since 0.1.0
 */
export class SkipList {
  readonly #head = new SkipNode("", 0, maxLevel)
  #tail: SkipNode | undefined = undefined
  #levels = 1
  #length = 0
  // Scratch for the nodes that precede a position at each level, and their ranks.
  readonly #update: Array<SkipNode> = Array.from({ length: maxLevel }, () => this.#head)
  readonly #ranks: Array<number> = Array.from({ length: maxLevel }, () => 0)

  /** Number of members. */
  get length(): number {
    return this.#length
  }

  /** The first node in order, or `undefined` when empty. */
  get first(): SkipNode | undefined {
    return this.#head.following
  }

  /** The last node in order, or `undefined` when empty. */
  get last(): SkipNode | undefined {
    return this.#tail
  }

  /** Inserts `member` (which must not be in the list) with `score`; gives its node. */
  insert(member: ByteString, score: number): SkipNode {
    let levels = 1
    while (levels < maxLevel && Math.random() < promotion) levels++
    const node = new SkipNode(member, score, levels)
    this.#link(node)
    return node
  }

  /** Removes `node`, which must be in the list. */
  delete(node: SkipNode): void {
    this.#find(node.score, node.member)
    this.#unlink(node)
  }

  /**
   * Gives `node` the score `score`, moving it to its new place; in place
   * when it stays between its neighbours, as Redis's `zslUpdateScore`.
   */
  move(node: SkipNode, score: number): void {
    const before = node.previous
    const after = node.following
    if ((before === undefined || before.score < score) && (after === undefined || after.score > score)) {
      node.score = score
      return
    }
    this.delete(node)
    node.score = score
    this.#link(node)
  }

  /** The 0-based rank of `node`, which must be in the list. */
  rank(node: SkipNode): number {
    let rank = 0
    let x = this.#head
    for (let i = this.#levels - 1; i >= 0; i--) {
      for (let f = x.next(i); f !== undefined && !isAfter(f, node.score, node.member); f = x.next(i)) {
        rank += x.span(i)
        x = f
      }
      if (x === node) break
    }
    return rank - 1
  }

  /** The node at 0-based `rank`, or `undefined` past the end. */
  at(rank: number): SkipNode | undefined {
    if (rank < 0 || rank >= this.#length) return undefined
    let traversed = 0
    let x = this.#head
    for (let i = this.#levels - 1; i >= 0; i--) {
      for (let f = x.next(i); f !== undefined && traversed + x.span(i) <= rank + 1; f = x.next(i)) {
        traversed += x.span(i)
        x = f
      }
      if (traversed === rank + 1) return x
    }
    return undefined
  }

  /**
   * The first node for which `reached` holds, given that it holds from some
   * node to the end (`score >= min`); `undefined` if it holds for none.
   */
  firstWhere(reached: (node: SkipNode) => boolean): SkipNode | undefined {
    return this.#before(reached).following
  }

  /**
   * The last node for which `within` holds, given that it holds from the
   * start to some node (`score <= max`); `undefined` if it holds for none.
   */
  lastWhere(within: (node: SkipNode) => boolean): SkipNode | undefined {
    let x = this.#head
    for (let i = this.#levels - 1; i >= 0; i--) {
      for (let f = x.next(i); f !== undefined && within(f); f = x.next(i)) x = f
    }
    return x === this.#head ? undefined : x
  }

  /**
   * Removes the run of nodes that starts at the first for which `reached`
   * holds (as {@link firstWhere}) and goes on while `within` holds, calling
   * `removed` with each; gives how many. O(log n + removed).
   */
  deleteWhile(
    reached: (node: SkipNode) => boolean,
    within: (node: SkipNode) => boolean,
    removed: (node: SkipNode) => void
  ): number {
    return this.#deleteRun(this.#before(reached).following, within, removed)
  }

  /** Removes the run of nodes from `start` (in the list) on while `within` holds, as {@link deleteWhile}. */
  deleteFrom(start: SkipNode, within: (node: SkipNode) => boolean, removed: (node: SkipNode) => void): number {
    this.#find(start.score, start.member)
    return this.#deleteRun(start, within, removed)
  }

  /** Removes nodes from `start` on while `within` holds, with the scratch path filled with the nodes before `start`. */
  #deleteRun(
    start: SkipNode | undefined,
    within: (node: SkipNode) => boolean,
    removed: (node: SkipNode) => void
  ): number {
    let x = start
    let count = 0
    while (x !== undefined && within(x)) {
      const next = x.following
      this.#unlink(x)
      removed(x)
      count++
      x = next
    }
    return count
  }

  /** Removes the nodes of 0-based ranks `start` to `stop` (within bounds), calling `removed` with each. */
  deleteRanks(start: number, stop: number, removed: (node: SkipNode) => void): number {
    let traversed = 0
    let x = this.#head
    for (let i = this.#levels - 1; i >= 0; i--) {
      for (let f = x.next(i); f !== undefined && traversed + x.span(i) <= start; f = x.next(i)) {
        traversed += x.span(i)
        x = f
      }
      this.#update[i] = x
    }
    let node = x.following
    let count = 0
    for (let rank = start; node !== undefined && rank <= stop; rank++) {
      const next: SkipNode | undefined = node.following
      this.#unlink(node)
      removed(node)
      count++
      node = next
    }
    return count
  }

  /** The last node (or the head) before every node `reached` holds for; fills the scratch path. */
  #before(reached: (node: SkipNode) => boolean): SkipNode {
    let x = this.#head
    for (let i = this.#levels - 1; i >= 0; i--) {
      for (let f = x.next(i); f !== undefined && !reached(f); f = x.next(i)) x = f
      this.#update[i] = x
    }
    return x
  }

  /** Fills the scratch path (and ranks) with the last nodes before (score, member) at each level. */
  #find(score: number, member: ByteString): void {
    let x = this.#head
    for (let i = this.#levels - 1; i >= 0; i--) {
      let rank = i === this.#levels - 1 ? 0 : this.#ranks[i + 1]!
      for (let f = x.next(i); f !== undefined && isBefore(f, score, member); f = x.next(i)) {
        rank += x.span(i)
        x = f
      }
      this.#ranks[i] = rank
      this.#update[i] = x
    }
  }

  /** Links `node` (not in the list) at its place, at the levels its arrays have. */
  #link(node: SkipNode): void {
    this.#find(node.score, node.member)
    const update = this.#update
    const ranks = this.#ranks
    const levels = node.levels
    if (levels > this.#levels) {
      for (let i = this.#levels; i < levels; i++) {
        ranks[i] = 0
        update[i] = this.#head
        this.#head.link(i, undefined, this.#length)
      }
      this.#levels = levels
    }
    for (let i = 0; i < levels; i++) {
      const before = update[i]!
      const passed = ranks[0]! - ranks[i]!
      node.link(i, before.next(i), before.span(i) - passed)
      before.link(i, node, passed + 1)
    }
    for (let i = levels; i < this.#levels; i++) update[i]!.stretch(i, 1)
    node.previous = update[0] === this.#head ? undefined : update[0]
    const after = node.following
    if (after === undefined) this.#tail = node
    else after.previous = node
    this.#length++
  }

  /** Unlinks `node`, with the scratch path filled with the nodes before it. */
  #unlink(node: SkipNode): void {
    const update = this.#update
    for (let i = 0; i < this.#levels; i++) {
      const before = update[i]!
      if (before.next(i) === node) before.link(i, node.next(i), before.span(i) + node.span(i) - 1)
      else before.stretch(i, -1)
    }
    const after = node.following
    if (after === undefined) this.#tail = node.previous
    else after.previous = node.previous
    while (this.#levels > 1 && this.#head.next(this.#levels - 1) === undefined) this.#levels--
    this.#length--
  }
}
