import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type HeldPayment, sellerNetMinor, type TransferReversal } from "../held-payment/held-payment.js";
import { takeBackSplit } from "../held-payment/held-payment-money.js";
import type { MarketplaceCharge, SellerReversal } from "../marketplace/marketplace-charge.js";
import { splitAmongSellers } from "../marketplace/marketplace-charge-money.js";
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
        transfers: [],
        disputes: [],
      }) as unknown as HeldPayment,
  );
  const charges = [...chargeReversals.entries()].map(
    ([currency, reversals]) =>
      ({ currency, reversals, sellers: [], transfers: [], disputes: [] }) as unknown as MarketplaceCharge,
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

// Disputes of money already transferred: Stripe takes the disputed amount from the platform
// at once, and a loss reverses the seller's part of it from their transfer. Until then
// nothing is asked of Stripe, so the reserve must cover every open dispute as if it were lost.
const disputesArb = fc.record({
  amountMinor: fc.integer({ min: 100, max: 1_000_000 }),
  feePerMille: fc.integer({ min: 0, max: 300 }),
  /** Given back before (a booked lost dispute), per mille of the amount. */
  lostBeforePerMille: fc.integer({ min: 0, max: 1_000 }),
  open: fc.array(fc.integer({ min: 1, max: 1_200_000 }), { minLength: 0, maxLength: 4 }),
  transferred: fc.boolean(),
});

interface DisputeCase {
  readonly amountMinor: number;
  readonly feePerMille: number;
  readonly lostBeforePerMille: number;
  readonly open: readonly number[];
  readonly transferred: boolean;
}

const feeOf = (c: DisputeCase) => Math.floor((c.amountMinor * c.feePerMille) / 1_000);
const lostBeforeOf = (c: DisputeCase) => Math.floor((c.amountMinor * c.lostBeforePerMille) / 1_000);
const openDisputes = (c: DisputeCase) =>
  c.open.map((amountMinor, i) => ({
    id: `dp_open_${i}`,
    amountMinor,
    reason: "fraudulent",
    stripeStatus: "needs_response",
    status: "open" as const,
  }));

function heldWithDisputes(c: DisputeCase, seller = "sam"): HeldPayment {
  const feeMinor = feeOf(c);
  const sellerShareMinor = c.amountMinor - feeMinor;
  const lostBefore = lostBeforeOf(c);
  const split = takeBackSplit({ feeMinor, sellerShareMinor }, "AUD", 0, lostBefore);
  return {
    seller: { id: seller },
    currency: "AUD",
    amountMinor: c.amountMinor,
    feeMinor,
    sellerShareMinor,
    capturedAt: 1,
    refunds: [],
    reversals: [],
    transfers: c.transferred
      ? [{ number: 1, effectId: "e_t", amountMinor: 1, status: "created", requestedAt: 0 }]
      : [],
    disputes: [
      ...(lostBefore > 0
        ? [
            {
              id: "dp_before",
              amountMinor: lostBefore,
              reason: "fraudulent",
              stripeStatus: "lost",
              status: "lost" as const,
              lostMinor: lostBefore,
              lossBooked: true,
              ...split,
            },
          ]
        : []),
      ...openDisputes(c),
    ],
  } as unknown as HeldPayment;
}

describe("what a seller's balance keeps for disputes of money already transferred to them", () => {
  it("a held payment: the seller's part of losing every open dispute (each at most what is left), none before the transfer", () => {
    fc.assert(
      fc.property(disputesArb, (c) => {
        const p = heldWithDisputes(c);
        const reserved = reversalReserve("sam", [p], []).get("AUD") ?? 0;
        expect(reversalReserve("ana", [p], []).size).toBe(0);
        if (!c.transferred) {
          expect(reserved).toBe(0);
          return;
        }
        // One loss of the open disputes' total (capped at what is left) splits the same as
        // losing them one after another: the seller part is computed on the running total.
        const left = c.amountMinor - lostBeforeOf(c);
        const lost = Math.min(
          left,
          c.open.reduce((a, b) => a + b, 0),
        );
        const want = takeBackSplit(p, "AUD", lostBeforeOf(c), lost).sellerPartMinor;
        expect(reserved).toBe(want);
        // Never more than what the seller still has of the payment.
        expect(reserved).toBeLessThanOrEqual(sellerNetMinor(p));
        expect(reserved).toBeGreaterThanOrEqual(0);
        // Losing everything that is left takes back everything the seller still has.
        if (c.open.reduce((a, b) => a + b, 0) >= left) expect(reserved).toBe(sellerNetMinor(p));
      }),
      { numRuns: 300 },
    );
  });

  it("a lost dispute whose loss is not booked yet keeps its seller part until its reversal is asked for", () => {
    const base = heldWithDisputes({
      amountMinor: 10_000,
      feePerMille: 100,
      lostBeforePerMille: 0,
      open: [],
      transferred: true,
    });
    const lost = {
      id: "dp_1",
      amountMinor: 4_000,
      reason: "fraudulent",
      stripeStatus: "lost",
      status: "lost" as const,
      lostMinor: 4_000,
      sellerPartMinor: 3_600,
      feePartMinor: 400,
    };
    const waiting = { ...base, disputes: [{ ...lost, lossBooked: false }] };
    expect(reversalReserve("sam", [waiting], []).get("AUD")).toBe(3_600);
    // Booked: the reversal asked for is what is kept, not the dispute again.
    const booked = {
      ...base,
      disputes: [{ ...lost, lossBooked: true, reversalNumber: 1 }],
      reversals: [
        {
          number: 1,
          effectId: "e_r1",
          amountMinor: 3_600,
          reason: "dispute_lost" as const,
          forDisputeId: "dp_1",
          status: "requested" as const,
        },
      ],
    };
    expect(reversalReserve("sam", [booked], []).get("AUD")).toBe(3_600);
    const { lostMinor: _lost, sellerPartMinor: _seller, feePartMinor: _fee, ...open } = lost;
    const won = { ...base, disputes: [{ ...open, stripeStatus: "won", status: "won" as const }] };
    expect(reversalReserve("sam", [won], []).size).toBe(0);
  });

  it("a destination charge: the open disputes' total, at most what is left, once the transfer is known", () => {
    fc.assert(
      fc.property(disputesArb, (c) => {
        const charge = {
          mode: "destination",
          currency: "AUD",
          amountMinor: c.amountMinor,
          feeMinor: feeOf(c),
          capturedAt: 1,
          sellers: [
            {
              id: "sam",
              connectedAccountId: "acct_sam",
              weight: 1,
              shareMinor: c.amountMinor - feeOf(c),
              feeMinor: feeOf(c),
            },
          ],
          ...(c.transferred ? { destinationTransferId: "tr_dest" } : {}),
          payouts: [],
          transfers: [],
          reversals: [],
          refunds: [],
          disputes: openDisputes(c),
        } as unknown as MarketplaceCharge;
        const reserved = reversalReserve("sam", [], [charge]).get("AUD") ?? 0;
        const want = c.transferred
          ? Math.min(
              c.amountMinor,
              c.open.reduce((a, b) => a + b, 0),
            )
          : 0;
        expect(reserved).toBe(want);
      }),
      { numRuns: 200 },
    );
  });

  it("a split: only sellers already paid keep anything, each at most their share, together at most what the disputes take", () => {
    fc.assert(
      fc.property(
        disputesArb,
        fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 })),
        fc.tuple(fc.boolean(), fc.boolean()),
        (c, weights, paid) => {
          const fee = feeOf(c);
          const split = splitAmongSellers(c.amountMinor, fee, "AUD", weights);
          fc.pre(split.isOk());
          const shares = split._unsafeUnwrap();
          const ids = ["sam", "ana"];
          const charge = {
            mode: "split",
            currency: "AUD",
            amountMinor: c.amountMinor,
            feeMinor: fee,
            capturedAt: 1,
            sellers: shares.map((sh, i) => ({
              id: ids[i],
              connectedAccountId: `acct_${ids[i]}`,
              weight: weights[i],
              ...sh,
            })),
            payouts: [],
            // A landed transfer paid the seller's share (no dispute was lost before it was asked for).
            transfers: ids.flatMap((id, i) =>
              paid[i]
                ? [
                    {
                      sellerId: id,
                      attempt: 1,
                      effectId: `e_${id}`,
                      amountMinor: shares[i]?.shareMinor ?? 0,
                      status: "created",
                    },
                  ]
                : [],
            ),
            reversals: [],
            refunds: [],
            disputes: openDisputes(c),
          } as unknown as MarketplaceCharge;
          const lost = Math.min(
            c.amountMinor,
            c.open.reduce((a, b) => a + b, 0),
          );
          const kept = ids.map((id) => reversalReserve(id, [], [charge]).get("AUD") ?? 0);
          kept.forEach((k, i) => {
            if (!paid[i]) expect(k).toBe(0);
            expect(k).toBeGreaterThanOrEqual(0);
            expect(k).toBeLessThanOrEqual(shares[i]?.shareMinor ?? 0);
          });
          expect(kept.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(lost);
          // Everything lost: every paid seller gives back all of their share.
          if (lost === c.amountMinor)
            kept.forEach((k, i) => {
              if (paid[i]) expect(k).toBe(shares[i]?.shareMinor);
            });
        },
      ),
      { numRuns: 200 },
    );
  });
});
