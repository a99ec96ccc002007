// Marketplace charges on v1, on PostgreSQL (PrismaStore, PrismaLedgerStore, PrismaSupportDesk) and
// the Stripe emulator through the real gateway (StripePaymentGateway): the outbox dispatcher, timers and
// Stripe's events (read from the emulator, applied as the webhook processor applies them) run
// by a driver. Customers save their cards as their apps do (a set-up confirmed at Stripe, its
// webhook), sellers are onboarded Express accounts. Asking for a charge (201, the same request again 200, the reference with other
// terms 409), what the schema, the rules of who may charge whom and the domain refuse — each
// refusal changing nothing —, the client secret a new card needs, splits among co-hosts,
// refunds for the customer and for the platform, operators' retries, reading and listing
// (pages, filters, who sees what), and a balanced ledger at the end of every path.
import {
  PrismaLedgerStore,
  PrismaPaymentAttemptStore,
  PrismaStore,
  PrismaSupportDesk,
  processWebhookEvent,
  StripePaymentGateway,
  stripeEndpointOf,
  type WebhookContext,
} from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import {
  DEFAULT_MARKETPLACE_POLICY,
  marketplaceChargeRefs,
  type Person,
  useCaseDepsOn,
  useCases,
} from "@susu/domain";
import { InMemoryTimerScheduler, ManualClock, RecordingNotifier, SequentialIds } from "@susu/domain/testing";
import { type RunningEmulator, startEmulator } from "@susu/stripe-emulator";
import type Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Role } from "../../src/http/auth.js";
import { PaymentAttemptLimiter } from "../../src/http/payment-attempts.js";
import { authed, testApp, tokenFor } from "../support/app.js";
import { countDomainRows } from "../support/v1-surface.js";

const APP = "app_events"; // a client app's backend: a platform service
const CUSTOMER = "cy";
const OTHER_CUSTOMER = "dee";
const SELLER = "sam";
const CO_HOSTS = ["sam", "sue", "sol"] as const;
const STRANGER = "eve";
const OPERATOR = "ops_olga";

const db = useTestDatabase();
// Near the emulator's clock (real time): Stripe's objects and the charges' times agree.
const clock = new ManualClock(Date.now());
let emulator: RunningEmulator;
let gateway: StripePaymentGateway;
let stripe: Stripe;
let webhooks: WebhookContext;
/** The newest Stripe event already applied. */
let cursor: string | undefined;
/** Each seller's Express account at Stripe, onboarded. */
const accounts = new Map<string, string>();
const account = (seller: string) => accounts.get(seller) ?? "";
/** The customers' saved cards (Stripe gives each saved card its own `pm_…`). */
let VISA = "";
let DECLINING = "";
/** The other customer's saved cards (each saved card is one person's). */
let DEE_CARD = "";
let DEE_DECLINING = "";
let store: PrismaStore;
let ledger: PrismaLedgerStore;
let desk: PrismaSupportDesk;
let deps: ReturnType<typeof useCaseDepsOn>;
let app: ReturnType<typeof testApp>;
const timers = new InMemoryTimerScheduler();

// biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field
type Body = any;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, fees: false });
  const endpoint = { secretKey: emulator.secretKey, ...stripeEndpointOf(emulator.url), timeoutMs: 10_000 };
  gateway = new StripePaymentGateway({ ...endpoint, maxNetworkRetries: 0 }, { clock });
  stripe = gateway.stripe;
  cursor = (await stripe.events.list({ limit: 1 })).data[0]?.id;
  store = new PrismaStore(db.prisma, { clock });
  ledger = new PrismaLedgerStore(db.prisma, { clock });
  desk = new PrismaSupportDesk(db.prisma, clock);
  deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
  webhooks = { deps, gateway };
  app = testApp({ useCases: deps, gateway, prisma: db.prisma });
  for (const seller of CO_HOSTS) {
    const created = await stripe.accounts.create({
      type: "express",
      country: "AU",
      capabilities: { transfers: { requested: true } },
    });
    await emulator.control.completeAccountOnboarding(created.id);
    accounts.set(seller, created.id);
  }
  const person = (id: string): Person => ({
    id,
    displayName: id.toUpperCase(),
    createdAt: clock.now(),
    version: 0,
  });
  const people: Person[] = [
    // Customers and strangers: their Stripe customer is made when they first save a card.
    ...[CUSTOMER, OTHER_CUSTOMER, STRANGER].map(person),
    ...CO_HOSTS.map((id) => ({
      ...person(id),
      payout: { connectedAccountId: account(id), payoutsEnabled: true },
    })),
    // A person with no Stripe customer (cannot pay yet), and one with no connected account (cannot be paid).
    person("newbie"),
    person("unpaid"),
  ];
  (
    await deps.uow.commit({
      people: people.map((state) => ({ state, expectedVersion: undefined })),
      groups: [],
      rounds: [],
      outbox: [],
      audit: [],
    })
  )._unsafeUnwrap();
  // The customers save cards as their apps do. A card Stripe declines cannot be saved, but
  // for its test card `pm_card_chargeCustomerFail`, which is saved and then declined
  // (`generic_decline`) whenever it is charged.
  VISA = await saveCard(CUSTOMER, "pm_card_visa");
  DECLINING = await saveCard(CUSTOMER, "pm_card_chargeCustomerFail");
  DEE_CARD = await saveCard(OTHER_CUSTOMER, "pm_card_visa");
  DEE_DECLINING = await saveCard(OTHER_CUSTOMER, "pm_card_chargeCustomerFail");
});

afterAll(async () => {
  await emulator?.stop();
});

/** Each saved card is a set-up of its own (its attempt). */
let setups = 0;

/**
 * `personId` saves Stripe's test card `testCard` as their app does: a set-up through the use
 * case (their Stripe customer made first if they have none), the SetupIntent confirmed at
 * Stripe, its webhooks applied. Returns the saved card's id.
 */
