/**
 * The TLS settings of a line server on the command line: `--tls-cert`,
 * `--tls-key`, `--tls-ca`, `--tls-client-auth`, `--tls-mode`,
 * `--tls-handshake-timeout`, `--tls-ciphers` (each with its `FIBERLINE_TLS_*` variable, read
 * by `settings.ts` like every other setting) and the session ticket keys,
 * which only a variable gives. Here they are checked against each other and
 * turned into the `LineServer` options (`tls`, `tlsMode`).
 *
 * Apart from `settings.ts` because they are a group: they only make sense
 * together, and the rules between them (a certificate needs its key, client
 * authentication needs a CA) are TLS's, not the command line's.
 *
 * @since 0.1.0
 */
import { Buffer } from "node:buffer"
import * as Config from "effect/Config"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Tls from "../Tls.ts"
import { UsageError } from "./exit.ts"
import * as Text from "./textOf.ts"

/**
 * The environment variable that gives the TLS session ticket keys: 48
 * bytes as 96 hex digits or 64 base64 characters. Processes given the same
 * keys resume each other's TLS sessions. Only a variable, never a flag: a
 * flag's value is visible to every user in `ps`.
 *
 * **Details**
 *
 * This is the seam for several worker processes behind one port: the
 * primary makes keys once (`encodeTicketKeys(Tls.generateTicketKeys())`)
 * unless the variable is set already, and starts every worker with it.
 *
 * @since 0.1.0
 */
export const ticketKeysVariable = "FIBERLINE_TLS_TICKET_KEYS"

/**
 * Ticket keys as {@link ticketKeysVariable} reads them (base64).
 *
 * @since 0.1.0
 */
export const encodeTicketKeys = (keys: Uint8Array): string => Buffer.from(keys).toString("base64")

const clientAuthVariable = "FIBERLINE_TLS_CLIENT_AUTH"

const parseTicketKeys = (text: string): Effect.Effect<Uint8Array, UsageError> => {
  const trimmed = text.trim()
  const keys = /^[0-9a-f]{96}$/i.test(trimmed)
    ? Buffer.from(trimmed, "hex")
    : /^[A-Za-z0-9+/]{64}$/.test(trimmed)
    ? Buffer.from(trimmed, "base64")
    : undefined
  // The value is a secret: the message never repeats it.
  return keys === undefined
    ? Effect.fail(new UsageError({ message: `invalid ${ticketKeysVariable}: expected 48 bytes as 96 hex digits or 64 base64 characters` }))
    : Effect.succeed(keys)
}

/** A variable's text; an empty one counts as unset (the environment's `ConfigProvider`). */
const variable = (name: string) => Effect.orDie(Config.option(Config.String(name)))

/**
 * The TLS settings as read from flags and variables (each `undefined` when
 * neither gave it), before they are checked against each other.
 *
 * @since 0.1.0
 */
export interface TlsGiven {
  readonly stdio: boolean
  readonly cert: string | undefined
  readonly key: string | undefined
  readonly ca: string | undefined
  readonly mode: Tls.TlsMode | undefined
  readonly handshakeTimeout: Duration.Duration | undefined
  readonly ciphers: string | undefined
  /** `--tls-client-auth` was given. */
  readonly clientAuthFlag: boolean
}

/** The settings of {@link TlsGiven} that a usage error may name. */
type Named = "tlsCert" | "tlsKey" | "tlsCa" | "tlsMode" | "tlsHandshakeTimeout" | "tlsCiphers"

/**
 * The server's TLS options (none for plaintext): certificate files by
 * path, so the server reads them again on reload. `--tls-cert` and
 * `--tls-key` go together; the other TLS settings need them, and
 * `--tls-client-auth` needs `--tls-ca`; `--tls-client-auth` is refused with
 * `--stdio` (the other flags are refused by `settings.ts`, and every
 * variable is then ignored). Fails with a {@link UsageError}; `named` says
 * how the user gave a setting (its flag, or its variable).
 *
 * @since 0.1.0
 */
export const resolveTls = (
  given: TlsGiven,
  named: (setting: Named) => string
): Effect.Effect<{ readonly tls?: Tls.TlsOptions; readonly tlsMode?: Tls.TlsMode }, UsageError> =>
  Effect.gen(function*() {
    if (given.stdio) {
      if (given.clientAuthFlag) return yield* new UsageError({ message: "--tls-client-auth does not apply with --stdio" })
      return {}
    }
    const clientAuthText = yield* variable(clientAuthVariable)
    const clientAuth = given.clientAuthFlag || (Option.isSome(clientAuthText) && (yield* Effect.mapError(
      Text.decode(Text.boolean, clientAuthText.value),
      (expected) => new UsageError({ message: `invalid ${clientAuthVariable} "${clientAuthText.value}": ${expected}` })
    )))
    const { ca, cert, ciphers, handshakeTimeout, key, mode } = given
    if (cert === undefined || key === undefined) {
      if (cert !== undefined) return yield* new UsageError({ message: `${named("tlsCert")} needs --tls-key` })
      if (key !== undefined) return yield* new UsageError({ message: `${named("tlsKey")} needs --tls-cert` })
      const stray = [["tlsCa", ca], ["tlsMode", mode], ["tlsHandshakeTimeout", handshakeTimeout], ["tlsCiphers", ciphers]] as const
      for (const [setting, value] of stray) {
        if (value !== undefined) return yield* new UsageError({ message: `${named(setting)} needs --tls-cert and --tls-key` })
      }
      if (clientAuth) return yield* new UsageError({ message: "--tls-client-auth needs --tls-cert and --tls-key" })
      return {}
    }
    if (clientAuth && ca === undefined) {
      return yield* new UsageError({ message: "--tls-client-auth needs --tls-ca: the CAs that sign client certificates" })
    }
    const ticketKeysText = yield* variable(ticketKeysVariable)
    const ticketKeys = Option.isNone(ticketKeysText) ? undefined : yield* parseTicketKeys(ticketKeysText.value)
    return {
      tlsMode: mode ?? "implicit",
      tls: {
        cert: { file: cert },
        key: { file: key },
        ...(ca === undefined ? {} : { ca: { file: ca } }),
        clientAuth: clientAuth ? "require" : "none",
        ...(handshakeTimeout === undefined ? {} : { handshakeTimeout }),
        ...(ciphers === undefined ? {} : { ciphers }),
        ...(ticketKeys === undefined ? {} : { ticketKeys })
      }
    }
  })
