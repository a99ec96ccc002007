// Money owed outside Stripe recorded paid through the API on PostgreSQL (PrismaStore,
// PrismaLedgerStore, PrismaSupportDesk, PostgreSQL idempotency keys), for the two routes
// owed-payments.test.ts (a held payment's, also on PostgreSQL) does not cover: a marketplace charge's customer
// (POST /v1/marketplace-charges/{id}/owed-payments) and a round's member
// (POST /v1/rounds/{roundId}/contributions/{memberId}/owed-payments). Each: a part then the
// rest (ledger, notices, ticket resolved in support_tickets), who may (401/403/404), each
// refusal and malformed body (4xx, never 5xx, nothing stored), the Idempotency-Key's replay,
// and for rounds two admins at once and a round stored before rounds kept what they owe.
import { PrismaLedgerStore, PrismaSupportDesk } from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import {
  DAY_MS,
  gatewayError,
  marketplaceAccounts,
  marketplaceChargeIds,
  marketplaceChargeRefs,
  roundAccounts,
  roundIds,
  roundPaymentRefs,
  useCases,
} from "@susu/domain";
import { aReadyPerson, saveCardThroughUseCases } from "@susu/domain/testing";
import { beforeAll, describe, expect, it } from "vitest";
import type { Role } from "../../src/http/auth.js";
import { authed, tokenFor } from "../support/app.js";
import { countDomainRows } from "../support/v1-surface.js";
import { roundWorld } from "./round-driver.js";

const db = useTestDatabase();
let w: ReturnType<typeof roundWorld>;
let ledger: PrismaLedgerStore;
let desk: PrismaSupportDesk;

const APP = "app_owed"; // a client app's backend: a platform service
const CUSTOMER = "cy_owed";
const SELLER = "sam_owed";
const OPERATOR = "ops_olga";

beforeAll(async () => {
  // The world's clock, once it exists: the ledger and the desk are on PostgreSQL.
  const clock = { now: () => w.clock.now() };
  ledger = new PrismaLedgerStore(db.prisma, { clock });
  desk = new PrismaSupportDesk(db.prisma, clock);
  w = roundWorld(db, { ledger, desk });
  (
    await w.deps.uow.commit({
      people: [CUSTOMER, SELLER].map((id) => ({ state: aReadyPerson(id), expectedVersion: undefined })),
      groups: [],
      rounds: [],
      outbox: [],
      audit: [],
    })
  )._unsafeUnwrap();
  w.gateway.setAccount(`acct_${SELLER}`, true);
  // The customer saves the card their charges are made on, as their app does.
  await saveCardThroughUseCases(w.deps, w.gateway, CUSTOMER, "pm_card_visa");
});

// biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field
type Body = any;

async function send(
  who: string | undefined,
  method: string,
  path: string,
  payload?: unknown,
  roles: Role[] = ["member"],
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Body; headers: Headers }> {
  const init =
    who === undefined
      ? {
          method,
          headers: { "content-type": "application/json" },
          ...(payload !== undefined ? { body: JSON.stringify(payload) } : {}),
        }
      : authed(await tokenFor(who, roles), method, payload, headers);
  const res = await w.app.request(path, init);
  const text = await res.text();
  return { status: res.status, body: text === "" ? undefined : JSON.parse(text), headers: res.headers };
}
const asOperator = (method: string, path: string, payload?: unknown, headers: Record<string, string> = {}) =>
  send(OPERATOR, method, path, payload, ["admin"], headers);

function expectProblem(res: { status: number; body: Body; headers: Headers }, status: number, code: string) {
  expect(res.status, `${code}: ${JSON.stringify(res.body)}`).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  expect(res.body.code).toBe(code);
}

const pay = (amountMinor: number, reference = "NAB 0042", currency = "AUD") => ({
  amountMinor,
  currency,
  reference,
});

async function balance(account: string): Promise<number> {
  return (await ledger.balance(account, "AUD"))._unsafeUnwrap().amountMinor;
}

async function expectLedgerBalanced(): Promise<void> {
  const report = (await ledger.checkLedger())._unsafeUnwrap();
  expect(report.unbalanced).toEqual([]);
  expect(report.mismatches).toEqual([]);
  expect(report.agrees).toBe(true);
}

/**
 * Bodies no route may store, each refused with a 4xx: the wrong types, amounts not positive
 * whole safe numbers, currencies not three capitals, references empty, too long or not text,
 * fields unknown or missing, not JSON at all.
 */
const MALFORMED: readonly unknown[] = [
  {},
  { ...pay(1), amountMinor: "100" },
  { ...pay(1), amountMinor: -1 },
  { ...pay(1), amountMinor: 0 },
  { ...pay(1), amountMinor: 1.5 },
  { ...pay(1), amountMinor: Number.MAX_SAFE_INTEGER + 2 },
  { ...pay(1), amountMinor: 1e308 },
  { ...pay(1), amountMinor: null },
  { ...pay(1), currency: "aud" },
  { ...pay(1), currency: "AUDD" },
  { ...pay(1), currency: 36 },
  { ...pay(1), reference: "" },
  { ...pay(1), reference: " \t " },
  { ...pay(1), reference: "x".repeat(201) },
  // Too long in characters (code points), as the schema and the domain count: 201 emoji, not 101.
  { ...pay(1), reference: "\u{1F4B8}".repeat(201) },
  { ...pay(1), reference: 42 },
  { ...pay(1), reference: ["NAB"] },
  { ...pay(1), reference: "NAB\u0000" },
  { ...pay(1), extra: true },
  { amountMinor: 1, currency: "AUD" },
  [pay(1)],
  "NAB 0042",
  null,
];

