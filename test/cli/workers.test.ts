/**
 * `--workers N` end to end: the built CLI runs as a `node:cluster` primary
 * with real worker processes on loopback, and each behaviour an operator
 * relies on is shown from the outside — connections served by several
 * pids, a drain across workers on SIGTERM (clean, forced, or cut short by a
 * second signal) and the exit code it yields, workers that lose their
 * primary to `kill -9` and drain by themselves, a crashed worker restarted
 * with backoff while the others keep serving (and counted in the exit
 * code), a rolling restart on SIGUSR2 under load (no line lost, every pid
 * new) and one whose new version cannot start (the old workers serve on),
 * one metrics endpoint that covers every worker, and the runs that must end
 * at once (a usage error, a worker that cannot start). The merge
 * of expositions is pure and checked directly; the restart policy has its
 * own tests (`restarts.test.ts`).
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Url from "node:url"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { merge } from "../../src/cli/clusterMetrics.ts"
import * as LineClient from "../../src/services/LineClient.ts"
import { connect, type TestClient } from "../fixtures/client.ts"
import {
  cliEntry,
  type CliProcess,
  logFields,
  metricsUrl,
  parseJsonLog,
  portOf,
  repoRoot,
  runCli,
  sample,
  scrape,
  spawnCli,
  waitForMetrics
} from "../fixtures/cli.ts"
import { echoLoad } from "../fixtures/echoLoad.ts"
import { tempDir } from "../fixtures/files.ts"

/** Each test boots three node processes; on two shared cores that takes a few seconds. */
const timeout = 20_000
/** The bound of every single wait in these tests. */
const wait = Duration.seconds(12)
/** A rolling restart boots two processes, one after the other. */
const rollWait = Duration.seconds(30)
const rollTimeout = 60_000

const pidHandler = "test/fixtures/handlers/pid.ts"

/** The JSON log lines whose message is `message`, as parsed lines. */
const logsOf = (lines: ReadonlyArray<string>, message: string) =>
  lines.flatMap((line) => {
    const log = parseJsonLog(line)
    // Annotations (a worker's `worker` slot) are fields of the line like the others.
    return log?.message === message ? [{ fields: logFields(log), annotations: logFields(log) }] : []
  })

/** Whether `pid` is alive and still runs the CLI (not a recycled pid). */
const isOurs = (pid: number): boolean => {
  try {
    return Fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(cliEntry)
  } catch {
    return false
  }
}

/**
 * Worker pids seen by a test. Workers exit by themselves when their primary
 * is gone (cluster does that); whatever is still running when the test ends
 * is killed by its pid, after the primary (the finalizer is registered first).
 */
const trackWorkers = Effect.acquireRelease(
  Effect.sync(() => new Set<number>()),
  (pids) =>
    Effect.gen(function*() {
      for (let i = 0; i < 20 && [...pids].some(isOurs); i++) yield* Effect.sleep("100 millis")
      for (const pid of pids) if (isOurs(pid)) process.kill(pid, "SIGKILL")
    })
)

interface Cluster {
  readonly cli: CliProcess
  readonly port: number
  readonly pids: Set<number>
}

/** Starts `fiberline serve pid.ts --workers 2` (or another handler module) with JSON logs and waits until both workers listen. */
const startWorkers = (
  extraArgs: ReadonlyArray<string> = [],
  handler = pidHandler
): Effect.Effect<Cluster, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const pids = yield* trackWorkers
    const cli = yield* spawnCli(["serve", handler, "--port", "0", "--workers", "2", "--log-format", "json", ...extraArgs])
    const started = yield* cli.waitForLog("workers started", wait)
    assert.strictEqual(logFields(started).count, 2)
    return { cli, port: portOf(logFields(started).address), pids }
  })

/** Connects and reads the `pid N` greeting: which process serves this connection. */
const connectPid = (cluster: Cluster) =>
  Effect.gen(function*() {
    const client = yield* connect(cluster.port)
    const greeting = yield* Effect.timeout(client.readUntil("\n"), wait)
    const pid = Number(/^pid (\d+)\n/.exec(greeting)?.[1])
    assert.isTrue(Number.isInteger(pid), `a pid greeting, got ${JSON.stringify(greeting)}`)
    cluster.pids.add(pid)
    return { client, pid }
  })

