// Held payments on v1 through app.request(), on the whole domain on PostgreSQL
// (SusuOnPostgres: PrismaStore, a database of its own for each test; the fake gateway's
// checkout pages, the outbox, timers and Stripe's facts): asking for a
// payment (201, the same request again 200, the reference with other terms 409), what the
// schema and the domain refuse, reading and listing (pages, filters, who sees what), and
// the requester's and operators' commands moving the payment along.

import { createTestDatabase, type TestDatabase } from "@susu/adapters/testing";
import { DEFAULT_HELD_PAYMENT_POLICY, gatewayError, HOUR_MS, heldPaymentRefs } from "@susu/domain";
import { aReadyPerson } from "@susu/domain/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { authed, testApp, tokenFor } from "../support/app.js";
import { SusuOnPostgres } from "../support/susu-on-postgres.js";

const APP = "app_bookings";
const OTHER_APP = "app_tours";
const SELLER = "sam";
const OTHER_SELLER = "sue";
const OPERATOR = "ops_olga";

interface Problem {
  readonly code: string;
  readonly status: number;
  readonly detail?: string;
  readonly errors?: { path: string }[];
}
interface Money {
  readonly amountMinor: number;
  readonly currency: string;
}
interface View {
  readonly object: string;
  readonly id: string;
  readonly clientReference: string;
  readonly requestedBy: string;
  readonly status: string;
  readonly amount: Money;
  readonly fee: { kind: string; rateBps: number | null; fixedAmount: Money | null; amount: Money };
  readonly sellerShare: Money;
  readonly sellerNet: Money;
  readonly refundable: Money;
  readonly seller: { id: string; canReceive: boolean };
  readonly customer: { email: string; name: string | null };
  readonly disputeWindowHours: number;
  readonly checkout: { url: string | null; expiresAt: string; successUrl: string; cancelUrl: string | null };
  readonly fulfilment: string;
  readonly createdAt: string;
  readonly capturedAt: string | null;
  readonly releaseDueAt: string | null;
  readonly adminHold: { by: string; reason: string; at: string } | null;
  readonly endedAt: string | null;
  readonly transfers: { number: number; amount: Money; status: string; failureCode: string | null }[];
  readonly refunds: { number: number; amount: Money; status: string; reason: string; full: boolean }[];
  readonly reversals: unknown[];
  readonly disputes: { id: string; status: string; evidenceDueBy: string | null; amount: Money }[];
}
interface List {
  readonly object: string;
  readonly url: string;
  readonly data: View[];
  readonly has_more: boolean;
}

let db: TestDatabase;
let sim: SusuOnPostgres;
let app: ReturnType<typeof testApp>;

beforeEach(async () => {
  db = await createTestDatabase();
  sim = new SusuOnPostgres(db.prisma, { start: Date.UTC(2030, 0, 3, 9) });
  app = testApp({ useCases: sim.deps, gateway: sim.gateway, prisma: db.prisma });
  (await sim.addSeller(SELLER))._unsafeUnwrap();
  (await sim.addSeller(OTHER_SELLER))._unsafeUnwrap();
});

afterEach(async () => {
  await db.drop();
});

/** The held payments the database holds. */
const heldPaymentsStored = () => db.prisma.heldPayment.findMany();

const booking = (reference: string, overrides: Record<string, unknown> = {}) => ({
  clientReference: reference,
  amountMinor: 100_00,
  currency: "AUD",
  sellerId: SELLER,
  description: "Two nights by the sea",
  customer: { email: "cy@example.com", name: "Cy" },
  fee: { rateBps: 1_000 },
  successUrl: "https://app.example/booking/42/paid",
  ...overrides,
});

const operatorToken = () => tokenFor(OPERATOR, ["admin"]);
const call = async (
  as: string | Promise<string>,
  method: string,
  path: string,
  payload?: unknown,
  on: ReturnType<typeof testApp> = app,
) => on.request(path, authed(await (typeof as === "string" ? tokenFor(as) : as), method, payload));
const json = async <T>(res: Response): Promise<T> => (await res.json()) as T;

async function expectProblem(res: Response, status: number, code: string): Promise<Problem> {
  const text = await res.text();
  expect(res.status, `${code}: ${res.status} ${text}`).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const p = JSON.parse(text) as Problem;
  expect(p.code).toBe(code);
  return p;
}

