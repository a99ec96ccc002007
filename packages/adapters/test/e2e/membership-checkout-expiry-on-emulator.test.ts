// A membership's Checkout page that expires unpaid (Stripe expires a session after 24 hours)
// ends the membership attempt (`incomplete_expired`), on PostgreSQL and the emulator, so the
// person can subscribe again; the dead page is no longer offered.
import { useCases } from "@susu/domain";
import { describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/index.js";
import { useMonthlyPlanStack } from "./membership-stack.js";

const db = useTestDatabase();

describe("a membership's Checkout page that expires unpaid", () => {
  const stack = useMonthlyPlanStack(db);

  it("the expired page ends the membership attempt, and the person can subscribe again", async () => {
    const created = await stack.subscribeThroughCheckout("dee", stack.plan.id);
    await stack.settle();
    const before = await stack.current(created.id);
    expect(before.status).toBe("incomplete");
    if (before.start.kind !== "checkout" || before.start.sessionId === undefined)
      throw new Error("no checkout page recorded");
    const sessionId = before.start.sessionId;
    await stack.advanceDays(2);
    expect((await stack.harness.stripe.checkout.sessions.retrieve(sessionId)).status).toBe("expired");
    const after = await stack.current(created.id);
    expect(after.status).toBe("incomplete_expired");
    expect(after.endedAt).toBeDefined();
    // Again, through a new page.
    const again = await useCases.subscribe(stack.deps, {
      personId: "dee",
      planId: stack.plan.id,
      currency: "AUD",
      interval: "month",
      start: { kind: "checkout", successUrl: "https://app.example/ok", cancelUrl: "https://app.example/no" },
    });
    expect(again.isOk()).toBe(true);
    await stack.settle();
    const next = await stack.current(again._unsafeUnwrap().id);
    expect(next.status).toBe("incomplete");
    expect(next.start.kind === "checkout" && next.start.sessionId !== sessionId).toBe(true);
  });
});
