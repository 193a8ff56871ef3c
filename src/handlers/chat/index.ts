/**
 * A chat room over lines, `Chat.handler` (`fiberline chat`), alone or
 * shared between processes over Redis pub/sub.
 *
 * @since 0.2.0
 *
 * @module fiberline/chat
 */

/** @since 0.1.0 */
export * as Chat from "./Chat.ts"
