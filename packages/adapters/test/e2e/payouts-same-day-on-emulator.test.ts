// A later payout run on the same UTC day, on the real adapters — PostgreSQL, the Stripe
// gateway through the official SDK, the emulator. The day's first payout took the seller's
// balance; money arriving afterwards is paid the same day under another key, even when it is
// exactly the first payout's amount (the day's key would get the first payout back from
// Stripe, an idempotent replay, and the run would report a payout it did not make). Nothing
// is ever paid twice: Stripe has one payout per amount that reached the balance. An admin's
// payout made while the day's run is between reading the balance and asking for its payout
// leaves the run's payout refused by Stripe (`balance_insufficient`): the run reads the
// balance again and ends quietly, no refusal told to the seller or ticketed.
import { DAY_MS, money, type PaymentGateway, type UseCaseDeps, useCaseDepsOn, useCases } from "@susu/domain";
import { ManualClock, SequentialIds } from "@susu/domain/testing";
import { ResultAsync } from "neverthrow";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrismaStore } from "../../src/prisma/index.js";
import { processWebhookEvent } from "../../src/webhooks/index.js";
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

describe("payout runs later the same day (PostgreSQL + the emulator)", () => {
  let harness: StripeHarness;
  let receiver: WebhookReceiver;
  let deps: UseCaseDeps;
  let accountId = "";
  const clock = new ManualClock(START);

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    harness = await startStripeHarness({ startTime: START / 1000, webhookUrl: receiver.url });
    const store = new PrismaStore(db.prisma, { clock });
    deps = useCaseDepsOn(store, { clock, ids: new SequentialIds(), payoutSchedule: { interval: "manual" } });
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
    const link = (
      await useCases.startPersonPayoutOnboarding(deps, harness.gateway, "sam", urls)
    )._unsafeUnwrap();
    await harness.emulator.control.visitAccountLink(link.url);
    accountId = (await store.getPerson("sam"))._unsafeUnwrap()?.payout?.connectedAccountId ?? "";
    // account.updated tells susu the account can pay out.
    await harness.emulator.control.flushWebhooks();
    for (const delivery of receiver.received) {
      const event = verifyDelivery(harness.stripe, delivery, harness.emulator.webhookSecret);
      (await processWebhookEvent(event, { deps, gateway: harness.gateway }))._unsafeUnwrap();
    }
    expect((await store.getPerson("sam"))._unsafeUnwrap()?.payout?.payoutsEnabled).toBe(true);
  });
  afterAll(async () => {
    await harness?.emulator.stop();
    await receiver?.close();
  });

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

  async function available(): Promise<number> {
    const balance = await harness.stripe.balance.retrieve({}, { stripeAccount: accountId });
    return balance.available.find((b) => b.currency === "aud")?.amount ?? 0;
  }

  it("exactly the first payout's amount again: paid under a new key, not reported from the replay", async () => {
    await fund(250_00, "fund-1");
    const first = (await useCases.payOutEveryone(deps, harness.gateway, clock.now()))._unsafeUnwrap();
    expect(first.payouts.map((p) => p.amount)).toEqual([money(250_00, "AUD")]);
    const firstId = first.payouts[0]?.payoutId;

    // The same amount again, later that day.
    await fund(250_00, "fund-2");
    clock.advance(3_600_000);
    const second = (await useCases.payOutEveryone(deps, harness.gateway, clock.now()))._unsafeUnwrap();
    expect(second).toMatchObject({ people: 1, failed: [], skipped: [] });
    expect(second.payouts.map((p) => p.amount)).toEqual([money(250_00, "AUD")]);
    expect(second.payouts[0]?.payoutId).not.toBe(firstId);
    const atStripe = await payoutsAtStripe();
    expect(atStripe.map((p) => p.id).sort()).toEqual([firstId, second.payouts[0]?.payoutId].sort());
    expect(await available()).toBe(0);

    // Nothing arrived since: nothing asked, nothing reported.
    const third = (await useCases.payOutEveryone(deps, harness.gateway, clock.now()))._unsafeUnwrap();
    expect(third).toMatchObject({ people: 1, payouts: [], skipped: [], failed: [] });
    expect(await payoutsAtStripe()).toHaveLength(2);
  });

  it("another amount arriving the same day is paid that day too; every payout is a new one", async () => {
    await fund(10_00, "fund-3");
    const run = (await useCases.payOutEveryone(deps, harness.gateway, clock.now()))._unsafeUnwrap();
    expect(run).toMatchObject({ people: 1, skipped: [], failed: [] });
    expect(run.payouts.map((p) => p.amount)).toEqual([money(10_00, "AUD")]);
    const atStripe = await payoutsAtStripe();
    expect(atStripe.map((p) => p.amount).sort((a, b) => a - b)).toEqual([10_00, 250_00, 250_00]);
    expect(new Set(atStripe.map((p) => p.id)).size).toBe(3);
    expect(await available()).toBe(0);
  });

  it("an admin's payout made while the day's run is under way: paid once, the run is not told 'refused'", async () => {
    // A new day: the run's key for it is unused.
    clock.advance(DAY_MS);
    await fund(120_00, "fund-race");
    const before = (await payoutsAtStripe()).length;
    // The run has read 120.00; before its payout reaches Stripe, an admin pays the 120.00 out.
    let raced = false;
    const racing = new Proxy(harness.gateway, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property);
        if (typeof value !== "function") return value;
        if (property !== "createPayout") return value.bind(target);
        return (input: Parameters<PaymentGateway["createPayout"]>[0]) => {
          if (raced) return target.createPayout(input);
          raced = true;
          return ResultAsync.fromSafePromise(
            useCases.payOutPerson(deps, harness.gateway, "sam", {
              kind: "requested",
              requestKey: "ops:race",
              by: "ops",
            }),
          ).andThen((admin) => {
            expect(admin._unsafeUnwrap().payouts.map((p) => p.amount)).toEqual([money(120_00, "AUD")]);
            return target.createPayout(input);
          });
        };
      },
    });
    const run = (await useCases.payOutEveryone(deps, racing, clock.now()))._unsafeUnwrap();
    expect(raced).toBe(true);
    expect(run).toMatchObject({ people: 1, payouts: [], skipped: [], failed: [] });
    const atStripe = await payoutsAtStripe();
    expect(atStripe.length - before).toBe(1);
    expect(atStripe[0]?.amount).toBe(120_00);
    expect(await available()).toBe(0);
    // Nothing to tell anyone: no refusal notice or ticket queued, none audited.
    expect(await db.prisma.outboxEffect.count({ where: { id: { contains: ":refused:" } } })).toBe(0);
    expect(await db.prisma.auditLogEntry.count({ where: { action: "payout_refused" } })).toBe(0);
  });
});
