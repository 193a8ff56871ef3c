/**
 * The cursor of `HSCAN` and `SSCAN`, over containers kept by position
 * (`values/hash.ts`, `values/set.ts`), where removing an element moves the
 * last one into its place. It takes no index of its own (as `cursor.ts`'s
 * `ScanOrder` is for insertion-ordered maps): the cursor is a position, and
 * an iteration walks down from the top — its cursor is how many positions
 * are left to visit, each call takes the `COUNT` just below it.
 *
 * **Why that keeps Redis's guarantee** (every element present for the whole
 * iteration is returned at least once): an element moves only when it is the
 * last one and another is removed, and then only down, into the removed
 * one's place. So an element not yet visited — below the cursor — stays
 * below it until a call returns it. An element already visited may move
 * below the cursor and be returned again, which Redis allows. Elements added
 * during an iteration go on top, into the visited part, and may be missed,
 * which Redis allows too.
 *
 * @since 0.1.0
 */

/**
 * One call's positions: from `from` up to `to` (not included), and the
 * cursor to hand back (0: the iteration is over).
 *
 * @since 0.1.0
 */
export interface PositionPage {
  readonly from: number
  readonly to: number
  readonly cursor: number
}

/**
 * The positions a call with `cursor` (0 to start; a larger one than the
 * container now holds means its top) and `count` covers, in a container of
 * `size` elements.
 *
 * @since 0.1.0
 */
export const scanPositions = (size: number, cursor: number, count: number): PositionPage => {
  const to = cursor === 0 ? size : Math.min(cursor, size)
  const from = Math.max(0, to - count)
  return { from, to, cursor: from }
}
