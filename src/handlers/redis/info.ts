/**
 * The text of `INFO`: Redis 7.0's sections, in its order, each with the
 * fields fiberline can state truthfully, and the section selection Redis
 * applies (`default`, `all`, `everything`, names in any case, several at once).
 *
 * A field is left out rather than made up: there is no allocator report, no
 * per-command timing (a clock read per command would cost more than most
 * commands), no persistence beyond the zeros that say nothing is being saved,
 * no keyspace hit counts. `used_memory` is the keyspace's bytes as
 * `memory.ts` counts them — what `maxmemory` bounds — and `used_memory_rss`
 * the process's resident memory. `fiberline_version` says what really
 * answers.
 *
 * @since 0.1.0
 */
import * as OS from "node:os"
import * as Process from "node:process"
import packageJson from "../../../package.json" with { type: "json" }
import type { ByteString } from "./bytes.ts"
import type { Command, CommandContext } from "./command.ts"

/**
 * The Redis version reported (`INFO`, `HELLO`): the one whose commands,
 * replies and error texts this handler follows.
 *
 * @since 0.1.0
 */
export const redisVersion = "7.0.15"

/** Redis's `bytesToHuman`. */
const human = (bytes: number): string => {
  const units = ["K", "M", "G", "T", "P"]
  if (bytes < 1024) return `${bytes}B`
  let scaled = bytes / 1024
  for (const unit of units) {
    if (scaled < 1024) return `${scaled.toFixed(2)}${unit}`
    scaled /= 1024
  }
  return `${bytes}B`
}

/** Seconds with six decimals, as Redis prints CPU times. */
const seconds = (micros: number) => `${Math.floor(micros / 1e6)}.${`${micros % 1e6}`.padStart(6, "0")}`

/** The port clients reach this server on, from the asking connection's own address. */
const tcpPort = (ctx: CommandContext) => {
  const local = ctx.session.localAddress
  return local === undefined ? 0 : Number(local.slice(local.lastIndexOf(":") + 1))
}

/** Every command and subcommand of the table, in order, with the counters of those that ran. */
const commandStats = (ctx: CommandContext): Array<string> => {
  const lines: Array<string> = []
  const visit = (command: Command) => {
    const stats = ctx.server.stats.commands.get(command)
    if (stats !== undefined) {
      lines.push(`cmdstat_${command.name}:calls=${stats.calls},rejected_calls=${stats.rejected},failed_calls=${stats.failed}`)
    }
    for (const sub of command.subcommands?.values() ?? []) visit(sub)
  }
  for (const command of ctx.commands.values()) visit(command)
  return lines
}

type Section = readonly [name: string, lines: (ctx: CommandContext) => ReadonlyArray<string>]

/** The sections, in Redis's order; `# Modules` is the `module_list` section. */
const sections: ReadonlyArray<Section> = [
  ["Server", (ctx) => {
    const now = ctx.server.now()
    const uptime = Math.floor((now - ctx.server.startedAt) / 1000)
    return [
      `redis_version:${redisVersion}`,
      `fiberline_version:${packageJson.version}`,
      "redis_mode:standalone",
      `os:${OS.type()} ${OS.release()} ${OS.machine()}`,
      `arch_bits:${Process.arch.endsWith("64") ? 64 : 32}`,
      `process_id:${Process.pid}`,
      `run_id:${ctx.server.runId}`,
      `tcp_port:${tcpPort(ctx)}`,
      `server_time_usec:${now * 1000}`,
      `uptime_in_seconds:${uptime}`,
      `uptime_in_days:${Math.floor(uptime / 86400)}`,
      "config_file:"
    ]
  }],
  ["Clients", (ctx) => [
    `connected_clients:${ctx.server.clients.size}`,
    `blocked_clients:${ctx.keyspace.waiting()}`,
    "tracking_clients:0"
  ]],
  ["Memory", (ctx) => {
    const used = ctx.keyspace.usedBytes()
    const rss = Process.memoryUsage.rss()
    const system = OS.totalmem()
    return [
      `used_memory:${used}`,
      `used_memory_human:${human(used)}`,
      `used_memory_rss:${rss}`,
      `used_memory_rss_human:${human(rss)}`,
      `total_system_memory:${system}`,
      `total_system_memory_human:${human(system)}`,
      `maxmemory:${ctx.settings.maxmemory}`,
      `maxmemory_human:${human(ctx.settings.maxmemory)}`,
      "maxmemory_policy:noeviction"
    ]
  }],
  ["Persistence", () => [
    "loading:0",
    "async_loading:0",
    "rdb_bgsave_in_progress:0",
    "aof_enabled:0",
    "aof_rewrite_in_progress:0"
  ]],
  ["Stats", (ctx) => {
    const { stats } = ctx.server
    let errors = 0
    for (const count of stats.errors.values()) errors += count
    return [
      `total_connections_received:${stats.connectionsReceived}`,
      `total_commands_processed:${stats.commandsProcessed}`,
      `expired_keys:${ctx.keyspace.expiredKeys() - stats.expiredBefore}`,
      "evicted_keys:0",
      "evicted_clients:0",
      `pubsub_channels:${ctx.pubsub.channels().length}`,
      `pubsub_patterns:${ctx.pubsub.patternCount()}`,
      "pubsubshard_channels:0",
      "total_forks:0",
      `total_error_replies:${errors}`
    ]
  }],
  ["Replication", (ctx) => [
    "role:master",
    "connected_slaves:0",
    "master_failover_state:no-failover",
    `master_replid:${ctx.server.replicationId}`,
    `master_replid2:${"0".repeat(40)}`,
    "master_repl_offset:0",
    "second_repl_offset:-1",
    "repl_backlog_active:0"
  ]],
  ["CPU", () => {
    const { system, user } = Process.cpuUsage()
    return [`used_cpu_sys:${seconds(system)}`, `used_cpu_user:${seconds(user)}`]
  }],
  ["Modules", () => []],
  ["Commandstats", commandStats],
  ["Errorstats", (ctx) => [...ctx.server.stats.errors].map(([code, count]) => `errorstat_${code}:count=${count}`)],
  ["Cluster", () => ["cluster_enabled:0"]],
  ["Keyspace", (ctx) =>
    ctx.keyspace.size() === 0 ? [] : [
      // Redis estimates avg_ttl while expiring keys; fiberline makes no estimate: 0, as Redis before its first.
      `db0:keys=${ctx.keyspace.size()},expires=${ctx.keyspace.volatileCount()},avg_ttl=0`
    ]]
]

/** What `INFO` with no argument (or `default`) shows: every section but the statistics per command. */
const defaultSections = new Set(["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "module_list", "errorstats", "cluster", "keyspace"])

/** Each section's selection name, as `INFO` takes it. */
const selector = (name: string) => name === "Modules" ? "module_list" : name.toLowerCase()

/**
 * The `INFO` text for the sections `wanted` names (none: the default ones).
 *
 * @since 0.1.0
 */
export const info = (ctx: CommandContext, wanted: ReadonlyArray<ByteString>): string => {
  const names = new Set<string>()
  let all = false
  for (const arg of wanted.length === 0 ? ["default"] : wanted) {
    const name = arg.toLowerCase()
    if (name === "all" || name === "everything") all = true
    else if (name === "default") for (const section of defaultSections) names.add(section)
    else names.add(name === "modules" ? "module_list" : name)
  }
  return sections
    .filter(([name]) => all || names.has(selector(name)))
    .map(([name, lines]) => `# ${name}\r\n${lines(ctx).map((line) => `${line}\r\n`).join("")}`)
    .join("\r\n")
}
