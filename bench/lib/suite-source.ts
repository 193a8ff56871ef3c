/**
 * Where `redis-suite.ts` gets Redis's Tcl test suite: never from this
 * repository, which holds none of it. Given a clone of redis/redis (`--redis-src
 * DIR` or `REDIS_SRC`), it extracts `runtest` and `tests/` at the tag matching
 * the installed `redis-server` with `git archive` into
 * `bench/.build/redis-tests/TAG/` (gitignored), once; a later run reuses that
 * copy. A source directory that is not a git clone is copied as it stands,
 * after checking its `src/version.h` names the same version.
 */
import { spawnSync } from "node:child_process"
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs"
import { join } from "node:path"
import { buildDir } from "./paths.ts"

/** The directory that holds (or will hold) the extracted suite of `tag`. */
export const suiteDir = (tag: string): string => join(buildDir, "redis-tests", tag)

/** The version of the installed `redis-server` (`7.0.15` from `Redis server v=7.0.15 sha=…`), or undefined. */
export const installedRedisVersion = (): string | undefined =>
  /\bv=(\d+\.\d+\.\d+)\b/.exec(spawnSync("redis-server", ["--version"], { encoding: "utf8" }).stdout ?? "")?.[1]

/** How to get the suite, for error messages. */
const howTo = (tag: string) =>
  `give a clone of redis/redis with --redis-src DIR or REDIS_SRC (git clone https://github.com/redis/redis; it needs the tag ${tag})`

/**
 * Makes sure the suite of `tag` is extracted and returns its directory;
 * throws a one-line error saying what is missing.
 */
export const prepareSuite = (tag: string, redisSrc: string | undefined): string => {
  const target = suiteDir(tag)
  if (existsSync(join(target, "runtest")) && existsSync(join(target, "tests", "test_helper.tcl"))) return target
  if (redisSrc === undefined) throw new Error(`no Redis test suite in ${target}: ${howTo(tag)}`)
  if (!existsSync(redisSrc)) throw new Error(`--redis-src ${redisSrc}: no such directory`)
  const partial = `${target}.partial`
  rmSync(partial, { recursive: true, force: true })
  mkdirSync(partial, { recursive: true })
  const isGit = spawnSync("git", ["-C", redisSrc, "rev-parse", "--git-dir"], { encoding: "utf8" }).status === 0
  if (isGit) {
    const commit = spawnSync("git", ["-C", redisSrc, "rev-parse", "--verify", "--quiet", `refs/tags/${tag}^{commit}`], { encoding: "utf8" })
    if (commit.status !== 0) throw new Error(`--redis-src ${redisSrc} has no tag ${tag} (git fetch --tags there?)`)
    // `git archive TAG runtest tests | tar -x`: the two paths as they are at the tag, nothing else.
    const archive = spawnSync("sh", ["-c", `git -C "$0" archive "$1" runtest tests | tar -x -C "$2"`, redisSrc, tag, partial], {
      encoding: "utf8",
      timeout: 120_000
    })
    if (archive.status !== 0) throw new Error(`extracting tests at ${tag} from ${redisSrc} failed: ${archive.stderr.trim()}`)
  } else {
    const version = /REDIS_VERSION "([^"]+)"/.exec(
      existsSync(join(redisSrc, "src", "version.h")) ? readFileSync(join(redisSrc, "src", "version.h"), "utf8") : ""
    )?.[1]
    if (version !== tag) {
      throw new Error(`--redis-src ${redisSrc} is not a git clone and its src/version.h says ${version ?? "nothing"}, not ${tag}`)
    }
    for (const path of ["runtest", "tests"]) cpSync(join(redisSrc, path), join(partial, path), { recursive: true })
  }
  if (!existsSync(join(partial, "tests", "test_helper.tcl"))) throw new Error(`${redisSrc} at ${tag} has no tests/test_helper.tcl`)
  rmSync(target, { recursive: true, force: true })
  renameSync(partial, target)
  return target
}
