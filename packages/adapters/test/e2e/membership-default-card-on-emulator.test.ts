// The card a membership is charged on follows the person's default card: making a card the
// default (POST /v1/people/{id}/payment-methods/{pm}/default) moves their current
// membership's Stripe subscription to it (its own default_payment_method, which Stripe uses
// before the customer's), so dunning's next retry charges the new card. On PostgreSQL and the
// emulator, through the official SDK.
import { useCases } from "@susu/domain";
import { describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/index.js";
import { useMonthlyPlanStack } from "./membership-stack.js";

const db = useTestDatabase();

describe("a membership follows the person's default card", () => {
  const stack = useMonthlyPlanStack(db);

  it("a new default card is the one dunning's next retry charges", async () => {
    const { paymentMethodId } = await stack.aPerson("eve", "pm_card_visa");
    let s = await stack.subscribed("eve", paymentMethodId);
    expect(s.status).toBe("active");
    const stripeSub = s.stripeSubscriptionId as string;

    // Eve's card starts failing and she makes the failing one her default (a new card she saved).
    const failing = await stack.harness.stripe.paymentMethods.attach("pm_card_chargeCustomerFail", {
      customer: s.stripeCustomerId,
    });
    await stack.settle();
    (await useCases.setDefaultPaymentMethod(stack.deps, "eve", failing.id, "eve"))._unsafeUnwrap();
    await stack.settle();
    expect((await stack.harness.stripe.subscriptions.retrieve(stripeSub)).default_payment_method).toBe(
      failing.id,
    );
    await stack.advanceDays(32); // the renewal (drafted a month on, finalized an hour later) fails
    s = await stack.current(s.id);
    expect(s.status).toBe("past_due");

    // She saves a good card and makes it her default: the next retry charges it.
    const good = await stack.harness.stripe.paymentMethods.attach("pm_card_visa", {
      customer: s.stripeCustomerId,
    });
    await stack.settle();
    (await useCases.setDefaultPaymentMethod(stack.deps, "eve", good.id, "eve"))._unsafeUnwrap();
    await stack.settle();
    expect((await stack.harness.stripe.subscriptions.retrieve(stripeSub)).default_payment_method).toBe(
      good.id,
    );
    const open = (await stack.harness.stripe.invoices.list({ subscription: stripeSub, status: "open" }))
      .data[0];
    const retryAt = open?.next_payment_attempt ?? 0;
    expect(retryAt).toBeGreaterThan(0);
    await stack.advanceSeconds(retryAt - (await stack.harness.emulator.control.now()) + 60);
    s = await stack.current(s.id);
    expect(s.status).toBe("active");
    expect(s.invoices.find((i) => i.id === open?.id)?.status).toBe("paid");
  });
});
