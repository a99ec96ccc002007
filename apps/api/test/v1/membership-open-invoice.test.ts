// GET /v1/subscriptions/{id}'s `openInvoice`: the invoice in dunning to pay on its hosted page,
// offered only while paying it can still keep the membership. Once Stripe ended the
// subscription (canceled, or canceled for non-payment: lapsed for good) it is no longer
// offered; an invoice paid after that is refunded in full (the domain's invoicePaid).
import { useTestDatabase } from "@susu/adapters/testing";
import { type SubscriptionInput, useCases } from "@susu/domain";
import { beforeAll, describe, expect, it } from "vitest";
import { authed } from "../support/app.js";
import { makeWorld, type World, worldApp } from "../support/world.js";

const db = useTestDatabase();
let env: ReturnType<typeof worldApp>;
let world: World;

beforeAll(async () => {
  env = worldApp(db.prisma);
  world = await makeWorld(env.deps);
});

async function hear(input: SubscriptionInput): Promise<void> {
  (await useCases.applySubscriptionInput(env.deps, world.subscriptionId, input, "stripe"))._unsafeUnwrap();
}

async function view(): Promise<{ status: string; openInvoice: unknown; refunds: unknown[] }> {
  const res = await env.app.request(`/v1/subscriptions/${world.subscriptionId}`, authed(world.tokens.member));
  expect(res.status).toBe(200);
  return (await res.json()) as { status: string; openInvoice: unknown; refunds: unknown[] };
}

describe("GET /v1/subscriptions/{id}: the open invoice", () => {
  it("is offered in dunning, not once Stripe ended the subscription; paid then, it is refunded", async () => {
    const t = env.clock.now();
    const snap = (status: "active" | "canceled", at: number) => ({
      type: "subscription_changed" as const,
      snapshot: {
        stripeSubscriptionId: "sub_open1",
        status,
        cancelAtPeriodEnd: false,
        observedAt: at,
        ...(status === "canceled" ? { endedAt: at, cancellationReason: "payment_failed" } : {}),
      },
    });
    const report = (at: number, paid: number) => ({
      invoiceId: "in_dun",
      amountDueMinor: 15_00,
      amountPaidMinor: paid,
      currency: "AUD" as const,
      hostedInvoiceUrl: "https://invoice.stripe.test/in_dun",
      observedAt: at,
    });
    await hear(snap("active", t));
    await hear({
      type: "invoice_payment_failed",
      invoice: report(t + 1_000, 0),
      attemptCount: 1,
      nextPaymentAttemptAt: t + 86_400_000,
    });
    expect((await view()).openInvoice).toEqual({
      id: "in_dun",
      amountDueMinor: 15_00,
      hostedInvoiceUrl: "https://invoice.stripe.test/in_dun",
    });
    await hear({ type: "invoice_payment_failed", invoice: report(t + 2_000, 0), attemptCount: 2 });
    await hear(snap("canceled", t + 3_000));
    const ended = await view();
    expect(ended.status).toBe("lapsed");
    expect(ended.openInvoice).toBeNull();
    // Paid on its page all the same: refunded in full.
    await hear({ type: "invoice_paid", invoice: report(t + 10_000, 15_00), paidAt: t + 10_000 });
    const paid = await view();
    expect(paid.status).toBe("lapsed");
    expect(paid.refunds).toEqual([
      { invoiceId: "in_dun", amountMinor: 15_00, refundedMinor: 0, currency: "AUD", status: "requested" },
    ]);
  });
});
