/**
 * The `ConnectionError`s a transport's failures become.
 *
 * @internal
 */
import { ConnectionError } from "../../Errors.ts"

/** A failure of the transport, with the system code when there is one (`ECONNRESET`, `EPIPE`…). */
export const failureOf = (operation: "read" | "write", cause: unknown): ConnectionError =>
  new ConnectionError({
    operation,
    cause,
    ...(cause instanceof Error && "code" in cause && typeof cause.code === "string" ? { code: cause.code } : {})
  })

/**
 * The failure of a use after the connection was closed (or its stream closed
 * under it), or aborted by its handler (`EABORTED`).
 */
export const closedError = (operation: "read" | "write", code: "ECLOSED" | "EABORTED" = "ECLOSED"): ConnectionError =>
  new ConnectionError({
    operation,
    code,
    cause: new Error(code === "EABORTED" ? "connection aborted by the handler" : "connection closed")
  })
