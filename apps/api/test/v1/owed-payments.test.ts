// Money owed outside Stripe recorded paid, through app.request() on the whole domain on
// PostgreSQL (SusuOnPostgres: PrismaStore, PrismaLedgerStore and PrismaSupportDesk, a
// database of its own for each test; marketplace charges' and rounds' owed payments are in
// owed-payments-postgres.test.ts): a held payment whose refund Stripe refused (charge_disputed) and whose dispute was
// then lost for part of the charge owes the customer the rest. Platform admins record paying
// it (POST /v1/held-payments/{id}/owed-payments): who may, each refusal's code (nothing
// changed), the Idempotency-Key's replay, the ledger, the customer's notices and the ticket.

import { createTestDatabase, type TestDatabase } from "@susu/adapters/testing";
import { gatewayError, heldAccounts, heldPaymentRefs } from "@susu/domain";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { authed, testApp, tokenFor } from "../support/app.js";
import { SusuOnPostgres } from "../support/susu-on-postgres.js";

const APP = "app_bookings";
const SELLER = "sam";
const OPERATOR = "ops_olga";

interface Money {
  readonly amountMinor: number;
  readonly currency: string;
}
interface Owed {
  readonly owed: Money;
  readonly paid: Money;
  readonly givenBackByDisputes: Money;
  readonly left: Money;
  readonly owedBackByCustomer: Money;
  readonly payments: {
    number: number;
    amount: Money;
    reference: string;
    paidBy: string;
    recordedAt: string;
  }[];
}
interface View {
  readonly id: string;
  readonly status: string;
  readonly version: number;
  readonly refunds: { number: number; status: string; amount: Money }[];
  readonly owedOutsideStripe: Owed | null;
}

let db: TestDatabase;
let sim: SusuOnPostgres;
let app: ReturnType<typeof testApp>;

beforeEach(async () => {
  db = await createTestDatabase();
  sim = new SusuOnPostgres(db.prisma, { start: Date.UTC(2030, 0, 3, 9) });
  app = testApp({ useCases: sim.deps, gateway: sim.gateway, prisma: db.prisma });
  (await sim.addSeller(SELLER))._unsafeUnwrap();
});

afterEach(async () => {
  await db.drop();
});

/** The ids of the tickets resolved in support_tickets, and of those open. */
const ticketIds = async (status: "open" | "resolved") =>
  (
    await db.prisma.supportTicket.findMany({
      where: { status },
      select: { id: true },
      orderBy: { id: "asc" },
    })
  ).map((t) => t.id);

const admin = () => tokenFor(OPERATOR, ["admin"]);
const call = async (
  as: string | Promise<string>,
  method: string,
  path: string,
  payload?: unknown,
  headers: Record<string, string> = {},
) => app.request(path, authed(await (typeof as === "string" ? tokenFor(as) : as), method, payload, headers));

async function expectProblem(res: Response, status: number, code: string): Promise<void> {
  const text = await res.text();
  expect(res.status, `${code}: ${res.status} ${text}`).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  expect((JSON.parse(text) as { code: string }).code).toBe(code);
}

async function read(id: string): Promise<View> {
  const res = await call(admin(), "GET", `/v1/held-payments/${id}`);
  expect(res.status).toBe(200);
  return (await res.json()) as View;
}

/** A payment paid by card, held. */
async function paid(reference: string): Promise<string> {
  const res = await call(APP, "POST", "/v1/held-payments", {
    clientReference: reference,
    amountMinor: 100_00,
    currency: "AUD",
    sellerId: SELLER,
    description: "Two nights by the sea",
    customer: { email: "cy@example.com", name: "Cy" },
    fee: { rateBps: 1_000 },
    successUrl: "https://app.example/booking/42/paid",
  });
  expect(res.status).toBe(201);
  const { id } = (await res.json()) as View;
  await sim.runUntilQuiet();
  await sim.payCheckout(id, "card");
  return id;
}

/** A payment whose refund Stripe refused, then a dispute lost for 60.00: 40.00 owed to the customer. */
async function owing(reference = "booking_42"): Promise<string> {
  const id = await paid(reference);
  sim.gateway.injectFault(
    "refund",
    "before",
    gatewayError("gateway_definite", "charge_disputed", "disputed"),
  );
  expect((await call(admin(), "POST", `/v1/held-payments/${id}/refunds`)).status).toBe(200);
  await sim.runUntilQuiet();
  (
    await sim.deliver([
      { kind: "dispute_opened", refs: heldPaymentRefs(id), disputeId: "dp_1", amountMinor: 60_00 },
      {
        kind: "dispute_closed",
        refs: heldPaymentRefs(id),
        disputeId: "dp_1",
        outcome: "lost",
        amountMinor: 60_00,
      },
    ])
  )._unsafeUnwrap();
  await sim.runUntilQuiet();
  return id;
}

const owedBalance = async (id: string) =>
  (await sim.ledger.balance(heldAccounts.owedToCustomer(id), "AUD"))._unsafeUnwrap().amountMinor;