/** Asks for a payment as `as` and lets the outbox make its checkout session. */
async function created(reference: string, as = APP, overrides: Record<string, unknown> = {}): Promise<View> {
  const res = await call(as, "POST", "/v1/held-payments", booking(reference, overrides));
  expect(res.status, await res.clone().text()).toBe(201);
  await sim.runUntilQuiet();
  return json<View>(res);
}

/** A payment paid by card: held on the platform. */
async function paid(reference = "booking_42"): Promise<View> {
  const payment = await created(reference);
  await sim.payCheckout(payment.id, "card");
  return read(payment.id);
}

async function read(id: string, as: string | Promise<string> = APP): Promise<View> {
  const res = await call(as, "GET", `/v1/held-payments/${id}`);
  expect(res.status).toBe(200);
  return json<View>(res);
}

describe("POST /v1/held-payments", () => {
  it("asks for a payment (201), answers the same request again with it (200), refuses the reference with other terms (409)", async () => {
    const first = await call(APP, "POST", "/v1/held-payments", booking("booking_42"));
    expect(first.status).toBe(201);
    const view = await json<View>(first);
    expect(first.headers.get("location")).toBe(`/v1/held-payments/${view.id}`);
    expect(view).toMatchObject({
      object: "held_payment",
      clientReference: "booking_42",
      requestedBy: APP,
      status: "awaiting_payment",
      amount: { amountMinor: 100_00, currency: "AUD" },
      fee: {
        kind: "rate",
        rateBps: 1_000,
        fixedAmount: null,
        amount: { amountMinor: 10_00, currency: "AUD" },
      },
      sellerShare: { amountMinor: 90_00, currency: "AUD" },
      refundable: { amountMinor: 0, currency: "AUD" },
      seller: { id: SELLER, canReceive: true },
      customer: { email: "cy@example.com", name: "Cy" },
      disputeWindowHours: 72,
      checkout: { url: null, successUrl: "https://app.example/booking/42/paid", cancelUrl: null },
      fulfilment: "pending",
      createdAt: "2030-01-03T09:00:00.000Z",
      capturedAt: null,
      releaseDueAt: null,
      adminHold: null,
      transfers: [],
      refunds: [],
      disputes: [],
    });
    expect(view.checkout.expiresAt).toBe("2030-01-04T08:00:00.000Z");

    const again = await call(APP, "POST", "/v1/held-payments", booking("booking_42"));
    expect(again.status).toBe(200);
    expect((await json<View>(again)).id).toBe(view.id);

    const reused = await call(
      APP,
      "POST",
      "/v1/held-payments",
      booking("booking_42", { amountMinor: 120_00 }),
    );
    await expectProblem(reused, 409, "client_reference_reused");

    // A reference is the caller's own: another app's booking_42 is another payment.
    const other = await call(OTHER_APP, "POST", "/v1/held-payments", booking("booking_42"));
    expect(other.status).toBe(201);
    expect((await json<View>(other)).id).not.toBe(view.id);
    expect(await heldPaymentsStored()).toHaveLength(2);
  });

  it("shows the checkout page once Stripe made the session; a fixed fee and its own dispute window", async () => {
    const view = await created("booking_7", APP, {
      fee: { amountMinor: 7_50 },
      disputeWindowHours: 24,
      cancelUrl: "https://app.example/booking/7",
    });
    const now = await read(view.id);
    expect(now.checkout.url).toMatch(/^https?:\/\//);
    expect(now).toMatchObject({
      fee: {
        kind: "fixed",
        rateBps: null,
        fixedAmount: { amountMinor: 7_50 },
        amount: { amountMinor: 7_50 },
      },
      sellerShare: { amountMinor: 92_50 },
      disputeWindowHours: 24,
      disputeWindowSeconds: 86_400,
      checkout: { cancelUrl: "https://app.example/booking/7" },
    });
  });

  it("takes the dispute window in seconds as well", async () => {
    const view = await created("booking_8", APP, { disputeWindowSeconds: 5_400 });
    expect(view).toMatchObject({ disputeWindowHours: 1.5, disputeWindowSeconds: 5_400 });
  });

  it("replays a request with the same Idempotency-Key without asking again", async () => {
    const init = authed(await tokenFor(APP), "POST", booking("booking_9"), { "idempotency-key": "k-9" });
    const first = await app.request("/v1/held-payments", init);
    expect(first.status).toBe(201);
    const replay = await app.request("/v1/held-payments", init);
    expect(replay.status).toBe(201);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(await heldPaymentsStored()).toHaveLength(1);
  });

  it("refuses malformed requests with 400 invalid_request naming every field, storing nothing", async () => {
    const cases: [Record<string, unknown>, string[]][] = [
      [
        {},
        [
          "clientReference",
          "amountMinor",
          "currency",
          "sellerId",
          "description",
          "customer",
          "fee",
          "successUrl",
        ],
      ],
      [booking("b", { amountMinor: -5, currency: "XYZ" }), ["amountMinor", "currency"]],
      [booking("b", { amountMinor: 10.5 }), ["amountMinor"]],
      [booking("b", { fee: { rateBps: 100, amountMinor: 5 } }), ["fee"]],
      [booking("b", { fee: { rateBps: 10_000 } }), ["fee"]],
      [booking("b", { customer: { email: "not-an-email" } }), ["customer.email"]],
      [booking("b", { successUrl: "javascript:alert(1)" }), ["successUrl"]],
      [booking("b", { successUrl: "ftp://files.example/x" }), ["successUrl"]],
      [booking("b", { sellerId: "sam smith" }), ["sellerId"]],
      [booking("b", { description: "   " }), ["description"]],
      [booking("b", { disputeWindowHours: 0 }), ["disputeWindowHours"]],
      [booking("b", { disputeWindowSeconds: 0.5 }), ["disputeWindowSeconds"]],
      [booking("b", { disputeWindowHours: 2, disputeWindowSeconds: 7200 }), ["disputeWindowSeconds"]],
      [booking(" ", {}), ["clientReference"]],
    ];
    for (const [payload, fields] of cases) {
      const p = await expectProblem(
        await call(APP, "POST", "/v1/held-payments", payload),
        400,
        "invalid_request",
      );
      const paths = (p.errors ?? []).map((e) => e.path);
      for (const field of fields)
        expect(
          paths.some((path) => path.startsWith(field)),
          `${field} in ${paths}`,
        ).toBe(true);
    }
    expect(await heldPaymentsStored()).toEqual([]);
  });

  it("answers what the domain refuses with 422 (409 for a seller not onboarded yet) and its code", async () => {
    (
      await sim.store.commit({
        people: [{ state: withoutPayout(aReadyPerson("nora")), expectedVersion: undefined }],
        groups: [],
        rounds: [],
        outbox: [],
        audit: [],
      })
    )._unsafeUnwrap();
    const cases: [Record<string, unknown>, string][] = [
      [{ sellerId: "nobody" }, "seller_not_found"],
      [{ fee: { amountMinor: 100_00 } }, "invalid_fee"],
      [{ disputeWindowHours: 24 * 365 }, "invalid_dispute_window"],
      [{ disputeWindowSeconds: 3599 }, "invalid_dispute_window"], // below the platform's hour
      [{ amountMinor: 1 }, "invalid_amount"],
    ];
    for (const [overrides, code] of cases)
      await expectProblem(await call(APP, "POST", "/v1/held-payments", booking("b", overrides)), 422, code);
    // A seller who has not onboarded yet may later: their state, not the request's values.
    await expectProblem(
      await call(APP, "POST", "/v1/held-payments", booking("b", { sellerId: "nora" })),
      409,
      "seller_not_onboarded",
    );
    expect(await heldPaymentsStored()).toEqual([]);
  });

  it("a currency the platform does not settle in is 422 currency_not_settled (its seller could not be paid from the charge), and nothing is stored", async () => {
    const settled = testApp({
      useCases: {
        ...sim.deps,
        heldPaymentPolicy: { ...DEFAULT_HELD_PAYMENT_POLICY, settlementCurrencies: ["AUD"] },
      },
      gateway: sim.gateway,
      prisma: db.prisma,
    });
    const problem = await expectProblem(
      await call(APP, "POST", "/v1/held-payments", booking("b", { currency: "USD" }), settled),
      422,
      "currency_not_settled",
    );
    expect(problem.detail).toBe(
      "the platform settles in AUD, not USD: the seller could not be paid from the charge",
    );
    expect(await heldPaymentsStored()).toEqual([]);
    expect((await call(APP, "POST", "/v1/held-payments", booking("b"), settled)).status).toBe(201);
  });

  it("needs a token", async () => {
    const res = await app.request("/v1/held-payments", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(booking("b")),
    });
    await expectProblem(res, 401, "unauthenticated");
  });
});

