// The release's transfer answered with an error of unknown outcome (Stripe made it, its answer
// was lost); the admins' look-up found nothing (Stripe's list lagging behind), so the attempt
// was written off — and then Stripe's `transfer.created` for it came after all (a late success
// of an attempt recorded failed). That transfer is the seller's payment: when nothing else paid
// them and it moved what is set aside for them, it is booked as any landed transfer is and the
// payment is released — no other attempt is asked for, which would pay them twice. (Before, it
// was only recorded with an `unexpected_money` ticket: the release went on and asked Stripe for
// another transfer, and the books never showed the first. Found by the held-payment model once
// its look-ups could miss a landed transfer: "transfer hp1:transfer:attempt:3 asked for while
// another may land or after one landed".)
//
// 100.00 AUD at a 10 % fee: a 90.00 transfer.
import { describe, expect, it } from "vitest";
import { DEFAULT_HELD_PAYMENT_POLICY } from "../policy/held-payment-policy.js";
import { HOUR_MS } from "../shared/time.js";
import {
  heldBooks as books,
  heldRefundFailed,
  heldRefundSucceeded,
  heldDisputeLost as lost,
  heldDisputeOpened as opened,
  heldPaid as paid,
  type HeldRun as Run,
  runHeld as run,
  startHeld as start,
  HELD_T0 as T0,
} from "../testing/held-payment-mothers.js";
import { decideHeldPayment } from "./decide.js";
import type { HeldPaymentEffect } from "./held-payment-effect.js";
import type { HeldPaymentInput } from "./held-payment-input.js";

const LATER = T0 + 80 * HOUR_MS;

const ofKind = <K extends HeldPaymentEffect["kind"]>(effects: readonly HeldPaymentEffect[], kind: K) =>
  effects.filter((e): e is Extract<HeldPaymentEffect, { kind: K }> => e.kind === kind);
const unknownOutcome = (attempt: number): HeldPaymentInput => ({
  type: "transfer_failed",
  attempt,
  failureCode: "api_error",
});
const created = (attempt: number): HeldPaymentInput => ({
  type: "transfer_created",
  attempt,
  transferId: `tr_${attempt}`,
});
const release: HeldPaymentInput = { type: "admin_release", by: "admin" };

/** Paid, fulfilled, due: attempt 1 answered with an unknown outcome, looked up, not found (written off). */
function writtenOff(before: readonly HeldPaymentInput[] = []): Run {
  const r = run(
    run(start(), [paid, { type: "confirm_fulfilled" }, ...before]),
    [
      { type: "timer", timer: { kind: "release_due" } },
      unknownOutcome(1),
      release,
      { type: "transfer_not_found", attempt: 1 },
    ],
    LATER,
  );
  expect(r.state.transfers[0]).toMatchObject({ number: 1, status: "failed" });
  return r;
}

