/**
 * The settings of a line server on the command line: one flag each, with a
 * `FIBERLINE_*` environment variable as fallback and a default, in that
 * order of precedence. Flags and variables are read as text and parsed by
 * the same parser, so a bad value is reported the same way whichever source
 * it came from — one line naming the flag or the variable and the value.
 *
 * Settings that only make sense for a listening server (`--host`, `--port`,
 * limits of many connections, metrics, workers, TLS) are refused as flags
 * with `--stdio`; their environment variables are then ignored.
 *
 * @since 0.1.0
 */
import * as Net from "node:net"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Flag } from "effect/cli"
import * as Connection from "../services/Connection.ts"
import * as LineServer from "../services/LineServer.ts"
import { type LogFormat, logFormats } from "../services/Logging.ts"
import * as Tls from "../services/Tls.ts"
import { UsageError } from "./exit.ts"
import { resolveTls, type TlsSettings } from "./tlsSettings.ts"

const COMPACT = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/
const UNITS = { ms: "millis", s: "seconds", m: "minutes", h: "hours", d: "days" } as const

/**
 * Parses a duration as operators write it: `500ms`, `30s`, `5m`, `1h`, `2d`,
 * Effect's `30 seconds`, or `0`. Negative durations are rejected.
 *
 * @since 0.1.0
 */
export const parseDuration = (text: string): Duration.Duration => {
  const input = text.trim()
  if (input === "0") return Duration.zero
  const compact = COMPACT.exec(input)
  const normalized = compact === null ? input : `${compact[1]} ${UNITS[compact[2] as keyof typeof UNITS]}`
  const duration = Duration.fromInput(normalized as Duration.Input)
  if (Option.isNone(duration) || Duration.toMillis(duration.value) < 0) {
    throw new Error("expected a duration such as 500ms, 30s, 5m or 1h")
  }
  return duration.value
}

/** One setting: its flag, its variable, how to parse and describe it. */
interface Setting<A> {
  readonly flag: string
  readonly description: string
  /** Shown in `--help`; `undefined` when there is no default. */
  readonly defaultText: string | undefined
  /** Throws an `Error` saying what was expected. */
  readonly parse: (text: string) => A
  /** Refused with `--stdio`. */
  readonly tcpOnly: boolean
}

/** The environment variable of a flag: `--max-line-length` → `FIBERLINE_MAX_LINE_LENGTH`. */
export const envName = (flag: string): string => `FIBERLINE_${flag.toUpperCase().replaceAll("-", "_")}`

const integer = (min: number, max: number) => (text: string): number => {
  const value = Number(text.trim())
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new Error(max === Number.MAX_SAFE_INTEGER ? `expected an integer of at least ${min}` : `expected an integer from ${min} to ${max}`)
  }
  return value
}

const oneOf = <const L extends string>(literals: ReadonlyArray<L>) => (text: string): L => {
  if (!literals.includes(text as L)) throw new Error(`expected one of ${literals.join(", ")}`)
  return text as L
}

const duration = (options?: { readonly positive: true }) => (text: string): Duration.Duration => {
  const value = parseDuration(text)
  if (options?.positive === true && Duration.isZero(value)) throw new Error("expected a duration of more than 0")
  return value
}

const nonEmpty = (text: string): string => {
  // An empty host would bind every interface: a templated `--host "$BIND"`
  // with BIND unset must not expose the server.
  if (text.trim() === "") throw new Error("expected a host name or address (to listen on every interface, say 0.0.0.0 or ::)")
  return text
}

/** The most `--workers` accepted: more than the cores of any machine this is likely to run on. */
const maxWorkers = 256

const nonEmptyPath = (what: string) => (text: string): string => {
  if (text === "") throw new Error(`expected ${what}`)
  return text
}