/** Connects to the Unix socket at `path` until two different workers have greeted (at most 8 tries). */
const bothAnswerAt = (path: string) =>
  Effect.gen(function*() {
    const pids = new Set<string>()
    for (let attempt = 0; attempt < 8 && pids.size < 2; attempt++) {
      const greeting = yield* Effect.scoped(Effect.flatMap(LineClient.connect({ path }), (conn) => conn.readLine)).pipe(
        Effect.timeout(wait)
      )
      pids.add(greeting)
    }
    assert.strictEqual(pids.size, 2, `both workers answered: ${[...pids].join(", ")}`)
  })

/** One connection to each of two different workers (round-robin alternates: two attempts when both listen). */
const connectToBoth = (cluster: Cluster) =>
  Effect.gen(function*() {
    const byPid = new Map<number, TestClient>()
    for (let attempt = 0; attempt < 40 && byPid.size < 2; attempt++) {
      const { client, pid } = yield* connectPid(cluster)
      if (!byPid.has(pid)) {
        byPid.set(pid, client)
        continue
      }
      client.socket.destroy()
      // The same one twice: the other is not listening (yet), e.g. being restarted.
      yield* Effect.sleep("100 millis")
    }
    const [first, second] = byPid
    if (first === undefined || second === undefined) return assert.fail("two workers answered")
    return [first, second] as const
  })

/** A connection whose handler is blocked writing to a client that stopped reading; returns its worker's pid. */
const stalledClient = (cluster: Cluster) =>
  Effect.gen(function*() {
    const { client, pid } = yield* connectPid(cluster)
    yield* client.write("flood\n")
    yield* Effect.timeout(client.readUntil("xxxx"), wait)
    client.socket.pause()
    return pid
  })

/** One connection of `worker` closed at end of input. */
const closedOnce = (worker: number) => sample(`fiberline_connections_closed_total{worker="${worker}",reason="end-of-input"}`, 1)

/** The restarts of every slot, summed, from a scrape. */
const restartsIn = (exposition: string): number =>
  [...exposition.matchAll(/^fiberline_worker_restarts_total\{worker="\d+"\} (\d+)$/gm)].reduce((sum, match) => sum + Number(match[1]), 0)

/** A worker's exposition as Effect renders it, with a histogram among the metrics. */
const exposition = (accepted: number, closed: number) =>
  [
    "# HELP fiberline_connections_accepted_total Connections accepted",
    "# TYPE fiberline_connections_accepted_total counter",
    `fiberline_connections_accepted_total ${accepted}`,
    "# TYPE fiberline_connections_closed_total counter",
    `fiberline_connections_closed_total{reason="end-of-input"} ${closed}`,
    "# TYPE latency histogram",
    `latency_bucket{le="+Inf"} ${closed}`,
    `latency_sum ${closed}`,
    ""
  ].join("\n")

