// The run that tells, on PostgreSQL and the emulator through the SDK, run in turn by the
// scheduler and by operators: each is compared with the period's previous told run, whoever
// ran it, so each change is said once; the command's reports of earlier releases, which told
// nobody, are not compared with.
import { ManualClock } from "@susu/domain/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeliveringNotifier } from "../../src/notify/index.js";
import {
  DAILY_RECONCILIATION_RAN_BY,
  operatorRanBy,
  reconcileAndTell,
  reconciliationTicketId,
  runReconciliation,
} from "../../src/reconciliation/index.js";
import { PrismaSupportDesk } from "../../src/support/prisma-support-desk.js";
import { type StripeHarness, startStripeHarness } from "../stripe/emulator-harness.js";
import { useTestDatabase } from "../support/index.js";

const db = useTestDatabase();
const DAY_MS = 86_400_000;
const DAY = Date.UTC(2026, 11, 1);
const PERIOD = { from: DAY, to: DAY + DAY_MS };
const TICKET = reconciliationTicketId(PERIOD.from, PERIOD.to);

describe("reconcileAndTell, run by the scheduler and by operators", () => {
  let harness: StripeHarness;
  const clock = new ManualClock(DAY + DAY_MS + 3_600_000);

  beforeAll(async () => {
    harness = await startStripeHarness({ startTime: (DAY + 10 * 3_600_000) / 1000 });
  });
  afterAll(async () => {
    await harness?.emulator.stop();
  });

  const strangePayment = (amount: number) =>
    harness.stripe.paymentIntents.create({
      amount,
      currency: "aud",
      payment_method: "pm_card_visa",
      payment_method_types: ["card"],
      confirm: true,
    });
  const run = (ranBy: string) => {
    clock.advance(60_000);
    return reconcileAndTell(
      {
        prisma: db.prisma,
        stripe: harness.stripe,
        desk: new PrismaSupportDesk(db.prisma, clock),
        notifier: new DeliveringNotifier({
          prisma: db.prisma,
          clock,
          email: true,
          adminEmails: ["ops@susu.test"],
          where: { locale: "en-AU", timeZone: "UTC" },
          alerts: { windowMs: 0 },
        }),
        clock,
      },
      PERIOD,
      ranBy,
    );
  };
  const notices = async () =>
    (await db.prisma.notification.findMany({ orderBy: { createdAt: "asc" }, select: { id: true } })).map(
      (n) => n.id,
    );

  it("says each change once, whichever of them finds it first", async () => {
    await strangePayment(25_00);
    const first = await run(DAILY_RECONCILIATION_RAN_BY);
    expect(first).toMatchObject({ change: "first", ticketId: TICKET });
    expect(await notices()).toEqual([`${TICKET}:notify:reconciliation_differences`]);
    // An operator finds what the scheduler found: nothing said.
    expect(await run(operatorRanBy("ops_ana"))).toMatchObject({ change: "same", ticketId: TICKET });
    expect((await run(operatorRanBy("ops_ana"))).noticeId).toBeUndefined();

    // Another payment: the operator finds it first and says so; the scheduler then finds the same.
    await strangePayment(40_00);
    const changed = await run(operatorRanBy("ops_ana"));
    expect(changed.change).toBe("changed");
    expect(changed.noticeId).toMatch(/:notify:reconciliation_differences:[0-9a-f]{16}$/);
    const after = await run(DAILY_RECONCILIATION_RAN_BY);
    expect(after).toMatchObject({ change: "same", ticketId: TICKET });
    expect(after.noticeId).toBeUndefined();
    expect(await notices()).toEqual([`${TICKET}:notify:reconciliation_differences`, changed.noticeId]);

    // A report stored as an earlier release's command did (it told nobody) is not what the
    // next run compares with.
    const refund = await harness.stripe.refunds.create({
      payment_intent: (await harness.stripe.paymentIntents.list({ limit: 1 })).data[0]?.id ?? "",
    });
    expect(refund.status).toBe("succeeded");
    clock.advance(60_000);
    await runReconciliation(
      { prisma: db.prisma, stripe: harness.stripe, now: () => clock.now() },
      PERIOD,
      "command",
    );
    const told = await run(DAILY_RECONCILIATION_RAN_BY);
    expect(told.change).toBe("changed");
    expect(told.noticeId).toBeDefined();
    expect(await notices()).toHaveLength(3);
    const ticket = await db.prisma.supportTicket.findUniqueOrThrow({ where: { id: TICKET } });
    expect(ticket.status).toBe("open");
  });
});
