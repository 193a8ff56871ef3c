/**
 * What text the chat lets through: which nicknames are valid, and how text
 * from a peer is kept to one harmless line before anyone else sees it.
 *
 * Both rules keep the protocol's three kinds of lines apart: a message is
 * `nick: text`, an action `* nick text`, a server notice `*** text`. A
 * nickname starts with a letter and holds no space, `:` or `*`, so no peer
 * can make one kind look like another or start a line of its own.
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
 * `text` from a peer made safe to relay: every control character (`\r`,
 * escape sequences' `ESC`, NUL…) and line separator becomes U+FFFD, so it
 * stays one line on every terminal. Tabs are kept.
 *
 * @since 0.1.0
 */
export const oneLine = (text: string): string => text.replace(unsafe, "\uFFFD")
