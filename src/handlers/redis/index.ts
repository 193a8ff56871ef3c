/**
 * A Redis-compatible server on RESP2, `Redis.handler` and `Redis.layer`
 * (`fiberline redis`).
 *
 * @since 0.2.0
 *
 * @module fiberline/redis
 */

/** @since 0.1.0 */
export * as Redis from "./Redis.ts"