/** Sends every malformed body (and one that is not JSON): each a 4xx problem, nothing stored. */
async function expectMalformedRefused(path: string): Promise<void> {
  const before = await countDomainRows(db.prisma);
  for (const payload of MALFORMED) {
    const res = await asOperator("POST", path, payload);
    expect(res.status, `${JSON.stringify(payload)}: ${JSON.stringify(res.body)}`).toBeGreaterThanOrEqual(400);
    expect(res.status, `${JSON.stringify(payload)}: ${JSON.stringify(res.body)}`).toBeLessThan(500);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
  }
  const notJson = await w.app.request(path, {
    method: "POST",
    headers: {
      authorization: `Bearer ${await tokenFor(OPERATOR, ["admin"])}`,
      "content-type": "application/json",
    },
    body: '{"amountMinor": 1, "currency": "AUD", "reference": ',
  });
  expect(notJson.status).toBe(400);
  // Amounts in range but more than is owed, currencies unknown, long Unicode references are
  // the domain's refusals (or accepted): never a 5xx either.
  for (const payload of [pay(Number.MAX_SAFE_INTEGER), pay(1, "NAB", "XYZ"), pay(1, "NAB", "JPY")]) {
    const res = await asOperator("POST", path, payload);
    expect(res.status, `${JSON.stringify(payload)}: ${JSON.stringify(res.body)}`).toBe(422);
  }
  expect(await countDomainRows(db.prisma)).toEqual(before);
}

// ─── Marketplace charges ───────────────────────────────────────────────────

let charges = 0;

/** A charge of 100.00 whose refund Stripe refused (charge_disputed), then a dispute lost for 60.00: 40.00 owed. */
async function owingCharge(): Promise<string> {
  charges++;
  const created = await send(
    APP,
    "POST",
    "/v1/marketplace-charges",
    {
      clientReference: `owed_${charges}`,
      activityId: "act_owed",
      purpose: "rsvp",
      amountMinor: 100_00,
      currency: "AUD",
      description: "Pottery class",
      customer: { personId: CUSTOMER, email: "cy@example.com" },
      sellers: [{ personId: SELLER }],
      fee: { rateBps: 1_000 },
      paymentMethod: { type: "saved_card", paymentMethodId: "pm_card_visa" },
    },
    ["service"],
  );
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const id: string = created.body.id;
  await w.runUntilQuiet();
  w.gateway.injectFault("refund", "before", gatewayError("gateway_definite", "charge_disputed", "disputed"));
  const refunded = await asOperator("POST", `/v1/marketplace-charges/${id}/refunds`, {});
  expect(refunded.status, JSON.stringify(refunded.body)).toBe(200);
  await w.runUntilQuiet();
  const refs = marketplaceChargeRefs(id);
  for (const fact of [
    { kind: "dispute_opened", refs, disputeId: `dp_mc_${charges}`, amountMinor: 60_00 } as const,
    {
      kind: "dispute_closed",
      refs,
      disputeId: `dp_mc_${charges}`,
      outcome: "lost",
      amountMinor: 60_00,
    } as const,
  ])
    (await useCases.applyPaymentFact(w.deps, { reader: w.gateway }, fact, "stripe"))._unsafeUnwrap();
  await w.runUntilQuiet();
  const read = await asOperator("GET", `/v1/marketplace-charges/${id}`);
  expect(read.body.owedOutsideStripe, JSON.stringify(read.body)).toEqual({
    owed: { amountMinor: 40_00, currency: "AUD" },
    paid: { amountMinor: 0, currency: "AUD" },
    givenBackByDisputes: { amountMinor: 0, currency: "AUD" },
    left: { amountMinor: 40_00, currency: "AUD" },
    owedBackByCustomer: { amountMinor: 0, currency: "AUD" },
    recoveredFromCustomer: { amountMinor: 0, currency: "AUD" },
    payments: [],
    recoveries: [],
  });
  return id;
}

