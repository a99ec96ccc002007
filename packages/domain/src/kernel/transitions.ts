/**
 * A state machine's table of moves: for each status, the statuses it may move to.
 * Staying in a status is not a move and is always allowed.
 */
export type TransitionTable<S extends string> = Readonly<Record<S, readonly S[]>>;

/** The checks an aggregate's `decide` runs on every status change. */
export interface Transitions<S extends string> {
  /** The aggregate's name, for error messages (`round`, `held_payment`). */
  readonly aggregate: string;
  readonly table: TransitionTable<S>;
  /** Whether `from → to` is in the table (or stays put). */
  allowed(from: S, to: S): boolean;
  /**
   * Throws when `from → to` is not in the table. A forbidden move is a bug in `decide`,
   * never an outcome a caller should handle, so it is an exception, not a `Result`.
   */
  assertMove(id: string, from: S, to: S): void;
}

/**
 * Declares an aggregate's transition table once; `decide` routes every status change
 * through {@link Transitions.assertMove}. The table is frozen so no code can widen it.
 */
export function defineTransitions<S extends string>(
  aggregate: string,
  table: TransitionTable<S>,
): Transitions<S> {
  const frozen = Object.freeze({ ...table }) as TransitionTable<S>;
  const allowed = (from: S, to: S): boolean => from === to || frozen[from].includes(to);
  return {
    aggregate,
    table: frozen,
    allowed,
    assertMove(id, from, to) {
      if (!allowed(from, to))
        throw new Error(
          `${aggregate} ${id}: ${from} → ${to} is not in its transition table (a bug in decide, not an outcome)`,
        );
    },
  };
}
