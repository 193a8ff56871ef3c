/**
 * Idle connections for the idle shape, opened from the bench process with
 * `node:net` in batches: each batch waits until the server has accepted it
 * (its descriptor count grew), so the kernel accept backlog never overflows
 * (an overflow would stall clients on SYN retransmits rather than fail).
 */
// oxlint-disable no-await-in-loop -- batches are opened one after another on purpose, to spare the accept backlog
import * as Net from "node:net"

/** Idle client sockets held open against a server. */
export interface IdleConnections {
  /** Sockets connected. */
  readonly opened: number
  /** Connect attempts that failed. */
  readonly failed: number
  /** Wall time to open them all, in milliseconds. */
  readonly openMs: number
  /** Sockets the server closed (or reset) while they were held. */
  readonly closedByServer: () => number
  /** Destroys every socket and waits until they are all closed (bounded). */
  readonly close: () => Promise<void>
}

const CONNECT_TIMEOUT_MS = 10_000

const connectOne = (port: number, sockets: Array<Net.Socket>, onClose: () => void): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = Net.connect({ port, host: "127.0.0.1" })
    // Bounds a connect whose SYN is dropped (the kernel would retry for minutes).
    const timer = setTimeout(() => {
      socket.destroy()
      resolve(false)
    }, CONNECT_TIMEOUT_MS)
    socket.once("connect", () => {
      clearTimeout(timer)
      sockets.push(socket)
      socket.once("close", onClose)
      resolve(true)
    })
    socket.on("error", () => {
      clearTimeout(timer)
      resolve(false)
    })
    // The server ended the connection: let go of our side too.
    socket.once("end", () => socket.destroy())
  })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Opens `count` connections to 127.0.0.1:`port`, `batch` at a time. After
 * each batch it waits (up to 5 s) until `accepted()` reports all but half a
 * batch accepted, which leaves room in a 511-deep backlog for the next
 * batch; it gives up opening more after `deadlineMs`.
 */
export const openIdleConnections = async (
  port: number,
  count: number,
  accepted: () => number | undefined,
  options: { readonly batch: number; readonly deadlineMs: number }
): Promise<IdleConnections> => {
  const started = performance.now()
  const sockets: Array<Net.Socket> = []
  let failed = 0
  let closedByServer = 0
  let closing = false
  const onClose = () => {
    if (!closing) closedByServer++
  }
  while (sockets.length + failed < count && performance.now() - started < options.deadlineMs) {
    const size = Math.min(options.batch, count - sockets.length - failed)
    const results = await Promise.all(Array.from({ length: size }, () => connectOne(port, sockets, onClose)))
    failed += results.filter((ok) => !ok).length
    const acceptDeadline = performance.now() + 5_000
    const enough = sockets.length - options.batch / 2
    while ((accepted() ?? Infinity) < enough && performance.now() < acceptDeadline) await sleep(10)
  }
  return {
    opened: sockets.length,
    failed,
    openMs: performance.now() - started,
    closedByServer: () => closedByServer,
    close: async () => {
      closing = true
      for (const socket of sockets) socket.destroy()
      const deadline = performance.now() + 10_000
      while (sockets.some((socket) => !socket.closed) && performance.now() < deadline) await sleep(20)
    }
  }
}
