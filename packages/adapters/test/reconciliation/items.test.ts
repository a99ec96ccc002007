// Both sides' mappings: a ledger transaction built by the domain's own builders, with the
// domain's own ids, gets the key its Stripe object offers; a stored balance transaction
// gets its category, sign, presentment amount and keys.
import {
  contributionOwedToMember,
  contributionRefunded,
  contributionRefundFailed,
  debitFailed,
  debitInitiated,
  debitSettled,
  disputeLoss,
  disputeReinstated,
  heldCaptured,
  heldFeeEarned,
  heldPaymentIds,
  heldRefunded,
  heldRefundFailed,
  heldTransferReversed,
  heldTransferred,
  type LedgerTransaction,
  manualAdjustment,
  marketplaceApplicationFeeRefundCorrected,
  marketplaceApplicationFeeRefunded,
  marketplaceCaptured,
  marketplaceChargeIds,
  marketplaceFeeEarned,
  marketplaceRefundFailed,
  marketplaceTransferred,
  membershipDisputeLost,
  membershipDisputeReinstated,
  membershipInvoicePaid,
  membershipInvoiceRefunded,
  membershipInvoiceRefundFailed,
  membershipOutsideRefundFailed,
  membershipRefundedOutsideSusu,
  money,
  payoutTransferred,
  roundIds,
  subscriptionIds,
  transferReversed,
} from "@susu/domain";
import type { Result } from "neverthrow";
import { describe, expect, it } from "vitest";
import { reconcile } from "../../src/reconciliation/reconcile.js";
import { type StripeBalanceRecord, stripeItemOf } from "../../src/reconciliation/stripe-items.js";
import { effectKey, susuItemOf } from "../../src/reconciliation/susu-items.js";
import { referencesToMetadata } from "../../src/stripe/payment-metadata.js";
import { stripeIdempotencyKey } from "../../src/stripe/stripe-payment-gateway.js";
import { balanceRecord } from "./balance-record.js";

const T = Date.UTC(2026, 11, 1, 9);
const aud = (minor: number) => money(minor, "AUD");
const tx = (r: Result<LedgerTransaction, unknown>) => r._unsafeUnwrap();
const round = { roundId: "rnd_1", memberId: "ana", amount: aud(100_00), occurredAt: T };
const debit = roundIds.debit("rnd_1", "ana", 1);
const transfer = roundIds.transfer("rnd_1", "ana", 1);

