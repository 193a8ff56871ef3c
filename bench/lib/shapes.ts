/**
 * The load shapes. A throughput shape is `CONNSxWINDOW` for echoload: CONNS
 * connections each keeping WINDOW lines in flight. `idle` holds ~10,000
 * silent connections open and samples 10x1 meanwhile. The others are not
 * run against every server: `stdio` pipes a large file through `fiberline
 * echo --stdio` and `cat`; `connections` holds as many connections as the
 * descriptor limit allows on fiberline (`connections.ts`); `redis` compares
 * `fiberline redis` with `redis-server` (`redis.ts`).
 */

/** Every shape, in report order. */
export const shapeNames = ["1x1", "50x1", "50x16", "1000x4", "idle", "stdio", "connections", "redis"] as const

/** One of {@link shapeNames}. */
export type ShapeName = (typeof shapeNames)[number]

/** Shapes run against every server. */
export type TcpShapeName = Exclude<ShapeName, "stdio" | "connections" | "redis">

/** Connections and window of the echoload run of each TCP shape (for `idle`, the sample taken under idle load). */
export const echoloadShape: Record<TcpShapeName, { readonly conns: number; readonly window: number }> = {
  "1x1": { conns: 1, window: 1 },
  "50x1": { conns: 50, window: 1 },
  "50x16": { conns: 50, window: 16 },
  "1000x4": { conns: 1000, window: 4 },
  idle: { conns: 10, window: 1 }
}

/** Narrows a shape name to the TCP shapes. */
export const isTcpShape = (shape: ShapeName): shape is TcpShapeName =>
  shape !== "stdio" && shape !== "connections" && shape !== "redis"
