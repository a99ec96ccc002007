// A platform admin asks for a UTC day's reconciliation again (POST
// /v1/operations/reconciliation/days/{date}/runs), on real PostgreSQL and the emulator through
// the SDK: the run stores its report and does what the scheduler's run of the day does — the
// day's differences ticket opened (or noted, reopened, resolved) and the admins told — with
// the same ids, so a second identical run sends nothing; bad days are refused with a code.
import {
  createStripeClient,
  DeliveringNotifier,
  PrismaReconciliationStore,
  PrismaStore,
  PrismaSupportDesk,
  reconcileAndTell,
  reconcileOnRequest,
  reconciliationTicketId,
  stripeEndpointOf,
} from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { useCaseDepsOn } from "@susu/domain";
import { FakePaymentGateway, ManualClock, SequentialIds } from "@susu/domain/testing";
import { type RunningEmulator, startEmulator } from "@susu/stripe-emulator";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authed, testApp, tokenFor } from "../support/app.js";

const db = useTestDatabase();
const DAY_MS = 86_400_000;
const DAY = Date.UTC(2026, 11, 1);
const ROUTE = "/v1/operations/reconciliation/days/2026-12-01/runs";
const TICKET = reconciliationTicketId(DAY, DAY + DAY_MS);
/** The next day, noon: 2026-12-01 is over. */
const clock = new ManualClock(DAY + DAY_MS + 12 * 3_600_000);
let emulator: RunningEmulator;
let stripe: Stripe;
let app: ReturnType<typeof testApp>;
let admin: string;
let service: string;

/** A payment made at Stripe that susu never asked for (on 2026-12-01 at the emulator's clock). */
async function strangePayment(amount: number): Promise<void> {
  await stripe.paymentIntents.create({
    amount,
    currency: "aud",
    payment_method: "pm_card_visa",
    payment_method_types: ["card"],
    confirm: true,
  });
}

/** The admins' deliveries queued so far (e-mail to `ops@susu.test`), by notice. */
async function adminMail(): Promise<{ notificationId: string; recipient: string }[]> {
  return db.prisma.notificationDelivery.findMany({
    where: { channel: "email" },
    select: { notificationId: true, recipient: true },
    orderBy: [{ createdAt: "asc" }, { id: "asc" }],
  });
}

const post = (token: string, key?: string) =>
  authed(token, "POST", undefined, key === undefined ? {} : { "Idempotency-Key": key });

/** What the runs route reads as now, when a test sets it (else the clock). */
let runsNow: (() => number) | undefined;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, fees: false, startTime: (DAY + 10 * 3_600_000) / 1000 });
  stripe = createStripeClient({
    secretKey: emulator.secretKey,
    ...stripeEndpointOf(emulator.url),
    timeoutMs: 10_000,
    maxNetworkRetries: 0,
  });
  const desk = new PrismaSupportDesk(db.prisma, clock);
  const notifier = new DeliveringNotifier({
    prisma: db.prisma,
    clock,
    email: true,
    adminEmails: ["ops@susu.test"],
    where: { locale: "en-AU", timeZone: "UTC" },
    alerts: { windowMs: 0 },
  });
  const store = new PrismaReconciliationStore(db.prisma);
  app = testApp({
    useCases: useCaseDepsOn(new PrismaStore(db.prisma, { clock }), { clock, ids: new SequentialIds() }),
    // Never reaches Stripe: nothing tested here calls the gateway (the fake only fills the port).
    gateway: new FakePaymentGateway(() => clock.now()),
    prisma: db.prisma,
    reconciliation: {
      reconcile: (period) =>
        reconcileOnRequest({ prisma: db.prisma, stripe: stripe, now: () => clock.now() }, period),
      reports: store,
      settlements: store,
      runs: {
        run: (period, ranBy) =>
          reconcileAndTell({ prisma: db.prisma, stripe, desk, notifier, clock }, period, ranBy),
        now: () => runsNow?.() ?? clock.now(),
      },
    },
  });
  admin = await tokenFor("ops_ana", ["admin"]);
  service = await tokenFor("ops_tool", ["service"]);
  await strangePayment(25_00);
});
afterAll(async () => {
  await emulator?.stop();
});