describe("susu's items", () => {
  it("keys a round's money by the effect that moved it: the effect_id its Stripe object carries", () => {
    const initiated = susuItemOf(tx(debitInitiated({ id: roundIds.ledger.debitInitiated(debit), ...round })));
    expect(initiated).toMatchObject({
      category: "charge",
      key: effectKey(debit),
      signedMinor: 100_00,
      currency: "AUD",
    });
    expect(
      susuItemOf(tx(debitInitiated({ id: roundIds.ledger.debitInitiatedLate(debit), ...round })))?.key,
    ).toBe(effectKey(debit));
    expect(susuItemOf(tx(debitFailed({ id: roundIds.ledger.debitFailed(debit), ...round })))).toMatchObject({
      category: "charge",
      key: effectKey(debit),
      signedMinor: -100_00,
      statusChange: true,
    });
    // Pending becoming available moves nothing at Stripe.
    expect(
      susuItemOf(tx(debitSettled({ id: roundIds.ledger.debitSettled(debit), ...round }))),
    ).toBeUndefined();
    expect(
      susuItemOf(
        tx(
          payoutTransferred({
            id: roundIds.ledger.payoutTransferred(transfer),
            roundId: "rnd_1",
            recipientMemberId: "ben",
            amount: aud(100_00),
            occurredAt: T,
          }),
        ),
      ),
    ).toMatchObject({ category: "transfer", key: effectKey(transfer), signedMinor: -100_00 });
    expect(
      susuItemOf(tx(transferReversed({ id: roundIds.ledger.transferReversed(transfer, 40_00), ...round }))),
    ).toMatchObject({ category: "transfer_reversal", key: `reversals_of:${transfer}`, signedMinor: 100_00 });
    expect(
      susuItemOf(
        tx(contributionRefunded({ id: roundIds.ledger.contributionRefunded("rnd_1", "ana"), ...round })),
      ),
    ).toMatchObject({
      category: "refund",
      key: effectKey(roundIds.refund("rnd_1", "ana")),
      signedMinor: -100_00,
    });
  });

  it("keys a round's disputes by the dispute's id, withdrawn before the payout or lost after it", () => {
    expect(
      susuItemOf(
        tx(contributionRefunded({ id: roundIds.ledger.disputeWithdrawn("rnd_1", "du_9"), ...round })),
      ),
    ).toMatchObject({ category: "dispute", key: "object:du_9", signedMinor: -100_00 });
    expect(
      susuItemOf(tx(disputeLoss({ id: roundIds.ledger.disputeLoss("rnd_1", "du_9"), ...round }))),
    ).toMatchObject({
      category: "dispute",
      key: "object:du_9",
    });
    // Closed won: what it had booked comes back with Stripe's dispute_reversal, matched with
    // the dispute; what is then owed to the member outside Stripe stays inside susu.
    expect(
      susuItemOf(tx(contributionRefundFailed({ id: roundIds.ledger.disputeWon("rnd_1", "du_9"), ...round }))),
    ).toMatchObject({ category: "dispute", key: "object:du_9", signedMinor: 100_00, statusChange: true });
    // A surplus charge's won dispute left its withdrawal beside our refund, which then failed
    // after its success: the withdrawal comes back, matched with the dispute too.
    expect(
      susuItemOf(
        tx(
          contributionRefundFailed({
            id: roundIds.ledger.disputeWithdrawalUndone("rnd_1", "du_9"),
            ...round,
          }),
        ),
      ),
    ).toMatchObject({ category: "dispute", key: "object:du_9", signedMinor: 100_00, statusChange: true });
    expect(
      susuItemOf(tx(disputeReinstated({ id: roundIds.ledger.disputeWon("rnd_1", "du_9"), ...round }))),
    ).toMatchObject({ category: "dispute", key: "object:du_9", signedMinor: 100_00, statusChange: true });
    expect(
      susuItemOf(
        tx(contributionOwedToMember({ id: roundIds.ledger.disputeWonOwed("rnd_1", "du_9"), ...round })),
      ),
    ).toBeUndefined();
    // The rest of a contribution disputed in part, owed to the member outside Stripe: inside
    // susu, as its own kind and as a round stored before it posted it (contribution_refunded).
    expect(
      susuItemOf(
        tx(contributionOwedToMember({ id: roundIds.ledger.disputeRestOwed("rnd_1", "du_9"), ...round })),
      ),
    ).toBeUndefined();
    expect(
      susuItemOf(
        tx(contributionRefunded({ id: roundIds.ledger.disputeRestOwed("rnd_1", "du_9"), ...round })),
      ),
    ).toBeUndefined();
  });

  it("matches a refund Stripe failed after its success, reversed when the member disputed, with that refund", () => {
    expect(
      susuItemOf(
        tx(
          contributionRefundFailed({
            id: roundIds.ledger.contributionRefundFailed("rnd_1", "ana"),
            ...round,
          }),
        ),
      ),
    ).toMatchObject({
      category: "refund",
      key: effectKey(roundIds.refund("rnd_1", "ana")),
      signedMinor: 100_00,
      statusChange: true,
    });
    // A surplus charge's refund attempt, posted and reversed under that attempt's ids.
    const surplusRefund = roundIds.surplusRefund("rnd_1", "ana", 1, 2);
    expect(
      susuItemOf(
        tx(contributionRefunded({ id: roundIds.ledger.surplusRefunded("rnd_1", "ana", 1, 2), ...round })),
      ),
    ).toMatchObject({ category: "refund", key: effectKey(surplusRefund), signedMinor: -100_00 });
    expect(
      susuItemOf(
        tx(
          contributionRefundFailed({
            id: roundIds.ledger.surplusRefundFailed("rnd_1", "ana", 1, 2),
            ...round,
          }),
        ),
      ),
    ).toMatchObject({
      category: "refund",
      key: effectKey(surplusRefund),
      signedMinor: 100_00,
      statusChange: true,
    });
  });

  it("matches a member's loss undone when the refund beside it failed after its success with that dispute", () => {
    // A refund of ours paid the member 100.00, they disputed 40.00 of the charge too (their
    // loss), then Stripe failed the refund: the loss is undone (`<round>:dispute:<d>:reinstated`),
    // the refund reversed, the bank's 40.00 withdrawn from the pot and the rest owed to the
    // member. At Stripe: the refund, its failure, and the dispute's 40.00 — nothing else.
    const part = { ...round, amount: aud(40_00) };
    const susu = [
      contributionRefunded({ id: roundIds.ledger.contributionRefunded("rnd_1", "ana"), ...round }),
      disputeLoss({ id: roundIds.ledger.disputeLoss("rnd_1", "du_9"), ...part }),
      disputeReinstated({ id: roundIds.ledger.disputeLossUndone("rnd_1", "du_9"), ...part }),
      contributionRefundFailed({ id: roundIds.ledger.contributionRefundFailed("rnd_1", "ana"), ...round }),
      contributionRefunded({ id: roundIds.ledger.disputeWithdrawn("rnd_1", "du_9"), ...part }),
      contributionOwedToMember({
        id: roundIds.ledger.disputeRestOwed("rnd_1", "du_9"),
        ...round,
        amount: aud(60_00),
      }),
    ].flatMap((r) => {
      const item = susuItemOf(tx(r));
      return item === undefined ? [] : [item];
    });
    const aud1 = { currency: "AUD", presentmentCurrency: "AUD", feeMinor: 0 };
    const refundEffect = roundIds.refund("rnd_1", "ana");
    const stripe = [
      record({
        ...aud1,
        id: "txn_r",
        type: "refund",
        reportingCategory: "refund",
        sourceId: "re_1",
        sourceObject: "refund",
        amountMinor: -100_00,
        netMinor: -100_00,
        presentmentMinor: 100_00,
        effectId: refundEffect,
      }),
      record({
        ...aud1,
        id: "txn_f",
        type: "adjustment",
        reportingCategory: "refund_failure",
        sourceId: "re_1",
        sourceObject: "refund",
        amountMinor: 100_00,
        netMinor: 100_00,
        presentmentMinor: 100_00,
        effectId: refundEffect,
      }),
      record({
        ...aud1,
        id: "txn_d",
        type: "adjustment",
        reportingCategory: "dispute",
        sourceId: "du_9",
        sourceObject: "dispute",
        amountMinor: -40_00,
        netMinor: -40_00,
        presentmentMinor: 40_00,
      }),
    ].map(stripeItemOf);
    expect(reconcile(susu, stripe).differences).toEqual([]);
    expect(
      susuItemOf(tx(disputeReinstated({ id: roundIds.ledger.disputeLossUndone("rnd_1", "du_9"), ...part }))),
    ).toMatchObject({ category: "dispute", key: "object:du_9", signedMinor: 40_00, statusChange: true });
  });

  it("keys a held payment's charge by the payment, its refund by the refund's id, and skips what stays inside susu", () => {
    const p = "hp_1";
    const held = { heldPaymentId: p, amount: aud(100_00), occurredAt: T };
    expect(susuItemOf(tx(heldCaptured({ id: heldPaymentIds.ledger.captured(p), ...held })))).toMatchObject({
      category: "charge",
      key: "held_charge:hp_1",
      signedMinor: 100_00,
    });
    expect(
      susuItemOf(tx(heldFeeEarned({ id: heldPaymentIds.ledger.feeEarned(p), ...held }))),
    ).toBeUndefined();
    const t = heldPaymentIds.transfer(p, 1);
    expect(
      susuItemOf(tx(heldTransferred({ id: heldPaymentIds.ledger.transferred(t), ...held }))),
    ).toMatchObject({
      category: "transfer",
      key: effectKey(t),
    });
    const rv = heldPaymentIds.reversal(p, 1);
    expect(
      susuItemOf(tx(heldTransferReversed({ id: heldPaymentIds.ledger.transferReversed(rv), ...held }))),
    ).toMatchObject({ category: "transfer_reversal", key: effectKey(rv), signedMinor: 100_00 });
    expect(
      susuItemOf(
        tx(
          heldRefunded({
            id: heldPaymentIds.ledger.refunded(p, 1),
            heldPaymentId: p,
            occurredAt: T,
            refs: { refundId: "re_7" },
            from: { stage: "holding", amount: aud(30_00) },
          }),
        ),
      ),
    ).toMatchObject({ category: "refund", key: "object:re_7", signedMinor: -30_00 });
  });

  it("matches a refund Stripe failed after its success, its posting undone, with that refund (held and marketplace)", () => {
    const p = "hp_1";
    expect(
      susuItemOf(
        tx(
          heldRefundFailed({
            id: heldPaymentIds.ledger.refundFailed(heldPaymentIds.refund(p, 1, 1)),
            heldPaymentId: p,
            occurredAt: T,
            refs: { refundId: "re_7" },
            from: { stage: "transferred", sellerPart: aud(27_00), feePart: aud(3_00) },
          }),
        ),
      ),
    ).toMatchObject({ category: "refund", key: "object:re_7", signedMinor: 30_00, statusChange: true });
    const c = "mc_1";
    expect(
      susuItemOf(
        tx(
          marketplaceRefundFailed({
            id: marketplaceChargeIds.ledger.refundFailed(marketplaceChargeIds.refund(c, 1, 1)),
            chargeId: c,
            currency: "AUD",
            occurredAt: T,
            refs: { refundId: "re_8" },
            from: { inFlightMinor: 20_00, feesMinor: 5_00, platformFundedMinor: 1_00 },
          }),
        ),
      ),
    ).toMatchObject({ category: "refund", key: "object:re_8", signedMinor: 26_00, statusChange: true });
  });

  it("keys a marketplace charge's charge by the charge, each seller's transfer by the charge and the seller", () => {
    const c = "mc_1";
    const base = { chargeId: c, amount: aud(100_00), occurredAt: T };
    expect(
      susuItemOf(tx(marketplaceCaptured({ id: marketplaceChargeIds.ledger.captured(c), ...base }))),
    ).toMatchObject({ category: "charge", key: "marketplace_charge:mc_1", signedMinor: 100_00 });
    expect(
      susuItemOf(
        tx(
          marketplaceTransferred({
            id: marketplaceChargeIds.ledger.transferred(c, "sam"),
            ...base,
            amount: aud(90_00),
            sellerId: "sam",
          }),
        ),
      ),
    ).toMatchObject({ category: "transfer", key: "marketplace_transfer:mc_1:sam", signedMinor: -90_00 });
    expect(
      susuItemOf(
        tx(
          marketplaceFeeEarned({ id: marketplaceChargeIds.ledger.feeEarned(c), ...base, amount: aud(10_00) }),
        ),
      ),
    ).toBeUndefined();
  });

  it("keys the fee refunded to a destination charge's seller with that seller's transfer; the fee given back toward a refund stays inside susu", () => {
    const c = "mc_1";
    const base = { chargeId: c, amount: aud(4_00), occurredAt: T, refs: { refundId: "re_1" } };
    expect(
      susuItemOf(
        tx(
          marketplaceApplicationFeeRefunded({
            id: marketplaceChargeIds.ledger.feeRefunded(c, 1),
            ...base,
            toSellerId: "sam:%1",
          }),
        ),
      ),
    ).toMatchObject({
      category: "application_fee",
      key: "marketplace_transfer:mc_1:sam:%1",
      signedMinor: -4_00,
    });
    expect(
      susuItemOf(
        tx(marketplaceApplicationFeeRefunded({ id: marketplaceChargeIds.ledger.feeRefunded(c, 1), ...base })),
      ),
    ).toBeUndefined();
  });

  it("keys a fee refund's correction to Stripe's figure with the seller's transfer: more given back leaves the platform, less comes back", () => {
    const c = "mc_1";
    const base = {
      id: marketplaceChargeIds.ledger.feeRefundCorrected(c, 2),
      chargeId: c,
      sellerId: "sam:%1",
      amount: aud(1),
      occurredAt: T,
      refs: { refundId: "re_2", feeRefundId: "fr_2" },
    };
    for (const [stripeGaveBackMore, signedMinor] of [
      [true, -1],
      [false, 1],
    ] as const)
      expect(
        susuItemOf(tx(marketplaceApplicationFeeRefundCorrected({ ...base, stripeGaveBackMore }))),
      ).toMatchObject({
        kind: "marketplace_application_fee_refund_corrected",
        category: "application_fee",
        key: "marketplace_transfer:mc_1:sam:%1",
        signedMinor,
      });
  });

  it("keys a membership invoice's payment by its invoice, every refund of it by the invoice, and disputes by their Stripe ids", () => {
    const s = "sub_1";
    const i = "in_1";
    const base = { subscriptionId: s, invoiceId: i, amount: aud(20_00), occurredAt: T };
    const ids = subscriptionIds.ledger;
    expect(susuItemOf(tx(membershipInvoicePaid({ id: ids.invoicePaid(s, i), ...base })))).toMatchObject({
      category: "charge",
      key: "membership_invoice:in_1",
      signedMinor: 20_00,
      currency: "AUD",
    });
    // susu's own refunds (one per payment at Stripe, each carrying the invoice in its metadata),
    // whole or one at a time, and their failure after success: summed per invoice.
    for (const id of [ids.invoiceRefunded(s, i), ids.paymentRefunded(s, i, "re_1")])
      expect(susuItemOf(tx(membershipInvoiceRefunded({ id, ...base })))).toMatchObject({
        category: "refund",
        key: "refunds_of_invoice:in_1",
        signedMinor: -20_00,
      });
    expect(
      susuItemOf(tx(membershipInvoiceRefundFailed({ id: ids.paymentRefundFailed(s, i, "re_1"), ...base }))),
    ).toMatchObject({
      category: "refund",
      key: "refunds_of_invoice:in_1",
      signedMinor: 20_00,
      statusChange: true,
    });
    // Refunds made outside susu too (one Stripe refund can be booked partly each way), naming
    // their Stripe refund; disputes by their Stripe object.
    const refund = { ...base, ref: { refundId: "re_9" } };
    expect(
      susuItemOf(tx(membershipRefundedOutsideSusu({ id: ids.refundedOutside(s, i, "re_9"), ...refund }))),
    ).toMatchObject({
      category: "refund",
      key: "refunds_of_invoice:in_1",
      signedMinor: -20_00,
      stripeObjectId: "re_9",
    });
    expect(
      susuItemOf(tx(membershipOutsideRefundFailed({ id: ids.outsideRefundFailed(s, i, "re_9"), ...refund }))),
    ).toMatchObject({
      category: "refund",
      key: "refunds_of_invoice:in_1",
      signedMinor: 20_00,
      statusChange: true,
      stripeObjectId: "re_9",
    });
    const dispute = { ...base, ref: { disputeId: "du_1" } };
    expect(
      susuItemOf(tx(membershipDisputeLost({ id: ids.disputeLost(s, i, "du_1"), ...dispute }))),
    ).toMatchObject({
      category: "dispute",
      key: "object:du_1",
      signedMinor: -20_00,
    });
    expect(
      susuItemOf(tx(membershipDisputeReinstated({ id: ids.disputeWon(s, i, "du_1"), ...dispute }))),
    ).toMatchObject({ category: "dispute", key: "object:du_1", signedMinor: 20_00, statusChange: true });
  });

  it("agrees with the metadata the gateway writes: a long effect id keys as its Idempotency-Key", () => {
    const long = `${"r".repeat(300)}:contribution:ana:attempt:1`;
    const written = referencesToMetadata({ groupId: "grp_1" }, stripeIdempotencyKey(long));
    expect(effectKey(long)).toBe(`effect:${written.effect_id}`);
    expect(effectKey(long)).not.toBe(`effect:${long}`);
  });
});

