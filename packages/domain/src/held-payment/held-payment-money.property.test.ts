// Properties of a held payment's money: the fee split, refunds against what was paid, and
// the seller's part of refunds (what is reversed from their transfer) across partial refunds.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CURRENCY_CODES, type CurrencyCode, currencyInfo, maximumChargeMinor } from "../money/index.js";
import { DEFAULT_HELD_PAYMENT_POLICY } from "../policy/held-payment-policy.js";
import { HOUR_MS } from "../shared/time.js";
import { createHeldPayment, decideHeldPayment } from "./decide.js";
import type { HeldPayment } from "./held-payment.js";
import type { HeldPaymentInput } from "./held-payment-input.js";
import {
  BASIS_POINTS_WHOLE,
  type PlatformFee,
  splitPlatformFee,
  takeBackSplit,
} from "./held-payment-money.js";

const policy = DEFAULT_HELD_PAYMENT_POLICY;
const T0 = Date.UTC(2026, 2, 2);
const LATER = T0 + 80 * HOUR_MS;

/** A valid charge in a currency: at least its minimum, a multiple of its step. */
const chargeArb = fc.constantFrom(...CURRENCY_CODES).chain((currency) => {
  const info = currencyInfo(currency);
  const step = info.amountStepMinor;
  const min = Math.ceil(info.minimumChargeMinor / step);
  const max = Math.min(Math.floor(maximumChargeMinor(currency) / step), 10_000_000);
  return fc.integer({ min, max }).map((units) => ({ currency, amountMinor: units * step }));
});

const feeArb: fc.Arbitrary<PlatformFee> = fc.oneof(
  fc
    .integer({ min: 0, max: BASIS_POINTS_WHOLE - 1 })
    .map((basisPoints) => ({ kind: "rate" as const, basisPoints })),
  fc.integer({ min: 0, max: 1_000_000 }).map((amountMinor) => ({ kind: "fixed" as const, amountMinor })),
);

describe("the platform fee split", () => {
  it("never loses or invents a minor unit, keeps the currency's step, and honours the minimum", () => {
    fc.assert(
      fc.property(
        chargeArb,
        feeArb,
        fc.integer({ min: 0, max: 5_000 }),
        ({ currency, amountMinor }, fee, minimumMinor) => {
          const step = currencyInfo(currency).amountStepMinor;
          const split = splitPlatformFee(amountMinor, currency, fee, minimumMinor);
          if (split.isErr()) {
            expect(split.error.code).toBe("invalid_fee");
            return;
          }
          const { feeMinor, sellerShareMinor } = split.value;
          expect(feeMinor + sellerShareMinor).toBe(amountMinor);
          expect(sellerShareMinor).toBeGreaterThan(0);
          expect(feeMinor).toBeGreaterThanOrEqual(minimumMinor);
          expect(feeMinor % step).toBe(0);
          expect(sellerShareMinor % step).toBe(0);
          if (fee.kind === "rate" && feeMinor > Math.ceil(minimumMinor / step) * step) {
            // Within one step of the exact rate.
            const exact = (amountMinor * fee.basisPoints) / BASIS_POINTS_WHOLE;
            expect(Math.abs(feeMinor - exact)).toBeLessThanOrEqual(step);
          }
        },
      ),
    );
  });
});

/** Cuts `total` into 1..8 positive pieces in a random order. */
const piecesArb = (total: number) =>
  fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, total - 1) }), { maxLength: 7 }).map((cuts) => {
    const points = [0, ...cuts.filter((c) => c < total).sort((a, b) => a - b), total];
    return points.slice(1).map((p, i) => p - (points[i] ?? 0));
  });

describe("the seller's part of what is given back", () => {
  it("is proportional, never negative, and partial refunds add up to exactly one refund of their sum", () => {
    const arb = fc
      .record({
        amountMinor: fc.integer({ min: 2, max: 5_000_000 }),
        feeBps: fc.integer({ min: 0, max: 9_999 }),
      })
      .chain(({ amountMinor, feeBps }) => {
        const feeMinor = Math.min(amountMinor - 1, Math.floor((amountMinor * feeBps) / BASIS_POINTS_WHOLE));
        return fc.record({
          split: fc.constant({ feeMinor, sellerShareMinor: amountMinor - feeMinor }),
          amountMinor: fc.constant(amountMinor),
          pieces: piecesArb(amountMinor),
        });
      });
    fc.assert(
      fc.property(arb, ({ split, amountMinor, pieces }) => {
        const currency: CurrencyCode = "AUD";
        let before = 0;
        let sellerTotal = 0;
        for (const piece of pieces) {
          const part = takeBackSplit(split, currency, before, piece);
          expect(part.sellerPartMinor).toBeGreaterThanOrEqual(0);
          expect(part.feePartMinor).toBeGreaterThanOrEqual(0);
          expect(part.sellerPartMinor + part.feePartMinor).toBe(piece);
          before += piece;
          sellerTotal += part.sellerPartMinor;
          // The running total stays within one minor unit of the exact proportion.
          const exact = (before * split.sellerShareMinor) / amountMinor;
          expect(Math.abs(sellerTotal - exact)).toBeLessThanOrEqual(0.5);
        }
        // Everything given back: the whole seller share and the whole fee, no unit more or less.
        expect(sellerTotal).toBe(split.sellerShareMinor);
        expect(before - sellerTotal).toBe(split.feeMinor);
      }),
    );
  });
});

