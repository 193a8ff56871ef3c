/**
 * The package as an app installs it. Packs this checkout from no `dist/` (so
 * `npm pack` must build it), installs the tarball into a new app outside the
 * repository beside `effect` and `@effect/platform-node` of the lockfile's
 * versions, and checks: the tarball holds what `exports` and `bin` name and
 * no tests; one copy of each peer; every source map finds its source; every
 * entry point of `exports` type-checks (strict, nodenext, the repository's
 * TypeScript) and loads; a handler of the app (`pack-app/app.ts`) serves a
 * line over TCP; the installed `fiberline` bin answers `--version`, serves
 * `echo` and exits 0 on SIGTERM. It needs the npm registry and rebuilds
 * `dist/`, so it is a step of `.ci/run`, not a test; every child process and
 * every wait has a deadline. It is longer than a module should be so that the
 * whole check reads top to bottom in one file, one function per stage.
 */
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

/** A package's `exports` value: a path, or conditions mapping to more of them. */
type ExportTarget = string | { readonly [condition: string]: ExportTarget }

/** The fields of package.json read here. */
interface PackageJson {
  readonly version: string
  readonly exports: { readonly [subpath: string]: ExportTarget }
  readonly bin: { readonly [name: string]: string }
}

/** What `npm pack --json` reports of one tarball. */
interface PackReport {
  readonly filename: string
  readonly size: number
  readonly unpackedSize: number
  readonly files: ReadonlyArray<{ readonly path: string }>
}

/** A check that did not hold, with the output of the command behind it. */
class CheckFailed extends Error {
  readonly output: string
  constructor(message: string, output = "") {
    super(message)
    this.output = output
  }
}

/** How a child process ended, and what it wrote. */
interface Finished {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

const repo = Path.resolve(import.meta.dirname, "..")
const readJson = (path: string): unknown => JSON.parse(Fs.readFileSync(path, "utf8"))
const pkg = readJson(Path.join(repo, "package.json")) as PackageJson
const lock = readJson(Path.join(repo, "package-lock.json")) as {
  readonly packages: { readonly [path: string]: { readonly version?: string } }
}

/** The version of `name` the repository's lockfile installs. */
const locked = (name: string): string => {
  const version = lock.packages[`node_modules/${name}`]?.version
  if (version === undefined) throw new CheckFailed(`package-lock.json has no ${name}`)
  return version
}

const say = (line: string) => process.stdout.write(`pack-check: ${line}\n`)
const kB = (bytes: number) => Math.round(bytes / 1000)

// Under `npm run`, npm_config_local_prefix and the rest name this repository: a nested npm
// install would take them for its own settings.
const childEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !name.startsWith("npm_") && name !== "INIT_CWD")
)

/** Runs a command to its end, killed after `seconds`. */
const run = (command: string, args: ReadonlyArray<string>, cwd: string, seconds: number): Promise<Finished> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: childEnv, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => stdout += chunk)
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => stderr += chunk)
    const timer = setTimeout(() => child.kill("SIGKILL"), seconds * 1000)
    child.on("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })

/** Runs a command that must exit 0 within `seconds`. */
const mustRun = async (command: string, args: ReadonlyArray<string>, cwd: string, seconds: number) => {
  const finished = await run(command, args, cwd, seconds)
  if (finished.code !== 0) {
    const how = finished.signal === "SIGKILL" ? `did not finish within ${seconds} s` : `exited ${finished.code ?? finished.signal}`
    throw new CheckFailed(`${[command, ...args].join(" ")} ${how}`, finished.stdout + finished.stderr)
  }
  return finished
}

/** Rejects with a CheckFailed if `promise` has not settled within `seconds`. */
const within = <A>(seconds: number, what: string, promise: Promise<A>): Promise<A> => {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CheckFailed(`${what}: nothing within ${seconds} s`)), seconds * 1000)
  })
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}

/** Every path an `exports` target names, under all its conditions. */
const targetPaths = (target: ExportTarget): ReadonlyArray<string> =>
  typeof target === "string" ? [target] : Object.values(target).flatMap(targetPaths)