function withoutPayout<T extends { payout?: unknown }>(person: T): Omit<T, "payout"> {
  const { payout: _, ...rest } = person;
  return rest;
}

describe("GET /v1/held-payments/{id}", () => {
  it("shows the payment to its requester, its seller and platform operators; anyone else gets 404 as for no payment", async () => {
    const { id } = await created("booking_1");
    for (const as of [APP, SELLER, operatorToken(), tokenFor("svc", ["service"])])
      expect((await read(id, as)).id).toBe(id);
    for (const as of [OTHER_APP, OTHER_SELLER, "eve"])
      await expectProblem(await call(as, "GET", `/v1/held-payments/${id}`), 404, "held_payment_not_found");
    await expectProblem(await call(APP, "GET", "/v1/held-payments/hp_nope"), 404, "held_payment_not_found");
    await expectProblem(
      await call(APP, "GET", `/v1/held-payments/${"x".repeat(101)}`),
      400,
      "invalid_request",
    );
  });
});

describe("GET /v1/held-payments", () => {
  async function list(as: string | Promise<string>, query = ""): Promise<List> {
    const res = await call(as, "GET", `/v1/held-payments${query}`);
    expect(res.status, await res.clone().text()).toBe(200);
    return json<List>(res);
  }
  const ids = (l: List) => l.data.map((p) => p.clientReference);

  beforeEach(async () => {
    // Newest first: each a minute after the one before.
    for (const [reference, as, seller] of [
      ["a1", APP, SELLER],
      ["a2", APP, OTHER_SELLER],
      ["t1", OTHER_APP, SELLER],
      ["a3", APP, SELLER],
      ["t2", OTHER_APP, OTHER_SELLER],
    ] as const) {
      await created(reference, as, { sellerId: seller });
      sim.clock.advance(60_000);
    }
  });

  it("lists what the caller asked for or is paid by, newest first; platform operators see all", async () => {
    expect(ids(await list(APP))).toEqual(["a3", "a2", "a1"]);
    expect(ids(await list(SELLER))).toEqual(["a3", "t1", "a1"]);
    expect(ids(await list(OTHER_SELLER))).toEqual(["t2", "a2"]);
    expect(ids(await list("eve"))).toEqual([]);
    expect(ids(await list(operatorToken()))).toEqual(["t2", "a3", "t1", "a2", "a1"]);
    const page = await list(APP);
    expect(page).toMatchObject({ object: "list", url: "/v1/held-payments", has_more: false });
  });

  it("pages with limit, starting_after and has_more", async () => {
    const first = await list(operatorToken(), "?limit=2");
    expect(ids(first)).toEqual(["t2", "a3"]);
    expect(first.has_more).toBe(true);
    const second = await list(operatorToken(), `?limit=2&starting_after=${first.data[1]?.id}`);
    expect(ids(second)).toEqual(["t1", "a2"]);
    expect(second.has_more).toBe(true);
    const last = await list(operatorToken(), `?limit=2&starting_after=${second.data[1]?.id}`);
    expect(ids(last)).toEqual(["a1"]);
    expect(last.has_more).toBe(false);

    // A seller's list is a union of two reads; it pages the same way.
    const sellerFirst = await list(SELLER, "?limit=2");
    expect(ids(sellerFirst)).toEqual(["a3", "t1"]);
    expect(sellerFirst.has_more).toBe(true);
    const sellerNext = await list(SELLER, `?limit=2&starting_after=${sellerFirst.data[1]?.id}`);
    expect(ids(sellerNext)).toEqual(["a1"]);
    expect(sellerNext.has_more).toBe(false);
  });

  it("filters by status and seller; a cursor the caller may not see, or an unknown one, is an empty page", async () => {
    const t2 = (await list(operatorToken(), "?limit=1")).data[0];
    expect(ids(await list(APP, `?seller=${SELLER}`))).toEqual(["a3", "a1"]);
    expect(ids(await list(SELLER, `?seller=${SELLER}`))).toEqual(["a3", "t1", "a1"]);
    expect(ids(await list(SELLER, `?seller=${OTHER_SELLER}`))).toEqual([]);
    expect(ids(await list(operatorToken(), `?seller=${OTHER_SELLER}`))).toEqual(["t2", "a2"]);

    const a1 = (await list(APP)).data[2] as View;
    await sim.payCheckout(a1.id, "card");
    expect(ids(await list(APP, "?status=held"))).toEqual(["a1"]);
    expect(ids(await list(APP, "?status=awaiting_payment"))).toEqual(["a3", "a2"]);
    expect(ids(await list(operatorToken(), `?status=held&seller=${SELLER}`))).toEqual(["a1"]);

    expect(ids(await list(APP, `?starting_after=${t2?.id}`))).toEqual([]);
    expect(ids(await list(APP, "?starting_after=hp_nope"))).toEqual([]);
    for (const query of ["?limit=0", "?limit=101", "?status=lost", "?seller=a%20b"])
      await expectProblem(await call(APP, "GET", `/v1/held-payments${query}`), 400, "invalid_request");
  });
});

