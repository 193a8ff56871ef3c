/**
 * `FUNCTION` and `FCALL`/`FCALL_RO`. fiberline has no scripting engine, so it
 * has no functions: `FUNCTION FLUSH` and `LIST` answer as Redis does with
 * none, `LOAD` as Redis does when the library's engine does not exist, the
 * other subcommands as Redis with no library and nothing running, and
 * `FCALL` as for a function that does not exist.
 *
 * @since 0.1.0
 */
import type { ByteString } from "../bytes.ts"
import { type Command, container, define, help } from "../command.ts"
import { rejected } from "../errors.ts"
import * as Reply from "../reply.ts"

/** `FUNCTION LOAD`'s first line, `#!<engine> name=<library>`, read as Redis's `functionExtractLibMetaData`. */
const libraryEngine = (code: ByteString): ByteString => {
  if (!code.startsWith("#!")) throw rejected("Missing library metadata")
  const end = code.indexOf("\n")
  if (end === -1) throw rejected("Invalid library metadata")
  const [shebang = "", ...parts] = code.slice(0, end).split(/[ \t\r\v\f]+/).filter((part) => part !== "")
  let name: ByteString | undefined
  for (const part of parts) {
    if (part.slice(0, 5).toLowerCase() !== "name=") throw rejected(`Invalid metadata value given: ${part}`)
    if (name !== undefined) throw rejected("Invalid metadata value, name argument was given multiple times")
    name = part.slice(5)
  }
  if (name === undefined) throw rejected("Library name was not given")
  if (!/^[A-Za-z0-9_]+$/.test(name)) {
    throw rejected("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long")
  }
  return shebang.slice(2)
}

const scripting = ["noscript"] as const

const functionCommand = container("function", [], [
  define("function|flush", -2, ["noscript", "write"], [0, 0, 0], (_ctx, args) => {
    if (args.remaining > 1) args.subcommandSyntaxError()
    if (args.hasNext() && !args.nextIs("sync") && !args.nextIs("async")) {
      throw rejected("FUNCTION FLUSH only supports SYNC|ASYNC option")
    }
    return Reply.ok
  }),
  define("function|list", -2, scripting, [0, 0, 0], (_ctx, args) => {
    let code = false, library = false
    while (args.hasNext()) {
      if (!code && args.nextIs("withcode")) code = true
      else if (!library && args.nextIs("libraryname")) {
        if (!args.hasNext()) throw rejected("library name argument was not given")
        args.nextString()
        library = true
      } else {
        throw rejected(`Unknown argument ${args.nextString()}`)
      }
    }
    return Reply.emptyArray
  }),
  define("function|delete", 3, ["noscript", "write"], [0, 0, 0], () => {
    throw rejected("Library not found")
  }),
  define("function|load", -3, ["noscript", "write", "denyoom"], [0, 0, 0], (_ctx, args) => {
    const code = args.lastString()
    for (const option of args.rest()) {
      if (option.toLowerCase() !== "replace") throw rejected(`Unknown option given: ${option}`)
    }
    throw rejected(`Engine '${libraryEngine(code)}' not found`)
  }),
  define("function|kill", 2, ["noscript", "allow_busy"], [0, 0, 0], () => {
    throw rejected("No scripts in execution right now.", "NOTBUSY")
  }),
  define("function|stats", 2, ["noscript", "allow_busy"], [0, 0, 0], () =>
    Reply.array([Reply.bulk("running_script"), Reply.nullBulk, Reply.bulk("engines"), Reply.emptyArray])),
  help("function", [
    "LIST [LIBRARYNAME <pattern>] [WITHCODE]",
    "    The libraries: none, fiberline has no scripting engine.",
    "LOAD [REPLACE] <library-code>",
    "    Refused: the library's engine does not exist here.",
    "DELETE <library-name>",
    "    Refused: there is no library.",
    "FLUSH [ASYNC|SYNC]",
    "    Deletes every library: there is none.",
    "KILL",
    "    Refused: no function runs.",
    "STATS",
    "    No running function, no engine."
  ])
])

/** `FCALL`/`FCALL_RO function numkeys …`: no function exists. */
const fcall = (name: string, flags: ReadonlyArray<"readonly">) =>
  define(name, -3, ["noscript", "skip_monitor", "no_mandatory_keys", "stale", ...flags], [0, 0, 0], () => {
    throw rejected("Function not found")
  })

/**
 * The function commands.
 *
 * @since 0.1.0
 */
export const commands: ReadonlyArray<Command> = [functionCommand, fcall("fcall", []), fcall("fcall_ro", ["readonly"])]
