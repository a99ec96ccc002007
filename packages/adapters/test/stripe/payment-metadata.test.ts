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

  it("objects susu did not make (neither group nor person) have no references", () => {
    expect(metadataToReferences({ purpose: "driver_1" })).toBeUndefined();
    expect(metadataToReferences({ group_id: "", person_id: "", held_payment_id: "" })).toBeUndefined();
    expect(metadataToReferences(null)).toBeUndefined();
  });
});
