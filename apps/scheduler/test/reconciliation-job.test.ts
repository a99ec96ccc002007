// The daily reconciliation job on real PostgreSQL and the emulator (through the SDK): it
// reconciles the previous UTC day (its first run; catching up is in
// reconciliation-catch-up.test.ts), stores the report, and a report with differences
// opens one support ticket for its period and tells the platform's admins once, through the
// admin alerts of the notifier the scheduler wires (queued deliveries in PostgreSQL).
import { PrismaLedgerStore, PrismaNotificationEndpoints } from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { debitInitiated, money } from "@susu/domain";
import { ManualClock } from "@susu/domain/testing";
import type { RunningEmulator } from "@susu/stripe-emulator";
import { errAsync } from "neverthrow";
import PgBoss from "pg-boss";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { notifierOf } from "../src/container.js";
import { readSchedulerEnv } from "../src/env.js";
import {
  RECONCILIATION_JOB_EXPIRE_SECONDS,
  RECONCILIATION_QUEUE,
  RECONCILIATION_RUN_BUDGET_MS,
  reconcileDueDays,
  reconcilePeriod,
  reconciliationTicketId,
  scheduleReconciliation,
} from "../src/jobs/reconciliation.js";
import { createLogger } from "../src/logger.js";
import {
  adminMailOf,
  reconciliationJobDeps,
  schedulerEnvWithAdmin,
  startReconciliationEmulator,
} from "./support/reconciliation-job.js";

const db = useTestDatabase();
const log = createLogger("silent", "reconciliation-job-test");
const DAY = Date.UTC(2026, 11, 1);
const HOUR = 3_600_000;

