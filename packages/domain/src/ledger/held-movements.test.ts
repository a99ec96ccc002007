import { describe, expect, it } from "vitest";
import { money } from "../money/index.js";
import { checkHeldMoney, heldMoney } from "./held-money.js";
import {
  heldAccounts,
  heldCaptured,
  heldDisputeLost,
  heldFeeEarned,
  heldOwedToCustomer,
  heldRefunded,
  heldRefundFailed,
  heldRefundSuperseded,
  heldSellerPayable,
  heldTransferReversed,
  heldTransferred,
} from "./held-movements.js";
import { emptyLedger, type Ledger, postTransaction } from "./ledger.js";
import { checkLedgerInvariants } from "./ledger-invariants.js";
import type { LedgerTransaction } from "./ledger-transaction.js";

const aud = (minor: number) => money(minor, "AUD");
const base = (id: string, amountMinor: number) => ({
  id,
  heldPaymentId: "hp_1",
  amount: aud(amountMinor),
  occurredAt: 1,
});

function post(ledger: Ledger, txs: readonly LedgerTransaction[]): Ledger {
  return txs.reduce((l, tx) => postTransaction(l, tx)._unsafeUnwrap(), ledger);
}

describe("held payment movements", () => {
  it("names the payment's accounts, escaping ids", () => {
    expect(heldAccounts.hold("hp_1")).toBe("held:hp_1:hold");
    expect(heldAccounts.paidIn("a:b")).toBe("held:a%3Ab:paid_in");
    expect(heldAccounts.sellerPayable("hp_1")).toBe("held:hp_1:seller_payable");
    expect(heldAccounts.seller("hp_1")).toBe("held:hp_1:seller");
    expect(heldAccounts.fees("hp_1")).toBe("held:hp_1:fees");
    expect(heldAccounts.refunds("hp_1")).toBe("held:hp_1:refunds");
    expect(heldAccounts.disputeLosses("hp_1")).toBe("held:hp_1:dispute_losses");
  });

  it("captured, released, refunded after release: every step balanced, the hold zero at rest", () => {
    let l = post(emptyLedger(), [heldCaptured(base("c", 10_000))._unsafeUnwrap()]);
    expect(heldMoney(l, "hp_1", "AUD")).toMatchObject({ paidInMinor: 10_000, holdMinor: 10_000 });
    l = post(l, [
      heldFeeEarned(base("f", 1_000))._unsafeUnwrap(),
      heldSellerPayable(base("p", 9_000))._unsafeUnwrap(),
    ]);
    expect(heldMoney(l, "hp_1", "AUD")).toMatchObject({ holdMinor: 0, sellerPayableMinor: 9_000 });
    l = post(l, [heldTransferred(base("t", 9_000))._unsafeUnwrap()]);
    expect(heldMoney(l, "hp_1", "AUD")).toMatchObject({
      holdMinor: 0,
      sellerPayableMinor: 0,
      sellerMinor: 9_000,
    });
    // A refund of 1 000 after the release: 900 reversed from the seller first, 100 from the fee.
    l = post(l, [heldTransferReversed(base("r", 900))._unsafeUnwrap()]);
    expect(heldMoney(l, "hp_1", "AUD").holdMinor).toBe(900);
    const refund = heldRefunded({
      id: "rf",
      heldPaymentId: "hp_1",
      from: { stage: "transferred", sellerPart: aud(900), feePart: aud(100) },
      occurredAt: 2,
    })._unsafeUnwrap();
    expect(refund.postings.map((p) => [p.account, p.side, p.amount.amountMinor])).toEqual([
      ["held:hp_1:refunds", "debit", 1_000],
      ["held:hp_1:hold", "credit", 900],
      ["held:hp_1:fees", "credit", 100],
    ]);
    l = post(l, [refund]);
    expect(checkHeldMoney(l, "hp_1", "AUD")._unsafeUnwrap()).toEqual({
      heldPaymentId: "hp_1",
      currency: "AUD",
      paidInMinor: 10_000,
      holdMinor: 0,
      sellerPayableMinor: 0,
      sellerMinor: 8_100,
      feesMinor: 900,
      refundedMinor: 1_000,
      disputeLostMinor: 0,
      owedToCustomerMinor: 0,
      paidOutsideStripeMinor: 0,
      platformFundedMinor: 0,
      owedByCustomerMinor: 0,
    });
    expect(checkLedgerInvariants(l).isOk()).toBe(true);
  });

  it("a dispute lost before the release comes out of the hold; after it, the seller owes their part", () => {
    const before = heldDisputeLost({
      id: "d",
      heldPaymentId: "hp_1",
      from: { stage: "holding", amount: aud(10_000) },
      occurredAt: 1,
    })._unsafeUnwrap();
    expect(before.postings.map((p) => [p.account, p.side])).toEqual([
      ["held:hp_1:dispute_losses", "debit"],
      ["held:hp_1:hold", "credit"],
    ]);
    const after = heldDisputeLost({
      id: "d2",
      heldPaymentId: "hp_1",
      from: { stage: "transferred", sellerPart: aud(9_000), feePart: aud(1_000) },
      occurredAt: 1,
    })._unsafeUnwrap();
    let l = post(emptyLedger(), [
      heldCaptured(base("c", 10_000))._unsafeUnwrap(),
      heldFeeEarned(base("f", 1_000))._unsafeUnwrap(),
      heldSellerPayable(base("p", 9_000))._unsafeUnwrap(),
      heldTransferred(base("t", 9_000))._unsafeUnwrap(),
      after,
    ]);
    expect(heldMoney(l, "hp_1", "AUD")).toMatchObject({
      holdMinor: -9_000,
      disputeLostMinor: 10_000,
      feesMinor: 0,
    });
    l = post(l, [heldTransferReversed(base("r", 9_000))._unsafeUnwrap()]);
    expect(heldMoney(l, "hp_1", "AUD")).toMatchObject({ holdMinor: 0, sellerMinor: 0 });
    expect(checkHeldMoney(l, "hp_1", "AUD").isOk()).toBe(true);
  });

  it("a refund's rest owed outside Stripe after the release: the hold is short by the seller's part until it is reversed", () => {
    const owed = heldOwedToCustomer({
      id: "o",
      heldPaymentId: "hp_1",
      from: { stage: "transferred", sellerPart: aud(3_600), feePart: aud(400) },
      occurredAt: 1,
    })._unsafeUnwrap();
    expect(owed.kind).toBe("held_owed_to_customer");
    expect(owed.postings.map((p) => [p.account, p.side, p.amount.amountMinor])).toEqual([
      ["held:hp_1:owed_to_customer", "debit", 4_000],
      ["held:hp_1:hold", "credit", 3_600],
      ["held:hp_1:fees", "credit", 400],
    ]);
    let l = post(emptyLedger(), [
      heldCaptured(base("c", 10_000))._unsafeUnwrap(),
      heldFeeEarned(base("f", 1_000))._unsafeUnwrap(),
      heldSellerPayable(base("p", 9_000))._unsafeUnwrap(),
      heldTransferred(base("t", 9_000))._unsafeUnwrap(),
      owed,
    ]);
    expect(checkHeldMoney(l, "hp_1", "AUD")._unsafeUnwrap()).toMatchObject({
      holdMinor: -3_600,
      feesMinor: 600,
      owedToCustomerMinor: 4_000,
    });
    l = post(l, [heldTransferReversed(base("r", 3_600))._unsafeUnwrap()]);
    expect(checkHeldMoney(l, "hp_1", "AUD")._unsafeUnwrap()).toMatchObject({
      holdMinor: 0,
      sellerMinor: 5_400,
      owedToCustomerMinor: 4_000,
    });
  });

  it("a take-back while the seller's share is set aside comes out of the payable; zero parts post nothing", () => {
    const tx = heldRefunded({
      id: "rf",
      heldPaymentId: "hp_1",
      from: { stage: "earmarked", sellerPart: aud(500), feePart: aud(0) },
      occurredAt: 1,
    })._unsafeUnwrap();
    expect(tx.postings.map((p) => [p.account, p.side, p.amount.amountMinor])).toEqual([
      ["held:hp_1:refunds", "debit", 500],
      ["held:hp_1:seller_payable", "credit", 500],
    ]);
    const nothing = heldRefunded({
      id: "rf",
      heldPaymentId: "hp_1",
      from: { stage: "earmarked", sellerPart: aud(0), feePart: aud(0) },
      occurredAt: 1,
    });
    expect(nothing.isErr()).toBe(true);
    expect(heldCaptured({ ...base("c", 1), heldPaymentId: "" })._unsafeUnwrapErr().code).toBe(
      "invalid_account_id",
    );
  });

  it("a refund Stripe failed after its success is undone on the accounts it was taken from", () => {
    const from = { stage: "transferred" as const, sellerPart: aud(3_600), feePart: aud(400) };
    const undone = heldRefundFailed({ id: "u", heldPaymentId: "hp_1", from, occurredAt: 1 })._unsafeUnwrap();
    expect(undone.kind).toBe("held_refund_failed");
    expect(undone.postings.map((p) => [p.account, p.side, p.amount.amountMinor])).toEqual([
      ["held:hp_1:hold", "debit", 3_600],
      ["held:hp_1:fees", "debit", 400],
      ["held:hp_1:refunds", "credit", 4_000],
    ]);
    const refunded = heldRefunded({ id: "r", heldPaymentId: "hp_1", from, occurredAt: 1 })._unsafeUnwrap();
    const l = post(emptyLedger(), [refunded, undone]);
    for (const account of ["held:hp_1:hold", "held:hp_1:fees", "held:hp_1:refunds"])
      expect(l.balancesMinor.get(account)?.get("AUD") ?? 0).toBe(0);
  });

  it("a superseded refund's money moves from where its stage left it to where the payment keeps it now, netted per account", () => {
    const move = (from: "holding" | "earmarked", to: "earmarked" | "transferred") =>
      heldRefundSuperseded({
        id: "s",
        heldPaymentId: "hp_1",
        from,
        to,
        sellerPart: aud(1_800),
        feePart: aud(200),
        occurredAt: 1,
      });
    const lines = (tx: LedgerTransaction) =>
      tx.postings.map((p) => [p.account, p.side, p.amount.amountMinor]);
    expect(move("holding", "earmarked")._unsafeUnwrap().kind).toBe("held_refund_superseded");
    expect(lines(move("holding", "earmarked")._unsafeUnwrap())).toEqual([
      ["held:hp_1:hold", "credit", 2_000],
      ["held:hp_1:seller_payable", "debit", 1_800],
      ["held:hp_1:fees", "debit", 200],
    ]);
    // After the transfer the seller's part stays in the hold (held back from the seller).
    expect(lines(move("holding", "transferred")._unsafeUnwrap())).toEqual([
      ["held:hp_1:hold", "credit", 200],
      ["held:hp_1:fees", "debit", 200],
    ]);
    expect(lines(move("earmarked", "transferred")._unsafeUnwrap())).toEqual([
      ["held:hp_1:seller_payable", "credit", 1_800],
      ["held:hp_1:hold", "debit", 1_800],
    ]);
    const nothing = heldRefundSuperseded({
      id: "s",
      heldPaymentId: "hp_1",
      from: "earmarked",
      to: "transferred",
      sellerPart: aud(0),
      feePart: aud(200),
      occurredAt: 1,
    });
    expect(nothing.isErr()).toBe(true);
  });
});
