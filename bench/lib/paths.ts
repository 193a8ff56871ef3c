/**
 * Where things live: the repository, the pinned Node binary, the reference
 * material (the shared directory when present, else the project's copies),
 * and the bench's build and results directories.
 */
import { existsSync } from "node:fs"
import { join, resolve } from "node:path"

/** The repository root (the parent of `bench/`). */
export const repoRoot = resolve(import.meta.dirname, "..", "..")

/** The `bench/` directory. */
export const benchDir = join(repoRoot, "bench")

/** Generated, gitignored artifacts: the echoload binary and the stdio input file. */
export const buildDir = join(benchDir, ".build")

/**
 * The fiberline build the bench runs: a copy of `dist/` (and `package.json`,
 * which `dist/cli/main.js` imports) taken right after building, so a rebuild
 * of `dist/` by someone else during a long run cannot change the code under
 * test. Packages still resolve from the repository's `node_modules`.
 */
export const fiberlineSnapshot = join(buildDir, "fiberline")

/** The CLI entry point inside {@link fiberlineSnapshot}. */
export const fiberlineMain = join(fiberlineSnapshot, "dist", "cli", "main.js")

/** Gitignored run outputs: JSON, Markdown and server logs, one set per run. */
export const resultsDir = join(benchDir, "results")

/** The Node the project pins (an npm package); every Node process of the bench runs on it. */
export const pinnedNode = join(repoRoot, "node_modules", ".bin", "node")

/** The shared reference directory, next to the repository. */
const sharedBenchDir = resolve(repoRoot, "..", "shared", "bench")

/** Paths of the load generator source and the three reference servers. */
export interface ReferenceSources {
  /** `shared` when read from `../shared/bench`, `project` for the copies in `bench/`. */
  readonly origin: "shared" | "project"
  readonly echoloadC: string
  readonly statemachine: string
  readonly readline: string
  readonly pipe: string
}

/** Prefers `../shared/bench` when it holds the sources; falls back to the copies kept in `bench/`. */
export const referenceSources = (): ReferenceSources => {
  const shared = {
    origin: "shared" as const,
    echoloadC: join(sharedBenchDir, "echoload.c"),
    statemachine: join(sharedBenchDir, "node-statemachine.mjs"),
    readline: join(sharedBenchDir, "node-readline.mjs"),
    pipe: join(sharedBenchDir, "node-pipe.mjs")
  }
  if ([shared.echoloadC, shared.statemachine, shared.readline, shared.pipe].every((path) => existsSync(path))) {
    return shared
  }
  return {
    origin: "project",
    echoloadC: join(benchDir, "echoload.c"),
    statemachine: join(benchDir, "reference", "node-statemachine.mjs"),
    readline: join(benchDir, "reference", "node-readline.mjs"),
    pipe: join(benchDir, "reference", "node-pipe.mjs")
  }
}