const table = {
  host: {
    flag: "host",
    description: "Interface to listen on",
    defaultText: LineServer.defaults.host,
    parse: nonEmpty,
    tcpOnly: true
  },
  port: {
    flag: "port",
    description: "TCP port; 0 picks a free one (logged)",
    defaultText: String(LineServer.defaults.port),
    parse: integer(0, 65535),
    tcpOnly: true
  },
  unix: {
    flag: "unix",
    description: "Listen on a Unix socket at this path instead of TCP (excludes --host and --port)",
    defaultText: undefined,
    parse: nonEmptyPath("a socket path"),
    tcpOnly: true
  },
  unixMode: {
    flag: "unix-mode",
    description: "File mode of the --unix socket, in octal, e.g. 660",
    defaultText: undefined,
    parse: (text: string) => {
      if (!/^[0-7]{3,4}$/.test(text)) throw new Error("expected an octal file mode such as 660")
      return Number.parseInt(text, 8)
    },
    tcpOnly: true
  },
  proxyProtocol: {
    flag: "proxy-protocol",
    description: "Expect a PROXY protocol header (from HAProxy, nginx, a cloud balancer) on every connection: v1, v2 or any",
    defaultText: undefined,
    parse: oneOf(["v1", "v2", "any"]),
    tcpOnly: true
  },
  proxyHeaderTimeout: {
    flag: "proxy-header-timeout",
    description: "How long a PROXY header may take to arrive",
    defaultText: Duration.format(LineServer.defaults.proxyHeaderTimeout),
    parse: duration({ positive: true }),
    tcpOnly: true
  },
  trustedProxies: {
    flag: "trusted-proxies",
    description: "Comma-separated addresses of the proxies allowed to connect with --proxy-protocol (default: any)",
    defaultText: undefined,
    parse: (text: string) => {
      const addresses = text.split(",").map((address) => address.trim()).filter((address) => address !== "")
      if (addresses.length === 0 || addresses.some((address) => Net.isIP(address) === 0)) {
        throw new Error("expected comma-separated IP addresses")
      }
      return addresses
    },
    tcpOnly: true
  },
  tlsCert: {
    flag: "tls-cert",
    description: "Serve TLS with this certificate chain (PEM file, leaf first); read again on SIGHUP",
    defaultText: undefined,
    parse: nonEmptyPath("a file path"),
    tcpOnly: true
  },
  tlsKey: {
    flag: "tls-key",
    description: "The private key of --tls-cert (PEM file); read again on SIGHUP",
    defaultText: undefined,
    parse: nonEmptyPath("a file path"),
    tcpOnly: true
  },
  tlsCa: {
    flag: "tls-ca",
    description: "CA certificates (PEM file) that sign the client certificates --tls-client-auth accepts",
    defaultText: undefined,
    parse: nonEmptyPath("a file path"),
    tcpOnly: true
  },
  tlsMode: {
    flag: "tls-mode",
    description: "implicit: TLS from the first byte; starttls: plaintext until the handler calls startTls",
    defaultText: "implicit",
    parse: oneOf<Tls.TlsMode>(["implicit", "starttls"]),
    tcpOnly: true
  },
  tlsHandshakeTimeout: {
    flag: "tls-handshake-timeout",
    description: "Close a connection whose TLS handshake is not complete this long after it starts",
    defaultText: Duration.format(Tls.defaults.handshakeTimeout),
    parse: duration({ positive: true }),
    tcpOnly: true
  },
  tlsCiphers: {
    flag: "tls-ciphers",
    description: "Cipher suites TLS accepts (OpenSSL list, TLS_* suites for TLS 1.3 included); replaces the default",
    defaultText: "forward-secret AEAD suites only",
    parse: nonEmptyPath("an OpenSSL cipher list"),
    tcpOnly: true
  },
  maxLineLength: {
    flag: "max-line-length",
    description: "Longest accepted line in bytes, terminator excluded",
    defaultText: String(Connection.defaults.maxLineLength),
    parse: integer(1, Number.MAX_SAFE_INTEGER),
    tcpOnly: false
  },
  maxConnections: {
    flag: "max-connections",
    description: "Connections served at once",
    defaultText: "the file-descriptor limit minus a reserve (an eighth of it, at least 64, at most 1024)",
    parse: integer(1, Number.MAX_SAFE_INTEGER),
    tcpOnly: true
  },
  whenFull: {
    flag: "when-full",
    description: "Beyond --max-connections: refuse at once, or queue unread until a slot frees",
    defaultText: LineServer.defaults.whenFull,
    parse: oneOf(["refuse", "queue"]),
    tcpOnly: true
  },
  busyMessage: {
    flag: "busy-message",
    description: "Line sent to a refused connection before it is closed",
    defaultText: undefined,
    parse: (text: string) => text,
    tcpOnly: true
  },
  idleTimeout: {
    flag: "idle-timeout",
    description: "Close a connection whose read waits this long for input; 0 = never",
    defaultText: "0",
    parse: duration(),
    tcpOnly: false
  },
  lineTimeout: {
    flag: "line-timeout",
    description: "Close a connection whose line, once started, is not complete this long after; 0 = never",
    defaultText: "30s",
    parse: duration(),
    tcpOnly: false
  },
  writeTimeout: {
    flag: "write-timeout",
    description: "Close a connection whose peer does not read our output this long",
    defaultText: Duration.format(Connection.defaults.writeTimeout),
    parse: duration({ positive: true }),
    tcpOnly: false
  },
  shutdownTimeout: {
    flag: "shutdown-timeout",
    description: "On SIGINT/SIGTERM, time busy connections get to finish; 0 = none",
    defaultText: Duration.format(LineServer.defaults.shutdownTimeout),
    parse: duration(),
    tcpOnly: true
  },
  logFormat: {
    flag: "log-format",
    description: "Log format on stderr: pretty or json",
    defaultText: "pretty",
    parse: oneOf<LogFormat>(logFormats),
    tcpOnly: false
  },
  metricsPort: {
    flag: "metrics-port",
    description: "Serve Prometheus metrics on 127.0.0.1:<port>/metrics; 0 picks a free one",
    defaultText: undefined,
    parse: integer(0, 65535),
    tcpOnly: true
  },
  workers: {
    flag: "workers",
    description:
      "Worker processes sharing the port (node:cluster); 1 = this process serves it alone; SIGUSR2 replaces them one at a time (a rolling restart)",
    defaultText: "1",
    // Bounded so that a slip (a port number in the wrong flag) cannot fork thousands of processes.
    parse: integer(1, maxWorkers),
    tcpOnly: true
  }
} satisfies Record<string, Setting<unknown>>

