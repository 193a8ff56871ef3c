/**
 * The parameters `CONFIG GET` reports and `CONFIG SET` changes, under
 * Redis's names, with Redis's checks and words for bad values.
 *
 * Three kinds, and each says which it is:
 *
 * - **Real**: `maxmemory`, `proto-max-bulk-len`, `client-output-buffer-limit`
 *   (its `normal` class, and the `pubsub` hard limit), `timeout`, and fiberline's own transaction
 *   bounds `max-queued-commands` and `max-queued-bytes` (Redis has none:
 *   its queue grows until memory runs out). Setting them changes the
 *   handler's {@link Settings} at once.
 * - **Facts**: what fiberline is and cannot be set to anything else —
 *   `maxmemory-policy` is `noeviction`; `save` is empty and `appendonly` is
 *   `no` (nothing is persisted); `notify-keyspace-events` sends nothing;
 *   `databases` is 1; `daemonize` is `no`. Setting them to what they are is
 *   accepted (clients and the test suite set and restore them); to anything
 *   else, refused with a line that says why.
 * - **Inert**: the encoding thresholds (`list-max-listpack-size`, `set-max-intset-entries`,
 *   `hash-max-listpack-*`, `zset-max-listpack-*`, `list-compress-depth`,
 *   and their `ziplist` aliases): fiberline keeps one representation per
 *   type, so these change nothing. They are checked as Redis checks them and
 *   stored, so that `CONFIG GET` returns what `CONFIG SET` stored — the suite
 *   sets them before its tests and restores them after. Nothing that reads an
 *   encoding depends on them: the suite runs with `--ignore-encoding`. The
 *   `slave` class of `client-output-buffer-limit` is kept the same way (no
 *   replica connects), and `notify-keyspace-events` values that notify nothing.
 *
 * @since 0.1.0
 */
import { constants as BufferConstants } from "node:buffer"
import type { ByteString } from "./bytes.ts"
import type { Settings } from "./command.ts"
import { parseMemory } from "./memory.ts"
import { parseInteger } from "./parse.ts"

/** What applies a checked value to the settings; a string is Redis's reason for refusing it. */
type Parsed = ((settings: Settings) => void) | string

/**
 * One parameter.
 *
 * @since 0.1.0
 */
export interface Parameter {
  /** Redis's name, then its older alias, if any. */
  readonly names: ReadonlyArray<string>
  /** `CONFIG SET` refuses it whatever the value (Redis's immutable configs). */
  readonly immutable: boolean
  readonly get: (settings: Settings) => string
  /** Checks a value: what applies it, or the reason it is refused. */
  readonly parse: (value: ByteString) => Parsed
}

const parameter = (
  names: ReadonlyArray<string>,
  get: Parameter["get"],
  parse: Parameter["parse"],
  immutable = false
): Parameter => ({ names, get, parse, immutable })

const between = (min: bigint | number, max: bigint | number) => `argument must be between ${min} and ${max} inclusive`

/** An integer setting, as Redis's numeric configs read one (`string2ll`, then its bounds). */
const integer = (min: bigint, max: bigint, apply: (settings: Settings, value: bigint) => void) => (value: ByteString) => {
  const parsed = parseInteger(value)
  if (parsed === undefined) return "argument couldn't be parsed into an integer"
  if (parsed < min || parsed > max) return between(min, max)
  return (settings: Settings) => apply(settings, parsed)
}

/** A size in bytes, as Redis's memory configs read one (`memtoull`: `100mb`, `2gb`…), then its bounds. */
const memory = (min: number, max: number, apply: (settings: Settings, value: number) => void) => (value: ByteString) => {
  const parsed = parseMemory(value)
  if (parsed === undefined) return "argument must be a memory value"
  if (parsed < min || parsed > max) return between(min, max)
  return (settings: Settings) => apply(settings, parsed)
}

/** A yes/no fact that must stay `fact`. */
const fixedBoolean = (fact: "yes" | "no", why: string) => (value: ByteString): Parsed => {
  const lower = value.toLowerCase()
  if (lower !== "yes" && lower !== "no") return "argument must be 'yes' or 'no'"
  return lower === fact ? () => {} : why
}

const intMax = 2147483647n
const longMax = 9223372036854775807n
const safeMax = Number.MAX_SAFE_INTEGER

