// What a membership entitles, checked by the use cases that take on new obligations
// (creating or joining a group, selling bookings) — and never by what is already under way:
// a lapsed membership stops nothing a person already takes part in.
import { describe, expect, it } from "vitest";
import type { Entitlements } from "../membership/entitlements.js";
import { DAY_MS, HOUR_MS } from "../shared/time.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import { loggingReads } from "../testing/recorders.js";
import * as useCases from "./index.js";

const NOTHING: Entitlements = { createGroups: false, maxOpenGroups: 0, sellBookings: false };
const HOST: Entitlements = { createGroups: true, maxOpenGroups: 1, sellBookings: true };

async function withPlan(sim: InMemorySusu): Promise<string> {
  const plan = (
    await useCases.createPlan(
      sim.deps,
      {
        name: "Host",
        entitlements: HOST,
        prices: [{ currency: "AUD", interval: "month", amountMinor: 10_00 }],
      },
      { operator: "olga" },
    )
  )._unsafeUnwrap();
  await sim.runUntilQuiet();
  return plan.id;
}

async function member(sim: InMemorySusu, personId: string, planId: string): Promise<string> {
  const card = await sim.saveCard(personId);
  const s = (
    await useCases.subscribe(sim.deps, {
      personId,
      planId,
      currency: "AUD",
      interval: "month",
      start: { kind: "saved_method", paymentMethodId: card },
    })
  )._unsafeUnwrap();
  await sim.runUntilQuiet();
  return s.id;
}

const group = (sim: InMemorySusu, creator: string, name = "Savers") =>
  useCases.createGroup(sim.deps, {
    name,
    currency: "AUD",
    contributionMinor: 100_00,
    cadence: "weekly",
    startsAt: sim.clock.now() + DAY_MS,
    payoutOrderMethod: "join_order",
    creator: { id: creator, displayName: creator },
  });

const booking = (seller: string, reference: string) => ({
  requestedBy: "app_bookings",
  clientReference: reference,
  amountMinor: 100_00,
  currency: "AUD",
  sellerId: seller,
  description: "Two nights by the sea",
  customer: { email: "cy@example.com" },
  fee: { kind: "rate" as const, basisPoints: 1_000 },
  successUrl: "https://app.example/done",
});

/** The person's membership lapses: Stripe's last retry of a renewal failed. */
async function lapse(sim: InMemorySusu, subscriptionId: string): Promise<void> {
  const s = sim.store.subscriptions().find((x) => x.id === subscriptionId);
  (
    await sim.deliver([
      {
        kind: "invoice_payment_failed",
        refs: { subscriptionId },
        stripeSubscriptionId: s?.stripeSubscriptionId ?? "",
        invoice: {
          invoiceId: "in_renewal",
          amountDueMinor: 10_00,
          amountPaidMinor: 0,
          currency: "AUD",
          observedAt: sim.clock.now(),
        },
        attemptCount: 4,
      },
    ])
  )._unsafeUnwrap();
  expect(sim.store.subscriptions().find((x) => x.id === subscriptionId)?.status).toBe("lapsed");
}

