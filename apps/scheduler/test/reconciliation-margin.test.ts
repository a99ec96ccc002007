// The scheduler reconciles a day only once the margin after it has passed
// (RECONCILIATION_MATCH_MARGIN_MS): susu's ledger may record a movement Stripe made just
// before midnight hours later (a webhook backlog), and a run before then would tell the
// admins of a difference that is none.
import { PrismaLedgerStore, RECONCILIATION_MATCH_MARGIN_MS } from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { debitInitiated, money } from "@susu/domain";
import { ManualClock } from "@susu/domain/testing";
import type { RunningEmulator } from "@susu/stripe-emulator";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dueReconciliationDays, reconcileDueDays } from "../src/jobs/reconciliation.js";
import { createLogger } from "../src/logger.js";
import {
  reconciliationJobDeps,
  schedulerEnvWithAdmin,
  startReconciliationEmulator,
} from "./support/reconciliation-job.js";

const db = useTestDatabase();
const log = createLogger("silent", "reconciliation-margin-test");
const DAY_MS = 86_400_000;
const HOUR = 3_600_000;
const D = Date.UTC(2026, 11, 1);

describe("the reconciliation job waits for the margin after a day (PostgreSQL + the emulator)", () => {
  let emulator: RunningEmulator;
  let stripe: Stripe;
  const clock = new ManualClock(D + DAY_MS + 2 * HOUR + 15 * 60_000);

  beforeAll(async () => {
    // Stripe's clock a minute before midnight: the debit is created on the 1st at Stripe.
    ({ emulator, stripe } = await startReconciliationEmulator(D + DAY_MS - 60_000));
  });
  afterAll(async () => {
    await emulator?.stop();
  });

  const deps = () => reconciliationJobDeps(db.prisma, stripe, schedulerEnvWithAdmin(), clock, log);

  it("a payment Stripe made at 23:59 that susu books at 03:00 is no difference: no ticket, no notice", async () => {
    const pi = await stripe.paymentIntents.create({
      amount: 25_00,
      currency: "aud",
      payment_method: "pm_card_visa",
      payment_method_types: ["card"],
      confirm: true,
      metadata: { effect_id: "eff_late_debit" },
    });
    expect(pi.status).toBe("succeeded");

    // The morning run at 02:15: susu has not processed the payment's news yet.
    await reconcileDueDays(deps(), log);

    // susu books it at 03:00, within the margin after the day.
    const booked = debitInitiated({
      id: "eff_late_debit:initiated",
      roundId: "r1",
      memberId: "ana",
      amount: money(25_00, "AUD"),
      occurredAt: D + DAY_MS + 3 * HOUR,
    })._unsafeUnwrap();
    (await new PrismaLedgerStore(db.prisma).post(booked))._unsafeUnwrap();

    // Later that morning, once the margin after the 1st has passed, the 1st is reconciled.
    clock.advanceTo(D + DAY_MS + RECONCILIATION_MATCH_MARGIN_MS + 15 * 60_000);
    await reconcileDueDays(deps(), log);

    const first = await db.prisma.reconciliationReport.findFirst({
      where: { ranBy: "scheduler", periodFrom: new Date(D) },
    });
    expect(first?.differencesCount).toBe(0);
    expect(await db.prisma.supportTicket.count()).toBe(0);
    expect(await db.prisma.notification.count({ where: { template: "reconciliation_differences" } })).toBe(0);
  });

  it("a day is due once its margin has passed, not at midnight", () => {
    const endOfDay = D + DAY_MS;
    const yesterday = { from: D - DAY_MS, to: D };
    const day = { from: D, to: D + DAY_MS };
    expect(dueReconciliationDays(D, endOfDay + 2 * HOUR).periods).toEqual([]);
    expect(dueReconciliationDays(D, endOfDay + RECONCILIATION_MATCH_MARGIN_MS - 1).periods).toEqual([]);
    expect(dueReconciliationDays(D, endOfDay + RECONCILIATION_MATCH_MARGIN_MS).periods).toEqual([day]);
    // The first run reconciles the last day whose margin has passed.
    expect(dueReconciliationDays(undefined, endOfDay + 2 * HOUR).periods).toEqual([yesterday]);
    expect(dueReconciliationDays(undefined, endOfDay + 7 * HOUR).periods).toEqual([day]);
  });
});
