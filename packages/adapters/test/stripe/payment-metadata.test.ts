import { describe, expect, it } from "vitest";
import { metadataToReferences, referencesToMetadata } from "../../src/stripe/payment-metadata.js";

describe("payment metadata", () => {
  it("a round's payment carries the group, round, member and attempt", () => {
    const refs = { groupId: "grp_1", roundId: "round_1", memberId: "ana", attempt: 2 };
    const metadata = referencesToMetadata(refs, "round_1:contribution:ana:attempt:2");
    expect(metadata).toEqual({
      group_id: "grp_1",
      round_id: "round_1",
      member_id: "ana",
      attempt: "2",
      effect_id: "round_1:contribution:ana:attempt:2",
    });
    expect(metadataToReferences(metadata as Record<string, string>)).toEqual(refs);
  });

  it("what a person owns carries the person, and no group", () => {
    const metadata = referencesToMetadata({ personId: "ana" }, "person:ana:customer");
    expect(metadata).toEqual({ person_id: "ana", effect_id: "person:ana:customer" });
    expect(metadataToReferences(metadata as Record<string, string>)).toEqual({ personId: "ana" });
  });

  it("a held-funds payment's checkout, payment, refunds and transfers carry the held payment", () => {
    const metadata = referencesToMetadata({ heldPaymentId: "hp_1" }, "hp_1:checkout");
    expect(metadata).toEqual({ held_payment_id: "hp_1", effect_id: "hp_1:checkout" });
    expect(metadataToReferences(metadata as Record<string, string>)).toEqual({ heldPaymentId: "hp_1" });
  });

  it("a held payment's refunds and reversals carry their numbers (and a refund its attempt)", () => {
    const refund = referencesToMetadata(
      { heldPaymentId: "hp_1", refund: 2, attempt: 1 },
      "hp_1:refund:2:attempt:1",
    );
    expect(refund).toEqual({
      held_payment_id: "hp_1",
      refund_number: "2",
      attempt: "1",
      effect_id: "hp_1:refund:2:attempt:1",
    });
    expect(metadataToReferences(refund as Record<string, string>)).toEqual({
      heldPaymentId: "hp_1",
      refund: 2,
      attempt: 1,
    });
    const reversal = referencesToMetadata({ heldPaymentId: "hp_1", reversal: 3 }, "hp_1:reversal:3");
    expect(reversal).toEqual({ held_payment_id: "hp_1", reversal_number: "3", effect_id: "hp_1:reversal:3" });
    expect(metadataToReferences(reversal as Record<string, string>)).toEqual({
      heldPaymentId: "hp_1",
      reversal: 3,
    });
    // A number that is not one is dropped, not guessed.
    expect(
      metadataToReferences({ held_payment_id: "hp_1", refund_number: "-1", reversal_number: "x" }),
    ).toEqual({
      heldPaymentId: "hp_1",
    });
  });

  it("a marketplace charge's payment, sellers' transfers, refunds and reversals carry the charge and the step", () => {
    const payment = referencesToMetadata({ marketplaceChargeId: "mc_1" }, "mc_1:payment");
    expect(payment).toEqual({ marketplace_charge_id: "mc_1", effect_id: "mc_1:payment" });
    expect(metadataToReferences(payment as Record<string, string>)).toEqual({ marketplaceChargeId: "mc_1" });
    const transfer = referencesToMetadata(
      { marketplaceChargeId: "mc_1", sellerId: "sel_b", attempt: 2 },
      "mc_1:transfer:sel_b:attempt:2",
    );
    expect(transfer).toEqual({
      marketplace_charge_id: "mc_1",
      seller_id: "sel_b",
      attempt: "2",
      effect_id: "mc_1:transfer:sel_b:attempt:2",
    });
    expect(metadataToReferences(transfer as Record<string, string>)).toEqual({
      marketplaceChargeId: "mc_1",
      sellerId: "sel_b",
      attempt: 2,
    });
    // A seller alone names no object susu made.
    expect(metadataToReferences({ seller_id: "sel_b" })).toBeUndefined();
  });

  it("objects susu did not make (neither group nor person) have no references", () => {
    expect(metadataToReferences({ purpose: "driver_1" })).toBeUndefined();
    expect(metadataToReferences({ group_id: "", person_id: "", held_payment_id: "" })).toBeUndefined();
    expect(metadataToReferences(null)).toBeUndefined();
  });
});
