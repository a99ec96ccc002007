// Reconciliation with Stripe on v1, for platform admins: computed on request (pulling the
// period from the emulator through the SDK), as JSON or CSV; stored reports listed and read;
// bad periods refused with a code before anything is pulled.
import {
  createStripeClient,
  PrismaReconciliationStore,
  PrismaStore,
  reconcileOnRequest,
  runReconciliation,
  stripeEndpointOf,
} from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { useCaseDepsOn } from "@susu/domain";
import { FakePaymentGateway, ManualClock, SequentialIds } from "@susu/domain/testing";
import { type RunningEmulator, startEmulator } from "@susu/stripe-emulator";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ReconciliationDeps } from "../../src/v1/reconciliation.js";
import { authed, testApp, tokenFor } from "../support/app.js";

const db = useTestDatabase();
const DAY = Date.UTC(2026, 11, 1);
const clock = new ManualClock(DAY + 12 * 3_600_000);
let emulator: RunningEmulator;
let stripe: Stripe;
let app: ReturnType<typeof testApp>;
let admin: string;
let service: string;
let member: string;
let chargeId: string;

function depsOn(client: Stripe): ReconciliationDeps {
  return {
    reconcile: (period) =>
      reconcileOnRequest({ prisma: db.prisma, stripe: client, now: () => clock.now() }, period),
    reports: new PrismaReconciliationStore(db.prisma),
    settlements: new PrismaReconciliationStore(db.prisma),
  };
}

function appWith(reconciliation: ReconciliationDeps) {
  return testApp({
    useCases: useCaseDepsOn(new PrismaStore(db.prisma, { clock }), { clock, ids: new SequentialIds() }),
    // Never reaches Stripe: nothing tested here calls the gateway (the fake only fills the port).
    gateway: new FakePaymentGateway(() => clock.now()),
    prisma: db.prisma,
    reconciliation,
  });
}

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, fees: false, startTime: (DAY + 10 * 3_600_000) / 1000 });
  stripe = createStripeClient({
    secretKey: emulator.secretKey,
    ...stripeEndpointOf(emulator.url),
    timeoutMs: 10_000,
    maxNetworkRetries: 0,
  });
  app = appWith(depsOn(stripe));
  admin = await tokenFor("ops_ana", ["admin"]);
  service = await tokenFor("ops_tool", ["service"]);
  member = await tokenFor("ana");
  // A payment made at Stripe that susu never asked for.
  const pi = await stripe.paymentIntents.create({
    amount: 25_00,
    currency: "aud",
    payment_method: "pm_card_visa",
    payment_method_types: ["card"],
    confirm: true,
  });
  chargeId = String(pi.latest_charge);
});
afterAll(async () => {
  await emulator?.stop();
});

const pulled = () => db.prisma.stripeBalanceTransaction.count();

