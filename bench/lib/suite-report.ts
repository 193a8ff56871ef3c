/**
 * The report of `redis-suite.ts`: for each unit, the tests redis-server passes
 * and which of them each fiberline variant passes; for each one it does not,
 * why — the first line of its failure, or what kept it from running (an
 * exception that ended the unit, the suite's timeout, an error outside any
 * test that skipped the rest of its block); and the failures counted by cause
 * (an unknown command or subcommand, by name; anything else is a difference
 * in a command fiberline has). Pure: unit runs in, Markdown out.
 */
import type { Outcome, UnitOutput } from "./suite-output.ts"

/** The servers a run can have: the reference, fiberline as it is, and fiberline behind the tolerant shim. */
export type SuiteServer = "redis-server" | "fiberline" | "fiberline-tolerant"

/** One unit on one server. */
export interface UnitRun {
  readonly unit: string
  readonly server: SuiteServer
  readonly output: UnitOutput
  readonly elapsedMs: number
  /** runtest's exit status (1 when a test failed or the run was cut short). */
  readonly exitCode: number | null
  /** Set when the harness killed runtest at its own time bound, in seconds. */
  readonly killedAfterSeconds?: number
  /** Set when the server was not running at the end of the unit: how it ended. */
  readonly serverEnded?: string
  /** Tests the suite timed out on (no reply), each skipped when the unit was run again; this run is the last. */
  readonly hung?: ReadonlyArray<string>
  /** What tests that failed here did when run alone (`--only`), by test key. */
  readonly alone?: Readonly<Record<string, { readonly outcome: string; readonly reason?: string }>>
  /** Requests the shim rewrote (fiberline-tolerant only), by request. */
  readonly rewrites?: Readonly<Record<string, number>>
}

/** Why one test redis-server passes did not pass on a fiberline variant. */
export interface Shortfall {
  readonly test: string
  /** The failure's first line, or why the test did not run. */
  readonly why: string
  /** The cause it is counted under (`unknown command DEBUG`, `other`, `not run: …`). */
  readonly cause: string
}

/** One unit compared: redis-server's figures and each fiberline variant's. */
export interface UnitComparison {
  readonly unit: string
  /** Tests redis-server ran (ok or err). */
  readonly redisRan: number
  readonly redisPassed: number
  /** Tests redis-server ran and failed: they are out of the comparison. */
  readonly redisFailed: ReadonlyArray<string>
  readonly variants: ReadonlyArray<{
    readonly server: SuiteServer
    /** Of the tests redis-server passes, how many this one passes. */
    readonly passed: number
    readonly shortfalls: ReadonlyArray<Shortfall>
    /** What cut the unit short, if anything (an exception, a timeout, a kill, the server gone). */
    readonly cutShort?: string
  }>
}

/** The cause a failure or an abort is counted under: the unknown command or subcommand it names, RESP3, else `other`. */
export const causeOf = (why: string): string => {
  if (/^NOPROTO\b/.test(why)) return "RESP3: HELLO 3 refused (NOPROTO)"
  const command = /unknown command '([^']*)'/i.exec(why)
  if (command !== null) return `unknown command ${(command[1] ?? "").toUpperCase()}`
  const subcommand = /unknown subcommand '([^']*)'\. Try (\S+) HELP/i.exec(why)
  if (subcommand !== null) return `unknown subcommand ${subcommand[2] ?? ""} ${(subcommand[1] ?? "").toUpperCase()}`
  return "other"
}

/** What ended the unit early on this run, in one line; undefined when it ran to its end. */
const cutShortOf = (run: UnitRun): string | undefined => {
  if (run.output.exception !== undefined) return `aborted by an exception: ${run.output.exception}`
  if (run.killedAfterSeconds !== undefined) return `killed by the harness after ${run.killedAfterSeconds} s`
  if (run.output.timeout !== undefined) {
    const during = run.output.timeout.inProgress
    return `the suite timed out (no progress)${during === undefined ? "" : ` during "${during}"`}`
  }
  if (run.serverEnded !== undefined) return `the server ended during the unit (${run.serverEnded})`
  if (!run.output.completed) return `runtest exited ${run.exitCode} before the end of the unit`
  return undefined
}

/** Why a test did not run on `run`, and the cause to count it under. */
const notRun = (run: UnitRun, cutShort: string | undefined): { why: string; cause: string } => {
  if (cutShort !== undefined) return { why: `not run: ${cutShort}`, cause: `not run: ${causeOf(cutShort) === "other" ? cutShort : causeOf(cutShort)}` }
  const [first] = run.output.blockErrors
  if (first !== undefined) {
    const which = run.output.blockErrors.length === 1 ? "an error outside a test" : `one of ${run.output.blockErrors.length} errors outside tests`
    return { why: `not run: ${which} skipped the rest of its block (first: ${first})`, cause: `not run: ${causeOf(first)} (outside a test)` }
  }
  return { why: "not run (the unit took another path)", cause: "not run: other" }
}

