// Payouts whose news is all lost, on the real adapters: PostgreSQL (PrismaStore, the support
// desk), the Stripe gateway through the official SDK, the emulator with its Connect webhooks
// delivered to an endpoint. Every payout.* event of the payout is dropped (received, never
// processed), and in the second case Stripe's answer to the payout request too (the
// connection dropped after the payout was made, on every retry of the SDK): the payout run
// still knows the payout (recorded when made, or its request recorded before asking and
// looked up at Stripe by its key), so the next run's recheck finds it failed, tells the
// person and opens one ticket.
import { DAY_MS, type EffectPorts, money, type UseCaseDeps, useCaseDepsOn, useCases } from "@susu/domain";
import { InMemoryTimerScheduler, ManualClock, RecordingNotifier, SequentialIds } from "@susu/domain/testing";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrismaLedgerStore, PrismaStore } from "../../src/prisma/index.js";
import { PrismaSupportDesk } from "../../src/support/index.js";
import { processWebhookEvent, type WebhookContext } from "../../src/webhooks/index.js";
import {
  type StripeHarness,
  startStripeHarness,
  startWebhookReceiver,
  verifyDelivery,
  type WebhookReceiver,
} from "../stripe/emulator-harness.js";
import { useTestDatabase } from "../support/index.js";

const db = useTestDatabase();
const START = Date.UTC(2026, 6, 1, 9);
const urls = { refreshUrl: "https://app.example/r", returnUrl: "https://app.example/done", country: "AU" };

