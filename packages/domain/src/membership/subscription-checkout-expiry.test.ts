import { describe, expect, it } from "vitest";
import {
  activeSubscription,
  feed,
  freshSubscription,
  MEMBERSHIP_T0,
  snapshot,
} from "../testing/membership-mothers.js";
import { isCurrentMembership } from "./subscription.js";
import { decideSubscription } from "./subscription-decide.js";
import type { SubscriptionInput } from "./subscription-input.js";

const now = { now: MEMBERSHIP_T0 + 86_400_000 };
const checkout = () =>
  freshSubscription({
    start: { kind: "checkout", successUrl: "https://a.test/ok", cancelUrl: "https://a.test/no" },
  });
const created: SubscriptionInput = {
  type: "checkout_created",
  sessionId: "cs_1",
  url: "https://c.test/cs_1",
};
const expired: SubscriptionInput = { type: "checkout_expired", sessionId: "cs_1" };

describe("a membership's Checkout page expires unpaid", () => {
  it("the membership attempt ends (incomplete_expired) and no longer counts as the person's membership", () => {
    const s = feed(checkout(), [created]);
    expect(isCurrentMembership(s)).toBe(true);
    const d = decideSubscription(s, expired, now)._unsafeUnwrap();
    expect(d.state.status).toBe("incomplete_expired");
    expect(d.state.endedAt).toBe(now.now);
    expect(d.effects).toEqual([]);
    expect(isCurrentMembership(d.state)).toBe(false);
    expect(decideSubscription(d.state, expired, now)._unsafeUnwrap().ignored?.code).toBe(
      "subscription_ended",
    );
  });

  it("ends it too when the page's creation was not heard yet (the expiry names the subscription)", () => {
    const d = decideSubscription(checkout(), expired, now)._unsafeUnwrap();
    expect(d.state.status).toBe("incomplete_expired");
    expect(d.state.start).toMatchObject({ kind: "checkout", sessionId: "cs_1" });
  });

  it("is ignored for another page, a started membership, or one started with a saved card", () => {
    const s = feed(checkout(), [created]);
    expect(
      decideSubscription(s, { type: "checkout_expired", sessionId: "cs_2" }, now)._unsafeUnwrap().ignored
        ?.code,
    ).toBe("other_checkout");
    const started = feed(s, [snapshot("active", 0)]);
    expect(decideSubscription(started, expired, now)._unsafeUnwrap().ignored?.code).toBe(
      "start_already_known",
    );
    expect(decideSubscription(activeSubscription(), expired, now)._unsafeUnwrap().ignored?.code).toBe(
      "other_checkout",
    );
    const canceled = feed(s, [{ type: "cancel", atPeriodEnd: false }]);
    expect(decideSubscription(canceled, expired, now)._unsafeUnwrap().ignored?.code).toBe(
      "subscription_ended",
    );
  });
});
