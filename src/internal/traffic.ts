/**
 * Traffic counters (lines and bytes in and out) as plain numbers that the
 * per-line path increments, exposed as the `ServerMetrics` traffic counters
 * by registering read hooks in the metric registry. Nothing on the hot path
 * touches the registry, and a scrape always sees the current totals.
 *
 * One set of counters exists per metric registry, so an app (or a test) with
 * its own registry gets its own totals. Servers sharing a registry share the
 * totals, whatever metric attributes their contexts carry.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Metric from "effect/Metric"
import * as ServerMetrics from "../services/ServerMetrics.ts"

/** Running totals of all connections that report to one registry. */
export interface Traffic {
  linesRead: number
  linesWritten: number
  bytesRead: number
  bytesWritten: number
}

const byRegistry = new WeakMap<Metric.MetricRegistry, Traffic>()

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

/**
 * Registers every fiberline metric in the registry of `context` (at zero),
 * so a scrape lists them all from the start, not only after the first
 * connection.
 */
export const registerAll = (context: Context.Context<never>): void => {
  ServerMetrics.connectionsActive.modifyUnsafe(0, context)
  ServerMetrics.connectionsAccepted.updateUnsafe(0, context)
  ServerMetrics.connectionsRefused.updateUnsafe(0, context)
  ServerMetrics.descriptorsExhausted.updateUnsafe(0, context)
  for (const reason of ServerMetrics.closeReasons) ServerMetrics.connectionsClosed[reason].updateUnsafe(0, context)
  trafficFor(context)
}

/** The counters of the registry in `context`, registered on first use. */
export const trafficFor = (context: Context.Context<never>): Traffic => {
  const registry = Context.get(context, Metric.MetricRegistry)
  const existing = byRegistry.get(registry)
  if (existing !== undefined) return existing
  const traffic: Traffic = { linesRead: 0, linesWritten: 0, bytesRead: 0, bytesWritten: 0 }
  byRegistry.set(registry, traffic)
  expose(ServerMetrics.linesRead, context, () => traffic.linesRead)
  expose(ServerMetrics.linesWritten, context, () => traffic.linesWritten)
  expose(ServerMetrics.bytesRead, context, () => traffic.bytesRead)
  expose(ServerMetrics.bytesWritten, context, () => traffic.bytesWritten)
  return traffic
}
