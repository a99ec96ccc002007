import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { HeldPayment, TransferReversal } from "../held-payment/held-payment.js";
import type { MarketplaceCharge, SellerReversal } from "../marketplace/marketplace-charge.js";
import { reversalReserve } from "./reversal-reserve.js";

// A reversal's life, per refund (or dispute) and seller: failed attempts, each asked again
// under a new number, and a last one that is requested, reversed or failed. What the
// seller's balance must keep is the last one's amount while it is requested or failed.
const chainArb = fc.record({
  target: fc.oneof(
    fc.integer({ min: 1, max: 5 }).map((n) => ({ forRefund: n })),
    fc.constantFrom("dp_1", "dp_2").map((id) => ({ forDisputeId: id })),
  ),
  seller: fc.constantFrom("sam", "ana"),
  currency: fc.constantFrom("AUD" as const, "NZD" as const),
  amountMinor: fc.integer({ min: 1, max: 1_000_000 }),
  failedBefore: fc.nat({ max: 3 }),
  last: fc.constantFrom("requested" as const, "reversed" as const, "failed" as const),
});

interface Chain {
  readonly target: { readonly forRefund: number } | { readonly forDisputeId: string };
  readonly seller: string;
  readonly currency: "AUD" | "NZD";
  readonly amountMinor: number;
  readonly failedBefore: number;
  readonly last: "requested" | "reversed" | "failed";
}

function expected(chains: readonly Chain[], seller: string): Map<string, number> {
  const want = new Map<string, number>();
  const seen = new Set<string>();
  for (const c of chains) {
    // One chain per target, seller and currency (the first generated wins, as below).
    const key = `${JSON.stringify(c.target)}:${c.seller}:${c.currency}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (c.seller !== seller || c.last === "reversed") continue;
    want.set(c.currency, (want.get(c.currency) ?? 0) + c.amountMinor);
  }
  return want;
}

function build(chains: readonly Chain[]): { held: HeldPayment[]; charges: MarketplaceCharge[] } {
  const seen = new Set<string>();
  const heldReversals = new Map<string, TransferReversal[]>();
  const chargeReversals = new Map<string, SellerReversal[]>();
  for (const c of chains) {
    const key = `${JSON.stringify(c.target)}:${c.seller}:${c.currency}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const statuses = [...Array<"failed">(c.failedBefore).fill("failed"), c.last];
    // Held payments have one seller: one payment per seller and currency; charges are shared.
    const held = heldReversals.get(`${c.seller}:${c.currency}`) ?? [];
    const shared = chargeReversals.get(c.currency) ?? [];
    heldReversals.set(`${c.seller}:${c.currency}`, held);
    chargeReversals.set(c.currency, shared);
    for (const status of statuses) {
      held.push({
        number: held.length + 1,
        effectId: `e${held.length + 1}`,
        amountMinor: c.amountMinor,
        reason: "forRefund" in c.target ? "refund" : "dispute_lost",
        ...c.target,
        status,
      });
      shared.push({
        number: shared.length + 1,
        effectId: `e${shared.length + 1}`,
        sellerId: c.seller,
        transferId: `tr_${c.seller}`,
        amountMinor: c.amountMinor,
        ...c.target,
        status,
      });
    }
  }
  const held = [...heldReversals.entries()].map(
    ([key, reversals]) =>
      ({
        seller: { id: key.split(":")[0] },
        currency: key.split(":")[1],
        reversals,
      }) as unknown as HeldPayment,
  );
  const charges = [...chargeReversals.entries()].map(
    ([currency, reversals]) => ({ currency, reversals }) as unknown as MarketplaceCharge,
  );
  return { held, charges };
}

describe("what a seller's balance keeps for reversals still to happen", () => {
  it("is the last reversal of each refund or dispute while it is asked for or failed, never a superseded failure", () => {
    fc.assert(
      fc.property(fc.array(chainArb, { maxLength: 12 }), fc.constantFrom("sam", "ana"), (chains, seller) => {
        const { held, charges } = build(chains);
        const want = expected(chains, seller);
        // Held payments alone, charges alone: each counts the seller's chains once.
        expect(Object.fromEntries(reversalReserve(seller, held, []))).toEqual(Object.fromEntries(want));
        expect(Object.fromEntries(reversalReserve(seller, [], charges))).toEqual(Object.fromEntries(want));
        const both = reversalReserve(seller, held, charges);
        for (const [currency, amount] of want) expect(both.get(currency as "AUD")).toBe(2 * amount);
        for (const amount of both.values()) expect(amount).toBeGreaterThan(0);
      }),
      { numRuns: 300 },
    );
  });
});
