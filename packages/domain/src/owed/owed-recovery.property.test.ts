// After any sequence of recoveries recorded of money a customer owes back (parts, more than is
// owed back, nothing, the wrong currency, references repeated, more after all of it came back),
// with a second lost dispute adding to what is owed back anywhere among them: the recoveries
// never add up to more than was owed back, every refusal changes nothing, every posting balances
// and the payment's books close, the ledger's `owed_by_customer` is what is still owed back
// (never below zero) and `paid_outside_stripe` what the admin paid less what came back, and each
// dispute's `owed_overpaid` ticket is resolved at most once — once everything owed back is
// recovered, every one.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { HeldPaymentEffect } from "../held-payment/held-payment-effect.js";
import { checkLedgerInvariants, heldAccounts, postTransaction } from "../ledger/index.js";
import { type CurrencyCode, money } from "../money/index.js";
import {
  HELD_T0,
  type HeldRun,
  heldBooks,
  heldPaid,
  heldRefundFailed,
  runHeld,
  startHeld,
} from "../testing/held-payment-mothers.js";
import {
  decideOwedRecovery,
  type OwedBack,
  owedBackLeftMinor,
  owedRecoveredMinor,
  type RecordOwedRecovery,
} from "./owed-recovery.js";
import { decideHeldOwedPayment, paymentOwedBack } from "./payment-owed.js";
import { decideHeldOwedRecovery } from "./payment-owed-recovery.js";

const REFUSALS = [
  "nothing_owed_back",
  "amount_exceeds_owed_back",
  "duplicate_owed_recovery",
  "currency_mismatch",
  "invalid_owed_recovery",
];

const commandArb = (aroundMinor: number) =>
  fc
    .record({
      amountMinor: fc.oneof(
        fc.integer({ min: 1, max: aroundMinor }),
        fc.integer({ min: 1, max: Math.max(1, Math.ceil(aroundMinor / 4)) }),
        fc.integer({ min: -3, max: 0 }),
        fc.integer({ min: aroundMinor + 1, max: aroundMinor * 3 }),
      ),
      currency: fc.constantFrom<CurrencyCode>("AUD", "AUD", "AUD", "AUD", "NZD"),
      reference: fc.oneof(fc.constantFrom("NAB 1", "nab 1 ", "cash"), fc.string({ maxLength: 3 })),
    })
    .map(
      ({ amountMinor, currency, reference }): RecordOwedRecovery => ({
        type: "record_owed_recovery",
        amount: money(amountMinor, currency),
        reference,
        by: "operator:olga",
      }),
    );

const sameReference = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();

