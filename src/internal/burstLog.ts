/**
 * Logging for events a remote peer can cause at will (refusals, protocol
 * violations): the first event of a burst is reported at once, the rest are
 * counted and summarised at most once per interval, so a flood of them costs
 * a few log lines, never one per event.
 *
 * @internal
 */

/** Reports one kind of event; see the module doc. */
export class BurstLog {
  private readonly interval: number
  private readonly first: () => void
  private readonly summary: (count: number) => void
  private timer: ReturnType<typeof setTimeout> | undefined
  private countSinceLog = 0

  /**
   * `first` reports the first event of a burst; `summary` how many more
   * happened in the last interval. A burst ends after an interval with none.
   */
  constructor(intervalMillis: number, first: () => void, summary: (count: number) => void) {
    this.interval = intervalMillis
    this.first = first
    this.summary = summary
  }

  /**
   * Records one event: true when it is the first of a burst (the caller may
   * log it in full; `first` has run), false when it was counted for the
   * summary.
   */
  report(): boolean {
    if (this.timer === undefined) {
      this.first()
      this.arm()
      return true
    }
    this.countSinceLog++
    return false
  }

  /** Stops the timer; events counted since the last line are summarised now. */
  close(): void {
    if (this.timer === undefined) return
    clearTimeout(this.timer)
    this.timer = undefined
    this.flush()
  }

  private arm(): void {
    this.timer = setTimeout(this.tick, this.interval)
    this.timer.unref()
  }

  private flush(): boolean {
    if (this.countSinceLog === 0) return false
    const count = this.countSinceLog
    this.countSinceLog = 0
    this.summary(count)
    return true
  }

  private readonly tick = (): void => {
    this.timer = undefined
    if (this.flush()) this.arm()
  }
}