describe("the seller's part of what is given back, in a currency that moves in steps", () => {
  const stepped = CURRENCY_CODES.filter((c) => currencyInfo(c).amountStepMinor > 1);

  it("KWD: a 0.010 refund of a 10 % fee is all the seller's or all the fee's, never 9 fils and 1", () => {
    const split = { feeMinor: 1_000, sellerShareMinor: 9_000 };
    const part = takeBackSplit(split, "KWD", 0, 10);
    expect(part.sellerPartMinor % 10).toBe(0);
    expect(part.feePartMinor % 10).toBe(0);
    expect(part.sellerPartMinor + part.feePartMinor).toBe(10);
  });

  it("every part (what is reversed from the seller, what comes out of the fee) is a multiple of the step, the parts add up, and everything given back is the whole share and the whole fee", () => {
    expect(stepped.length).toBeGreaterThan(0);
    const arb = fc
      .record({
        currency: fc.constantFrom(...stepped),
        units: fc.integer({ min: 2, max: 500_000 }),
        feeBps: fc.integer({ min: 0, max: 9_999 }),
      })
      .chain(({ currency, units, feeBps }) => {
        const step = currencyInfo(currency).amountStepMinor;
        const feeUnits = Math.min(units - 1, Math.floor((units * feeBps) / BASIS_POINTS_WHOLE));
        return fc.record({
          currency: fc.constant(currency),
          step: fc.constant(step),
          split: fc.constant({ feeMinor: feeUnits * step, sellerShareMinor: (units - feeUnits) * step }),
          pieces: piecesArb(units).map((ps) => ps.map((p) => p * step)),
        });
      });
    fc.assert(
      fc.property(arb, ({ currency, step, split, pieces }) => {
        let before = 0;
        let sellerTotal = 0;
        for (const piece of pieces) {
          const part = takeBackSplit(split, currency, before, piece);
          expect(part.sellerPartMinor % step).toBe(0);
          expect(part.feePartMinor % step).toBe(0);
          expect(part.sellerPartMinor).toBeGreaterThanOrEqual(0);
          expect(part.feePartMinor).toBeGreaterThanOrEqual(0);
          expect(part.sellerPartMinor + part.feePartMinor).toBe(piece);
          before += piece;
          sellerTotal += part.sellerPartMinor;
          // The running total stays within half a step of the exact proportion.
          const exact = (before * split.sellerShareMinor) / (split.sellerShareMinor + split.feeMinor);
          expect(Math.abs(sellerTotal - exact)).toBeLessThanOrEqual(step / 2);
        }
        expect(sellerTotal).toBe(split.sellerShareMinor);
        expect(before - sellerTotal).toBe(split.feeMinor);
      }),
    );
  });
});

