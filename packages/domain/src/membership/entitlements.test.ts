import { describe, expect, it } from "vitest";
import {
  entitlementsOf,
  isEntitlements,
  mayOpenAnotherGroup,
  UNRESTRICTED_ENTITLEMENTS,
} from "./entitlements.js";
import { grantsEntitlements, SUBSCRIPTION_STATUSES } from "./subscription.js";

const none = { createGroups: false, maxOpenGroups: 0, sellBookings: false };

describe("entitlements", () => {
  it("the default is today's behaviour: everything, no limit", () => {
    expect(UNRESTRICTED_ENTITLEMENTS).toEqual({
      createGroups: true,
      maxOpenGroups: null,
      sellBookings: true,
    });
    expect(mayOpenAnotherGroup(UNRESTRICTED_ENTITLEMENTS, 1_000_000)).toBe(true);
  });

  it("a granting membership widens the default, never narrows it", () => {
    const plan = { createGroups: true, maxOpenGroups: 3, sellBookings: false };
    expect(entitlementsOf(none, [plan])).toEqual({
      createGroups: true,
      maxOpenGroups: 3,
      sellBookings: false,
    });
    expect(entitlementsOf(none, [])).toEqual(none);
    expect(entitlementsOf(UNRESTRICTED_ENTITLEMENTS, [plan])).toEqual(UNRESTRICTED_ENTITLEMENTS);
    expect(mayOpenAnotherGroup(plan, 2)).toBe(true);
    expect(mayOpenAnotherGroup(plan, 3)).toBe(false);
  });

  it("trialing, active and past due (while Stripe retries) grant; the others do not", () => {
    expect(SUBSCRIPTION_STATUSES.filter(grantsEntitlements)).toEqual(["trialing", "active", "past_due"]);
  });

  it("recognises well-formed entitlements only", () => {
    expect(isEntitlements(none)).toBe(true);
    expect(isEntitlements({ ...none, maxOpenGroups: null })).toBe(true);
    expect(isEntitlements({ ...none, maxOpenGroups: 1.5 })).toBe(false);
    expect(isEntitlements({ ...none, createGroups: "yes" })).toBe(false);
    expect(isEntitlements(null)).toBe(false);
  });
});
