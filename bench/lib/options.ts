/**
 * Command-line options of `node bench/run.ts`, with defaults and validation.
 */
import { resolve } from "node:path"
import { parseArgs } from "node:util"
import { serverNames, type ServerName } from "./servers.ts"
import { shapeNames, type ShapeName } from "./shapes.ts"

/** Everything a bench run is configured by. */
export interface BenchOptions {
  /** Interleaved repetitions; medians are over these. */
  readonly runs: number
  /** Seconds per echoload run of a throughput shape (the first tenth is warm-up). */
  readonly seconds: number
  /** Seconds of the echoload sample taken while the idle connections are open. */
  readonly idleSeconds: number
  /** Idle connections the idle shape tries to hold open (scaled down to the fd limit). */
  readonly idleConnections: number
  /** Size of the generated input of the stdio measurement, in MiB. */
  readonly stdioMiB: number
  readonly servers: ReadonlyArray<ServerName>
  readonly shapes: ReadonlyArray<ShapeName>
  /** With `--compare DIR`: the absolute path of another build's `dist/`, run as `fiberline-before`. */
  readonly compare?: string
}

/** The text printed by `--help`. */
export const usage = `Usage: node bench/run.ts [flags]   (or: npm run bench -- [flags])

  --runs N          interleaved repetitions, medians over them (default 3)
  --seconds S       seconds per throughput run; first tenth is warm-up (default 4)
  --idle-seconds S  seconds of the echoload sample under idle load (default 3)
  --idle-conns N    idle connections to hold open (default 10000)
  --stdio-mb N      size of the generated stdio input in MiB (default 256)
  --only LIST       servers, comma-separated (default all): ${serverNames.join(",")}
  --shapes LIST     shapes, comma-separated (default all): ${shapeNames.join(",")}
  --compare DIR     also run the fiberline build in DIR (another checkout's dist/) as
                    fiberline-before, interleaved with the rest (redis.ts too)
  --help            this text
`

const positiveNumber = (flag: string, text: string | undefined, fallback: number, integer: boolean): number => {
  if (text === undefined) return fallback
  const value = Number(text)
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new Error(`--${flag} must be a positive ${integer ? "integer" : "number"}, got "${text}"`)
  }
  return value
}

const subset = <A extends string>(flag: string, text: string | undefined, all: ReadonlyArray<A>): ReadonlyArray<A> => {
  if (text === undefined) return all
  const wanted = text.split(",").map((item) => item.trim()).filter((item) => item.length > 0)
  const unknown = wanted.filter((item) => !all.includes(item as A))
  if (unknown.length > 0 || wanted.length === 0) {
    throw new Error(`--${flag}: unknown or empty "${unknown.join(",")}"; choose from ${all.join(",")}`)
  }
  // Keep the canonical order whatever order the flag lists them in.
  return all.filter((item) => wanted.includes(item))
}

/**
 * Parses the command line; returns `undefined` when `--help` was asked for.
 * Throws an `Error` with a readable message on a bad flag.
 */
export const parseOptions = (argv: ReadonlyArray<string>): BenchOptions | undefined => {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      runs: { type: "string" },
      seconds: { type: "string" },
      "idle-seconds": { type: "string" },
      "idle-conns": { type: "string" },
      "stdio-mb": { type: "string" },
      only: { type: "string" },
      shapes: { type: "string" },
      compare: { type: "string" },
      help: { type: "boolean" }
    }
  })
  if (values.help === true) return undefined
  const compare = values.compare === undefined ? undefined : resolve(values.compare)
  // fiberline-before is the build named by --compare: without one there is nothing to run.
  const available = serverNames.filter((name) => compare !== undefined || name !== "fiberline-before")
  if (compare === undefined && values.only?.split(",").some((name) => name.trim() === "fiberline-before")) {
    throw new Error("--only: fiberline-before needs --compare DIR (the build to run under that name)")
  }
  return {
    runs: positiveNumber("runs", values.runs, 3, true),
    seconds: positiveNumber("seconds", values.seconds, 4, false),
    idleSeconds: positiveNumber("idle-seconds", values["idle-seconds"], 3, false),
    idleConnections: positiveNumber("idle-conns", values["idle-conns"], 10_000, true),
    stdioMiB: positiveNumber("stdio-mb", values["stdio-mb"], 256, true),
    servers: subset("only", values.only, available),
    shapes: subset("shapes", values.shapes, shapeNames),
    ...(compare === undefined ? {} : { compare })
  }
}