describe("a loss off the currency's step (a dispute's amount need not be in steps)", () => {
  const stepped = CURRENCY_CODES.filter((c) => currencyInfo(c).amountStepMinor > 1);

  it("KWD, after refunds in steps: the seller's part is whole steps and the fee never gives back more than it earned", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 100_000 }).map((steps) => steps * 10),
        fc.integer({ min: 0, max: 5_000 }),
        fc.array(fc.integer({ min: 1, max: 10_000 }), { maxLength: 4 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 0, max: 10_000 }),
        (amountMinor, bps, refundWeights, subStep, lossSteps) => {
          const split = splitPlatformFee(amountMinor, "KWD", { kind: "rate", basisPoints: bps });
          fc.pre(split.isOk());
          const fs = split._unsafeUnwrap();
          let given = 0;
          let feeBack = 0;
          for (const w of refundWeights) {
            const r = Math.min(w * 10, amountMinor - given - 10);
            if (r <= 0) break;
            const p = takeBackSplit(fs, "KWD", given, r);
            given += r;
            feeBack += p.feePartMinor;
          }
          const loss = Math.min(lossSteps * 10 + subStep, amountMinor - given);
          fc.pre(loss % 10 !== 0);
          const p = takeBackSplit(fs, "KWD", given, loss);
          expect(p.sellerPartMinor % 10).toBe(0);
          expect(feeBack + p.feePartMinor).toBeLessThanOrEqual(fs.feeMinor);
        },
      ),
    );
  });

  it("any mix of refunds and losses: the seller gives whole steps, nobody past what they hold, and the platform pays only what neither the seller nor the fee can", () => {
    const arb = fc
      .record({
        currency: fc.constantFrom(...stepped),
        units: fc.integer({ min: 2, max: 100_000 }),
        feeBps: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 9_999 })),
      })
      .chain(({ currency, units, feeBps }) => {
        const step = currencyInfo(currency).amountStepMinor;
        const feeUnits = Math.min(units - 1, Math.floor((units * feeBps) / BASIS_POINTS_WHOLE));
        return fc.record({
          currency: fc.constant(currency),
          step: fc.constant(step),
          split: fc.constant({ feeMinor: feeUnits * step, sellerShareMinor: (units - feeUnits) * step }),
          // Each piece: a refund in whole steps, or a loss of any amount (weights of what is left).
          pieces: fc.array(
            fc.record({ loss: fc.boolean(), weight: fc.integer({ min: 1, max: 1_000 }), off: fc.nat() }),
            { minLength: 1, maxLength: 6 },
          ),
        });
      });
    fc.assert(
      fc.property(arb, ({ currency, step, split, pieces }) => {
        const amountMinor = split.sellerShareMinor + split.feeMinor;
        let before = 0;
        const taken = { sellerPartMinor: 0, feePartMinor: 0 };
        for (const { loss, weight, off } of pieces) {
          const left = amountMinor - before;
          const wanted = Math.max(1, Math.floor((left * weight) / 1_000));
          const piece = loss ? Math.min(left, wanted + (off % step)) : wanted - (wanted % step);
          if (piece <= 0) continue;
          const sellerLeft = split.sellerShareMinor - taken.sellerPartMinor;
          const feeLeft = split.feeMinor - taken.feePartMinor;
          const part = takeBackSplit(split, currency, before, piece, taken);
          expect(part.sellerPartMinor % step).toBe(0);
          expect(part.sellerPartMinor).toBeGreaterThanOrEqual(0);
          expect(part.feePartMinor).toBeGreaterThanOrEqual(0);
          expect(part.platformFundedMinor).toBeGreaterThanOrEqual(0);
          expect(part.sellerPartMinor + part.feePartMinor + part.platformFundedMinor).toBe(piece);
          expect(part.sellerPartMinor).toBeLessThanOrEqual(sellerLeft);
          expect(part.feePartMinor).toBeLessThanOrEqual(feeLeft);
          // A refund (in steps) is never the platform's; a loss is only past what the fee has
          // left and every whole step of the piece the seller still has.
          if (!loss) expect(part.platformFundedMinor).toBe(0);
          if (part.platformFundedMinor > 0) {
            expect(part.feePartMinor).toBe(feeLeft);
            expect(part.sellerPartMinor).toBe(Math.min(piece - (piece % step), sellerLeft));
            expect(part.platformFundedMinor).toBeLessThan(step);
          }
          before += piece;
          taken.sellerPartMinor += part.sellerPartMinor;
          taken.feePartMinor += part.feePartMinor;
        }
      }),
    );
  });
});

