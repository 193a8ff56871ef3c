/**
 * The TLS settings of a line server on the command line: `--tls-cert`,
 * `--tls-key`, `--tls-ca`, `--tls-client-auth`, `--tls-mode`,
 * `--tls-handshake-timeout`, `--tls-ciphers` (each with its `FIBERLINE_TLS_*` variable, read
 * by `settings.ts` like every other setting) and the session ticket keys,
 * which only a variable gives. Here they are checked against each other and
 * turned into the `LineServer` options.
 *
 * Apart from `settings.ts` because they are a group: they only make sense
 * together, and the rules between them (a certificate needs its key, client
 * authentication needs a CA) are TLS's, not the command line's.
 *
 * @since 0.1.0
 */
import { Buffer } from "node:buffer"
import type * as Duration from "effect/Duration"
import * as Tls from "../services/Tls.ts"
import { UsageError } from "./exit.ts"

/**
 * TLS settings from the command line. Certificate files are given by path
 * and read by the server (again on SIGHUP).
 *
 * @since 0.1.0
 */
export interface TlsSettings {
  readonly cert: string
  readonly key: string
  readonly ca: string | undefined
  /** `--tls-client-auth`: require a client certificate signed by `ca`. */
  readonly clientAuth: boolean
  readonly mode: Tls.TlsMode
  readonly handshakeTimeout: Duration.Duration
  /** `--tls-ciphers`: the cipher suites accepted, instead of `Tls.defaults.ciphers`. */
  readonly ciphers: string | undefined
  /** From {@link ticketKeysVariable}; random per process when unset. */
  readonly ticketKeys: Uint8Array | undefined
}

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

const parseTicketKeys = (text: string): Uint8Array => {
  const trimmed = text.trim()
  const keys = /^[0-9a-f]{96}$/i.test(trimmed)
    ? Buffer.from(trimmed, "hex")
    : /^[A-Za-z0-9+/]{64}$/.test(trimmed)
    ? Buffer.from(trimmed, "base64")
    : undefined
  // The value is a secret: the message never repeats it.
  if (keys === undefined) {
    throw new UsageError({ message: `invalid ${ticketKeysVariable}: expected 48 bytes as 96 hex digits or 64 base64 characters` })
  }
  return keys
}

const parseBoolean = (variable: string, text: string): boolean => {
  const normalized = text.trim().toLowerCase()
  if (["1", "true", "yes", "on"].includes(normalized)) return true
  if (["0", "false", "no", "off"].includes(normalized)) return false
  throw new UsageError({ message: `invalid ${variable} "${text}": expected true or false` })
}

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
 * The TLS settings, or `undefined` for plaintext. `--tls-cert` and
 * `--tls-key` go together; the other TLS settings need them, and
 * `--tls-client-auth` needs `--tls-ca`; `--tls-client-auth` is refused with
 * `--stdio` (the other flags are refused by `settings.ts`, and every
 * variable is then ignored). Throws a {@link UsageError}; `named` says how
 * the user gave a setting (its flag, or its variable).
 *
 * @since 0.1.0
 */
export const resolveTls = (
  given: TlsGiven,
  env: Readonly<Record<string, string | undefined>>,
  named: (setting: Named) => string
): TlsSettings | undefined => {
  if (given.stdio && given.clientAuthFlag) throw new UsageError({ message: "--tls-client-auth does not apply with --stdio" })
  const clientAuthText = given.stdio ? undefined : env[clientAuthVariable]
  const clientAuth = given.clientAuthFlag ||
    (clientAuthText !== undefined && clientAuthText !== "" && parseBoolean(clientAuthVariable, clientAuthText))
  const { ca, cert, ciphers, handshakeTimeout, key, mode } = given
  if (cert === undefined || key === undefined) {
    if (cert !== undefined) throw new UsageError({ message: `${named("tlsCert")} needs --tls-key` })
    if (key !== undefined) throw new UsageError({ message: `${named("tlsKey")} needs --tls-cert` })
    const stray = [["tlsCa", ca], ["tlsMode", mode], ["tlsHandshakeTimeout", handshakeTimeout], ["tlsCiphers", ciphers]] as const
    for (const [setting, value] of stray) {
      if (value !== undefined) throw new UsageError({ message: `${named(setting)} needs --tls-cert and --tls-key` })
    }
    if (clientAuth) throw new UsageError({ message: "--tls-client-auth needs --tls-cert and --tls-key" })
    return undefined
  }
  if (clientAuth && ca === undefined) {
    throw new UsageError({ message: "--tls-client-auth needs --tls-ca: the CAs that sign client certificates" })
  }
  const ticketKeysText = given.stdio ? undefined : env[ticketKeysVariable]
  return {
    cert,
    key,
    ca,
    clientAuth,
    mode: mode ?? "implicit",
    handshakeTimeout: handshakeTimeout ?? Tls.defaults.handshakeTimeout,
    ciphers,
    ticketKeys: ticketKeysText === undefined || ticketKeysText === "" ? undefined : parseTicketKeys(ticketKeysText)
  }
}

/**
 * The `LineServer` TLS options of the settings (none for plaintext):
 * certificate files by path, so the server reads them again on reload.
 *
 * @since 0.1.0
 */
export const tlsServerOptions = (
  settings: TlsSettings | undefined
): { readonly tls?: Tls.TlsOptions; readonly tlsMode?: Tls.TlsMode } => {
  if (settings === undefined) return {}
  return {
    tlsMode: settings.mode,
    tls: {
      cert: { file: settings.cert },
      key: { file: settings.key },
      ...(settings.ca === undefined ? {} : { ca: { file: settings.ca } }),
      clientAuth: settings.clientAuth ? "require" : "none",
      handshakeTimeout: settings.handshakeTimeout,
      ...(settings.ciphers === undefined ? {} : { ciphers: settings.ciphers }),
      ...(settings.ticketKeys === undefined ? {} : { ticketKeys: settings.ticketKeys })
    }
  }
}
