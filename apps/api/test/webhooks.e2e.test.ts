import type { Server } from "node:http";
import { serve } from "@hono/node-server";
import {
  PrismaStore,
  PrismaSupportDesk,
  PrismaWebhookInbox,
  processWebhookInbox,
  RandomIds,
  StripePaymentGateway,
  SystemClock,
  type WebhookPassReport,
  type WebhookProcessorContext,
} from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { markRoundOpened, money, type Person, type Round, useCaseDepsOn, useCases } from "@susu/domain";
import { anActiveGroup, aRoundOf } from "@susu/domain/testing";
import { type RunningEmulator, startEmulator } from "@susu/stripe-emulator";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app.js";
import { testHttp } from "./support/app.js";

// The whole webhook path with nothing faked: the Stripe emulator makes real objects and
// delivers signed events (every delivery twice, each batch shuffled) over HTTP to the API
// app; the API verifies and stores them in PostgreSQL; the processor applies them to a
// round stored by PrismaStore, finding people by their Stripe objects.

const db = useTestDatabase();
const secret = "whsec_end_to_end_test_secret";
const groupId = "grp_e2e";
const roundId = "round_e2e";
const members = ["ana", "ben"] as const;

let server: Server;
let emulator: RunningEmulator;
let gateway: StripePaymentGateway;
let store: PrismaStore;
let ctx: WebhookProcessorContext;
let inbox: PrismaWebhookInbox;
let apiUrl: string;

beforeAll(async () => {
  const clock = new SystemClock();
  store = new PrismaStore(db.prisma, { clock });
  const deps = useCaseDepsOn(store, { clock, ids: new RandomIds() });
  inbox = new PrismaWebhookInbox(db.prisma, clock);
  // The API is listening before the emulator starts (the emulator's endpoint is its URL),
  // and it is built once the emulator is there: its gateway is the real one, on the emulator.
  let app: ReturnType<typeof createApp> | undefined;
  const port = await new Promise<number>((resolve) => {
    server = serve(
      {
        fetch: (request) => app?.fetch(request) ?? new Response("not started", { status: 503 }),
        port: 0,
        hostname: "127.0.0.1",
      },
      (info) => resolve(info.port),
    ) as Server;
  });
  apiUrl = `http://127.0.0.1:${port}/webhooks/stripe`;
  emulator = await startEmulator({
    port: 0,
    fees: false,
    webhookUrl: apiUrl,
    webhookSecret: secret,
    webhookChaos: { seed: 20_261_122, duplicate: 1, outOfOrder: 1 },
  });
  const url = new URL(emulator.url);
  gateway = new StripePaymentGateway({
    secretKey: emulator.secretKey,
    host: url.hostname,
    port: Number(url.port),
    protocol: "http",
    timeoutMs: 5_000,
    maxNetworkRetries: 2,
  });
  app = createApp({
    useCases: deps,
    ping: async () => undefined,
    webhooks: { stripeSecret: secret, inbox },
    http: testHttp(),
    gateway,
  });
  ctx = {
    deps,
    inbox,
    gateway,
    desk: new PrismaSupportDesk(db.prisma, clock),
  };

  const base = anActiveGroup({ id: groupId, memberIds: [...members] });
  const round = aRoundOf(base, [], { id: roundId, now: Date.now() });
  const group = markRoundOpened(base, roundId)._unsafeUnwrap();
  // The members are people who have not set anything up at Stripe yet: the events below do.
  const people: Person[] = members.map((id) => ({ id, displayName: id, createdAt: Date.now(), version: 0 }));
  (
    await store.commit({
      people: people.map((state) => ({ state, expectedVersion: undefined })),
      groups: [{ state: group, expectedVersion: undefined }],
      rounds: [{ state: round, expectedVersion: undefined }],
      outbox: [],
      audit: [],
    })
  )._unsafeUnwrap();
});

afterAll(async () => {
  await emulator?.stop();
  await new Promise<void>((resolve) => {
    server?.close(() => resolve());
    server?.closeAllConnections();
  });
});

const total: WebhookPassReport = {
  claimed: 0,
  processed: 0,
  ignored: 0,
  retried: 0,
  parked: 0,
  leaseLost: 0,
};

