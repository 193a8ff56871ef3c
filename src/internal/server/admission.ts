/**
 * Admission of accepted sockets: the connection limit, the queue of sockets
 * waiting for a slot, and refusals.
 *
 * **Why a queue in the process.** Node cannot stop calling `accept(2)`
 * without closing the listener, so with `whenFull: "queue"` the waiting
 * sockets are held here rather than in the kernel backlog: paused, so no byte
 * is read and the client sees TCP backpressure, and bounded by `backlog`;
 * beyond it connections are refused.
 *
 * **Why refusals close gracefully, but not all of them.** A refused client
 * is sent the busy line and a FIN with a lingering close, so the line is not
 * lost to a reset; but a flood of refusals must not pile up descriptors, so
 * at most `maxClosingRefusals` linger at once and the rest are reset.
 *
 * @internal
 */
import type * as Net from "node:net"
import { constVoid } from "effect/Function"
import * as Endpoint from "../io/transport.ts"

/** What to do with a connection beyond the limit. */
export type WhenFull = "refuse" | "queue"

/** Settings of an {@link Admission}. */
export interface AdmissionOptions {
  /** Connections served at once (`Infinity`: no limit). */
  readonly maxConnections: number
  /** Refused connections still closing gracefully at once, at most; beyond, they are reset. */
  readonly maxClosingRefusals: number
  readonly whenFull: WhenFull
  /** Longest queue. */
  readonly backlog: number
  /** Sent to a refused client before closing, with its `\n`. */
  readonly busyLine: string | undefined
  /** Closes a refused socket gracefully (lingering), then calls `done`. */
  readonly closeRefused: (socket: Net.Socket, done: () => void) => void
  /**
   * Called for every refused socket: `full` when refused for want of a slot,
   * `shutdown` when dropped from the queue by shutdown.
   */
  readonly onRefused: (why: "full" | "shutdown") => void
}

/** Decides which accepted sockets are served now, later, or not at all. */
export class Admission {
  /** Connections being served now. */
  active = 0
  private readonly options: AdmissionOptions
  private readonly queue: Array<Net.Socket> = []
  private readonly closingRefusals = new Set<Net.Socket>()
  private closed = false

  constructor(options: AdmissionOptions) {
    this.options = options
  }

  /**
   * Takes a newly accepted socket: true when it is to be served now (it then
   * counts as active), false when it was queued or refused.
   */
  admit(socket: Net.Socket): boolean {
    if (this.closed) {
      Endpoint.abort(socket)
      return false
    }
    if (this.active < this.options.maxConnections) {
      this.active++
      return true
    }
    if (this.options.whenFull === "queue" && this.queue.length < this.options.backlog) {
      socket.on("error", constVoid)
      socket.once("close", () => {
        const index = this.queue.indexOf(socket)
        if (index !== -1) this.queue.splice(index, 1)
      })
      this.queue.push(socket)
      return false
    }
    this.refuse(socket)
    return false
  }

  /**
   * A served connection ended: frees its slot and returns the queued sockets
   * to serve now (each already counted as active).
   */
  release(): Array<Net.Socket> {
    this.active--
    const ready: Array<Net.Socket> = []
    while (!this.closed && this.active < this.options.maxConnections && this.queue.length > 0) {
      const socket = this.queue.shift()!
      if (socket.destroyed) continue
      this.active++
      ready.push(socket)
    }
    return ready
  }

  /**
   * Shutdown: from now on every socket is destroyed; queued ones are refused
   * (destroyed) and lingering refusals are cut short.
   */
  close(): void {
    this.closed = true
    this.closingRefusals.forEach((socket) => socket.destroy())
    for (const socket of this.queue.splice(0)) {
      this.options.onRefused("shutdown")
      Endpoint.abort(socket)
    }
  }

  private refuse(socket: Net.Socket): void {
    this.options.onRefused("full")
    if (this.closingRefusals.size >= this.options.maxClosingRefusals) return Endpoint.abort(socket)
    this.closingRefusals.add(socket)
    const busyLine = this.options.busyLine
    if (busyLine !== undefined && !socket.destroyed) socket.write(busyLine)
    this.options.closeRefused(socket, () => this.closingRefusals.delete(socket))
  }
}
