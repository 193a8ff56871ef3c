/**
 * SIGHUP reloads a server's TLS certificates, as daemons re-read their
 * configuration on a hang-up: the certificate and key files are read again
 * and served to connections that start afterwards (a renewed certificate,
 * with no restart and no dropped connection). A reload that fails is logged
 * and changes nothing; SIGHUP never ends the process while this is
 * installed. A `--workers` primary passes it on to its workers instead.
 * Also the plain scoped signal listener the CLI's other signals use.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as LineServer from "../services/LineServer.ts"

/**
 * Calls `listener` on every `signal` for as long as the current scope is
 * open; meanwhile the signal's default action (for most: exit) is off.
 *
 * @since 0.1.0
 */
export const onSignal = (signal: NodeJS.Signals, listener: () => void): Effect.Effect<void, never, Scope.Scope> =>
  Effect.asVoid(Effect.acquireRelease(
    Effect.sync(() => process.on(signal, listener)),
    () => Effect.sync(() => process.off(signal, listener))
  ))

/**
 * Calls `listener` on every SIGHUP for as long as the current scope is open.
 *
 * @since 0.1.0
 */
export const onHangup = (listener: () => void): Effect.Effect<void, never, Scope.Scope> => onSignal("SIGHUP", listener)

/**
 * Reloads the TLS settings of `server()` on every SIGHUP, for as long as
 * the current scope is open; logs `tls reloaded` (with the certificate's
 * subject and expiry) or `tls reload failed` (with the reason). Install it
 * before the server starts listening, so a SIGHUP that comes early is logged
 * and ignored rather than taken as Node's default: exit.
 *
 * @since 0.1.0
 */
export const reloadTlsOnHangup = (
  server: () => LineServer.LineServer | undefined
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    // The logger and annotations of the command, for logs written from the signal handler.
    const context = yield* Effect.context<never>()
    const reload = () => {
      const current = server()
      const effect = current === undefined
        ? Effect.logWarning("tls reload skipped: not listening yet")
        : current.reloadTls().pipe(
          Effect.matchEffect({
            onSuccess: (certificate) =>
              Effect.logInfo("tls reloaded", { subject: certificate.subject, validTo: certificate.validTo }),
            onFailure: (error) => Effect.logError("tls reload failed", { error: error.message })
          })
        )
      Effect.runForkWith(context)(effect)
    }
    yield* onHangup(reload)
  })