/** Waits until the emulator has delivered everything, then runs processor passes until the inbox is empty. */
async function deliverAndProcess(): Promise<WebhookPassReport> {
  await emulator.control.flushWebhooks();
  let sum = { ...total };
  for (;;) {
    const report = (await processWebhookInbox(ctx, { workerId: "e2e" }))._unsafeUnwrap();
    sum = {
      claimed: sum.claimed + report.claimed,
      processed: sum.processed + report.processed,
      ignored: sum.ignored + report.ignored,
      retried: sum.retried + report.retried,
      parked: sum.parked + report.parked,
      leaseLost: sum.leaseLost + report.leaseLost,
    };
    if (report.claimed === 0) return sum;
  }
}

async function currentRound(): Promise<Round> {
  const round = (await store.getRound(roundId))._unsafeUnwrap();
  if (!round) throw new Error("the round is gone");
  return round;
}

/** What the member's device does with the SetupIntent (Stripe.js in production). */
async function acceptMandate(setupIntentId: string): Promise<void> {
  const si = await gateway.stripe.setupIntents.confirm(setupIntentId, {
    payment_method_data: {
      type: "au_becs_debit",
      au_becs_debit: { bsb_number: "000000", account_number: "000123456" },
      billing_details: { name: "Test Member", email: "member@example.com" },
    },
    mandate_data: {
      customer_acceptance: { type: "online", online: { ip_address: "203.0.113.7", user_agent: "susu-e2e" } },
    },
  });
  expect(si.status).toBe("succeeded");
}

