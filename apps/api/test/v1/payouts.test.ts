// A seller's balance and payouts on v1 through app.request(), on the whole domain on
// PostgreSQL (SusuOnPostgres: PrismaStore, a database of its own for each test; the fake
// gateway's balances and payouts, Stripe's payout facts delivered through the router): who sees what, the list's pages, an operator's payout
// (idempotent by its key, refused off the manual schedule or for an account that cannot pay
// out), and what the schema refuses — every refusal changing nothing.
import { createTestDatabase, type TestDatabase } from "@susu/adapters/testing";
import { money, type PayoutStatus } from "@susu/domain";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { authed, testApp, tokenFor } from "../support/app.js";
import { SusuOnPostgres } from "../support/susu-on-postgres.js";

const SELLER = "sam";
const OPERATOR = "ops_olga";

interface Problem {
  readonly code: string;
  readonly status: number;
}

let db: TestDatabase;
let sim: SusuOnPostgres;
let app: ReturnType<typeof testApp>;

beforeEach(async () => {
  db = await createTestDatabase();
  sim = new SusuOnPostgres(db.prisma, { start: Date.UTC(2030, 0, 3, 9) });
  app = testApp({ useCases: sim.deps, gateway: sim.gateway, prisma: db.prisma });
  (await sim.addSeller(SELLER))._unsafeUnwrap();
  (await sim.addSeller("sue"))._unsafeUnwrap();
});

afterEach(async () => {
  await db.drop();
});

/** How many audit records the database holds. */
const auditRows = () => db.prisma.auditLogEntry.count();

const operator = () => tokenFor(OPERATOR, ["admin"]);

async function get(path: string, token: string) {
  const res = await app.request(path, authed(token));
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function payOut(personId: string, token: string, key?: string) {
  const res = await app.request(
    `/v1/people/${personId}/payouts`,
    authed(token, "POST", undefined, key === undefined ? {} : { "idempotency-key": key }),
  );
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & Partial<Problem> };
}

/** Stripe reports a payout of the seller's account. */
async function reported(payoutId: string, status: PayoutStatus, createdAt: number) {
  (
    await sim.deliver([
      {
        kind: "payout_changed",
        payout: {
          payoutId,
          accountId: `acct_${SELLER}`,
          amountMinor: 40_00,
          currency: "AUD",
          status,
          arrivalDate: createdAt + 2 * 86_400_000,
          automatic: false,
          createdAt,
          ...(status === "failed" ? { failureCode: "no_account", failureMessage: "No bank account" } : {}),
        },
      },
    ])
  )._unsafeUnwrap();
}

describe("GET /v1/people/{personId}/balance", () => {
  it("shows the person and operators the Stripe balance and what susu holds; anyone else gets 404", async () => {
    sim.gateway.balances.set(`acct_${SELLER}`, [money(120_00, "AUD")]);
    const expected = {
      object: "balance",
      personId: SELLER,
      connectedAccountId: `acct_${SELLER}`,
      accountGone: false,
      available: [{ amountMinor: 120_00, currency: "AUD" }],
      pending: [],
      heldForSeller: [],
    };
    expect(await get(`/v1/people/${SELLER}/balance`, await tokenFor(SELLER))).toEqual({
      status: 200,
      body: expected,
    });
    expect(await get("/v1/people/me/balance", await tokenFor(SELLER))).toEqual({
      status: 200,
      body: expected,
    });
    expect(await get(`/v1/people/${SELLER}/balance`, await operator())).toEqual({
      status: 200,
      body: expected,
    });
    const stranger = await get(`/v1/people/${SELLER}/balance`, await tokenFor("sue"));
    expect(stranger).toMatchObject({ status: 404, body: { code: "person_not_found" } });
    const nobody = await get("/v1/people/nobody/balance", await operator());
    expect(nobody).toMatchObject({ status: 404, body: { code: "person_not_found" } });
  });

  it("refuses a malformed person id with 400", async () => {
    const res = await get("/v1/people/bad%20id!/balance", await operator());
    expect(res).toMatchObject({ status: 400, body: { code: "invalid_request" } });
  });
});

