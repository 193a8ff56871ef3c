/**
 * The Redis test-suite harness's two pure parts (`bench/lib/suite-*.ts`):
 * reading runtest's output into per-test outcomes (failures, tag exclusions,
 * an exception that ends a unit, a timeout, an error outside any test), and
 * the tolerant shim: which set-up requests it rewrites, and that its output
 * for any chunking of any pipeline is the input with exactly those requests
 * replaced, and the input unchanged from the first byte that is not a
 * multibulk request.
 */
import { Buffer } from "node:buffer"
import * as Net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import { parseUnitOutput } from "../../bench/lib/suite-output.ts"
import { causeOf, compareUnit, type UnitRun } from "../../bench/lib/suite-report.ts"
import { requestRewriter, rewriteOf, startShim } from "../../bench/lib/suite-shim.ts"
import { split } from "../fixtures/chunks.ts"

/** A unit's run by one server, from runtest's output. */
const run = (server: UnitRun["server"], text: string, extra: Partial<UnitRun> = {}): UnitRun =>
  ({ unit: "unit/demo", server, output: parseUnitOutput(text), elapsedMs: 0, exitCode: 0, ...extra })

/** runtest's lines for a failed test. */
const err = (name: string, why: string) => `[err]: ${name} in tests/unit/demo.tcl\n${why}\n`

/** What one connection sends upstream after each chunk the client sends. */
const sent = (chunks: ReadonlyArray<string>) => {
  const rewrite = requestRewriter(new Map())
  return chunks.map((chunk) => Buffer.concat(rewrite(Buffer.from(chunk, "latin1"))).toString("latin1"))
}

describe("runtest output", () => {
  it("reads outcomes, repeated names and failure reasons", () => {
    const output = parseUnitOutput([
      "Testing unit/type/demo",
      "[ok]: A works (3 ms)",
      "[ok]: A works (0 ms)",
      "[ignore]: B needs debug: Tag: needs:debug denied",
      "[ignore]: Not supported on external server",
      "[skip]: C",
      "[err]: D compares in tests/unit/type/demo.tcl",
      "Expected 'x' to be equal to 'y' (context: type eval line 2)",
      // --durable: a non-assertion error loses its first 10 characters; errorInfo has it whole.
      "[err]: E calls in tests/unit/type/demo.tcl",
      "n command 'nope', with args beginning with: ",
      "ERR unknown command 'nope', with args beginning with: ",
      "    while executing",
      "[err]: ror in setup",
      "Some error in setup",
      "    while executing",
      "[1/1 done]: unit/type/demo (1 seconds)"
    ].join("\n"))
    assert.deepStrictEqual(output.tests, [
      { name: "A works", key: "A works", outcome: "ok" },
      { name: "A works", key: "A works (#2)", outcome: "ok" },
      { name: "B needs debug", key: "B needs debug", outcome: "ignore", reason: "Tag: needs:debug denied" },
      { name: "C", key: "C", outcome: "skip" },
      { name: "D compares", key: "D compares", outcome: "err", reason: "Expected 'x' to be equal to 'y' (context: type eval line 2)" },
      { name: "E calls", key: "E calls", outcome: "err", reason: "ERR unknown command 'nope', with args beginning with: " }
    ])
    assert.deepStrictEqual(output.blockErrors, ["Some error in setup"])
    assert.strictEqual(output.completed, true)
    assert.strictEqual(output.exception, undefined)
  })

  it("reads an exception that ends the run, and a timeout", () => {
    const aborted = parseUnitOutput([
      "Testing unit/demo",
      "[exception]: Executing test client: ERR unknown command 'function', with args beginning with: 'flush'.",
      "ERR unknown command 'function', with args beginning with: 'flush'",
      "    while executing"
    ].join("\n"))
    assert.strictEqual(aborted.exception, "ERR unknown command 'function', with args beginning with: 'flush'")
    assert.strictEqual(aborted.completed, false)
    const stuck = parseUnitOutput("[ok]: A (1 ms)\n[TIMEOUT]: clients state report follows.\nsock55 => (IN PROGRESS) B waits\n")
    assert.deepStrictEqual(stuck.timeout, { inProgress: "B waits" })
  })

  it("counts a failure under the unknown command or subcommand it names", () => {
    assert.strictEqual(causeOf("ERR unknown command 'object', with args beginning with: 'encoding' 'k' "), "unknown command OBJECT")
    assert.strictEqual(causeOf("ERR unknown subcommand 'set'. Try CONFIG HELP."), "unknown subcommand CONFIG SET")
    assert.strictEqual(causeOf("Expected '1' to be equal to '2'"), "other")
    assert.strictEqual(causeOf("NOPROTO unsupported protocol version"), "RESP3: HELLO 3 refused (NOPROTO)")
  })

  it("compares with redis-server: what did not run, and what a failure did alone", () => {
    const head = "Testing unit/demo\n"
    const redis = run("redis-server", `${head}[ok]: A (1 ms)\n[ok]: B (1 ms)\n[ok]: C (1 ms)\n[ok]: D (1 ms)\n[ok]: E (1 ms)\n[1/1 done]: unit/demo (0 seconds)\n`)
    const fiberline = run(
      "fiberline-tolerant",
      `${head}[ok]: A (1 ms)\n${err("B", "Expected 'x' to be equal to 'QUEUED'")}${err("C", "Expected '1' to be equal to '2'")}${err("D", "no blocked clients")}`,
      { alone: { B: { outcome: "ok" }, C: { outcome: "err", reason: "Expected '1' to be equal to '2'" }, D: { outcome: "err", reason: "ERR unknown command 'blmpop', with args beginning with: " } } }
    )
    const [variant] = compareUnit(redis, [fiberline]).variants
    assert.strictEqual(variant?.passed, 1)
    assert.deepStrictEqual(variant?.shortfalls.map((shortfall) => [shortfall.test, shortfall.cause]), [
      ["B", "knock-on: passes when run alone"],
      ["C", "other"],
      ["D", "unknown command BLMPOP"],
      ["E", "not run: runtest exited 0 before the end of the unit"]
    ])
  })
})

