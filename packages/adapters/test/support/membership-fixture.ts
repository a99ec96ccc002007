// A new membership as the domain creates it, for tests that need one without a database.
import { createSubscription, type Subscription } from "@susu/domain";

/**
 * Sam's membership mbr_1 of plan_1's monthly AUD 10.00 price, no trial, created at `now`:
 * started through a Checkout page, or with saved method pm_1.
 */
export function aMembership(start: "checkout" | "saved_method", now: number): Subscription {
  return createSubscription(
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
      start:
        start === "checkout"
          ? { kind: "checkout", successUrl: "https://app.test/ok", cancelUrl: "https://app.test/no" }
          : { kind: "saved_method", paymentMethodId: "pm_1" },
    },
    { now },
  )._unsafeUnwrap().state;
}
