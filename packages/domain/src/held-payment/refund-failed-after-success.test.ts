// A refund Stripe reported succeeded, then failed (the refund object moves succeeded →
// failed: the card or account could not take it, and the money came back to the platform's
// balance), with no dispute. The refund's posting is undone — the books no longer say the
// customer has the money — and the refund waits like one that failed at once: the admins'
// `retry_refund` asks Stripe again (its success posts it again, under the attempt's id), or,
// when Stripe cannot take it (a dispute lost meanwhile: `charge_disputed`), it is owed to the
// customer outside Stripe. A reversal of the seller's part that landed for it stays landed.
import { describe, expect, it } from "vitest";
import { HOUR_MS } from "../shared/time.js";
import {
  heldBooks as books,
  heldRefundFailed,
  heldRefundSucceeded,
  heldDisputeLost as lost,
  heldDisputeOpened as opened,
  heldPaid as paid,
  runHeld as run,
  startHeld as start,
  HELD_T0 as T0,
} from "../testing/held-payment-mothers.js";
import type { HeldPaymentEffect } from "./held-payment-effect.js";
import type { HeldPaymentInput } from "./held-payment-input.js";

const LATER = T0 + 80 * HOUR_MS;

const ofKind = <K extends HeldPaymentEffect["kind"]>(effects: readonly HeldPaymentEffect[], kind: K) =>
  effects.filter((e): e is Extract<HeldPaymentEffect, { kind: K }> => e.kind === kind);
const postingIds = (effects: readonly HeldPaymentEffect[]) => ofKind(effects, "post_ledger").map((e) => e.id);
/** Stripe fails attempt `attempt` of refund `refund` after its success. */
const failedLater = (refund = 1, attempt = 1): HeldPaymentInput =>
  heldRefundFailed("declined", refund, attempt);
const retry: HeldPaymentInput = { type: "retry_refund", by: "admin_1" };

describe("a refund Stripe fails after its success, with no dispute", () => {
  const refundedThenFailed = () =>
    run(start(), [
      paid,
      { type: "report_unfulfilled", reason: "cancelled" },
      heldRefundSucceeded(),
      failedLater(),
    ]);

  it("undoes the refund's posting: the money is back in the hold, the books no longer show it refunded", () => {
    const r = refundedThenFailed();
    expect(r.state.refunds).toMatchObject([
      { number: 1, status: "failed", ledgerPosted: false, failedAfterSuccess: 1, refundId: "re_1" },
    ]);
    expect(postingIds(r.last)).toEqual(["hp1:refund:1:attempt:1:ledger:failed"]);
    const undone = ofKind(r.last, "post_ledger")[0]?.transaction;
    expect(undone).toMatchObject({
      kind: "held_refund_failed",
      refs: { refundId: "re_1", heldPaymentId: "hp1" },
    });
    expect(books(r)).toMatchObject({ paidInMinor: 10_000, holdMinor: 10_000, refundedMinor: 0 });
    // The payment no longer reads refunded: its refund is outstanding again.
    expect(r.state.status).toBe("refunding");
    expect(r.state.endedAt).toBeUndefined();
    // The admins are told, as before, and asked to retry it.
    expect(ofKind(r.last, "open_ticket")).toMatchObject([
      { id: "hp1:ticket:refund_failed:1:after_success", reason: "refund_failed" },
    ]);
    expect(ofKind(r.last, "open_ticket")[0]?.summary).toContain("no longer shows it refunded");
    expect(ofKind(r.last, "notify")).toMatchObject([
      { id: "hp1:notify:refund_failed:1:after_success", template: "refund_failed" },
    ]);
  });

  it("the admins' retry asks Stripe again; its success posts the refund again, under the attempt's id", () => {
    const retried = run(refundedThenFailed(), [retry]);
    expect(ofKind(retried.last, "refund")).toMatchObject([
      { id: "hp1:refund:1:attempt:2", amountMinor: 10_000 },
    ]);
    expect(retried.state.status).toBe("refunding");
    const done = run(retried, [heldRefundSucceeded(1, 2)]);
    expect(postingIds(done.last)).toEqual(["hp1:refund:1:attempt:2:ledger"]);
    // Refunded again once the retry reached the customer.
    expect(done.state.status).toBe("refunded");
    expect(done.state.refunds[0]).toMatchObject({ status: "succeeded", ledgerPosted: true, attempts: 2 });
    expect(books(done)).toMatchObject({ holdMinor: 0, refundedMinor: 10_000 });
    // It fails after its success again: undone again, told again under the attempt's ids.
    const again = run(done, [failedLater(1, 2)]);
    expect(postingIds(again.last)).toEqual(["hp1:refund:1:attempt:2:ledger:failed"]);
    expect(ofKind(again.last, "open_ticket").map((t) => t.id)).toEqual([
      "hp1:ticket:refund_failed:1:after_success:2",
    ]);
    expect(books(again)).toMatchObject({ holdMinor: 10_000, refundedMinor: 0 });
    expect(again.state.status).toBe("refunding");
  });

  it("after the release: the seller's reversal stays landed, the retry asks for the refund alone", () => {
    const released = run(
      start(),
      [
        paid,
        { type: "confirm_fulfilled" },
        { type: "timer", timer: { kind: "release_due" } },
        { type: "transfer_created", attempt: 1, transferId: "tr_1" },
      ],
      LATER,
    );
    const refunded = run(
      released,
      [
        { type: "refund", by: "a", amountMinor: 2_000 },
        { type: "transfer_reversed", reversal: 1, transferId: "tr_1", amountMinor: 1_800 },
        heldRefundSucceeded(),
      ],
      LATER,
    );
    expect(books(refunded)).toMatchObject({
      holdMinor: 0,
      sellerMinor: 7_200,
      feesMinor: 800,
      refundedMinor: 2_000,
    });
    const failed = run(refunded, [failedLater()], LATER);
    // The money is the platform's again: the seller's part in the hold, the fee part in the fees.
    expect(books(failed)).toMatchObject({
      holdMinor: 1_800,
      sellerMinor: 7_200,
      feesMinor: 1_000,
      refundedMinor: 0,
    });
    const retried = run(failed, [retry], LATER);
    expect(retried.last.map((e) => e.kind)).toEqual(["refund", "schedule_timer"]);
    const done = run(retried, [heldRefundSucceeded(1, 2)], LATER);
    expect(books(done)).toMatchObject({
      holdMinor: 0,
      sellerMinor: 7_200,
      feesMinor: 800,
      refundedMinor: 2_000,
    });
    expect(done.state.status).toBe("released");
  });

  it("a dispute lost meanwhile supersedes it: the loss takes what the bank took, the rest is owed outside Stripe", () => {
    const r = run(refundedThenFailed(), [opened(6_000), lost(6_000)]);
    expect(r.state.refunds).toMatchObject([
      { number: 1, status: "superseded_by_dispute", supersededBy: "dp" },
      { number: 2, amountMinor: 4_000, status: "owed_outside_stripe" },
    ]);
    expect(ofKind(r.effects, "refund")).toHaveLength(1);
    // The refund never reached the customer: the bank's return and the rest owed end it.
    expect(r.state.status).toBe("charged_back");
    expect(books(r)).toMatchObject({
      holdMinor: 0,
      refundedMinor: 0,
      disputeLostMinor: 6_000,
      owedToCustomerMinor: 4_000,
    });
  });
});