describe("the reconciliation job (PostgreSQL + the emulator)", () => {
  let emulator: RunningEmulator;
  let stripe: Stripe;
  const clock = new ManualClock(DAY + 9 * HOUR);

  beforeAll(async () => {
    ({ emulator, stripe } = await startReconciliationEmulator(DAY + 10 * HOUR));
  });
  afterAll(async () => {
    await emulator?.stop();
  });

  // The notifier the scheduler wires: e-mail on (nothing is sent here: the deliveries are only
  // queued), one admin address, and no deduplication window, so that only the notice's own id
  // (the period's) can keep a second run of a period from telling the admins again.
  const env = schedulerEnvWithAdmin({
    SUSU_PUBLIC_URL: "https://api.susu.test",
    SUSU_ADMIN_ALERT_WINDOW_MINUTES: "0",
  });
  const deps = () => reconciliationJobDeps(db.prisma, stripe, env, clock, log);

  const notices = (aggregateId?: string) =>
    db.prisma.notification.findMany({
      where: {
        template: "reconciliation_differences",
        ...(aggregateId !== undefined ? { aggregateId } : {}),
      },
      include: { deliveries: { select: { channel: true, recipient: true, personId: true } } },
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
    });

  const mailOf = adminMailOf;

  it("finds nothing to say about a day without money, and opens no ticket", async () => {
    const { runs, remaining } = await reconcileDueDays(deps(), log);
    expect(remaining).toBe(0);
    expect(runs).toHaveLength(1);
    expect(runs[0]?.report).toMatchObject({ from: DAY - 24 * HOUR, to: DAY, differences: [] });
    expect(await db.prisma.supportTicket.count()).toBe(0);
    expect(await db.prisma.reconciliationReport.count()).toBe(1);
    // Nothing to tell the admins either.
    expect(await db.prisma.notification.count()).toBe(0);
    expect(await db.prisma.notificationDelivery.count()).toBe(0);
    expect(await db.prisma.adminAlert.count()).toBe(0);
  });

  it("reports a charge susu does not know, the next day, with one ticket for the period however often it runs", async () => {
    const pi = await stripe.paymentIntents.create({
      amount: 25_00,
      currency: "aud",
      payment_method: "pm_card_visa",
      payment_method_types: ["card"],
      confirm: true,
    });
    expect(pi.status).toBe("succeeded");
    const endpoint = (
      await new PrismaNotificationEndpoints(db.prisma).create({ url: "https://app.susu.test/hooks", at: DAY })
    )._unsafeUnwrap();

    clock.advance(23 * HOUR);
    const { runs } = await reconcileDueDays(deps(), log);
    const first = runs[0];
    if (first === undefined) throw new Error("the next day was not reconciled");
    expect(runs).toHaveLength(1);
    expect(first.report.from).toBe(DAY);
    expect(
      first.report.differences.map((d) => [d.code, d.category, d.stripeMinor, d.stripeCurrency]),
    ).toEqual([["missing_in_susu", "charge", 25_00, "AUD"]]);
    // The day again (an operator's rerun, or two schedulers): a second report, one ticket.
    await reconcilePeriod(deps(), log, { from: DAY, to: DAY + 24 * HOUR });
    expect((await reconcileDueDays(deps(), log)).runs).toEqual([]);

    const tickets = await db.prisma.supportTicket.findMany();
    expect(tickets.map((t) => [t.id, t.kind, t.status])).toEqual([
      [reconciliationTicketId(DAY, DAY + 24 * HOUR), "reconciliation_differences", "open"],
    ]);
    expect(tickets[0]?.subject).toContain("found 1 difference(s)");
    expect(await db.prisma.reconciliationReport.count({ where: { periodFrom: new Date(DAY) } })).toBe(2);

    // One notice for the admins, however often the period ran: an e-mail to the admin address
    // and a webhook to the enabled endpoint (as the role, no person), decided once.
    const sent = await notices();
    expect(sent).toHaveLength(1);
    const notice = sent[0];
    if (notice === undefined) throw new Error("no notice");
    expect(notice.roles).toEqual(["platform_admins"]);
    expect(notice.personIds).toEqual([]);
    expect(
      notice.deliveries
        .map((d) => [d.channel, d.recipient, d.personId])
        .sort((a, b) => (a[0] ?? "").localeCompare(b[0] ?? "")),
    ).toEqual([
      ["email", "ops@susu.test", null],
      ["webhook", endpoint.id, null],
    ]);
    expect(await db.prisma.notificationDelivery.count()).toBe(2);
    expect(await db.prisma.adminAlert.count({ where: { sent: true } })).toBe(1);
    const ticketId = reconciliationTicketId(DAY, DAY + 24 * HOUR);
    expect(notice.data).toMatchObject({
      periodFrom: new Date(DAY).toISOString(),
      periodTo: new Date(DAY + 24 * HOUR).toISOString(),
      differences: 1,
      differencesByKind: "missing_in_susu: 1",
      amountsByCurrency: "AUD: at Stripe 25.00, in susu 0.00",
      ticketUrl: `https://api.susu.test/v1/tickets/${encodeURIComponent(ticketId)}`,
      runbookUrl: "docs/runbooks/SusuReconciliationDifferences.md",
    });
    // What the admins read (the e-mail the delivery worker renders from the stored notice).
    const mail = mailOf(notice);
    expect(mail.subject).toContain("1 difference");
    expect(mail.text).toContain("2026-12-01T00:00:00.000Z to 2026-12-02T00:00:00.000Z");
    expect(mail.text).toContain("missing_in_susu: 1");
    expect(mail.text).toContain("AUD: at Stripe 25.00, in susu 0.00");
    expect(mail.text).toContain(`https://api.susu.test/v1/tickets/${encodeURIComponent(ticketId)}`);
    expect(mail.text).toContain("docs/runbooks/SusuReconciliationDifferences.md");
  });

  it("a notice that cannot be queued leaves the day due, as a ticket that cannot be opened does; the next run tells the admins once", async () => {
    // A charge susu does not know on the next day (the 2nd).
    await emulator.control.advanceClock(24 * 3600);
    await stripe.paymentIntents.create({
      amount: 7_50,
      currency: "aud",
      payment_method: "pm_card_visa",
      payment_method_types: ["card"],
      confirm: true,
    });
    clock.advance(24 * HOUR);
    const next = { from: DAY + 24 * HOUR, to: DAY + 48 * HOUR };
    const brokenNotifier = {
      send: () =>
        errAsync({
          type: "notify_failed" as const,
          code: "notify_failed" as const,
          message: "notifier down",
        }),
    };
    await expect(reconcileDueDays({ ...deps(), notifier: brokenNotifier }, log)).rejects.toThrow(
      /notifier down/,
    );
    expect(await db.prisma.reconciliationReport.count({ where: { periodFrom: new Date(next.from) } })).toBe(
      0,
    );
    expect(await notices()).toHaveLength(1);

    const { runs } = await reconcileDueDays(deps(), log);
    expect(runs.map((r) => [r.report.from, r.report.differences.map((d) => d.code)])).toEqual([
      [next.from, ["missing_in_susu"]],
    ]);
    const sent = await notices();
    expect(sent.map((n) => n.aggregateId)).toEqual([
      reconciliationTicketId(DAY, DAY + 24 * HOUR),
      reconciliationTicketId(next.from, next.to),
    ]);
    expect(sent[1]?.data).toMatchObject({ amountsByCurrency: "AUD: at Stripe 7.50, in susu 0.00" });
    expect(await db.prisma.supportTicket.count()).toBe(2);
  });

  it("a later run of a period that finds other differences tells the admins again and updates the ticket; one that finds none resolves it and says so", async () => {
    // The scheduler's own notifier, with its default window for admin alerts (an hour): a
    // follow-up says something new about the period, so no window holds it back.
    const windowed = notifierOf(
      readSchedulerEnv({
        STRIPE_SECRET_KEY: "sk_test_x",
        SUSU_SMTP_URL: "smtp://127.0.0.1:2525",
        SUSU_MAIL_FROM: "susu <no-reply@susu.test>",
        SUSU_ADMIN_EMAILS: "ops@susu.test",
        SUSU_PUBLIC_URL: "https://api.susu.test",
      }),
      db.prisma,
      log,
    );
    const withWindow = () => ({ ...deps(), notifier: windowed });
    // The 3rd: a debit of a round's member at Stripe (its effect's id in the metadata) that
    // susu's ledger does not record yet.
    await emulator.control.advanceClock(24 * 3600);
    clock.advance(25 * HOUR);
    const day = { from: DAY + 48 * HOUR, to: DAY + 72 * HOUR };
    const ticketId = reconciliationTicketId(day.from, day.to);
    const charge = (amount: number, effect: string) =>
      stripe.paymentIntents.create({
        amount,
        currency: "aud",
        payment_method: "pm_card_visa",
        payment_method_types: ["card"],
        confirm: true,
        metadata: { effect_id: effect },
      });
    await charge(12_00, "rnd_recon:debit:ana:1");
    const first = await reconcilePeriod(withWindow(), log, day);
    expect(first.report.differences.map((d) => [d.code, d.stripeMinor])).toEqual([
      ["missing_in_susu", 12_00],
    ]);
    expect(await notices(ticketId)).toHaveLength(1);

    // Another debit of the day: the next run finds two. A notifier down fails it with nothing
    // stored (the ticket's note is kept, by its id); the retry tells the admins once.
    await charge(3_00, "rnd_recon:debit:ben:1");
    const brokenNotifier = {
      send: () =>
        errAsync({
          type: "notify_failed" as const,
          code: "notify_failed" as const,
          message: "notifier down",
        }),
    };
    await expect(reconcilePeriod({ ...deps(), notifier: brokenNotifier }, log, day)).rejects.toThrow(
      /notifier down/,
    );
    await reconcilePeriod(withWindow(), log, day);
    const changed = await notices(ticketId);
    expect(changed).toHaveLength(2);
    expect(changed[1]?.data).toMatchObject({
      change: "changed",
      differences: 2,
      previousDifferences: 1,
      differencesByKind: "missing_in_susu: 2",
      amountsByCurrency: "AUD: at Stripe 15.00, in susu 0.00",
      ticketUrl: `https://api.susu.test/v1/tickets/${encodeURIComponent(ticketId)}`,
    });
    expect(
      await db.prisma.adminAlert.count({ where: { notificationId: changed[1]?.id ?? "", sent: true } }),
    ).toBe(1);
    expect(changed[1]?.deliveries.map((d) => d.channel).sort()).toEqual(["email", "webhook"]);
    const changedMail = mailOf(changed[1] as (typeof changed)[number]);
    expect(changedMail.subject).toContain("now 2 difference(s)");
    expect(changedMail.text).toContain("its last run found 1");
    let ticket = await db.prisma.supportTicket.findUniqueOrThrow({ where: { id: ticketId } });
    expect(ticket.status).toBe("open");
    expect(ticket.subject).toContain("found 2 difference(s)");
    const notes = (t: typeof ticket) => (t.details as { notes?: { summary: string }[] }).notes ?? [];
    expect(notes(ticket)).toHaveLength(1);
    expect(notes(ticket)[0]?.summary).toContain("found 2 difference(s)");

    // The same differences again: nothing new is said, the ticket keeps its one note.
    await reconcilePeriod(withWindow(), log, day);
    expect(await notices(ticketId)).toHaveLength(2);
    expect(notes(await db.prisma.supportTicket.findUniqueOrThrow({ where: { id: ticketId } }))).toHaveLength(
      1,
    );

    // susu's ledger catches up (the debits' postings land): the day is clean now. The ticket
    // is resolved and the admins are told, once.
    const ledger = new PrismaLedgerStore(db.prisma, { clock });
    for (const [effect, member, amount] of [
      ["rnd_recon:debit:ana:1", "ana", 12_00],
      ["rnd_recon:debit:ben:1", "ben", 3_00],
    ] as const)
      (
        await ledger.post(
          debitInitiated({
            id: `${effect}:initiated`,
            roundId: "rnd_recon",
            memberId: member,
            amount: money(amount, "AUD"),
            occurredAt: day.from + 10 * HOUR,
          })._unsafeUnwrap(),
        )
      )._unsafeUnwrap();
    const clean = await reconcilePeriod(withWindow(), log, day);
    expect(clean.report.differences).toEqual([]);
    await reconcilePeriod(withWindow(), log, day);
    const cleared = await notices(ticketId);
    expect(cleared).toHaveLength(3);
    expect(cleared[2]?.data).toMatchObject({ change: "cleared", differences: 0, previousDifferences: 2 });
    expect(mailOf(cleared[2] as (typeof cleared)[number]).subject).toContain("no differences any more");
    ticket = await db.prisma.supportTicket.findUniqueOrThrow({ where: { id: ticketId } });
    expect(ticket.status).toBe("resolved");
    expect(ticket.resolution).toContain("no differences");
  });

  it("is scheduled on its cron in pg-boss", async () => {
    const boss = new PgBoss({ connectionString: db.connectionString, schema: "pgboss", supervise: false });
    await boss.start();
    try {
      await scheduleReconciliation(boss, deps(), log, "15 2 * * *");
      const schedules = await boss.getSchedules();
      expect(schedules.map((s) => [s.name, s.cron])).toContainEqual([RECONCILIATION_QUEUE, "15 2 * * *"]);
      // One run at a time, whatever number of schedulers work the queue.
      expect((await boss.getQueue(RECONCILIATION_QUEUE))?.policy).toBe("singleton");
      // Its jobs expire after an hour (pg-boss's default is 15 minutes), well past a run's budget.
      expect((await boss.getQueue(RECONCILIATION_QUEUE))?.expireInSeconds).toBe(
        RECONCILIATION_JOB_EXPIRE_SECONDS,
      );
      expect(RECONCILIATION_JOB_EXPIRE_SECONDS * 1000).toBeGreaterThanOrEqual(
        6 * RECONCILIATION_RUN_BUDGET_MS,
      );
    } finally {
      await boss.stop({ graceful: false, wait: true });
    }
  });
});
