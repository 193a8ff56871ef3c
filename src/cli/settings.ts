/**
 * The settings of a line server on the command line, derived from the
 * library's option schemas: each setting is a field schema of
 * `LineServer.ServerOptions`, `Tls.TlsOptions` or
 * `Options.ConnectionOptions`, read from its text (`textOf.ts`) by a flag
 * or its `FIBERLINE_*` variable, in that order of precedence, then the
 * default. Flag and variable are decoded by the same schema, so a bad value
 * is one line naming the flag or the variable, the value, and what the
 * schema expects.
 *
 * Settings that only make sense for a listening server (`--host`, `--port`,
 * limits of many connections, metrics, workers, TLS) are refused as flags
 * with `--stdio`; their environment variables are then ignored.
 *
 * Past 300 lines because it is the one table of the CLI's server flags, each
 * with its environment variable and where it goes in the options.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { Flag } from "effect/cli"
import * as Options from "../Options.ts"
import * as Connection from "../services/Connection.ts"
import * as LineServer from "../services/LineServer.ts"
import { type LogFormat, logFormats } from "../services/Logging.ts"
import * as Tls from "../Tls.ts"
import { UsageError } from "./exit.ts"
import * as Text from "./textOf.ts"
import { resolveTls } from "./tlsSettings.ts"

/** The environment variable of a flag: `--max-line-length` → `FIBERLINE_MAX_LINE_LENGTH`. */
export const envName = (flag: string): string => `FIBERLINE_${flag.toUpperCase().replaceAll("-", "_")}`

/** One setting: its flag, how its text decodes, how `--help` shows it. */
interface Setting<A> {
  readonly flag: string
  readonly codec: Schema.Codec<A, string>
  /** The value's type in `--help`. */
  readonly type: string
  readonly description: string
  /** The command line's own default, decoded when neither flag nor variable is given. */
  readonly fallback?: string | undefined
  /** The default `--help` shows, when it is the library's (nothing is decoded). */
  readonly shown?: string | undefined
  /** Refused with `--stdio`. */
  readonly tcpOnly: boolean
}

const setting = <A>(flag: string, codec: Schema.Codec<A, string>, type: string, description: string, more?: {
  readonly fallback?: string
  readonly shown?: string
  /** Applies with `--stdio` too. */
  readonly stdio?: true
}): Setting<A> => ({ flag, codec, type, description, fallback: more?.fallback, shown: more?.shown, tcpOnly: more?.stdio !== true })

const server = LineServer.ServerOptions.fields
const proxy = LineServer.ProxyOptions.fields
const tls = Tls.TlsOptions.fields
const connection = Options.ConnectionOptions.fields
const format = (d: Duration.Input) => Duration.format(Duration.fromInputUnsafe(d))

/** The most `--workers` accepted: more than the cores of any machine this is likely to run on. */
const maxWorkers = 256
const Workers = Schema.Number.check(
  Schema.makeFilter((n: number) => Number.isInteger(n) && n >= 1 && n <= maxWorkers, { expected: `an integer from 1 to ${maxWorkers}` })
)