describe("GET /v1/people/{personId}/payouts", () => {
  it("lists what Stripe reported, newest first, in pages; a late event does not undo a status", async () => {
    const t0 = sim.clock.now();
    await reported("po_a", "paid", t0);
    await reported("po_b", "failed", t0 + 1_000);
    await reported("po_c", "pending", t0 + 2_000);
    await reported("po_a", "pending", t0); // late payout.created
    const token = await tokenFor(SELLER);
    const first = await get(`/v1/people/${SELLER}/payouts?limit=2`, token);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ object: "list", url: `/v1/people/${SELLER}/payouts`, has_more: true });
    const data = first.body.data as { id: string; status: string; failureCode: string | null }[];
    expect(data.map((p) => [p.id, p.status, p.failureCode])).toEqual([
      ["po_c", "pending", null],
      ["po_b", "failed", "no_account"],
    ]);
    const second = await get(`/v1/people/${SELLER}/payouts?limit=2&starting_after=po_b`, token);
    expect(second.body).toMatchObject({
      has_more: false,
      data: [
        {
          object: "payout",
          id: "po_a",
          personId: SELLER,
          connectedAccountId: `acct_${SELLER}`,
          amount: { amountMinor: 40_00, currency: "AUD" },
          status: "paid",
          automatic: false,
        },
      ],
    });
    const unknownCursor = await get(`/v1/people/${SELLER}/payouts?starting_after=po_zzz`, token);
    expect(unknownCursor.body).toMatchObject({ data: [], has_more: false });
  });

  it("hides a person's payouts from others and refuses a bad page size", async () => {
    await reported("po_a", "paid", sim.clock.now());
    expect(await get(`/v1/people/${SELLER}/payouts`, await tokenFor("sue"))).toMatchObject({
      status: 404,
      body: { code: "person_not_found" },
    });
    for (const limit of ["0", "101", "x"])
      expect(await get(`/v1/people/${SELLER}/payouts?limit=${limit}`, await operator())).toMatchObject({
        status: 400,
        body: { code: "invalid_request" },
      });
  });
});

