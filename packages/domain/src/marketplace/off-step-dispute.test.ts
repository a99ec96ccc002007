// A dispute's amount need not be in the currency's steps (Stripe: a dispute's `amount` can
// differ from the charge's — a partial dispute, a conversion), while every transfer and its
// reversals move in whole steps (three-decimal currencies in tens). A split in KWD disputed
// for 1.235 KWD: the sellers' parts are whole steps, the part of a step is the fee's, and
// nothing throws — before, the division refused the amount ("not a multiple of 10"), so the
// sellers' payouts (their reversal reserve) and the loss itself could never be decided.
import { describe, expect, it } from "vitest";
import {
  allCreated,
  marketplaceBooks as books,
  closed,
  created,
  destinationCommand,
  dispute,
  effectsOfKind as of,
  paid,
  run,
  splitCommand,
} from "../testing/marketplace-charge-mothers.js";
import { disputedSellerPartsMinor } from "./decide.js";
import { takeBackParts } from "./marketplace-charge-money.js";

const kwdSplit = created({ ...splitCommand, currency: "KWD", amountMinor: 10_000 });

describe("a split in a three-decimal currency, disputed for an amount that is not in its steps", () => {
  it("reserves whole steps of each paid seller's transfer while the dispute is open", () => {
    const open = run(kwdSplit, [paid(), ...allCreated, dispute(1_235)]);
    const reserve = disputedSellerPartsMinor(open.state);
    expect([...reserve.values()].every((v) => v % 10 === 0 && v > 0)).toBe(true);
    expect([...reserve.keys()]).toEqual(["sel_a", "sel_b", "sel_c"]);
  });

  it("books the loss: the sellers' reversals in whole steps, the part of a step from the fee, the books balanced", () => {
    const lost = run(kwdSplit, [paid(), ...allCreated, dispute(1_235), closed("lost", 1_235)]);
    const reversals = of(lost.effects, "reverse_transfer");
    expect(reversals.map((r) => r.reason)).toEqual(["dispute_lost", "dispute_lost", "dispute_lost"]);
    expect(reversals.every((r) => r.amountMinor % 10 === 0)).toBe(true);
    const loss = lost.state.disputes[0];
    expect(loss?.status).toBe("lost");
    const parts = loss?.parts;
    expect(parts).toBeDefined();
    if (parts === undefined) return;
    const sellers = parts.sellerPartsMinor.reduce((a, b) => a + b, 0);
    expect(sellers + parts.feePartMinor + parts.platformFundedMinor).toBe(1_235);
    expect(parts.feePartMinor % 10).toBe(5);
    expect(parts.platformFundedMinor).toBe(0);
    expect(reversals.reduce((a, r) => a + r.amountMinor, 0)).toBe(sellers);
    // The books hold (the ledger's invariants and the charge's money checks).
    expect(() => books(lost.effects, lost.state)).not.toThrow();
  });

  it("the platform pays a part of a step only when neither the fee nor a seller can: a step of the fee's goes to a seller with room, the part of a step to the fee", () => {
    // 0.971 KWD lost of what is left: sellers 0.290 and 0.580, fee 0.130. The whole steps
    // alone would take the fee's all (0.130), leaving 1 fil for the platform while a seller
    // still held 30 fils.
    expect(
      takeBackParts(971, [290, 580], 130, { reverseTransfer: true, refundApplicationFee: true }, "KWD"),
    ).toEqual({ sellerPartsMinor: [280, 570], feePartMinor: 121, platformFundedMinor: 0 });
  });

  it("a destination charge (one seller) reverses whole steps of the loss too; the part of a step is the platform's", () => {
    const kwdDestination = created({ ...destinationCommand, currency: "KWD", amountMinor: 10_000 });
    const lost = run(kwdDestination, [paid(), dispute(1_235), closed("lost", 1_235)]);
    expect(of(lost.effects, "reverse_transfer").map((r) => [r.amountMinor, r.reason])).toEqual([
      [1_230, "dispute_lost"],
    ]);
    expect(lost.state.disputes[0]?.parts).toEqual({
      sellerPartsMinor: [1_230],
      feePartMinor: 0,
      platformFundedMinor: 5,
    });
    expect(() => books(lost.effects, lost.state)).not.toThrow();
  });
});
