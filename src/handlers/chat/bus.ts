/**
 * The room's link to the rooms of other processes, as two small interfaces:
 * what a room asks of its {@link Bus} (claim and release nicknames, publish
 * lines, list everyone), and what a bus may do to its room ({@link Local}:
 * deliver a line said elsewhere, look at who is here).
 *
 * Keeping the link this narrow keeps the room itself synchronous and
 * local — every change to its members is still one step, as `room.ts`
 * explains — while the slow, failing part (a broker over the network) lives
 * in its own fibers behind the bus (`redisBus.ts`). A room alone uses
 * {@link solo}, which links to nothing.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"

/**
 * What a room asks of the rooms of other processes. Nothing here fails, and
 * only `claim` and `everyone` wait: the room's promise that sending never
 * waits for anyone holds across processes too.
 *
 * @since 0.1.0
 */
export interface Bus {
  /**
   * Takes `nick` for this process, unless another process holds it (any
   * case): `false` then. A bus that cannot tell (its broker is unreachable)
   * says `true`, so a room whose broker is down still lets people in.
   */
  readonly claim: (nick: string) => Effect.Effect<boolean>
  /**
   * Gives `nick` back, in the background, once no member here holds it
   * (see {@link Local.holds}); never waits.
   */
  readonly release: (nick: string) => void
  /** Sends `line` to the members of the other processes; never waits, may drop it (at most once). */
  readonly publish: (line: string) => void
  /**
   * The nicknames of every member of every process, or `undefined` when
   * the bus cannot tell (alone, or its broker is unreachable): the room then
   * lists its own members.
   */
  readonly everyone: Effect.Effect<ReadonlyArray<string> | undefined>
}

/**
 * What a bus may do to its own room: synchronous steps, run by the bus's
 * fibers.
 *
 * @since 0.1.0
 */
export interface Local {
  /**
   * Delivers `line` to every member here (a line said in another process,
   * or a notice about the link itself) with the room's slow-member policy;
   * not published again.
   */
  readonly relay: (line: string) => void
  /** The nicknames of the members here. */
  readonly nicks: () => ReadonlyArray<string>
  /** Whether a member here holds `nick` (any case), or is taking it. */
  readonly holds: (nick: string) => boolean
}

/**
 * How a room gets its bus: given the room's {@link Local} side, in the
 * room's scope.
 *
 * @since 0.1.0
 */
export type Link<E, R> = (local: Local) => Effect.Effect<Bus, E, R>

/**
 * The bus of a room alone in its process: every nickname free here is
 * free, lines go nowhere else, and `/who` lists the members here.
 *
 * @since 0.1.0
 */
export const solo: Bus = {
  claim: () => Effect.succeed(true),
  release: () => {},
  publish: () => {},
  everyone: Effect.succeed(undefined)
}
