/**
 * What text the chat lets through: which nicknames are valid, and how text
 * from a peer is kept to one harmless line before anyone else sees it.
 *
 * Both rules keep the protocol's three kinds of lines apart: a message is
 * `nick: text`, an action `* nick text`, a server notice `*** text`. A
 * nickname starts with a letter and holds no space, `:` or `*`, so no peer
 * can make one kind look like another or start a line of its own. Text also
 * loses the characters nobody sees, so that what a reader sees is what was
 * sent (see {@link oneLine}).
 *
 * @since 0.1.0
 */

/**
 * Whether `nick` is a valid nickname: ASCII letters, digits, `_` and `-`,
 * starting with a letter, 1 to `maxLength` characters.
 *
 * @since 0.1.0
 */
export const isValidNick = (nick: string, maxLength: number): boolean =>
  nick.length <= maxLength && /^[A-Za-z][A-Za-z0-9_-]*$/.test(nick)

/**
 * The rule {@link isValidNick} checks, in words, for the reply to a refused
 * nickname.
 *
 * @since 0.1.0
 */
export const nickRule = (maxLength: number): string =>
  `1 to ${maxLength} letters, digits, '_' or '-', starting with a letter`

/**
 * The key nicknames are unique by: `Alice` and `alice` are the same
 * nickname.
 *
 * @since 0.1.0
 */
export const nickKey = (nick: string): string => nick.toLowerCase()

/**
 * Control characters (C0 but tab, DEL, C1) and the Unicode line and
 * paragraph separators. A line read by `readLine` ends at `\n` but may hold a
 * lone `\r`, which `writeLine` refuses: relayed as is, it would fail the
 * recipient's writer and end the recipient's session.
 */
// oxlint-disable-next-line no-control-regex -- matching control characters is the point
const unsafe = /[\u0000-\u0008\u000A-\u001F\u007F-\u009F\u2028\u2029]/g

/**
 * Scripts that shape words with U+200C ZERO WIDTH NON-JOINER and U+200D
 * ZERO WIDTH JOINER: Arabic (Persian, Urdu, …), Syriac, and the scripts of
 * India and Sri Lanka.
 */
const shaping = [
  "Arabic",
  "Syriac",
  "Devanagari",
  "Bengali",
  "Gurmukhi",
  "Gujarati",
  "Oriya",
  "Tamil",
  "Telugu",
  "Kannada",
  "Malayalam",
  "Sinhala"
].map((script) => `\\p{Script=${script}}`).join("")

/**
 * The characters a reader does not see: Unicode's default-ignorable code
 * points and every format character (category Cf). Among them the bidi
 * controls (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C), which
 * reorder what follows them (`invoice\u202Efdp.exe` shows as
 * `invoiceexe.pdf`); the zero-width ones (U+200B–U+200D, U+2060, U+FEFF),
 * which make two different texts look the same; soft hyphens, tags
 * (U+E0000–U+E007F, which hide ASCII) and the Hangul fillers. The first
 * three alternatives are the uses of them that text needs, kept (matched,
 * but not captured); every other one is captured, and removed.
 */
const invisible = new RegExp(
  [
    // A joiner inside an emoji ZWJ sequence (woman, ZWJ, laptop: a woman technologist).
    String.raw`(?<=\p{Extended_Pictographic}[\uFE0F\p{Emoji_Modifier}]?)\u200D(?=\p{Extended_Pictographic})`,
    // A joiner or non-joiner inside a word of a script that shapes with it.
    `(?<=[${shaping}]\\p{M}*)[\\u200C\\u200D](?=[${shaping}])`,
    // One variation selector after a visible character (U+2764 U+FE0F: a red heart, not a black one).
    String.raw`(?<=[^\p{Default_Ignorable_Code_Point}\p{Cf}])\p{Variation_Selector}`,
    String.raw`([\p{Default_Ignorable_Code_Point}\p{Cf}])`
  ].join("|"),
  "gu"
)

/**
 * `text` from a peer made safe to relay, so that it stays one line on every
 * terminal and shows what was sent:
 *
 * - every control character (`\r`, escape sequences' `ESC`, NUL…) and line
 *   separator becomes U+FFFD, which marks the spot (tabs are kept);
 * - every invisible character (bidi controls, zero-width spaces and joiners,
 *   the BOM, soft hyphens, tags: see `invisible` above) is removed, which
 *   leaves the text as a reader sees it with the trick undone — but a joiner
 *   inside an emoji sequence (a family, a rainbow flag), a joiner or
 *   non-joiner inside a Persian or Indic word, and one variation selector
 *   after a visible character (the red of a red heart) are kept. The flag of
 *   a region (a black flag and tags) becomes a black flag.
 *
 * Removing rather than marking an invisible character lets text pasted with
 * them (soft hyphens, a BOM, zero-width spaces in URLs) read as it did, and
 * an emoji sequence lose its joiners only where they join nothing.
 *
 * @since 0.1.0
 */
export const oneLine = (text: string): string =>
  text.replace(unsafe, "\uFFFD").replace(invisible, (match, removed: string | undefined) => removed === undefined ? match : "")
