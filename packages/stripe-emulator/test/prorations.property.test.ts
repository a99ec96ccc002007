import fc from "fast-check";
import type Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { prorationLines } from "../src/resources/billing.js";

const price = (unit: number): Stripe.Price =>
  ({ id: `price_${unit}`, product: "prod_x", nickname: null, unit_amount: unit }) as Stripe.Price;

const change = fc
  .record({
    oldUnit: fc.integer({ min: 0, max: 99_999_999 }),
    newUnit: fc.integer({ min: 0, max: 99_999_999 }),
    oldQty: fc.integer({ min: 1, max: 10_000 }),
    newQty: fc.integer({ min: 1, max: 10_000 }),
    start: fc.integer({ min: 1_600_000_000, max: 1_900_000_000 }),
    length: fc.integer({ min: 1, max: 400 * 86_400 }),
    used: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map((c) => ({ ...c, at: c.start + Math.floor(c.used * c.length) }));

describe("prorations", () => {
  it("credit the unused time and charge the rest, each within half a minor unit of the exact share", () => {
    fc.assert(
      fc.property(change, (c) => {
        const period = { start: c.start, end: c.start + c.length };
        const lines = prorationLines(
          { price: price(c.oldUnit), quantity: c.oldQty },
          { price: price(c.newUnit), quantity: c.newQty },
          period,
          c.at,
        );
        if (c.at >= period.end) {
          expect(lines).toEqual([]);
          return;
        }
        const left = period.end - c.at;
        const [credit, debit] = lines;
        expect(Number.isInteger(credit!.amount) && Number.isInteger(debit!.amount)).toBe(true);
        // |amount − unit × quantity × left / length| ≤ ½, checked exactly in integers.
        const offBy = (amount: number, unit: number, qty: number) => {
          const diff =
            2n * BigInt(amount) * BigInt(c.length) - 2n * BigInt(unit) * BigInt(qty) * BigInt(left);
          return diff < 0n ? -diff : diff;
        };
        expect(offBy(-credit!.amount, c.oldUnit, c.oldQty) <= BigInt(c.length)).toBe(true);
        expect(offBy(debit!.amount, c.newUnit, c.newQty) <= BigInt(c.length)).toBe(true);
        // Never more back than the period cost, never more than the new price for the period.
        expect(-credit!.amount).toBeLessThanOrEqual(c.oldUnit * c.oldQty);
        expect(debit!.amount).toBeLessThanOrEqual(c.newUnit * c.newQty);
        expect(credit!.period).toEqual({ start: c.at, end: period.end });
      }),
    );
  });

  it("nets to nothing when the price does not change, and to the whole difference at the period start", () => {
    fc.assert(
      fc.property(change, (c) => {
        const period = { start: c.start, end: c.start + c.length };
        const same = prorationLines(
          { price: price(c.oldUnit), quantity: c.oldQty },
          { price: price(c.oldUnit), quantity: c.oldQty },
          period,
          c.at,
        );
        expect(same.reduce((sum, l) => sum + l.amount, 0)).toBe(0);
        const whole = prorationLines(
          { price: price(c.oldUnit), quantity: c.oldQty },
          { price: price(c.newUnit), quantity: c.newQty },
          period,
          c.start,
        );
        expect(whole.map((l) => l.amount)).toEqual([-c.oldUnit * c.oldQty, c.newUnit * c.newQty]);
      }),
    );
  });
});