describe("POST /v1/marketplace-charges/{id}/owed-payments after a dispute gave back what was owed", () => {
  it("a refund the card could not take, then the whole charge lost: the loss is booked from what was owed, nothing is left to pay, the ticket resolved", async () => {
    charges++;
    const created = await send(
      APP,
      "POST",
      "/v1/marketplace-charges",
      {
        clientReference: `owed_${charges}`,
        activityId: "act_owed",
        purpose: "rsvp",
        amountMinor: 100_00,
        currency: "AUD",
        description: "Pottery class",
        customer: { personId: CUSTOMER, email: "cy@example.com" },
        sellers: [{ personId: SELLER }],
        fee: { rateBps: 1_000 },
        paymentMethod: { type: "saved_card", paymentMethodId: "pm_card_visa" },
      },
      ["service"],
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id: string = created.body.id;
    await w.runUntilQuiet();
    w.gateway.injectFault(
      "refund",
      "before",
      gatewayError("gateway_definite", "expired_or_canceled_card", "the card was canceled"),
    );
    const refunded = await asOperator("POST", `/v1/marketplace-charges/${id}/refunds`, {});
    expect(refunded.status, JSON.stringify(refunded.body)).toBe(200);
    await w.runUntilQuiet();
    const owing = await asOperator("GET", `/v1/marketplace-charges/${id}`);
    expect(owing.body.refunds.map((r: Body) => r.status)).toEqual(["owed_outside_stripe"]);
    const ticketId = marketplaceChargeIds.ticket.refundOwed(id, 1);
    expect((await desk.getTicket(ticketId))._unsafeUnwrap()?.status).toBe("open");
    expect(await balance(marketplaceAccounts.owedToCustomer(id))).toBe(100_00);

    const refs = marketplaceChargeRefs(id);
    const disputeId = `dp_mc_${charges}`;
    for (const fact of [
      { kind: "dispute_opened", refs, disputeId, amountMinor: 100_00 } as const,
      { kind: "dispute_closed", refs, disputeId, outcome: "lost", amountMinor: 100_00 } as const,
    ])
      (await useCases.applyPaymentFact(w.deps, { reader: w.gateway }, fact, "stripe"))._unsafeUnwrap();
    await w.runUntilQuiet();
    const read = await asOperator("GET", `/v1/marketplace-charges/${id}`);
    expect(read.body.owedOutsideStripe).toEqual({
      owed: { amountMinor: 100_00, currency: "AUD" },
      paid: { amountMinor: 0, currency: "AUD" },
      givenBackByDisputes: { amountMinor: 100_00, currency: "AUD" },
      left: { amountMinor: 0, currency: "AUD" },
      owedBackByCustomer: { amountMinor: 0, currency: "AUD" },
      recoveredFromCustomer: { amountMinor: 0, currency: "AUD" },
      payments: [],
      recoveries: [],
    });
    expect(read.body.disputes).toMatchObject([
      { id: disputeId, status: "lost", lost: { amountMinor: 100_00 } },
    ]);
    expect(await balance(marketplaceAccounts.owedToCustomer(id))).toBe(0);
    expect(await balance(marketplaceAccounts.disputeLosses(id))).toBe(100_00);
    expect((await desk.getTicket(ticketId))._unsafeUnwrap()).toMatchObject({
      status: "resolved",
      resolvedBy: "stripe",
    });
    // Paying it again outside Stripe would pay the customer twice.
    expectProblem(
      await asOperator("POST", `/v1/marketplace-charges/${id}/owed-payments`, pay(1)),
      409,
      "nothing_owed",
    );
    await expectLedgerBalanced();
  });
});

describe("POST /v1/marketplace-charges/{id}/owed-payments, then a dispute gave back what was paid", () => {
  it("an admin paid 40.00 of 100.00 owed, then the whole charge lost: the loss is booked whole, the 40.00 paid twice is owed back by the customer and a ticket asks to recover it", async () => {
    charges++;
    const created = await send(
      APP,
      "POST",
      "/v1/marketplace-charges",
      {
        clientReference: `owed_${charges}`,
        activityId: "act_owed",
        purpose: "rsvp",
        amountMinor: 100_00,
        currency: "AUD",
        description: "Pottery class",
        customer: { personId: CUSTOMER, email: "cy@example.com" },
        sellers: [{ personId: SELLER }],
        fee: { rateBps: 1_000 },
        paymentMethod: { type: "saved_card", paymentMethodId: "pm_card_visa" },
      },
      ["service"],
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id: string = created.body.id;
    await w.runUntilQuiet();
    w.gateway.injectFault(
      "refund",
      "before",
      gatewayError("gateway_definite", "expired_or_canceled_card", "the card was canceled"),
    );
    const refunded = await asOperator("POST", `/v1/marketplace-charges/${id}/refunds`, {});
    expect(refunded.status, JSON.stringify(refunded.body)).toBe(200);
    await w.runUntilQuiet();
    const paid = await asOperator("POST", `/v1/marketplace-charges/${id}/owed-payments`, pay(40_00, "NAB 7"));
    expect(paid.status, JSON.stringify(paid.body)).toBe(200);
    await w.runUntilQuiet();

    const refs = marketplaceChargeRefs(id);
    const disputeId = `dp_mc_${charges}`;
    for (const fact of [
      { kind: "dispute_opened", refs, disputeId, amountMinor: 100_00 } as const,
      { kind: "dispute_closed", refs, disputeId, outcome: "lost", amountMinor: 100_00 } as const,
    ])
      (await useCases.applyPaymentFact(w.deps, { reader: w.gateway }, fact, "stripe"))._unsafeUnwrap();
    await w.runUntilQuiet();
    const read = await asOperator("GET", `/v1/marketplace-charges/${id}`);
    expect(read.body.owedOutsideStripe).toMatchObject({
      paid: { amountMinor: 40_00, currency: "AUD" },
      givenBackByDisputes: { amountMinor: 60_00, currency: "AUD" },
      left: { amountMinor: 0, currency: "AUD" },
      owedBackByCustomer: { amountMinor: 40_00, currency: "AUD" },
    });
    // As at Stripe: the bank took the whole 100.00.
    expect(read.body.disputes).toMatchObject([
      { id: disputeId, status: "lost", lost: { amountMinor: 100_00 } },
    ]);
    expect(await balance(marketplaceAccounts.disputeLosses(id))).toBe(100_00);
    expect(await balance(marketplaceAccounts.owedToCustomer(id))).toBe(0);
    expect(await balance(marketplaceAccounts.owedByCustomer(id))).toBe(-40_00);
    const recover = (
      await desk.getTicket(marketplaceChargeIds.ticket.owedOverpaid(id, disputeId))
    )._unsafeUnwrap();
    expect(recover).toMatchObject({ status: "open", kind: "owed_overpaid" });
    expect(JSON.stringify(recover?.details)).toContain("40.00");
    await expectLedgerBalanced();
  });
});

describe("POST /v1/marketplace-charges/{id}/owed-payments", () => {
  it("a part, then the rest: the ledger follows, the customer is told each time, the refund_owed ticket resolved at the end", async () => {
    const id = await owingCharge();
    const path = `/v1/marketplace-charges/${id}/owed-payments`;
    const refund = (await asOperator("GET", `/v1/marketplace-charges/${id}`)).body.refunds.find(
      (r: Body) => r.status === "owed_outside_stripe",
    );
    const ticketId = marketplaceChargeIds.ticket.refundOwed(id, refund.number);
    expect((await desk.getTicket(ticketId))._unsafeUnwrap()?.status).toBe("open");
    expect(await balance(marketplaceAccounts.owedToCustomer(id))).toBe(40_00);

    const first = await asOperator("POST", path, pay(15_00));
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.owedOutsideStripe).toMatchObject({
      paid: { amountMinor: 15_00 },
      left: { amountMinor: 25_00 },
      payments: [
        { number: 1, amount: { amountMinor: 15_00 }, reference: "NAB 0042", paidBy: `operator:${OPERATOR}` },
      ],
    });
    // Sent again without an Idempotency-Key (a retry after a timeout): the same transfer is
    // not recorded twice.
    expectProblem(await asOperator("POST", path, pay(15_00)), 409, "duplicate_owed_payment");
    await w.runUntilQuiet();
    expect(await balance(marketplaceAccounts.owedToCustomer(id))).toBe(25_00);
    expect((await desk.getTicket(ticketId))._unsafeUnwrap()?.status).toBe("open");

    const rest = await asOperator("POST", path, pay(25_00, "NAB 0043"));
    expect(rest.status, JSON.stringify(rest.body)).toBe(200);
    expect(rest.body.owedOutsideStripe.left).toEqual({ amountMinor: 0, currency: "AUD" });
    await w.runUntilQuiet();
    expect(await balance(marketplaceAccounts.owedToCustomer(id))).toBe(0);
    expect(await balance(marketplaceAccounts.paidOutsideStripe(id))).toBe(40_00);
    expect((await desk.getTicket(ticketId))._unsafeUnwrap()).toMatchObject({
      status: "resolved",
      resolvedBy: `operator:${OPERATOR}`,
    });
    expect(
      w.notifier.sent
        .filter((n) => n.template === "owed_paid_outside_stripe" && n.data.marketplaceChargeId === id)
        .map((n) => [n.emails, n.data.amountMinor, n.data.leftMinor]),
    ).toEqual([
      [["cy@example.com"], 15_00, 25_00],
      [["cy@example.com"], 25_00, 0],
    ]);
    expectProblem(await asOperator("POST", path, pay(1, "NAB 0044")), 409, "nothing_owed");
    const audit = await db.prisma.auditLogEntry.findMany({
      where: { aggregateId: id, action: "record_owed_payment" },
    });
    expect(audit.map((a) => a.actor)).toEqual([`operator:${OPERATOR}`, `operator:${OPERATOR}`]);
    await expectLedgerBalanced();
  });

  it("platform admins only: 401 without a token, the customer and the seller 403, a service 403 admin_only, a stranger 404; nothing stored", async () => {
    const id = await owingCharge();
    const path = `/v1/marketplace-charges/${id}/owed-payments`;
    const before = await countDomainRows(db.prisma);
    expectProblem(await send(undefined, "POST", path, pay(1_00)), 401, "unauthenticated");
    expectProblem(await send(CUSTOMER, "POST", path, pay(1_00)), 403, "operator_only");
    expectProblem(await send(SELLER, "POST", path, pay(1_00)), 403, "operator_only");
    expectProblem(await send(APP, "POST", path, pay(1_00), ["service"]), 403, "admin_only");
    expectProblem(await send("eve_owed", "POST", path, pay(1_00)), 404, "marketplace_charge_not_found");
    expectProblem(
      await asOperator("POST", "/v1/marketplace-charges/mc_nope/owed-payments", pay(1_00)),
      404,
      "marketplace_charge_not_found",
    );
    expect(await countDomainRows(db.prisma)).toEqual(before);
    expect(
      (await asOperator("GET", `/v1/marketplace-charges/${id}`)).body.owedOutsideStripe.payments,
    ).toEqual([]);
  });

  it("each refusal has its code and stores nothing; no malformed body is a 5xx", async () => {
    const id = await owingCharge();
    const path = `/v1/marketplace-charges/${id}/owed-payments`;
    const view = (await asOperator("GET", `/v1/marketplace-charges/${id}`)).body;
    const before = await countDomainRows(db.prisma);
    expectProblem(await asOperator("POST", path, pay(40_01)), 422, "amount_exceeds_owed");
    expectProblem(await asOperator("POST", path, pay(1_00, "NAB", "NZD")), 422, "currency_mismatch");
    expectProblem(await asOperator("POST", path, pay(1_00, "NAB", "XYZ")), 422, "currency_mismatch");
    expect(await countDomainRows(db.prisma)).toEqual(before);
    await expectMalformedRefused(path);
    expect((await asOperator("GET", `/v1/marketplace-charges/${id}`)).body).toEqual(view);
    await w.runUntilQuiet();
    expect(await balance(marketplaceAccounts.owedToCustomer(id))).toBe(40_00);
  });

  it("the same Idempotency-Key again answers the first request and records nothing more; with another body it is refused", async () => {
    const id = await owingCharge();
    const path = `/v1/marketplace-charges/${id}/owed-payments`;
    const key = { "idempotency-key": `owed-mc-${id}` };
    const first = await asOperator("POST", path, pay(10_00), key);
    expect(first.status).toBe(200);
    const again = await asOperator("POST", path, pay(10_00), key);
    expect(again.status).toBe(200);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
    expectProblem(await asOperator("POST", path, pay(20_00), key), 422, "idempotency_key_reused");
    await w.runUntilQuiet();
    expect((await asOperator("GET", `/v1/marketplace-charges/${id}`)).body.owedOutsideStripe).toMatchObject({
      paid: { amountMinor: 10_00 },
      payments: [{ number: 1 }],
    });
    expect(await balance(marketplaceAccounts.owedToCustomer(id))).toBe(30_00);
  });
});

/**
 * A charge of 100.00 whose refund the card could not take (owed outside Stripe whole), 40.00 of it
 * paid by an admin, then the whole charge lost: the customer got the 40.00 twice and owes it back.
 */
async function overpaidCharge(): Promise<{ readonly id: string; readonly disputeId: string }> {
  charges++;
  const created = await send(
    APP,
    "POST",
    "/v1/marketplace-charges",
    {
      clientReference: `owed_${charges}`,
      activityId: "act_owed",
      purpose: "rsvp",
      amountMinor: 100_00,
      currency: "AUD",
      description: "Pottery class",
      customer: { personId: CUSTOMER, email: "cy@example.com" },
      sellers: [{ personId: SELLER }],
      fee: { rateBps: 1_000 },
      paymentMethod: { type: "saved_card", paymentMethodId: "pm_card_visa" },
    },
    ["service"],
  );
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const id: string = created.body.id;
  await w.runUntilQuiet();
  w.gateway.injectFault(
    "refund",
    "before",
    gatewayError("gateway_definite", "expired_or_canceled_card", "the card was canceled"),
  );
  expect((await asOperator("POST", `/v1/marketplace-charges/${id}/refunds`, {})).status).toBe(200);
  await w.runUntilQuiet();
  const paid = await asOperator("POST", `/v1/marketplace-charges/${id}/owed-payments`, pay(40_00, "NAB 7"));
  expect(paid.status, JSON.stringify(paid.body)).toBe(200);
  await w.runUntilQuiet();
  const refs = marketplaceChargeRefs(id);
  const disputeId = `dp_mc_${charges}`;
  for (const fact of [
    { kind: "dispute_opened", refs, disputeId, amountMinor: 100_00 } as const,
    { kind: "dispute_closed", refs, disputeId, outcome: "lost", amountMinor: 100_00 } as const,
  ])
    (await useCases.applyPaymentFact(w.deps, { reader: w.gateway }, fact, "stripe"))._unsafeUnwrap();
  await w.runUntilQuiet();
  return { id, disputeId };
}

describe("POST /v1/marketplace-charges/{id}/owed-recoveries: money the customer got twice, paid back", () => {
  it("a part, then the rest: owed back shrinks, the ledger moves it from owed_by_customer back to paid_outside_stripe, the owed_overpaid ticket resolved at the end, each audited", async () => {
    const { id, disputeId } = await overpaidCharge();
    const path = `/v1/marketplace-charges/${id}/owed-recoveries`;
    const ticketId = marketplaceChargeIds.ticket.owedOverpaid(id, disputeId);
    expect((await desk.getTicket(ticketId))._unsafeUnwrap()?.status).toBe("open");
    expect(await balance(marketplaceAccounts.owedByCustomer(id))).toBe(-40_00);
    expect(await balance(marketplaceAccounts.paidOutsideStripe(id))).toBe(40_00);

    const first = await asOperator("POST", path, pay(15_00, "Westpac 1"));
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.owedOutsideStripe).toMatchObject({
      paid: { amountMinor: 40_00, currency: "AUD" },
      left: { amountMinor: 0, currency: "AUD" },
      owedBackByCustomer: { amountMinor: 25_00, currency: "AUD" },
      recoveredFromCustomer: { amountMinor: 15_00, currency: "AUD" },
      recoveries: [
        {
          number: 1,
          amount: { amountMinor: 15_00, currency: "AUD" },
          reference: "Westpac 1",
          recordedBy: `operator:${OPERATOR}`,
        },
      ],
    });
    // Sent again without an Idempotency-Key (a retry after a timeout): recorded once.
    expectProblem(await asOperator("POST", path, pay(15_00, "westpac 1 ")), 409, "duplicate_owed_recovery");
    await w.runUntilQuiet();
    expect(await balance(marketplaceAccounts.owedByCustomer(id))).toBe(-25_00);
    expect(await balance(marketplaceAccounts.paidOutsideStripe(id))).toBe(25_00);
    expect((await desk.getTicket(ticketId))._unsafeUnwrap()?.status).toBe("open");

    const rest = await asOperator("POST", path, pay(25_00, "Westpac 2"));
    expect(rest.status, JSON.stringify(rest.body)).toBe(200);
    expect(rest.body.owedOutsideStripe.owedBackByCustomer).toEqual({ amountMinor: 0, currency: "AUD" });
    await w.runUntilQuiet();
    expect(await balance(marketplaceAccounts.owedByCustomer(id))).toBe(0);
    expect(await balance(marketplaceAccounts.paidOutsideStripe(id))).toBe(0);
    // The loss stays booked whole, as at Stripe.
    expect(await balance(marketplaceAccounts.disputeLosses(id))).toBe(100_00);
    expect((await desk.getTicket(ticketId))._unsafeUnwrap()).toMatchObject({
      status: "resolved",
      resolvedBy: `operator:${OPERATOR}`,
    });
    const posted = await db.prisma.ledgerTransaction.findMany({
      where: { kind: "marketplace_recovered_from_customer", id: { startsWith: `${id}:` } },
      orderBy: { id: "asc" },
    });
    expect(posted.map((t) => t.id)).toEqual([
      `${id}:owed:recovered:1:ledger`,
      `${id}:owed:recovered:2:ledger`,
    ]);
    expectProblem(await asOperator("POST", path, pay(1, "Westpac 3")), 409, "nothing_owed_back");
    const audit = await db.prisma.auditLogEntry.findMany({
      where: { aggregateId: id, action: "record_owed_recovery" },
    });
    expect(audit.map((a) => [a.actor, a.outcome])).toEqual([
      [`operator:${OPERATOR}`, "applied"],
      [`operator:${OPERATOR}`, "applied"],
    ]);
    await expectLedgerBalanced();
  });

  it("each refusal has its code and changes nothing; platform admins only; no malformed body is a 5xx", async () => {
    const { id } = await overpaidCharge();
    const path = `/v1/marketplace-charges/${id}/owed-recoveries`;
    const view = (await asOperator("GET", `/v1/marketplace-charges/${id}`)).body;
    const before = await countDomainRows(db.prisma);
    expectProblem(await asOperator("POST", path, pay(40_01)), 422, "amount_exceeds_owed_back");
    expectProblem(await asOperator("POST", path, pay(1_00, "NAB", "NZD")), 422, "currency_mismatch");
    expectProblem(await asOperator("POST", path, pay(1_00, "NAB", "XYZ")), 422, "currency_mismatch");
    for (const amountMinor of [0, -1_00]) {
      const res = await asOperator("POST", path, pay(amountMinor));
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
    }
    expectProblem(await send(undefined, "POST", path, pay(1_00)), 401, "unauthenticated");
    expectProblem(await send(CUSTOMER, "POST", path, pay(1_00)), 403, "operator_only");
    expectProblem(await send(APP, "POST", path, pay(1_00), ["service"]), 403, "admin_only");
    expectProblem(await send("eve_owed", "POST", path, pay(1_00)), 404, "marketplace_charge_not_found");
    expectProblem(
      await asOperator("POST", "/v1/marketplace-charges/mc_nope/owed-recoveries", pay(1_00)),
      404,
      "marketplace_charge_not_found",
    );
    expect(await countDomainRows(db.prisma)).toEqual(before);
    await expectMalformedRefused(path);
    expect((await asOperator("GET", `/v1/marketplace-charges/${id}`)).body).toEqual(view);
    await w.runUntilQuiet();
    expect(await balance(marketplaceAccounts.owedByCustomer(id))).toBe(-40_00);
    // A charge whose customer owes nothing back.
    const owing = await owingCharge();
    expectProblem(
      await asOperator("POST", `/v1/marketplace-charges/${owing}/owed-recoveries`, pay(1_00)),
      409,
      "nothing_owed_back",
    );
  });

  it("the same Idempotency-Key again answers the first request and records nothing more", async () => {
    const { id } = await overpaidCharge();
    const path = `/v1/marketplace-charges/${id}/owed-recoveries`;
    const key = { "idempotency-key": `recover-mc-${id}` };
    const first = await asOperator("POST", path, pay(10_00), key);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const again = await asOperator("POST", path, pay(10_00), key);
    expect(again.status).toBe(200);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
    expectProblem(await asOperator("POST", path, pay(20_00), key), 422, "idempotency_key_reused");
    await w.runUntilQuiet();
    expect((await asOperator("GET", `/v1/marketplace-charges/${id}`)).body.owedOutsideStripe).toMatchObject({
      owedBackByCustomer: { amountMinor: 30_00 },
      recoveries: [{ number: 1 }],
    });
    expect(await balance(marketplaceAccounts.owedByCustomer(id))).toBe(-30_00);
  });
});