type Table = typeof table
type Key = keyof Table
type ValueOf<K extends Key> = ReturnType<Table[K]["parse"]>

/**
 * Defaults a command may set for itself (e.g. `fiberline redis` listens on
 * 6379).
 *
 * @since 0.1.0
 */
export interface CommandDefaults {
  readonly port?: number | undefined
}

const help = (setting: Setting<unknown>, defaultText: string | undefined): string =>
  `${setting.description} (env ${envName(setting.flag)}${defaultText === undefined ? "" : `, default ${defaultText}`})`

/** The optional text flag of a setting, its help naming the variable and the default. */
const flag = (key: Key, defaultText?: string) => {
  const setting: Setting<unknown> = table[key]
  return Flag.String(setting.flag).pipe(
    Flag.optional,
    Flag.withDescription(help(setting, defaultText ?? setting.defaultText))
  )
}

/** A zero duration means "never": no timeout. */
const orZero = (d: Duration.Duration | undefined) => (d === undefined || Duration.isZero(d) ? undefined : d)

/**
 * The flags of a line server: where to listen, limits, timeouts, logs,
 * metrics, worker processes, and `--stdio`. Each is optional on the command line; see
 * {@link resolve} for the fallbacks.
 *
 * @since 0.1.0
 */
export const serverFlags = (defaults?: CommandDefaults) => {
  return {
    host: flag("host"),
    port: flag("port", defaults?.port === undefined ? undefined : String(defaults.port)),
    unix: flag("unix"),
    unixMode: flag("unixMode"),
    proxyProtocol: flag("proxyProtocol"),
    proxyHeaderTimeout: flag("proxyHeaderTimeout"),
    trustedProxies: flag("trustedProxies"),
    tlsCert: flag("tlsCert"),
    tlsKey: flag("tlsKey"),
    tlsCa: flag("tlsCa"),
    tlsClientAuth: Flag.Boolean("tls-client-auth").pipe(
      Flag.withDefault(false),
      Flag.withDescription(`Require a client certificate signed by --tls-ca (env ${envName("tls-client-auth")}=true)`)
    ),
    tlsMode: flag("tlsMode"),
    tlsHandshakeTimeout: flag("tlsHandshakeTimeout"),
    tlsCiphers: flag("tlsCiphers"),
    stdio: Flag.Boolean("stdio").pipe(
      Flag.withDefault(false),
      Flag.withDescription("Serve one connection on stdin/stdout instead of listening on TCP")
    ),
    maxLineLength: flag("maxLineLength"),
    maxConnections: flag("maxConnections"),
    whenFull: flag("whenFull"),
    busyMessage: flag("busyMessage"),
    idleTimeout: flag("idleTimeout"),
    lineTimeout: flag("lineTimeout"),
    writeTimeout: flag("writeTimeout"),
    shutdownTimeout: flag("shutdownTimeout"),
    logFormat: flag("logFormat"),
    metricsPort: flag("metricsPort"),
    workers: flag("workers")
  }
}