/**
 * A failure's reason and cause, told apart by what the test did alone: passing
 * alone, it failed on what an earlier failure left behind; failing alone for a
 * reason that names an unknown command, it is counted under that command.
 */
const withAlone = (why: string, alone: { readonly outcome: string; readonly reason?: string } | undefined) => {
  const cause = causeOf(why)
  if (alone === undefined || cause !== "other") return { why, cause }
  if (alone.outcome === "ok") return { why: `${why} — passes when run alone`, cause: "knock-on: passes when run alone" }
  const reason = alone.reason ?? ""
  if (reason === why) return { why: `${why} — the same alone`, cause }
  return { why: `${why} — alone: ${alone.outcome} ${reason}`.trim(), cause: causeOf(reason) === "other" ? cause : causeOf(reason) }
}

/** Compares one unit's fiberline runs with its redis-server run. */
export const compareUnit = (redis: UnitRun, others: ReadonlyArray<UnitRun>): UnitComparison => {
  const ran = redis.output.tests.filter((test) => test.outcome === "ok" || test.outcome === "err")
  const reference = ran.filter((test) => test.outcome === "ok")
  return {
    unit: redis.unit,
    redisRan: ran.length,
    redisPassed: reference.length,
    redisFailed: ran.filter((test) => test.outcome === "err").map((test) => `${test.key}: ${test.reason ?? ""}`),
    variants: others.map((run) => {
      const byKey = new Map(run.output.tests.map((test) => [test.key, test]))
      const cutShort = cutShortOf(run)
      const shortfalls: Array<Shortfall> = []
      for (const test of reference) {
        const theirs = byKey.get(test.key)
        const outcome: Outcome | undefined = theirs?.outcome
        if (outcome === "ok") continue
        if (run.hung?.includes(test.name) === true) {
          shortfalls.push({ test: test.key, why: "hung: the suite timed out on it (no progress), so the unit was run again without it", cause: "hung" })
        } else if (outcome === "err") {
          const why = theirs?.reason ?? ""
          shortfalls.push({ test: test.key, ...withAlone(why, run.alone?.[test.key]) })
        } else if (outcome === undefined) {
          shortfalls.push({ test: test.key, ...notRun(run, cutShort) })
        } else {
          shortfalls.push({ test: test.key, why: `${outcome}: ${theirs?.reason ?? ""}`, cause: outcome })
        }
      }
      return {
        server: run.server,
        passed: reference.length - shortfalls.length,
        shortfalls,
        ...(cutShort === undefined ? {} : { cutShort })
      }
    })
  }
}

const percent = (part: number, whole: number) => (whole === 0 ? "–" : `${((100 * part) / whole).toFixed(1)} %`)
const row = (fields: ReadonlyArray<string | number>) => `| ${fields.join(" | ")} |`
/** Test names and reasons go into Markdown table cells and list items: no pipes, no backticks, one line. */
const cell = (text: string) => text.replaceAll("|", "\\|").replaceAll("`", "'").replace(/\s+/g, " ").trim()
const clip = (text: string, max = 240) => (text.length > max ? `${text.slice(0, max - 1)}…` : text)

/** A group of units with a name (`core`, `extra`) for subtotals. */
export interface UnitGroup {
  readonly name: string
  readonly units: ReadonlyArray<string>
}