async function saveCard(personId: string, testCard: string): Promise<string> {
  const setup = (
    await useCases.startPaymentMethodSetup(deps, gateway, personId, "card", `card_${++setups}`)
  )._unsafeUnwrap();
  const confirmed = await stripe.setupIntents.confirm(setup.setupIntentId, { payment_method: testCard });
  expect(confirmed.status).toBe("succeeded");
  await runUntilQuiet();
  const pm = typeof confirmed.payment_method === "string" ? confirmed.payment_method : "";
  expect((await db.prisma.savedPaymentMethod.findUnique({ where: { id: pm } }))?.personId).toBe(personId);
  return pm;
}

/** Stripe's events since the last call, oldest first. */
async function newEvents(): Promise<Stripe.Event[]> {
  const out: Stripe.Event[] = [];
  for (;;) {
    const page = await stripe.events.list({ limit: 100, ...(cursor ? { ending_before: cursor } : {}) });
    out.push(...[...page.data].reverse());
    if (page.data[0]) cursor = page.data[0].id;
    if (!page.has_more || !page.data[0]) return out;
  }
}

/** The transfers Stripe made for a marketplace charge's sellers. */
async function transfersOf(chargeId: string): Promise<Stripe.Transfer[]> {
  const all = await stripe.transfers.list({ limit: 100 });
  return all.data.filter((t) => t.metadata?.marketplace_charge_id === chargeId);
}

/** The PaymentIntent Stripe holds for a marketplace charge. */
async function paymentIntentOf(chargeId: string): Promise<Stripe.PaymentIntent> {
  const all = await stripe.paymentIntents.list({ limit: 100 });
  const found = all.data.filter((pi) => pi.metadata?.marketplace_charge_id === chargeId);
  expect(found).toHaveLength(1);
  return found[0] as Stripe.PaymentIntent;
}

let refs = 0;
beforeEach(() => {
  refs++;
});

/** Runs the outbox, due timers and Stripe's new events until nothing more happens now. */
async function runUntilQuiet(): Promise<void> {
  const ports = { gateway, notifier: new RecordingNotifier(), desk, timers, ledger };
  for (let pass = 0; pass < 100; pass++) {
    const report = (await useCases.dispatchOutbox(deps, ports, store, { workerId: "test" }))._unsafeUnwrap();
    const due = timers.takeDue(clock.now());
    for (const t of due) (await useCases.applyTimer(deps, t))._unsafeUnwrap();
    const events = await newEvents();
    for (const event of events) {
      const outcome = await processWebhookEvent(event, webhooks);
      if (outcome.isErr()) throw new Error(`${event.type} ${event.id}: ${outcome.error.message}`);
    }
    if (report.claimed === 0 && due.length === 0 && events.length === 0) return;
  }
  throw new Error("the charge did not settle");
}

async function send(
  who: string | undefined,
  method: string,
  path: string,
  body?: unknown,
  roles: Role[] = ["member"],
): Promise<{ status: number; body: Body; headers: Headers }> {
  const init =
    who === undefined
      ? {
          method,
          headers: { "content-type": "application/json" },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        }
      : authed(await tokenFor(who, roles), method, body);
  const res = await app.request(path, init);
  const text = await res.text();
  return { status: res.status, body: text === "" ? undefined : JSON.parse(text), headers: res.headers };
}
const asApp = (method: string, path: string, body?: unknown) => send(APP, method, path, body, ["service"]);
const asOperator = (method: string, path: string, body?: unknown) =>
  send(OPERATOR, method, path, body, ["admin"]);

/** A charge request: 100.00 AUD from the customer to one seller, saved card, 10 % fee. */
const chargeRequest = (overrides: Record<string, unknown> = {}) => ({
  clientReference: `rsvp_${refs}`,
  activityId: "act_pottery",
  purpose: "rsvp",
  amountMinor: 100_00,
  currency: "AUD",
  description: "Pottery class, Saturday 10:00",
  customer: { personId: CUSTOMER, email: "cy@example.com" },
  sellers: [{ personId: SELLER }],
  fee: { rateBps: 1_000 },
  paymentMethod: { type: "saved_card", paymentMethodId: VISA },
  ...overrides,
});

const splitRequest = (overrides: Record<string, unknown> = {}) =>
  chargeRequest({
    purpose: "purchase",
    amountMinor: 100_01,
    sellers: [
      { personId: "sam", weight: 2 },
      { personId: "sue", weight: 1 },
      { personId: "sol", weight: 1 },
    ],
    ...overrides,
  });

function expectProblem(res: { status: number; body: Body; headers: Headers }, status: number, code: string) {
  expect(res.status, `${code}: ${JSON.stringify(res.body)}`).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  expect(res.body.code).toBe(code);
}