const table = {
  host: setting("host", Text.plain(Schema.required(server.host)), "host", "Interface to listen on", { shown: LineServer.defaults.host }),
  port: setting("port", Text.integer(Schema.required(server.port)), "port", "TCP port; 0 picks a free one (logged)"),
  unix: setting("unix", Text.plain(Schema.required(server.path)), "path", "Listen on a Unix socket at this path instead of TCP (excludes --host and --port)"),
  unixMode: setting("unix-mode", Text.octal(Schema.required(server.socketMode)), "mode", "File mode of the --unix socket, in octal, e.g. 660"),
  proxyProtocol: setting("proxy-protocol", Text.plain(proxy.version), "v1|v2|any",
    "Expect a PROXY protocol header (from HAProxy, nginx, a cloud balancer) on every connection"),
  proxyHeaderTimeout: setting("proxy-header-timeout", Text.duration(Schema.required(proxy.headerTimeout)), "duration",
    "How long a PROXY header may take to arrive", { shown: format(LineServer.defaults.proxyHeaderTimeout) }),
  trustedProxies: setting("trusted-proxies", Text.list(Schema.required(proxy.trusted)), "addresses",
    "Comma-separated addresses of the proxies allowed to connect with --proxy-protocol (default: any)"),
  tlsCert: setting("tls-cert", Text.plain(Options.Path), "path", "Serve TLS with this certificate chain (PEM file, leaf first); read again on SIGHUP"),
  tlsKey: setting("tls-key", Text.plain(Options.Path), "path", "The private key of --tls-cert (PEM file); read again on SIGHUP"),
  tlsCa: setting("tls-ca", Text.plain(Options.Path), "path", "CA certificates (PEM file) that sign the client certificates --tls-client-auth accepts"),
  tlsMode: setting("tls-mode", Text.plain(Schema.required(server.tlsMode)), "implicit|starttls",
    "implicit: TLS from the first byte; starttls: plaintext until the handler calls startTls", { shown: "implicit" }),
  tlsHandshakeTimeout: setting("tls-handshake-timeout", Text.duration(Schema.required(tls.handshakeTimeout)), "duration",
    "Close a connection whose TLS handshake is not complete this long after it starts", { shown: format(Tls.defaults.handshakeTimeout) }),
  tlsCiphers: setting("tls-ciphers", Text.plain(Schema.required(tls.ciphers)), "ciphers",
    "Cipher suites TLS accepts (OpenSSL list, TLS_* suites for TLS 1.3 included); replaces the default", { shown: "forward-secret AEAD suites only" }),
  maxLineLength: setting("max-line-length", Text.integer(Schema.required(connection.maxLineLength)), "bytes",
    "Longest accepted line in bytes, terminator excluded", { shown: String(Connection.defaults.maxLineLength), stdio: true }),
  lineEnding: setting("line-ending", Text.lineEnding(Schema.required(connection.lineEnding)), "lf|crlf",
    "What each line written ends with; replaces the protocol's own (the handler module's `connection`)", { stdio: true }),
  maxConnections: setting("max-connections", Text.integer(Schema.required(server.maxConnections)), "integer", "Connections served at once", {
    shown: "the file-descriptor limit minus a reserve (an eighth of it, at least 64, at most 1024)"
  }),
  whenFull: setting("when-full", Text.plain(Schema.required(server.whenFull)), "refuse|queue",
    "Beyond --max-connections: refuse at once, or queue unread until a slot frees", { shown: LineServer.defaults.whenFull }),
  busyMessage: setting("busy-message", Text.plain(Schema.required(server.busyMessage)), "text", "Line sent to a refused connection before it is closed"),
  idleTimeout: setting("idle-timeout", Text.timeoutOrNever(Schema.required(connection.idleTimeout)), "duration",
    "Close a connection whose read waits this long for input; 0 = never", { shown: "0", stdio: true }),
  lineTimeout: setting("line-timeout", Text.timeoutOrNever(Schema.required(connection.lineTimeout)), "duration",
    "Close a connection whose line, once started, is not complete this long after; 0 = never", { fallback: "30s", stdio: true }),
  writeTimeout: setting("write-timeout", Text.duration(Schema.required(connection.writeTimeout)), "duration",
    "Close a connection whose peer does not read our output this long", { shown: format(Connection.defaults.writeTimeout), stdio: true }),
  shutdownTimeout: setting("shutdown-timeout", Text.duration(Schema.required(server.shutdownTimeout)), "duration",
    "On SIGINT/SIGTERM, time busy connections get to finish; 0 = none", { shown: format(LineServer.defaults.shutdownTimeout), stdio: true }),
  logFormat: setting("log-format", Text.plain(Schema.Literals(logFormats)), "pretty|json", "Log format on stderr", { fallback: "pretty", stdio: true }),
  name: setting("name", Text.plain(Schema.required(server.name)), "name",
    "A name for this server: its log lines carry server=<name>, its metric series a server label"),
  metricsPort: setting("metrics-port", Text.integer(Options.Port), "port", "Serve Prometheus metrics on 127.0.0.1:<port>/metrics; 0 picks a free one"),
  workers: setting("workers", Text.integer(Workers), "integer",
    "Worker processes sharing the port (node:cluster); 1 = this process serves it alone; SIGUSR2 replaces them one at a time (a rolling restart)",
    { fallback: "1" })
} as const

type Table = typeof table
type Key = keyof Table
type ValueOf<K extends Key> = Table[K] extends Setting<infer A> ? A : never