/** The specifier an app imports a subpath of `exports` by: "." is "fiberline", "./Cli" is "fiberline/Cli". */
const specifierOf = (subpath: string) => subpath === "." ? "fiberline" : `fiberline/${subpath.slice(2)}`

/** Packs the checkout into `work`, from no dist/, and checks what the tarball holds. */
const pack = async (work: string): Promise<PackReport> => {
  Fs.rmSync(Path.join(repo, "dist"), { recursive: true, force: true })
  const packed = await mustRun("npm", ["pack", "--json", "--pack-destination", work], repo, 120)
  const [report] = JSON.parse(packed.stdout) as ReadonlyArray<PackReport>
  if (report === undefined) throw new CheckFailed("npm pack reported no tarball", packed.stdout)
  const files = new Set(report.files.map((file) => file.path))
  const named = [...Object.values(pkg.exports).flatMap(targetPaths), ...Object.values(pkg.bin)]
    .map((target) => Path.posix.normalize(target))
  const missing = [...new Set([...named, "LICENSE", "README.md", "CHANGELOG.md"])].filter((path) => !files.has(path))
  if (missing.length > 0) throw new CheckFailed(`the tarball lacks ${missing.join(", ")}`)
  const unwanted = [...files].filter((path) =>
    /^(test|bench|e2e|examples|\.ci)\//.test(path) || path.endsWith(".test.ts") || path.endsWith(".tsbuildinfo")
  )
  if (unwanted.length > 0) throw new CheckFailed(`the tarball holds ${unwanted.join(", ")}`)
  const tops = [...new Set([...files].map((path) => path.split("/")[0]))].toSorted().join(" ")
  say(`ok  npm pack built dist/ and packed ${report.filename}: ${files.size} files, ${kB(report.size)} kB`
    + ` (${kB(report.unpackedSize)} kB unpacked): ${tops}; every target of exports and bin is in it`)
  return report
}

