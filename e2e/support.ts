/**
 * What the e2e scripts share: finding a server's executable, a free loopback
 * port, starting a server process (its output kept, and logged to a file if
 * asked) and stopping it by its PID, bounded waits, and the PASS/FAIL report
 * with the script's exit code (0 all passed, 1 a check failed or a step
 * timed out, 2 a prerequisite is missing).
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"

/** The repository's root. */
export const root = Path.resolve(import.meta.dirname, "..")

export const say = (line: string) => process.stdout.write(`${line}\n`)

/** A wait that ran out, or a step that failed: ends the run with exit code 1. */
export class Failed extends Error {}

/** The path of `name` on PATH or in the sbin directories (where Debian puts some servers). */
export const executable = (name: string): string | undefined =>
  [...(process.env.PATH ?? "").split(Path.delimiter), "/usr/sbin", "/usr/local/sbin", "/sbin"]
    .map((dir) => Path.join(dir, name))
    .find((file) => {
      try {
        Fs.accessSync(file, Fs.constants.X_OK)
        return true
      } catch {
        return false
      }
    })

/** A TCP port free on 127.0.0.1 right now. */
export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })

/** Resolves once `check` gives a value, re-checking every 50 ms; fails after `ms`. */
export const until = <A>(what: string, check: () => A | undefined, ms = 20_000) =>
  new Promise<A>((resolve, reject) => {
    const started = Date.now()
    const attempt = () => {
      const value = check()
      if (value !== undefined) return resolve(value)
      if (Date.now() - started > ms) return reject(new Failed(`timed out after ${ms} ms waiting for ${what}`))
      setTimeout(attempt, 50)
    }
    attempt()
  })

/** A server process whose output lines are kept. */
export interface Child {
  readonly name: string
  readonly pid: number
  readonly lines: Array<string>
  readonly exited: Promise<number | string>
  readonly command: string
}

const children: Array<Child & { readonly gone: () => boolean }> = []

/** Starts `command` with `args`, its stdout and stderr kept by line (and copied to `log`, if given). */
export const start = (name: string, command: string, args: ReadonlyArray<string>, log?: string): Child => {
  const child = ChildProcess.spawn(command, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
  const lines: Array<string> = []
  const out = log === undefined ? undefined : Fs.createWriteStream(log)
  for (const stream of [child.stdout, child.stderr]) {
    let rest = ""
    stream.setEncoding("utf8")
    stream.on("data", (chunk: string) => {
      out?.write(chunk)
      const parts = (rest + chunk).split("\n")
      rest = parts.pop()!
      lines.push(...parts)
    })
  }
  let gone = false
  const exited = new Promise<number | string>((resolve) =>
    child.on("exit", (code, signal) => {
      gone = true
      resolve(code ?? signal ?? "?")
    })
  )
  const started = {
    name,
    pid: child.pid ?? -1,
    lines,
    exited,
    gone: () => gone,
    command: [command, ...args].map((arg) => (/^[\w./:=,@-]+$/.test(arg) ? arg : `'${arg}'`)).join(" ")
  }
  children.push(started)
  return started
}

/** Sends `name` to `child` by its PID unless it has exited (its PID may be another process's by then). */
const signal = (child: Child & { readonly gone: () => boolean }, name: NodeJS.Signals) => {
  if (!child.gone()) process.kill(child.pid, name)
}

/** Stops `child` with `name` (SIGTERM), then SIGKILL if it is still there after `graceMs`; its exit code or signal. */
export const stop = async (child: Child, name: NodeJS.Signals = "SIGTERM", graceMs = 10_000) => {
  const own = children.find((candidate) => candidate.pid === child.pid)!
  signal(own, name)
  const timer = setTimeout(() => signal(own, "SIGKILL"), graceMs)
  const code = await child.exited
  clearTimeout(timer)
  return code
}

/** SIGKILL to every child still running (each by its PID), and waits for them all to exit. */
export const killAll = async () => {
  for (const child of children) signal(child, "SIGKILL")
  await Promise.all(children.map((child) => child.exited))
}

/** Stops everything if the whole run takes over `limitMillis`: a FAIL line, SIGKILL to each child, exit 1. */
export const watchdog = (limitMillis: number) =>
  setTimeout(() => {
    say(`FAIL  the run took over ${limitMillis} ms; stopping everything`)
    for (const child of children) signal(child, "SIGKILL")
    process.exit(1)
  }, limitMillis)

/** Whether something listens on 127.0.0.1:`port` (Linux's socket table: probing by connecting would be a connection). */
export const listensOn = (port: number) => {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`
  return Fs.readFileSync("/proc/net/tcp", "utf8").split("\n").some((row) => {
    const fields = row.trim().split(/\s+/)
    return fields[1] === local && fields[3] === "0A"
  })
}

const results: Array<boolean> = []

/** Records and prints one check with its evidence. */
export const check = (what: string, ok: boolean, evidence: string) => {
  results.push(ok)
  say(`${ok ? "PASS" : "FAIL"}  ${what}`)
  for (const line of evidence.split("\n")) say(`        ${line}`)
}

/** Records a step that failed (or a wait that ran out) as a failed check. */
export const failed = (error: unknown) => {
  say(`FAIL  ${error instanceof Failed ? error.message : String(error)}`)
  results.push(false)
}

/** Prints how many checks passed; the script's exit code (0 all passed, 1 otherwise). */
export const report = (): number => {
  const failures = results.filter((ok) => !ok).length
  say(failures === 0 ? `all ${results.length} checks passed` : `${failures} of ${results.length} checks failed`)
  return failures === 0 ? 0 : 1
}

/**
 * Runs a script: `server` names the executable it needs (exit 2 when it is
 * missing, with how to install it), `run` gets its path. The whole run is
 * bounded by `limitMillis`; whatever it started is stopped by PID at the
 * end. Returns the exit code.
 */
export const main = async (
  script: string,
  server: { readonly executable: string; readonly debianPackage: string },
  run: (path: string) => Promise<void>,
  limitMillis = 60_000
): Promise<number> => {
  const path = executable(server.executable)
  if (path === undefined) {
    process.stderr.write(
      `${script} needs ${server.executable}.\n` +
        `On Debian or Ubuntu: sudo apt-get update && sudo apt-get install -y ${server.debianPackage}\n`
    )
    return 2
  }
  if (!Fs.existsSync(Path.join(root, "dist", "index.js"))) {
    process.stderr.write(`${script} needs the built library (dist/): run it through npm, which builds first.\n`)
    return 2
  }
  const timer = watchdog(limitMillis)
  try {
    await run(path)
  } catch (error) {
    failed(error)
  } finally {
    await killAll()
    clearTimeout(timer)
  }
  return report()
}
