/**
 * The public command-line API, re-exported as `Cli` by `fiberline/Cli`.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export { ExitCode, UsageError } from "./exit.ts"
/** @since 0.1.0 */
export { type HandlerModule, load as loadHandlerModule } from "./handlerModule.ts"
/** @since 0.1.0 */
export { main } from "./run.ts"
/** @since 0.1.0 */
export { type Served, serveCommand, type ServeCommandSpec } from "./serve.ts"
/** @since 0.1.0 */
export {
  type CommandDefaults,
  envName,
  type Given,
  resolve as resolveSettings,
  serverFlags,
  type ServerSettings
} from "./settings.ts"
/** @since 0.1.0 */
export { encodeTicketKeys, ticketKeysVariable } from "./tlsSettings.ts"