describe("payouts whose every event is lost, on PostgreSQL and the emulator", () => {
  let harness: StripeHarness;
  let receiver: WebhookReceiver;
  let store: PrismaStore;
  let deps: UseCaseDeps;
  let ports: EffectPorts;
  let ctx: WebhookContext;
  let read = 0;
  let accountId = "";
  const clock = new ManualClock(START);
  const notifier = new RecordingNotifier();

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    harness = await startStripeHarness({ startTime: START / 1000, webhookUrl: receiver.url });
    store = new PrismaStore(db.prisma, { clock });
    deps = useCaseDepsOn(store, { clock, ids: new SequentialIds(), payoutSchedule: { interval: "manual" } });
    ports = {
      gateway: harness.gateway,
      notifier,
      desk: new PrismaSupportDesk(db.prisma, clock),
      timers: new InMemoryTimerScheduler(),
      ledger: new PrismaLedgerStore(db.prisma, { clock }),
    };
    ctx = { deps, gateway: harness.gateway };
    (
      await store.commit({
        people: [
          {
            state: { id: "lou", displayName: "Lou", createdAt: clock.now(), version: 0 },
            expectedVersion: undefined,
          },
        ],
        groups: [],
        rounds: [],
        outbox: [],
        audit: [],
      })
    )._unsafeUnwrap();
    const link = (
      await useCases.startPersonPayoutOnboarding(deps, harness.gateway, "lou", urls)
    )._unsafeUnwrap();
    await harness.emulator.control.visitAccountLink(link.url);
    accountId = (await store.getPerson("lou"))._unsafeUnwrap()?.payout?.connectedAccountId ?? "";
    await process(await deliveries());
    expect((await store.getPerson("lou"))._unsafeUnwrap()?.payout?.payoutsEnabled).toBe(true);
  });
  afterAll(async () => {
    await harness?.emulator.stop();
    await receiver?.close();
  });

  /** Every webhook delivered since the last call (platform and Connect), verified, oldest first. */
  async function deliveries(): Promise<Stripe.Event[]> {
    await harness.emulator.control.flushWebhooks();
    const fresh = receiver.received.slice(read);
    read = receiver.received.length;
    return fresh.map((d) => verifyDelivery(harness.stripe, d, harness.emulator.webhookSecret));
  }

  /** Processes events as the webhook worker does. */
  async function process(events: readonly Stripe.Event[]): Promise<void> {
    for (const event of events) (await processWebhookEvent(event, ctx))._unsafeUnwrap();
  }

  /** Delivers what Stripe sent since, dropping every payout.* event: they are lost. */
  async function loseEveryPayoutEvent(): Promise<string[]> {
    const events = await deliveries();
    await process(events.filter((e) => !e.type.startsWith("payout.")));
    return events.filter((e) => e.type.startsWith("payout.")).map((e) => e.type);
  }

  async function advance(ms: number): Promise<void> {
    clock.advance(ms);
    await harness.emulator.control.advanceClock(ms / 1000);
  }

  async function fund(amountMinor: number, key: string): Promise<void> {
    await harness.emulator.control.topUp({ amount: amountMinor, currency: "aud" });
    (
      await harness.gateway.createTransfer({
        idempotencyKey: key,
        destinationAccountId: accountId,
        amount: money(amountMinor, "AUD"),
        transferGroup: key,
        references: { personId: "lou" },
      })
    )._unsafeUnwrap();
  }

  async function dispatch(): Promise<void> {
    for (let pass = 0; pass < 3; pass++)
      (await useCases.dispatchOutbox(deps, ports, store, { workerId: "dispatcher" }))._unsafeUnwrap();
  }

  it("a payout made and answered, every event lost: recorded when made, the next run's recheck finds it failed, once", async () => {
    await fund(40_00, "fund-lost-1");
    const run = (await useCases.payOutEveryone(deps, harness.gateway, clock.now()))._unsafeUnwrap();
    const payoutId = run.payouts[0]?.payoutId ?? "";
    expect(run.payouts.map((p) => p.amount)).toEqual([money(40_00, "AUD")]);
    expect(await loseEveryPayoutEvent()).toEqual(["payout.created"]);
    expect((await store.getPayout(payoutId))._unsafeUnwrap()).toMatchObject({
      personId: "lou",
      accountId,
      status: "pending",
    });
    await advance(DAY_MS);
    await harness.emulator.control.failPayout(payoutId, "account_closed");
    expect(await loseEveryPayoutEvent()).toEqual(expect.arrayContaining(["payout.failed"]));
    await advance(DAY_MS);
    const next = (await useCases.payOutEveryone(deps, harness.gateway, clock.now()))._unsafeUnwrap();
    expect(next.rechecked.changed.map((c) => c.payoutId)).toEqual([payoutId]);
    await dispatch();
    expect((await store.getPayout(payoutId))._unsafeUnwrap()).toMatchObject({
      status: "failed",
      failureCode: "account_closed",
    });
    expect(notifier.sent.map((n) => n.id)).toEqual([`payout:${payoutId}:failed:notify`]);
    const tickets = await db.prisma.supportTicket.findMany({ where: { aggregateId: payoutId } });
    expect(tickets.map((t) => t.id)).toEqual([`payout:${payoutId}:failed:ticket`]);
  });

  it("Stripe's answer lost too: the request recorded before asking is found at Stripe by its key, and its failure told once", async () => {
    await advance(DAY_MS);
    // A new bank account (the last one errored), and money to pay out.
    await harness.stripe.accounts.update(accountId, {
      external_account: {
        object: "bank_account",
        country: "AU",
        currency: "aud",
        routing_number: "110000",
        account_number: "000123456",
      },
    } as Stripe.AccountUpdateParams);
    await fund(25_00, "fund-lost-2");
    await loseEveryPayoutEvent();
    // What is available: this and whatever an earlier payout the bank returned gave back.
    const available = (await useCases.personBalance(deps, harness.gateway, "lou"))._unsafeUnwrap().provider
      .available[0];
    const amountMinor = available?.amountMinor ?? 0;
    expect(amountMinor).toBeGreaterThanOrEqual(25_00);
    // Stripe makes the payout, and the answer is lost on the SDK's first try and both retries.
    await harness.emulator.control.injectFault({
      route: "POST /v1/payouts",
      kind: "drop",
      phase: "after",
      count: 3,
    });
    const lost = (await useCases.payOutEveryone(deps, harness.gateway, clock.now()))._unsafeUnwrap();
    expect(lost.payouts).toEqual([]);
    expect(lost.failed).toEqual([expect.objectContaining({ personId: "lou" })]);
    const atStripe = (await harness.stripe.payouts.list({ limit: 1 }, { stripeAccount: accountId })).data[0];
    expect(atStripe).toMatchObject({ amount: amountMinor, status: "pending" });
    const payoutId = atStripe?.id ?? "";
    expect((await store.getPayout(payoutId))._unsafeUnwrap()).toBeUndefined();
    const key = `payout:${accountId}:AUD:${new Date(clock.now()).toISOString().slice(0, 10)}`;
    expect((await store.getPayoutRequest(key))._unsafeUnwrap()).toMatchObject({
      personId: "lou",
      amountMinor,
      currency: "AUD",
      status: "asked",
    });
    // Every event of the payout lost, and the bank returns it.
    await harness.emulator.control.failPayout(payoutId, "account_closed");
    expect(await loseEveryPayoutEvent()).toEqual(expect.arrayContaining(["payout.created", "payout.failed"]));
    const sentBefore = notifier.sent.length;
    await advance(DAY_MS);
    const next = (await useCases.payOutEveryone(deps, harness.gateway, clock.now()))._unsafeUnwrap();
    expect(next.rechecked.requests.found).toEqual([{ key, payoutId }]);
    expect(next.failed).toEqual([]);
    expect((await store.getPayoutRequest(key))._unsafeUnwrap()).toMatchObject({ status: "made", payoutId });
    expect((await store.getPayout(payoutId))._unsafeUnwrap()).toMatchObject({
      personId: "lou",
      status: "failed",
      failureCode: "account_closed",
    });
    await dispatch();
    // Once: the run after finds no request left to look up and nothing more to tell.
    const after = (await useCases.payOutEveryone(deps, harness.gateway, clock.now()))._unsafeUnwrap();
    expect(after.rechecked.requests).toEqual({ checked: 0, found: [], notMade: [], failed: [] });
    await dispatch();
    expect(notifier.sent.slice(sentBefore).map((n) => n.id)).toEqual([`payout:${payoutId}:failed:notify`]);
    const tickets = await db.prisma.supportTicket.findMany({ where: { aggregateId: payoutId } });
    expect(tickets.map((t) => t.id)).toEqual([`payout:${payoutId}:failed:ticket`]);
  });
});
