// An invoice voided at Stripe (`invoice.voided`: in the dashboard, by support) is no longer
// owed. The webhook translation ignored the event, so a membership past due on that invoice
// stayed past due (no plan, renewals of nothing) until some other view of the subscription came.
// Now the invoice is recorded void and the past-due membership is active again when no other
// invoice still fails. On PostgreSQL and the emulator, through the official SDK.
import { useCases } from "@susu/domain";
import { describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/index.js";
import { useMonthlyPlanStack } from "./membership-stack.js";

const db = useTestDatabase();

describe("a membership's failing invoice voided at Stripe", () => {
  const stack = useMonthlyPlanStack(db);

  it("records the invoice void and makes the past-due membership active again", async () => {
    const { paymentMethodId } = await stack.aPerson("vic", "pm_card_visa");
    let s = await stack.subscribed("vic", paymentMethodId);
    expect(s.status).toBe("active");
    const stripeSub = s.stripeSubscriptionId as string;
    // Vic makes a card that declines her default: the renewal is charged on it.
    const failing = await stack.harness.stripe.paymentMethods.attach("pm_card_chargeCustomerFail", {
      customer: s.stripeCustomerId,
    });
    await stack.settle();
    (await useCases.setDefaultPaymentMethod(stack.deps, "vic", failing.id, "vic"))._unsafeUnwrap();
    await stack.settle();
    await stack.advanceDays(32); // the renewal fails
    s = await stack.current(s.id);
    expect(s.status).toBe("past_due");
    const open = (await stack.harness.stripe.invoices.list({ subscription: stripeSub, status: "open" }))
      .data[0];
    expect(open?.id).toBeDefined();

    await stack.harness.stripe.invoices.voidInvoice(open?.id as string);
    await stack.settle();

    s = await stack.current(s.id);
    expect({ status: s.status, invoice: s.invoices.find((i) => i.id === open?.id)?.status }).toEqual({
      status: "active",
      invoice: "void",
    });
  });
});
