// After any sequence of payments recorded of money owed outside Stripe (parts, over-payments,
// the wrong currency, nothing, and more after all of it was paid), what the ledger says is
// owed is never below zero and equals what was booked minus what was paid; every refusal
// changes nothing; the aggregate's books stay closed; the tickets are resolved exactly when
// nothing is left. A dispute lost after a refund was owed (the card could not take it) among
// the payments lessens what is owed by what the bank gave back beyond what was left, never
// below zero, and no payment then exceeds what is left.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { heldAccounts, postTransaction } from "../ledger/index.js";
import { type CurrencyCode, money } from "../money/index.js";
import {
  HELD_T0,
  type HeldRun,
  heldBooks,
  heldDisputeLost,
  heldDisputeOpened,
  heldPaid,
  heldRefundFailed,
  runHeld,
  startHeld,
} from "../testing/held-payment-mothers.js";
import {
  decideOwedPayment,
  type OwedOutsideStripe,
  owedLeftMinor,
  owedPaidMinor,
  type RecordOwedPayment,
} from "./owed-payment.js";
import { decideHeldOwedPayment, paymentOwed } from "./payment-owed.js";

const commandArb = (bookedMinor: number) =>
  fc
    .record({
      amountMinor: fc.oneof(
        fc.integer({ min: 1, max: bookedMinor }),
        fc.integer({ min: 1, max: Math.max(1, Math.ceil(bookedMinor / 4)) }),
        fc.integer({ min: -3, max: 0 }),
        fc.integer({ min: bookedMinor + 1, max: bookedMinor * 3 }),
      ),
      currency: fc.constantFrom<CurrencyCode>("AUD", "AUD", "AUD", "AUD", "NZD"),
      reference: fc.oneof(fc.constant("bank ref"), fc.string({ maxLength: 3 })),
    })
    .map(
      ({ amountMinor, currency, reference }): RecordOwedPayment => ({
        type: "record_owed_payment",
        amount: money(amountMinor, currency),
        reference,
        by: "operator:olga",
      }),
    );

