// A membership canceled while its renewal is past due: Stripe's cancel stops collecting the
// open invoice, but its hosted page could still be paid; susu voids it when it hears the
// subscription ended, so the person cannot pay for a membership that cannot come back. On
// PostgreSQL and the emulator, through the official SDK.
import { useCases } from "@susu/domain";
import { describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/index.js";
import { useMonthlyPlanStack } from "./membership-stack.js";

const db = useTestDatabase();

describe("a membership that ends with its renewal unpaid", () => {
  const stack = useMonthlyPlanStack(db);

  it("canceled while past due: the open invoice is voided at Stripe and can no longer be paid", async () => {
    const { paymentMethodId } = await stack.aPerson("fay", "pm_card_visa");
    let s = await stack.subscribed("fay", paymentMethodId);
    const stripeSub = s.stripeSubscriptionId as string;
    const failing = await stack.harness.stripe.paymentMethods.attach("pm_card_chargeCustomerFail", {
      customer: s.stripeCustomerId,
    });
    await stack.settle();
    (await useCases.setDefaultPaymentMethod(stack.deps, "fay", failing.id, "fay"))._unsafeUnwrap();
    await stack.settle();
    await stack.advanceDays(32);
    s = await stack.current(s.id);
    expect(s.status).toBe("past_due");
    const open = (await stack.harness.stripe.invoices.list({ subscription: stripeSub, status: "open" }))
      .data[0];
    if (open?.id === undefined) throw new Error("no open invoice");

    (await useCases.cancelSubscription(stack.deps, s.id, false, "fay"))._unsafeUnwrap();
    await stack.settle();
    s = await stack.current(s.id);
    expect(s.status).toBe("canceled");
    expect((await stack.harness.stripe.invoices.retrieve(open.id)).status).toBe("void");
    await expect(
      stack.harness.stripe.invoices.pay(open.id, { payment_method: "pm_card_visa" }),
    ).rejects.toThrow();
  });
});
