/**
 * What the chat relays is what a reader sees: control characters are
 * marked, invisible characters (bidi controls, zero-width characters, the
 * BOM, tags, other format characters) are removed, and the text that needs
 * some of them (emoji sequences, Persian and Indic words) keeps them —
 * checked on `oneLine` directly, by table and by property, and end to end
 * through a room.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Chat from "../../../src/handlers/chat/Chat.ts"
import { oneLine } from "../../../src/handlers/chat/text.ts"
import * as TestConnection from "../../../src/testing/TestConnection.ts"
import { chatHelp as help, chatPeerAs as peerAs, chatWelcome as welcome } from "../../fixtures/lineClient.ts"

const within = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.timeout(effect, Duration.seconds(5))

/** Emoji and words that need their joiners and selectors (written as escapes: none is visible here). */
const family = "\u{1F468}\u200D\u{1F469}\u200D\u{1F467}"
const rainbowFlag = "\u{1F3F3}\uFE0F\u200D\u{1F308}"
const technologist = "\u{1F9D1}\u{1F3FD}\u200D\u{1F4BB}"
const redHeart = "\u2764\uFE0F"
const keycapOne = "1\uFE0F\u20E3"
/** Persian "I want": a non-joiner inside the word. */
const persian = "\u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645"
/** Devanagari "ksha" with an explicit half form: a joiner after the virama. */
const devanagari = "\u0915\u094D\u200D\u0937"

describe("oneLine", () => {
  it("removes the characters that reorder or hide text", () => {
    const table: ReadonlyArray<readonly [string, string]> = [
      // Shows as "invoiceexe.pdf".
      ["invoice\u202Efdp.exe", "invoicefdp.exe"],
      ["\u202Aa\u202Bb\u202Cc\u202Dd\u202Ee", "abcde"],
      ["\u2066a\u2067b\u2068c\u2069d", "abcd"],
      ["\u200Eleft\u200Fright\u061Carabic", "leftrightarabic"],
      ["pay\u200Bpal", "paypal"],
      ["\uFEFFhello", "hello"],
      ["word\u2060joiner", "wordjoiner"],
      ["soft\u00ADhyphen", "softhyphen"],
      // A Hangul filler looks like nothing at all.
      ["\u3164", ""],
      // Tags spell hidden ASCII ("hi" here).
      ["hello\u{E0068}\u{E0069}", "hello"],
      // Joiners where they join nothing visible.
      ["a\u200Db", "ab"],
      ["a\u200Cb", "ab"],
      ["\u{1F468}\u200D", "\u{1F468}"],
      ["\u200D\u{1F468}", "\u{1F468}"],
      // A run of variation selectors keeps its first; none before any character.
      ["\u2764\uFE0F\uFE0F\u{E0100}", redHeart],
      ["\uFE0Fx", "x"],
      // The flag of England: a black flag and tags.
      ["\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}", "\u{1F3F4}"]
    ]
    for (const [input, expected] of table) assert.strictEqual(oneLine(input), expected, JSON.stringify(input))
  })

  it("keeps emoji sequences, Persian and Indic words, and marks control characters as before", () => {
    for (const text of [family, rainbowFlag, technologist, redHeart, keycapOne, persian, devanagari, "tab\there", "caf\u00E9"]) {
      assert.strictEqual(oneLine(text), text, JSON.stringify(text))
    }
    assert.strictEqual(oneLine("a\rb\u001b[2J\u2028c\u0000"), "a\uFFFDb\uFFFD[2J\uFFFDc\uFFFD")
  })

  const Pieces = Schema.Array(Schema.Literals([
    "a",
    " ",
    "\t",
    "\r",
    "\u001b",
    "\u0645",
    "\u0915\u094D",
    "\u{1F468}",
    "\u{1F3FD}",
    "\u2764",
    "\u200B",
    "\u200C",
    "\u200D",
    "\u200E",
    "\u202E",
    "\u2066",
    "\uFEFF",
    "\uFE0F",
    "\u{E0041}",
    "\u00AD"
  ]))

  it.prop(
    "the result holds no control character and no invisible one outside the uses kept, and is its own result",
    [Pieces],
    ([pieces]) => {
      const shown = oneLine(pieces.join(""))
      assert.strictEqual(oneLine(shown), shown)
      // oxlint-disable-next-line no-control-regex -- matching control characters is the point
      assert.notMatch(shown, /[\u0000-\u0008\u000A-\u001F\u007F-\u009F]/)
      for (const char of shown.match(/[\p{Default_Ignorable_Code_Point}\p{Cf}]/gu) ?? []) {
        assert.include(["\u200C", "\u200D", "\uFE0F"], char, JSON.stringify(shown))
      }
    }
  )
})

describe("chat relays what a reader sees", () => {
  it.live("messages and actions lose their invisible characters, a line of them only is not sent, emoji pass", () =>
    Effect.gen(function*() {
      const alice = yield* peerAs("alice")
      const bob = yield* peerAs("bob")
      yield* alice.send(`invoice\u202Efdp.exe\n/me \u200Bwaves\u2066\n\u200B\uFEFF\u2060\n${family} ${persian}\n`)
      yield* within(bob.awaitOutput(persian))
      assert.isTrue(
        (yield* bob.outputText).endsWith(`alice: invoicefdp.exe\n* alice waves\nalice: ${family} ${persian}\n`),
        yield* bob.outputText
      )
    }).pipe(Effect.provide(Chat.layer())))

  it.live("a nickname is read without its invisible characters, so the room shows it as it looks", () =>
    Effect.gen(function*() {
      const alice = yield* peerAs("alice")
      const bob = yield* TestConnection.start(Chat.chat)
      yield* bob.send("\uFEFFb\u200Bo\u202Eb\n/nick ro\u2060b\n")
      yield* within(alice.awaitOutput("*** bob is now rob\n"))
      assert.strictEqual(
        yield* bob.outputText,
        `${welcome}\n*** Hello bob. Here: alice, bob. ${help}\n*** You are now rob\n`
      )
    }).pipe(Effect.provide(Chat.layer())))
})
