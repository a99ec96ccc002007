// The reconciliation job runs again the days that still have an open differences ticket, as
// the scheduler does in production (through reconcileDueDays, on real PostgreSQL and the
// emulator through the SDK): a day whose ledger caught up gets its `cleared` follow-up and its
// ticket resolved, a day whose differences changed its `changed` one. Bounded: days within
// the window, a few a run, the ones checked longest ago first, each at most once a UTC day,
// and only once no new day is left to reconcile. Days without an open ticket are not run again.
import { PrismaLedgerStore } from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { debitInitiated, money } from "@susu/domain";
import { ManualClock } from "@susu/domain/testing";
import type { RunningEmulator } from "@susu/stripe-emulator";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  RECONCILIATION_RERUN_WITHIN_DAYS,
  RECONCILIATION_RERUNS_PER_RUN,
  type ReconcileDueDaysOptions,
  reconcileDueDays,
  reconcilePeriod,
  reconciliationTicketId,
} from "../src/jobs/reconciliation.js";
import { createLogger } from "../src/logger.js";
import {
  adminMailOf,
  reconciliationJobDeps,
  schedulerEnvWithAdmin,
  startReconciliationEmulator,
} from "./support/reconciliation-job.js";

const db = useTestDatabase();
const log = createLogger("silent", "reconciliation-rerun-test");
const DAY_MS = 86_400_000;
const HOUR = 3_600_000;
/** 1 December 2026, the first day the scheduler reconciles (on the morning of the 2nd). */
const D0 = Date.UTC(2026, 11, 1);
const dayOf = (n: number) => ({ from: D0 + (n - 1) * DAY_MS, to: D0 + n * DAY_MS });
const dateOf = (t: number) => new Date(t).toISOString().slice(0, 10);