describe("an operator's adjustment", () => {
  // Stripe has a refund made in its dashboard (re_77, 40.00) that susu never booked: a difference.
  const refundAtStripe = () =>
    stripeItemOf(
      record({
        id: "txn_re77",
        type: "refund",
        reportingCategory: "refund",
        sourceId: "re_77",
        sourceObject: "refund",
        amountMinor: -40_00,
        netMinor: -40_00,
        feeMinor: 0,
        presentmentMinor: 40_00,
        presentmentCurrency: "AUD",
      }),
    );
  const adjustment = (reconciliation?: { category: string; key: string; direction: "in" | "out" }) =>
    manualAdjustment({
      id: "adjustment:1",
      occurredAt: T,
      by: "ops_ana",
      reason: "refund re_77 made in Stripe's dashboard",
      postings: [
        { account: "round:rnd_1:refunds:ana", side: "debit", amountMinor: 40_00, currency: "AUD" },
        { account: "round:rnd_1:pot", side: "credit", amountMinor: 40_00, currency: "AUD" },
      ],
      ...(reconciliation !== undefined ? { reconciliation } : {}),
    })._unsafeUnwrap();

  it("with a reconciliation key is compared under it, and closes the difference", () => {
    expect(reconcile([], [refundAtStripe()]).differences).toHaveLength(1);
    const item = susuItemOf(adjustment({ category: "refund", key: "object:re_77", direction: "out" }));
    expect(item).toMatchObject({
      category: "refund",
      key: "object:re_77",
      signedMinor: -40_00,
      currency: "AUD",
    });
    expect(reconcile(item === undefined ? [] : [item], [refundAtStripe()]).differences).toEqual([]);
  });

  it("without one stays inside susu, out of the comparison", () => {
    expect(susuItemOf(adjustment())).toBeUndefined();
    // Money into the platform's balance is positive.
    expect(
      susuItemOf(adjustment({ category: "charge", key: "effect:x", direction: "in" }))?.signedMinor,
    ).toBe(40_00);
  });
});