describe("POST /v1/people/{personId}/payouts", () => {
  it("an operator pays the available balance out; the same key again pays nothing twice", async () => {
    sim.gateway.balances.set(`acct_${SELLER}`, [money(75_00, "AUD"), money(5_00, "NZD")]);
    const first = await payOut(SELLER, await operator(), "pay-1");
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      object: "payout_run",
      personId: SELLER,
      connectedAccountId: `acct_${SELLER}`,
      payouts: [
        { amount: { amountMinor: 75_00, currency: "AUD" }, status: "pending" },
        { amount: { amountMinor: 5_00, currency: "NZD" }, status: "pending" },
      ],
      skipped: [],
    });
    const again = await payOut(SELLER, await operator(), "pay-1");
    expect(again).toEqual(first);
    expect(sim.gateway.payouts.size).toBe(2);
    expect([...sim.gateway.payouts.keys()]).toEqual([
      `payout:acct_${SELLER}:AUD:request:${OPERATOR}:pay-1`,
      `payout:acct_${SELLER}:NZD:request:${OPERATOR}:pay-1`,
    ]);
  });

  it("two admins' same Idempotency-Key are two requests: each pays out what is available then", async () => {
    // Keys are each caller's own (a retry is the same caller's): Omar's key is not Olga's,
    // even written alike (both name the day, say), so his run must not find her payout.
    sim.gateway.balances.set(`acct_${SELLER}`, [money(75_00, "AUD")]);
    const olga = await payOut(SELLER, await operator(), "payout-2030-01-03");
    expect(olga.body).toMatchObject({ payouts: [{ amount: { amountMinor: 75_00 } }], skipped: [] });
    sim.gateway.balances.set(`acct_${SELLER}`, [money(20_00, "AUD")]);
    const omar = await payOut(SELLER, await tokenFor("ops_omar", ["admin"]), "payout-2030-01-03");
    expect(omar.status).toBe(201);
    expect(omar.body).toMatchObject({ payouts: [{ amount: { amountMinor: 20_00 } }], skipped: [] });
    expect(sim.gateway.payouts.size).toBe(2);
  });

  it("needs an Idempotency-Key, a platform admin, and a person the caller may see", async () => {
    sim.gateway.balances.set(`acct_${SELLER}`, [money(75_00, "AUD")]);
    expect(await payOut(SELLER, await operator())).toMatchObject({
      status: 400,
      body: { code: "idempotency_key_required" },
    });
    expect(await payOut(SELLER, await tokenFor(SELLER), "k")).toMatchObject({
      status: 403,
      body: { code: "operator_only" },
    });
    // A client app's backend (a service token) sees people, but does not pay them out.
    expect(await payOut(SELLER, await tokenFor("app_events", ["service"]), "k")).toMatchObject({
      status: 403,
      body: { code: "admin_only" },
    });
    expect(await payOut(SELLER, await tokenFor("sue"), "k")).toMatchObject({
      status: 404,
      body: { code: "person_not_found" },
    });
    expect(await payOut("nobody", await operator(), "k")).toMatchObject({
      status: 404,
      body: { code: "person_not_found" },
    });
    expect(sim.gateway.payouts.size).toBe(0);
  });

  it("is refused with 409 when Stripe pays the account out by itself, or when the account cannot pay out", async () => {
    sim.gateway.balances.set(`acct_${SELLER}`, [money(75_00, "AUD")]);
    // Stripe shows the account on its daily schedule: refused, whatever the setting.
    sim.gateway.setPayoutInterval(`acct_${SELLER}`, "daily");
    const res = await app.request(
      `/v1/people/${SELLER}/payouts`,
      authed(await operator(), "POST", undefined, { "idempotency-key": "k1" }),
    );
    expect(res.status).toBe(409);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(((await res.json()) as Problem).code).toBe("payouts_not_manual");
    expect(sim.gateway.payouts.size).toBe(0);
    // The setting moved off manual, the account still manual at Stripe: paid.
    sim.gateway.setPayoutInterval(`acct_${SELLER}`, "manual");
    const automatic = testApp({
      useCases: { ...sim.deps, payoutSchedule: { interval: "daily" } },
      gateway: sim.gateway,
      prisma: db.prisma,
    });
    const paid = await automatic.request(
      `/v1/people/${SELLER}/payouts`,
      authed(await operator(), "POST", undefined, { "idempotency-key": "k1b" }),
    );
    expect(paid.status).toBe(201);
    expect(sim.gateway.payouts.size).toBe(1);

    (await sim.addSeller("rae", { canReceive: false }))._unsafeUnwrap();
    expect(await payOut("rae", await operator(), "k2")).toMatchObject({
      status: 409,
      body: { code: "payouts_not_enabled" },
    });
    (
      await sim.store.commit({
        people: [
          {
            state: { id: "noa", displayName: "Noa", createdAt: sim.clock.now(), version: 0 },
            expectedVersion: undefined,
          },
        ],
        groups: [],
        rounds: [],
        outbox: [],
        audit: [],
      })
    )._unsafeUnwrap();
    expect(await payOut("noa", await operator(), "k3")).toMatchObject({
      status: 409,
      body: { code: "no_payout_account" },
    });
    expect(sim.gateway.payouts.size).toBe(1);
  });
});

