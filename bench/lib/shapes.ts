/**
 * The load shapes. A throughput shape is `CONNSxWINDOW` for echoload: CONNS
 * connections each keeping WINDOW lines in flight. `idle` holds ~10,000
 * silent connections open and samples 10x1 meanwhile. `stdio` is not a TCP
 * shape: it pipes a large file through `fiberline echo --stdio` and `cat`.
 */

/** Every shape, in report order. */
export const shapeNames = ["1x1", "50x1", "50x16", "1000x4", "idle", "stdio"] as const

/** One of {@link shapeNames}. */
export type ShapeName = (typeof shapeNames)[number]

/** Shapes run against every server. */
export type TcpShapeName = Exclude<ShapeName, "stdio">

/** Connections and window of the echoload run of each TCP shape (for `idle`, the sample taken under idle load). */
export const echoloadShape: Record<TcpShapeName, { readonly conns: number; readonly window: number }> = {
  "1x1": { conns: 1, window: 1 },
  "50x1": { conns: 50, window: 1 },
  "50x16": { conns: 50, window: 16 },
  "1000x4": { conns: 1000, window: 4 },
  idle: { conns: 10, window: 1 }
}

/** Narrows a shape name to the TCP shapes. */
export const isTcpShape = (shape: ShapeName): shape is TcpShapeName => shape !== "stdio"
