// Reconciliation on the real adapters: held payments run through PostgreSQL and the
// emulator as production runs them (outbox, timers, webhooks), then Stripe's balance
// transactions are pulled through the SDK and compared with susu's ledger.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  type EffectPorts,
  type HeldPayment,
  HOUR_MS,
  type Person,
  type UseCaseDeps,
  useCaseDepsOn,
  useCases,
} from "@susu/domain";
import {
  InMemoryTimerScheduler,
  ManualClock,
  RecordingNotifier,
  RecordingSupportDesk,
  SequentialIds,
} from "@susu/domain/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrismaLedgerStore, PrismaStore } from "../../src/prisma/index.js";
import {
  PrismaReconciliationStore,
  reconciliationCsv,
  reconciliationSummary,
  runReconciliation,
} from "../../src/reconciliation/index.js";
import { processWebhookEvent, type WebhookContext } from "../../src/webhooks/index.js";
import { type StripeHarness, startStripeHarness } from "../stripe/emulator-harness.js";
import { useTestDatabase } from "../support/index.js";

const db = useTestDatabase();
const START = Date.UTC(2026, 5, 1);
const WINDOW = 72 * HOUR_MS;
/** 1 USD is this many AUD at the emulator (its rates are per USD). */
const AUD_PER_USD = 1.5;