describe("the requester's word on the booking", () => {
  it("fulfilment: only the requester; the dispute window starts and the release follows it", async () => {
    const { id } = await paid();
    expect(await read(id)).toMatchObject({ status: "held", capturedAt: "2030-01-03T09:00:00.000Z" });
    for (const as of [SELLER, operatorToken()])
      await expectProblem(await call(as, "POST", `/v1/held-payments/${id}/fulfilment`), 403, "not_requester");
    await expectProblem(
      await call(OTHER_APP, "POST", `/v1/held-payments/${id}/fulfilment`),
      404,
      "held_payment_not_found",
    );

    const res = await call(APP, "POST", `/v1/held-payments/${id}/fulfilment`);
    expect(res.status).toBe(200);
    expect(await json<View>(res)).toMatchObject({
      fulfilment: "confirmed",
      releaseDueAt: "2030-01-06T09:00:00.000Z",
    });
    await expectProblem(
      await call(APP, "POST", `/v1/held-payments/${id}/fulfilment`),
      409,
      "fulfilment_already_reported",
    );

    await sim.advance(72 * HOUR_MS + HOUR_MS);
    const released = await read(id, SELLER);
    expect(released.status).toBe("released");
    expect(released.transfers).toMatchObject([
      { number: 1, amount: { amountMinor: 90_00, currency: "AUD" }, status: "created", failureCode: null },
    ]);
  });

  it("nothing to confirm before the customer paid (409 payment_not_captured)", async () => {
    const { id } = await created("booking_2");
    await expectProblem(
      await call(APP, "POST", `/v1/held-payments/${id}/fulfilment`),
      409,
      "payment_not_captured",
    );
    await expectProblem(
      await call(APP, "POST", `/v1/held-payments/${id}/unfulfilled`, { reason: "no show" }),
      409,
      "payment_not_captured",
    );
  });

  it("unfulfilled: only the requester, with a reason; everything is refunded", async () => {
    const { id } = await paid();
    await expectProblem(
      await call(SELLER, "POST", `/v1/held-payments/${id}/unfulfilled`, { reason: "no show" }),
      403,
      "not_requester",
    );
    await expectProblem(
      await call(APP, "POST", `/v1/held-payments/${id}/unfulfilled`, {}),
      400,
      "invalid_request",
    );
    const res = await call(APP, "POST", `/v1/held-payments/${id}/unfulfilled`, { reason: "no show" });
    expect(res.status).toBe(200);
    expect(await json<View>(res)).toMatchObject({
      status: "refunding",
      fulfilment: "unfulfilled",
      unfulfilledReason: "no show",
    });
    await sim.runUntilQuiet();
    const refunded = await read(id);
    expect(refunded.status).toBe("refunded");
    expect(refunded.refunds).toMatchObject([
      { number: 1, amount: { amountMinor: 100_00 }, reason: "unfulfilled", full: true, status: "succeeded" },
    ]);
    expect(refunded.endedAt).not.toBeNull();
  });
});

