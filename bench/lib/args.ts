/**
 * The command line of the bench's own scripts (`run.ts` parses its flags
 * with `options.ts`): `--name value` pairs, and `--help`.
 */

/** The value after `--name` on the command line; `fallback` when the flag or its value is missing. */
export const arg = (name: string, fallback: string): string => {
  const index = process.argv.indexOf(name)
  return index === -1 ? fallback : process.argv[index + 1] ?? fallback
}

/**
 * With `--help` on the command line, prints `usage` and exits 0: a dry run
 * that loads the script and every module it imports, and measures nothing.
 */
export const exitOnHelp = (usage: string): void => {
  if (!process.argv.includes("--help")) return
  process.stdout.write(`usage: ${usage}\n`)
  process.exit(0)
}