describe("a transfer attempt written off after a look-up that missed it, whose success comes late", () => {
  it("while the next attempt's outcome is unknown too: the late one is booked and released, and no third attempt is asked for", () => {
    const r = run(writtenOff(), [unknownOutcome(2), created(1)], LATER);
    expect(r.state.status).toBe("released");
    // Attempt 2, of unknown outcome, is written off: should it land too, it is flagged, never booked.
    expect(r.state.transfers.map((t) => t.status)).toEqual(["created", "failed"]);
    expect(ofKind(r.last, "open_ticket").map((t) => t.reason)).toEqual(["unexpected_money"]);
    expect(books(r)).toMatchObject({
      holdMinor: 0,
      sellerPayableMinor: 0,
      sellerMinor: 9_000,
      feesMinor: 1_000,
    });
    // Nothing is left to release, and attempt 2 landing after all is flagged, never booked.
    const twice = run(r, [created(2)], LATER);
    expect(ofKind(twice.last, "open_ticket").map((t) => t.reason)).toEqual(["unexpected_money"]);
    expect(ofKind(twice.last, "transfer")).toEqual([]);
    expect(books(twice)).toMatchObject({ sellerPayableMinor: 0, sellerMinor: 9_000 });
  });

  it("while the next attempt is in flight: the late one is booked; the next one, landing too, is only flagged (paid twice)", () => {
    const r = run(writtenOff(), [created(1)], LATER);
    expect(r.state.status).toBe("released");
    expect(books(r)).toMatchObject({ holdMinor: 0, sellerPayableMinor: 0, sellerMinor: 9_000 });
    const twice = run(r, [created(2)], LATER);
    expect(ofKind(twice.last, "open_ticket").map((t) => t.reason)).toEqual(["unexpected_money"]);
    expect(books(twice)).toMatchObject({ sellerPayableMinor: 0, sellerMinor: 9_000 });
    // Or it fails: nothing is retried or blocked on it.
    const failed = run(
      r,
      [{ type: "transfer_failed", attempt: 2, failureCode: "balance_insufficient" }],
      LATER,
    );
    expect(failed.state.status).toBe("released");
    expect(ofKind(failed.last, "schedule_timer")).toEqual([]);
  });

  it("after a refund made before the release failed after its success and a dispute lost while the release was stopped: the late transfer is not booked against a share it no longer matches, and no other attempt is asked for", () => {
    // A 20.00 refund before the release (succeeded), the release of 72.00 written off; Stripe
    // fails the refund afterwards, a dispute of 50.00 opens while the release is blocked and is
    // lost: it supersedes the refund, and its loss is booked from the share set aside (45.00 of
    // it), which leaves 45.00 set aside — then the written-off transfer of 72.00 lands.
    const r0 = run(
      run(start(), [
        paid,
        { type: "confirm_fulfilled" },
        { type: "refund", by: "a", amountMinor: 2_000 },
        heldRefundSucceeded(),
      ]),
      [
        { type: "timer", timer: { kind: "release_due" } },
        unknownOutcome(1),
        release,
        heldRefundFailed("declined"),
      ],
      LATER,
    );
    const stopped = run(r0, [opened(5_000), { type: "transfer_not_found", attempt: 1 }, lost(5_000)], LATER);
    expect(stopped.state).toMatchObject({ status: "release_blocked", blockKind: "transfer_outcome_unknown" });
    expect(stopped.state.refunds[0]).toMatchObject({ status: "superseded_by_dispute" });
    expect(stopped.state.disputes[0]).toMatchObject({ lossBooked: true, sellerPartMinor: 4_500 });
    const late = run(stopped, [created(1)], LATER);
    // Flagged (unexpected_money), and with nothing else to pay the seller the release blocks
    // on it (its own ticket; late-transfer-unbooked.test.ts).
    expect(ofKind(late.last, "open_ticket").map((t) => t.reason)).toEqual([
      "unexpected_money",
      "release_blocked",
    ]);
    expect(late.state).toMatchObject({ status: "release_blocked", blockKind: "late_transfer_unbooked" });
    expect(ofKind(late.last, "transfer")).toEqual([]);
    // The admins' release is refused: the seller is not paid again.
    const d = decideHeldPayment(late.state, release, { now: LATER, policy: DEFAULT_HELD_PAYMENT_POLICY });
    expect(d.isErr() && d.error.code).toBe("transfer_landed_late");
  });
});

describe("a transfer that lands while an admin holds the payment", () => {
  const hold: HeldPaymentInput = { type: "admin_hold", by: "olga", reason: "checking" };

  it("an attempt of unknown outcome whose transfer.created comes: released, and the hold, which could not stop it, is lifted", () => {
    const blocked = run(
      run(start(), [paid, { type: "confirm_fulfilled" }]),
      [{ type: "timer", timer: { kind: "release_due" } }, unknownOutcome(1), hold],
      LATER,
    );
    expect(blocked.state).toMatchObject({ status: "release_blocked", adminHold: { by: "olga" } });
    const landed = run(blocked, [created(1)], LATER);
    expect(landed.state.status).toBe("released");
    expect(landed.state.adminHold).toBeUndefined();
    expect(books(landed)).toMatchObject({ holdMinor: 0, sellerPayableMinor: 0, sellerMinor: 9_000 });
  });

  it("a written-off attempt that lands late and is booked: released, the hold lifted", () => {
    // Written off while a dispute was open (the release frozen), held by an admin, the dispute won.
    const frozen = run(
      run(start(), [paid, { type: "confirm_fulfilled" }]),
      [
        { type: "timer", timer: { kind: "release_due" } },
        unknownOutcome(1),
        release,
        opened(5_000),
        { type: "transfer_not_found", attempt: 1 },
        hold,
      ],
      LATER,
    );
    expect(frozen.state).toMatchObject({ status: "release_blocked", adminHold: { by: "olga" } });
    expect(frozen.state.transfers.map((t) => t.status)).toEqual(["failed"]);
    const late = run(frozen, [created(1)], LATER);
    expect(late.state.status).toBe("released");
    expect(late.state.adminHold).toBeUndefined();
    expect(ofKind(late.last, "open_ticket").map((t) => t.reason)).toEqual(["unexpected_money"]);
  });
});

