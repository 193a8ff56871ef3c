/**
 * Building and running `echoload`, the project's C load generator
 * (`bench/echoload.c`; the cross-check builds the shared one too). Its one
 * output line is `lines_per_s N mb_per_s N p50_us N p99_us N errors N conns N
 * window N`; it exits 1 on any wrong line, and its first tenth is warm-up.
 */
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { buildDir, echoloadSource } from "./paths.ts"
import { runCommand } from "./processes.ts"

/** Where {@link buildEchoload} puts the project's binary by default. */
export const echoloadBinary = join(buildDir, "echoload")

/** Compiles `source` (default `bench/echoload.c`) with `gcc -O2` into `binary`; throws with gcc's output on failure. */
export const buildEchoload = async (source = echoloadSource, binary = echoloadBinary): Promise<void> => {
  mkdirSync(buildDir, { recursive: true })
  const result = await runCommand("gcc", ["-O2", "-o", binary, source], { timeoutMs: 60_000 })
  if (result.code !== 0) throw new Error(`gcc failed on ${source}:\n${result.stderr}`)
}

/** One echoload run's numbers (measured after its warm-up tenth). */
export interface EcholoadNumbers {
  readonly linesPerS: number
  readonly mbPerS: number
  readonly p50Us: number
  readonly p99Us: number
  /** Mismatched, missing or reset lines counted by echoload; 0 on a correct run. */
  readonly errors: number
}

/** Either numbers, or why there are none. */
export type EcholoadOutcome =
  | { readonly ok: true; readonly numbers: EcholoadNumbers }
  | { readonly ok: false; readonly reason: string }

const OUTPUT = /lines_per_s (\d+) mb_per_s ([\d.]+) p50_us (\d+) p99_us (\d+) errors (\d+)/

/** Runs echoload (`binary`, the project's by default) against 127.0.0.1:`port`, killing it if it overruns its duration by 30 s. */
export const runEchoload = async (
  port: number,
  conns: number,
  window: number,
  seconds: number,
  binary = echoloadBinary
): Promise<EcholoadOutcome> => {
  const result = await runCommand(
    binary,
    ["127.0.0.1", String(port), String(conns), String(window), String(seconds)],
    { timeoutMs: seconds * 1000 + 30_000 }
  )
  const match = OUTPUT.exec(result.stdout)
  if (result.timedOut) return { ok: false, reason: "echoload timed out" }
  if (match === null) {
    const why = result.stderr.trim().split("\n").slice(0, 3).join("; ")
    return { ok: false, reason: `echoload exited ${result.code ?? result.signal}: ${why || "no output"}` }
  }
  return {
    ok: true,
    numbers: {
      linesPerS: Number(match[1]),
      mbPerS: Number(match[2]),
      p50Us: Number(match[3]),
      p99Us: Number(match[4]),
      errors: Number(match[5])
    }
  }
}
