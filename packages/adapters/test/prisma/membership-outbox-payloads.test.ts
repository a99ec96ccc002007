// A membership's Checkout expiry, as the domain makes it, survives the database's JSON and
// its parser unchanged (an effect the parser refused would be parked, never sent).
import { createSubscription, decideSubscription, type OutboxEffect } from "@susu/domain";
import { describe, expect, it } from "vitest";
import { outboxAggregateOf } from "../../src/prisma/projections.js";
import { parseOutboxEffect } from "../../src/prisma/snapshots.js";

describe("a membership's outbox payloads", () => {
  it("expire_subscription_checkout round-trips and names its subscription", () => {
    const now = { now: Date.UTC(2026, 0, 6) };
    const s = createSubscription(
      {
        id: "mbr_1",
        personId: "sam",
        stripeCustomerId: "cus_sam",
        price: {
          planId: "plan_1",
          priceKey: "aud_month",
          revision: 1,
          stripePriceId: "price_1",
          currency: "AUD",
          interval: "month",
          amountMinor: 10_00,
        },
        trialDays: 0,
        start: { kind: "checkout", successUrl: "https://app.test/ok", cancelUrl: "https://app.test/no" },
      },
      now,
    )._unsafeUnwrap().state;
    const withPage = decideSubscription(
      s,
      { type: "checkout_created", sessionId: "cs_1", url: "https://checkout.test/cs_1" },
      now,
    )._unsafeUnwrap().state;
    const effects: OutboxEffect[] = [
      ...decideSubscription(withPage, { type: "cancel", atPeriodEnd: false }, now)._unsafeUnwrap().effects,
    ];
    expect(effects.map((e) => e.kind)).toEqual(["expire_subscription_checkout"]);
    for (const effect of effects) {
      const stored: unknown = JSON.parse(JSON.stringify(effect));
      expect(parseOutboxEffect(stored)._unsafeUnwrap()).toEqual(effect);
      expect(outboxAggregateOf(effect)).toEqual({ type: "subscription", id: s.id });
    }
    expect(parseOutboxEffect({ ...effects[0], sessionId: 42 }).isErr()).toBe(true);
  });
});
