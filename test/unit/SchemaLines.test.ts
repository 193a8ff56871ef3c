/**
 * Typed lines: values written with a Schema read back as equal values,
 * whatever they hold (properties); a line that does not decode is a typed,
 * recoverable failure carrying the line and the issue, and the next line
 * reads fine.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import type { Connection } from "../../src/services/Connection.ts"
import * as SchemaLines from "../../src/SchemaLines.ts"
import * as TestConnection from "../../src/testing/TestConnection.ts"

const Message = Schema.Struct({
  // Positive: JSON has no -0.
  id: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1e9 })),
  text: Schema.String,
  tags: Schema.Array(Schema.String),
  urgent: Schema.optionalKey(Schema.Boolean)
})
const Messages = SchemaLines.json(Message)

/** Reads every line as a Message and writes it back as one. */
const relay = (conn: Connection) =>
  Effect.forever(Effect.flatMap(Messages.read(conn), (message) => Messages.write(conn, message))).pipe(
    Effect.catchTag("EndOfInput", () => Effect.void)
  )

/** Answers every line: `ok <id>`, or `bad <line>: <first line of the issue>`. */
const tolerant = (conn: Connection) =>
  Effect.forever(
    Messages.read(conn).pipe(
      Effect.flatMap((message) => conn.writeLine(`ok ${message.id}`)),
      Effect.catchTag("LineDecodeError", (error) => conn.writeLine(`bad ${JSON.stringify(error.line)}: ${error.issue.split("\n")[0]}`))
    )
  ).pipe(Effect.catchTag("EndOfInput", () => Effect.void))

describe("SchemaLines", () => {
  it.effect.prop("encode then decode gives the same value, whatever the text holds", [Schema.Array(Message)], ([messages]) =>
    Effect.gen(function*() {
      const writer = (conn: Connection) => Effect.forEach(messages, (message) => Messages.write(conn, message), { discard: true })
      const written = yield* TestConnection.run(writer, [])
      assert.strictEqual(written.output.split("\n").length, messages.length + 1, "one line per value, line breaks escaped")
      const relayed = yield* TestConnection.run(relay, [written.output])
      assert.isTrue(Exit.isSuccess(relayed.exit))
      assert.strictEqual(relayed.output, written.output)
      const decoded = relayed.output.split("\n").slice(0, -1).map((line) => Schema.decodeUnknownSync(Schema.fromJsonString(Message))(line))
      assert.deepStrictEqual(decoded, messages)
    }))

  it.effect("a line that does not decode is a typed failure with the line and the issue; the next line reads", () =>
    Effect.gen(function*() {
      const { output } = yield* TestConnection.run(tolerant, [
        "{\"id\":1,\"text\":\"a\",\"tags\":[]}\n",
        "not json\n",
        "{\"id\":\"two\",\"text\":\"b\",\"tags\":[]}\n",
        "{\"id\":3,\"text\":\"c\",\"tags\":[\"x\"]}\n"
      ])
      const lines = output.split("\n")
      assert.strictEqual(lines[0], "ok 1")
      assert.match(lines[1]!, /^bad "not json": /)
      assert.match(lines[2]!, /^bad "\{\\"id\\":\\"two\\".*: .*/)
      assert.strictEqual(lines[3], "ok 3")
    }))

  it.effect("a value that does not encode is a typed failure and nothing is written", () =>
    Effect.gen(function*() {
      const Positive = SchemaLines.json(Schema.Struct({ n: Schema.Int.check(Schema.isGreaterThan(0)) }))
      let tag = ""
      const writer = (conn: Connection) =>
        Effect.flatMap(Effect.flip(Positive.write(conn, { n: -1 })), (error) => Effect.sync(() => (tag = error._tag)))
      const { exit, output } = yield* TestConnection.run(writer, [])
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(tag, "LineEncodeError")
      assert.strictEqual(output, "")
    }))
})