describe("Stripe → API → inbox → processor → round", () => {
  it("BECS set-up and debits: people's mandates stored, then each debit processing, then succeeded", async () => {
    const round = await currentRound();
    for (const memberId of members) {
      const references = { groupId, memberId };
      const customer = (
        await gateway.createCustomer({
          idempotencyKey: `e2e:customer:${memberId}`,
          name: memberId,
          references,
          // A first request: made now, under a key Stripe keeps.
          notBefore: Date.now(),
          effectCreatedAt: Date.now(),
        })
      )._unsafeUnwrap();
      const setup = (
        await gateway.createDebitSetup({
          idempotencyKey: `e2e:setup:${memberId}`,
          customerId: customer.customerId,
          references,
        })
      )._unsafeUnwrap();
      await acceptMandate(setup.setupIntentId);
    }
    const setUp = await deliverAndProcess();
    expect(setUp).toMatchObject({ retried: 0, parked: 0 });
    expect(setUp.processed).toBeGreaterThanOrEqual(members.length);
    // setup_intent.succeeded stored each person's real Stripe objects, and the mandate (read back from Stripe) is active.
    const saved = new Map(
      (await store.getPeople([...members]))._unsafeUnwrap().map((p) => [p.id, p] as const),
    );
    for (const memberId of members) {
      const person = saved.get(memberId);
      expect(person?.customerId).toMatch(/^cus_/);
      expect(person?.debit?.paymentMethodId).toMatch(/^pm_/);
      expect(person?.debit?.mandateId).toMatch(/^mandate_/);
      expect(person?.debit?.mandateActive).toBe(true);
    }

    // The round's debit effects, made the way the outbox dispatcher makes them.
    for (const c of round.contributions) {
      const person = saved.get(c.memberId);
      const attempt = c.attempts[0];
      if (!person || !attempt) throw new Error(`no attempt for ${c.memberId}`);
      const debit = await gateway.createDebit({
        idempotencyKey: attempt.effectId,
        customerId: person.customerId ?? "",
        paymentMethodId: person.debit?.paymentMethodId ?? "",
        mandateId: person.debit?.mandateId ?? "",
        amount: money(c.amountMinor, round.currency),
        transferGroup: round.transferGroup,
        description: `Contribution to ${roundId}`,
        references: { groupId, roundId, memberId: c.memberId, attempt: attempt.number },
      });
      expect(debit._unsafeUnwrap().status).toBe("processing");
    }
    expect(await deliverAndProcess()).toMatchObject({ retried: 0, parked: 0 });
    expect((await currentRound()).contributions.map((c) => c.status)).toEqual(["processing", "processing"]);

    // Three days on, BECS settles: payment_intent.succeeded for each debit.
    await emulator.control.advanceClock(3 * 86_400 + 1);
    expect(await deliverAndProcess()).toMatchObject({ retried: 0, parked: 0 });
    const settled = await currentRound();
    expect(settled.contributions.map((c) => c.status)).toEqual(["succeeded", "succeeded"]);
    // Every contribution in: the pot is paid out at once (the recipient can receive).
    expect(settled.status).toBe("paying_out");

    const applied = await db.prisma.auditLogEntry.findMany({
      where: { aggregateId: roundId, action: "debit_succeeded" },
    });
    expect(applied).toHaveLength(2);
    expect(applied.every((a) => a.outcome === "applied" && a.actor.startsWith("stripe:evt_"))).toBe(true);

    // Chaos sent every delivery twice; the inbox kept each event once and nothing is left to do.
    const deliveries = await emulator.control.webhookDeliveries();
    const rows = await db.prisma.webhookEvent.groupBy({ by: ["status"], _count: true });
    const stored = rows.reduce((n, r) => n + r._count, 0);
    expect(deliveries.length).toBeGreaterThanOrEqual(2 * stored);
    expect(rows.map((r) => r.status).sort()).toEqual(["ignored", "processed"]);
  });

  it("replaying every event (re-signed, newest first) changes nothing", async () => {
    const before = await currentRound();
    const auditBefore = await db.prisma.auditLogEntry.count();
    const groupBefore = (await store.getGroup(groupId))._unsafeUnwrap();
    const peopleBefore = (await store.getPeople([...members]))._unsafeUnwrap();
    const events = await db.prisma.webhookEvent.findMany({ orderBy: { stripeCreatedAt: "desc" } });
    expect(events.length).toBeGreaterThan(10);
    for (const row of events) {
      const body = JSON.stringify(row.payload);
      const response = await fetch(apiUrl, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "stripe-signature": Stripe.webhooks.generateTestHeaderString({ payload: body, secret }),
        },
        body,
      });
      expect(response.status).toBe(200);
    }
    // Stripe's own redelivery of everything, duplicated and shuffled again.
    await emulator.control.deliverPendingWebhooks();
    expect(await deliverAndProcess()).toMatchObject({ claimed: 0 });
    expect(await currentRound()).toEqual(before);
    expect((await store.getGroup(groupId))._unsafeUnwrap()).toEqual(groupBefore);
    expect((await store.getPeople([...members]))._unsafeUnwrap()).toEqual(peopleBefore);
    expect(await db.prisma.auditLogEntry.count()).toBe(auditBefore);
  });

  it("connected accounts: found through the person who owns them, readiness read back from Stripe", async () => {
    const memberReady = async (memberId: string) =>
      (await store.getPerson(memberId))._unsafeUnwrap()?.payout?.payoutsEnabled;
    const account = await gateway.stripe.accounts.create({
      type: "express",
      country: "AU",
      capabilities: { transfers: { requested: true } },
    });
    (
      await useCases.updatePersonPayment(ctx.deps, "ben", { connectedAccountId: account.id }, "test")
    )._unsafeUnwrap();
    await emulator.control.completeAccountOnboarding(account.id);
    expect(await deliverAndProcess()).toMatchObject({ retried: 0, parked: 0 });
    expect(await memberReady("ben")).toBe(true);

    await emulator.control.disableTransfers(account.id);
    expect(await deliverAndProcess()).toMatchObject({ retried: 0, parked: 0 });
    expect(await memberReady("ben")).toBe(false);
    // The event that did it says so. (Not found as the last by Stripe's `created`: the
    // emulator's clock has one-second steps, and both account.updated events may share one.)
    const updates = await db.prisma.webhookEvent.findMany({
      where: { type: "account.updated", status: "processed" },
    });
    expect(updates.map((u) => u.outcome)).toContain(`account ${account.id}: payoutsEnabled=false for ben`);

    await emulator.control.completeAccountOnboarding(account.id);
    await deliverAndProcess();
    expect(await memberReady("ben")).toBe(true);
    await emulator.control.deauthorizeAccount(account.id);
    expect(await deliverAndProcess()).toMatchObject({ retried: 0, parked: 0 });
    expect(await memberReady("ben")).toBe(false);
  });
});