/** An encoding threshold: checked as Redis does, stored, without effect. */
const encoding = (names: ReadonlyArray<string>, read: (value: ByteString) => string | { readonly value: string }) =>
  parameter(names, (settings) => settings.inert.get(names[0]!)!, (value) => {
    const parsed = read(value)
    return typeof parsed === "string" ? parsed : (settings) => {
      settings.inert.set(names[0]!, parsed.value)
    }
  })
const encodingInteger = (min: bigint, max: bigint) => (value: ByteString) => {
  const parsed = parseInteger(value)
  if (parsed === undefined) return "argument couldn't be parsed into an integer"
  return parsed < min || parsed > max ? between(min, max) : { value: `${parsed}` }
}
const encodingMemory = (value: ByteString) => {
  const parsed = parseMemory(value)
  return parsed === undefined ? "argument must be a memory value" : { value: `${parsed}` }
}

/**
 * The values of the parameters that change nothing here, Redis 7.0's
 * defaults: the encoding thresholds, the replica class's output limits,
 * the keyspace events (none).
 *
 * @since 0.1.0
 */
export const inertDefaults = (): Map<string, string> =>
  new Map([
    ["list-max-listpack-size", "-2"],
    ["list-compress-depth", "0"],
    ["set-max-intset-entries", "512"],
    ["hash-max-listpack-entries", "512"],
    ["hash-max-listpack-value", "64"],
    ["zset-max-listpack-entries", "128"],
    ["zset-max-listpack-value", "64"],
    ["replica-output-buffer-limit", "268435456 67108864 60"],
    ["notify-keyspace-events", ""]
  ])

/** `save`: as Redis reads it (pairs of seconds ≥ 1 and changes ≥ 0), then only the empty schedule. */
const save = (value: ByteString): Parsed => {
  const args = value === "" ? [] : value.split(" ")
  if (args.length % 2 !== 0) return "Invalid save parameters"
  for (const [index, arg] of args.entries()) {
    const n = /^-?[0-9]+$/.test(arg) ? Number(arg) : Number.NaN
    if (Number.isNaN(n) || n < (index % 2 === 0 ? 1 : 0)) return "Invalid save parameters"
  }
  return args.length === 0 ? () => {} : "fiberline does not persist: save must be empty"
}

const evictionPolicies = [
  "volatile-lru",
  "volatile-lfu",
  "volatile-random",
  "volatile-ttl",
  "allkeys-lru",
  "allkeys-lfu",
  "allkeys-random",
  "noeviction"
]

const maxmemoryPolicy = (value: ByteString): Parsed => {
  const lower = value.toLowerCase()
  if (!evictionPolicies.includes(lower)) return `argument(s) must be one of the following: ${evictionPolicies.join(", ")}`
  return lower === "noeviction" ? () => {} : "fiberline evicts nothing: only noeviction is supported"
}

/** Redis's event classes, in the order it prints them; `A` stands for all but `n` (and `m`, no class). */
const eventClasses = "g$lshzxetdn"
const allClasses = "g$lshzxetd"

/**
 * `notify-keyspace-events`, read as Redis reads it and stored in Redis's
 * spelling; refused once it would send a notification (`K` or `E` with
 * something to notify), since none is sent here.
 */
const notifyKeyspaceEvents = (value: ByteString): Parsed => {
  if (!/^[Ag$lshzxeKEtmdn]*$/.test(value)) return "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
  const has = (c: string) => value.includes(c) || (value.includes("A") && allClasses.includes(c))
  if ((has("K") || has("E")) && [...eventClasses, "m"].some(has)) return "fiberline sends no keyspace notifications"
  // As Redis spells it: all classes are `A`, which then drops `n`.
  const classes = [...allClasses].every(has) ? "A" : [...eventClasses].filter(has).join("")
  const spelled = classes + ["K", "E", "m"].filter(has).join("")
  return (settings) => {
    settings.inert.set("notify-keyspace-events", spelled)
  }
}

/**
 * `client-output-buffer-limit`: groups of class, hard limit, soft limit,
 * soft seconds, read as Redis reads them. Only what fiberline enforces may be
 * set: the `normal` class whole, and the `pubsub` hard limit (0: none; no
 * soft limit for subscribers).
 */