describe("fiberline --workers", () => {
  describe("pure parts", () => {
    it("merge labels every sample with its worker and declares each metric once", () => {
      const primary = "# TYPE fiberline_worker_restarts_total counter\nfiberline_worker_restarts_total{worker=\"1\"} 4\n"
      assert.strictEqual(
        merge([
          { text: exposition(3, 2), labels: { worker: "1" } },
          { text: exposition(5, 4), labels: { worker: "2" } },
          { text: primary }
        ]),
        [
          "# HELP fiberline_connections_accepted_total Connections accepted",
          "# TYPE fiberline_connections_accepted_total counter",
          "fiberline_connections_accepted_total{worker=\"1\"} 3",
          "fiberline_connections_accepted_total{worker=\"2\"} 5",
          "# TYPE fiberline_connections_closed_total counter",
          "fiberline_connections_closed_total{worker=\"1\",reason=\"end-of-input\"} 2",
          "fiberline_connections_closed_total{worker=\"2\",reason=\"end-of-input\"} 4",
          "# TYPE latency histogram",
          "latency_bucket{worker=\"1\",le=\"+Inf\"} 2",
          "latency_sum{worker=\"1\"} 2",
          "latency_bucket{worker=\"2\",le=\"+Inf\"} 4",
          "latency_sum{worker=\"2\"} 4",
          "# TYPE fiberline_worker_restarts_total counter",
          "fiberline_worker_restarts_total{worker=\"1\"} 4",
          ""
        ].join("\n")
      )
      assert.strictEqual(merge([]), "")
    })
  })

  describe("serving", () => {
    it.live("--workers 2 serves from two worker pids; each worker's logs name its slot; SIGTERM exits 0", () =>
      Effect.gen(function*() {
        const cluster = yield* startWorkers()
        const pids = (yield* connectToBoth(cluster)).map(([pid]) => pid)
        assert.notInclude(pids, cluster.cli.pid, "the primary serves no connection")
        const slots = logsOf(yield* cluster.cli.stderrLines, "listening").map((log) => log.annotations.worker)
        assert.sameMembers(slots, [1, 2])

        yield* cluster.cli.signal("SIGTERM")
        assert.deepStrictEqual(yield* cluster.cli.exited(wait), { code: 0, signal: null })
        const stopped = logsOf(yield* cluster.cli.stderrLines, "workers stopped")
        assert.deepStrictEqual(stopped.map((log) => log.fields), [{ codes: [0, 0], failures: 0 }])
        assert.isUndefined(stopped[0]!.annotations.worker, "the primary's lines carry no worker")
        assert.isFalse(pids.some(isOurs), "every worker has exited")
      }), timeout)

    it.live("--workers 1 (the default) is one process, as before: no cluster, no worker annotation", () =>
      Effect.gen(function*() {
        const cli = yield* spawnCli(["serve", pidHandler, "--port", "0", "--workers", "1", "--log-format", "json"])
        const listening = yield* cli.waitForLog("listening", wait)
        const client = yield* connect(portOf(logFields(listening).address))
        assert.strictEqual(yield* Effect.timeout(client.readUntil("\n"), wait), `pid ${cli.pid}\n`)
        const lines = yield* cli.stderrLines
        assert.isUndefined(logsOf(lines, "listening")[0]!.annotations.worker)
        assert.isEmpty(logsOf(lines, "workers started"))
        yield* cli.signal("SIGTERM")
        assert.strictEqual((yield* cli.exited(wait)).code, 0)
      }), timeout)
  })

  describe("stopping", () => {
    it.live("SIGTERM with a busy client on each worker: every reply arrives, clean closes, exit 0", () =>
      Effect.gen(function*() {
        const cluster = yield* startWorkers()
        const clients = (yield* connectToBoth(cluster)).map(([, client]) => client)
        for (const client of clients) {
          yield* client.write("sleep 1000\n")
          // Mid-request from here on: the drain must wait for the reply.
          yield* Effect.timeout(client.readUntil("sleeping\n"), wait)
        }
        yield* cluster.cli.signal("SIGTERM")
        for (const client of clients) {
          const { data, gotEnd, error } = yield* Effect.timeout(client.closed, wait)
          assert.match(data.toString(), /^pid \d+\nsleeping\nslept 1000\nbye\n$/)
          assert.isTrue(gotEnd, "closed with FIN after the last reply")
          assert.isUndefined(error)
        }
        assert.deepStrictEqual(yield* cluster.cli.exited(wait), { code: 0, signal: null })
        const lines = yield* cluster.cli.stderrLines
        assert.deepStrictEqual(
          logsOf(lines, "server stopped").map((log) => [log.fields.drained, log.fields.forced]),
          [[1, 0], [1, 0]]
        )
        assert.deepStrictEqual(logsOf(lines, "workers stopped")[0]?.fields, { codes: [0, 0], failures: 0 })
      }), timeout)

    it.live("a client that never reads is forced at --shutdown-timeout: that worker exits 1, so does the primary", () =>
      Effect.gen(function*() {
        const cluster = yield* startWorkers(["--shutdown-timeout", "300ms", "--write-timeout", "300s"])
        yield* stalledClient(cluster)
        yield* cluster.cli.signal("SIGTERM")
        assert.deepStrictEqual(yield* cluster.cli.exited(wait), { code: 1, signal: null })
        const lines = yield* cluster.cli.stderrLines
        const codes = logsOf(lines, "workers stopped")[0]?.fields.codes
        assert.sameMembers(codes as Array<number>, [0, 1])
        const forced = logsOf(lines, "server stopped").map((log) => log.fields.forced)
        assert.sameMembers(forced, [0, 1])
      }), timeout)

    it.live("a second SIGTERM stops every worker at once, exit 1, without waiting for the drain", () =>
      Effect.gen(function*() {
        const cluster = yield* startWorkers(["--shutdown-timeout", "300s", "--write-timeout", "300s"])
        const stalled = yield* stalledClient(cluster)
        yield* cluster.cli.signal("SIGTERM")
        yield* cluster.cli.waitForStderrLine(
          "the stalled worker shutting down",
          (line) => parseJsonLog(line)?.message === "shutting down" && logFields(parseJsonLog(line)!).connections === 1,
          wait
        )
        yield* cluster.cli.signal("SIGTERM")
        // Far below --shutdown-timeout (300 s): the drain was not awaited.
        assert.deepStrictEqual(yield* cluster.cli.exited(wait), { code: 1, signal: null })
        const stderr = yield* cluster.cli.stderr
        assert.include(stderr, "second SIGTERM")
        // The primary waited for its workers: the stalled one exited 1 (the idle one may have drained first).
        const codes = logsOf(stderr.split("\n"), "workers stopped")[0]?.fields.codes
        assert.include(codes as Array<number>, 1)
        assert.strictEqual(logsOf(stderr.split("\n"), "server stopped").filter((log) => log.fields.forced !== 0).length, 0)
        assert.isFalse(isOurs(stalled), "the stalled worker is gone")
      }), timeout)
  })

  describe("losing the primary", () => {
    it.live("kill -9 of the primary: each worker logs it, drains (the reply in progress arrives) and exits", () =>
      Effect.gen(function*() {
        const cluster = yield* startWorkers()
        const [[pid, client], [otherPid]] = yield* connectToBoth(cluster)
        yield* client.write("sleep 1000\n")
        yield* Effect.timeout(client.readUntil("sleeping\n"), wait)
        yield* cluster.cli.signal("SIGKILL")
        // The workers share the primary's stderr: their lines still arrive.
        const { data, gotEnd, error } = yield* Effect.timeout(client.closed, wait)
        assert.match(data.toString(), /\nslept 1000\nbye\n$/, "drained: the reply in progress arrived, then the goodbye")
        assert.isTrue(gotEnd)
        assert.isUndefined(error)
        // Closed once the workers, which hold the primary's stdio too, have exited.
        assert.deepStrictEqual(yield* cluster.cli.exited(wait), { code: null, signal: "SIGKILL" })
        assert.isFalse(isOurs(pid) || isOurs(otherPid), "both workers have exited")
        const orphaned = logsOf(yield* cluster.cli.stderrLines, "primary is gone: draining, then exiting 1")
        assert.sameMembers(orphaned.map((log) => log.annotations.worker), [1, 2], "one line from each worker")
        for (const log of orphaned) assert.strictEqual(log.fields.primary, cluster.cli.pid)
      }), timeout)
  })

  describe("stopping from a terminal", () => {
    it.live("Ctrl-C (SIGINT to the whole process group) drains each worker once: the reply arrives, exit 0", () =>
      Effect.gen(function*() {
        const group = yield* spawnCli(["serve", pidHandler, "--port", "0", "--workers", "2", "--log-format", "json"], { detached: true })
        const started = yield* group.waitForLog("workers started", wait)
        const client = yield* connect(portOf(logFields(started).address))
        yield* client.write("sleep 500\n")
        yield* Effect.timeout(client.readUntil("sleeping\n"), wait)
        // What a terminal does: every process of the group gets the signal,
        // the workers from the terminal and from their primary alike.
        process.kill(-group.pid, "SIGINT")
        const { data, gotEnd } = yield* Effect.timeout(client.closed, wait)
        assert.match(data.toString(), /\nslept 500\nbye\n$/)
        assert.isTrue(gotEnd)
        assert.deepStrictEqual(yield* group.exited(wait), { code: 0, signal: null })
        const stopped = logsOf(yield* group.stderrLines, "workers stopped")
        assert.deepStrictEqual(stopped.map((log) => log.fields), [{ codes: [0, 0], failures: 0 }])
      }), timeout)
  })

  describe("crashes", () => {
    it.live("a crashed worker is restarted with backoff (a new pid serves) while the other keeps serving", () =>
      Effect.gen(function*() {
        const cluster = yield* startWorkers()
        const [[crashingPid, crashing], [otherPid, other]] = yield* connectToBoth(cluster)
        yield* crashing.write("crash\n")
        yield* Effect.timeout(crashing.closed, wait)
        const restarting = yield* cluster.cli.waitForLog("restarting worker", wait)
        const { worker: slot, ...crash } = logFields(restarting)
        assert.deepStrictEqual(crash, { pid: crashingPid, exitCode: 3, signal: null, restartIn: "100ms" })

        // Meanwhile the other worker serves: its connection, and new ones.
        yield* other.write("still here\n")
        assert.include(yield* Effect.timeout(other.readUntil("still here\n"), wait), "still here\n")
        const meanwhile = yield* connectPid(cluster)
        assert.notStrictEqual(meanwhile.pid, crashingPid)

        // A new pid serves in the crashed worker's slot.
        let replacement = { pid: otherPid, client: other }
        for (let attempt = 0; attempt < 40 && (replacement.pid === otherPid || replacement.pid === crashingPid); attempt++) {
          replacement = yield* connectPid(cluster)
          if (replacement.pid === otherPid) yield* Effect.sleep("100 millis")
        }
        assert.notInclude([otherPid, crashingPid], replacement.pid, "a replacement serves")

        // It crashes too, soon after: the delay doubles, and the burst is summed up, not logged line by line.
        yield* replacement.client.write("crash\n")
        const summary = yield* cluster.cli.waitForLog("restarted workers", wait)
        assert.deepStrictEqual(logFields(summary), { restarts: 1, longestDelay: "200ms" })
        const lines = yield* cluster.cli.stderrLines
        assert.strictEqual(logsOf(lines, "restarting worker").length, 1)
        assert.isEmpty(logsOf(lines, "worker failed to start"))
        // Both restarts were in the first worker's slot.
        const listening = logsOf(lines, "listening").map((log) => log.annotations.worker)
        assert.isAtLeast(listening.filter((worker) => worker === slot).length, 2)

        // The drain is clean, but two workers crashed during the run: exit 1, and the log says why.
        yield* cluster.cli.signal("SIGTERM")
        assert.deepStrictEqual(yield* cluster.cli.exited(wait), { code: 1, signal: null })
        const stopped = logsOf(yield* cluster.cli.stderrLines, "workers stopped")
        assert.deepStrictEqual(stopped.map((log) => log.fields), [{ codes: [0, 0], failures: 2 }])
      }), timeout)

    it.live("a worker that cannot start (the port is taken) ends the run with its code, without restarts", () =>
      Effect.gen(function*() {
        const pids = yield* trackWorkers
        const holder = yield* spawnCli(["echo", "--port", "0", "--log-format", "json"])
        const port = portOf(logFields(yield* holder.waitForLog("listening", wait)).address)
        const cli = yield* spawnCli(["echo", "--port", String(port), "--workers", "2", "--log-format", "json"])
        assert.deepStrictEqual(yield* cli.exited(wait), { code: 1, signal: null })
        const lines = yield* cli.stderrLines
        for (const failed of logsOf(lines, "worker failed to start")) pids.add(failed.fields.pid as number)
        assert.isNotEmpty(logsOf(lines, "worker failed to start"))
        assert.isEmpty(logsOf(lines, "restarting worker"))
        // Logged by the worker that failed, as a single process logs it.
        const why = lines.filter((line) => line.includes(`cannot listen on 127.0.0.1:${port}: address already in use`))
        assert.isNotEmpty(why)
        for (const line of why) assert.oneOf(parseJsonLog(line)?.fields.worker, [1, 2])
        assert.include(logsOf(lines, "workers stopped")[0]?.fields.codes as Array<number>, 1)
      }), timeout)
  })

  describe("rolling restart (SIGUSR2)", () => {
    it.live("under load, every worker is replaced by a new process: no line lost, no connection dropped unannounced", () =>
      Effect.gen(function*() {
        const pids = yield* trackWorkers
        const cli = yield* spawnCli(["echo", "--port", "0", "--workers", "2", "--log-format", "json"])
        const port = portOf(logFields(yield* cli.waitForLog("workers started", wait)).address)
        const load = yield* echoLoad(port, 5)
        yield* Effect.timeout(load.waitForLines(20), wait)

        yield* cli.signal("SIGUSR2")
        const before = logFields(yield* cli.waitForLog("rolling restart", wait)).pids as Array<number>
        before.forEach((pid) => pids.add(pid))
        // A second SIGUSR2 while the roll runs is ignored, and says so.
        yield* cli.signal("SIGUSR2")
        yield* cli.waitForLog("rolling restart already running: SIGUSR2 ignored", wait)
        const after = logFields(yield* cli.waitForLog("rolling restart done", rollWait)).pids as Array<number>
        after.forEach((pid) => pids.add(pid))
        assert.strictEqual(before.length, 2)
        assert.strictEqual(after.length, 2)
        assert.isEmpty(after.filter((pid) => before.includes(pid)), "every worker pid is new")
        assert.isFalse(before.some(isOurs), "the old workers have exited")
        assert.isTrue(after.every(isOurs), "the new workers run")

        // Only the new workers are left: every client gets further lines through them.
        yield* Effect.timeout(load.waitForLines(Math.max(...load.lines()) + 20), wait)
        const clients = yield* Effect.timeout(load.stop, wait)
        for (const [id, { connections, lines }] of clients.entries()) {
          const context = `client ${id}: ${JSON.stringify(connections)}`
          // Each started on an old worker, which drained it, then a new connection.
          assert.isAtLeast(connections.length, 2, context)
          for (const connection of connections.slice(0, -1)) {
            assert.strictEqual(connection.closedBy, "server", context)
            // Every line sent was echoed, but perhaps the one in flight when the
            // server closed (sent again next). That one got a reset if it reached
            // the server before its close, else it crossed the FIN; a connection
            // with nothing in flight ends with a clean FIN.
            assert.oneOf(connection.sent - connection.echoed, [0, 1], context)
            if (connection.sent === connection.echoed) {
              assert.isTrue(connection.gotEnd, context)
              assert.isUndefined(connection.error, context)
            } else {
              assert.oneOf(connection.error, [undefined, "ECONNRESET"], context)
            }
          }
          assert.isUndefined(connections.at(-1)!.error, context)
          const last = connections.at(-1)!
          assert.strictEqual(last.closedBy, "client", context)
          assert.strictEqual(last.sent, last.echoed, context)
          assert.strictEqual(connections.reduce((sum, connection) => sum + connection.echoed, 0), lines, context)
        }

        const lines = yield* cli.stderrLines
        const replaced = logsOf(lines, "worker replaced").map((log) => log.fields)
        assert.deepStrictEqual(replaced.map(({ worker, exitCode }) => [worker, exitCode]), [[1, 0], [2, 0]])
        assert.strictEqual(logsOf(lines, "rolling restart").length, 1, "one roll")
        // One slot at a time: its new worker listens, then its old one drains and exits, then the next slot.
        const steps = lines.slice(lines.findIndex((line) => parseJsonLog(line)?.message === "rolling restart")).flatMap((line) => {
          const log = parseJsonLog(line)
          const message = log?.message
          if (message === "worker replaced") return [`replaced ${logFields(log!).worker}`]
          return message === "listening" || message === "shutting down" ? [`${message} ${logFields(log!).worker}`] : []
        })
        assert.deepStrictEqual(steps, ["listening 1", "shutting down 1", "replaced 1", "listening 2", "shutting down 2", "replaced 2"])
        yield* cli.signal("SIGTERM")
        assert.deepStrictEqual(yield* cli.exited(wait), { code: 0, signal: null })
        assert.deepStrictEqual(logsOf(yield* cli.stderrLines, "workers stopped")[0]?.fields, { codes: [0, 0], failures: 0 })
      }), rollTimeout)

    it.live("a new version that cannot start stops the roll: one line, the old workers serve on; fixed, the next roll goes through", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir("roll")
        const module = Path.join(dir, "handler.ts")
        const working = `export { default } from ${JSON.stringify(Url.pathToFileURL(Path.join(repoRoot, pidHandler)).href)}\n`
        Fs.writeFileSync(module, working)
        const cluster = yield* startWorkers([], module)
        const old = (yield* connectToBoth(cluster)).map(([pid]) => pid)

        // The deploy that breaks: the module no longer parses.
        Fs.writeFileSync(module, "export default (conn) => {\n")
        yield* cluster.cli.signal("SIGUSR2")
        const stopped = logFields(
          yield* cluster.cli.waitForLog("rolling restart stopped: the new worker did not start, the old ones keep serving", wait)
        )
        cluster.pids.add(stopped.pid as number)
        assert.deepStrictEqual({ ...stopped, pid: 0 }, { worker: 1, pid: 0, exitCode: 2, signal: null })
        const lines = yield* cluster.cli.stderrLines
        assert.isTrue(lines.some((line) => line.includes(`handler module ${module}: cannot load it`)), "the new worker said why")
        assert.isEmpty(logsOf(lines, "worker failed to start"), "the run goes on")
        assert.isEmpty(logsOf(lines, "rolling restart done"))
        assert.isFalse(isOurs(stopped.pid as number))

        // The old workers serve on, new connections included; a SIGUSR2 sent to a worker is not a roll.
        process.kill(old[0]!, "SIGUSR2")
        yield* cluster.cli.waitForLog("SIGUSR2 ignored: a rolling restart is the primary's", wait)
        const serving = yield* connectToBoth(cluster)
        assert.sameMembers(serving.map(([pid]) => pid), old)
        for (const [, client] of serving) {
          yield* client.write("still here\n")
          assert.include(yield* Effect.timeout(client.readUntil("still here\n"), wait), "still here\n")
        }

        // Fixed: the next SIGUSR2 rolls every slot.
        Fs.writeFileSync(module, working)
        yield* cluster.cli.signal("SIGUSR2")
        const after = logFields(yield* cluster.cli.waitForLog("rolling restart done", rollWait)).pids as Array<number>
        after.forEach((pid) => cluster.pids.add(pid))
        assert.isEmpty(after.filter((pid) => old.includes(pid)), "every worker pid is new")
        assert.isFalse(old.some(isOurs))

        // The new worker that did not start counts as a failure of the run.
        yield* cluster.cli.signal("SIGTERM")
        assert.deepStrictEqual(yield* cluster.cli.exited(wait), { code: 1, signal: null })
        assert.deepStrictEqual(logsOf(yield* cluster.cli.stderrLines, "workers stopped")[0]?.fields, { codes: [0, 0], failures: 1 })
      }), rollTimeout)
  })

  describe("unix sockets", () => {
    it.live("--workers 2 --unix PATH: a stale file is cleared once, both workers serve the socket, SIGTERM exits 0", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir("workers")
        const path = Path.join(dir, "pid.sock")
        // A stale socket file, as a server killed with SIGKILL leaves it.
        const stale = ChildProcess.spawnSync(process.execPath, [
          "-e",
          "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))",
          path
        ])
        assert.strictEqual(stale.signal, "SIGKILL")
        assert.isTrue(Fs.existsSync(path))
        const cli = yield* spawnCli(["serve", pidHandler, "--unix", path, "--workers", "2", "--log-format", "json"])
        yield* cli.waitForLog("workers started", wait)
        yield* bothAnswerAt(path)
        yield* cli.signal("SIGTERM")
        assert.deepStrictEqual(yield* cli.exited(wait), { code: 0, signal: null })
      }), timeout)
    it.live("--workers 2 --unix PATH --unix-mode 0600: the socket is never at its path with another mode; both workers serve it", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir("workers")
        const path = Path.join(dir, "pid.sock")
        // A process of its own watches the path as fast as it can until the socket has been there a while.
        const watcher = ChildProcess.spawn(process.execPath, [
          "-e",
          `const fs = require("fs"); const seen = new Set(); let since = 0; const end = Date.now() + 15000
          while (Date.now() < end) {
            const stat = fs.lstatSync(process.argv[1], { throwIfNoEntry: false })
            if (stat !== undefined) { seen.add((stat.mode & 0o777).toString(8)); if (since === 0) since = Date.now() }
            if (since !== 0 && Date.now() - since > 1500) break
          }
          process.stdout.write(JSON.stringify([...seen]))`,
          path
        ])
        let watched = ""
        watcher.stdout.setEncoding("utf8").on("data", (chunk: string) => (watched += chunk))
        const watcherDone = new Promise((resolve) => watcher.once("exit", resolve))
        const cli = yield* spawnCli(["serve", pidHandler, "--unix", path, "--unix-mode", "0600", "--workers", "2", "--log-format", "json"])
        yield* cli.waitForLog("workers started", wait)
        yield* bothAnswerAt(path)
        yield* Effect.promise(() => watcherDone)
        assert.deepStrictEqual(JSON.parse(watched), ["600"], "the modes the socket was seen at its path with")
        assert.strictEqual((Fs.lstatSync(path).mode & 0o777).toString(8), "600")
        yield* cli.signal("SIGTERM")
        assert.deepStrictEqual(yield* cli.exited(wait), { code: 0, signal: null })
      }), timeout)
  })

  describe("metrics", () => {
    it.live("--metrics-port 0: one endpoint, each sample labelled with its worker, answering through a restart", () =>
      Effect.gen(function*() {
        const cluster = yield* startWorkers(["--metrics-port", "0"])
        const url = yield* metricsUrl(cluster.cli)
        const clients = yield* connectToBoth(cluster)
        for (const [, client] of clients) {
          yield* client.end
          yield* Effect.timeout(client.closed, wait)
        }
        const scraped = yield* waitForMetrics(url, "both closes", (text) => closedOnce(1).test(text) && closedOnce(2).test(text), wait)
        for (const worker of [1, 2]) {
          assert.match(scraped, sample(`fiberline_connections_accepted_total{worker="${worker}"}`, 1))
          assert.match(scraped, sample(`fiberline_worker_restarts_total{worker="${worker}"}`, 0))
        }
        assert.strictEqual(scraped.match(/^# TYPE fiberline_connections_accepted_total counter$/gm)?.length, 1)
        assert.strictEqual(scraped.match(/^# HELP fiberline_connections_accepted_total /gm)?.length, 1)
        assert.notMatch(scraped, /^fiberline_connections_accepted_total /m, "no sample without its worker")

        // While a worker restarts, the endpoint answers with the other's samples.
        const { client } = yield* connectPid(cluster)
        yield* client.write("crash\n")
        yield* Effect.timeout(client.closed, wait)
        const crashed = logFields(yield* cluster.cli.waitForLog("restarting worker", wait)).worker as number
        const during = yield* scrape(url)
        assert.include(during, `fiberline_connections_accepted_total{worker="${3 - crashed}"} `, "the other worker answers")
        const listened = logsOf(yield* cluster.cli.stderrLines, "listening").filter((log) => log.annotations.worker === crashed)
        if (listened.length === 1) {
          // Scraped before the replacement listened (the usual case: it takes a fork and a boot).
          assert.notInclude(during, `fiberline_connections_accepted_total{worker="${crashed}"}`, "the crashed worker is left out")
        }
        const restarted = sample(`fiberline_worker_restarts_total{worker="${crashed}"}`, 1)
        yield* waitForMetrics(url, "the restart counted", (text) => restarted.test(text), wait)

        // A worker that cannot answer (its event loop is stuck) is left out after the scrape timeout.
        const [[hungPid, hung]] = yield* connectToBoth(cluster)
        yield* hung.write("hang\n")
        yield* Effect.sleep("200 millis")
        // Bounded far below the hang (60 s): the scrape did not wait for it.
        const withoutHung = yield* Effect.timeout(scrape(url), wait)
        assert.strictEqual(withoutHung.match(/^fiberline_connections_accepted_total\{/gm)?.length, 1, withoutHung)
        assert.isTrue(isOurs(hungPid), "left out while it still runs, hung")
        process.kill(hungPid, "SIGKILL")
        // Killed while the primary is not stopping: a crash like the first, restarted.
        yield* waitForMetrics(url, "the second restart counted", (text) => restartsIn(text) === 2, wait)

        // Two crashes (one of them a kill -9) during the run: exit 1, though the drain was clean.
        yield* cluster.cli.signal("SIGTERM")
        assert.strictEqual((yield* cluster.cli.exited(wait)).code, 1)
      }), timeout)
    it.live("the primary answers /healthz and /readyz for the cluster: 503 from SIGTERM on, while a worker still drains", () =>
      Effect.gen(function*() {
        const cluster = yield* startWorkers(["--metrics-port", "0", "--shutdown-timeout", "30s"])
        const base = (yield* metricsUrl(cluster.cli)).replace(/\/metrics$/, "")
        const status = (path: string) => Effect.promise(() => fetch(`${base}${path}`).then((response) => response.status))
        assert.strictEqual(yield* status("/healthz"), 200)
        assert.strictEqual(yield* status("/readyz"), 200)
        const { client } = yield* connectPid(cluster)
        yield* client.write("sleep 4000\n")
        yield* Effect.timeout(client.readUntil("sleeping\n"), wait)
        yield* cluster.cli.signal("SIGTERM")
        yield* cluster.cli.waitForLog("shutting down", wait)
        assert.strictEqual(yield* status("/readyz"), 503)
        assert.strictEqual(yield* status("/healthz"), 200)
        assert.isFalse(client.socket.destroyed, "the sleeping connection is still served")
        const { data } = yield* Effect.timeout(client.closed, wait)
        assert.match(data.toString(), /\nslept 4000\nbye\n$/, "drained: its reply arrived")
        assert.deepStrictEqual(yield* cluster.cli.exited(wait), { code: 0, signal: null })
      }), timeout)
  })

  describe("configuration", () => {
    it.live("--workers 2 --stdio is a usage error: one line on stderr, exit 2", () =>
      Effect.gen(function*() {
        const { code, stderr, stdout } = yield* runCli(["echo", "--workers", "2", "--stdio"], { stdin: "x\n", timeout: wait })
        assert.strictEqual(stderr, "fiberline echo: --workers does not apply with --stdio\n")
        assert.strictEqual(stdout.length, 0)
        assert.strictEqual(code, 2)
      }), timeout)

    it.live("FIBERLINE_WORKERS is read like every setting: a bad value is named", () =>
      Effect.gen(function*() {
        const { code, stderr } = yield* runCli(["echo", "--port", "0"], { env: { FIBERLINE_WORKERS: "0" }, timeout: wait })
        assert.strictEqual(stderr, "fiberline echo: invalid FIBERLINE_WORKERS \"0\": expected an integer from 1 to 256\n")
        assert.strictEqual(code, 2)
      }), timeout)

    it.live("a bad handler module with --workers 2 is one usage error from the primary, before any fork", () =>
      Effect.gen(function*() {
        const { code, stderr } = yield* runCli(["serve", "nope.ts", "--port", "0", "--workers", "2"], { timeout: wait })
        assert.strictEqual(stderr, "fiberline serve: handler module nope.ts: no such file\n")
        assert.strictEqual(code, 2)
      }), timeout)
  })
})
