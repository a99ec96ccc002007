// application_fee.* events, as objects Stripe sends: the fee refunded is read back for the
// destination charge it came from; anything else is ignored with why.
import { marketplaceChargeRefs } from "@susu/domain";
import { errAsync, okAsync } from "neverthrow";
import type Stripe from "stripe";
import { describe, expect, it } from "vitest";
import {
  type ApplicationFeeEvent,
  translateApplicationFeeEvent,
} from "../../src/stripe/application-fee-events.js";
import { translateStripeEventWith } from "../../src/stripe/event-translator.js";

function feeEvent(type: string, fee: Partial<Stripe.ApplicationFee>): ApplicationFeeEvent {
  return {
    id: "evt_1",
    object: "event",
    type,
    data: {
      object: {
        id: "fee_1",
        object: "application_fee",
        amount: 10_00,
        amount_refunded: 0,
        originating_transaction: "ch_platform",
        refunds: { object: "list", data: [], has_more: false, url: "/v1/application_fees/fee_1/refunds" },
        ...fee,
      },
    },
  } as unknown as ApplicationFeeEvent;
}

const feeRefund = (id: string, amount: number) => ({
  id,
  object: "fee_refund",
  amount,
  currency: "aud",
  fee: "fee_1",
});

describe("application_fee.* events", () => {
  it("application_fee.refunded lists every fee refund on the fee, oldest first, for the charge the fee came from", () => {
    const event = feeEvent("application_fee.refunded", {
      amount_refunded: 7_00,
      refunds: {
        object: "list",
        data: [feeRefund("fr_2", 3_00), feeRefund("fr_1", 4_00)],
        has_more: false,
        url: "/v1/application_fees/fee_1/refunds",
      } as unknown as Stripe.ApplicationFee["refunds"],
    });
    expect(translateApplicationFeeEvent(event)).toEqual({
      kind: "fee_refund_needs_references",
      chargeId: "ch_platform",
      feeId: "fee_1",
      moreFeeRefunds: false,
      feeRefundFact: {
        kind: "application_fee_refunded",
        feeRefunds: [
          { feeRefundId: "fr_1", amountMinor: 4_00, currency: "AUD" },
          { feeRefundId: "fr_2", amountMinor: 3_00, currency: "AUD" },
        ],
      },
    });
  });

  it("a fee whose refunds has_more: every refund is listed through the API before the fact is made", async () => {
    const event = feeEvent("application_fee.refunded", {
      refunds: {
        object: "list",
        data: [feeRefund("fr_3", 1_00)],
        has_more: true,
        url: "/v1/application_fees/fee_1/refunds",
      } as unknown as Stripe.ApplicationFee["refunds"],
    });
    const listed: string[] = [];
    const all = [
      { feeRefundId: "fr_1", amountMinor: 4_00, currency: "AUD" },
      { feeRefundId: "fr_2", amountMinor: 3_00, currency: "AUD" },
      { feeRefundId: "fr_3", amountMinor: 1_00, currency: "AUD" },
    ];
    const refs = marketplaceChargeRefs("mc_1");
    const translated = await translateStripeEventWith(
      event,
      () => okAsync(refs),
      (feeId) => {
        listed.push(feeId);
        return okAsync(all);
      },
    );
    expect(listed).toEqual(["fee_1"]);
    expect(translated._unsafeUnwrap()).toEqual({
      kind: "fact",
      fact: { kind: "application_fee_refunded", feeRefunds: all, refs },
    });
    // A failed listing is the gateway's error: the event is retried, nothing applied.
    const failed = await translateStripeEventWith(
      event,
      () => okAsync(refs),
      () => errAsync({ type: "gateway_retryable", code: "api_error", message: "down" }),
    );
    expect(failed._unsafeUnwrapErr().code).toBe("api_error");
    // Without has_more, nothing is listed.
    listed.length = 0;
    const complete = feeEvent("application_fee.refunded", {
      refunds: {
        object: "list",
        data: [feeRefund("fr_1", 4_00)],
        has_more: false,
        url: "/v1/application_fees/fee_1/refunds",
      } as unknown as Stripe.ApplicationFee["refunds"],
    });
    await translateStripeEventWith(
      complete,
      () => okAsync(refs),
      (feeId) => {
        listed.push(feeId);
        return okAsync(all);
      },
    );
    expect(listed).toEqual([]);
  });

  it("a fee on no platform charge, a fee with no refund, and the other fee events are ignored with why", () => {
    expect(
      translateApplicationFeeEvent(feeEvent("application_fee.refunded", { originating_transaction: null })),
    ).toMatchObject({ kind: "ignored", reason: expect.stringContaining("no destination charge") });
    expect(translateApplicationFeeEvent(feeEvent("application_fee.refunded", {}))).toMatchObject({
      kind: "ignored",
      reason: "the fee names no refund",
    });
    expect(translateApplicationFeeEvent(feeEvent("application_fee.created", {}))).toMatchObject({
      kind: "ignored",
    });
  });
});
