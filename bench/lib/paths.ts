/**
 * Where things live: the repository, the pinned Node binary, the bench's own
 * load generator and reference servers, the snapshots of fiberline builds it
 * runs, its build and results directories, and the shared reference directory
 * beside the repository (read only by the cross-checks).
 */
import { join, resolve } from "node:path"

/** The repository root (the parent of `bench/`). */
export const repoRoot = resolve(import.meta.dirname, "..", "..")

/** The `bench/` directory. */
export const benchDir = join(repoRoot, "bench")

/** Generated, gitignored artifacts: the echoload binaries, fiberline snapshots, the stdio input file. */
export const buildDir = join(benchDir, ".build")

/** The source of the project's load generator. */
export const echoloadSource = join(benchDir, "echoload.c")

/** The project's reference servers: the Effect-native echo, the three plain Node echoes, the plain Node RESP server. */
export const referenceNames = ["effect-baseline", "node-pipe", "node-statemachine", "node-readline", "node-resp"] as const

/** One of {@link referenceNames}. */
export type ReferenceName = (typeof referenceNames)[number]

/** The TypeScript source of a reference server: `bench/effect-baseline.ts`, else `bench/reference/NAME.ts`. */
export const referenceSource = (name: ReferenceName): string =>
  name === "effect-baseline" ? join(benchDir, "effect-baseline.ts") : join(benchDir, "reference", `${name}.ts`)

/** The JavaScript the bench runs for a reference server (written by `buildReferenceServers` in `servers.ts`). */
export const referenceServer = (name: ReferenceName): string => join(buildDir, "reference", `${name}.mjs`)

/**
 * A fiberline build the bench runs, by name (`fiberline`, `fiberline-before`):
 * a copy of a `dist/` directory (and the `package.json` that
 * `dist/cli/main.js` imports) taken before the run, so a rebuild by someone
 * else during a long run cannot change the code under test. Packages resolve
 * from the repository's `node_modules`.
 */
export const snapshotDir = (name: string): string => join(buildDir, name)

/** The CLI entry point inside the snapshot `name` (see {@link snapshotDir}). */
export const snapshotMain = (name: string): string => join(snapshotDir(name), "dist", "cli", "main.js")

/** Gitignored run outputs: JSON, Markdown and server logs, one set per run. */
export const resultsDir = join(benchDir, "results")

/** The Node the project pins (an npm package); every Node process of the bench runs on it. */
export const pinnedNode = join(repoRoot, "node_modules", ".bin", "node")

/**
 * `../shared/bench` beside the repository: the reference load generator and
 * servers the project's own were checked against. Nothing but the
 * cross-checks reads it; the bench runs without it.
 */
export const sharedBenchDir = resolve(repoRoot, "..", "shared", "bench")