describe("an attempt of unknown outcome written off when a late transfer is booked", () => {
  const decide = (r: Run, input: HeldPaymentInput) =>
    decideHeldPayment(r.state, input, { now: LATER, policy: DEFAULT_HELD_PAYMENT_POLICY })._unsafeUnwrap();
  const notFound = (attempt: number): HeldPaymentInput => ({ type: "transfer_not_found", attempt });
  /** Attempt 1 written off, attempt 2 of unknown outcome (the release blocked), then attempt 1's success. */
  const bookedBesideUnknown = (): Run => run(writtenOff(), [unknownOutcome(2), created(1)], LATER);

  it("is looked up once at Stripe: it may have paid the seller a second time", () => {
    const r = bookedBesideUnknown();
    expect(r.state.status).toBe("released");
    expect(r.state.transfers[1]).toMatchObject({
      number: 2,
      status: "failed",
      failureCode: "another_attempt_landed",
      lookups: 1,
    });
    expect(ofKind(r.last, "find_transfer")).toMatchObject([
      {
        id: "hp1:transfer:attempt:2:lookup:1",
        attempt: 2,
        transferEffectId: "hp1:transfer:attempt:2",
        transferGroup: r.state.transferGroup,
      },
    ]);
    // Nothing else is asked of Stripe: no transfer, no retry.
    expect(ofKind(r.last, "transfer")).toEqual([]);
    expect(ofKind(r.last, "schedule_timer")).toEqual([]);
  });

  it("one already being looked up (the admins' release) is looked up once more, under the next look-up's id", () => {
    const asked = run(writtenOff(), [unknownOutcome(2), release], LATER);
    expect(ofKind(asked.last, "find_transfer").map((e) => e.id)).toEqual(["hp1:transfer:attempt:2:lookup:1"]);
    const r = run(asked, [created(1)], LATER);
    expect(ofKind(r.last, "find_transfer").map((e) => e.id)).toEqual(["hp1:transfer:attempt:2:lookup:2"]);
  });

  it("found by the look-up: recorded as a late transfer, not booked (the seller was paid twice), a ticket and the admins told", () => {
    const r = bookedBesideUnknown();
    const found = run(r, [created(2)], LATER);
    expect(found.state.status).toBe("released");
    expect(found.state.transfers[1]).toMatchObject({
      number: 2,
      status: "created",
      transferId: "tr_2",
      unbooked: true,
    });
    expect(ofKind(found.last, "open_ticket")).toMatchObject([
      { id: "hp1:ticket:unexpected_money:transfer:tr_2", reason: "unexpected_money" },
    ]);
    expect(ofKind(found.last, "notify")).toMatchObject([
      {
        template: "unexpected_money",
        to: { kind: "platform_admins" },
        data: { transferId: "tr_2", attempt: 2, amountMinor: 9_000, booked: "no" },
      },
    ]);
    // The books keep the one payment; nothing more is asked of Stripe.
    expect(ofKind(found.last, "post_ledger")).toEqual([]);
    expect(books(found)).toEqual(books(r));
    expect(ofKind(found.last, "transfer")).toEqual([]);
    expect(ofKind(found.last, "find_transfer")).toEqual([]);
  });

  it("not found by the look-up: nothing changes — written off it stays, no retry, no other transfer, no release", () => {
    const r = bookedBesideUnknown();
    const d = decide(r, notFound(2));
    expect(d.ignored?.code).toBe("transfer_not_pending");
    expect(d.state).toEqual(r.state);
    expect(d.effects).toEqual([]);
    // The admins' release of the released payment is refused, as before the look-up.
    const again = decideHeldPayment(d.state, release, { now: LATER, policy: DEFAULT_HELD_PAYMENT_POLICY });
    expect(again.isErr() && again.error.code).toBe("not_on_hold");
  });

  it("an attempt still asked for (not of unknown outcome) is written off without a look-up: its own answer or webhook tells", () => {
    const r = run(writtenOff(), [created(1)], LATER);
    expect(r.state.transfers[1]).toMatchObject({
      number: 2,
      status: "failed",
      failureCode: "another_attempt_landed",
    });
    expect(r.state.transfers[1]?.lookups).toBeUndefined();
    expect(ofKind(r.last, "find_transfer")).toEqual([]);
  });
});

