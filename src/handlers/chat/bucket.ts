/**
 * A token bucket, the chat's rate limit for one member: it holds up to
 * `capacity` tokens, starts full, and gains one every `interval`
 * milliseconds; each limited act takes one. The caller passes the time
 * (from Effect's `Clock`), so the bucket is plain arithmetic, and a test
 * moves time with the `TestClock`.
 *
 * @since 0.1.0
 */

/**
 * One member's allowance for one kind of act.
 *
 * @since 0.1.0
 */
export interface TokenBucket {
  /** Takes a token at `now` (milliseconds): `true`, or `false` when none is left, with nothing taken. */
  readonly take: (now: number) => boolean
  /** Milliseconds from `now` until a token is there: 0 when one is. */
  readonly wait: (now: number) => number
  /** Gives back a token taken for an act that did not happen after all. */
  readonly refund: () => void
}

/**
 * A full bucket of `capacity` tokens gaining one every `interval`
 * milliseconds.
 *
 * @since 0.1.0
 */
export const make = (capacity: number, interval: number): TokenBucket => {
  let tokens = capacity
  let since: number | undefined
  const refill = (now: number) => {
    // A clock set back gives nothing, and takes nothing either.
    tokens = Math.min(capacity, tokens + Math.max(0, now - (since ?? now)) / interval)
    since = now
  }
  return {
    take: (now) => {
      refill(now)
      if (tokens < 1) return false
      tokens -= 1
      return true
    },
    wait: (now) => {
      refill(now)
      return tokens >= 1 ? 0 : Math.ceil((1 - tokens) * interval)
    },
    refund: () => {
      tokens = Math.min(capacity, tokens + 1)
    }
  }
}