describe("platform operators' commands", () => {
  it("hold and release: operators only (the requester and the seller get 403 operator_only)", async () => {
    const { id } = await paid();
    for (const as of [APP, SELLER])
      await expectProblem(
        await call(as, "POST", `/v1/held-payments/${id}/hold`, { reason: "checking" }),
        403,
        "operator_only",
      );
    await expectProblem(
      await call("eve", "POST", `/v1/held-payments/${id}/hold`, { reason: "x" }),
      404,
      "held_payment_not_found",
    );
    await expectProblem(
      await call(operatorToken(), "POST", `/v1/held-payments/${id}/release`),
      409,
      "not_on_hold",
    );

    const held = await call(operatorToken(), "POST", `/v1/held-payments/${id}/hold`, {
      reason: "customer complaint",
    });
    expect(held.status).toBe(200);
    expect((await json<View>(held)).adminHold).toEqual({
      by: OPERATOR,
      reason: "customer complaint",
      at: "2030-01-03T09:00:00.000Z",
    });
    await expectProblem(
      await call(operatorToken(), "POST", `/v1/held-payments/${id}/hold`, { reason: "again" }),
      409,
      "already_on_hold",
    );

    // Confirmed and past its window, the payment waits for the operator.
    expect((await call(APP, "POST", `/v1/held-payments/${id}/fulfilment`)).status).toBe(200);
    await sim.advance(73 * HOUR_MS);
    expect((await read(id)).status).toBe("held");
    const released = await call(operatorToken(), "POST", `/v1/held-payments/${id}/release`);
    expect(released.status).toBe(200);
    expect((await json<View>(released)).adminHold).toBeNull();
    await sim.runUntilQuiet();
    expect((await read(id)).status).toBe("released");
  });

  it("refunds: partial, then everything left; more than is left is 422", async () => {
    const { id } = await paid();
    await expectProblem(
      await call(APP, "POST", `/v1/held-payments/${id}/refunds`, { amountMinor: 25_00 }),
      403,
      "operator_only",
    );
    const partial = await call(operatorToken(), "POST", `/v1/held-payments/${id}/refunds`, {
      amountMinor: 25_00,
    });
    expect(partial.status).toBe(200);
    expect((await json<View>(partial)).refunds).toMatchObject([
      { number: 1, amount: { amountMinor: 25_00 }, reason: "admin", full: false, status: "requested" },
    ]);
    await expectProblem(
      await call(operatorToken(), "POST", `/v1/held-payments/${id}/refunds`, { amountMinor: 10_00 }),
      409,
      "refund_in_flight",
    );
    await sim.runUntilQuiet();
    expect(await read(id)).toMatchObject({ status: "held", refundable: { amountMinor: 75_00 } });
    await expectProblem(
      await call(operatorToken(), "POST", `/v1/held-payments/${id}/refunds`, { amountMinor: 80_00 }),
      422,
      "invalid_refund_amount",
    );
    await expectProblem(
      await call(operatorToken(), "POST", `/v1/held-payments/${id}/refunds`, { amountMinor: 0 }),
      400,
      "invalid_request",
    );
    // No body: everything left.
    const rest = await app.request(`/v1/held-payments/${id}/refunds`, authed(await operatorToken(), "POST"));
    expect(rest.status).toBe(200);
    expect(await json<View>(rest)).toMatchObject({ status: "refunding" });
    await sim.runUntilQuiet();
    const done = await read(id);
    expect(done.status).toBe("refunded");
    expect(done.refunds.map((r) => [r.amount.amountMinor, r.status])).toEqual([
      [25_00, "succeeded"],
      [75_00, "succeeded"],
    ]);
    await expectProblem(
      await call(operatorToken(), "POST", `/v1/held-payments/${id}/refunds`),
      409,
      "nothing_to_refund",
    );
  });

  it("a refund refused while another is in flight runs under the same key once that one lands", async () => {
    const { id } = await paid();
    const asOperator = async (key: string, amountMinor: number) =>
      app.request(
        `/v1/held-payments/${id}/refunds`,
        authed(await operatorToken(), "POST", { amountMinor }, { "idempotency-key": key }),
      );
    expect((await asOperator("first", 25_00)).status).toBe(200);
    await expectProblem(await asOperator("second", 10_00), 409, "refund_in_flight");
    await sim.runUntilQuiet();
    // "Try again": the refusal was not stored for the key's lifetime.
    const again = await asOperator("second", 10_00);
    expect(again.status, await again.clone().text()).toBe(200);
    expect(again.headers.get("idempotent-replayed")).toBeNull();
    await sim.runUntilQuiet();
    expect((await read(id)).refunds.map((r) => [r.amount.amountMinor, r.status])).toEqual([
      [25_00, "succeeded"],
      [10_00, "succeeded"],
    ]);
    // Now stored: the same key replays the refund, it does not make a third.
    const replayed = await asOperator("second", 10_00);
    expect(replayed.headers.get("idempotent-replayed")).toBe("true");
    expect((await read(id)).refunds).toHaveLength(2);
  });

  it("a failed refund is retried by an operator (409 no_failed_refund when none failed)", async () => {
    const { id } = await paid();
    await expectProblem(
      await call(operatorToken(), "POST", `/v1/held-payments/${id}/refunds/retry`),
      409,
      "no_failed_refund",
    );
    sim.gateway.injectFault(
      "refund",
      "before",
      gatewayError("gateway_definite", "charge_disputed", "disputed"),
    );
    await call(operatorToken(), "POST", `/v1/held-payments/${id}/refunds`);
    await sim.runUntilQuiet();
    expect((await read(id)).refunds).toMatchObject([{ status: "failed" }]);
    await expectProblem(
      await call(SELLER, "POST", `/v1/held-payments/${id}/refunds/retry`),
      403,
      "operator_only",
    );
    const retried = await call(operatorToken(), "POST", `/v1/held-payments/${id}/refunds/retry`);
    expect(retried.status).toBe(200);
    await sim.runUntilQuiet();
    expect(await read(id)).toMatchObject({ status: "refunded", refunds: [{ status: "succeeded" }] });
  });

  it("a dispute shows with its evidence due date and stops refunds", async () => {
    const { id } = await paid();
    const due = Date.UTC(2030, 0, 20);
    (
      await sim.deliver([
        {
          kind: "dispute_opened",
          refs: heldPaymentRefs(id),
          disputeId: "dp_1",
          amountMinor: 100_00,
          evidenceDueBy: due,
          reason: "fraudulent",
          status: "needs_response",
        },
      ])
    )._unsafeUnwrap();
    expect((await read(id, operatorToken())).disputes).toEqual([
      {
        id: "dp_1",
        amount: { amountMinor: 100_00, currency: "AUD" },
        reason: "fraudulent",
        status: "open",
        stripeStatus: "needs_response",
        evidenceDueBy: new Date(due).toISOString(),
        lost: null,
      },
    ]);
    await expectProblem(
      await call(operatorToken(), "POST", `/v1/held-payments/${id}/refunds`),
      409,
      "payment_disputed",
    );
  });

  it("after a dispute lost for part of the charge, refunds are refused: Stripe refuses them (charge_disputed)", async () => {
    const { id } = await paid();
    (
      await sim.deliver([
        { kind: "dispute_opened", refs: heldPaymentRefs(id), disputeId: "dp_1", amountMinor: 40_00 },
        {
          kind: "dispute_closed",
          refs: heldPaymentRefs(id),
          disputeId: "dp_1",
          outcome: "lost",
          amountMinor: 40_00,
        },
      ])
    )._unsafeUnwrap();
    expect(await read(id, operatorToken())).toMatchObject({
      status: "held",
      refundable: { amountMinor: 60_00 },
      disputes: [{ id: "dp_1", status: "lost" }],
    });
    await expectProblem(
      await call(operatorToken(), "POST", `/v1/held-payments/${id}/refunds`, { amountMinor: 10_00 }),
      409,
      "charge_disputed",
    );
    await expectProblem(
      await call(APP, "POST", `/v1/held-payments/${id}/unfulfilled`, { reason: "no show" }),
      409,
      "charge_disputed",
    );
    expect(await read(id, operatorToken())).toMatchObject({ refunds: [], fulfilment: "pending" });
  });
});