// An attempt written off while still asked for (its transfer effect in the outbox, or its first
// try's answer not back yet), whose answer then says its outcome is unknown: Stripe may have
// made that transfer too. Before, the payment ignored the answer (the attempt was no longer in
// flight), so nothing looked it up: with its webhook lost, the seller was paid twice and nobody
// knew.
describe("an attempt written off while still asked for, whose answer then comes of unknown outcome", () => {
  const decide = (r: Run, input: HeldPaymentInput) =>
    decideHeldPayment(r.state, input, { now: LATER, policy: DEFAULT_HELD_PAYMENT_POLICY })._unsafeUnwrap();
  /** Attempt 1 written off, attempt 2 asked; attempt 1 lands late and is booked: attempt 2 written off. */
  const writtenOffAsked = (): Run => {
    const r = run(writtenOff(), [created(1)], LATER);
    expect(r.state.transfers[1]).toMatchObject({ status: "failed", failureCode: "another_attempt_landed" });
    return r;
  };

  for (const failureCode of ["api_error", "timeout", "processing_error", "earlier_try_unheard"])
    it(`(${failureCode}) is looked up once at Stripe; the payment stays released and nothing else is asked`, () => {
      const r = writtenOffAsked();
      const d = decide(r, { type: "transfer_failed", attempt: 2, failureCode });
      expect(d.ignored).toBeUndefined();
      expect(d.state.status).toBe("released");
      expect(d.state.transfers[1]).toMatchObject({
        number: 2,
        status: "failed",
        failureCode: "another_attempt_landed",
        lookups: 1,
      });
      expect(d.effects).toMatchObject([
        {
          kind: "find_transfer",
          id: "hp1:transfer:attempt:2:lookup:1",
          attempt: 2,
          transferEffectId: "hp1:transfer:attempt:2",
          transferGroup: r.state.transferGroup,
        },
      ]);
    });

  it("only once: the same answer again (a replay, the outbox reporting it too) asks nothing more", () => {
    const asked = run(writtenOffAsked(), [unknownOutcome(2)], LATER);
    for (const failureCode of ["api_error", "earlier_try_unheard"]) {
      const d = decide(asked, { type: "transfer_failed", attempt: 2, failureCode });
      expect(d.ignored?.code).toBe("transfer_not_pending");
      expect(d.effects).toEqual([]);
    }
  });

  it("found by the look-up: a late transfer, not booked (the seller was paid twice), a ticket and the admins told", () => {
    const asked = run(writtenOffAsked(), [unknownOutcome(2)], LATER);
    const found = run(asked, [created(2)], LATER);
    expect(found.state.status).toBe("released");
    expect(found.state.transfers[1]).toMatchObject({ status: "created", transferId: "tr_2", unbooked: true });
    expect(ofKind(found.last, "open_ticket")).toMatchObject([
      { id: "hp1:ticket:unexpected_money:transfer:tr_2", reason: "unexpected_money" },
    ]);
    expect(ofKind(found.last, "notify")).toMatchObject([
      { template: "unexpected_money", to: { kind: "platform_admins" }, data: { attempt: 2, booked: "no" } },
    ]);
    expect(ofKind(found.last, "post_ledger")).toEqual([]);
    expect(books(found)).toEqual(books(asked));
    expect(ofKind(found.last, "transfer")).toEqual([]);
  });

  it("not found by the look-up: nothing changes", () => {
    const asked = run(writtenOffAsked(), [unknownOutcome(2)], LATER);
    const d = decide(asked, { type: "transfer_not_found", attempt: 2 });
    expect(d.ignored?.code).toBe("transfer_not_pending");
    expect(d.state).toEqual(asked.state);
    expect(d.effects).toEqual([]);
  });

  it("a definite failure needs nothing: no look-up", () => {
    const r = writtenOffAsked();
    for (const failureCode of ["balance_insufficient", "account_invalid"]) {
      const d = decide(r, { type: "transfer_failed", attempt: 2, failureCode });
      expect(d.ignored?.code).toBe("transfer_not_pending");
      expect(d.effects).toEqual([]);
    }
  });
});
