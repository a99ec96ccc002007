import { describe, expect, it } from "vitest";
import { roundPaymentRefs } from "./payment-fact.js";
import { routeToRound } from "./route-to-round.js";

describe("a round's refund facts", () => {
  const to = (input: unknown) => ({ to: "round", groupId: "g1", roundId: "r1", input });

  it("name the refund attempt their metadata carries (a retry's), and none for attempt 1's", () => {
    expect(
      routeToRound({ kind: "refund_failed", refs: roundPaymentRefs("g1", "r1", "m2"), failureCode: "x" }),
    ).toEqual(to({ type: "refund_failed", memberId: "m2", failureCode: "x" }));
    expect(
      routeToRound({ kind: "refund_failed", refs: roundPaymentRefs("g1", "r1", "m2", 2), failureCode: "x" }),
    ).toEqual(to({ type: "refund_failed", memberId: "m2", failureCode: "x", attempt: 2 }));
    expect(
      routeToRound({
        kind: "refund_succeeded",
        refs: roundPaymentRefs("g1", "r1", "m2", 3),
        refundId: "re_3",
      }),
    ).toEqual(to({ type: "refund_succeeded", memberId: "m2", refundId: "re_3", attempt: 3 }));
    expect(
      routeToRound({ kind: "refund_succeeded", refs: roundPaymentRefs("g1", "r1", "m2"), refundId: "re_1" }),
    ).toEqual(to({ type: "refund_succeeded", memberId: "m2", refundId: "re_1" }));
  });
});

describe("a round's refund of a surplus charge", () => {
  const to = (input: unknown) => ({ to: "round", groupId: "g1", roundId: "r1", input });

  it("names the debit attempt whose charge it gives back (the refund's `refund` reference)", () => {
    const refs = { ...roundPaymentRefs("g1", "r1", "m2"), refund: 1 };
    expect(routeToRound({ kind: "refund_succeeded", refs, refundId: "re_1" })).toEqual(
      to({ type: "refund_succeeded", memberId: "m2", refundId: "re_1", debitAttempt: 1 }),
    );
    expect(routeToRound({ kind: "refund_failed", refs: { ...refs, attempt: 2 }, failureCode: "x" })).toEqual(
      to({ type: "refund_failed", memberId: "m2", failureCode: "x", attempt: 2, debitAttempt: 1 }),
    );
  });
});

describe("a round's dispute", () => {
  const to = (input: unknown) => ({ to: "round", groupId: "g1", roundId: "r1", input });

  it("names the disputed charge: the debit attempt its PaymentIntent's metadata carries, and the PaymentIntent", () => {
    // A member charged twice may dispute either charge; the round books it by the one named.
    expect(
      routeToRound({
        kind: "dispute_opened",
        refs: roundPaymentRefs("g1", "r1", "m2", 1),
        disputeId: "dp_1",
        paymentIntentId: "pi_m2_1",
        amountMinor: 10_000,
      }),
    ).toEqual(
      to({
        type: "dispute_opened",
        memberId: "m2",
        disputeId: "dp_1",
        amountMinor: 10_000,
        attempt: 1,
        paymentIntentId: "pi_m2_1",
      }),
    );
    // Neither known (a payment whose metadata names no attempt): by the member, as before.
    expect(
      routeToRound({
        kind: "dispute_opened",
        refs: roundPaymentRefs("g1", "r1", "m2"),
        disputeId: "dp_2",
        amountMinor: 5,
      }),
    ).toEqual(to({ type: "dispute_opened", memberId: "m2", disputeId: "dp_2", amountMinor: 5 }));
  });

  it("closed won: the round hears it (the money came back); closed lost: the round hears it opened (booked once, when it opens, also when its opening was never heard); updated: nobody", () => {
    const closed = (outcome: "won" | "lost") =>
      routeToRound({
        kind: "dispute_closed",
        refs: roundPaymentRefs("g1", "r1", "m2", 1),
        disputeId: "dp_1",
        paymentIntentId: "pi_m2_1",
        outcome,
        amountMinor: 10_000,
      });
    expect(closed("won")).toEqual(
      to({
        type: "dispute_won",
        memberId: "m2",
        disputeId: "dp_1",
        amountMinor: 10_000,
        attempt: 1,
        paymentIntentId: "pi_m2_1",
      }),
    );
    expect(closed("lost")).toEqual(
      to({
        type: "dispute_opened",
        memberId: "m2",
        disputeId: "dp_1",
        amountMinor: 10_000,
        attempt: 1,
        paymentIntentId: "pi_m2_1",
      }),
    );
    expect(
      routeToRound({
        kind: "dispute_updated",
        refs: roundPaymentRefs("g1", "r1", "m2", 1),
        disputeId: "dp_1",
        status: "won",
      }),
    ).toMatchObject({ to: "nobody" });
  });
});
