// A membership invoice's refund as GET /v1/subscriptions/{id} shows it, on PostgreSQL (the
// subscription stored and loaded through the adapters' snapshot schema): `amountMinor` is
// what susu asked to give back (all the invoice collected), `refundedMinor` what went back —
// less when part of the payment was refunded outside susu before, nothing once Stripe failed
// the refund after it succeeded. The refund news is fed to the domain's use cases as the
// webhook translator does (that translation from the emulator's events is tested in
// packages/adapters/test/e2e/membership-on-emulator.test.ts).
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

async function refunds(): Promise<unknown> {
  const res = await env.app.request(`/v1/subscriptions/${world.subscriptionId}`, authed(world.tokens.member));
  expect(res.status).toBe(200);
  return ((await res.json()) as { refunds: unknown }).refunds;
}

describe("GET /v1/subscriptions/{id}: refunds", () => {
  it("shows what was asked back and what went back, apart, as the refund goes on", async () => {
    // Canceled before Stripe started it, then its first invoice (15.00) was paid at Stripe anyway.
    (await useCases.cancelSubscription(env.deps, world.subscriptionId, false, world.member))._unsafeUnwrap();
    const at = env.clock.now();
    await hear({
      type: "invoice_paid",
      invoice: {
        invoiceId: "in_late",
        amountDueMinor: 15_00,
        amountPaidMinor: 15_00,
        currency: "AUD",
        observedAt: at,
      },
      paidAt: at,
    });
    const row = (refundedMinor: number, status: string) => ({
      invoiceId: "in_late",
      amountMinor: 15_00,
      refundedMinor,
      currency: "AUD",
      status,
    });
    expect(await refunds()).toEqual([row(0, "requested")]);
    // 6.00 of the payment had been refunded from the dashboard: susu's refund makes the other 9.00.
    await hear({ type: "invoice_refunds_made", invoiceId: "in_late", refundIds: ["re_9"] });
    await hear({
      type: "invoice_refund_settled",
      invoiceId: "in_late",
      outcome: "succeeded",
      refundId: "re_9",
      amountMinor: 9_00,
    });
    expect(await refunds()).toEqual([row(9_00, "succeeded")]);
    // Stripe fails it afterwards: nothing went back.
    await hear({
      type: "invoice_refund_settled",
      invoiceId: "in_late",
      outcome: "failed",
      refundId: "re_9",
      amountMinor: 9_00,
      failureCode: "expired_or_canceled_card",
    });
    expect(await refunds()).toEqual([row(0, "failed")]);
  });

  it("describes both amounts in the OpenAPI document", async () => {
    const res = await env.app.request("/v1/openapi.json");
    type Schema = {
      properties: Record<string, Schema & { description?: string }>;
      items: Schema;
      required: string[];
    };
    const doc = (await res.json()) as { components: { schemas: Record<string, Schema> } };
    const refund = doc.components.schemas.Subscription?.properties.refunds?.items;
    if (refund === undefined) throw new Error("no Subscription.refunds in the document");
    expect(refund.required).toEqual(expect.arrayContaining(["amountMinor", "refundedMinor"]));
    expect(refund.properties.amountMinor?.description).toMatch(/asked Stripe to give back/);
    expect(refund.properties.refundedMinor?.description).toMatch(/went back/);
  });
});
