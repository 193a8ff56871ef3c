/**
 * The four kinds of value a key holds, and the containers behind them:
 *
 * - a string: a {@link ByteString};
 * - a list: a {@link List} (`values/list.ts`), a ring-buffer deque (O(1)
 *   push and pop at both ends, O(1) indexing for `LRANGE` and `LINDEX`);
 * - a set: a {@link MemberSet} (`values/set.ts`), with O(1) membership and
 *   O(1) access by position (random picks, cursors);
 * - a hash: a {@link Hash} (`values/hash.ts`), the same for fields.
 *
 * Containers are never empty in the keyspace: the command that removes the
 * last element deletes the key, as Redis does. Each knows its size as
 * `memory.ts` counts it, and while it is in the keyspace reports every
 * change to the keyspace's total (its {@link Container.meter};
 * `values/container.ts`). This module re-exports the containers that live in
 * modules of their own.
 *
 * @since 0.1.0
 */
import type { ByteString } from "./bytes.ts"
import { overhead } from "./memory.ts"
import { Container } from "./values/container.ts"
import { Hash } from "./values/hash.ts"
import { List } from "./values/list.ts"
import { MemberSet } from "./values/set.ts"

export { Container, Hash, List, MemberSet }
export type { Side } from "./values/list.ts"

/**
 * What a key holds.
 *
 * @since 0.1.0
 */
export type Value = ByteString | List | MemberSet | Hash

/**
 * The name `TYPE` replies with.
 *
 * @since 0.1.0
 */
export const typeName = (value: Value | undefined): "string" | "list" | "set" | "hash" | "none" =>
  value === undefined
    ? "none"
    : typeof value === "string"
    ? "string"
    : value instanceof List
    ? "list"
    : value instanceof MemberSet
    ? "set"
    : "hash"

/**
 * The bytes `memory.ts` counts for `value` under `key`, its TTL aside.
 *
 * @since 0.1.0
 */
export const entryBytes = (key: ByteString, value: Value): number =>
  overhead.key + key.length + (typeof value === "string" ? value.length : value.bytes)