// ─── Rounds ────────────────────────────────────────────────────────────────

let groups = 0;

/**
 * A round still collecting (the other member's debit failed) in which its admin's debit of
 * 100.00 settled, then was disputed for 30.00: 70.00 is owed to the admin outside Stripe.
 */
async function owingRound(): Promise<{ roundId: string; admin: string; other: string }> {
  groups++;
  const admin = `ola_${groups}`;
  const other = `oli_${groups}`;
  const groupId = await w.readyGroup(admin, [other]);
  w.gateway.setDebitOutcomes(other, [{ fail: "account_closed" }]);
  const opened = await send(admin, "POST", `/v1/groups/${groupId}/rounds`);
  expect(opened.status, JSON.stringify(opened.body)).toBe(201);
  const roundId: string = opened.body.id;
  await w.advance(3 * DAY_MS + 1);
  (
    await useCases.applyPaymentFact(
      w.deps,
      { reader: w.gateway },
      {
        kind: "dispute_opened",
        refs: roundPaymentRefs(groupId, roundId, admin),
        disputeId: `dp_r_${groups}`,
        amountMinor: 30_00,
      },
      "stripe",
    )
  )._unsafeUnwrap();
  await w.runUntilQuiet();
  const read = await asOperator("GET", `/v1/rounds/${roundId}`);
  expect(
    read.body.contributions.find((c: Body) => c.memberId === admin).owedOutsideStripe,
    JSON.stringify(read.body.contributions),
  ).toEqual({
    owed: { amountMinor: 70_00, currency: "AUD" },
    paid: { amountMinor: 0, currency: "AUD" },
    givenBackByDisputes: { amountMinor: 0, currency: "AUD" },
    left: { amountMinor: 70_00, currency: "AUD" },
    owedBackByCustomer: { amountMinor: 0, currency: "AUD" },
    recoveredFromCustomer: { amountMinor: 0, currency: "AUD" },
    payments: [],
    recoveries: [],
  });
  return { roundId, admin, other };
}

