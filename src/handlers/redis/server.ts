/**
 * What a Redis server knows about itself, shared by its connections like the
 * keyspace: the clients connected now (`CLIENT LIST`, `CLIENT KILL`, `INFO
 * clients`) and those in `MONITOR` mode, the counters `INFO stats`,
 * `commandstats` and `errorstats` report since start or the last `CONFIG
 * RESETSTAT`, and a clock in the spirit of Redis's cached `server.unixtime`.
 *
 * The clock is a field a ticker fiber refreshes every 100 ms (as Redis's
 * cron at `hz 10`): stamping each request with the time of its arrival then
 * costs a field read, not a clock read. The same tick closes clients idle
 * past their server's `timeout`, once a second, as Redis's client cron does.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { Buffer } from "node:buffer"
import { type ByteString, is, type Request } from "./bytes.ts"
import type { Command, Settings } from "./command.ts"
import type { Session } from "./session.ts"

/**
 * A connected client, as the registry holds it.
 *
 * @since 0.1.0
 */
export interface Client {
  readonly session: Session
  /** The settings of the handler serving it (its `timeout`). */
  readonly settings: Settings
  /** Ends the connection at once (the peer sees a reset) and unregisters it: `CLIENT KILL`, the idle timeout. */
  readonly kill: () => void
  /** Output written and not yet handed to the OS, in bytes (`omem`). */
  readonly pendingOutput: () => number
}

/**
 * What one command did since the last reset (`cmdstat_…`).
 *
 * @since 0.1.0
 */
export interface CommandStats {
  /** Times it ran. */
  calls: number
  /** Times it was refused before running (arity, memory, subscriber mode). */
  rejected: number
  /** Times it ran and answered an error. */
  failed: number
}

/**
 * The counters, reset by `CONFIG RESETSTAT`.
 *
 * @since 0.1.0
 */
export interface Stats {
  /** Connections accepted (`total_connections_received`). */
  connectionsReceived: number
  /** Commands run (`total_commands_processed`). */
  commandsProcessed: number
  /** Error replies, by their first word (`errorstat_ERR`…). */
  readonly errors: Map<string, number>
  /** Per command (subcommands apart), in the order first used. */
  readonly commands: Map<Command, CommandStats>
  /** Keys the keyspace had expired at the last reset: `expired_keys` counts from there. */
  expiredBefore: number
}

/**
 * The server's own state.
 *
 * @since 0.1.0
 */
export interface Server {
  /** When the server started, in milliseconds. */
  readonly startedAt: number
  /** A random identifier of this server's run (`run_id`). */
  readonly runId: string
  /** The replication id it would give replicas (`master_replid`); it has none. */
  readonly replicationId: string
  /** The time in milliseconds, at most 100 ms old (Redis's cached clock). */
  readonly time: () => number
  /** The time in milliseconds, read from the clock now. */
  readonly now: () => number
  /** The clients connected now, by id, in the order they connected. */
  readonly clients: ReadonlyMap<number, Client>
  /** Registers a client that just connected, and counts it. */
  readonly connect: (client: Client) => void
  /** Removes a client; nothing if it was already removed. */
  readonly disconnect: (id: number) => void
  readonly stats: Stats
  /** The counters of `command`, created on first use. */
  readonly statsOf: (command: Command) => CommandStats
  /** Counts an error reply with this text (`ERR …`) in `errorstats`. */
  readonly countError: (text: string) => void
  /** `CONFIG RESETSTAT`: zeroes every counter; `expired` is the keyspace's count now. */
  readonly resetStats: (expired: number) => void
  /** The connections in `MONITOR` mode: each gets a line per command run, through its outbox. */
  readonly monitors: Set<Session>
  /** Shows `request`, just run by `session`, to every monitor, as Redis's `replicationFeedMonitors` words it. */
  readonly feedMonitors: (session: Session, request: Request) => void
}

/**
 * The `Server` service tag.
 *
 * @since 0.1.0
 */
export const Server: Context.Service<Server, Server> = Context.Service<Server>("fiberline/handlers/redis/Server")