describe("POST /v1/operations/payouts/pause and /resume", () => {
  async function post(path: string, token: string, body: unknown) {
    const res = await app.request(path, authed(token, "POST", body));
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & Partial<Problem> };
  }

  it("a platform admin pauses every payout: pay out now is refused 409 payouts_paused, nothing asked of Stripe; resumed, it pays", async () => {
    sim.gateway.balances.set(`acct_${SELLER}`, [money(40_00, "AUD")]);
    const paused = await post("/v1/operations/payouts/pause", await operator(), {
      reason: " month-end close ",
    });
    expect(paused).toEqual({
      status: 200,
      body: {
        object: "payout_pause",
        scope: "platform",
        personId: null,
        reason: "month-end close",
        pausedBy: OPERATOR,
        pausedAt: new Date(sim.clock.now()).toISOString(),
      },
    });
    expect((await get("/v1/operations/payouts/pauses", await operator())).body).toEqual({
      object: "payout_pauses",
      platform: paused.body,
      people: [],
    });
    const refused = await payOut(SELLER, await operator(), "pay-1");
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({
      code: "payouts_paused",
      detail: expect.stringContaining("month-end close"),
    });
    expect(sim.gateway.payouts.size).toBe(0);
    expect(await post("/v1/operations/payouts/resume", await operator(), {})).toEqual({
      status: 200,
      body: { object: "payout_resume", scope: "platform", personId: null, resumed: true },
    });
    expect((await payOut(SELLER, await operator(), "pay-2")).status).toBe(201);
    expect(sim.gateway.payouts.size).toBe(1);
    // Resumed again: nothing was paused.
    expect((await post("/v1/operations/payouts/resume", await operator(), {})).body).toMatchObject({
      resumed: false,
    });
  });

  it("one seller paused: only theirs is refused; an unknown person is 404; a bad body 400; a service token 403 admin_only — each changing nothing", async () => {
    const paused = await post("/v1/operations/payouts/pause", await operator(), {
      reason: "fraud review",
      personId: SELLER,
    });
    expect(paused.body).toMatchObject({ scope: "person", personId: SELLER, reason: "fraud review" });
    sim.gateway.balances.set(`acct_${SELLER}`, [money(40_00, "AUD")]);
    sim.gateway.balances.set("acct_sue", [money(10_00, "AUD")]);
    expect((await payOut(SELLER, await operator(), "pay-1")).body.code).toBe("payouts_paused");
    expect((await payOut("sue", await operator(), "pay-sue")).status).toBe(201);
    const before = await auditRows();
    const refusals = [
      await post("/v1/operations/payouts/pause", await operator(), { reason: "x", personId: "nobody" }),
      await post("/v1/operations/payouts/pause", await operator(), { reason: "   " }),
      await post("/v1/operations/payouts/pause", await operator(), { reason: "x".repeat(501) }),
      await post("/v1/operations/payouts/pause", await operator(), {}),
      await post("/v1/operations/payouts/resume", await operator(), { personId: "nobody" }),
      await post("/v1/operations/payouts/pause", await tokenFor("svc", ["service"]), { reason: "x" }),
      await post("/v1/operations/payouts/resume", await tokenFor("svc", ["service"]), {}),
      await post("/v1/operations/payouts/pause", await tokenFor(SELLER), { reason: "x" }),
    ];
    expect(refusals.map((r) => [r.status, r.body.code])).toEqual([
      [404, "person_not_found"],
      [400, "invalid_request"],
      [400, "invalid_request"],
      [400, "invalid_request"],
      [404, "person_not_found"],
      [403, "admin_only"],
      [403, "admin_only"],
      [403, "operator_only"],
    ]);
    expect(await auditRows()).toBe(before);
    expect((await get("/v1/operations/payouts/pauses", await operator())).body).toEqual({
      object: "payout_pauses",
      platform: null,
      people: [paused.body],
    });
    expect((await get("/v1/operations/payouts/pauses", await tokenFor(SELLER))).status).toBe(403);
    const resumed = await post("/v1/operations/payouts/resume", await operator(), { personId: SELLER });
    expect(resumed.body).toMatchObject({ scope: "person", personId: SELLER, resumed: true });
    expect((await payOut(SELLER, await operator(), "pay-2")).status).toBe(201);
  });
});