describe("payments of money owed outside Stripe, in any sequence", () => {
  it("the rule alone: what is left is booked minus paid, never below zero; a refusal changes nothing", () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 0, max: 50_000 })
          .chain((bookedMinor) =>
            fc.tuple(
              fc.constant(bookedMinor),
              fc.array(commandArb(Math.max(bookedMinor, 1)), { maxLength: 25 }),
            ),
          ),
        ([bookedMinor, commands]) => {
          let owed: OwedOutsideStripe = { currency: "AUD", bookedMinor, payments: [] };
          for (const [i, command] of commands.entries()) {
            const leftBefore = bookedMinor - owedPaidMinor(owed.payments);
            const d = decideOwedPayment(owed, command, i);
            const acceptable =
              command.amount.currency === "AUD" &&
              leftBefore > 0 &&
              command.amount.amountMinor > 0 &&
              command.amount.amountMinor <= leftBefore &&
              command.reference.trim().length > 0 &&
              // A reference recorded already is the same payment again (a retry): refused.
              !owed.payments.some(
                (p) => p.reference.trim().toLowerCase() === command.reference.trim().toLowerCase(),
              );
            expect(d.isOk()).toBe(acceptable);
            if (d.isOk()) owed = { ...owed, payments: d.value.payments };
            const leftMinor = bookedMinor - owedPaidMinor(owed.payments);
            expect(leftMinor).toBeGreaterThanOrEqual(0);
            if (d.isOk()) expect(d.value.leftMinor).toBe(leftMinor);
          }
        },
      ),
    );
  });

  it("a held payment: the owed account's balance is booked minus paid, the books close, the ticket resolved once nothing is left", () => {
    // The partial loss (6,000 of 10,000) left 4,000 owed to the customer.
    const owing = runHeld(startHeld(), [
      heldPaid,
      { type: "report_unfulfilled", reason: "cancelled" },
      heldRefundFailed("charge_disputed"),
      heldDisputeOpened(6_000),
      heldDisputeLost(6_000),
    ]);
    const bookedMinor = paymentOwed(owing.state).bookedMinor;
    expect(bookedMinor).toBe(4_000);
    fc.assert(
      fc.property(fc.array(commandArb(bookedMinor), { maxLength: 25 }), (commands) => {
        let r: HeldRun = owing;
        let paidMinor = 0;
        let resolved = 0;
        for (const command of commands) {
          const d = decideHeldOwedPayment(r.state, command, { now: HELD_T0 });
          if (d.isErr()) {
            // Refused: nothing to store, nothing to post (the use case stores nothing).
            expect([
              "nothing_owed",
              "amount_exceeds_owed",
              "currency_mismatch",
              "invalid_owed_payment",
              "duplicate_owed_payment",
            ]).toContain(d.error.code);
            continue;
          }
          paidMinor += command.amount.amountMinor;
          let ledger = r.ledger;
          for (const e of d.value.effects)
            if (e.kind === "post_ledger") ledger = postTransaction(ledger, e.transaction)._unsafeUnwrap();
          resolved += d.value.effects.filter((e) => e.kind === "resolve_ticket").length;
          r = {
            state: d.value.state,
            ledger,
            effects: [...r.effects, ...d.value.effects],
            last: d.value.effects,
          };
          const owedMinor = r.ledger.balancesMinor.get(heldAccounts.owedToCustomer("hp1"))?.get("AUD") ?? 0;
          expect(owedMinor).toBeGreaterThanOrEqual(0);
          expect(owedMinor).toBe(bookedMinor - paidMinor);
          expect(heldBooks(r)).toMatchObject({ paidOutsideStripeMinor: paidMinor });
          expect(owedPaidMinor(r.state.owedPayments ?? [])).toBe(paidMinor);
        }
        // One resolution, made by the payment that paid the last of it; none before.
        expect(resolved).toBe(paidMinor === bookedMinor ? 1 : 0);
      }),
    );
  });

  it("a held payment whose refund the card could not take, a dispute lost among the payments: what is owed is lessened by what the bank gave back, never below zero", () => {
    // The whole 10,000 owed outside Stripe: nothing is left to give back at Stripe's reckoning.
    const owing = runHeld(startHeld(), [
      heldPaid,
      { type: "report_unfulfilled", reason: "cancelled" },
      heldRefundFailed("expired_or_canceled_card"),
    ]);
    const bookedMinor = paymentOwed(owing.state).bookedMinor;
    expect(bookedMinor).toBe(10_000);
    const apply = (
      r: HeldRun,
      effects: readonly HeldRun["effects"][number][],
      state: HeldRun["state"],
    ): HeldRun => {
      let ledger = r.ledger;
      for (const e of effects)
        if (e.kind === "post_ledger") ledger = postTransaction(ledger, e.transaction)._unsafeUnwrap();
      return { state, ledger, effects: [...r.effects, ...effects], last: effects };
    };
    fc.assert(
      fc.property(
        fc.array(commandArb(bookedMinor), { maxLength: 12 }),
        fc.nat({ max: 12 }),
        fc.integer({ min: 1, max: 10_000 }),
        (commands, at, disputedMinor) => {
          let r: HeldRun = owing;
          let paidMinor = 0;
          let takenMinor = 0;
          let overpaidMinor = 0;
          let recoveries = 0;
          let resolved = 0;
          const step = (i: number) => {
            if (i !== Math.min(at, commands.length)) return;
            const leftBefore = bookedMinor - paidMinor;
            r = runHeld(r, [heldDisputeOpened(disputedMinor), heldDisputeLost(disputedMinor)]);
            takenMinor = Math.min(disputedMinor, leftBefore);
            // Beyond what was still owed: what an admin had paid already, given back twice.
            overpaidMinor = disputedMinor - takenMinor;
            recoveries = r.last.filter(
              (e) => e.kind === "open_ticket" && e.reason === "owed_overpaid",
            ).length;
            resolved += r.last.filter((e) => e.kind === "resolve_ticket").length;
          };
          for (const [i, command] of [...commands.entries(), [commands.length, undefined] as const]) {
            step(i);
            if (command === undefined) break;
            const leftBefore = owedLeftMinor(paymentOwed(r.state));
            const d = decideHeldOwedPayment(r.state, command, { now: HELD_T0 });
            if (d.isErr()) continue;
            expect(command.amount.amountMinor).toBeLessThanOrEqual(leftBefore);
            paidMinor += command.amount.amountMinor;
            resolved += d.value.effects.filter((e) => e.kind === "resolve_ticket").length;
            r = apply(r, d.value.effects, d.value.state);
          }
          const owedMinor = r.ledger.balancesMinor.get(heldAccounts.owedToCustomer("hp1"))?.get("AUD") ?? 0;
          expect(owedMinor).toBeGreaterThanOrEqual(0);
          expect(owedMinor).toBe(bookedMinor - paidMinor - takenMinor);
          expect(owedLeftMinor(paymentOwed(r.state))).toBe(owedMinor);
          // The loss booked is what the bank took, as at Stripe: what it gave back of what was
          // owed (nothing else was left), and beyond it what an admin had paid already, which the
          // customer owes back — a ticket asks to recover it.
          expect(heldBooks(r)).toMatchObject({
            disputeLostMinor: disputedMinor,
            paidOutsideStripeMinor: paidMinor,
            owedByCustomerMinor: overpaidMinor,
          });
          expect(recoveries).toBe(overpaidMinor > 0 ? 1 : 0);
          // Resolved once, when nothing is left (by the dispute or by the last payment); never before.
          expect(resolved).toBe(owedMinor === 0 ? 1 : 0);
        },
      ),
    );
  });
});