describe("entitlements in the use cases", () => {
  it("by default (no configuration) nobody needs a membership: today's behaviour", async () => {
    const sim = new InMemorySusu();
    (await sim.addSeller("ana"))._unsafeUnwrap();
    (await group(sim, "ana", "One"))._unsafeUnwrap();
    (await group(sim, "ana", "Two"))._unsafeUnwrap();
    (await useCases.createHeldPayment(sim.deps, booking("ana", "b1")))._unsafeUnwrap();
  });

  it("with a narrow default, creating groups and selling need a membership that grants them, within its group limit", async () => {
    const sim = new InMemorySusu({ defaultEntitlements: NOTHING });
    const planId = await withPlan(sim);
    (await sim.addSeller("ana"))._unsafeUnwrap();
    expect((await group(sim, "ana"))._unsafeUnwrapErr().code).toBe("not_entitled");
    expect((await useCases.createHeldPayment(sim.deps, booking("ana", "b1")))._unsafeUnwrapErr().code).toBe(
      "not_entitled",
    );
    await member(sim, "ana", planId);
    const first = (await group(sim, "ana", "One"))._unsafeUnwrap();
    const second = await group(sim, "ana", "Two");
    expect(second._unsafeUnwrapErr().code).toBe("not_entitled");
    expect(sim.store.groups().map((g) => g.id)).toEqual([first.id]);
    (await useCases.createHeldPayment(sim.deps, booking("ana", "b1")))._unsafeUnwrap();
    // Joining another's group counts against the limit too.
    (await sim.addSeller("ben"))._unsafeUnwrap();
    await member(sim, "ben", planId);
    const bens = (await group(sim, "ben", "Ben's"))._unsafeUnwrap();
    expect(
      (await useCases.joinGroup(sim.deps, bens.id, { id: "ana", displayName: "Ana" }))._unsafeUnwrapErr()
        .code,
    ).toBe("not_entitled");
    expect(
      (
        await useCases.joinGroupWithReadiness(sim.deps, bens.id, { id: "ana", displayName: "Ana" })
      )._unsafeUnwrapErr().code,
    ).toBe("not_entitled");
    expect(
      sim.store
        .groups()
        .find((g) => g.id === bens.id)
        ?.members.map((m) => m.id),
    ).toEqual(["ben"]);
  });

  it("creating a group reads the creator's person beside the entitlements, and still refuses not_entitled first", async () => {
    const sim = new InMemorySusu({ defaultEntitlements: NOTHING });
    const planId = await withPlan(sim);
    (await sim.addSeller("ana"))._unsafeUnwrap();
    (await sim.addSeller("bob"))._unsafeUnwrap();
    await member(sim, "ana", planId);
    const log: string[] = [];
    const deps = {
      ...sim.deps,
      people: loggingReads(sim.deps.people, log),
      subscriptions: loggingReads(sim.deps.subscriptions, log),
    };
    const command = (creator: string) => ({
      name: "Side by side",
      currency: "AUD" as const,
      contributionMinor: 100_00,
      cadence: "weekly" as const,
      startsAt: sim.clock.now() + DAY_MS,
      payoutOrderMethod: "join_order" as const,
      creator: { id: creator, displayName: creator },
    });

    const created = (await useCases.createGroup(deps, command("ana")))._unsafeUnwrap();

    expect(log.slice(0, 2)).toEqual(["listSubscriptionsOfPerson starts", "getPerson starts"]);
    expect(created.members.map((m) => m.id)).toEqual(["ana"]);
    expect((await useCases.createGroup(deps, command("bob")))._unsafeUnwrapErr().code).toBe("not_entitled");
    expect(sim.store.groups().map((g) => g.id)).toEqual([created.id]);
  });

  it("a lapsed membership stops new sales and groups, never a booking already paid: it is still released", async () => {
    const sim = new InMemorySusu({ defaultEntitlements: NOTHING });
    const planId = await withPlan(sim);
    (await sim.addSeller("sel"))._unsafeUnwrap();
    const subscriptionId = await member(sim, "sel", planId);
    const held = (await useCases.createHeldPayment(sim.deps, booking("sel", "b1")))._unsafeUnwrap();
    const g = (await group(sim, "sel"))._unsafeUnwrap();
    await sim.runUntilQuiet();
    await sim.payCheckout(held.payment.id, "card");
    (await useCases.confirmFulfilled(sim.deps, held.payment.id, "app_bookings"))._unsafeUnwrap();
    await lapse(sim, subscriptionId);
    expect((await useCases.createHeldPayment(sim.deps, booking("sel", "b2")))._unsafeUnwrapErr().code).toBe(
      "not_entitled",
    );
    expect((await group(sim, "sel", "Another"))._unsafeUnwrapErr().code).toBe("not_entitled");
    await sim.advance(72 * HOUR_MS + HOUR_MS);
    expect(sim.store.heldPayments().find((p) => p.id === held.payment.id)?.status).toBe("released");
    // The group they run is theirs still: members join it (their own entitlements permitting).
    expect(sim.store.groups().find((x) => x.id === g.id)?.status).toBe("forming");
  });
});