/**
 * What the server flags parse to: each setting is `Some` only when its flag
 * was given.
 *
 * @since 0.1.0
 */
export type FlagValues =
  & { readonly [K in Key]: Option.Option<string> }
  & { readonly stdio: boolean; readonly tlsClientAuth?: boolean | undefined }

/**
 * The settings of one run, every fallback applied.
 *
 * @since 0.1.0
 */
export interface ServerSettings {
  readonly stdio: boolean
  readonly host: string
  readonly port: number
  /** A Unix socket path to listen on instead of `host` and `port`. */
  readonly unix: string | undefined
  readonly unixMode: number | undefined
  readonly proxyProtocol: ValueOf<"proxyProtocol"> | undefined
  readonly proxyHeaderTimeout: Duration.Duration
  readonly trustedProxies: ReadonlyArray<string> | undefined
  /** TLS, when `--tls-cert` and `--tls-key` (or their variables) are given. */
  readonly tls: TlsSettings | undefined
  readonly maxLineLength: number
  readonly maxConnections: number | undefined
  readonly whenFull: ValueOf<"whenFull">
  readonly busyMessage: string | undefined
  readonly idleTimeout: Duration.Duration | undefined
  readonly lineTimeout: Duration.Duration | undefined
  readonly writeTimeout: Duration.Duration
  readonly shutdownTimeout: Duration.Duration
  readonly logFormat: LogFormat
  readonly metricsPort: number | undefined
  /** Processes serving the port; above 1 the process becomes a cluster primary (see `workers.ts`). */
  readonly workers: number
  /** The settings given by a flag or a variable (the rest are defaults). */
  readonly given: ReadonlySet<string>
}

/**
 * Applies the fallbacks — flag, then `FIBERLINE_*` variable (an empty one
 * counts as unset), then the default — and parses every value. Fails with
 * a {@link UsageError} naming the flag or variable and its value.
 *
 * @since 0.1.0
 */
export const resolve = (
  flags: FlagValues,
  env: Readonly<Record<string, string | undefined>>,
  defaults?: CommandDefaults
): Effect.Effect<ServerSettings, UsageError> =>
  Effect.try({
    try: () => resolveUnsafe(flags, env, defaults),
    catch: (error) => (error instanceof UsageError ? error : new UsageError({ message: String(error) }))
  })