describe("GET /v1/operations/reconciliation", () => {
  it("pulls the period from Stripe and reports what susu's ledger lacks, stored as no report", async () => {
    const res = await app.request(
      "/v1/operations/reconciliation?from=2026-12-01&to=2026-12-02",
      authed(admin),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown> & { differences: Record<string, unknown>[] };
    expect(body).toMatchObject({
      object: "reconciliation",
      id: null,
      from: "2026-12-01T00:00:00.000Z",
      to: "2026-12-02T00:00:00.000Z",
      matched: 0,
      ledgerTransactions: 0,
      balanceTransactions: 1,
      totals: [{ currency: "AUD", category: "charge", susuMinor: 0, stripeMinor: 25_00, stripeCount: 1 }],
      settlement: [{ currency: "AUD", amountMinor: 25_00, feeMinor: 0, netMinor: 25_00, count: 1 }],
    });
    expect(body.differences).toEqual([
      expect.objectContaining({
        code: "missing_in_susu",
        category: "charge",
        key: `object:${chargeId}`,
        susuMinor: null,
        stripeMinor: 25_00,
        stripeCurrency: "AUD",
        stripeObjectIds: [chargeId],
        at: "2026-12-01T10:00:00.000Z",
      }),
    ]);
    expect(await db.prisma.reconciliationReport.count()).toBe(0);
  });

  it("answers CSV for Accept: text/csv, one row per difference, amounts in major units", async () => {
    const res = await app.request(
      "/v1/operations/reconciliation?from=2026-12-01&to=2026-12-02",
      authed(admin, "GET", undefined, { accept: "text/csv" }),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(res.headers.get("content-disposition")).toContain("attachment");
    const lines = (await res.text()).trimEnd().split("\r\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^code,category,date,key,susu_amount/);
    expect(lines[1]).toMatch(
      new RegExp(
        `^missing_in_susu,charge,2026-12-01T10:00:00\\.000Z,object:${chargeId},,,25\\.00,AUD,,${chargeId},txn_\\w+,Stripe moved money that susu's ledger does not record$`,
      ),
    );
  });

  it.each([
    ["from after to", "from=2026-12-02&to=2026-12-01", "reconciliation_period_invalid"],
    ["an empty period", "from=2026-12-01&to=2026-12-01", "reconciliation_period_invalid"],
    ["more than 31 days", "from=2026-01-01&to=2026-03-01", "reconciliation_period_too_long"],
    ["a day that does not exist", "from=2026-02-30&to=2026-03-01", "reconciliation_period_invalid"],
    ["an instant without a zone", "from=2026-12-01T00:00:00&to=2026-12-02", "reconciliation_period_invalid"],
    // An instant on a day or at a time that does not exist: refused, not rolled over (to 2 March).
    [
      "an instant on a day that does not exist",
      "from=2026-02-30T00:00Z&to=2026-03-05",
      "reconciliation_period_invalid",
    ],
    [
      "an instant on 31 April",
      "from=2026-04-31T10:00:00%2B10:00&to=2026-05-05",
      "reconciliation_period_invalid",
    ],
    ["an instant in month 13", "from=2026-12-01&to=2026-13-01T00:00Z", "reconciliation_period_invalid"],
    ["an instant at hour 24", "from=2026-12-01T24:00:00Z&to=2026-12-05", "reconciliation_period_invalid"],
    ["an instant at second 60", "from=2026-12-01T00:00:60Z&to=2026-12-05", "reconciliation_period_invalid"],
    [
      "an offset of 24 hours",
      "from=2026-12-01T00:00:00%2B24:00&to=2026-12-05",
      "reconciliation_period_invalid",
    ],
    ["no end", "from=2026-12-01", "invalid_request"],
    ["a start before 1970", "from=1969-12-31&to=1970-01-01", "reconciliation_period_invalid"],
    ["a start in year 1", "from=0001-01-01&to=0001-01-02", "reconciliation_period_invalid"],
    ["a bound too long to be a date", `from=${"9".repeat(50)}&to=2026-12-02`, "invalid_request"],
  ])("refuses %s with 400 problem+json and pulls nothing", async (_name, query, code) => {
    const before = await pulled();
    const res = await app.request(`/v1/operations/reconciliation?${query}`, authed(admin));
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(((await res.json()) as { code: string }).code).toBe(code);
    expect(await pulled()).toBe(before);
  });

  it.each(["from=1969-12-31&to=1970-01-01", "from=0001-01-01&to=0001-01-02"])(
    "says why a period before 1970 is refused (%s): it starts too early, not that it is no date",
    async (query) => {
      const res = await app.request(`/v1/operations/reconciliation?${query}`, authed(admin));
      expect(res.status).toBe(400);
      expect(((await res.json()) as { detail: string }).detail).toMatch(/on or after 1970-01-01/);
    },
  );

  it("is for platform admins: a service token gets 403 admin_only, a member 403 operator_only", async () => {
    const query = "/v1/operations/reconciliation?from=2026-12-01&to=2026-12-02";
    const asService = await app.request(query, authed(service));
    expect(asService.status).toBe(403);
    expect(((await asService.json()) as { code: string }).code).toBe("admin_only");
    const asMember = await app.request(query, authed(member));
    expect(asMember.status).toBe(403);
    expect(((await asMember.json()) as { code: string }).code).toBe("operator_only");
  });

  it("answers 502 stripe_unavailable when Stripe cannot be reached, and compares nothing", async () => {
    const unreachable = createStripeClient({
      secretKey: emulator.secretKey,
      host: "127.0.0.1",
      port: 9,
      protocol: "http",
      timeoutMs: 2_000,
      maxNetworkRetries: 0,
    });
    const res = await appWith(depsOn(unreachable)).request(
      "/v1/operations/reconciliation?from=2026-12-01&to=2026-12-02",
      authed(admin),
    );
    expect(res.status).toBe(502);
    expect(((await res.json()) as { code: string }).code).toBe("stripe_unavailable");
  });
});

describe("stored reconciliation reports", () => {
  it("lists the stored reports newest first and reads one as JSON or CSV", async () => {
    const period = { from: DAY, to: DAY + 86_400_000 };
    const first = await runReconciliation(
      { prisma: db.prisma, stripe, now: () => clock.now() },
      period,
      "command",
    );
    clock.advance(60_000);
    const second = await runReconciliation(
      { prisma: db.prisma, stripe, now: () => clock.now() },
      period,
      "scheduler",
    );

    const list = await app.request("/v1/operations/reconciliation/reports?limit=1", authed(admin));
    expect(list.status).toBe(200);
    expect(await list.json()).toEqual({
      object: "list",
      url: "/v1/operations/reconciliation/reports",
      data: [
        {
          object: "reconciliation_report",
          id: second.stored.id,
          from: "2026-12-01T00:00:00.000Z",
          to: "2026-12-02T00:00:00.000Z",
          ranBy: "scheduler",
          differences: 1,
          matched: 0,
          createdAt: new Date(clock.now()).toISOString(),
        },
      ],
      has_more: true,
    });

    const next = await app.request(
      `/v1/operations/reconciliation/reports?limit=1&starting_after=${second.stored.id}`,
      authed(admin),
    );
    expect(await next.json()).toMatchObject({
      data: [{ id: first.stored.id, ranBy: "command" }],
      has_more: false,
    });
    const unknown = await app.request(
      "/v1/operations/reconciliation/reports?starting_after=rec_unknown",
      authed(admin),
    );
    expect(await unknown.json()).toMatchObject({ data: [], has_more: false });

    const one = await app.request(`/v1/operations/reconciliation/reports/${first.stored.id}`, authed(admin));
    expect(one.status).toBe(200);
    expect(await one.json()).toMatchObject({
      object: "reconciliation",
      id: first.stored.id,
      differences: [{ code: "missing_in_susu", key: `object:${chargeId}`, at: "2026-12-01T10:00:00.000Z" }],
    });
    const csv = await app.request(
      `/v1/operations/reconciliation/reports/${first.stored.id}`,
      authed(admin, "GET", undefined, { accept: "text/csv" }),
    );
    expect((await csv.text()).split("\r\n")[1]).toMatch(/^missing_in_susu,charge,/);
  });

  it("answers 404 for a report that does not exist and 400 for a limit out of range", async () => {
    const missing = await app.request("/v1/operations/reconciliation/reports/rec_nope", authed(admin));
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { code: string }).code).toBe("reconciliation_report_not_found");
    const bad = await app.request("/v1/operations/reconciliation/reports?limit=0", authed(admin));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { code: string }).code).toBe("invalid_request");
  });
});
