// Payouts of a seller's connected account on the real adapters — PostgreSQL (PrismaStore,
// the support desk's tickets), the Stripe gateway through the official SDK, the emulator —
// with the emulator's Connect webhooks delivered to an endpoint, verified and processed as
// production does. The person onboards through the account link, their account gets a
// balance by a transfer from the platform, the payout run pays it out once however often it
// runs, and the emulator's payout events are recorded: paid, and failed (Stripe's failing
// test bank account), which tells the person and opens one ticket.
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
const START = Date.UTC(2026, 5, 1, 9);
const urls = { refreshUrl: "https://app.example/r", returnUrl: "https://app.example/done", country: "AU" };

describe("payouts on PostgreSQL and the emulator", () => {
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
            state: { id: "sam", displayName: "Sam", createdAt: clock.now(), version: 0 },
            expectedVersion: undefined,
          },
        ],
        groups: [],
        rounds: [],
        outbox: [],
        audit: [],
      })
    )._unsafeUnwrap();
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

  /** Processes events as the webhook worker does; returns each outcome. */
  async function process(events: readonly Stripe.Event[]): Promise<string[]> {
    const out: string[] = [];
    for (const event of events) {
      const o = (await processWebhookEvent(event, ctx))._unsafeUnwrap();
      out.push(`${event.type}: ${o.status === "processed" ? o.outcome : `ignored: ${o.reason}`}`);
    }
    return out;
  }

  /** Both clocks move together. */
  async function advance(ms: number): Promise<void> {
    clock.advance(ms);
    await harness.emulator.control.advanceClock(ms / 1000);
  }

  /** A balance for the seller's account: a transfer from the platform's balance. */
  async function fund(amountMinor: number, key: string): Promise<void> {
    await harness.emulator.control.topUp({ amount: amountMinor, currency: "aud" });
    (
      await harness.gateway.createTransfer({
        idempotencyKey: key,
        destinationAccountId: accountId,
        amount: money(amountMinor, "AUD"),
        transferGroup: key,
        references: { personId: "sam" },
      })
    )._unsafeUnwrap();
  }

  async function payoutsAtStripe(): Promise<Stripe.Payout[]> {
    return (await harness.stripe.payouts.list({ limit: 100 }, { stripeAccount: accountId })).data;
  }

  it("onboarding creates the account on the manual payout schedule; account.updated enables payouts", async () => {
    const link = (
      await useCases.startPersonPayoutOnboarding(deps, harness.gateway, "sam", urls)
    )._unsafeUnwrap();
    expect(await harness.emulator.control.visitAccountLink(link.url)).toBe(urls.returnUrl);
    accountId = (await store.getPerson("sam"))._unsafeUnwrap()?.payout?.connectedAccountId ?? "";
    const account = await harness.stripe.accounts.retrieve(accountId);
    expect(account.settings?.payouts?.schedule.interval).toBe("manual");
    const outcomes = await process(await deliveries());
    expect(outcomes).toContain(`account.updated: account ${accountId}: payoutsEnabled=true for sam`);
    expect((await store.getPerson("sam"))._unsafeUnwrap()?.payout?.payoutsEnabled).toBe(true);
  });

  it("the payout run pays the balance out once, however often it runs that day", async () => {
    await fund(250_00, "fund-1");
    const balance = (await useCases.personBalance(deps, harness.gateway, "sam"))._unsafeUnwrap();
    expect(balance.provider.available).toEqual([money(250_00, "AUD")]);

    const first = (await useCases.payOutEveryone(deps, harness.gateway, clock.now()))._unsafeUnwrap();
    expect(first).toMatchObject({ people: 1, failed: [], skipped: [] });
    expect(first.payouts.map((p) => p.amount)).toEqual([money(250_00, "AUD")]);
    const again = (await useCases.payOutEveryone(deps, harness.gateway, clock.now()))._unsafeUnwrap();
    expect(again).toMatchObject({ people: 1, payouts: [], skipped: [], failed: [] });
    // More money the same day is paid that day under the next key: payouts-same-day-on-emulator.test.ts.
    const atStripe = await payoutsAtStripe();
    expect(atStripe).toHaveLength(1);
    expect(atStripe[0]).toMatchObject({
      amount: 250_00,
      currency: "aud",
      status: "pending",
      automatic: false,
    });
  });

  it("the payout's events are recorded: pending, then paid; a late payout.created changes nothing", async () => {
    const created = await deliveries();
    // The run recorded the payout pending as Stripe made it (so a payout whose events are all
    // lost is still rechecked): payout.created brings nothing new.
    expect(await process(created.filter((e) => e.type.startsWith("payout.")))).toEqual([
      expect.stringMatching(/^payout\.created: ignored: .*already recorded as pending$/),
    ]);
    await advance(2 * DAY_MS);
    const later = (await deliveries()).filter((e) => e.type.startsWith("payout."));
    expect(later.map((e) => e.type)).toEqual(["payout.updated", "payout.updated", "payout.paid"]);
    await process(later);
    // Stripe promises no order: the first event again, late.
    const late = await process(created.filter((e) => e.type === "payout.created"));
    expect(late).toEqual([expect.stringMatching(/ignored: .*already recorded as paid/)]);
    const page = (await store.listPayoutsOfPerson({ personId: "sam", limit: 10 }))._unsafeUnwrap();
    expect(page.items).toEqual([
      expect.objectContaining({
        personId: "sam",
        accountId,
        amountMinor: 250_00,
        currency: "AUD",
        status: "paid",
      }),
    ]);
  });

  it("a payout to a failing bank account is recorded failed, tells the person and opens one ticket", async () => {
    await harness.stripe.accounts.update(accountId, {
      external_account: {
        object: "bank_account",
        country: "AU",
        currency: "aud",
        routing_number: "110000",
        account_number: "111111113",
      },
    } as Stripe.AccountUpdateParams);
    // The next day's run pays what arrived since.
    await fund(10_00, "fund-2");
    const run = (await useCases.payOutEveryone(deps, harness.gateway, clock.now()))._unsafeUnwrap();
    expect(run.payouts.map((p) => p.amount)).toEqual([money(10_00, "AUD")]);
    await advance(2 * DAY_MS);
    const events = (await deliveries()).filter((e) => e.type.startsWith("payout."));
    expect(events.map((e) => e.type)).toContain("payout.failed");
    await process(events);
    // Delivered again, as Stripe may.
    await process(events.filter((e) => e.type === "payout.failed"));
    const failedId = run.payouts[0]?.payoutId ?? "";
    expect((await store.getPayout(failedId))._unsafeUnwrap()).toMatchObject({
      status: "failed",
      failureCode: "account_closed",
      failureMessage: expect.any(String),
    });
    for (let pass = 0; pass < 3; pass++)
      (await useCases.dispatchOutbox(deps, ports, store, { workerId: "dispatcher" }))._unsafeUnwrap();
    expect(notifier.sent).toEqual([
      expect.objectContaining({
        id: `payout:${failedId}:failed:notify`,
        personIds: ["sam"],
        template: "payout_failed",
        data: expect.objectContaining({ action: "update_bank_account", failureCode: "account_closed" }),
      }),
    ]);
    const tickets = await db.prisma.supportTicket.findMany({ where: { aggregateType: "payout" } });
    expect(tickets).toEqual([
      expect.objectContaining({
        id: `payout:${failedId}:failed:ticket`,
        aggregateId: failedId,
        kind: "payout_failed",
        status: "open",
      }),
    ]);
    // The funds are back in the account's balance, for the next run once the bank is fixed.
    const balance = (await useCases.personBalance(deps, harness.gateway, "sam"))._unsafeUnwrap();
    expect(balance.provider.available).toEqual([money(10_00, "AUD")]);
    const page = (await store.listPayoutsOfPerson({ personId: "sam", limit: 1 }))._unsafeUnwrap();
    expect(page.items.map((p) => p.payoutId)).toEqual([failedId]);
    expect(page.hasMore).toBe(true);
    const next = (
      await store.listPayoutsOfPerson({ personId: "sam", limit: 1, startingAfter: failedId })
    )._unsafeUnwrap();
    expect(next.items.map((p) => p.status)).toEqual(["paid"]);
    expect(next.hasMore).toBe(false);
  });

  it("a paid payout the bank returns, its payout.failed lost, is found failed by the next payout run, once", async () => {
    const paid = (await store.listPayoutsOfPerson({ personId: "sam", limit: 10 }))._unsafeUnwrap();
    const paidId = paid.items.find((p) => p.status === "paid")?.payoutId ?? "";
    expect(paidId).not.toBe("");
    await harness.emulator.control.failPayout(paidId, "account_closed");
    // Stripe's events of the failure are lost: nobody processes them now.
    const lost = (await deliveries()).filter((e) => e.type.startsWith("payout."));
    expect(lost.map((e) => e.type)).toEqual(["payout.updated", "payout.failed"]);
    const sentBefore = notifier.sent.length;
    await advance(DAY_MS);
    (await useCases.payOutEveryone(deps, harness.gateway, clock.now()))._unsafeUnwrap();
    expect((await store.getPayout(paidId))._unsafeUnwrap()).toMatchObject({
      status: "failed",
      failureCode: "account_closed",
    });
    // The same outcome as the webhook's: the person told and one ticket, applied once.
    await process((await deliveries()).filter((e) => e.type.startsWith("payout.")));
    for (let pass = 0; pass < 3; pass++)
      (await useCases.dispatchOutbox(deps, ports, store, { workerId: "dispatcher" }))._unsafeUnwrap();
    // The lost events arrive after all: nothing is applied twice.
    expect(await process(lost)).toEqual([
      expect.stringMatching(/ignored: .*already recorded as failed/),
      expect.stringMatching(/ignored: .*already recorded as failed/),
    ]);
    // A second run rechecks nothing it already knows as failed.
    (await useCases.payOutEveryone(deps, harness.gateway, clock.now()))._unsafeUnwrap();
    for (let pass = 0; pass < 3; pass++)
      (await useCases.dispatchOutbox(deps, ports, store, { workerId: "dispatcher" }))._unsafeUnwrap();
    expect(notifier.sent.slice(sentBefore).filter((n) => n.id.startsWith(`payout:${paidId}:`))).toEqual([
      expect.objectContaining({
        id: `payout:${paidId}:failed:notify`,
        template: "payout_failed",
        personIds: ["sam"],
      }),
    ]);
    const tickets = await db.prisma.supportTicket.findMany({ where: { aggregateId: paidId } });
    expect(tickets.map((t) => t.id)).toEqual([`payout:${paidId}:failed:ticket`]);
  });

  it("after a failed payout the bank account is errored at Stripe: the next runs pay nothing into it, the balance waits for a new one", async () => {
    await advance(DAY_MS);
    const before = (await payoutsAtStripe()).length;
    // Both payouts the bank returned are back in the balance: 10.00 and 250.00.
    const run = (await useCases.payOutEveryone(deps, harness.gateway, clock.now()))._unsafeUnwrap();
    expect(run.payouts).toEqual([]);
    expect(run.failed).toEqual([]);
    expect(run.skipped).toEqual([
      expect.objectContaining({
        personId: "sam",
        amount: money(260_00, "AUD"),
        code: "bank_account_errored",
      }),
    ]);
    expect((await payoutsAtStripe()).length).toBe(before);
    const balance = (await useCases.personBalance(deps, harness.gateway, "sam"))._unsafeUnwrap();
    expect(balance.provider.available).toEqual([money(260_00, "AUD")]);
    // Stripe: a failed payout sets the external account's status to errored, and no payout
    // goes to it until the details are updated.
    const banks = await harness.stripe.accounts.listExternalAccounts(accountId, { object: "bank_account" });
    expect(banks.data).toEqual([
      expect.objectContaining({ object: "bank_account", currency: "aud", last4: "1113", status: "errored" }),
    ]);
    // The seller puts in a working bank account: it replaces the errored default, and the
    // next run pays the balance that waited.
    await harness.stripe.accounts.update(accountId, {
      external_account: {
        object: "bank_account",
        country: "AU",
        currency: "aud",
        routing_number: "110000",
        account_number: "000123456",
      },
    } as Stripe.AccountUpdateParams);
    const replaced = await harness.stripe.accounts.listExternalAccounts(accountId, {
      object: "bank_account",
    });
    expect(replaced.data).toEqual([
      expect.objectContaining({ last4: "3456", status: "new", default_for_currency: true }),
    ]);
    await advance(DAY_MS);
    const paid = (await useCases.payOutEveryone(deps, harness.gateway, clock.now()))._unsafeUnwrap();
    expect(paid.payouts.map((p) => p.amount)).toEqual([money(260_00, "AUD")]);
    expect(paid.skipped).toEqual([]);
    expect((await payoutsAtStripe())[0]?.destination).toBe(replaced.data[0]?.id);
  });

  it("with the setting moved off manual, an account still manual at Stripe is paid out, not stranded", async () => {
    const account = await harness.stripe.accounts.retrieve(accountId);
    expect(account.settings?.payouts?.schedule.interval).toBe("manual");
    const daily = useCaseDepsOn(store, {
      clock,
      ids: new SequentialIds(),
      payoutSchedule: { interval: "daily" },
    });
    await fund(5_00, "fund-3");
    await advance(DAY_MS);
    const run = (await useCases.payOutEveryone(daily, harness.gateway, clock.now()))._unsafeUnwrap();
    expect(run.people).toBe(1);
    expect(run.failed).toEqual([]);
    expect(run.payouts.map((p) => p.amount)).toEqual([money(5_00, "AUD")]);
  });

  it("paused (the platform, then the seller), the run asks Stripe for nothing and says why; resumed, it pays what is due", async () => {
    await fund(9_00, "fund-4");
    await advance(DAY_MS);
    const before = (await payoutsAtStripe()).length;
    const platform = { kind: "platform" } as const;
    const sam = { kind: "person", personId: "sam" } as const;
    (
      await useCases.pausePayouts(deps, { scope: platform, reason: "month-end close", by: "olga" })
    )._unsafeUnwrap();
    const paused = (await useCases.payOutEveryone(deps, harness.gateway, clock.now()))._unsafeUnwrap();
    expect(paused).toMatchObject({ people: 0, payouts: [], failed: [] });
    expect(paused.platformPause).toMatchObject({ reason: "month-end close", pausedBy: "olga" });
    // The platform resumed, the seller's own pause still holds them back.
    (await useCases.pausePayouts(deps, { scope: sam, reason: "fraud review", by: "olga" }))._unsafeUnwrap();
    expect((await useCases.resumePayouts(deps, { scope: platform, by: "olga" }))._unsafeUnwrap()).toEqual({
      resumed: true,
    });
    const held = (await useCases.payOutEveryone(deps, harness.gateway, clock.now()))._unsafeUnwrap();
    expect(held).toMatchObject({
      payouts: [],
      failed: [],
      paused: [{ personId: "sam", reason: "fraud review" }],
    });
    expect(held.platformPause).toBeUndefined();
    expect(await payoutsAtStripe()).toHaveLength(before);
    expect(
      (await useCases.personBalance(deps, harness.gateway, "sam"))._unsafeUnwrap().provider.available,
    ).toEqual([money(9_00, "AUD")]);
    (await useCases.resumePayouts(deps, { scope: sam, by: "olga" }))._unsafeUnwrap();
    const resumed = (await useCases.payOutEveryone(deps, harness.gateway, clock.now()))._unsafeUnwrap();
    expect(resumed).toMatchObject({ people: 1, paused: [], failed: [] });
    expect(resumed.payouts.map((p) => p.amount)).toEqual([money(9_00, "AUD")]);
    expect(await payoutsAtStripe()).toHaveLength(before + 1);
    const audit = (
      await store.listAudit({
        subjects: [
          { aggregate: "payout", aggregateId: "platform" },
          { aggregate: "payout", aggregateId: "person:sam" },
        ],
        limit: 100,
      })
    )._unsafeUnwrap();
    expect(
      audit
        .filter((e) => e.action === "payouts_paused" || e.action === "payouts_resumed")
        .map((e) => `${e.action} ${e.aggregateId} ${e.actor}`),
    ).toEqual([
      "payouts_paused platform olga",
      "payouts_paused person:sam olga",
      "payouts_resumed platform olga",
      "payouts_resumed person:sam olga",
    ]);
  });
});
