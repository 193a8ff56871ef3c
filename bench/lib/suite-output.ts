/**
 * Reading what Redis's Tcl test suite (`./runtest`) prints for one unit into
 * outcomes per test: `[ok]`, `[err]` (with the first line of the reason),
 * `[skip]`, `[ignore]` (a tag excluded it), and what ends or cuts a unit short —
 * the test client's `[exception]`, the suite's `[TIMEOUT]`, and, under
 * `--durable`, an error raised outside any test, which skips the rest of its
 * `start_server` block. Pure: text in, records out.
 */

/** What the suite reported for one test. */
export type Outcome = "ok" | "err" | "skip" | "ignore"

/** One test as the suite reported it. */
export interface TestRecord {
  /** The test's name as the suite prints it. */
  readonly name: string
  /** The name, made unique within the unit: a repeated name gets ` (#2)`, ` (#3)`, … in order of appearance. */
  readonly key: string
  readonly outcome: Outcome
  /** For `err`: the first line of the failure; for `ignore`: why (`Tag: needs:debug denied`). */
  readonly reason?: string
}

/** Everything one `./runtest --single UNIT` printed, read. */
export interface UnitOutput {
  readonly tests: ReadonlyArray<TestRecord>
  /** Errors `--durable` caught outside any test (first line each): each skipped the rest of its `start_server` block. */
  readonly blockErrors: ReadonlyArray<string>
  /** The test client's exception, which ends the whole run at once (first line of the Tcl error). */
  readonly exception?: string
  /** Set when the suite gave up after `--timeout` seconds without progress: the test in progress, if it said. */
  readonly timeout?: { readonly inProgress?: string }
  /** Whether the suite printed the unit's `[1/1 done]` line, i.e. reached the end of the unit's file. */
  readonly completed: boolean
}

// oxlint-disable-next-line no-control-regex -- ANSI colour sequences, in case TERM made the suite print them
const ansi = /\u001b\[[0-9;]*m/g

/** A line that starts a new record; an `[err]` record's detail lines run until the next one. */
const recordStart = /^(\[(ok|err|skip|ignore|exception|ready|TIMEOUT)\]: |\[\d+\/\d+ done\]: |Testing unit\/| +The End$)/

/** An `[err]` about a test names it as `NAME in tests/….tcl` on its first line. */
const testErrHead = / in tests\/\S+\.tcl$/

/** The suffixes `tags_acceptable` gives an ignored test, after `NAME: `. */
const ignoreReason = /: (Tag: \S+ denied|Tag: none of the tags allowed|Not supported on external server|Not supported on singledb|Not supported in cluster mode|Not supported in tls mode|large memory flag not provided)$/

/**
 * The first line of an error's details. Under `--durable` the suite drops the
 * first 10 characters of a non-assertion error (it strips the length of
 * `assertion:` whatever the text) and appends Tcl's `errorInfo`, whose first
 * line is the whole message: use that one when it ends with the cut one.
 */
const firstLine = (details: ReadonlyArray<string>): string => {
  const [cut = "", full] = details
  return full !== undefined && cut.trim() !== "" && full.trim().endsWith(cut.trim()) ? full : cut
}

/** Reads the output of one `./runtest --single UNIT` run. */
export const parseUnitOutput = (text: string): UnitOutput => {
  const lines = text.replace(ansi, "").split(/\r?\n/)
  const tests: Array<TestRecord> = []
  const seen = new Map<string, number>()
  const blockErrors: Array<string> = []
  let exception: string | undefined
  let timeout: { inProgress?: string } | undefined
  let completed = false

  const add = (name: string, outcome: Outcome, reason?: string) => {
    const count = (seen.get(name) ?? 0) + 1
    seen.set(name, count)
    const key = count === 1 ? name : `${name} (#${count})`
    tests.push(reason === undefined ? { name, key, outcome } : { name, key, outcome, reason })
  }
  /** The lines after `index` up to the next record. */
  const detailsAfter = (index: number): Array<string> => {
    const details: Array<string> = []
    for (let next = index + 1; next < lines.length && !recordStart.test(lines[next] ?? ""); next++) {
      details.push(lines[next] ?? "")
    }
    return details
  }

  for (let index = 0; index < lines.length; index++) {
    const line = lines[index] ?? ""
    let match: RegExpExecArray | null
    if ((match = /^\[ok\]: (.*) \(\d+ ms\)$/.exec(line)) !== null) {
      add(match[1] ?? "", "ok")
    } else if ((match = /^\[skip\]: (.*)$/.exec(line)) !== null) {
      add(match[1] ?? "", "skip")
    } else if ((match = /^\[ignore\]: (.*)$/.exec(line)) !== null) {
      // `NAME: why` for a test; a bare `why` for a whole block, which names no test.
      const body = match[1] ?? ""
      const why = ignoreReason.exec(body)
      if (why !== null) add(body.slice(0, why.index), "ignore", why[1])
    } else if ((match = /^\[err\]: (.*)$/.exec(line)) !== null) {
      const head = match[1] ?? ""
      const details = detailsAfter(index)
      if (testErrHead.test(head)) add(head.replace(testErrHead, ""), "err", firstLine(details))
      else blockErrors.push(firstLine([head, ...details]))
    } else if ((match = /^\[exception\]: (?:Executing test client: )?(.*)$/.exec(line)) !== null) {
      // `Executing test client: MESSAGE.` then Tcl's errorInfo.
      exception = (match[1] ?? "").replace(/\.$/, "").trim()
    } else if (line.startsWith("[TIMEOUT]: ")) {
      const state = detailsAfter(index).map((detail) => /=> \(IN PROGRESS\) (.*)$/.exec(detail)?.[1]).find((name) => name !== undefined)
      timeout = state === undefined ? {} : { inProgress: state }
    } else if (/^\[\d+\/\d+ done\]: /.test(line)) {
      completed = true
    }
  }
  return {
    tests,
    blockErrors,
    ...(exception === undefined ? {} : { exception }),
    ...(timeout === undefined ? {} : { timeout }),
    completed
  }
}
