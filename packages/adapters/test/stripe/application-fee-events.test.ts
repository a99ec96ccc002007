// application_fee.* events, as objects Stripe sends: the fee refunded is read back for the
// destination charge it came from; anything else is ignored with why.
import type Stripe from "stripe";
import { describe, expect, it } from "vitest";
import {
  type ApplicationFeeEvent,
  translateApplicationFeeEvent,
} from "../../src/stripe/application-fee-events.js";

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

const feeRefund = (id: string, amount: number) => ({ id, object: "fee_refund", amount, fee: "fee_1" });

describe("application_fee.* events", () => {
  it("application_fee.refunded names the newest fee refund, for the charge the fee came from", () => {
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
      feeRefundFact: { kind: "application_fee_refunded", feeRefundId: "fr_2", amountMinor: 3_00 },
    });
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
