// A marketplace charge's refund Stripe failed because the card can no longer take money
// (`failure_reason` `lost_or_stolen_card` or `expired_or_canceled_card`). Stripe sends a refund
// only to the payment method charged, so a new refund would fail the same way: the refund is
// owed to the customer outside Stripe at once (`marketplace_owed_to_customer`, a `refund_owed`
// ticket naming the owed-payments route, the admins' and the customer's notices), as after a
// lost dispute, instead of a `refund_failed` ticket asking to retry it in vain. Other reasons
// keep the retry path.
import { describe, expect, it } from "vitest";
import { money } from "../money/index.js";
import { decideMarketplaceOwedPayment } from "../owed/payment-owed.js";
import {
  allCreated,
  marketplaceBooks as books,
  created,
  effectsOfKind as of,
  paid,
  marketplaceTestPolicy as policy,
  refund,
  refundFailed,
  refundOk,
  reversed,
  run,
  splitCommand,
  T0,
} from "../testing/marketplace-charge-mothers.js";
import { decideMarketplaceCharge } from "./decide.js";
import type { MarketplaceChargeEffect } from "./marketplace-charge-effect.js";

const postings = (effects: readonly MarketplaceChargeEffect[]) =>
  of(effects, "post_ledger").map((e) => [e.id, e.transaction.kind]);
const tickets = (effects: readonly MarketplaceChargeEffect[]) =>
  of(effects, "open_ticket").map((t) => [t.reason, t.id]);
const notices = (effects: readonly MarketplaceChargeEffect[]) => of(effects, "notify").map((n) => n.template);

describe("a destination charge's whole refund fails at once on an expired card", () => {
  const failed = () => run(created(), [paid(), refund(), refundFailed("expired_or_canceled_card")]);

  it("is owed to the customer outside Stripe at once, and the charge ends refunded", () => {
    const r = failed();
    expect(r.state.refunds).toMatchObject([
      { number: 1, amountMinor: 10_000, status: "owed_outside_stripe", ledgerPosted: true },
    ]);
    expect(postings(r.last.effects)).toEqual([["mc1:refund:1:ledger:owed", "marketplace_owed_to_customer"]]);
    expect(of(r.last.effects, "post_ledger")[0]?.transaction.refs).toMatchObject({
      failureCode: "expired_or_canceled_card",
    });
    expect(tickets(r.last.effects)).toEqual([["refund_owed", "mc1:ticket:refund_owed:1"]]);
    expect(notices(r.last.effects)).toEqual(["refund_owed", "owed_outside_stripe"]);
    expect(of(r.last.effects, "notify").map((n) => n.data.failureCode)).toEqual([
      "expired_or_canceled_card",
      "expired_or_canceled_card",
    ]);
    const summary = of(r.last.effects, "open_ticket")[0]?.summary ?? "";
    expect(summary).toContain("POST /v1/marketplace-charges/mc1/owed-payments");
    expect(summary).not.toContain("dispute");
    expect(of(r.last.effects, "refund")).toEqual([]);
    expect(r.state.status).toBe("refunded");
    // The seller's part is taken back from their transfer, as for a refund a lost dispute left owed.
    const reversals = of(r.last.effects, "reverse_transfer");
    expect(reversals).toHaveLength(1);
    const landed = run(
      r.state,
      reversals.map((e) => reversed(e.reversal, e.amountMinor)),
    );
    expect(books([...r.effects, ...landed.effects], landed.state)).toMatchObject({
      refundedMinor: 0,
      inFlightMinor: 0,
      owedToCustomerMinor: 10_000,
    });
  });

  it("nothing waits for a retry: retry_refund is refused, and the owed payment recorded resolves the ticket", () => {
    const r = failed();
    const retry = decideMarketplaceCharge(
      r.state,
      { type: "retry_refund", by: "admin_1" },
      { now: T0, policy },
    );
    expect(retry._unsafeUnwrapErr().code).toBe("no_failed_refund");
    const paidOut = decideMarketplaceOwedPayment(
      r.state,
      { type: "record_owed_payment", amount: money(10_000, "AUD"), reference: "bank 7", by: "operator:o" },
      { now: T0 },
    )._unsafeUnwrap();
    expect(of(paidOut.effects, "resolve_ticket").map((e) => e.ticketId)).toEqual([
      "mc1:ticket:refund_owed:1",
    ]);
  });
});