describe("reconciling held payments on PostgreSQL with the emulator", () => {
  let harness: StripeHarness;
  let store: PrismaStore;
  let deps: UseCaseDeps;
  let ports: EffectPorts;
  let ctx: WebhookContext;
  const clock = new ManualClock(START);
  const timers = new InMemoryTimerScheduler();

  beforeAll(async () => {
    harness = await startStripeHarness({
      startTime: START / 1000,
      settlementCurrency: "aud",
      exchangeRates: { usd: 1, aud: AUD_PER_USD },
    });
    store = new PrismaStore(db.prisma, { clock });
    const ledger = new PrismaLedgerStore(db.prisma, { clock });
    deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    ports = {
      gateway: harness.gateway,
      notifier: new RecordingNotifier(),
      desk: new RecordingSupportDesk(),
      timers,
      ledger,
    };
    ctx = { deps, gateway: harness.gateway };
    await harness.events.skipExisting();
  });
  afterAll(async () => {
    await harness?.emulator.stop();
  });

  async function aSeller(id: string): Promise<string> {
    const account = await harness.driver.connectedAccount({ canReceive: true });
    const person: Person = {
      id,
      displayName: id,
      payout: { connectedAccountId: account, payoutsEnabled: true },
      createdAt: clock.now(),
      version: 0,
    };
    (
      await store.commit({
        people: [{ state: person, expectedVersion: undefined }],
        groups: [],
        rounds: [],
        outbox: [],
        audit: [],
      })
    )._unsafeUnwrap();
    return account;
  }

  async function advance(ms: number): Promise<void> {
    clock.advance(ms);
    await harness.emulator.control.advanceClock(ms / 1000);
  }

  async function settle(): Promise<void> {
    for (let pass = 0; pass < 30; pass++) {
      const report = (
        await useCases.dispatchOutbox(deps, ports, store, { workerId: "dispatcher" })
      )._unsafeUnwrap();
      const due = timers.takeDue(clock.now());
      for (const t of due) (await useCases.applyTimer(deps, t))._unsafeUnwrap();
      const events = await harness.events.next();
      for (const event of events) (await processWebhookEvent(event, ctx))._unsafeUnwrap();
      if (report.claimed === 0 && due.length === 0 && events.length === 0) return;
    }
    throw new Error("did not settle");
  }

  async function payment(id: string): Promise<HeldPayment> {
    const p = (await store.getHeldPayment(id))._unsafeUnwrap();
    if (!p) throw new Error(`no held payment ${id}`);
    return p;
  }

  let seq = 0;
  async function aPaidPayment(sellerId: string, currency: "AUD" | "USD"): Promise<HeldPayment> {
    seq += 1;
    const { payment: created } = (
      await useCases.createHeldPayment(deps, {
        requestedBy: "app_bookings",
        clientReference: `booking_${seq}`,
        amountMinor: 100_00,
        currency,
        sellerId,
        description: `Booking ${seq}`,
        customer: { email: "cy@example.com", name: "Cy" },
        fee: { kind: "rate", basisPoints: 1_000 },
        successUrl: "https://app.example/done",
      })
    )._unsafeUnwrap();
    await settle();
    const opened = await payment(created.id);
    await harness.emulator.control.completeCheckoutSession(opened.checkoutSessionId ?? "", {
      paymentMethod: "pm_card_visa",
    });
    await settle();
    return payment(created.id);
  }

  const period = () => ({ from: START, to: Math.ceil((clock.now() + 1) / 1000) * 1000 });
  const now = () => clock.now();

  let sellerAccount = "";
  let usdPayment: HeldPayment;

  it("agrees with Stripe after a release, a refund after release (reversal then refund) and a USD charge: no differences", async () => {
    sellerAccount = await aSeller("sam");
    const released = await aPaidPayment("sam", "AUD");
    (await useCases.confirmFulfilled(deps, released.id, "app_bookings"))._unsafeUnwrap();
    await settle();
    await advance(WINDOW + HOUR_MS);
    await settle();
    expect((await payment(released.id)).status).toBe("released");
    (await useCases.refundHeldPayment(deps, released.id, { operator: "olga" }, 50_00))._unsafeUnwrap();
    await settle();
    usdPayment = await aPaidPayment("sam", "USD");
    expect(usdPayment.status).toBe("held");

    const run = await runReconciliation({ prisma: db.prisma, stripe: harness.stripe, now }, period(), "test");
    expect(run.report.differences).toEqual([]);
    // Two charges, one transfer, one reversal, one refund.
    expect(run.report.matched).toBe(5);
    const totals = Object.fromEntries(
      run.report.totals.map((t) => [`${t.currency} ${t.category}`, [t.susuMinor, t.stripeMinor]]),
    );
    expect(totals).toEqual({
      "AUD charge": [100_00, 100_00],
      "AUD refund": [-50_00, -50_00],
      "AUD transfer": [-90_00, -90_00],
      "AUD transfer_reversal": [45_00, 45_00],
      "USD charge": [100_00, 100_00],
    });
    expect(run.stored.differencesCount).toBe(0);
    expect(reconciliationSummary(run.report)).toContain("No differences: 5 movements agree.");
  });

  it("records the exchange rate and both amounts of a charge in another currency than the platform's", async () => {
    const settlement = await new PrismaReconciliationStore(db.prisma).heldPaymentSettlement(usdPayment.id);
    expect(settlement).toMatchObject({
      chargeId: usdPayment.chargeId,
      presentmentMinor: 100_00,
      presentmentCurrency: "USD",
      settlementMinor: 150_00,
      settlementCurrency: "AUD",
      exchangeRate: AUD_PER_USD,
    });
    // An AUD charge settles as it is: no rate.
    const row = await db.prisma.stripeBalanceTransaction.findFirst({
      where: { type: "charge", presentmentCurrency: "AUD" },
    });
    expect(row?.exchangeRate).toBeNull();
    expect(Number(row?.amountMinor)).toBe(100_00);
  });

  it("pulling the same period again stores nothing twice", async () => {
    const before = await db.prisma.stripeBalanceTransaction.count();
    const run = await runReconciliation({ prisma: db.prisma, stripe: harness.stripe, now }, period(), "test");
    expect(await db.prisma.stripeBalanceTransaction.count()).toBe(before);
    expect(run.report.differences).toEqual([]);
  });

  it("disputes: an open one is money Stripe withdrew that susu has not booked; won, nothing moved; lost after the release, it all matches", async () => {
    const won = await aPaidPayment("sam", "AUD");
    const open = await harness.emulator.control.forceDispute(won.chargeId ?? "");
    await settle();
    const during = await runReconciliation(
      { prisma: db.prisma, stripe: harness.stripe, now },
      period(),
      "test",
    );
    expect(
      during.report.differences.map((d) => [d.code, d.category, d.key, d.stripeMinor, d.susuMinor]),
    ).toEqual([["missing_in_susu", "dispute", `object:${open.id}`, -100_00, null]]);
    await harness.emulator.control.resolveDispute(open.id, "won");
    await settle();

    const lost = await aPaidPayment("sam", "AUD");
    (await useCases.confirmFulfilled(deps, lost.id, "app_bookings"))._unsafeUnwrap();
    await advance(WINDOW + HOUR_MS);
    await settle();
    expect((await payment(lost.id)).status).toBe("released");
    const dispute = await harness.emulator.control.forceDispute(lost.chargeId ?? "");
    await settle();
    await harness.emulator.control.resolveDispute(dispute.id, "lost");
    await settle();
    expect((await payment(lost.id)).status).toBe("charged_back");

    const after = await runReconciliation(
      { prisma: db.prisma, stripe: harness.stripe, now },
      period(),
      "test",
    );
    expect(after.report.differences).toEqual([]);
    expect(after.report.undoneAtStripe).toBe(1);
    const totals = Object.fromEntries(
      after.report.totals.map((t) => [`${t.currency} ${t.category}`, [t.susuMinor, t.stripeMinor]]),
    );
    // The won dispute's withdrawal and reinstatement, and the lost one's withdrawal.
    expect(totals["AUD dispute"]).toEqual([-100_00, -100_00]);
  });

  it("reports a transfer made at Stripe that susu does not know as missing_in_susu, once, with its id and amount in the CSV", async () => {
    await advance(4 * 24 * HOUR_MS);
    const transfer = await harness.stripe.transfers.create({
      amount: 5_00,
      currency: "aud",
      destination: sellerAccount,
    });
    const run = await runReconciliation({ prisma: db.prisma, stripe: harness.stripe, now }, period(), "test");
    expect(run.report.differences).toHaveLength(1);
    expect(run.report.differences[0]).toMatchObject({
      code: "missing_in_susu",
      category: "transfer",
      key: `object:${transfer.id}`,
      susuMinor: null,
      stripeMinor: -5_00,
      stripeCurrency: "AUD",
      stripeObjectIds: [transfer.id],
    });
    const csv = reconciliationCsv(run.report).split("\r\n");
    expect(csv[0]).toBe(
      "code,category,date,key,susu_amount,susu_currency,stripe_amount,stripe_currency,ledger_transaction_ids,stripe_object_ids,balance_transaction_ids,detail",
    );
    expect(csv[1]).toContain(`missing_in_susu,transfer,`);
    expect(csv[1]).toContain(",,,-5.00,AUD,");
    expect(csv[1]).toContain(transfer.id);
    const stored = await new PrismaReconciliationStore(db.prisma).getReport(run.stored.id);
    expect(stored?.differencesCount).toBe(1);
    expect(stored?.report.differences[0]?.code).toBe("missing_in_susu");
  });

  it("`npm run reconcile` prints the summary, writes the CSV and exits 1 when there are differences", async () => {
    const dir = mkdtempSync(join(tmpdir(), "susu-reconcile-"));
    const csvPath = join(dir, "out.csv");
    const { from, to } = period();
    const run = promisify(execFile)(
      process.execPath,
      [
        "--import",
        "tsx",
        "scripts/reconcile.ts",
        "--from",
        new Date(from).toISOString(),
        "--to",
        new Date(to).toISOString(),
        "--csv",
        csvPath,
      ],
      {
        cwd: join(import.meta.dirname, "../.."),
        env: {
          ...process.env,
          DATABASE_URL: db.connectionString,
          STRIPE_SECRET_KEY: harness.emulator.secretKey,
          STRIPE_API_URL: harness.emulator.url,
        },
      },
    );
    const failure = await run.then(
      () => undefined,
      (e: { code?: number; stdout?: string; stderr?: string }) => e,
    );
    expect(failure?.stderr ?? "").toBe("");
    expect(failure?.code).toBe(1);
    expect(failure?.stdout).toMatch(/1 difference\(s\); \d+ movements agree\./);
    expect(failure?.stdout).toContain("missing_in_susu: 1");
    const csv = readFileSync(csvPath, "utf8").trimEnd().split("\r\n");
    expect(csv).toHaveLength(2);
    expect(csv[1]).toMatch(/^missing_in_susu,transfer,/);
  }, 60_000);
});
