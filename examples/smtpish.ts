import { Effect } from "effect"
import type { Connection } from "fiberline"

// An SMTP-flavoured toy (not a mail server) that shows STARTTLS: a greeting,
// EHLO, STARTTLS, then every other line echoed back, over TLS once upgraded.
// Serve it with the certificate to upgrade with:
//   fiberline serve examples/smtpish.ts --tls-mode starttls --tls-cert cert.pem --tls-key key.pem

// SMTP's lines end with CRLF: `fiberline serve` reads this (`--line-ending` overrides it).
export const connection = { lineEnding: "\r\n" } satisfies Connection.ConnectionOptions

export default (conn: Connection.Connection) =>
  Effect.gen(function*() {
    yield* conn.writeLine("220 smtpish ready")
    while (true) {
      const line = yield* conn.readLine
      const verb = line.split(" ", 1)[0]!.toUpperCase()
      if (verb === "QUIT") return yield* conn.writeLine("221 bye")
      if (verb === "EHLO") {
        yield* conn.writeLine("250-smtpish")
        // Offered in plaintext only, as RFC 3207 says.
        if (conn.tls === undefined) yield* conn.writeLine("250-STARTTLS")
        yield* conn.writeLine(conn.tls === undefined ? "250 plaintext" : `250 ${conn.tls.protocol}`)
      } else if (verb === "STARTTLS") {
        // The 220 is sent only once the upgrade can happen; the reply to a
        // refusal goes instead. Input pipelined after STARTTLS fails it with
        // PlaintextBeforeTls (the connection is then closed, unanswered).
        yield* conn.startTls({ reply: "220 2.0.0 Ready to start TLS" }).pipe(
          Effect.catchTag("TlsUnavailable", (error) =>
            conn.writeLine(error.reason === "already-tls" ? "503 5.5.1 TLS already active" : "454 4.7.0 TLS not available"))
        )
      } else {
        // A stray `\r` inside the line would start a line of its own: refused.
        yield* conn.writeLine(`250 ${line}`).pipe(
          Effect.catchTag("EmbeddedLineBreak", () => conn.writeLine("500 5.5.2 line break inside a command"))
        )
      }
    }
  }).pipe(
    Effect.catchTag("EndOfInput", () => Effect.void),
    Effect.catchTag("ServerShuttingDown", () => conn.writeLine("421 4.3.2 shutting down"))
  )
