/**
 * The reference handler, `Echo.echo`: every line back, byte for byte
 * (`fiberline echo`).
 *
 * @since 0.2.0
 *
 * @module fiberline/echo
 */

/** @since 0.1.0 */
export * as Echo from "./Echo.ts"