describe("refunds through decide", () => {
  const paid: HeldPaymentInput = {
    type: "checkout_completed",
    sessionId: "cs_1",
    paymentIntentId: "pi_1",
    paymentStatus: "succeeded",
    chargeId: "ch_1",
  };

  function released(amountMinor: number, feeBps: number, currency: CurrencyCode = "USD"): HeldPayment {
    const created = createHeldPayment(
      {
        id: "hp1",
        clientReference: "b1",
        requestedBy: "app_1",
        amountMinor,
        currency,
        seller: { id: "s", connectedAccountId: "acct_1", canReceive: true },
        description: "x",
        customer: { email: "c@example.com" },
        fee: { kind: "rate", basisPoints: feeBps },
        successUrl: "https://x",
      },
      { now: T0, policy },
    )._unsafeUnwrap().state;
    const inputs: HeldPaymentInput[] = [
      paid,
      { type: "confirm_fulfilled" },
      { type: "timer", timer: { kind: "release_due" } },
      { type: "transfer_created", attempt: 1, transferId: "tr_1" },
    ];
    return inputs.reduce(
      (s, i) => decideHeldPayment(s, i, { now: LATER, policy })._unsafeUnwrap().state,
      created,
    );
  }

  it("in KWD every reversal asked of Stripe is whole tens of fils, and the refunds reverse the whole transfer", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 100_000 }),
        fc.integer({ min: 1, max: 3_000 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 8 }),
        (units, feeBps, asks) => {
          let s = released(units * 10, feeBps, "KWD");
          const transferred = s.transfers[0]?.amountMinor ?? 0;
          let reversed = 0;
          let n = 0;
          for (const ask of [...asks.map((a) => a * 10), undefined]) {
            const d = decideHeldPayment(
              s,
              ask === undefined ? { type: "refund", by: "a" } : { type: "refund", by: "a", amountMinor: ask },
              { now: LATER, policy },
            );
            if (d.isErr()) continue;
            n += 1;
            s = d.value.state;
            const reversal = d.value.effects.find((e) => e.kind === "reverse_transfer");
            if (reversal?.kind === "reverse_transfer") {
              expect(reversal.amountMinor % 10).toBe(0);
              reversed += reversal.amountMinor;
              s = decideHeldPayment(
                s,
                {
                  type: "transfer_reversed",
                  reversal: reversal.reversal,
                  transferId: "tr_1",
                  amountMinor: reversal.amountMinor,
                },
                { now: LATER, policy },
              )._unsafeUnwrap().state;
            }
            s = decideHeldPayment(
              s,
              {
                type: "refund_succeeded",
                refund: n,
                attempt: s.refunds[n - 1]?.attempts ?? 1,
                refundId: `re_${n}`,
              },
              { now: LATER, policy },
            )._unsafeUnwrap().state;
          }
          expect(reversed).toBe(transferred);
          expect(s.status).toBe("refunded");
        },
      ),
    );
  });

  it("never refund more than was paid, and reverse from the seller exactly their share of it, in proportion", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1_000, max: 1_000_000 }),
        fc.integer({ min: 0, max: 3_000 }),
        fc.array(fc.integer({ min: -10, max: 1_200_000 }), { minLength: 1, maxLength: 12 }),
        (amountMinor, feeBps, asks) => {
          let s = released(amountMinor, feeBps);
          const transferred = s.transfers[0]?.amountMinor ?? 0;
          let refunded = 0;
          let reversed = 0;
          let n = 0;
          for (const ask of [...asks, undefined]) {
            const left = amountMinor - refunded;
            const d = decideHeldPayment(
              s,
              ask === undefined ? { type: "refund", by: "a" } : { type: "refund", by: "a", amountMinor: ask },
              { now: LATER, policy },
            );
            if (d.isErr()) {
              const expected = left === 0 ? "nothing_to_refund" : "invalid_refund_amount";
              expect(d.error.code).toBe(expected);
              expect(left === 0 || ask === undefined || ask <= 0 || ask > left).toBe(true);
              continue;
            }
            n += 1;
            s = d.value.state;
            const refund = s.refunds[n - 1];
            if (!refund) throw new Error("no refund recorded");
            refunded += refund.amountMinor;
            expect(refunded).toBeLessThanOrEqual(amountMinor);
            // Reverse, then refund: the effects say so, with the seller's part.
            const reversal = d.value.effects.find((e) => e.kind === "reverse_transfer");
            expect(reversal?.amountMinor ?? 0).toBe(refund.sellerPartMinor);
            if (reversal?.kind === "reverse_transfer") {
              reversed += reversal.amountMinor;
              s = decideHeldPayment(
                s,
                {
                  type: "transfer_reversed",
                  reversal: reversal.reversal,
                  transferId: "tr_1",
                  amountMinor: reversal.amountMinor,
                },
                { now: LATER, policy },
              )._unsafeUnwrap().state;
            }
            s = decideHeldPayment(
              s,
              {
                type: "refund_succeeded",
                refund: n,
                attempt: s.refunds[n - 1]?.attempts ?? 1,
                refundId: `re_${n}`,
              },
              { now: LATER, policy },
            )._unsafeUnwrap().state;
            expect(reversed).toBeLessThanOrEqual(transferred);
          }
          // The last ask refunded everything left: the whole transfer came back, and no more.
          expect(refunded).toBe(amountMinor);
          expect(reversed).toBe(transferred);
          expect(s.status).toBe("refunded");
        },
      ),
    );
  });
});