const owedOf = async (roundId: string, memberId: string) =>
  (await asOperator("GET", `/v1/rounds/${roundId}`)).body.contributions.find(
    (c: Body) => c.memberId === memberId,
  ).owedOutsideStripe;

describe("POST /v1/rounds/{roundId}/contributions/{memberId}/owed-payments", () => {
  it("a part, then the rest: the round's books follow, the member is told each time, the rest-owed ticket resolved at the end", async () => {
    const { roundId, admin } = await owingRound();
    const path = `/v1/rounds/${roundId}/contributions/${admin}/owed-payments`;
    const ticketId = roundIds.ticket.disputeRestOwed(roundId, `dp_r_${groups}`);
    expect((await desk.getTicket(ticketId))._unsafeUnwrap()?.status).toBe("open");
    expect(await balance(roundAccounts.owedToMember(roundId, admin))).toBe(70_00);

    const first = await asOperator("POST", path, pay(20_00));
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.contributions.find((c: Body) => c.memberId === admin).owedOutsideStripe).toMatchObject({
      paid: { amountMinor: 20_00 },
      left: { amountMinor: 50_00 },
      payments: [{ number: 1, reference: "NAB 0042", paidBy: `operator:${OPERATOR}` }],
    });
    // Another admin records the same bank transfer: it is recorded once.
    expectProblem(
      await send("ops_omar", "POST", path, pay(20_00, " nab 0042"), ["admin"]),
      409,
      "duplicate_owed_payment",
    );
    await w.runUntilQuiet();
    expect(await balance(roundAccounts.owedToMember(roundId, admin))).toBe(50_00);
    expect((await desk.getTicket(ticketId))._unsafeUnwrap()?.status).toBe("open");

    expect((await asOperator("POST", path, pay(50_00, "NAB 0043"))).status).toBe(200);
    await w.runUntilQuiet();
    expect(await balance(roundAccounts.owedToMember(roundId, admin))).toBe(0);
    expect(await balance(roundAccounts.paidOutsideStripe(roundId, admin))).toBe(70_00);
    expect((await desk.getTicket(ticketId))._unsafeUnwrap()).toMatchObject({
      status: "resolved",
      resolvedBy: `operator:${OPERATOR}`,
    });
    expect(
      w.notifier.sent
        .filter((n) => n.template === "owed_paid_outside_stripe" && n.data.roundId === roundId)
        .map((n) => [n.data.memberId, n.data.amountMinor, n.data.leftMinor]),
    ).toEqual([
      [admin, 20_00, 50_00],
      [admin, 50_00, 0],
    ]);
    expectProblem(await asOperator("POST", path, pay(1, "NAB 0044")), 409, "nothing_owed");
    const audit = await db.prisma.auditLogEntry.findMany({
      where: { aggregateId: roundId, action: "record_owed_payment" },
    });
    expect(audit.map((a) => a.actor)).toEqual([`operator:${OPERATOR}`, `operator:${OPERATOR}`]);
    await expectLedgerBalanced();
  });

  it("platform admins only: 401 without a token, a stranger 404, the member and the group's admin 403, a service 403 admin_only; nothing stored", async () => {
    const { roundId, admin, other } = await owingRound();
    const path = `/v1/rounds/${roundId}/contributions/${admin}/owed-payments`;
    const before = await countDomainRows(db.prisma);
    expectProblem(await send(undefined, "POST", path, pay(1_00)), 401, "unauthenticated");
    expectProblem(await send("eve_owed", "POST", path, pay(1_00)), 404, "round_not_found");
    expectProblem(await send(other, "POST", path, pay(1_00)), 403, "operator_only");
    // The group's admin, though it is her money, may not record it paid.
    expectProblem(await send(admin, "POST", path, pay(1_00)), 403, "operator_only");
    expectProblem(await send(APP, "POST", path, pay(1_00), ["service"]), 403, "admin_only");
    expectProblem(
      await asOperator("POST", `/v1/rounds/rnd_nope/contributions/${admin}/owed-payments`, pay(1_00)),
      404,
      "round_not_found",
    );
    expect(await countDomainRows(db.prisma)).toEqual(before);
    expect((await owedOf(roundId, admin)).payments).toEqual([]);
  });

  it("each refusal has its code and stores nothing; no malformed body is a 5xx", async () => {
    const { roundId, admin, other } = await owingRound();
    const path = `/v1/rounds/${roundId}/contributions/${admin}/owed-payments`;
    const view = (await asOperator("GET", `/v1/rounds/${roundId}`)).body;
    const before = await countDomainRows(db.prisma);
    expectProblem(await asOperator("POST", path, pay(70_01)), 422, "amount_exceeds_owed");
    expectProblem(await asOperator("POST", path, pay(1_00, "NAB", "NZD")), 422, "currency_mismatch");
    // A member owed nothing, one not in the round.
    expectProblem(
      await asOperator("POST", `/v1/rounds/${roundId}/contributions/${other}/owed-payments`, pay(1_00)),
      409,
      "nothing_owed",
    );
    expectProblem(
      await asOperator("POST", `/v1/rounds/${roundId}/contributions/nobody/owed-payments`, pay(1_00)),
      409,
      "nothing_owed",
    );
    expect(await countDomainRows(db.prisma)).toEqual(before);
    await expectMalformedRefused(path);
    const after = (await asOperator("GET", `/v1/rounds/${roundId}`)).body;
    expect({ ...after, timeline: null }).toEqual({ ...view, timeline: null });
    await w.runUntilQuiet();
    expect(await balance(roundAccounts.owedToMember(roundId, admin))).toBe(70_00);
  });

  it("the same Idempotency-Key again answers the first request and records nothing more; with another body it is refused", async () => {
    const { roundId, admin } = await owingRound();
    const path = `/v1/rounds/${roundId}/contributions/${admin}/owed-payments`;
    const key = { "idempotency-key": `owed-round-${roundId}` };
    const first = await asOperator("POST", path, pay(10_00), key);
    expect(first.status).toBe(200);
    const again = await asOperator("POST", path, pay(10_00), key);
    expect(again.status).toBe(200);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
    expectProblem(await asOperator("POST", path, pay(20_00), key), 422, "idempotency_key_reused");
    await w.runUntilQuiet();
    expect(await owedOf(roundId, admin)).toMatchObject({
      paid: { amountMinor: 10_00 },
      payments: [{ number: 1 }],
    });
    expect(await balance(roundAccounts.owedToMember(roundId, admin))).toBe(60_00);
  });

  it("two admins recording all of it at once: one payment is stored, the other refused", async () => {
    const { roundId, admin } = await owingRound();
    const path = `/v1/rounds/${roundId}/contributions/${admin}/owed-payments`;
    const answers = await Promise.all(
      ["ops_olga", "ops_omar"].map((who) => send(who, "POST", path, pay(70_00, `paid by ${who}`), ["admin"])),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    expect(answers.find((a) => a.status === 409)?.body.code).toBe("nothing_owed");
    await w.runUntilQuiet();
    expect((await owedOf(roundId, admin)).payments).toHaveLength(1);
    expect(await balance(roundAccounts.owedToMember(roundId, admin))).toBe(0);
    expect(await balance(roundAccounts.paidOutsideStripe(roundId, admin))).toBe(70_00);
  });

  it("a round stored before rounds kept what they owe: what the ledger owes is shown, recorded, then kept", async () => {
    const { roundId, admin, other } = await owingRound();
    // As the code before stored it: no owedOutsideStripeMinor on any contribution.
    await db.prisma.$executeRaw`
      UPDATE rounds SET snapshot = jsonb_set(snapshot, '{contributions}', (
        SELECT jsonb_agg(c - 'owedOutsideStripeMinor' ORDER BY i)
          FROM jsonb_array_elements(snapshot->'contributions') WITH ORDINALITY AS x(c, i)))
       WHERE id = ${roundId}`;
    // The round's read says what the ledger owes, as the group's ledger does, to whoever may
    // see the round; a member owed nothing still shows null.
    const fromLedger = {
      owed: { amountMinor: 70_00, currency: "AUD" },
      paid: { amountMinor: 0, currency: "AUD" },
      givenBackByDisputes: { amountMinor: 0, currency: "AUD" },
      left: { amountMinor: 70_00, currency: "AUD" },
      owedBackByCustomer: { amountMinor: 0, currency: "AUD" },
      recoveredFromCustomer: { amountMinor: 0, currency: "AUD" },
      payments: [],
      recoveries: [],
    };
    expect(await owedOf(roundId, admin)).toEqual(fromLedger);
    expect(await owedOf(roundId, other)).toBeNull();
    const asAdmin = await send(admin, "GET", `/v1/rounds/${roundId}`);
    expect(asAdmin.body.contributions.find((c: Body) => c.memberId === admin).owedOutsideStripe).toEqual(
      fromLedger,
    );
    const groupId: string = asAdmin.body.groupId;
    const listed = await send(admin, "GET", `/v1/groups/${groupId}/rounds`);
    expect(
      listed.body.data
        .find((r: Body) => r.id === roundId)
        .contributions.find((c: Body) => c.memberId === admin).owedOutsideStripe,
    ).toEqual(fromLedger);
    const books = await send(admin, "GET", `/v1/groups/${groupId}/ledger`);
    expect(JSON.stringify(books.body)).toContain(roundAccounts.owedToMember(roundId, admin));
    const path = `/v1/rounds/${roundId}/contributions/${admin}/owed-payments`;
    expectProblem(await asOperator("POST", path, pay(70_01)), 422, "amount_exceeds_owed");
    const first = await asOperator("POST", path, pay(30_00));
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.contributions.find((c: Body) => c.memberId === admin).owedOutsideStripe).toMatchObject({
      owed: { amountMinor: 70_00 },
      left: { amountMinor: 40_00 },
    });
    await w.runUntilQuiet();
    expectProblem(await asOperator("POST", path, pay(40_01, "NAB 0043")), 422, "amount_exceeds_owed");
    expect((await asOperator("POST", path, pay(40_00, "NAB 0043"))).status).toBe(200);
    await w.runUntilQuiet();
    expect(await balance(roundAccounts.owedToMember(roundId, admin))).toBe(0);
    await expectLedgerBalanced();
  });
});
