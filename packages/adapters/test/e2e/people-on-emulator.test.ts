// People on PostgreSQL and the emulator: someone in two groups onboards once (one
// customer, one connected account at Stripe, whichever group they start from), and one
// Stripe event about their account reaches the rounds of both groups.
import { DAY_MS, type UseCaseDeps, useCaseDepsOn, useCases } from "@susu/domain";
import { ManualClock, SequentialIds } from "@susu/domain/testing";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrismaStore } from "../../src/prisma/index.js";
import { processWebhookEvent, type WebhookContext } from "../../src/webhooks/index.js";
import { acceptBecsMandate, type StripeHarness, startStripeHarness } from "../stripe/emulator-harness.js";
import { useTestDatabase } from "../support/index.js";

const db = useTestDatabase();
const urls = { refreshUrl: "https://app.example/r", returnUrl: "https://app.example/done", country: "AU" };

describe("people on PostgreSQL and the emulator", () => {
  let harness: StripeHarness;
  let store: PrismaStore;
  let deps: UseCaseDeps;
  let ctx: WebhookContext;
  let g1: string;
  let g2: string;
  const clock = new ManualClock(Date.UTC(2026, 5, 1));

  beforeAll(async () => {
    harness = await startStripeHarness();
    store = new PrismaStore(db.prisma, { clock });
    deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    ctx = { deps, gateway: harness.gateway };
    const group = (creator: string, name: string) =>
      useCases.createGroup(deps, {
        name,
        currency: "AUD",
        contributionMinor: 100_00,
        cadence: "weekly",
        startsAt: clock.now() + DAY_MS,
        payoutOrderMethod: "join_order",
        creator: { id: creator, displayName: creator.toUpperCase() },
      });
    g1 = (await group("ana", "Ana's savers"))._unsafeUnwrap().id;
    (await useCases.joinGroup(deps, g1, { id: "ben", displayName: "Ben" }))._unsafeUnwrap();
    g2 = (await group("cy", "Cy's savers"))._unsafeUnwrap().id;
    (await useCases.joinGroup(deps, g2, { id: "ana", displayName: "Ana" }))._unsafeUnwrap();
    // ana receives first in both groups.
    (await useCases.setPayoutOrder(deps, g2, "cy", ["ana", "cy"]))._unsafeUnwrap();
    await harness.events.skipExisting();
  });
  afterAll(async () => {
    await harness?.emulator.stop();
  });

  /** Applies events as the webhook processor does. */
  async function processAll(events: readonly Stripe.Event[]): Promise<string[]> {
    const outcomes: string[] = [];
    for (const event of events) {
      const outcome = (await processWebhookEvent(event, ctx))._unsafeUnwrap();
      outcomes.push(outcome.status === "processed" ? outcome.outcome : `ignored: ${outcome.reason}`);
    }
    return outcomes;
  }

  /** The newest account.updated of a connected account (Connect events belong to the account). */
  async function lastAccountUpdate(accountId: string): Promise<Stripe.Event> {
    const page = await harness.stripe.events.list(
      { type: "account.updated", limit: 1 },
      { stripeAccount: accountId },
    );
    const event = page.data[0];
    if (!event) throw new Error(`no account.updated for ${accountId}`);
    return event;
  }

  async function ownedBy(personId: string) {
    const customers = [];
    for await (const c of harness.stripe.customers.list({ limit: 100 }))
      if (c.metadata?.person_id === personId) customers.push(c.id);
    const accounts = [];
    for await (const a of harness.stripe.accounts.list({ limit: 100 }))
      if (a.metadata?.person_id === personId) accounts.push(a.id);
    return { customers, accounts };
  }

  it("a person in two groups onboards once: one customer and one account at Stripe, stored on the person", async () => {
    const fromG1 = (await useCases.startDebitSetup(deps, harness.gateway, g1, "ana", "1"))._unsafeUnwrap();
    const fromG2 = (await useCases.startDebitSetup(deps, harness.gateway, g2, "ana", "1"))._unsafeUnwrap();
    expect(fromG2).toEqual(fromG1);
    const link1 = (
      await useCases.startPayoutOnboarding(deps, harness.gateway, g1, "ana", urls)
    )._unsafeUnwrap();
    (await useCases.startPayoutOnboarding(deps, harness.gateway, g2, "ana", urls))._unsafeUnwrap();
    expect(link1.url).toMatch(/^https?:\/\//);

    const owned = await ownedBy("ana");
    expect(owned.customers).toHaveLength(1);
    expect(owned.accounts).toHaveLength(1);
    const setupIntent = await harness.stripe.setupIntents.retrieve(fromG1.setupIntentId);
    expect(setupIntent.metadata).toMatchObject({ person_id: "ana", effect_id: "person:ana:debit_setup:1" });
    expect(setupIntent.customer).toBe(owned.customers[0]);

    // ana accepts the mandate in the app; Stripe reports it; the person holds it, active.
    await acceptBecsMandate(harness.stripe, fromG1.setupIntentId, "000123456");
    const outcomes = await processAll(await harness.events.next());
    expect(outcomes.filter((o) => o.includes("stored for ana"))).toHaveLength(1);
    // ana finishes Stripe's onboarding; account.updated enables payouts.
    const accountId = owned.accounts[0] ?? "";
    await harness.emulator.control.completeAccountOnboarding(accountId);
    expect(await processAll([await lastAccountUpdate(accountId)])).toEqual([
      `account ${accountId}: payoutsEnabled=true for ana`,
    ]);

    const ana = (await store.getPerson("ana"))._unsafeUnwrap();
    expect(ana).toMatchObject({
      customerId: owned.customers[0],
      debit: { mandateActive: true },
      payout: { connectedAccountId: accountId, payoutsEnabled: true },
    });
    expect(await db.prisma.person.count({ where: { stripeCustomerId: { not: null } } })).toBe(1);
  });

  it("one account.updated reaches the rounds of both groups where the person is the recipient", async () => {
    for (const id of ["ben", "cy"]) {
      const saved = await harness.customerWithMandate(id, "000123456");
      const account = await harness.driver.connectedAccount({ canReceive: true });
      const { customerId, paymentMethodId, mandateId } = saved;
      (
        await useCases.updatePersonPayment(
          deps,
          id,
          {
            customerId,
            debit: { paymentMethodId, mandateId, mandateActive: true },
            connectedAccountId: account,
          },
          "test",
        )
      )._unsafeUnwrap();
      (await useCases.updatePersonReadiness(deps, id, { payoutsEnabled: true }, "test"))._unsafeUnwrap();
    }
    (await useCases.activateGroup(deps, g1, "ana"))._unsafeUnwrap();
    (await useCases.activateGroup(deps, g2, "cy"))._unsafeUnwrap();
    clock.advance(2 * DAY_MS);
    const rounds = [
      (await useCases.startRound(deps, g1, { memberId: "ana" }))._unsafeUnwrap().state,
      (await useCases.startRound(deps, g2, "scheduler"))._unsafeUnwrap().state,
    ];
    expect(rounds.map((r) => [r.recipientMemberId, r.recipientCanReceive])).toEqual([
      ["ana", true],
      ["ana", true],
    ]);

    const ana = (await store.getPerson("ana"))._unsafeUnwrap();
    const accountId = ana?.payout?.connectedAccountId ?? "";
    const personWrites = () =>
      db.prisma.auditLogEntry.count({
        where: { aggregateType: "person", aggregateId: "ana", outcome: "applied" },
      });
    const writesBefore = await personWrites();
    await harness.emulator.control.disableTransfers(accountId);
    const event = await lastAccountUpdate(accountId);
    expect(await processAll([event])).toEqual([`account ${accountId}: payoutsEnabled=false for ana`]);
    expect(await personWrites()).toBe(writesBefore + 1);
    expect((await store.getPerson("ana"))._unsafeUnwrap()?.version).toBe((ana?.version ?? 0) + 1);
    for (const r of rounds)
      expect((await store.getRound(r.id))._unsafeUnwrap()?.recipientCanReceive).toBe(false);
    const heard = await db.prisma.auditLogEntry.findMany({
      where: { action: "recipient_readiness", actor: `stripe:${event.id}` },
      orderBy: { aggregateId: "asc" },
    });
    expect(heard.map((a) => [a.aggregateId, a.outcome])).toEqual(rounds.map((r) => [r.id, "applied"]).sort());

    // Fixed once at Stripe: both rounds hear it again.
    await harness.emulator.control.completeAccountOnboarding(accountId);
    await processAll([await lastAccountUpdate(accountId)]);
    for (const r of rounds)
      expect((await store.getRound(r.id))._unsafeUnwrap()?.recipientCanReceive).toBe(true);
  });
});