const resolveUnsafe = (
  flags: FlagValues,
  env: Readonly<Record<string, string | undefined>>,
  defaults?: CommandDefaults
): ServerSettings => {
  const stdio = flags.stdio
  const explicit = new Set<Key>()
  const value = <K extends Key>(key: K, fallback: string | undefined): ValueOf<K> | undefined => {
    const setting: Setting<unknown> = table[key]
    const given = flags[key]
    if (stdio && setting.tcpOnly && Option.isSome(given)) {
      throw new UsageError({ message: `--${setting.flag} does not apply with --stdio` })
    }
    const variable = envName(setting.flag)
    const fromEnv = stdio && setting.tcpOnly ? undefined : env[variable]
    const [source, text] = Option.isSome(given)
      ? [`--${setting.flag}`, given.value]
      : fromEnv !== undefined && fromEnv !== ""
      ? [variable, fromEnv]
      : ["default", fallback]
    if (text === undefined) return undefined
    if (source !== "default") explicit.add(key)
    try {
      return setting.parse(text) as ValueOf<K>
    } catch (error) {
      const expected = error instanceof Error ? error.message : String(error)
      throw new UsageError({ message: `invalid ${source} "${text}": ${expected}` })
    }
  }
  // TLS is resolved apart (tlsSettings.ts), from the values read here.
  const named = (key: Key) => (Option.isSome(flags[key]) ? `--${table[key].flag}` : envName(table[key].flag))
  const tls = resolveTls({
    stdio,
    cert: value("tlsCert", undefined),
    key: value("tlsKey", undefined),
    ca: value("tlsCa", undefined),
    mode: value("tlsMode", undefined),
    handshakeTimeout: value("tlsHandshakeTimeout", undefined),
    ciphers: value("tlsCiphers", undefined),
    clientAuthFlag: flags.tlsClientAuth === true
  }, env, named)
  const unix = value("unix", undefined)
  if (unix !== undefined) {
    for (const key of ["host", "port"] as const) {
      if (Option.isSome(flags[key])) throw new UsageError({ message: `--${key} does not apply with --unix` })
    }
  }
  const settings = {
    stdio,
    host: value("host", table.host.defaultText)!,
    port: value("port", String(defaults?.port ?? LineServer.defaults.port))!,
    unix,
    unixMode: value("unixMode", undefined),
    proxyProtocol: value("proxyProtocol", undefined),
    proxyHeaderTimeout: value("proxyHeaderTimeout", table.proxyHeaderTimeout.defaultText)!,
    trustedProxies: value("trustedProxies", undefined),
    tls,
    maxLineLength: value("maxLineLength", table.maxLineLength.defaultText)!,
    maxConnections: value("maxConnections", undefined),
    whenFull: value("whenFull", table.whenFull.defaultText)!,
    busyMessage: value("busyMessage", undefined),
    idleTimeout: orZero(value("idleTimeout", table.idleTimeout.defaultText)),
    lineTimeout: orZero(value("lineTimeout", table.lineTimeout.defaultText)),
    writeTimeout: value("writeTimeout", table.writeTimeout.defaultText)!,
    shutdownTimeout: value("shutdownTimeout", table.shutdownTimeout.defaultText)!,
    logFormat: value("logFormat", table.logFormat.defaultText)!,
    metricsPort: value("metricsPort", undefined),
    // With --stdio the variable is ignored and the default applies: one process.
    workers: value("workers", table.workers.defaultText)!
  }
  // Settings that only mean something with another one.
  const needs: ReadonlyArray<readonly [Key, Key]> = [
    ["unixMode", "unix"],
    ["proxyHeaderTimeout", "proxyProtocol"],
    ["trustedProxies", "proxyProtocol"]
  ]
  for (const [key, needed] of needs) {
    if (explicit.has(key) && !explicit.has(needed)) {
      throw new UsageError({ message: `${named(key)} needs --${table[needed].flag}` })
    }
  }
  return { ...settings, given: explicit }
}

/**
 * The limits of each connection: those a command sets for itself (`base`),
 * replaced by the settings a flag or variable gives, else the defaults.
 *
 * @since 0.1.0
 */
export const connectionOptions = (
  settings: ServerSettings,
  base: Connection.ConnectionOptions = {}
): Connection.ConnectionOptions => {
  // A command's own options (`base`) stand unless a flag or variable says otherwise.
  const pick = <K extends "maxLineLength" | "idleTimeout" | "lineTimeout" | "writeTimeout">(key: K) =>
    settings.given.has(key) || !(key in base) ? settings[key] : base[key]
  return {
    ...base,
    maxLineLength: pick("maxLineLength"),
    idleTimeout: pick("idleTimeout"),
    lineTimeout: pick("lineTimeout"),
    writeTimeout: pick("writeTimeout")
  }
}