describe("POST /v1/operations/reconciliation/days/{date}/runs", () => {
  it("reconciles the day, stores its report as the admin's, opens the day's ticket and tells the admins once", async () => {
    const res = await app.request(ROUTE, post(admin, "run-1"));
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      report: { id: string; differences: unknown[] };
      change: string;
      ticketId: string | null;
      noticeId: string | null;
    };
    expect(body).toMatchObject({
      object: "reconciliation_run",
      change: "first",
      ticketId: TICKET,
      noticeId: `${TICKET}:notify:reconciliation_differences`,
      report: { object: "reconciliation", from: "2026-12-01T00:00:00.000Z", to: "2026-12-02T00:00:00.000Z" },
    });
    expect(body.report.differences).toHaveLength(1);
    const stored = await db.prisma.reconciliationReport.findUniqueOrThrow({ where: { id: body.report.id } });
    expect(stored.ranBy).toBe("operator:ops_ana");
    const ticket = await db.prisma.supportTicket.findUniqueOrThrow({ where: { id: TICKET } });
    expect(ticket).toMatchObject({ kind: "reconciliation_differences", status: "open" });
    expect(await adminMail()).toEqual([
      { notificationId: `${TICKET}:notify:reconciliation_differences`, recipient: "ops@susu.test" },
    ]);

    // The same request again (its key) answers the same; another run finds the same
    // differences: a report more, nothing sent.
    const replayed = await app.request(ROUTE, post(admin, "run-1"));
    expect(replayed.headers.get("idempotent-replayed")).toBe("true");
    expect(((await replayed.json()) as { report: { id: string } }).report.id).toBe(body.report.id);
    const again = await app.request(ROUTE, post(admin));
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ change: "same", ticketId: TICKET, noticeId: null });
    expect(await db.prisma.reconciliationReport.count()).toBe(2);
    expect(await adminMail()).toHaveLength(1);
  });

  it("runs a day whose ticket was resolved by hand: other differences reopen it and send a follow-up, once", async () => {
    const resolved = await app.request(
      `/v1/tickets/${encodeURIComponent(TICKET)}/resolve`,
      authed(admin, "POST", { resolution: "checked: a test payment" }),
    );
    expect(resolved.status).toBe(200);
    await strangePayment(40_00);
    // The follow-up is queued later than the first notice (on a clock that stood still the
    // two deliveries tied on created_at, and their ids — one hashes the run's differences,
    // which name the emulator's random ids — ordered them by chance).
    clock.advance(60_000);

    const res = await app.request(ROUTE, post(admin, "run-2"));
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      change: string;
      noticeId: string;
      report: { differences: unknown[] };
    };
    expect(body).toMatchObject({ change: "changed", ticketId: TICKET });
    expect(body.report.differences).toHaveLength(2);
    expect(body.noticeId).toMatch(new RegExp(`^${TICKET}:notify:reconciliation_differences:[0-9a-f]{16}$`));
    const ticket = await db.prisma.supportTicket.findUniqueOrThrow({ where: { id: TICKET } });
    expect(ticket.status).toBe("open");
    expect(ticket.subject).toContain("found 2 difference(s)");
    const mail = await adminMail();
    expect(mail.map((m) => m.notificationId)).toEqual([
      `${TICKET}:notify:reconciliation_differences`,
      body.noticeId,
    ]);
    expect(mail.every((m) => m.recipient === "ops@susu.test")).toBe(true);

    const again = await app.request(ROUTE, post(admin));
    expect(await again.json()).toMatchObject({ change: "same", noticeId: null });
    expect(await adminMail()).toHaveLength(2);
  });

  it.each([
    ["a day that does not exist", "2026-02-30", 400, "reconciliation_day_invalid"],
    ["not a date", "2026-12-1", 400, "reconciliation_day_invalid"],
    ["an instant", "2026-12-01T00:00:00Z", 400, "reconciliation_day_invalid"],
    ["a day before 1970", "1969-12-31", 400, "reconciliation_day_invalid"],
    ["a day in year 1", "0001-01-01", 400, "reconciliation_day_invalid"],
    ["today (not over yet)", "2026-12-02", 409, "reconciliation_day_not_over"],
    ["a day in the future", "2026-12-25", 409, "reconciliation_day_not_over"],
  ])("refuses %s with problem+json and runs nothing", async (_name, date, status, code) => {
    const reports = await db.prisma.reconciliationReport.count();
    const res = await app.request(
      `/v1/operations/reconciliation/days/${encodeURIComponent(date)}/runs`,
      post(admin),
    );
    expect(res.status).toBe(status);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const body = (await res.json()) as { code: string; detail: string };
    expect(body.code).toBe(code);
    // The detail names what was sent (an example date alone read as if it were the one refused).
    expect(body.detail).toContain(status === 400 ? JSON.stringify(date) : date);
    expect(await db.prisma.reconciliationReport.count()).toBe(reports);
  });

  it("refuses yesterday until the 6 hours after it are over (susu may still book its movements): 409, nothing run", async () => {
    const reports = await db.prisma.reconciliationReport.count();
    const notices = await db.prisma.notification.count();
    runsNow = () => DAY + DAY_MS + 3 * 3_600_000;
    try {
      const res = await app.request("/v1/operations/reconciliation/days/2026-12-01/runs", post(admin));
      expect(res.status).toBe(409);
      const body = (await res.json()) as { code: string; detail: string };
      expect(body.code).toBe("reconciliation_day_not_over");
      expect(body.detail).toContain("2026-12-01");
    } finally {
      runsNow = undefined;
    }
    expect(await db.prisma.reconciliationReport.count()).toBe(reports);
    expect(await db.prisma.notification.count()).toBe(notices);
  });

  it("is for platform admins: a service token gets 403 admin_only", async () => {
    const res = await app.request(ROUTE, post(service));
    expect(res.status).toBe(403);
    expect(((await res.json()) as { code: string }).code).toBe("admin_only");
  });
});