const record = (overrides: Partial<StripeBalanceRecord>): StripeBalanceRecord =>
  balanceRecord({
    sourceId: "ch_1",
    sourceObject: "charge",
    amountMinor: 150_00,
    feeMinor: 2_55,
    netMinor: 147_45,
    exchangeRate: 1.5,
    created: T,
    availableOn: T,
    presentmentMinor: 100_00,
    presentmentCurrency: "USD",
    sourceStatus: "succeeded",
    ...overrides,
  });

describe("Stripe's items", () => {
  it("counts a partial capture's reversal of the uncaptured rest (type refund, reporting category partial_capture_reversal) against the charge, not as a refund", () => {
    // Stripe books the whole authorisation as the charge and the uncaptured rest as a
    // `refund`-typed transaction of reporting category `partial_capture_reversal`: the two sum
    // to the capture. susu never asked for that refund.
    for (const type of ["refund", "payment_refund"]) {
      const reversal = stripeItemOf(
        record({
          id: "txn_rest",
          type,
          reportingCategory: "partial_capture_reversal",
          sourceId: "re_rest",
          sourceObject: "refund",
          amountMinor: -30_00,
          feeMinor: 0,
          netMinor: -30_00,
          presentmentMinor: 20_00,
          heldPaymentId: "hp_1",
          effectId: "hp_1:checkout_session",
        }),
      );
      expect(reversal, type).toMatchObject({
        category: "charge",
        signedMinor: -20_00,
        keys: expect.arrayContaining(["effect:hp_1:checkout_session", "held_charge:hp_1"]),
      });
      expect(reversal?.statusChange, type).not.toBe(true);
    }
    // An ordinary refund is still a refund.
    expect(
      stripeItemOf(
        record({
          type: "refund",
          reportingCategory: "refund",
          sourceId: "re_1",
          sourceObject: "refund",
          amountMinor: -75_00,
        }),
      ),
    ).toMatchObject({ category: "refund" });
  });

  it("compares a charge in its own currency and keeps the settlement beside it", () => {
    expect(stripeItemOf(record({ heldPaymentId: "hp_1", effectId: "hp_1:checkout_session" }))).toMatchObject({
      category: "charge",
      signedMinor: 100_00,
      currency: "USD",
      settlementMinor: 150_00,
      settlementCurrency: "AUD",
      feeMinor: 2_55,
      exchangeRate: 1.5,
      keys: ["object:ch_1", "effect:hp_1:checkout_session", "held_charge:hp_1"],
    });
  });

  it("signs money out negative and marks failures, reinstatements and failed payouts", () => {
    const refund = stripeItemOf(
      record({
        type: "refund",
        reportingCategory: "refund",
        sourceId: "re_1",
        sourceObject: "refund",
        amountMinor: -75_00,
      }),
    );
    expect(refund).toMatchObject({ category: "refund", signedMinor: -100_00, keys: ["object:re_1"] });
    const failure = stripeItemOf(
      record({
        type: "payment_failure_refund",
        reportingCategory: "payment_failure_refund",
        amountMinor: -150_00,
      }),
    );
    expect(failure).toMatchObject({ category: "charge", signedMinor: -100_00, statusChange: true });
    const refundFailed = stripeItemOf(
      record({
        type: "adjustment",
        reportingCategory: "refund_failure",
        sourceId: "re_1",
        sourceObject: "refund",
      }),
    );
    expect(refundFailed).toMatchObject({ category: "refund", statusChange: true, signedMinor: 100_00 });
    const bankRefundFailed = stripeItemOf(
      record({
        type: "payment_failure_refund",
        reportingCategory: "refund_failure",
        sourceId: "re_2",
        sourceObject: "refund",
      }),
    );
    expect(bankRefundFailed).toMatchObject({ category: "refund", statusChange: true, keys: ["object:re_2"] });
    const reinstated = stripeItemOf(
      record({
        type: "adjustment",
        reportingCategory: "dispute_reversal",
        sourceId: "du_1",
        sourceObject: "dispute",
      }),
    );
    expect(reinstated).toMatchObject({ category: "dispute", statusChange: true, keys: ["object:du_1"] });
    const payout = stripeItemOf(
      record({
        type: "payout_failure",
        reportingCategory: "payout_reversal",
        sourceId: "po_1",
        sourceObject: "payout",
        sourceStatus: "failed",
        presentmentCurrency: "AUD",
        presentmentMinor: 150_00,
      }),
    );
    expect(payout).toMatchObject({
      category: "payout",
      payoutStatus: "failed",
      statusChange: true,
      signedMinor: 150_00,
    });
  });

  it("keys a reversal of a susu transfer by that transfer's effect, and marks it", () => {
    const reversal = stripeItemOf(
      record({
        type: "transfer_refund",
        reportingCategory: "transfer_reversal",
        sourceId: "trr_1",
        sourceObject: "transfer_reversal",
        transferId: "tr_1",
        transferEffectId: "rnd_1:transfer:ana:attempt:1",
        amountMinor: 40_00,
        presentmentCurrency: "AUD",
        presentmentMinor: 40_00,
      }),
    );
    expect(reversal).toMatchObject({
      category: "transfer_reversal",
      keys: ["object:trr_1", "reversals_of:rnd_1:transfer:ana:attempt:1"],
      reversesSusuTransfer: true,
      signedMinor: 40_00,
    });
  });

  it("matches a destination charge's application fee with its transfer, which it comes back out of", () => {
    const fee = stripeItemOf(
      record({
        type: "application_fee",
        reportingCategory: "platform_earning",
        sourceId: "fee_1",
        sourceObject: "application_fee",
        amountMinor: 10_00,
        presentmentMinor: 10_00,
        presentmentCurrency: "AUD",
        marketplaceChargeId: "mc_1",
        sellerId: "sam",
      }),
    );
    expect(fee).toMatchObject({
      category: "application_fee",
      keys: ["object:fee_1", "marketplace_transfer:mc_1:sam"],
      signedMinor: 10_00,
    });
  });

  it("matches a destination charge's application fee refund with its transfer, as the fee", () => {
    const refund = stripeItemOf(
      record({
        type: "application_fee_refund",
        reportingCategory: "platform_earning_refund",
        sourceId: "fr_1",
        sourceObject: "fee_refund",
        amountMinor: -4_00,
        presentmentMinor: 4_00,
        presentmentCurrency: "AUD",
        marketplaceChargeId: "mc_1",
        sellerId: "sam",
      }),
    );
    expect(refund).toMatchObject({
      category: "application_fee",
      keys: ["object:fr_1", "marketplace_transfer:mc_1:sam"],
      signedMinor: -4_00,
    });
  });

  it("offers a membership invoice's charge its invoice, and susu's refund of it (and that refund's failure) the invoice's refunds", () => {
    const charge = stripeItemOf(record({ membershipInvoiceId: "in_1", presentmentCurrency: "AUD" }));
    expect(charge).toMatchObject({ category: "charge", keys: ["object:ch_1", "membership_invoice:in_1"] });
    const refund = stripeItemOf(
      record({
        type: "refund",
        reportingCategory: "refund",
        sourceId: "re_1",
        sourceObject: "refund",
        amountMinor: -20_00,
        presentmentMinor: 20_00,
        presentmentCurrency: "AUD",
        effectId: "sub_1:invoice:in_1:refund:pi_1",
        membershipInvoiceId: "in_1",
      }),
    );
    expect(refund).toMatchObject({
      category: "refund",
      signedMinor: -20_00,
      keys: ["object:re_1", "effect:sub_1:invoice:in_1:refund:pi_1", "refunds_of_invoice:in_1"],
    });
    const failed = stripeItemOf(
      record({
        type: "adjustment",
        reportingCategory: "refund_failure",
        sourceId: "re_1",
        sourceObject: "refund",
        amountMinor: 20_00,
        presentmentMinor: 20_00,
        presentmentCurrency: "AUD",
        membershipInvoiceId: "in_1",
      }),
    );
    expect(failed).toMatchObject({
      category: "refund",
      signedMinor: 20_00,
      statusChange: true,
      keys: ["object:re_1", "refunds_of_invoice:in_1"],
    });
  });

  it("falls back to the settlement amount when the source's was not recorded", () => {
    expect(
      stripeItemOf(
        record({
          type: "adjustment",
          reportingCategory: "other_adjustment",
          presentmentMinor: null,
          presentmentCurrency: null,
        }),
      ),
    ).toMatchObject({ category: "other", signedMinor: 150_00, currency: "AUD" });
  });
});
