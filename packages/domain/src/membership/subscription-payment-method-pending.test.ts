// Moving a membership onto another card (`use_payment_method`) asks Stripe through the outbox
// (`set_subscription_payment_method`). The membership recorded the new card at once: a call
// parked (refused, or out of retries) left it saying the new card while Stripe still charged
// the old one. Now the card asked for is pending until Stripe's view names it (the call's
// answer, or a view observed at or after the request); until then the record names the card
// Stripe charges.
import { describe, expect, it } from "vitest";
import { DAY_MS } from "../shared/time.js";
import { activeSubscription, feed, MEMBERSHIP_T0, snapshot } from "../testing/membership-mothers.js";
import { billedPaymentMethodOf, type Subscription } from "./subscription.js";
import { decideSubscription } from "./subscription-decide.js";
import type { SubscriptionInput } from "./subscription-input.js";

const ASKED_AT = MEMBERSHIP_T0 + 10 * DAY_MS;
const decided = (s: Subscription, input: SubscriptionInput) =>
  decideSubscription(s, input, { now: ASKED_AT })._unsafeUnwrap();

/** An active membership (Stripe's news up to day 5) that asked to be charged on pm_new. */
function asked(): { before: Subscription; after: Subscription } {
  const before = feed(activeSubscription(), [snapshot("active", 5)]);
  const d = decided(before, { type: "use_payment_method", paymentMethodId: "pm_new" });
  expect(d.effects.map((e) => e.kind)).toEqual(["set_subscription_payment_method"]);
  return { before, after: d.state };
}

const viewNaming = (pm: string, observedAt?: number): SubscriptionInput => {
  const base = snapshot("active", 0) as Extract<SubscriptionInput, { type: "subscription_changed" }>;
  const { observedAt: _drop, ...rest } = base.snapshot;
  return {
    type: "subscription_changed",
    snapshot: { ...rest, defaultPaymentMethodId: pm, ...(observedAt !== undefined ? { observedAt } : {}) },
  };
};

describe("a membership moved onto another card", () => {
  it("still names the card Stripe charges while the call has not answered (parked, say)", () => {
    const { before, after } = asked();
    expect(billedPaymentMethodOf(after)).toBe(billedPaymentMethodOf(before));
    // Asked again meanwhile: no second call.
    const again = decided(after, { type: "use_payment_method", paymentMethodId: "pm_new" });
    expect(again.effects).toEqual([]);
  });

  it("names the new card once the call's answer (no Stripe time, after events) names it", () => {
    const { after } = asked();
    const d = decided(after, viewNaming("pm_new"));
    expect(billedPaymentMethodOf(d.state)).toBe("pm_new");
  });

  it("names it once a view observed at or after the request names it; a late view from before the news applied proves nothing", () => {
    const { before, after } = asked();
    const confirmed = decided(after, viewNaming("pm_new", ASKED_AT)).state;
    expect({ billed: billedPaymentMethodOf(confirmed), waiting: confirmed.pendingPaymentMethod }).toEqual({
      billed: "pm_new",
      waiting: undefined,
    });
    const late = decided(after, viewNaming("pm_new", MEMBERSHIP_T0 + 4 * DAY_MS));
    expect({ ignored: late.ignored?.code, billed: billedPaymentMethodOf(late.state) }).toEqual({
      ignored: "stale_snapshot",
      billed: billedPaymentMethodOf(before),
    });
  });

  it("Stripe's refusal of the card change waiting clears it (the person told once); a refusal of another change is ignored", () => {
    const { before, after } = asked();
    const refusal = (n: number): SubscriptionInput => ({
      type: "payment_method_refused",
      changeId: `${after.id}:payment-method:${n}`,
      code: "resource_missing",
      message: "no such payment method",
    });
    expect(decided(after, refusal(2)).ignored?.code).toBe("payment_method_change_not_pending");
    const refused = decided(after, refusal(1));
    expect({
      billed: billedPaymentMethodOf(refused.state),
      waiting: refused.state.pendingPaymentMethod,
      told: refused.effects.map((e) => (e.kind === "notify" ? [e.id, e.template] : e.kind)),
    }).toEqual({
      billed: billedPaymentMethodOf(before),
      waiting: undefined,
      told: [[`${after.id}:notify:membership_card_change_refused:1`, "membership_card_change_refused"]],
    });
    // Heard again: nothing waits, nobody is told twice.
    expect(decided(refused.state, refusal(1)).ignored?.code).toBe("payment_method_change_not_pending");
  });
});