describe("a refund Stripe fails after its success, once a dispute was lost", () => {
  it("is owed outside Stripe at once (Stripe refuses every refund of a charge charged back)", () => {
    const r = run(start(), [
      paid,
      { type: "refund", by: "a", amountMinor: 3_000 },
      heldRefundSucceeded(),
      opened(4_000),
      lost(4_000),
      failedLater(),
    ]);
    expect(r.state.refunds).toMatchObject([
      { number: 1, amountMinor: 3_000, status: "owed_outside_stripe", ledgerPosted: true },
    ]);
    expect(postingIds(r.last)).toEqual(["hp1:refund:1:attempt:1:ledger:failed", "hp1:refund:1:ledger:owed"]);
    expect(ofKind(r.last, "open_ticket").map((t) => t.reason)).toEqual(["refund_owed"]);
    expect(ofKind(r.last, "refund")).toEqual([]);
    expect(books(r)).toMatchObject({
      holdMinor: 3_000,
      refundedMinor: 0,
      disputeLostMinor: 4_000,
      owedToCustomerMinor: 3_000,
    });
  });

  it("owed while the release's transfer is in flight: the payment ends only once the transfer's outcome is heard", () => {
    // (the held-payment model's counterexample, seed -77: charged_back, then the transfer landed)
    const releasing = run(
      start(),
      [
        paid,
        { type: "confirm_fulfilled" },
        { type: "refund", by: "a", amountMinor: 2_000 },
        heldRefundSucceeded(),
        { type: "timer", timer: { kind: "release_due" } },
        opened(8_000),
        lost(8_000),
      ],
      LATER,
    );
    expect(releasing.state.status).toBe("releasing");
    const owed = run(releasing, [failedLater()], LATER);
    expect(owed.state.refunds[0]).toMatchObject({ status: "owed_outside_stripe" });
    expect(owed.state.status).toBe("releasing");
    const landed = run(owed, [{ type: "transfer_created", attempt: 1, transferId: "tr_1" }], LATER);
    expect(landed.state.status).toBe("charged_back");
    expect(ofKind(landed.last, "reverse_transfer").map((e) => [e.amountMinor, e.reason])).toEqual([
      [7_200, "dispute_lost"],
    ]);
  });
});