/** Installs the tarball into a new app in `work`, the peers as the app's own dependencies; returns the app. */
const install = async (work: string, tarball: string): Promise<string> => {
  const app = Path.join(work, "app")
  Fs.mkdirSync(app)
  const dependencies = {
    effect: locked("effect"),
    "@effect/platform-node": locked("@effect/platform-node"),
    "@types/node": locked("@types/node"),
    fiberline: `file:../${tarball}`
  }
  const manifest = { name: "fiberline-pack-check-app", version: "0.0.0", private: true, type: "module", dependencies }
  Fs.writeFileSync(Path.join(app, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`)
  const installed = await mustRun("npm", ["install", "--no-audit", "--no-fund"], app, 240)
  const summary = installed.stdout.trim().split("\n").at(-1) ?? ""
  say(`ok  npm install in a new app (${Object.entries(dependencies).map(([n, v]) => `${n}@${v}`).join(", ")}): ${summary}`)
  return app
}

/** The directories `name` is installed in, anywhere under `nodeModules` (nested copies included). */
const copiesOf = (nodeModules: string, name: string): ReadonlyArray<string> => {
  const found = Fs.existsSync(Path.join(nodeModules, name, "package.json")) ? [Path.join(nodeModules, name)] : []
  const packages = Fs.readdirSync(nodeModules, { withFileTypes: true }).filter((entry) => entry.isDirectory()).flatMap(
    (entry) =>
      entry.name.startsWith("@")
        ? Fs.readdirSync(Path.join(nodeModules, entry.name)).map((scoped) => Path.join(nodeModules, entry.name, scoped))
        : [Path.join(nodeModules, entry.name)]
  )
  const nested = packages.map((dir) => Path.join(dir, "node_modules")).filter((dir) => Fs.existsSync(dir))
  return [...found, ...nested.flatMap((dir) => copiesOf(dir, name))]
}

/** One copy of each peer, the app's; fiberline itself a copy, not a link. */
const checkCopies = (app: string) => {
  const nodeModules = Path.join(app, "node_modules")
  for (const peer of ["effect", "@effect/platform-node"]) {
    const copies = copiesOf(nodeModules, peer)
    if (copies.length !== 1 || copies[0] !== Path.join(nodeModules, peer)) {
      const where = copies.map((dir) => Path.relative(app, dir)).join(", ")
      throw new CheckFailed(`${peer} is installed ${copies.length} times: ${where}`)
    }
  }
  if (Fs.lstatSync(Path.join(nodeModules, "fiberline")).isSymbolicLink()) {
    throw new CheckFailed("node_modules/fiberline is a link, not a copy")
  }
  say("ok  one copy each of effect and @effect/platform-node, the app's own (none under node_modules/fiberline)")
}

/** Every source and declaration map of the installed package names files it ships. */
const checkMaps = (app: string) => {
  const installed = Path.join(app, "node_modules", "fiberline")
  const maps = Fs.readdirSync(installed, { recursive: true, encoding: "utf8" }).filter((path) => path.endsWith(".map"))
  const dangling = maps.flatMap((map) => {
    const { sourceRoot = "", sources } = readJson(Path.join(installed, map)) as {
      readonly sourceRoot?: string
      readonly sources: ReadonlyArray<string>
    }
    const dir = Path.dirname(Path.join(installed, map))
    return sources.filter((source) => !Fs.existsSync(Path.resolve(dir, sourceRoot, source))).map((source) => `${map} -> ${source}`)
  })
  if (dangling.length > 0) throw new CheckFailed(`source maps name missing files: ${dangling.slice(0, 5).join(", ")}`)
  say(`ok  ${maps.length} source and declaration maps, every source they name is in the package`)
}

/** One import per entry point of `exports`; run, it prints how many names each exports. */
const entriesSource = (subpaths: ReadonlyArray<string>) =>
  [
    "// Every entry point of fiberline's package.json exports, imported as an app imports it.",
    ...subpaths.map((subpath, i) =>
      subpath.endsWith(".json")
        ? `import entry${i} from "${specifierOf(subpath)}" with { type: "json" }`
        : `import * as entry${i} from "${specifierOf(subpath)}"`
    ),
    "",
    "const entries: ReadonlyArray<readonly [string, object]> = [",
    ...subpaths.map((subpath, i) => `  ["${specifierOf(subpath)}", entry${i}],`),
    "]",
    "for (const [name, entry] of entries) {",
    "  const names = Object.keys(entry).length",
    "  console.log(`entries: ${name} loads, exporting ${names} name${names === 1 ? '' : 's'}`)",
    "  if (names === 0) process.exitCode = 1",
    "}",
    ""
  ].join("\n")

// skipLibCheck off, so fiberline's declarations are checked too; effect's name Web Crypto and
// Transferable types, hence "dom" (effect's own recommended settings have it).
const appTsconfig = {
  compilerOptions: {
    strict: true,
    module: "nodenext",
    moduleResolution: "nodenext",
    target: "es2023",
    lib: ["es2023", "dom"],
    types: ["node"],
    skipLibCheck: false,
    resolveJsonModule: true,
    verbatimModuleSyntax: true,
    noEmit: true
  },
  include: ["*.ts"]
}

/** Every entry point type-checks and loads; the app's own handler serves over TCP. */
const checkCode = async (app: string) => {
  const subpaths = Object.keys(pkg.exports)
  const pattern = subpaths.find((subpath) => subpath.includes("*"))
  if (pattern !== undefined) throw new CheckFailed(`exports subpath patterns are not checked: ${pattern}`)
  Fs.writeFileSync(Path.join(app, "entries.ts"), entriesSource(subpaths))
  Fs.copyFileSync(Path.join(import.meta.dirname, "pack-app", "app.ts"), Path.join(app, "app.ts"))
  Fs.writeFileSync(Path.join(app, "tsconfig.json"), `${JSON.stringify(appTsconfig, null, 2)}\n`)
  const tsc = Path.join(repo, "node_modules", "typescript", "bin", "tsc")
  await mustRun(process.execPath, [tsc, "-p", "tsconfig.json"], app, 120)
  say(`ok  tsc ${locked("typescript")} (strict, module and moduleResolution nodenext, skipLibCheck off) accepts`
    + ` entries.ts (${subpaths.map(specifierOf).join(", ")}) and app.ts`)
  const entries = await mustRun(process.execPath, ["entries.ts"], app, 30)
  for (const line of entries.stdout.trim().split("\n")) say(`ok  ${line}`)
  const served = await mustRun(process.execPath, ["app.ts"], app, 30)
  const answer = served.stdout.split("\n").find((line) => line.startsWith("app: "))
  if (answer === undefined) throw new CheckFailed("app.ts printed no answer", served.stdout + served.stderr)
  say(`ok  ${answer}`)
}

/** Sends `line` to 127.0.0.1:`port`, ends the input, and resolves with all that came back before the close. */
const ask = (port: number, line: string) =>
  new Promise<string>((resolve, reject) => {
    const socket = Net.connect(port, "127.0.0.1", () => socket.end(`${line}\n`))
    let received = ""
    socket.setEncoding("utf8").on("data", (chunk: string) => received += chunk)
    socket.on("error", reject).on("close", () => resolve(received))
  })

/** `npx fiberline --version`, then `fiberline echo --port 0` from the app's node_modules/.bin: one line, SIGTERM, exit 0. */
const checkBin = async (app: string) => {
  const version = await mustRun("npx", ["--no-install", "fiberline", "--version"], app, 30)
  if (!version.stdout.includes(pkg.version)) {
    throw new CheckFailed(`npx fiberline --version printed no ${pkg.version}`, version.stdout + version.stderr)
  }
  say(`ok  npx fiberline --version: ${version.stdout.trim()}`)

  const bin = Path.join(app, "node_modules", ".bin", "fiberline")
  const server = spawn(bin, ["echo", "--port", "0"], { cwd: app, env: childEnv, stdio: ["ignore", "ignore", "pipe"] })
  let stderr = ""
  const exited = new Promise<number | null>((resolve, reject) => {
    server.on("error", reject)
    server.on("exit", (code) => resolve(code))
  })
  try {
    const port = await within(
      10,
      "fiberline echo --port 0 logging its address",
      new Promise<number>((resolve, reject) => {
        server.stderr.setEncoding("utf8").on("data", (chunk: string) => {
          stderr += chunk
          const listening = /listening address=127\.0\.0\.1:(\d+)/.exec(stderr)
          if (listening !== null) resolve(Number(listening[1]))
        })
        void exited.then((code) => reject(new CheckFailed(`fiberline echo exited ${code} before listening`)), reject)
      })
    )
    const echoed = await within(10, "the echo server", ask(port, "pack-check"))
    if (echoed !== "pack-check\n") throw new CheckFailed(`fiberline echo answered ${JSON.stringify(echoed)}`)
    server.kill("SIGTERM")
    const code = await within(15, "fiberline echo after SIGTERM", exited)
    if (code !== 0) throw new CheckFailed(`fiberline echo exited ${code} after SIGTERM`)
    say(`ok  node_modules/.bin/fiberline echo --port 0: echoed a line on 127.0.0.1:${port}, exit 0 on SIGTERM`)
  } catch (error) {
    throw error instanceof CheckFailed ? new CheckFailed(error.message, stderr) : error
  } finally {
    if (server.exitCode === null && server.signalCode === null) server.kill("SIGKILL")
  }
}

const work = Fs.mkdtempSync(Path.join(Os.tmpdir(), "fiberline-pack-"))
try {
  const report = await pack(work)
  const app = await install(work, report.filename)
  checkCopies(app)
  checkMaps(app)
  await checkCode(app)
  await checkBin(app)
  Fs.rmSync(work, { recursive: true, force: true })
  say("the package installs and runs")
} catch (error) {
  const output = error instanceof CheckFailed ? error.output : ""
  say(`FAILED: ${error instanceof Error ? error.message : String(error)}`)
  if (output !== "") process.stdout.write(`${output.replace(/^/gm, "  | ").trimEnd()}\n`)
  say(`the app is left in ${work}`)
  process.exitCode = 1
}
