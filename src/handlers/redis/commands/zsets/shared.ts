/**
 * What the sorted-set command modules share: typed access to the sorted set
 * at a key, the replies that list members with their scores (flat in RESP2,
 * as `ZRANGE … WITHSCORES`, or in pairs, as `ZMPOP`), and storing a computed
 * set under a destination key (`ZUNIONSTORE`, `ZRANGESTORE`).
 *
 * @since 0.1.0
 */
import type { ByteString } from "../../bytes.ts"
import type { CommandContext } from "../../command.ts"
import { formatDouble } from "../../double.ts"
import { WrongType } from "../../errors.ts"
import * as Reply from "../../reply.ts"
import { type SkipNode, SortedSet } from "../../values/zset.ts"

/**
 * The sorted set at `key`, or `undefined`; throws `WrongType` for another type.
 *
 * @since 0.1.0
 */
export const getSortedSet = (ctx: CommandContext, key: ByteString): SortedSet | undefined => {
  const value = ctx.keyspace.get(key)
  if (value === undefined || value instanceof SortedSet) return value
  throw new WrongType()
}

/**
 * A member and its score, as the commands that compute sets hold them.
 *
 * @since 0.1.0
 */
export interface Scored {
  readonly member: ByteString
  readonly score: number
}

/**
 * The members of `nodes`, each followed by its score when `withScores`, as
 * one flat array of bulk strings.
 *
 * @since 0.1.0
 */
export const membersReply = (nodes: ReadonlyArray<Scored>, withScores: boolean): Uint8Array => {
  const items: Array<ByteString> = []
  for (const node of nodes) {
    items.push(node.member)
    if (withScores) items.push(formatDouble(node.score))
  }
  return Reply.bulkArray(items)
}

/**
 * `[key, [[member, score], …]]`: what `ZMPOP` and `BZMPOP` reply.
 *
 * @since 0.1.0
 */
export const keyedPairsReply = (key: ByteString, nodes: ReadonlyArray<Scored>): Uint8Array =>
  Reply.array([
    Reply.bulk(key),
    Reply.array(nodes.map((node) => Reply.bulkArray([node.member, formatDouble(node.score)])))
  ])

/**
 * Removes up to `count` members from the low end (or the high end, `max`)
 * of the set at `key`, deleting the key when it empties; gives them in the
 * order taken.
 *
 * @since 0.1.0
 */
export const pop = (
  ctx: CommandContext,
  key: ByteString,
  set: SortedSet,
  max: boolean,
  count: number
): Array<Scored> => {
  const taken: Array<Scored> = []
  while (taken.length < count) {
    const node: SkipNode | undefined = max ? set.last : set.first
    if (node === undefined) break
    taken.push({ member: node.member, score: node.score })
    set.delete(node.member)
  }
  if (set.size === 0) ctx.keyspace.delete(key)
  return taken
}

/**
 * Stores `set` under `destination` — or, when it is empty, deletes
 * `destination` — and replies its size, as Redis's `*STORE` commands do.
 *
 * @since 0.1.0
 */
export const store = (ctx: CommandContext, destination: ByteString, set: SortedSet): Uint8Array => {
  if (set.size === 0) {
    ctx.keyspace.delete(destination)
    return Reply.zero
  }
  ctx.keyspace.set(destination, set)
  return Reply.integer(set.size)
}
