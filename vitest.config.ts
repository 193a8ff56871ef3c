import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const source = (path: string) => fileURLToPath(new URL(path, import.meta.url))

export default defineConfig({
  // Examples import the package by name, as users do; tests run them from source.
  resolve: {
    alias: [
      { find: /^fiberline$/, replacement: source("./src/index.ts") },
      { find: /^fiberline\/testing$/, replacement: source("./src/testing/index.ts") },
      { find: /^fiberline\/echo$/, replacement: source("./src/handlers/echo/index.ts") },
      { find: /^fiberline\/chat$/, replacement: source("./src/handlers/chat/index.ts") },
      { find: /^fiberline\/redis$/, replacement: source("./src/handlers/redis/index.ts") },
      { find: /^fiberline\/MetricsHttp$/, replacement: source("./src/services/MetricsHttp.ts") },
      { find: /^fiberline\/Cli$/, replacement: source("./src/cli/index.ts") }
    ]
  },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