describe("the reconciliation job runs open-ticket days again (PostgreSQL + the emulator)", () => {
  let emulator: RunningEmulator;
  let stripe: Stripe;
  const clock = new ManualClock(D0 + DAY_MS + 9 * HOUR);

  beforeAll(async () => {
    ({ emulator, stripe } = await startReconciliationEmulator(D0 + 10 * HOUR));
  });
  afterAll(async () => {
    await emulator?.stop();
  });

  const env = schedulerEnvWithAdmin({ SUSU_ADMIN_ALERT_WINDOW_MINUTES: "0" });
  const deps = () => reconciliationJobDeps(db.prisma, stripe, env, clock, log);
  /** One run of the job, as the cron starts it: the new days it reconciled and the days it ran again. */
  const runJob = async (options: ReconcileDueDaysOptions = {}) => {
    const done = await reconcileDueDays(deps(), log, options);
    return {
      days: done.runs.map((r) => dateOf(r.report.from)),
      reruns: done.reruns.map((r) => dateOf(r.report.from)),
      remaining: done.remaining,
    };
  };
  const notices = (ticketId: string) =>
    db.prisma.notification.findMany({
      where: { template: "reconciliation_differences", aggregateId: ticketId },
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
    });
  const ticketOf = (n: number) =>
    db.prisma.supportTicket.findUniqueOrThrow({
      where: { id: reconciliationTicketId(dayOf(n).from, dayOf(n).to) },
    });
  const charge = (amount: number, effect?: string) =>
    stripe.paymentIntents.create({
      amount,
      currency: "aud",
      payment_method: "pm_card_visa",
      payment_method_types: ["card"],
      confirm: true,
      ...(effect !== undefined ? { metadata: { effect_id: effect } } : {}),
    });
  /** susu's ledger records a member's debit on day `n` (late, or one Stripe never saw). */
  const bookDebit = async (effect: string, member: string, amount: number, n: number) =>
    (
      await new PrismaLedgerStore(db.prisma, { clock }).post(
        debitInitiated({
          id: `${effect}:initiated`,
          roundId: effect.split(":")[0] ?? "rnd",
          memberId: member,
          amount: money(amount, "AUD"),
          occurredAt: dayOf(n).from + 10 * HOUR,
        })._unsafeUnwrap(),
      )
    )._unsafeUnwrap();
  const mailOf = adminMailOf;

  it("a day whose ledger catches up: the next morning's run reconciles it again, resolves its ticket and says so, then leaves it", async () => {
    await charge(12_00, "rnd_a:debit:ana:1");
    expect(await runJob()).toEqual({ days: ["2026-12-01"], reruns: [], remaining: 0 });
    expect((await ticketOf(1)).status).toBe("open");

    // The debit's posting lands late.
    await bookDebit("rnd_a:debit:ana:1", "ana", 12_00, 1);
    clock.advance(DAY_MS);
    expect(await runJob()).toEqual({ days: ["2026-12-02"], reruns: ["2026-12-01"], remaining: 0 });
    const ticket = await ticketOf(1);
    expect(ticket.status).toBe("resolved");
    expect(ticket.resolution).toContain("no differences");
    const told = await notices(ticket.id);
    expect(told.map((n) => (n.data as { change?: string }).change)).toEqual([undefined, "cleared"]);

    // Its ticket resolved, the day is not run again; nor is any day that never had one.
    clock.advance(DAY_MS);
    expect(await runJob()).toEqual({ days: ["2026-12-03"], reruns: [], remaining: 0 });
    expect(
      await db.prisma.reconciliationReport.count({ where: { periodFrom: new Date(dayOf(1).from) } }),
    ).toBe(2);
  });

  it("a day whose differences change: the next morning's run says so once, and not again the same day", async () => {
    // The 4th: a debit susu's ledger does not know.
    await emulator.control.advanceClock(3 * 24 * 3600);
    await charge(5_00, "rnd_b:debit:ben:1");
    clock.advance(DAY_MS);
    expect(await runJob()).toEqual({ days: ["2026-12-04"], reruns: [], remaining: 0 });
    // Another on the same day, after the run.
    await charge(2_00, "rnd_b:debit:cy:1");
    // A second job the same morning (pg-boss's retry, a follow-up): the day was checked today.
    clock.advance(HOUR);
    expect(await runJob()).toEqual({ days: [], reruns: [], remaining: 0 });

    clock.advance(DAY_MS);
    expect(await runJob()).toEqual({ days: ["2026-12-05"], reruns: ["2026-12-04"], remaining: 0 });
    const told = await notices((await ticketOf(4)).id);
    expect(told.map((n) => n.data)).toMatchObject([
      { differences: 1 },
      { change: "changed", differences: 2, previousDifferences: 1 },
    ]);
    const ticket = await ticketOf(4);
    expect(ticket.status).toBe("open");
    expect(ticket.subject).toContain("found 2 difference(s)");
  });

  it("bounded: a few days a run, the ones checked longest ago first, within the window only", async () => {
    expect(RECONCILIATION_RERUNS_PER_RUN).toBe(5);
    expect(RECONCILIATION_RERUN_WITHIN_DAYS).toBe(35);
    // The 6th: a charge susu does not know; its day gets a ticket of its own.
    await emulator.control.advanceClock(2 * 24 * 3600);
    await charge(7_00);
    clock.advance(DAY_MS);
    // One re-run a run: the 4th (the 6th was reconciled in this run); the same differences say nothing.
    expect(await runJob({ maxReruns: 1 })).toEqual({
      days: ["2026-12-06"],
      reruns: ["2026-12-04"],
      remaining: 0,
    });
    expect(await notices((await ticketOf(4)).id)).toHaveLength(2);
    clock.advance(DAY_MS);
    // Both last checked on the morning of the 7th: the older day first.
    expect(await runJob({ maxReruns: 1 })).toEqual({
      days: ["2026-12-07"],
      reruns: ["2026-12-04"],
      remaining: 0,
    });
    clock.advance(DAY_MS);
    // The 6th waited longest now.
    expect(await runJob({ maxReruns: 1 })).toEqual({
      days: ["2026-12-08"],
      reruns: ["2026-12-06"],
      remaining: 0,
    });
    clock.advance(DAY_MS);
    // A window of 5 days reaches back to the 5th: the 6th alone.
    expect(await runJob({ rerunWithinDays: 5 })).toEqual({
      days: ["2026-12-09"],
      reruns: ["2026-12-06"],
      remaining: 0,
    });
    clock.advance(DAY_MS);
    // Off (0 days, or 0 a run): nothing is run again.
    expect(await runJob({ rerunWithinDays: 0 })).toEqual({ days: ["2026-12-10"], reruns: [], remaining: 0 });
    expect(await runJob({ maxReruns: 0 })).toEqual({ days: [], reruns: [], remaining: 0 });
    // The defaults: both open days.
    expect(await runJob()).toEqual({ days: [], reruns: ["2026-12-04", "2026-12-06"], remaining: 0 });
    // No more notices for either: their differences are the same.
    expect(await notices((await ticketOf(6)).id)).toHaveLength(1);
  });

  it("new days first: no day is run again while days are still due or the run's budget is spent", async () => {
    clock.advance(10 * DAY_MS);
    expect(await runJob()).toMatchObject({ reruns: [], remaining: 3 });
    expect(await runJob({ budgetMs: 1_000, elapsedMs: () => 1_000 })).toMatchObject({
      days: ["2026-12-18"],
      reruns: [],
      remaining: 2,
    });
    expect(await runJob()).toEqual({
      days: ["2026-12-19", "2026-12-20"],
      reruns: ["2026-12-04", "2026-12-06"],
      remaining: 0,
    });
  });

  it("a period whose last run found nothing and a later run finds differences: the admins read a first notice, once", async () => {
    // The 2nd was clean (no ticket); susu now records a debit on it that Stripe never saw.
    await bookDebit("rnd_c:debit:dee:1", "dee", 4_00, 2);
    // The 1st was cleared and its ticket resolved; another such debit lands on it.
    await bookDebit("rnd_c:debit:eli:1", "eli", 6_00, 1);
    await Promise.all([reconcilePeriod(deps(), log, dayOf(2)), reconcilePeriod(deps(), log, dayOf(2))]);
    await Promise.all([reconcilePeriod(deps(), log, dayOf(1)), reconcilePeriod(deps(), log, dayOf(1))]);

    const second = await notices((await ticketOf(2)).id);
    expect(second).toHaveLength(1);
    expect((await ticketOf(2)).status).toBe("open");
    const first = await notices((await ticketOf(1)).id);
    expect(first).toHaveLength(3);
    expect((await ticketOf(1)).status).toBe("open");
    for (const notice of [second[0], first[2]]) {
      if (notice === undefined) throw new Error("no notice");
      expect(notice.data).toMatchObject({ differences: 1, differencesByKind: "missing_at_stripe: 1" });
      expect(notice.data).not.toHaveProperty("change");
      const mail = mailOf(notice);
      expect(mail.subject).toBe("Reconciliation with Stripe found 1 difference(s)");
      expect(mail.text).not.toContain("its last run found");
    }
  });
});