/**
 * A setting a flag or its variable gave: a flag's value is decoded as it
 * is parsed; a variable's text is decoded by {@link resolve}, which ignores
 * it where it does not apply (`--stdio`).
 *
 * @since 0.2.0
 */
export type Given<A> = { readonly from: "flag"; readonly value: A } | { readonly from: "env"; readonly text: string }

/**
 * Defaults a command may set for itself (e.g. `fiberline redis` listens on
 * 6379).
 *
 * @since 0.1.0
 */
export interface CommandDefaults {
  readonly port?: number | undefined
}

/** A setting's line in `--help`: what it does, its variable, its default (`fallback`: the command's own). */
const help = (s: Setting<unknown>, fallback: string | undefined): string => {
  const shown = fallback ?? s.fallback ?? s.shown
  return `${s.description} (env ${envName(s.flag)}${shown === undefined ? "" : `, default ${shown}`})`
}

/** The flag of a setting: decoded by its schema, else its variable's text, else absent. */
const flag = <A>(s: Setting<A>, fallback?: string): Flag.Flag<Option.Option<Given<A>>> =>
  Text.flag(s.flag, s.codec).pipe(
    Flag.map((value): Given<A> => ({ from: "flag", value })),
    Flag.withFallbackConfig(Config.map(Config.String(envName(s.flag)), (text): Given<A> => ({ from: "env", text }))),
    Flag.optional,
    Flag.withMetavar(s.type),
    Flag.withDescription(help(s, fallback))
  )

const clientAuthVariable = envName("tls-client-auth")

/**
 * The flags of a line server: where to listen, limits, timeouts, logs,
 * metrics, worker processes, and `--stdio`. Each is optional on the command
 * line; see {@link resolve} for the fallbacks.
 *
 * @since 0.1.0
 */
export const serverFlags = (defaults?: CommandDefaults) => ({
  ...Object.fromEntries(
    Object.entries(table).map(([key, s]) => [key, flag(s as Setting<unknown>, key === "port" ? String(defaults?.port ?? LineServer.defaults.port) : undefined)])
  ) as { readonly [K in Key]: Flag.Flag<Option.Option<Given<ValueOf<K>>>> },
  tlsClientAuth: Flag.Boolean("tls-client-auth").pipe(
    Flag.withDefault(false),
    Flag.withDescription(`Require a client certificate signed by --tls-ca (env ${clientAuthVariable}=true)`)
  ),
  stdio: Flag.Boolean("stdio").pipe(
    Flag.withDefault(false),
    Flag.withDescription("Serve one connection on stdin/stdout instead of listening on TCP")
  )
})

/**
 * What the server flags parse to.
 *
 * @since 0.1.0
 */
export type FlagValues =
  & { readonly [K in Key]: Option.Option<Given<ValueOf<K>>> }
  & { readonly stdio: boolean; readonly tlsClientAuth: boolean }

/**
 * The settings of one run, every fallback applied.
 *
 * @since 0.1.0
 */
export interface ServerSettings {
  readonly stdio: boolean
  /** What `LineServer.make` is given, but the handler and the connection limits. */
  readonly server: LineServer.ServerOptions
  /** Connection limits a flag or a variable gave: they win over the command's own. */
  readonly connection: Connection.ConnectionOptions
  /** The command line's defaults of the connection limits (a 30 s line timeout): the command's own win over them. */
  readonly connectionDefaults: Connection.ConnectionOptions
  readonly logFormat: LogFormat
  readonly metricsPort: number | undefined
  /** Processes serving the port; above 1 the process becomes a cluster primary (see `workers.ts`). */
  readonly workers: number
}

/** Where a setting came from: its flag, its variable, or neither. */
const sourceOf = (option: Option.Option<Given<unknown>>) => (Option.isSome(option) ? option.value.from : undefined)

/** A value read from its variable or its default text fails the run with this, naming where it came from. */
const decodeText = <A>(s: Setting<A>, source: string, text: string): Effect.Effect<A, UsageError> =>
  Effect.mapError(Text.decode(s.codec, text), (expected) => new UsageError({ message: `invalid ${source} "${text}": ${expected}` }))

/**
 * Applies the fallbacks — flag, then `FIBERLINE_*` variable (an empty one
 * counts as unset), then the default — and decodes every value. Fails with
 * a {@link UsageError} naming the flag or variable and its value.
 *
 * @since 0.1.0
 */
