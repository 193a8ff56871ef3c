/**
 * fiberline's test kit: `TestConnection`, an in-memory peer that runs a
 * handler over the real connection machinery, for unit tests of handlers.
 *
 * @since 0.2.0
 *
 * @module fiberline/testing
 */

/** @since 0.1.0 */
export * as TestConnection from "./TestConnection.ts"
