// A plan change Stripe holds until its invoice is paid, then applies (the invoice paid) or
// discards (unpaid at its expiry): its events (a view from before the call, the view showing it
// held, the invoice's failure, then the payment and the view of the new price, or the two views
// of the expiry) heard shuffled and repeated after the call's answer. At every step the
// membership keeps granting (no lapse, no past due: Stripe left the subscription active) and
// stays on its plan until Stripe applied the change; at the end it is on the new plan with
// the payment booked once, or on its plan with the person told once that the change was dropped.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DAY_MS } from "../shared/time.js";
import {
  activeSubscription,
  feed,
  invoice,
  MEMBERSHIP_T0,
  proMonthly,
  snapshot,
} from "../testing/membership-mothers.js";
import type { SubscriptionEffect } from "./membership-effect.js";
import { grantsEntitlements, type Subscription } from "./subscription.js";
import { decideSubscription } from "./subscription-decide.js";
import type { SubscriptionInput, SubscriptionSnapshot } from "./subscription-input.js";

const HOUR_MS = 3_600_000;
const ASKED_AT = MEMBERSHIP_T0 + 10 * DAY_MS;
const EXPIRES_AT = ASKED_AT + 23 * HOUR_MS;
const held = { stripePriceId: "price_pro_m", expiresAt: EXPIRES_AT, invoiceId: "in_up" };

const view = (at: number | undefined, extra: Partial<SubscriptionSnapshot> = {}): SubscriptionInput => ({
  type: "subscription_changed",
  snapshot: {
    stripeSubscriptionId: "sub_stripe1",
    status: "active",
    stripePriceId: "price_basic_m",
    cancelAtPeriodEnd: false,
    ...(at !== undefined ? { observedAt: at } : {}),
    ...extra,
  },
});
const changeInvoice = (at: number, paid: number) => ({
  ...invoice("in_up", 0, paid),
  amountDueMinor: 15_00,
  observedAt: at,
  forChange: true as const,
});

function events(outcome: "paid" | "expired"): SubscriptionInput[] {
  const t1 = ASKED_AT + 5_000;
  const common: SubscriptionInput[] = [
    view(ASKED_AT + 1_000), // an earlier change of the subscription, from before the call
    view(t1, { pendingUpdate: held }),
    { type: "invoice_payment_failed", invoice: changeInvoice(t1, 0), attemptCount: 1 },
  ];
  if (outcome === "paid") {
    const t2 = ASKED_AT + 2 * HOUR_MS;
    return [
      ...common,
      { type: "invoice_paid", invoice: changeInvoice(t2, 15_00), paidAt: t2 },
      view(t2, { stripePriceId: "price_pro_m" }),
      view(t2, { stripePriceId: "price_pro_m" }), // pending_update_applied
    ];
  }
  return [...common, view(EXPIRES_AT), view(EXPIRES_AT)]; // updated, then pending_update_expired
}

function asked(): Subscription {
  const s = feed(activeSubscription(), [snapshot("active", 5)]);
  const d = decideSubscription(
    s,
    { type: "change_price", price: proMonthly, prorationBehavior: "always_invoice" },
    { now: ASKED_AT },
  );
  return d._unsafeUnwrap().state;
}

describe("a plan change held for its payment, its news shuffled and repeated", () => {
  it("never lapses, stays on its plan until applied, and ends applied or dropped once", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("paid" as const, "expired" as const).chain((outcome) => {
          const all = events(outcome);
          return fc.tuple(
            fc.constant(outcome),
            fc.array(fc.nat({ max: all.length - 1 }), { maxLength: all.length }).chain((repeats) =>
              fc.shuffledSubarray([...all, ...repeats.map((i) => all[i] as SubscriptionInput)], {
                minLength: all.length + repeats.length,
              }),
            ),
          );
        }),
        ([outcome, delivered]) => {
          // The call's answer comes first (the dispatcher feeds it back right after the call).
          let state = asked();
          const effects: SubscriptionEffect[] = [];
          for (const input of [view(undefined, { pendingUpdate: held }), ...delivered]) {
            const d = decideSubscription(state, input, { now: ASKED_AT })._unsafeUnwrap();
            state = d.state;
            effects.push(...d.effects);
            expect(state.status).toBe("active");
            expect(grantsEntitlements(state.status)).toBe(true);
            if (state.pendingChange !== undefined) expect(state.price.planId).toBe("pl_basic");
          }
          const ids = effects.map((e) => e.id);
          expect(new Set(ids).size).toBe(ids.length);
          const dropped = effects.filter(
            (e) => e.kind === "notify" && e.template === "membership_change_refused",
          );
          const posted = effects.filter((e) => e.kind === "post_ledger");
          expect(state.pendingChange).toBeUndefined();
          expect(state.lapses).toBe(0);
          if (outcome === "paid") {
            expect(state.price).toEqual(proMonthly);
            expect(dropped).toHaveLength(0);
            expect(posted).toHaveLength(1);
          } else {
            expect(state.price.planId).toBe("pl_basic");
            expect(dropped).toHaveLength(1);
            expect(posted).toHaveLength(0);
          }
        },
      ),
      { numRuns: 1_000 },
    );
  });
});