const pay = (amountMinor: number, reference = "NAB 0042", currency = "AUD") => ({
  amountMinor,
  currency,
  reference,
});

describe("POST /v1/held-payments/{id}/owed-payments", () => {
  it("shows what is owed, records a part then the rest, tells the customer each time, resolves the ticket at the end", async () => {
    const id = await owing();
    const before = await read(id);
    expect(before.refunds.map((r) => r.status)).toEqual(["superseded_by_dispute", "owed_outside_stripe"]);
    expect(before.owedOutsideStripe).toEqual({
      owed: { amountMinor: 40_00, currency: "AUD" },
      paid: { amountMinor: 0, currency: "AUD" },
      givenBackByDisputes: { amountMinor: 0, currency: "AUD" },
      left: { amountMinor: 40_00, currency: "AUD" },
      owedBackByCustomer: { amountMinor: 0, currency: "AUD" },
      recoveredFromCustomer: { amountMinor: 0, currency: "AUD" },
      payments: [],
      recoveries: [],
    });
    expect(sim.notifier.sent.filter((n) => n.template === "owed_outside_stripe")).toMatchObject([
      { emails: ["cy@example.com"], data: { amountMinor: 40_00 } },
    ]);

    const first = await call(admin(), "POST", `/v1/held-payments/${id}/owed-payments`, pay(15_00));
    expect(first.status, await first.clone().text()).toBe(200);
    expect(((await first.json()) as View).owedOutsideStripe).toMatchObject({
      paid: { amountMinor: 15_00 },
      left: { amountMinor: 25_00 },
      payments: [
        { number: 1, amount: { amountMinor: 15_00 }, reference: "NAB 0042", paidBy: `operator:${OPERATOR}` },
      ],
    });
    await sim.runUntilQuiet();
    expect(await owedBalance(id)).toBe(25_00);
    expect(await ticketIds("resolved")).toEqual([]);
    expect(await ticketIds("open")).toContain(`${id}:ticket:refund_owed:2`);

    const rest = await call(admin(), "POST", `/v1/held-payments/${id}/owed-payments`, pay(25_00, "NAB 0043"));
    expect(rest.status).toBe(200);
    await sim.runUntilQuiet();
    expect(await owedBalance(id)).toBe(0);
    expect(
      (await sim.ledger.balance(heldAccounts.paidOutsideStripe(id), "AUD"))._unsafeUnwrap().amountMinor,
    ).toBe(40_00);
    expect(await ticketIds("resolved")).toEqual([`${id}:ticket:refund_owed:2`]);
    expect(sim.notifier.sent.filter((n) => n.template === "owed_paid_outside_stripe")).toMatchObject([
      { emails: ["cy@example.com"], data: { amountMinor: 15_00, leftMinor: 25_00, reference: "NAB 0042" } },
      { emails: ["cy@example.com"], data: { amountMinor: 25_00, leftMinor: 0, reference: "NAB 0043" } },
    ]);
    await expectProblem(
      await call(admin(), "POST", `/v1/held-payments/${id}/owed-payments`, pay(1, "NAB 0044")),
      409,
      "nothing_owed",
    );
  });

  it("only platform admins: no token 401, the seller and the requester 403, a service token 403 admin_only, a stranger 404", async () => {
    const id = await owing();
    const path = `/v1/held-payments/${id}/owed-payments`;
    const res = await app.request(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(pay(1_00)),
    });
    expect(res.status).toBe(401);
    await expectProblem(await call(SELLER, "POST", path, pay(1_00)), 403, "operator_only");
    await expectProblem(await call(APP, "POST", path, pay(1_00)), 403, "operator_only");
    await expectProblem(await call(tokenFor("svc", ["service"]), "POST", path, pay(1_00)), 403, "admin_only");
    await expectProblem(await call("eve", "POST", path, pay(1_00)), 404, "held_payment_not_found");
    await expectProblem(
      await call(admin(), "POST", "/v1/held-payments/hp_nope/owed-payments", pay(1_00)),
      404,
      "held_payment_not_found",
    );
    expect((await read(id)).owedOutsideStripe?.payments).toEqual([]);
  });

  it("each refusal has its code, and changes nothing", async () => {
    const id = await owing();
    const settled = await paid("booking_plain");
    const before = await read(id);
    const path = `/v1/held-payments/${id}/owed-payments`;
    for (const [body, status, code] of [
      [pay(40_01), 422, "amount_exceeds_owed"],
      [pay(10_00, "NAB", "NZD"), 422, "currency_mismatch"],
      [pay(10_00, "NAB", "XYZ"), 422, "currency_mismatch"],
      [pay(0), 400, "invalid_request"],
      [pay(10_00, "   "), 400, "invalid_request"],
      [{ ...pay(10_00), extra: true }, 400, "invalid_request"],
    ] as const)
      await expectProblem(await call(admin(), "POST", path, body), status, code);
    await expectProblem(
      await call(admin(), "POST", `/v1/held-payments/${settled}/owed-payments`, pay(1_00)),
      409,
      "nothing_owed",
    );
    await sim.runUntilQuiet();
    expect(await read(id)).toEqual(before);
    expect(await owedBalance(id)).toBe(40_00);
    expect(sim.notifier.sent.filter((n) => n.template === "owed_paid_outside_stripe")).toEqual([]);
  });

  it("the same Idempotency-Key again answers the first request and records nothing more; with another body it is refused", async () => {
    const id = await owing();
    const path = `/v1/held-payments/${id}/owed-payments`;
    const key = { "idempotency-key": "owed-pay-1" };
    const first = await call(admin(), "POST", path, pay(10_00), key);
    expect(first.status).toBe(200);
    const again = await call(admin(), "POST", path, pay(10_00), key);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(await first.json());
    await expectProblem(await call(admin(), "POST", path, pay(20_00), key), 422, "idempotency_key_reused");
    await sim.runUntilQuiet();
    expect((await read(id)).owedOutsideStripe).toMatchObject({
      paid: { amountMinor: 10_00 },
      payments: [{ number: 1 }],
    });
    expect(await owedBalance(id)).toBe(30_00);
  });
});