/** The Markdown report: heading lines given, then the tables and the lists. */
export const renderSuiteReport = (
  heading: ReadonlyArray<string>,
  comparisons: ReadonlyArray<UnitComparison>,
  runs: ReadonlyArray<UnitRun>,
  groups: ReadonlyArray<UnitGroup>
): string => {
  const variants = [...new Set(comparisons.flatMap((comparison) => comparison.variants.map((variant) => variant.server)))]
  const passedOn = (comparison: UnitComparison, server: SuiteServer) =>
    comparison.variants.find((variant) => variant.server === server)?.passed ?? 0
  const lines = [...heading, ""]
  lines.push(
    row(["unit", "run on redis-server", "passed on redis-server", ...variants.map((server) => `passed on ${server}`), "cut short"]),
    row(["---", "---:", "---:", ...variants.map(() => "---:"), "---"])
  )
  for (const comparison of comparisons) {
    const cut = comparison.variants.filter((variant) => variant.cutShort !== undefined)
      .map((variant) => `${variant.server}: ${cell(clip(variant.cutShort ?? "", 120))}`)
    lines.push(row([
      comparison.unit,
      comparison.redisRan,
      comparison.redisPassed,
      ...variants.map((server) => passedOn(comparison, server)),
      cut.join("; ")
    ]))
  }
  const totals = (units: ReadonlyArray<UnitComparison>) => ({
    ran: units.reduce((sum, unit) => sum + unit.redisRan, 0),
    passed: units.reduce((sum, unit) => sum + unit.redisPassed, 0),
    byVariant: variants.map((server) => units.reduce((sum, unit) => sum + passedOn(unit, server), 0))
  })
  const summaries: Array<string> = []
  const present = groups.filter((group) => comparisons.some((comparison) => group.units.includes(comparison.unit)))
  const all = { name: "all", units: comparisons.map((comparison) => comparison.unit) }
  for (const group of present.length > 1 ? [...present, all] : present) {
    const units = comparisons.filter((comparison) => group.units.includes(comparison.unit))
    const total = totals(units)
    lines.push(row([`**${group.name} (${units.length} units)**`, total.ran, total.passed, ...total.byVariant, ""]))
    variants.forEach((server, index) => {
      const passed = total.byVariant[index] ?? 0
      summaries.push(`- ${group.name} units: **${server} passes ${passed} of the ${total.passed} tests redis-server passes (${percent(passed, total.passed)})**`)
    })
  }
  lines.push("", ...summaries)

  for (const server of variants) {
    const shortfalls = comparisons.flatMap((comparison) =>
      (comparison.variants.find((variant) => variant.server === server)?.shortfalls ?? []).map(({ cause }) => ({ cause, unit: comparison.unit }))
    )
    const causes = new Map<string, { tests: number; units: Set<string> }>()
    for (const shortfall of shortfalls) {
      const entry = causes.get(shortfall.cause) ?? { tests: 0, units: new Set<string>() }
      entry.tests++
      entry.units.add(shortfall.unit)
      causes.set(shortfall.cause, entry)
    }
    lines.push(
      "",
      `### Why ${server} does not pass what redis-server passes, by cause`,
      "",
      "A test counts once, under the first cause it met.",
      "",
      row(["cause", "tests", "units"]),
      row(["---", "---:", "---"])
    )
    for (const [cause, entry] of [...causes].toSorted(([, a], [, b]) => b.tests - a.tests)) {
      lines.push(row([cell(cause), entry.tests, [...entry.units].join(", ")]))
    }
  }

  lines.push("", "### Per unit", "")
  for (const comparison of comparisons) {
    lines.push(`#### ${comparison.unit}`, "")
    const redisRun = runs.find((run) => run.unit === comparison.unit && run.server === "redis-server")
    const redisCut = redisRun === undefined ? undefined : cutShortOf(redisRun)
    lines.push(`redis-server: ${comparison.redisPassed} of ${comparison.redisRan} passed${redisCut === undefined ? "" : `; ${cell(redisCut)}`}.`)
    for (const failed of comparison.redisFailed) lines.push(`- fails on redis-server too (left out): ${cell(clip(failed))}`)
    for (const error of redisRun?.output.blockErrors ?? []) lines.push(`- redis-server error outside a test: ${cell(clip(error))}`)
    for (const variant of comparison.variants) {
      const run = runs.find((candidate) => candidate.unit === comparison.unit && candidate.server === variant.server)
      const rewrites = Object.entries(run?.rewrites ?? {}).map(([request, count]) => `${count} ${request}`).join(", ")
      lines.push(
        "",
        `${variant.server}: passes ${variant.passed} of ${comparison.redisPassed}` +
          (variant.cutShort === undefined ? "" : `; ${cell(variant.cutShort)}`) +
          (rewrites === "" ? "" : `; the shim rewrote ${rewrites}`) +
          (run?.hung === undefined ? "" : `; run ${run.hung.length + 1} times, skipping the tests that hung: ${run.hung.map(cell).join("; ")}`) + "."
      )
      for (const error of run?.output.blockErrors ?? []) lines.push(`- error outside a test (rest of its block skipped): ${cell(clip(error))}`)
      const prevented = variant.shortfalls.filter((shortfall) => shortfall.why.startsWith("not run: ") && variant.cutShort !== undefined)
      if (prevented.length > 0 && prevented.length === comparison.redisPassed) {
        lines.push(`- it prevented all ${prevented.length} tests`)
      }
      for (const shortfall of variant.shortfalls) {
        if (prevented.length === comparison.redisPassed && prevented.includes(shortfall)) continue
        lines.push(`- ${cell(shortfall.test)} — ${cell(clip(shortfall.why))}`)
      }
    }
    lines.push("")
  }
  return lines.join("\n")
}