const encode = (args: ReadonlyArray<string>) =>
  Buffer.from(`*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg, "latin1")}\r\n${arg}\r\n`).join("")}`, "latin1")
const labelOf = (args: ReadonlyArray<string>) => rewriteOf(args)?.label

describe("the tolerant shim", () => {
  it("rewrites FUNCTION FLUSH, CONFIG SET of encodings and snapshots, and MEMORY USAGE; nothing else", () => {
    assert.strictEqual(labelOf(["function", "flush"]), "FUNCTION FLUSH")
    assert.strictEqual(labelOf(["FUNCTION", "FLUSH", "SYNC"]), "FUNCTION FLUSH")
    assert.strictEqual(labelOf(["config", "set", "save", ""]), "CONFIG SET save")
    assert.strictEqual(labelOf(["CONFIG", "SET", "zset-max-ziplist-entries", "1", "list-compress-depth", "0"]), "CONFIG SET zset-max-ziplist-entries list-compress-depth")
    assert.strictEqual(rewriteOf(["memory", "usage", "k"])?.bytes.toString(), encode(["EXISTS", "k"]).toString())
    for (const args of [["config", "set", "notify-keyspace-events", "KEA"], ["config", "set", "save", "", "maxmemory", "1"], ["config", "set", "save"], ["config", "get", "save"], ["function", "list"], ["memory", "usage", "k", "SAMPLES", "5"], ["get", "k"]]) {
      assert.strictEqual(labelOf(args), undefined, args.join(" "))
    }
  })

  const requests: ReadonlyArray<ReadonlyArray<string>> = [
    ["function", "flush"],
    ["FUNCTION", "FLUSH", "SYNC"],
    ["config", "set", "list-max-ziplist-size", "4"],
    ["CONFIG", "SET", "save", "b\r\n*2\r\n"],
    ["config", "set", "notify-keyspace-events", "KEA"],
    ["config", "get", "save"],
    ["memory", "usage", "k"],
    ["config"],
    ["function"],
    ["functions", "flush"],
    ["set", "config", "set"],
    ["set", "k", "x".repeat(300)],
    ["config", "set", "save", "x".repeat(300)],
    ["get", "function"],
    Array.from({ length: 70 }, () => "config"),
    []
  ]
  const chosen = (indexes: ReadonlyArray<number>) => indexes.map((index) => requests[index] ?? [])
  const Pipeline = Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: requests.length - 1 })))
  const Garbage = Schema.Literals(["", "PING\r\n", "*x\r\n", "$3\r\nabc\r\n", "*2\r\n*1\r\n", "*3000000000\r\n"])
  const Cuts = Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 2000 })))

  it.prop("any chunking gives the requests with exactly those rewriteOf names replaced", [Pipeline, Garbage, Pipeline, Cuts], ([before, garbage, after, cuts]) => {
    const input = Buffer.concat([...chosen(before).map(encode), Buffer.from(garbage, "latin1"), ...chosen(after).map(encode)])
    // Past garbage the connection is a plain pipe, and the arguments of a `*N` too
    // long to hold swallow what follows: nothing after either is rewritten.
    const rewritten = garbage === "" ? [...before, ...after] : before
    const expected = Buffer.concat([
      ...chosen(rewritten).map((args) => rewriteOf(args)?.bytes ?? encode(args)),
      Buffer.from(garbage, "latin1"),
      ...(garbage === "" ? [] : chosen(after).map(encode))
    ])
    const counts = new Map<string, number>()
    const rewrite = requestRewriter(counts)
    const output = Buffer.concat(split(input, cuts).flatMap(rewrite))
    assert.strictEqual(output.toString("latin1"), expected.toString("latin1"))
    const total = [...counts.values()].reduce((sum, count) => sum + count, 0)
    assert.strictEqual(total, chosen(rewritten).filter((args) => rewriteOf(args) !== undefined).length)
  })

  it("holds back only what may be rewritten: other requests stream through as they arrive", () => {
    // A long value, sent in parts, once its command is known; a multibulk length too long to hold, at once.
    assert.deepStrictEqual(sent(["*3\r\n$3\r\nset\r\n", "$1\r\nk\r\n$9\r\nabc", "def"]), ["*3\r\n$3\r\nset\r\n", "$1\r\nk\r\n$9\r\nabc", "def"])
    assert.deepStrictEqual(sent(["*3000000000\r\n"]), ["*3000000000\r\n"])
    // Bytes that cannot start a multibulk request, at once: the connection is a pipe from there.
    assert.deepStrictEqual(sent(["\u0000pay", "load"]), ["\u0000pay", "load"])
    assert.deepStrictEqual(sent(["*1\r\n$4\r\nping\r\n*1x"]), ["*1\r\n$4\r\nping\r\n*1x"])
    // A first argument longer than any rewritten name goes on as soon as its length is read.
    assert.deepStrictEqual(sent(["*2\r\n$9\r\nfunctions", "\r\n$1\r\nx\r\n"]), ["*2\r\n$9\r\nfunctions", "\r\n$1\r\nx\r\n"])
    // CONFIG SET is held until it is complete, then sent as it is or rewritten.
    assert.deepStrictEqual(sent(["*4\r\n$6\r\nconfig\r\n$3\r\nset\r\n", "$4\r\nsave\r\n$0\r\n\r\n"]), ["", encode(["SELECT", "0"]).toString("latin1")])
  })

  it("closes the client's connection whole when the server closes, so its next writes fail as against the server", async () => {
    // A server that answers the first bytes with an error and closes, as Redis does after a protocol error.
    const server = Net.createServer((socket) => socket.once("data", () => socket.end("-ERR Protocol error\r\n")))
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const shim = await startShim((server.address() as Net.AddressInfo).port)
    try {
      const client = Net.connect({ host: "127.0.0.1", port: shim.port, allowHalfOpen: true })
      let reply = ""
      client.on("data", (data: Buffer) => (reply += data.toString()))
      const failed = new Promise<string>((resolve) => client.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "")))
      client.write("\u0000payload")
      await new Promise((resolve) => client.once("end", resolve))
      assert.strictEqual(reply, "-ERR Protocol error\r\n")
      // Keep writing, as the protocol unit's desync tests do, until a write fails (bounded: 200 writes, 2 s).
      const writing = (async () => {
        for (let count = 0; count < 200 && !client.destroyed; count++) {
          client.write("payload".repeat(100))
          // oxlint-disable-next-line no-await-in-loop -- one write per 10 ms, in order
          await new Promise((resolve) => setTimeout(resolve, 10))
        }
        return "still writable"
      })()
      assert.include(["EPIPE", "ECONNRESET"], await Promise.race([failed, writing]))
      client.destroy()
    } finally {
      await shim.close()
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
