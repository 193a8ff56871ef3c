// TypeDoc's settings for fiberline's API reference (`npm run docs` at the root,
// written to docs/api/, which git ignores).
//
// The entry points are the package's own: every `exports` entry of the root
// package.json with types, mapped from its built `dist/….d.ts` back to the
// source file it is built from. A new subpath export is documented with no
// change here.
//
// TypeDoc runs on TypeScript 6 from this folder's own dependencies: it does not
// support the TypeScript 7 the project builds with (hence this workspace).
import { readFileSync } from "node:fs"

const root = "../.."
const manifest = JSON.parse(readFileSync(`${root}/package.json`, "utf8"))

const entryPoints = Object.values(manifest.exports)
  .filter((target) => typeof target === "object" && typeof target.types === "string")
  .map((target) => target.types.replace(/^\.\/dist\//, `${root}/src/`).replace(/\.d\.ts$/, ".ts"))

// Source links point at the repository package.json names, not at the clone's
// remote: a CI clone's "origin" is a local path, which TypeDoc cannot link to.
const repository = manifest.repository.url.replace(/^git\+/, "").replace(/\.git$/, "")

/** @type {Partial<import("typedoc").TypeDocOptions>} */
const config = {
  entryPoints,
  tsconfig: `${root}/tsconfig.json`,
  out: `${root}/docs/api`,
  readme: "none",
  sourceLinkTemplate: `${repository}/blob/{gitRevision}/{path}#L{line}`,
  excludePrivate: true,
  excludeInternal: true,
  excludeExternals: true,
  // A build fails on an export without a doc comment, a reference to a name the
  // reference does not show, and a {@link} that does not resolve.
  validation: { notExported: true, notDocumented: true, invalidLink: true, rewrittenLink: true, invalidPath: true, unusedMergeModuleWith: true },
  // Every exported name (the project's rule) needs a doc comment; a field or
  // getter of one is documented where its name does not say it all.
  requiredToBeDocumented: ["Module", "Namespace", "Enum", "Variable", "Function", "Class", "Interface", "TypeAlias", "Method"],
  // Types that exported signatures mention but the package does not export
  // (yet): listed here so a new one fails the build.
  intentionallyNotExported: [
    "src/internal/server/admission.ts:WhenFull",
    "src/handlers/chat/outbox.ts:Outbox",
    "src/handlers/redis/keyspace.ts:Keyspace",
    "src/handlers/redis/keyspace.ts:KeyspaceOptions",
    "src/handlers/redis/pubsub.ts:PubSub",
    "src/handlers/redis/server.ts:Server",
    "src/handlers/redis/outputLimit.ts:OutputBound",
    "src/cli/settings.ts:FlagValues"
  ],
  treatWarningsAsErrors: true
}

export default config