const outputBufferLimit = (value: ByteString): Parsed => {
  const args = value === "" ? [] : value.split(" ")
  if (args.length % 4 !== 0) return "Wrong number of arguments in buffer limit configuration."
  const changes: Array<(settings: Settings) => void> = []
  for (let at = 0; at < args.length; at += 4) {
    const [name = "", hardText = "", softText = "", secondsText = ""] = args.slice(at, at + 4)
    const kind = name.toLowerCase()
    if (kind !== "normal" && kind !== "slave" && kind !== "replica" && kind !== "pubsub") {
      return "Invalid client class specified in buffer limit configuration."
    }
    const hard = parseMemory(hardText)
    const soft = parseMemory(softText)
    if (hard === undefined || soft === undefined || !/^[0-9]+$/.test(secondsText)) {
      return "Error in hard, soft or soft_seconds setting in buffer limit configuration."
    }
    const seconds = Number(secondsText)
    if (kind === "slave" || kind === "replica") {
      // No replica ever connects here: kept as set.
      changes.push((settings) => {
        settings.inert.set("replica-output-buffer-limit", `${hard} ${soft} ${seconds}`)
      })
    } else if (kind === "normal") {
      changes.push((settings) => {
        settings.normalOutputLimit = { hard, soft, softSeconds: seconds }
      })
    } else if (kind === "pubsub") {
      if (soft !== 0 || seconds !== 0) return "fiberline has no soft limits: pubsub must be <hard> 0 0"
      changes.push((settings) => {
        settings.pubsubOutputLimit = hard
      })
    }
  }
  return (settings) => {
    for (const change of changes) change(settings)
  }
}

/**
 * Every parameter, in the order `CONFIG GET *` lists them.
 *
 * @since 0.1.0
 */
export const parameters: ReadonlyArray<Parameter> = [
  parameter(["maxmemory"], (s) => `${s.maxmemory}`, memory(0, safeMax, (s, v) => {
    s.maxmemory = v
  })),
  parameter(["maxmemory-policy"], () => "noeviction", maxmemoryPolicy),
  parameter(
    ["proto-max-bulk-len"],
    (s) => `${s.protoMaxBulkLen}`,
    memory(1024 * 1024, BufferConstants.MAX_STRING_LENGTH, (s, v) => {
      s.protoMaxBulkLen = v
    })
  ),
  parameter(
    ["client-output-buffer-limit"],
    (s) => `normal ${s.normalOutputLimit.hard} ${s.normalOutputLimit.soft} ${s.normalOutputLimit.softSeconds} slave ${s.inert.get("replica-output-buffer-limit")!} pubsub ${s.pubsubOutputLimit} 0 0`,
    outputBufferLimit
  ),
  parameter(["timeout"], (s) => `${s.timeout}`, integer(0n, intMax, (s, v) => {
    s.timeout = Number(v)
  })),
  parameter(["max-queued-commands"], (s) => `${s.maxQueuedCommands}`, integer(1n, BigInt(safeMax), (s, v) => {
    s.maxQueuedCommands = Number(v)
  })),
  parameter(["max-queued-bytes"], (s) => `${s.maxQueuedBytes}`, memory(1, safeMax, (s, v) => {
    s.maxQueuedBytes = v
  })),
  parameter(["save"], () => "", save),
  parameter(["appendonly"], () => "no", fixedBoolean("no", "fiberline does not persist: appendonly must be no")),
  parameter(["notify-keyspace-events"], (s) => s.inert.get("notify-keyspace-events")!, notifyKeyspaceEvents),
  parameter(["databases"], () => "1", () => "", true),
  parameter(["daemonize"], () => "no", () => "", true),
  encoding(["list-max-listpack-size", "list-max-ziplist-size"], encodingInteger(-intMax - 1n, intMax)),
  encoding(["list-compress-depth"], encodingInteger(0n, intMax)),
  encoding(["set-max-intset-entries"], encodingInteger(0n, longMax)),
  encoding(["hash-max-listpack-entries", "hash-max-ziplist-entries"], encodingInteger(0n, longMax)),
  encoding(["hash-max-listpack-value", "hash-max-ziplist-value"], encodingMemory),
  encoding(["zset-max-listpack-entries", "zset-max-ziplist-entries"], encodingInteger(0n, longMax)),
  encoding(["zset-max-listpack-value", "zset-max-ziplist-value"], encodingMemory)
]

/**
 * Every name (aliases included), lowercase, to its parameter: Redis looks
 * names up ignoring case, and an alias is a name of its own (setting both
 * in one `CONFIG SET` is no duplicate).
 *
 * @since 0.1.0
 */
export const byName: ReadonlyMap<string, Parameter> = new Map(
  parameters.flatMap((p) => p.names.map((name) => [name, p] as const))
)
