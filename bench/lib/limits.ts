/**
 * The open-files limit. The idle shape needs ~10,000 descriptors in the bench
 * process (the client side) and as many in the server. Node raises its own
 * soft limit to the hard limit at startup, and the servers and echoload
 * inherit it from the bench, so only the hard limit matters; when it is too
 * low, the idle shape scales down.
 */
import { readFileSync } from "node:fs"

/** Soft and hard `RLIMIT_NOFILE` of this process. */
export interface FdLimit {
  readonly soft: number
  readonly hard: number
}

const parseLimit = (text: string | undefined): number =>
  text === undefined || text === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(text)

/** Reads this process's open-files limit from `/proc/self/limits`. */
export const fdLimit = (): FdLimit => {
  const line = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync("/proc/self/limits", "utf8"))
  return { soft: parseLimit(line?.[1]), hard: parseLimit(line?.[2]) }
}

/**
 * How many idle connections fit: both the bench (one descriptor per client
 * socket) and the server (one per accepted socket) share this limit, so keep
 * a margin for their other descriptors.
 */
export const idleConnectionsThatFit = (wanted: number): number => {
  const margin = 256
  return Math.max(0, Math.min(wanted, fdLimit().soft - margin))
}
