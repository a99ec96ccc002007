// Two runs that tell of one period at once (the scheduler's and an operator's): each compares
// with the period's previous run and then opens, notes or resolves the ticket; if the second
// compared before the first had stored its report, the first's resolution could land after the
// second reopened the ticket for a new difference, leaving a real difference with its ticket
// resolved (and never run again by the scheduler). Runs of one period take their turn.
import type { SupportDesk } from "@susu/domain";
import { debitInitiated, money } from "@susu/domain";
import { ManualClock } from "@susu/domain/testing";
import { ResultAsync } from "neverthrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeliveringNotifier } from "../../src/notify/index.js";
import { PrismaLedgerStore } from "../../src/prisma/index.js";
import {
  DAILY_RECONCILIATION_RAN_BY,
  operatorRanBy,
  PrismaReconciliationStore,
  reconcileAndTell,
  reconciliationTicketId,
} from "../../src/reconciliation/index.js";
import { PrismaSupportDesk } from "../../src/support/prisma-support-desk.js";
import { type StripeHarness, startStripeHarness } from "../stripe/emulator-harness.js";
import { useTestDatabase } from "../support/index.js";

const db = useTestDatabase();
const DAY_MS = 86_400_000;
const HOUR = 3_600_000;
const DAY = Date.UTC(2026, 10, 1);
const PERIOD = { from: DAY, to: DAY + DAY_MS };
const TICKET = reconciliationTicketId(PERIOD.from, PERIOD.to);

describe("two runs that tell of one period at once", () => {
  let harness: StripeHarness;
  const clock = new ManualClock(DAY + DAY_MS + 7 * HOUR);

  beforeAll(async () => {
    harness = await startStripeHarness({ startTime: (DAY + 10 * HOUR) / 1000 });
  });
  afterAll(async () => {
    await harness?.emulator.stop();
  });

  const notifier = () =>
    new DeliveringNotifier({
      prisma: db.prisma,
      clock,
      email: true,
      adminEmails: ["ops@susu.test"],
      where: { locale: "en-AU", timeZone: "UTC" },
      alerts: { windowMs: 0 },
    });
  const run = (ranBy: string, desk: SupportDesk = new PrismaSupportDesk(db.prisma, clock)) =>
    reconcileAndTell(
      { prisma: db.prisma, stripe: harness.stripe, desk, notifier: notifier(), clock },
      PERIOD,
      ranBy,
    );
  const book = async (id: string, amountMinor: number) =>
    (
      await new PrismaLedgerStore(db.prisma).post(
        debitInitiated({
          id: `${id}:initiated`,
          roundId: "r1",
          memberId: "ana",
          amount: money(amountMinor, "AUD"),
          occurredAt: DAY + 12 * HOUR,
        })._unsafeUnwrap(),
      )
    )._unsafeUnwrap();

  it("a run that clears the period while another finds a new difference leaves the ticket open", async () => {
    // A debit at Stripe susu has not booked yet: the first run opens the period's ticket.
    await harness.stripe.paymentIntents.create({
      amount: 30_00,
      currency: "aud",
      payment_method: "pm_card_visa",
      payment_method_types: ["card"],
      confirm: true,
      metadata: { effect_id: "eff_debit_late" },
    });
    expect((await run(DAILY_RECONCILIATION_RAN_BY)).change).toBe("first");

    // susu books it: the scheduler's next run finds none and resolves the ticket. While it does,
    // a debit susu books that Stripe never made lands, and an operator runs the day.
    await book("eff_debit_late", 30_00);
    let operator: Promise<unknown> | undefined;
    const desk = new PrismaSupportDesk(db.prisma, clock);
    const slowDesk: SupportDesk = {
      openTicket: (t) => desk.openTicket(t),
      updateTicket: (id, u) => desk.updateTicket(id, u),
      resolveTicket: (id, r) =>
        ResultAsync.fromSafePromise(
          (async () => {
            await book("eff_debit_phantom", 12_00);
            const done = run(operatorRanBy("ops_ana"));
            operator = done;
            // The operator's run goes first if it may; runs of one period wait for each other.
            await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 2_000))]);
          })(),
        ).andThen(() => desk.resolveTicket(id, r)),
    };
    const scheduler = await run(DAILY_RECONCILIATION_RAN_BY, slowDesk);
    expect(scheduler.change).toBe("cleared");
    await operator;

    const latest = await new PrismaReconciliationStore(db.prisma).latestToldReportOf(PERIOD.from, PERIOD.to);
    expect(latest?.report.differences.map((d) => d.code)).toEqual(["missing_at_stripe"]);
    const ticket = await db.prisma.supportTicket.findUniqueOrThrow({ where: { id: TICKET } });
    expect(ticket.status).toBe("open");
  });
});
