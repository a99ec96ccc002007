// What earlier releases stored and posted for a round, for tests of the snapshots they left:
// decide must go on from them as they are, whatever today's release would have done instead.
import type { MemberId } from "../group/ids.js";
import { contributionRefunded, disputeLoss } from "../ledger/index.js";
import { money } from "../money/index.js";
import type { Round } from "../round/round.js";
import type { RoundEffect } from "../round/round-effect.js";
import { roundIds } from "../round/round-ids.js";
import type { Instant } from "../shared/time.js";

/**
 * A surplus charge's refund (attempt 1), out when the member disputed the charge, lands as the
 * releases before such a refund was posted whole booked it: the refund posted only the rest of
 * the charge beside the dispute's withdrawal (`<round>:dispute:<d>:withdrawn`, booked when the
 * dispute was heard), and the dispute was booked as the member's loss. The charge is stored
 * `refunded` with `lossBooked`, and `withdrawnBooked: true` when `withdrawnBooked` is kept (the
 * release that recorded it), absent otherwise (the ones before). Returns the round and the
 * postings, as `decide` would have.
 */
export function surplusLandedBesideWithdrawal(
  state: Round,
  memberId: MemberId,
  debitAttempt: number,
  refundId: string,
  now: Instant,
  withdrawnBooked: "kept" | "absent",
): { readonly state: Round; readonly effects: RoundEffect[] } {
  const c = state.contributions.find((x) => x.memberId === memberId);
  const surplus = c?.attempts.find((a) => a.number === debitAttempt)?.surplus;
  if (!c || surplus?.status !== "refund_requested" || surplus.disputeId === undefined)
    throw new Error(
      `${memberId}'s charge ${debitAttempt} is not a disputed surplus charge with its refund out`,
    );
  const taken = surplus.disputedMinor ?? 0;
  const ref = (amountMinor: number) => ({
    roundId: state.id,
    memberId,
    amount: money(amountMinor, state.currency),
    occurredAt: now,
  });
  const { withdrawnBooked: _w, withdrawalUndone: _u, ...rest } = surplus;
  const landed = {
    ...rest,
    status: "refunded" as const,
    refundId,
    lossBooked: true,
    ...(withdrawnBooked === "kept" ? { withdrawnBooked: true } : {}),
  };
  const txs = [
    ...(c.amountMinor - taken > 0
      ? [
          contributionRefunded({
            id: roundIds.ledger.surplusRefunded(state.id, memberId, debitAttempt),
            ...ref(c.amountMinor - taken),
          }),
        ]
      : []),
    disputeLoss({ id: roundIds.ledger.disputeLoss(state.id, surplus.disputeId), ...ref(taken) }),
  ];
  return {
    state: {
      ...state,
      contributions: state.contributions.map((x) =>
        x.memberId !== memberId
          ? x
          : {
              ...x,
              attempts: x.attempts.map((a) => (a.number === debitAttempt ? { ...a, surplus: landed } : a)),
            },
      ),
    },
    effects: txs.map((tx) => {
      const transaction = tx._unsafeUnwrap();
      return { kind: "post_ledger" as const, id: transaction.id, transaction };
    }),
  };
}