/** An argument as Redis quotes it for monitors (`sdscatrepr`): in double quotes, C escapes, `\xHH` for the rest. */
const quoted = (arg: ByteString) => {
  let out = "\""
  for (let i = 0; i < arg.length; i++) {
    const c = arg[i]!
    const code = arg.charCodeAt(i)
    if (c === "\\" || c === "\"") out += `\\${c}`
    else if (c === "\n") out += "\\n"
    else if (c === "\r") out += "\\r"
    else if (c === "\t") out += "\\t"
    else if (code === 7) out += "\\a"
    else if (code === 8) out += "\\b"
    else if (code >= 32 && code < 127) out += c
    else out += `\\x${code.toString(16).padStart(2, "0")}`
  }
  return `${out}"`
}

/** The arguments a monitor sees: passwords (`HELLO … AUTH user pass`) redacted, as Redis does. */
const shown = (request: Request): Array<string> => {
  const args = request.map(quoted)
  if (is(request[0] ?? "", "hello")) {
    for (let i = 2; i + 2 < request.length; i++) {
      if (is(request[i]!, "auth")) {
        args[i + 1] = args[i + 2] = "\"(redacted)\""
        i += 2
      }
    }
  }
  return args
}

/** Redis's clients cron closes idle clients about once a second; the clock ticks ten times as often. */
const tickMillis = 100
const ticksPerIdleCheck = 10

/**
 * Builds the state in the current scope; its ticker runs until the scope
 * closes.
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<Server, never, Scope.Scope> = Effect.gen(function*() {
  const clock = yield* Clock.Clock
  const now = () => clock.currentTimeMillisUnsafe()
  let time = now()
  const clients = new Map<number, Client>()
  const monitors = new Set<Session>()
  const stats: Stats = {
    connectionsReceived: 0,
    commandsProcessed: 0,
    errors: new Map(),
    commands: new Map(),
    expiredBefore: 0
  }

  // Redis's `clientsCronHandleTimeout`: blocked clients, subscribers and monitors are never idle.
  const closeIdle = () => {
    const idle: Array<Client> = []
    for (const client of clients.values()) {
      const timeout = client.settings.timeout
      const { session } = client
      if (timeout === 0 || session.unblock !== undefined || session.monitor) continue
      if (session.channels.size + session.patterns.size > 0) continue
      if (time - session.lastInteraction > timeout * 1000) idle.push(client)
    }
    // Killed after the scan: a kill can run the killed connection's finalizers at once.
    for (const client of idle) client.kill()
  }
  let ticks = 0
  yield* Effect.forkScoped(Effect.forever(Effect.andThen(
    Effect.sleep(tickMillis),
    Effect.sync(() => {
      time = now()
      if (++ticks % ticksPerIdleCheck === 0 && clients.size > 0) closeIdle()
    })
  )))

  return Server.of({
    startedAt: time,
    runId: randomBytes(20).toString("hex"),
    replicationId: randomBytes(20).toString("hex"),
    time: () => time,
    now,
    clients,
    connect: (client) => {
      clients.set(client.session.id, client)
      stats.connectionsReceived++
    },
    disconnect: (id) => {
      clients.delete(id)
    },
    stats,
    statsOf: (command) => {
      let found = stats.commands.get(command)
      if (found === undefined) stats.commands.set(command, found = { calls: 0, rejected: 0, failed: 0 })
      return found
    },
    countError: (text) => {
      const space = text.indexOf(" ")
      const code = space === -1 ? text : text.slice(0, space)
      stats.errors.set(code, (stats.errors.get(code) ?? 0) + 1)
    },
    monitors,
    feedMonitors: (session, request) => {
      const at = now()
      const micros = `${(at % 1000) * 1000}`.padStart(6, "0")
      const line = Buffer.from(`+${Math.floor(at / 1000)}.${micros} [0 ${session.address}] ${shown(request).join(" ")}\r\n`, "latin1")
      for (const monitor of monitors) monitor.outbox?.deliver(line)
    },
    resetStats: (expired) => {
      stats.connectionsReceived = 0
      stats.commandsProcessed = 0
      stats.errors.clear()
      stats.commands.clear()
      stats.expiredBefore = expired
    }
  })
})

/**
 * A fresh state as a Layer, provided once per server.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<Server> = Layer.effect(Server, make)