describe("POST /v1/held-payments/{id}/owed-recoveries", () => {
  /**
   * A payment whose refund the card could not take (100.00 owed outside Stripe), 40.00 of it
   * paid by an admin, then the whole charge lost: the customer got the 40.00 twice.
   */
  async function overpaid(): Promise<string> {
    const id = await paid("booking_twice");
    sim.gateway.injectFault(
      "refund",
      "before",
      gatewayError("gateway_definite", "expired_or_canceled_card", "the card was canceled"),
    );
    expect((await call(admin(), "POST", `/v1/held-payments/${id}/refunds`)).status).toBe(200);
    await sim.runUntilQuiet();
    expect(
      (await call(admin(), "POST", `/v1/held-payments/${id}/owed-payments`, pay(40_00, "NAB 1"))).status,
    ).toBe(200);
    await sim.runUntilQuiet();
    (
      await sim.deliver([
        { kind: "dispute_opened", refs: heldPaymentRefs(id), disputeId: "dp_2", amountMinor: 100_00 },
        {
          kind: "dispute_closed",
          refs: heldPaymentRefs(id),
          disputeId: "dp_2",
          outcome: "lost",
          amountMinor: 100_00,
        },
      ])
    )._unsafeUnwrap();
    await sim.runUntilQuiet();
    return id;
  }
  const owedBack = async (id: string) =>
    (await sim.ledger.balance(heldAccounts.owedByCustomer(id), "AUD"))._unsafeUnwrap().amountMinor;

  it("records what the customer paid back, refuses more, resolves the owed_overpaid ticket once all of it is back", async () => {
    const id = await overpaid();
    const path = `/v1/held-payments/${id}/owed-recoveries`;
    expect((await read(id)).owedOutsideStripe?.owedBackByCustomer).toEqual({
      amountMinor: 40_00,
      currency: "AUD",
    });
    expect(await owedBack(id)).toBe(-40_00);
    const before = await read(id);
    for (const [body, status, code] of [
      [pay(40_01), 422, "amount_exceeds_owed_back"],
      [pay(10_00, "NAB", "NZD"), 422, "currency_mismatch"],
      [pay(0), 400, "invalid_request"],
      [pay(-1), 400, "invalid_request"],
      [pay(10_00, "   "), 400, "invalid_request"],
    ] as const)
      await expectProblem(await call(admin(), "POST", path, body), status, code);
    await expectProblem(await call(tokenFor("svc", ["service"]), "POST", path, pay(1_00)), 403, "admin_only");
    await expectProblem(await call(SELLER, "POST", path, pay(1_00)), 403, "operator_only");
    expect(await read(id)).toEqual(before);

    const first = await call(admin(), "POST", path, pay(30_00, "Westpac 9"));
    expect(first.status, await first.clone().text()).toBe(200);
    expect(((await first.json()) as View).owedOutsideStripe).toMatchObject({
      owedBackByCustomer: { amountMinor: 10_00 },
      recoveredFromCustomer: { amountMinor: 30_00 },
    });
    await sim.runUntilQuiet();
    expect(await owedBack(id)).toBe(-10_00);
    expect((await ticketIds("resolved")).filter((t) => t.includes("owed_overpaid"))).toEqual([]);
    expect((await ticketIds("open")).filter((t) => t.includes("owed_overpaid"))).toEqual([
      `${id}:ticket:owed_overpaid:dp_2`,
    ]);
    expect((await call(admin(), "POST", path, pay(10_00, "Westpac 10"))).status).toBe(200);
    await sim.runUntilQuiet();
    expect(await owedBack(id)).toBe(0);
    expect(
      (await sim.ledger.balance(heldAccounts.paidOutsideStripe(id), "AUD"))._unsafeUnwrap().amountMinor,
    ).toBe(0);
    expect((await ticketIds("resolved")).filter((t) => t.includes("owed_overpaid"))).toEqual([
      `${id}:ticket:owed_overpaid:dp_2`,
    ]);
    await expectProblem(await call(admin(), "POST", path, pay(1, "Westpac 11")), 409, "nothing_owed_back");
  });
});