describe("recoveries of money a customer owes back, in any sequence", () => {
  it("the rule alone: accepted exactly when valid; what is left is booked minus recovered, never below zero", () => {
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
          let owed: OwedBack = { currency: "AUD", bookedMinor, recoveries: [] };
          for (const [i, command] of commands.entries()) {
            const leftBefore = owedBackLeftMinor(owed);
            const d = decideOwedRecovery(owed, command, i);
            const acceptable =
              command.amount.currency === "AUD" &&
              leftBefore > 0 &&
              command.amount.amountMinor > 0 &&
              command.amount.amountMinor <= leftBefore &&
              command.reference.trim().length > 0 &&
              !owed.recoveries.some((r) => sameReference(r.reference, command.reference));
            expect(d.isOk()).toBe(acceptable);
            if (d.isErr()) expect(REFUSALS).toContain(d.error.code);
            else {
              owed = { ...owed, recoveries: d.value.recoveries };
              expect(d.value.leftMinor).toBe(owedBackLeftMinor(owed));
            }
            expect(owedRecoveredMinor(owed.recoveries)).toBeLessThanOrEqual(bookedMinor);
            expect(owedBackLeftMinor(owed)).toBeGreaterThanOrEqual(0);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("a held payment: the books stay balanced and closed, what is recovered never exceeds what was owed back, each ticket resolved at most once", () => {
    const owing = runHeld(startHeld(), [
      heldPaid,
      { type: "report_unfulfilled", reason: "cancelled" },
      heldRefundFailed("expired_or_canceled_card"),
    ]);
    const applied = (
      r: HeldRun,
      d: { state: HeldRun["state"]; effects: readonly HeldPaymentEffect[] },
    ): HeldRun => {
      let ledger = r.ledger;
      for (const e of d.effects)
        if (e.kind === "post_ledger") ledger = postTransaction(ledger, e.transaction)._unsafeUnwrap();
      return { state: d.state, ledger, effects: [...r.effects, ...d.effects], last: d.effects };
    };
    const disputeLost = (id: string, amountMinor: number) => [
      {
        type: "dispute_created",
        disputeId: id,
        amountMinor,
        reason: "fraudulent",
        stripeStatus: "needs_response",
      } as const,
      { type: "dispute_closed", disputeId: id, outcome: "lost", amountMinor } as const,
    ];
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.nat({ max: 15 }),
        // "rest": the customer pays back all they still owe back (a fresh reference).
        fc.array(fc.oneof(commandArb(4_000), fc.constant("rest" as const)), { maxLength: 15 }),
        (paidMinor, firstMinor, secondMinor, secondAt, commands) => {
          // The admin pays part or all of the 100.00 owed, then dispute dp takes `firstMinor`.
          let r = applied(
            owing,
            decideHeldOwedPayment(
              owing.state,
              {
                type: "record_owed_payment",
                amount: money(paidMinor, "AUD"),
                reference: "paid",
                by: "operator:o",
              },
              { now: HELD_T0 },
            )._unsafeUnwrap(),
          );
          r = runHeld(r, disputeLost("dp", firstMinor));
          const resolved = new Map<string, number>();
          let recoveredMinor = 0;
          const check = () => {
            const owedBackMinor = paymentOwedBack(r.state).bookedMinor;
            expect(recoveredMinor).toBeLessThanOrEqual(owedBackMinor);
            checkLedgerInvariants(r.ledger)._unsafeUnwrap();
            // heldBooks checks the payment's books close: paid in + owed back = where it all went.
            expect(heldBooks(r)).toMatchObject({
              owedByCustomerMinor: owedBackMinor - recoveredMinor,
              paidOutsideStripeMinor: paidMinor - recoveredMinor,
            });
            const balance = r.ledger.balancesMinor.get(heldAccounts.owedByCustomer("hp1"))?.get("AUD") ?? 0;
            expect(-balance).toBeGreaterThanOrEqual(0);
            for (const count of resolved.values()) expect(count).toBe(1);
          };
          check();
          for (const [i, drawn] of [...commands.entries(), [commands.length, undefined] as const]) {
            // A second dispute, lost anywhere among the recoveries, may add to what is owed back.
            if (i === Math.min(secondAt, commands.length) && secondMinor > 0) {
              r = runHeld(r, disputeLost("dp2", secondMinor));
              check();
            }
            if (drawn === undefined) break;
            const before = r.state;
            const leftBefore = owedBackLeftMinor(paymentOwedBack(before));
            const command: RecordOwedRecovery =
              drawn === "rest"
                ? {
                    type: "record_owed_recovery",
                    amount: money(leftBefore, "AUD"),
                    reference: `rest ${i}`,
                    by: "operator:olga",
                  }
                : drawn;
            const d = decideHeldOwedRecovery(before, command, { now: HELD_T0 });
            if (d.isErr()) {
              expect(REFUSALS).toContain(d.error.code);
              continue;
            }
            expect(command.amount.amountMinor).toBeLessThanOrEqual(leftBefore);
            recoveredMinor += command.amount.amountMinor;
            for (const e of d.value.effects)
              if (e.kind === "resolve_ticket") resolved.set(e.ticketId, (resolved.get(e.ticketId) ?? 0) + 1);
            r = applied(r, d.value);
            check();
          }
          // Everything owed back recovered: each dispute that booked some has its ticket resolved, once.
          const owedBack = paymentOwedBack(r.state);
          const overpaidDisputes = r.state.disputes
            .filter((x) => (x.overpaidMinor ?? 0) > 0)
            .map((x) => x.id);
          if (owedBackLeftMinor(owedBack) === 0)
            expect([...resolved.keys()].sort()).toEqual(
              overpaidDisputes.map((id) => `hp1:ticket:owed_overpaid:${id}`).sort(),
            );
          else if (resolved.size > 0)
            // Resolved by an earlier recovery that recovered all owed back then: only the first dispute's.
            expect([...resolved.keys()]).toEqual(["hp1:ticket:owed_overpaid:dp"]);
        },
      ),
      { numRuns: 500 },
    );
  });
});
