/**
 * The metric series one server updates (`ServerMetrics`), and the traffic
 * counters of its connections.
 *
 * A named server's series carry the attribute `server`: its updates go
 * through a context whose `CurrentMetricAttributes` add it, made once per
 * server, so an update costs what an unnamed server's does.
 *
 * The traffic counters (lines and bytes in and out) are plain numbers that
 * the per-line path increments, exposed as the `ServerMetrics` traffic
 * counters by registering read hooks in the metric registry: nothing on the
 * hot path touches the registry, and a scrape always sees the current
 * totals. One set of counters exists per registry and attribute set, so
 * servers (and clients) that report to one registry under the same
 * attributes share their totals, and a server of another name has its own.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Metric from "effect/Metric"
import * as ServerMetrics from "../ServerMetrics.ts"

/** Running totals of the connections that report to one registry under one attribute set. */
export interface Traffic {
  linesRead: number
  linesWritten: number
  bytesRead: number
  bytesWritten: number
}

/** The traffic counters of each registry, by the attribute set they are exported under. */
const byRegistry = new WeakMap<Metric.MetricRegistry, Map<string, Traffic>>()

const expose = (
  metric: Metric.Metric<number, Metric.CounterState<number>>,
  context: Context.Context<never>,
  read: () => number
): void => {
  Metric.registerUnsafe(metric, context, {
    get: () => ({ count: read(), incremental: true }),
    update: () => {},
    modify: () => {}
  })
}

/** The attributes of `context`, in a stable order, as one key. */
const attributesKey = (context: Context.Context<never>): string =>
  JSON.stringify(Object.entries(Context.get(context, Metric.CurrentMetricAttributes)).toSorted(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))

/** The traffic counters of the registry and attributes of `context`, registered on first use. */
export const trafficFor = (context: Context.Context<never>): Traffic => {
  const registry = Context.get(context, Metric.MetricRegistry)
  let counters = byRegistry.get(registry)
  if (counters === undefined) byRegistry.set(registry, counters = new Map())
  const key = attributesKey(context)
  const existing = counters.get(key)
  if (existing !== undefined) return existing
  const traffic: Traffic = { linesRead: 0, linesWritten: 0, bytesRead: 0, bytesWritten: 0 }
  counters.set(key, traffic)
  expose(ServerMetrics.linesRead, context, () => traffic.linesRead)
  expose(ServerMetrics.linesWritten, context, () => traffic.linesWritten)
  expose(ServerMetrics.bytesRead, context, () => traffic.bytesRead)
  expose(ServerMetrics.bytesWritten, context, () => traffic.bytesWritten)
  return traffic
}

/** What one server records; see the module doc. */
export class ServerSeries {
  /** The traffic counters its connections increment. */
  readonly traffic: Traffic
  /** The server's context, with the `server` attribute when it has a name. */
  private readonly context: Context.Context<never>

  /**
   * The series of a server named `name` (or unnamed), in the registry of
   * `context`: every one is registered at once, at zero, so a scrape lists
   * them all from the start, not only after the first connection.
   */
  constructor(context: Context.Context<never>, name: string | undefined) {
    this.context = name === undefined
      ? context
      : Context.add(context, Metric.CurrentMetricAttributes, { ...Context.get(context, Metric.CurrentMetricAttributes), server: name })
    ServerMetrics.connectionsActive.modifyUnsafe(0, this.context)
    ServerMetrics.connectionsAccepted.updateUnsafe(0, this.context)
    ServerMetrics.connectionsRefused.updateUnsafe(0, this.context)
    ServerMetrics.descriptorsExhausted.updateUnsafe(0, this.context)
    for (const reason of ServerMetrics.closeReasons) ServerMetrics.connectionsClosed[reason].updateUnsafe(0, this.context)
    // Reading a histogram registers it without recording a value.
    ServerMetrics.connectionDuration.valueUnsafe(this.context)
    this.traffic = trafficFor(this.context)
  }

  /** A connection was accepted and handed on (it is active until {@link released}). */
  accepted(): void {
    ServerMetrics.connectionsAccepted.updateUnsafe(1, this.context)
    ServerMetrics.connectionsActive.modifyUnsafe(1, this.context)
  }

  /** A connection ended, for `reason`. */
  closed(reason: ServerMetrics.CloseReason): void {
    ServerMetrics.connectionsClosed[reason].updateUnsafe(1, this.context)
  }

  /** A connection accepted `lifeMillis` ago is fully released. */
  released(lifeMillis: number): void {
    ServerMetrics.connectionsActive.modifyUnsafe(-1, this.context)
    ServerMetrics.connectionDuration.updateUnsafe(lifeMillis / 1000, this.context)
  }

  /** A connection was refused for want of a slot (or dropped from the queue at shutdown). */
  refused(): void {
    ServerMetrics.connectionsRefused.updateUnsafe(1, this.context)
  }

  /** The process was found out of file descriptors. */
  descriptorsExhausted(): void {
    ServerMetrics.descriptorsExhausted.updateUnsafe(1, this.context)
  }
}
