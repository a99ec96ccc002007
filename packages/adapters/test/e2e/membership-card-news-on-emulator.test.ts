// A membership's card news on PostgreSQL and the emulator, through the official SDK.
// - A card change Stripe refuses: the person makes a card their default, and before the outbox
//   asks Stripe to charge their membership on it the card is detached at Stripe. Stripe refuses
//   the call for good; the change is dropped (not parked for an operator), the person told
//   once, and the membership stays on the card Stripe charges.
// - The card a membership is charged on detached at Stripe, with no other card: the person is
//   told to save one, and the same news heard again writes its audit line once.
import { useCases } from "@susu/domain";
import { ManualClock, RecordingNotifier } from "@susu/domain/testing";
import { describe, expect, it } from "vitest";
import { processWebhookEvent } from "../../src/webhooks/index.js";
import { useTestDatabase } from "../support/index.js";
import { useMembershipStack } from "./membership-stack.js";

const db = useTestDatabase();

describe("a new default card Stripe refuses to charge the membership on", () => {
  const notifier = new RecordingNotifier();
  const stack = useMembershipStack(db, {
    clock: new ManualClock(Date.UTC(2026, 6, 1)),
    notifier,
    plan: {
      name: "Organiser",
      entitlements: { createGroups: true, maxOpenGroups: 10, sellBookings: true },
      trialDays: 0,
      prices: [{ currency: "AUD", interval: "month", amountMinor: 15_00 }],
    },
  });

  it("detached at Stripe before the change ran: the change is dropped (not parked), the person told once, Stripe still charges the first card", async () => {
    const { paymentMethodId: first } = await stack.aPerson("flo", "pm_card_visa");
    const s = await stack.subscribed("flo", first);
    const stripeSub = s.stripeSubscriptionId as string;
    const second = await stack.harness.stripe.paymentMethods.attach("pm_card_mastercard", {
      customer: s.stripeCustomerId,
    });
    await stack.settle();
    // Flo makes it her default; before the outbox asks Stripe, the card is detached there.
    (await useCases.setDefaultPaymentMethod(stack.deps, "flo", second.id, "flo"))._unsafeUnwrap();
    await stack.harness.stripe.paymentMethods.detach(second.id);
    await stack.settle(); // fails if an effect was parked

    const after = await stack.current(s.id);
    expect({
      atStripe: (await stack.harness.stripe.subscriptions.retrieve(stripeSub)).default_payment_method,
      billed: after.paymentMethodId ?? first,
      waiting: after.pendingPaymentMethod,
      told: notifier.sent
        .filter((n) => n.template === "membership_card_change_refused")
        .map((n) => [n.id, n.personIds, n.data.requestedPaymentMethodId]),
    }).toEqual({
      atStripe: first,
      billed: first,
      waiting: undefined,
      told: [[`${s.id}:notify:membership_card_change_refused:1`, ["flo"], second.id]],
    });
  });

  it("the card a membership is charged on detached at Stripe, no other card: its news heard again writes the audit line once", async () => {
    const { paymentMethodId: only } = await stack.aPerson("gil", "pm_card_visa");
    await stack.subscribed("gil", only);
    await stack.harness.stripe.paymentMethods.detach(only);
    await stack.settle();
    // The same event delivered again, late (Stripe retries a delivery it thinks failed).
    const event = (
      await stack.harness.stripe.events.list({ type: "payment_method.detached", limit: 100 })
    ).data.find((e) => (e.data.object as { id: string }).id === only);
    if (event === undefined) throw new Error("no payment_method.detached event");
    for (let i = 0; i < 2; i++) (await processWebhookEvent(event, stack.ctx))._unsafeUnwrap();
    await stack.settle();
    const lines = await db.prisma.auditLogEntry.findMany({
      where: { aggregateId: only, action: "membership_card_detached" },
    });
    expect(lines).toHaveLength(1);
    expect(
      notifier.sent.filter((n) => n.template === "membership_card_detached" && n.personIds.includes("gil")),
    ).toHaveLength(1);
  });
});
