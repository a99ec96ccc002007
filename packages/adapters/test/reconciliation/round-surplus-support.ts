// A round's surplus charge (a debit recorded as failed that took the money after all) on
// PostgreSQL, for reconciliation tests: the round's own decisions post the ledger, and Stripe's
// balance transactions for that charge are stored as the puller stores them.
import {
  DEFAULT_ROUND_POLICY,
  type DecideContext,
  decide,
  type LedgerTransaction,
  newRound,
  type Round,
  type RoundInput,
} from "@susu/domain";
import { debitFailed, debitProcessing, debitSucceeded } from "@susu/domain/testing";
import type { StripeBalanceRecord } from "../../src/reconciliation/stripe-items.js";
import { balanceRecord } from "./balance-record.js";

export const DAY = 86_400_000;
export const T0 = Date.UTC(2026, 0, 5);
/** The contribution, and so the surplus charge. */
export const CHARGE = 10_000;

/** Each input decided in turn at its time on a new round `roundId` (m1 and m2, m1 paid); every ledger posting asked for, in order. */
export function decideAll(
  steps: readonly (readonly [RoundInput, number])[],
  roundId = "r1",
): { readonly round: Round; readonly postings: LedgerTransaction[] } {
  let round = newRound({
    id: roundId,
    groupId: "g1",
    rotation: 1,
    sequence: 0,
    recipientMemberId: "m1",
    recipientCanReceive: true,
    contributorIds: ["m1", "m2"],
    currency: "AUD",
    contributionMinor: CHARGE,
    scheduledFor: T0,
  })._unsafeUnwrap();
  const postings: LedgerTransaction[] = [];
  for (const [input, now] of steps) {
    const ctx: DecideContext = { now, policy: DEFAULT_ROUND_POLICY };
    const decided = decide(round, input, ctx)._unsafeUnwrap();
    round = decided.state;
    for (const e of decided.effects) if (e.kind === "post_ledger") postings.push(e.transaction);
  }
  return { round, postings };
}

/** A balance transaction of a round's charge, as the puller stores it (AUD, no fee). */
export function record(
  r: Pick<
    StripeBalanceRecord,
    "id" | "type" | "reportingCategory" | "sourceId" | "sourceObject" | "effectId"
  > & {
    readonly amountMinor: number;
    readonly created: number;
    readonly roundId?: string;
  },
): StripeBalanceRecord {
  const { roundId = "r1", ...rest } = r;
  return balanceRecord({
    netMinor: r.amountMinor,
    availableOn: r.created,
    presentmentMinor: Math.abs(r.amountMinor),
    presentmentCurrency: "AUD",
    groupId: "g1",
    roundId,
    ...rest,
  });
}

/**
 * m1's first debit is recorded as failed, its retry pays, the round pays out; the first debit's
 * money arrives after all on day 6 (a surplus charge, whose refund is asked for at once).
 */
export const surplusCharged: readonly (readonly [RoundInput, number])[] = [
  [{ type: "open" }, T0],
  [debitProcessing("m1"), T0],
  [debitFailed("m1", "insufficient_funds"), T0],
  [{ type: "timer", timer: { kind: "retry_debit", memberId: "m1", attempt: 2 } }, T0 + DAY],
  [debitProcessing("m1", 2), T0 + DAY],
  [debitProcessing("m2"), T0 + DAY],
  [debitSucceeded("m2"), T0 + 2 * DAY],
  [debitSucceeded("m1", 2), T0 + 4 * DAY],
  [{ type: "transfer_created", sourceMemberId: "m1", attempt: 1, transferId: "tr_m1" }, T0 + 4 * DAY],
  [{ type: "transfer_created", sourceMemberId: "m2", attempt: 1, transferId: "tr_m2" }, T0 + 4 * DAY],
  [debitSucceeded("m1", 1), T0 + 6 * DAY],
];
