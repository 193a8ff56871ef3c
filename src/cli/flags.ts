/**
 * Command-line flags of the servers, each with an environment variable
 * fallback (`FIBERLINE_<FLAG>`, read through Effect's `Config`) and a
 * default, in that order of precedence after the flag itself.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import { Flag } from "effect/cli"
import * as Connection from "../services/Connection.ts"
import * as LineServer from "../services/LineServer.ts"
import { type LogFormat, logFormats } from "../services/Logging.ts"

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
    throw new Error(`invalid duration "${text}" (examples: 500ms, 30s, 5m, 1h)`)
  }
  return duration.value
}

const env = (flag: string) => `FIBERLINE_${flag.toUpperCase().replaceAll("-", "_")}`

const duration = (name: string, fallback: string, description: string, options?: { readonly positive: true }) =>
  Flag.String(name).pipe(
    Flag.withFallbackConfig(Config.String(env(name))),
    Flag.withDefault(fallback),
    Flag.mapTryCatch(parseDuration, (error) => (error instanceof Error ? error.message : String(error))),
    Flag.filter(
      (value) => options?.positive !== true || Duration.toMillis(value) > 0,
      (value) => `--${name} must be more than 0, got "${Duration.format(value)}"`
    ),
    Flag.withDescription(`${description} (env ${env(name)}, default ${fallback})`)
  )

const port = (n: number) => Number.isInteger(n) && n >= 0 && n <= 65535

const positive = (name: string, description: string) =>
  Flag.Int(name).pipe(
    Flag.withFallbackConfig(Config.Int(env(name))),
    Flag.filter((n) => n > 0, (n) => `--${name} must be positive, got ${n}`),
    Flag.withDescription(`${description} (env ${env(name)})`)
  )

/**
 * Flags of a line server: where to listen, limits, timeouts, logs, metrics.
 *
 * @since 0.1.0
 */
export const serverFlags = {
  host: Flag.String("host").pipe(
    Flag.withFallbackConfig(Config.String(env("host"))),
    Flag.withDefault(LineServer.defaults.host),
    // An empty host would bind every interface: a templated `--host "$BIND"`
    // with BIND unset must not expose the server.
    Flag.filter(
      (host) => host.trim() !== "",
      () => `--host must not be empty (to listen on every interface, say 0.0.0.0 or ::), got ""`
    ),
    Flag.withDescription(`Interface to listen on (env ${env("host")}, default ${LineServer.defaults.host})`)
  ),
  port: Flag.Int("port").pipe(
    Flag.withFallbackConfig(Config.Int(env("port"))),
    Flag.withDefault(LineServer.defaults.port),
    Flag.filter(port, (n) => `--port must be 0..65535, got ${n}`),
    Flag.withDescription(`TCP port; 0 picks a free one (env ${env("port")}, default ${LineServer.defaults.port})`)
  ),
  stdio: Flag.Boolean("stdio").pipe(
    Flag.withDefault(false),
    Flag.withDescription("Serve one connection on stdin/stdout instead of listening on TCP")
  ),
  maxLineLength: positive("max-line-length", "Longest accepted line in bytes, terminator excluded").pipe(
    Flag.withDefault(Connection.defaults.maxLineLength)
  ),
  maxConnections: positive(
    "max-connections",
    "Connections served at once (default: the file-descriptor limit minus a reserve of an eighth, 64 to 1024)"
  ).pipe(Flag.optional),
  whenFull: Flag.Literals("when-full", ["refuse", "queue"]).pipe(
    Flag.withDefault(LineServer.defaults.whenFull),
    Flag.withDescription("When --max-connections are busy: refuse new ones at once, or queue them unread")
  ),
  busyMessage: Flag.String("busy-message").pipe(
    Flag.optional,
    Flag.withDescription("Line sent to a refused connection before it is closed")
  ),
  idleTimeout: duration("idle-timeout", "0", "Close a connection whose read waits this long for input; 0 = never"),
  lineTimeout: duration(
    "line-timeout",
    "30s",
    "Close a connection whose line, once started, is not complete this long after; 0 = never"
  ),
  writeTimeout: duration("write-timeout", "30s", "Close a connection whose peer does not read our output this long", {
    positive: true
  }),
  shutdownTimeout: duration("shutdown-timeout", "10s", "On SIGINT/SIGTERM, time busy connections get to finish; 0 = none"),
  logFormat: Flag.Literals("log-format", logFormats).pipe(
    Flag.withFallbackConfig(Config.Literals(logFormats, env("log-format"))),
    Flag.withDefault<LogFormat>("pretty"),
    Flag.withDescription(`Log format on stderr: pretty or json (env ${env("log-format")})`)
  ),
  metricsPort: Flag.Int("metrics-port").pipe(
    Flag.withFallbackConfig(Config.Int(env("metrics-port"))),
    Flag.filter(port, (n) => `--metrics-port must be 0..65535, got ${n}`),
    Flag.optional,
    Flag.withDescription(`Serve Prometheus metrics on 127.0.0.1:<port>/metrics (env ${env("metrics-port")})`)
  )
}
