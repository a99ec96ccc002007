import { defineTransitions } from "../kernel/transitions.js";
import type { Round, RoundStatus } from "./round.js";

/**
 * The statuses each status may move to — every move `decide` makes, and no other. Read
 * from what the round does:
 *
 * - `scheduled → collecting` when it opens; `→ refunding` when cancelled before it opened.
 * - `collecting → settled` when every contribution succeeded; `→ refunding` when the
 *   deadline (and grace) passed first, or on cancel.
 * - `settled → paying_out` when the payout starts, `→ payout_blocked` when it cannot start
 *   (the recipient cannot receive), `→ collecting` when a contribution is disputed or a
 *   member pays again, `→ refunding` on cancel.
 * - `paying_out → paid_out` when every transfer landed; `→ payout_blocked` when one failed
 *   for good, retries ran out, or the recipient cannot receive at a retry.
 * - `payout_blocked → paying_out` when the account was fixed, the admin resumed or
 *   reassigned the payout.
 * - `refunding → cancelled` once every refund is done.
 * - `paid_out` and `cancelled` are final.
 *
 * Staying in a status is not a move (a block noticed again, a cancelled round hearing of
 * a refund again) and is always allowed.
 */
const roundTransitions = defineTransitions<RoundStatus>("round", {
  scheduled: ["collecting", "refunding"],
  collecting: ["settled", "refunding"],
  settled: ["paying_out", "payout_blocked", "collecting", "refunding"],
  paying_out: ["paid_out", "payout_blocked"],
  payout_blocked: ["paying_out"],
  paid_out: [],
  refunding: ["cancelled"],
  cancelled: [],
});

export const ROUND_TRANSITIONS = roundTransitions.table;

/** Whether a round in status `from` may move to `to` (staying put always may). */
export function isRoundMoveAllowed(from: RoundStatus, to: RoundStatus): boolean {
  return roundTransitions.allowed(from, to);
}

/** The fields a move may set along with the status. */
export type RoundMovePatch = Partial<Omit<Round, "status">>;

/**
 * Moves a round to `to`, setting `patch` with it — the one way a round's status changes.
 * A move the table does not allow throws: it is a bug in `decide`, never an outcome a
 * caller should handle. Leaving `payout_blocked` clears `blockedReason`, which only ever
 * describes the block the round is in.
 */
export function moveRound(round: Round, to: RoundStatus, patch: RoundMovePatch = {}): Round {
  roundTransitions.assertMove(round.id, round.status, to);
  const moved: Round = { ...round, ...patch, status: to };
  if (round.status !== "payout_blocked" || to === "payout_blocked") return moved;
  const { blockedReason: _cleared, ...unblocked } = moved;
  return unblocked;
}