describe("a refund Stripe fails after its success, on a card lost or stolen", () => {
  it("a destination charge's whole refund: undone, owed, the seller not reversed again, the charge refunded", () => {
    const r = run(created(), [paid(), refund(), refundOk(1), refundFailed("lost_or_stolen_card")]);
    expect(r.state.refunds).toMatchObject([
      { number: 1, status: "owed_outside_stripe", ledgerPosted: true, failedAfterSuccess: 1 },
    ]);
    expect(postings(r.last.effects)).toEqual([
      ["mc1:refund:1:attempt:1:ledger:failed", "marketplace_refund_failed"],
      ["mc1:refund:1:ledger:owed", "marketplace_owed_to_customer"],
    ]);
    expect(of(r.last.effects, "post_ledger")[1]?.transaction.refs).toMatchObject({
      failureCode: "lost_or_stolen_card",
      refundId: "re_1_1",
    });
    // Stripe reversed the seller's part with the refund; that reversal stays.
    expect(of(r.last.effects, "reverse_transfer")).toEqual([]);
    expect(tickets(r.last.effects)).toEqual([["refund_owed", "mc1:ticket:refund_owed:1"]]);
    expect(of(r.last.effects, "open_ticket")[0]?.summary).toContain("after it had succeeded");
    expect(books(r.effects, r.state)).toMatchObject({ refundedMinor: 0, owedToCustomerMinor: 10_000 });
    expect(r.state.status).toBe("refunded");
  });

  it("a split's partial refund: the sellers' reversals stay landed, nothing more is asked, the charge stays settled", () => {
    const settled = run(created(splitCommand), [paid(), ...allCreated]);
    const asked = run(settled.state, [refund(2_000)]);
    const landed = run(
      asked.state,
      of(asked.effects, "reverse_transfer").map((e) => reversed(e.reversal, e.amountMinor)),
    );
    const ok = run(landed.state, [refundOk(1)]);
    const r = run(ok.state, [refundFailed("lost_or_stolen_card")]);
    expect(r.state.refunds).toMatchObject([{ number: 1, status: "owed_outside_stripe" }]);
    expect(of(r.last.effects, "reverse_transfer")).toEqual([]);
    expect(of(r.last.effects, "refund")).toEqual([]);
    const all = [...settled.effects, ...asked.effects, ...landed.effects, ...ok.effects, ...r.effects];
    expect(books(all, r.state)).toMatchObject({
      refundedMinor: 0,
      inFlightMinor: 0,
      owedToCustomerMinor: 2_000,
    });
    expect(r.state.status).toBe("settled");
  });
});

describe("reasons a retry can fix keep the retry path", () => {
  const failures = [
    "declined",
    "insufficient_funds",
    "merchant_request",
    "unknown",
    "charge_for_pending_refund_disputed",
    "canceled",
  ];
  it.each(failures)("%s: a refund_failed ticket, and retry_refund asks Stripe again", (code) => {
    const r = run(created(), [paid(), refund(), refundFailed(code)]);
    expect(r.state.refunds).toMatchObject([{ number: 1, status: "failed", failureCode: code }]);
    expect(tickets(r.last.effects).map(([reason]) => reason)).toEqual(["refund_failed"]);
    expect(r.state.status).toBe("refunding");
    const retried = run(r.state, [{ type: "retry_refund", by: "admin_1" }]);
    expect(of(retried.last.effects, "refund").map((e) => e.id)).toEqual(["mc1:refund:1:attempt:2"]);
  });
});