export const resolve = (flags: FlagValues, defaults?: CommandDefaults): Effect.Effect<ServerSettings, UsageError> =>
  Effect.gen(function*() {
    const stdio = flags.stdio
    /** How the user gave a setting, for messages: its flag, or its variable. */
    const named = (key: Key) => (sourceOf(flags[key]) === "env" ? envName(table[key].flag) : `--${table[key].flag}`)
    const given = (key: Key) => sourceOf(flags[key]) !== undefined && !(stdio && table[key].tcpOnly)
    const value = <K extends Key>(key: K) =>
      Effect.gen(function*() {
        const s = table[key] as Setting<ValueOf<K>>
        const option = flags[key] as Option.Option<Given<ValueOf<K>>>
        if (Option.isSome(option) && stdio && s.tcpOnly) {
          if (option.value.from === "flag") return yield* new UsageError({ message: `--${s.flag} does not apply with --stdio` })
        } else if (Option.isSome(option)) {
          const it = option.value
          return it.from === "flag" ? it.value : yield* decodeText(s, envName(s.flag), it.text)
        }
        const fallback = key === "port" ? String(defaults?.port ?? LineServer.defaults.port) : s.fallback
        return fallback === undefined ? undefined : yield* decodeText(s, "default", fallback)
      })
    // Settings that only mean something with another one.
    const needs: ReadonlyArray<readonly [Key, Key]> = [
      ["unixMode", "unix"],
      ["proxyHeaderTimeout", "proxyProtocol"],
      ["trustedProxies", "proxyProtocol"]
    ]
    for (const [key, needed] of needs) {
      if (given(key) && !given(needed)) return yield* new UsageError({ message: `${named(key)} needs --${table[needed].flag}` })
    }
    const unix = yield* value("unix")
    if (unix !== undefined) {
      for (const key of ["host", "port"] as const) {
        if (sourceOf(flags[key]) === "flag") {
          return yield* new UsageError({ message: `--${key} does not apply with --unix` })
        }
      }
    }
    const proxyVersion = yield* value("proxyProtocol")
    const secured = yield* resolveTls({
      stdio,
      cert: yield* value("tlsCert"),
      key: yield* value("tlsKey"),
      ca: yield* value("tlsCa"),
      mode: yield* value("tlsMode"),
      handshakeTimeout: yield* value("tlsHandshakeTimeout"),
      ciphers: yield* value("tlsCiphers"),
      clientAuthFlag: flags.tlsClientAuth
    }, named)
    const connectionKeys = ["maxLineLength", "lineEnding", "idleTimeout", "lineTimeout", "writeTimeout"] as const
    const limits: Record<string, unknown> = {}
    const connectionDefaults: Record<string, unknown> = {}
    for (const key of connectionKeys) {
      const decoded = yield* value(key)
      if (decoded !== undefined) (given(key) ? limits : connectionDefaults)[key] = decoded
    }
    return {
      stdio,
      server: {
        name: yield* value("name"),
        ...(unix === undefined ? { host: yield* value("host"), port: yield* value("port") } : { path: unix, socketMode: yield* value("unixMode") }),
        proxy: proxyVersion === undefined ? undefined : {
          version: proxyVersion,
          headerTimeout: yield* value("proxyHeaderTimeout"),
          trusted: yield* value("trustedProxies")
        },
        maxConnections: yield* value("maxConnections"),
        whenFull: yield* value("whenFull"),
        busyMessage: yield* value("busyMessage"),
        shutdownTimeout: yield* value("shutdownTimeout"),
        ...secured
      },
      connection: limits,
      connectionDefaults,
      logFormat: (yield* value("logFormat"))!,
      metricsPort: yield* value("metricsPort"),
      // With --stdio the variable is ignored and the default applies: one process.
      workers: (yield* value("workers"))!
    }
  })

/**
 * The limits of each connection: a flag's or a variable's, else the
 * command's own (`base`: a protocol's `lineEnding`, a handler module's
 * `connection`), else the command line's defaults.
 *
 * @since 0.1.0
 */
export const connectionOptions = (
  settings: ServerSettings,
  base: Connection.ConnectionOptions = {}
): Connection.ConnectionOptions => ({ ...settings.connectionDefaults, ...base, ...settings.connection })
