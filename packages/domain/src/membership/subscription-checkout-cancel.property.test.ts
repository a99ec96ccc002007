// A membership canceled before its Checkout page was paid, whatever order susu hears the
// rest in: the page's recording (maybe repeated), the cancel repeated, and a subscription
// Stripe started anyway (the page paid before the expiry landed; its news maybe repeated).
// It ends canceled, its page is expired exactly once, and a late start is canceled at
// Stripe exactly once.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { freshSubscription, MEMBERSHIP_T0, snapshot } from "../testing/membership-mothers.js";
import type { SubscriptionEffect } from "./membership-effect.js";
import { decideSubscription } from "./subscription-decide.js";
import type { SubscriptionInput } from "./subscription-input.js";

const cancel: SubscriptionInput = { type: "cancel", atPeriodEnd: false };
const page: SubscriptionInput = {
  type: "checkout_created",
  sessionId: "cs_1",
  url: "https://checkout.test/cs_1",
};

const scenarioArb = fc.record({
  /** Inputs heard before the cancel: the page recorded (0–2 times) or not yet. */
  pageBefore: fc.integer({ min: 0, max: 2 }),
  /** Inputs heard after it, in any order: the page (if not before), repeats of both, a late start. */
  after: fc.array(fc.constantFrom("page", "cancel", "started", "started_again"), { maxLength: 6 }),
  lateStart: fc.boolean(),
});

describe("a membership canceled before its Checkout page was paid (any order)", () => {
  it("ends canceled, expires its page once, cancels a late start at Stripe once", () => {
    fc.assert(
      fc.property(scenarioArb, ({ pageBefore, after, lateStart }) => {
        const inputs: SubscriptionInput[] = [
          ...Array.from({ length: pageBefore }, () => page),
          cancel,
          ...after.flatMap((a): SubscriptionInput[] =>
            a === "page" ? [page] : a === "cancel" ? [cancel] : lateStart ? [snapshot("active", 0)] : [],
          ),
        ];
        // The page is always recorded at last (the checkout effect answers), and a late
        // start's news comes at least once when there was one.
        if (!inputs.includes(page)) inputs.push(page);
        if (lateStart && !after.some((a) => a.startsWith("started"))) inputs.push(snapshot("active", 0));
        const effects: SubscriptionEffect[] = [];
        let s = freshSubscription({
          start: { kind: "checkout", successUrl: "https://app.test/ok", cancelUrl: "https://app.test/no" },
        });
        for (const input of inputs) {
          const d = decideSubscription(s, input, { now: MEMBERSHIP_T0 });
          // A repeated cancel is refused (subscription_ended) and changes nothing.
          if (d.isErr()) {
            expect(d.error.code).toBe("subscription_ended");
            continue;
          }
          s = d.value.state;
          effects.push(...d.value.effects);
        }
        expect(s.status).toBe("canceled");
        expect(effects.filter((e) => e.kind === "expire_subscription_checkout")).toEqual([
          expect.objectContaining({ id: `${s.id}:checkout:expire`, sessionId: "cs_1" }),
        ]);
        const cancels = effects.filter((e) => e.kind === "cancel_subscription");
        expect(cancels).toEqual(
          lateStart ? [expect.objectContaining({ stripeSubscriptionId: "sub_stripe1", mode: "now" })] : [],
        );
        expect(effects.filter((e) => e.kind === "post_ledger")).toEqual([]);
      }),
      { numRuns: 1_000 },
    );
  });
});