/** Asks for a charge (as the app unless `as` is given), runs the outbox, and reads it back. */
async function charged(body: Record<string, unknown> = chargeRequest(), as?: string): Promise<Body> {
  const res =
    as === undefined
      ? await asApp("POST", "/v1/marketplace-charges", body)
      : await send(as, "POST", "/v1/marketplace-charges", body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  await runUntilQuiet();
  return (await asOperator("GET", `/v1/marketplace-charges/${res.body.id}`)).body;
}

async function expectLedgerBalanced(): Promise<void> {
  const report = (await ledger.checkLedger())._unsafeUnwrap();
  expect(report.unbalanced).toEqual([]);
  expect(report.mismatches).toEqual([]);
  expect(report.agrees).toBe(true);
}

describe("POST /v1/marketplace-charges", () => {
  it("charges a saved card for a destination charge (201), answers the same request again with it (200), refuses the reference with other terms (409)", async () => {
    const body = chargeRequest({ onBehalfOf: true });
    const first = await asApp("POST", "/v1/marketplace-charges", body);
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.headers.get("location")).toBe(`/v1/marketplace-charges/${first.body.id}`);
    expect(first.body).toMatchObject({
      object: "marketplace_charge",
      clientReference: body.clientReference,
      requestedBy: APP,
      activityId: "act_pottery",
      purpose: "rsvp",
      status: "awaiting_payment",
      mode: "destination",
      onBehalfOf: true,
      amount: { amountMinor: 100_00, currency: "AUD" },
      fee: {
        kind: "rate",
        rateBps: 1_000,
        fixedAmount: null,
        amount: { amountMinor: 10_00, currency: "AUD" },
      },
      refundable: { amountMinor: 0, currency: "AUD" },
      customer: { id: CUSTOMER, email: "cy@example.com" },
      sellers: [
        {
          id: SELLER,
          weight: 1,
          share: { amountMinor: 90_00, currency: "AUD" },
          fee: { amountMinor: 10_00, currency: "AUD" },
        },
      ],
      paymentMethod: { type: "saved_card", paymentMethodId: VISA },
      payment: { status: "pending", clientSecret: null, failureCode: null },
      capturedAt: null,
      endedAt: null,
      transfers: [],
      refunds: [],
      disputes: [],
    });
    // The same request again: the charge made the first time, nothing new stored.
    const before = await countDomainRows(db.prisma);
    const again = await asApp("POST", "/v1/marketplace-charges", body);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect(await countDomainRows(db.prisma)).toEqual(before);
    const reused = await asApp("POST", "/v1/marketplace-charges", { ...body, amountMinor: 200_00 });
    expectProblem(reused, 409, "client_reference_reused");
    expect(await countDomainRows(db.prisma)).toEqual(before);
    // Stripe charges the card off session: settled at once, the seller paid by the charge itself.
    await runUntilQuiet();
    const settled = (await send(CUSTOMER, "GET", `/v1/marketplace-charges/${first.body.id}`)).body;
    expect(settled).toMatchObject({
      status: "settled",
      payment: { status: "succeeded", clientSecret: null },
      refundable: { amountMinor: 100_00, currency: "AUD" },
    });
    expect(settled.capturedAt).not.toBeNull();
    // At Stripe: one destination charge of the whole amount, the fee kept by the platform.
    const payment = await paymentIntentOf(first.body.id);
    expect(payment).toMatchObject({
      status: "succeeded",
      amount: 100_00,
      currency: "aud",
      payment_method: VISA,
      transfer_data: { destination: account(SELLER) },
      application_fee_amount: 10_00,
      on_behalf_of: account(SELLER),
    });
    await expectLedgerBalanced();
  });

  it("makes one charge of two identical requests racing (one 201, one 200 with the same charge), and replays an Idempotency-Key's first answer", async () => {
    const body = chargeRequest();
    const token = await tokenFor(APP, ["service"]);
    const [a, b] = await Promise.all([
      app.request("/v1/marketplace-charges", authed(token, "POST", body)),
      app.request("/v1/marketplace-charges", authed(token, "POST", body)),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 201]);
    const [first, second] = [(await a.json()) as Body, (await b.json()) as Body];
    expect(first.id).toBe(second.id);
    expect(
      await db.prisma.marketplaceCharge.count({
        where: { requestedBy: APP, clientReference: body.clientReference },
      }),
    ).toBe(1);
    const keyed = chargeRequest({ clientReference: `keyed_${refs}` });
    const headers = { "idempotency-key": `key-${refs}` };
    const once = await app.request("/v1/marketplace-charges", authed(token, "POST", keyed, headers));
    const replay = await app.request("/v1/marketplace-charges", authed(token, "POST", keyed, headers));
    expect([once.status, replay.status]).toEqual([201, 201]);
    expect(await replay.text()).toBe(await once.text());
  });

  it("gives the client secret of a new card to the customer and the requester (never a seller) while it requires action", async () => {
    const created = await asApp(
      "POST",
      "/v1/marketplace-charges",
      chargeRequest({ paymentMethod: { type: "new_card" } }),
    );
    expect(created.status).toBe(201);
    expect(created.body.payment).toEqual({ status: "pending", clientSecret: null, failureCode: null });
    await runUntilQuiet();
    const path = `/v1/marketplace-charges/${created.body.id}`;
    const asCustomer = (await send(CUSTOMER, "GET", path)).body;
    expect(asCustomer.status).toBe("requires_action");
    expect(asCustomer.payment).toMatchObject({ status: "requires_action" });
    expect(asCustomer.payment.clientSecret).toMatch(/^pi_.+_secret_/);
    expect((await asApp("GET", path)).body.payment.clientSecret).toBe(asCustomer.payment.clientSecret);
    // The secret acts as the customer: operators see the charge but never get it.
    expect((await asOperator("GET", path)).body.payment.clientSecret).toBeNull();
    const asSeller = (await send(SELLER, "GET", path)).body;
    expect(asSeller.status).toBe("requires_action");
    expect(asSeller.payment.clientSecret).toBeNull();
    // The customer confirms with Stripe.js; the webhook says it succeeded.
    const intent = asCustomer.payment.clientSecret.split("_secret_")[0];
    expect((await stripe.paymentIntents.confirm(intent, { payment_method: "pm_card_visa" })).status).toBe(
      "succeeded",
    );
    await runUntilQuiet();
    const settled = (await send(CUSTOMER, "GET", path)).body;
    expect(settled).toMatchObject({
      status: "settled",
      payment: { status: "succeeded", clientSecret: null },
    });
    await expectLedgerBalanced();
  });

  it("records a declined saved card as a failed payment, with its code", async () => {
    const failed = await charged(
      chargeRequest({ paymentMethod: { type: "saved_card", paymentMethodId: DECLINING } }),
    );
    expect(failed).toMatchObject({
      status: "payment_failed",
      payment: { status: "failed", failureCode: "generic_decline" },
    });
    expect(failed.endedAt).not.toBeNull();
    // Stripe's word: the card was declined, nothing charged.
    const payment = await paymentIntentOf(failed.id);
    expect(payment.status).toBe("requires_payment_method");
    expect(payment.last_payment_error).toMatchObject({
      code: "card_declined",
      decline_code: "generic_decline",
    });
  });

  it("splits among co-hosts by weight without losing a minor unit, each paid by a transfer of their share", async () => {
    const split = await charged(splitRequest());
    expect(split.mode).toBe("split");
    expect(split.status).toBe("settled");
    const shares = split.sellers.map((s: Body) => s.share.amountMinor);
    const fees = split.sellers.map((s: Body) => s.fee.amountMinor);
    expect(
      shares.reduce((a: number, b: number) => a + b, 0) + fees.reduce((a: number, b: number) => a + b, 0),
    ).toBe(100_01);
    expect(fees.reduce((a: number, b: number) => a + b, 0)).toBe(split.fee.amount.amountMinor);
    expect(shares[0]).toBeGreaterThan(shares[1]);
    expect(split.transfers.map((t: Body) => [t.sellerId, t.attempt, t.status, t.amount.amountMinor])).toEqual(
      CO_HOSTS.map((id, i) => [id, 1, "created", shares[i]]),
    );
    // At Stripe: one charge of the whole amount, and a transfer of each share out of it.
    const payment = await paymentIntentOf(split.id);
    expect(payment).toMatchObject({ status: "succeeded", amount: 100_01, transfer_data: null });
    const transfers = (await transfersOf(split.id)).map((t) => [
      t.destination,
      t.amount,
      t.source_transaction,
    ]);
    expect(transfers.sort()).toEqual(
      CO_HOSTS.map((id, i) => [account(id), shares[i], payment.latest_charge]).sort(),
    );
    await expectLedgerBalanced();
  });

  it("a currency the platform does not settle in is 422 currency_not_settled for a destination charge and a split alike, and nothing is stored", async () => {
    const settled = testApp({
      useCases: {
        ...deps,
        marketplacePolicy: { ...DEFAULT_MARKETPLACE_POLICY, settlementCurrencies: ["AUD"] },
      },
      gateway,
      prisma: db.prisma,
    });
    const token = await tokenFor(APP, ["service"]);
    const before = await countDomainRows(db.prisma);
    for (const body of [
      chargeRequest({ currency: "USD", clientReference: `usd_dest_${refs}` }),
      splitRequest({ currency: "USD", clientReference: `usd_split_${refs}` }),
    ]) {
      const res = await settled.request("/v1/marketplace-charges", authed(token, "POST", body));
      expect(res.status).toBe(422);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(await res.json()).toMatchObject({ code: "currency_not_settled" });
    }
    expect(await countDomainRows(db.prisma)).toEqual(before);
  });

  it("limits payment attempts per saved card (429 payment_attempts_exceeded, nothing stored); the same request again is not counted", async () => {
    const limited = testApp({
      useCases: deps,
      gateway,
      prisma: db.prisma,
      paymentAttempts: new PaymentAttemptLimiter({
        store: new PrismaPaymentAttemptStore(db.prisma),
        limits: {
          perPerson: { max: 100, windowMs: 3_600_000 },
          perCard: { max: 2, windowMs: 3_600_000 },
          perCustomerEmail: { max: 100, windowMs: 3_600_000 },
          cardFailures: { max: 3, windowMs: 3_600_000 },
        },
        now: () => clock.now(),
      }),
    });
    const token = await tokenFor(APP, ["service"]);
    // Cards of their own numbers (a card is also counted by its fingerprint).
    const card = { type: "saved_card", paymentMethodId: await saveCard(CUSTOMER, "pm_card_mastercard") };
    const post = (reference: string) =>
      limited.request(
        "/v1/marketplace-charges",
        authed(token, "POST", chargeRequest({ clientReference: reference, paymentMethod: card })),
      );
    expect((await post(`limited_a_${refs}`)).status).toBe(201);
    expect((await post(`limited_b_${refs}`)).status).toBe(201);
    const before = await countDomainRows(db.prisma);
    const third = await post(`limited_c_${refs}`);
    expect(third.status).toBe(429);
    expect(third.headers.get("content-type")).toBe("application/problem+json");
    expect(third.headers.get("retry-after")).not.toBeNull();
    expect(await third.json()).toMatchObject({ code: "payment_attempts_exceeded", limit: "card", max: 2 });
    expect(await countDomainRows(db.prisma)).toEqual(before);
    // The same request again is the charge made the first time, not another attempt.
    const again = await post(`limited_a_${refs}`);
    expect(again.status).toBe(200);
    expect(await countDomainRows(db.prisma)).toEqual(before);

    // Requests the domain refuses for their content are answered, never counted: a fresh
    // card refused twice over (an unknown seller, a fee as large as the amount) still has
    // both its attempts.
    const fresh = { type: "saved_card", paymentMethodId: await saveCard(CUSTOMER, "pm_card_amex") };
    const postWith = (reference: string, over: Record<string, unknown>) =>
      limited.request(
        "/v1/marketplace-charges",
        authed(token, "POST", {
          ...chargeRequest({ clientReference: reference, paymentMethod: fresh }),
          ...over,
        }),
      );
    for (let i = 0; i < 3; i++) {
      const unknownSeller = await postWith(`fresh_s${i}_${refs}`, { sellers: [{ personId: "nobody" }] });
      expect(unknownSeller.status).toBe(422);
      expect(await unknownSeller.json()).toMatchObject({ code: "seller_not_found" });
      const wholeFee = await postWith(`fresh_f${i}_${refs}`, { fee: { amountMinor: 100_00 } });
      expect(wholeFee.status).toBe(422);
    }
    expect((await postWith(`fresh_a_${refs}`, {})).status).toBe(201);
    expect((await postWith(`fresh_b_${refs}`, {})).status).toBe(201);
    expect((await postWith(`fresh_c_${refs}`, {})).status).toBe(429);
  });

  it("refuses what the schema does not allow with 400 invalid_request, storing nothing", async () => {
    const bad: Record<string, unknown>[] = [
      {},
      chargeRequest({ amountMinor: 0 }),
      chargeRequest({ amountMinor: 10.5 }),
      chargeRequest({ amountMinor: "100" }),
      chargeRequest({ amountMinor: Number.MAX_SAFE_INTEGER + 2 }),
      chargeRequest({ currency: "XXX" }),
      chargeRequest({ purpose: "gift" }),
      chargeRequest({ clientReference: "" }),
      chargeRequest({ clientReference: "a\u0000b" }),
      chargeRequest({ description: " " }),
      chargeRequest({ description: "x".repeat(501) }),
      chargeRequest({ activityId: "act pottery" }),
      chargeRequest({ customer: { personId: CUSTOMER } }),
      chargeRequest({ customer: { personId: CUSTOMER, email: "not-an-email" } }),
      chargeRequest({ sellers: [] }),
      chargeRequest({ sellers: [{ personId: SELLER, weight: 0 }] }),
      chargeRequest({ sellers: [{ personId: SELLER, weight: 1.5 }] }),
      chargeRequest({ sellers: [{ personId: SELLER, share: 5 }] }),
      chargeRequest({ sellers: Array.from({ length: 101 }, (_, i) => ({ personId: `s${i}` })) }),
      chargeRequest({ fee: { rateBps: 10_000 } }),
      chargeRequest({ fee: { rateBps: 100, amountMinor: 5 } }),
      chargeRequest({ fee: { amountMinor: -1 } }),
      chargeRequest({ paymentMethod: { type: "saved_card" } }),
      chargeRequest({ paymentMethod: { type: "bank" } }),
      chargeRequest({ paymentMethod: { type: "new_card", paymentMethodId: "pm_x" } }),
      chargeRequest({ onBehalfOf: "yes" }),
    ];
    const before = await countDomainRows(db.prisma);
    for (const body of bad) {
      const res = await asApp("POST", "/v1/marketplace-charges", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe("invalid_request");
    }
    expect(await countDomainRows(db.prisma)).toEqual(before);
  });

  it("refuses what the rules refuse with a stable code (403, 404, 409, 422), storing nothing", async () => {
    const cases: [string, string, Record<string, unknown>, number, string][] = [
      // Only the customer themselves or a platform service may charge a customer.
      [STRANGER, "member", chargeRequest(), 403, "not_customer"],
      [SELLER, "member", chargeRequest(), 403, "not_customer"],
      [
        APP,
        "service",
        chargeRequest({ customer: { personId: "nobody", email: "n@example.com" } }),
        422,
        "customer_not_found",
      ],
      [
        APP,
        "service",
        chargeRequest({
          customer: { personId: "newbie", email: "n@example.com" },
          paymentMethod: { type: "new_card" },
        }),
        409,
        "customer_not_onboarded",
      ],
      // A customer with no Stripe customer has no saved card: the same answer as for one
      // who has cards but not this one (never saved, or somebody else's).
      [
        APP,
        "service",
        chargeRequest({
          customer: { personId: "newbie", email: "n@example.com" },
          paymentMethod: { type: "saved_card", paymentMethodId: "pm_doesnotexist" },
        }),
        404,
        "payment_method_not_found",
      ],
      [
        APP,
        "service",
        chargeRequest({ customer: { personId: "newbie", email: "n@example.com" } }),
        404,
        "payment_method_not_found",
      ],
      [APP, "service", chargeRequest({ sellers: [{ personId: "nobody" }] }), 422, "seller_not_found"],
      [APP, "service", chargeRequest({ sellers: [{ personId: "unpaid" }] }), 409, "seller_not_onboarded"],
      // A card the customer did not save: never saved, or the other customer's.
      [
        APP,
        "service",
        chargeRequest({ paymentMethod: { type: "saved_card", paymentMethodId: "pm_doesnotexist" } }),
        404,
        "payment_method_not_found",
      ],
      [
        APP,
        "service",
        chargeRequest({ paymentMethod: { type: "saved_card", paymentMethodId: DEE_CARD } }),
        404,
        "payment_method_not_found",
      ],
      [
        APP,
        "service",
        chargeRequest({ sellers: [{ personId: SELLER }, { personId: SELLER }] }),
        422,
        "invalid_split",
      ],
      [
        APP,
        "service",
        chargeRequest({
          sellers: CO_HOSTS.map((personId) => ({ personId })).concat(
            Array.from({ length: 8 }, () => ({ personId: SELLER })),
          ),
        }),
        422,
        "invalid_split",
      ],
      [APP, "service", splitRequest({ onBehalfOf: true }), 422, "invalid_marketplace_charge"],
      [APP, "service", chargeRequest({ fee: { amountMinor: 100_00 } }), 422, "invalid_fee"],
      [APP, "service", chargeRequest({ amountMinor: 10 }), 422, "invalid_amount"],
      [APP, "service", chargeRequest({ currency: "JPY", amountMinor: 1 }), 422, "invalid_amount"],
    ];
    const before = await countDomainRows(db.prisma);
    for (const [who, role, body, status, code] of cases) {
      const res = await send(who, "POST", "/v1/marketplace-charges", body, [role as Role]);
      expect(res.status, `${code}: ${JSON.stringify(res.body)}`).toBe(status);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(res.body.code, JSON.stringify(res.body)).toBe(code);
    }
    expect(await countDomainRows(db.prisma)).toEqual(before);
    // The customer may charge themselves.
    const own = await send(CUSTOMER, "POST", "/v1/marketplace-charges", chargeRequest());
    expect(own.status).toBe(201);
    expect(own.body.requestedBy).toBe(CUSTOMER);
  });
});

describe("GET /v1/marketplace-charges", () => {
  it("shows a charge to its requester, customer, sellers and operators; 404 to anyone else and for an unknown id", async () => {
    const split = await charged(splitRequest());
    const path = `/v1/marketplace-charges/${split.id}`;
    for (const [who, roles] of [
      [APP, ["service"]],
      [CUSTOMER, ["member"]],
      ["sue", ["member"]],
      [OPERATOR, ["admin"]],
    ] as const) {
      const res = await send(who, "GET", path, undefined, [...roles]);
      expect(res.status, who).toBe(200);
      expect(res.body.id).toBe(split.id);
    }
    expectProblem(await send(STRANGER, "GET", path), 404, "marketplace_charge_not_found");
    expectProblem(await send(OTHER_CUSTOMER, "GET", path), 404, "marketplace_charge_not_found");
    expectProblem(
      await send(CUSTOMER, "GET", "/v1/marketplace-charges/mc_missing"),
      404,
      "marketplace_charge_not_found",
    );
    expectProblem(
      await send(CUSTOMER, "GET", "/v1/marketplace-charges/not%20an%20id"),
      400,
      "invalid_request",
    );
    expectProblem(await send(undefined, "GET", path), 401, "unauthenticated");
  });

  it("lists what each caller may see, newest first, filtered and paged after a cursor", async () => {
    const mine = await charged(
      chargeRequest({
        customer: { personId: OTHER_CUSTOMER, email: "dee@example.com" },
        paymentMethod: { type: "saved_card", paymentMethodId: DEE_CARD },
      }),
      OTHER_CUSTOMER,
    );
    clock.advance(1_000);
    refs++;
    const split = await charged(
      splitRequest({
        customer: { personId: OTHER_CUSTOMER, email: "dee@example.com" },
        paymentMethod: { type: "saved_card", paymentMethodId: DEE_CARD },
      }),
    );
    clock.advance(1_000);
    refs++;
    const declined = await charged(
      chargeRequest({
        customer: { personId: OTHER_CUSTOMER, email: "dee@example.com" },
        sellers: [{ personId: "sol" }],
        paymentMethod: { type: "saved_card", paymentMethodId: DEE_DECLINING },
      }),
    );
    const ids = async (who: string, query = "", roles: Role[] = ["member"]) => {
      const res = await send(who, "GET", `/v1/marketplace-charges${query}`, undefined, roles);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toMatchObject({ object: "list", url: "/v1/marketplace-charges" });
      return { ids: res.body.data.map((c: Body) => c.id), hasMore: res.body.has_more };
    };
    // The customer: every charge they paid, whoever asked for it.
    expect(await ids(OTHER_CUSTOMER, "?limit=100")).toEqual({
      ids: [declined.id, split.id, mine.id],
      hasMore: false,
    });
    expect(await ids(OTHER_CUSTOMER, "?limit=2")).toEqual({ ids: [declined.id, split.id], hasMore: true });
    expect(await ids(OTHER_CUSTOMER, `?limit=2&starting_after=${split.id}`)).toEqual({
      ids: [mine.id],
      hasMore: false,
    });
    expect(await ids(OTHER_CUSTOMER, "?status=payment_failed&limit=100")).toEqual({
      ids: [declined.id],
      hasMore: false,
    });
    expect(await ids(OTHER_CUSTOMER, "?seller=sue&limit=100")).toEqual({ ids: [split.id], hasMore: false });
    // A co-host sees the split and the customer's email, not the customer's other charges.
    const sue = await ids("sue", `?customer=${OTHER_CUSTOMER}&limit=100`);
    expect(sue).toEqual({ ids: [split.id], hasMore: false });
    const sol = await ids("sol", `?customer=${OTHER_CUSTOMER}&limit=100`);
    expect(sol).toEqual({ ids: [declined.id, split.id], hasMore: false });
    // A stranger sees nothing, and a cursor they may not see reads nothing.
    expect(await ids(STRANGER, "?limit=100")).toEqual({ ids: [], hasMore: false });
    expect(await ids(OTHER_CUSTOMER, "?starting_after=mc_missing")).toEqual({ ids: [], hasMore: false });
    expect(await ids(STRANGER, `?starting_after=${split.id}&customer=${OTHER_CUSTOMER}`)).toEqual({
      ids: [],
      hasMore: false,
    });
    // Operators see everything, filtered as asked.
    expect((await ids(OPERATOR, `?customer=${OTHER_CUSTOMER}&limit=100`, ["admin"])).ids).toEqual([
      declined.id,
      split.id,
      mine.id,
    ]);
    expect(await ids(OPERATOR, `?customer=${OTHER_CUSTOMER}&seller=sol&limit=1`, ["admin"])).toEqual({
      ids: [declined.id],
      hasMore: true,
    });
    for (const query of ["?limit=0", "?limit=101", "?status=lost", "?seller=a%20b", "?starting_after="])
      expectProblem(
        await send(OTHER_CUSTOMER, "GET", `/v1/marketplace-charges${query}`),
        400,
        "invalid_request",
      );
  });
});

describe("POST /v1/marketplace-charges/{id}/refunds", () => {
  it("refunds for the customer by the policy (transfer reversed, the platform keeps its fee), then the rest for the platform (fee given back)", async () => {
    // The customer charged themselves: they are its requester, and may refund it.
    const charge = await charged(chargeRequest(), CUSTOMER);
    const path = `/v1/marketplace-charges/${charge.id}/refunds`;
    const partial = await send(CUSTOMER, "POST", path, {
      amountMinor: 30_00,
      reason: "one of us cannot come",
    });
    expect(partial.status, JSON.stringify(partial.body)).toBe(200);
    expect(partial.body.refunds).toMatchObject([
      {
        number: 1,
        amount: { amountMinor: 30_00, currency: "AUD" },
        initiatedBy: "customer",
        reason: "one of us cannot come",
        reverseTransfer: true,
        refundApplicationFee: false,
        full: false,
      },
    ]);
    await runUntilQuiet();
    expect((await send(CUSTOMER, "GET", `/v1/marketplace-charges/${charge.id}`)).body).toMatchObject({
      status: "settled",
      refundable: { amountMinor: 70_00 },
      refunds: [{ number: 1, status: "succeeded" }],
    });
    // The requester (not an operator) may not speak for the platform.
    expectProblem(await send(CUSTOMER, "POST", path, { initiatedBy: "platform" }), 403, "operator_only");
    const rest = await asOperator("POST", path, {});
    expect(rest.status, JSON.stringify(rest.body)).toBe(200);
    expect(rest.body.refunds[1]).toMatchObject({
      number: 2,
      amount: { amountMinor: 70_00 },
      initiatedBy: "platform",
      reverseTransfer: true,
      refundApplicationFee: true,
      full: true,
    });
    await runUntilQuiet();
    const ended = (await asOperator("GET", `/v1/marketplace-charges/${charge.id}`)).body;
    expect(ended).toMatchObject({ status: "refunded", refundable: { amountMinor: 0 } });
    expect(ended.endedAt).not.toBeNull();
    // At Stripe: both refunds, the seller's part reversed each time, the fee given back only by the platform's.
    const payment = await paymentIntentOf(charge.id);
    const refunds = await stripe.refunds.list({ payment_intent: payment.id, limit: 10 });
    expect(refunds.data.map((r) => [r.amount, r.status]).sort()).toEqual([
      [30_00, "succeeded"],
      [70_00, "succeeded"],
    ]);
    const transfer = await stripe.transfers.retrieve(
      (await stripe.charges.retrieve(payment.latest_charge as string)).transfer as string,
    );
    // (A destination charge's transfer is the whole amount; the fee is taken back from the seller.)
    expect([transfer.amount, transfer.amount_reversed]).toEqual([100_00, 100_00]);
    // The fee given back once, with the platform's refund: all of it, as that refund ends the
    // charge; none with the customer's.
    const [fee] = (await stripe.applicationFees.list({ charge: payment.latest_charge as string })).data;
    expect([fee?.amount, fee?.amount_refunded]).toEqual([10_00, 10_00]);
    const feeRefunds = await stripe.applicationFees.listRefunds(fee?.id ?? "", { limit: 10 });
    expect(feeRefunds.data.map((r) => r.amount)).toEqual([10_00]);
    const before = await countDomainRows(db.prisma);
    expectProblem(await asOperator("POST", path, {}), 409, "charge_ended");
    expect(await countDomainRows(db.prisma)).toEqual(before);
    await expectLedgerBalanced();
  });

  it("refuses who may not refund, what cannot be refunded and amounts out of range, changing nothing", async () => {
    const pending = (
      await send(
        CUSTOMER,
        "POST",
        "/v1/marketplace-charges",
        chargeRequest({ paymentMethod: { type: "new_card" } }),
      )
    ).body;
    const charge = await charged(splitRequest({ clientReference: `split_${refs}` }), CUSTOMER);
    const byApp = await charged(chargeRequest({ clientReference: `app_${refs}` }));
    const path = `/v1/marketplace-charges/${charge.id}/refunds`;
    const before = await countDomainRows(db.prisma);
    expectProblem(await send("sue", "POST", path, {}), 403, "not_requester");
    // A charge a client app asked for is refunded through that app (its refund rules), not by the customer.
    expectProblem(
      await send(CUSTOMER, "POST", `/v1/marketplace-charges/${byApp.id}/refunds`, {}),
      403,
      "not_requester",
    );
    expectProblem(await send(STRANGER, "POST", path, {}), 404, "marketplace_charge_not_found");
    expectProblem(
      await send(CUSTOMER, "POST", "/v1/marketplace-charges/mc_missing/refunds", {}),
      404,
      "marketplace_charge_not_found",
    );
    expectProblem(await send(CUSTOMER, "POST", path, { amountMinor: 100_02 }), 422, "invalid_refund_amount");
    expectProblem(
      await send(CUSTOMER, "POST", `/v1/marketplace-charges/${pending.id}/refunds`, {}),
      409,
      "payment_not_captured",
    );
    for (const body of [
      { amountMinor: 0 },
      { amountMinor: -5 },
      { amountMinor: 1.5 },
      { initiatedBy: "seller" },
      { reason: "" },
      { extra: true, amountMinor: "5" },
    ])
      expectProblem(await send(CUSTOMER, "POST", path, body), 400, "invalid_request");
    expect(await countDomainRows(db.prisma)).toEqual(before);
    // A refund without a body gives back everything left, for the customer.
    const all = await send(CUSTOMER, "POST", path);
    expect(all.status, JSON.stringify(all.body)).toBe(200);
    expect(all.body.refunds).toMatchObject([
      { number: 1, amount: { amountMinor: 100_01 }, initiatedBy: "customer", full: true },
    ]);
    // While its sellers' parts are reversed, another refund waits.
    expectProblem(await asOperator("POST", path, {}), 409, "refund_in_flight");
    await runUntilQuiet();
    const ended = (await send(CUSTOMER, "GET", `/v1/marketplace-charges/${charge.id}`)).body;
    expect(ended.status).toBe("refunded");
    expect(ended.reversals.length).toBe(3);
    expect(ended.reversals.every((r: Body) => r.status === "reversed")).toBe(true);
    // At Stripe: the whole charge refunded, each seller's transfer reversed in full.
    expect(
      (await stripe.charges.retrieve((await paymentIntentOf(charge.id)).latest_charge as string)).refunded,
    ).toBe(true);
    for (const t of await transfersOf(charge.id)) expect(t.amount_reversed).toBe(t.amount);
    await expectLedgerBalanced();
  });
});

describe("refunds after a dispute lost for part of the charge", () => {
  it("are refused: Stripe refuses every refund of a charge charged back (charge_disputed)", async () => {
    const charge = await charged(chargeRequest(), CUSTOMER);
    const refs = marketplaceChargeRefs(charge.id);
    // The emulator disputes only a whole charge: Stripe's word on a dispute of part of it is
    // given as the facts its webhooks carry (the next test has a whole dispute at the emulator).
    for (const fact of [
      { kind: "dispute_opened", refs, disputeId: "dp_1", amountMinor: 40_00 } as const,
      { kind: "dispute_closed", refs, disputeId: "dp_1", outcome: "lost", amountMinor: 40_00 } as const,
    ])
      (await useCases.applyPaymentFact(deps, { reader: gateway }, fact, "stripe"))._unsafeUnwrap();
    await runUntilQuiet();
    const path = `/v1/marketplace-charges/${charge.id}`;
    expect((await asOperator("GET", path)).body).toMatchObject({
      status: "settled",
      refundable: { amountMinor: 60_00 },
      disputes: [{ id: "dp_1", status: "lost" }],
    });
    const before = await countDomainRows(db.prisma);
    expectProblem(
      await send(CUSTOMER, "POST", `${path}/refunds`, { amountMinor: 10_00 }),
      409,
      "charge_disputed",
    );
    expectProblem(await asOperator("POST", `${path}/refunds`, {}), 409, "charge_disputed");
    expect(await countDomainRows(db.prisma)).toEqual(before);
    await expectLedgerBalanced();
  });
});

describe("refunds after a dispute of the whole charge lost at Stripe", () => {
  it("are refused: the charge ended with the dispute (charge_ended), changing nothing", async () => {
    const charge = await charged(chargeRequest(), CUSTOMER);
    const payment = await paymentIntentOf(charge.id);
    const dispute = await emulator.control.forceDispute(payment.latest_charge as string);
    await emulator.control.resolveDispute(dispute.id, "lost");
    await runUntilQuiet();
    const path = `/v1/marketplace-charges/${charge.id}`;
    const read = (await asOperator("GET", path)).body;
    expect(read).toMatchObject({
      status: "charged_back",
      refundable: { amountMinor: 0 },
      disputes: [{ id: dispute.id, status: "lost", reason: "fraudulent", lost: { amountMinor: 100_00 } }],
    });
    expect(read.endedAt).not.toBeNull();
    const before = await countDomainRows(db.prisma);
    expectProblem(await send(CUSTOMER, "POST", `${path}/refunds`, {}), 409, "charge_ended");
    expectProblem(await asOperator("POST", `${path}/refunds`, {}), 409, "charge_ended");
    expect(await countDomainRows(db.prisma)).toEqual(before);
    await expectLedgerBalanced();
  });
});

describe("operators' retries", () => {
  it("parks a co-host's transfer their account cannot receive, and retries it once fixed (operators only)", async () => {
    // Stripe turns off sol's transfers capability (susu has not heard yet).
    await emulator.control.disableTransfers(account("sol"));
    const charge = await charged(splitRequest());
    expect(charge.status).toBe("transfer_blocked");
    expect(charge.payouts.find((p: Body) => p.sellerId === "sol")).toMatchObject({ parked: true });
    expect(charge.transfers.find((t: Body) => t.sellerId === "sol")).toMatchObject({
      status: "failed",
      failureCode: "insufficient_capabilities_for_transfer",
    });
    const base = `/v1/marketplace-charges/${charge.id}`;
    const before = await countDomainRows(db.prisma);
    // Only operators retry; the customer sees the charge (403), a stranger does not (404).
    for (const action of ["transfers/retry", "refunds/retry", "reversals/retry"]) {
      expectProblem(await send(CUSTOMER, "POST", `${base}/${action}`), 403, "operator_only");
      expectProblem(await send("sue", "POST", `${base}/${action}`), 403, "operator_only");
      expectProblem(await send(STRANGER, "POST", `${base}/${action}`), 404, "marketplace_charge_not_found");
      expectProblem(
        await asOperator("POST", `/v1/marketplace-charges/mc_missing/${action}`),
        404,
        "marketplace_charge_not_found",
      );
    }
    // Nothing failed to retry but the transfer; a refund waits for every seller to be paid.
    expectProblem(await asOperator("POST", `${base}/refunds/retry`), 409, "no_failed_refund");
    expectProblem(await asOperator("POST", `${base}/reversals/retry`), 409, "no_failed_reversal");
    expectProblem(await asApp("POST", `${base}/refunds`, {}), 409, "transfers_pending");
    expect(await countDomainRows(db.prisma)).toEqual(before);
    // The account is fixed: the operator retries, the transfer lands, the charge settles.
    await emulator.control.completeAccountOnboarding(account("sol"));
    const retried = await asOperator("POST", `${base}/transfers/retry`);
    expect(retried.status, JSON.stringify(retried.body)).toBe(200);
    expect(retried.body.payouts.find((p: Body) => p.sellerId === "sol")).toMatchObject({ parked: false });
    await runUntilQuiet();
    const settled = (await send(CUSTOMER, "GET", base)).body;
    expect(settled.status).toBe("settled");
    expect(
      settled.transfers.filter((t: Body) => t.sellerId === "sol").map((t: Body) => [t.attempt, t.status]),
    ).toEqual([
      [1, "failed"],
      [2, "created"],
    ]);
    expectProblem(await asOperator("POST", `${base}/transfers/retry`), 409, "no_blocked_transfer");
    // At Stripe: Stripe refused the first transfer to sol (nothing made); the retry made one.
    const toSol = (await transfersOf(charge.id)).filter((t) => t.destination === account("sol"));
    expect(toSol.map((t) => t.amount)).toEqual([
      settled.transfers.find((t: Body) => t.sellerId === "sol" && t.attempt === 2).amount.amountMinor,
    ]);
    await expectLedgerBalanced();
  });
});
