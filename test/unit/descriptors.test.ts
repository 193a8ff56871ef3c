/**
 * The file-descriptor budget: the default connection cap leaves a reserve
 * below the process's descriptor limit (an eighth, between 64 and 1024), and
 * the limit this process runs under is read from the system.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Descriptors from "../../src/internal/server/descriptors.ts"

describe("descriptor budget", () => {
  it("keeps an eighth of the limit free, at least 64 and at most 1024", () => {
    const table: ReadonlyArray<readonly [limit: number, maxConnections: number, closingRefusals: number]> = [
      [256, 192, 16],
      [1024, 896, 32],
      [4096, 3584, 128],
      [20_000, 18_976, 256],
      [1_048_576, 1_047_552, 256],
      [64, 1, 16]
    ]
    for (const [limit, maxConnections, closingRefusals] of table) {
      assert.strictEqual(Descriptors.defaultMaxConnections(limit), maxConnections, `limit ${limit}`)
      assert.strictEqual(Descriptors.maxClosingRefusals(limit), closingRefusals, `limit ${limit}`)
    }
    assert.strictEqual(Descriptors.defaultMaxConnections(undefined), Infinity)
  })

  it("reads this process's limit and open descriptors", () => {
    const limit = Descriptors.limit()
    if (process.platform !== "linux") return
    assert.isDefined(limit)
    const open = Descriptors.openCount()
    assert.isDefined(open)
    assert.isAbove(open!, 2)
    assert.isBelow(open!, limit!)
  })
})
