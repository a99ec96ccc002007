// A request naming a saved payment method (POST /v1/subscriptions `paymentMethodId`, POST
// /v1/marketplace-charges `paymentMethod: {type: "saved_card", paymentMethodId}`) on
// PostgreSQL and the Stripe emulator, nothing faked: the card must be one the person saved
// through susu (the set-up route, their app confirming the SetupIntent, Stripe's webhook) and
// not removed. A made-up id, Stripe's test token `pm_card_visa` nobody saved, somebody else's
// card, a removed card or a BECS account is refused 404 `payment_method_not_found` before
// anything is stored or asked of Stripe: no subscription or charge, no outbox effect, no
// Stripe subscription, PaymentIntent or customer — however often it is retried.
import {
  PrismaLedgerStore,
  PrismaStore,
  PrismaSupportDesk,
  processWebhookEvent,
  RandomIds,
  StripeBillingGateway,
  StripePaymentGateway,
  SystemClock,
  type WebhookContext,
} from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { type EffectPorts, type Person, type UseCaseDeps, useCaseDepsOn, useCases } from "@susu/domain";
import { InMemoryTimerScheduler, RecordingNotifier } from "@susu/domain/testing";
import { type RunningEmulator, startEmulator } from "@susu/stripe-emulator";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authed, testApp, tokenFor } from "../support/app.js";

const db = useTestDatabase();
const SAM = "sam";
const SUE = "sue";
const NEW = "nia";
const EVE = "eve";
const SELLER = "sel";
const APP = "app_events";

let emulator: RunningEmulator;
let stripe: Stripe;
let deps: UseCaseDeps;
let ports: EffectPorts;
let ctx: WebhookContext;
let app: ReturnType<typeof testApp>;
let cursor: string | undefined;
let planId: string;
/** Sam's saved card, and the methods sam may not name. */
let card: string;
let bad: Record<string, string>;

async function call(who: string, method: string, path: string, body?: unknown) {
  const roles = who === APP ? (["service"] as const) : (["member"] as const);
  const res = await app.request(path, authed(await tokenFor(who, roles), method, body));
  return {
    status: res.status,
    type: res.headers.get("content-type"),
    body: (await res.json()) as Record<string, unknown>,
  };
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

/** The outbox dispatched and Stripe's webhooks processed until nothing is left to do. */
async function settle(): Promise<void> {
  const store = new PrismaStore(db.prisma, { clock: deps.clock });
  for (let pass = 0; pass < 30; pass++) {
    const report = (await useCases.dispatchOutbox(deps, ports, store, { workerId: "test" }))._unsafeUnwrap();
    expect(report.parked).toBe(0);
    const events = await newEvents();
    for (const event of events) {
      const outcome = await processWebhookEvent(event, ctx);
      if (outcome.isErr()) throw new Error(`${event.type} ${event.id}: ${outcome.error.message}`);
    }
    if (report.claimed === 0 && events.length === 0) return;
  }
  throw new Error("did not settle");
}

/** `who` saves a method as their app does: the set-up route, the SetupIntent confirmed, the webhooks. */
async function save(who: string, type: "card" | "au_becs_debit", attempt: string): Promise<string> {
  const setup = await call(who, "POST", "/v1/people/me/payment-methods/setup", { type, attempt });
  expect(setup.status, JSON.stringify(setup.body)).toBe(201);
  const id = setup.body.setupIntentId as string;
  const confirmed =
    type === "card"
      ? await stripe.setupIntents.confirm(id, { payment_method: "pm_card_visa" })
      : await stripe.setupIntents.confirm(id, {
          payment_method_data: {
            type: "au_becs_debit",
            au_becs_debit: { bsb_number: "000000", account_number: "000123456" },
            billing_details: { name: who, email: `${who}@example.com` },
          },
          mandate_data: {
            customer_acceptance: { type: "online", online: { ip_address: "203.0.113.7", user_agent: "t" } },
          },
        });
  expect(confirmed.status).toBe("succeeded");
  await settle();
  const pm = typeof confirmed.payment_method === "string" ? confirmed.payment_method : "";
  const saved = await db.prisma.savedPaymentMethod.findUnique({ where: { id: pm } });
  expect(saved?.personId).toBe(who);
  return pm;
}

async function addPerson(person: Person): Promise<void> {
  const changes = { people: [{ state: person, expectedVersion: undefined }], groups: [], rounds: [] };
  (await deps.uow.commit({ ...changes, outbox: [], audit: [] }))._unsafeUnwrap();
}

/** What a refused request must leave as it was, here and at Stripe. */
async function everything() {
  const [subscriptions, charges, outbox, people] = await Promise.all([
    db.prisma.subscription.count(),
    db.prisma.marketplaceCharge.count(),
    db.prisma.outboxEffect.count(),
    db.prisma.person.findMany({ orderBy: { id: "asc" }, select: { id: true, stripeCustomerId: true } }),
  ]);
  const [stripeSubscriptions, paymentIntents, customers] = await Promise.all([
    stripe.subscriptions.list({ limit: 100, status: "all" }),
    stripe.paymentIntents.list({ limit: 100 }),
    stripe.customers.list({ limit: 100 }),
  ]);
  return {
    subscriptions,
    charges,
    outbox,
    people,
    stripeSubscriptions: stripeSubscriptions.data.length,
    paymentIntents: paymentIntents.data.length,
    customers: customers.data.length,
  };
}

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, fees: false });
  const url = new URL(emulator.url);
  const gateway = new StripePaymentGateway({
    secretKey: emulator.secretKey,
    host: url.hostname,
    port: Number(url.port),
    protocol: "http",
    timeoutMs: 5_000,
    maxNetworkRetries: 2,
  });
  stripe = gateway.stripe;
  const clock = new SystemClock();
  deps = useCaseDepsOn(new PrismaStore(db.prisma, { clock }), { clock, ids: new RandomIds() });
  ports = {
    gateway,
    notifier: new RecordingNotifier(),
    desk: new PrismaSupportDesk(db.prisma, clock),
    timers: new InMemoryTimerScheduler(),
    ledger: new PrismaLedgerStore(db.prisma, { clock }),
    billing: new StripeBillingGateway(stripe),
  };
  ctx = { deps, gateway };
  app = testApp({ useCases: deps, gateway, prisma: db.prisma });
  cursor = (await stripe.events.list({ limit: 1 })).data[0]?.id;

  const now = clock.now();
  for (const id of [SAM, SUE, NEW, EVE]) await addPerson({ id, displayName: id, createdAt: now, version: 0 });
  const account = await stripe.accounts.create({
    type: "express",
    country: "AU",
    capabilities: { transfers: { requested: true } },
  });
  await emulator.control.completeAccountOnboarding(account.id);
  await addPerson({
    id: SELLER,
    displayName: SELLER,
    payout: { connectedAccountId: account.id, payoutsEnabled: true },
    createdAt: now,
    version: 0,
  });
  planId = (
    await useCases.createPlan(
      deps,
      {
        name: "Organiser",
        entitlements: { createGroups: true, maxOpenGroups: 5, sellBookings: true },
        prices: [{ currency: "AUD", interval: "month", amountMinor: 15_00 }],
      },
      { operator: "olga" },
    )
  )._unsafeUnwrap().id;
  await settle();

  card = await save(SAM, "card", "1");
  const removed = await save(SAM, "card", "2");
  expect((await call(SAM, "DELETE", `/v1/people/me/payment-methods/${removed}`)).status).toBe(200);
  const becs = await save(SAM, "au_becs_debit", "1");
  const suesCard = await save(SUE, "card", "1");
  await settle();
  bad = {
    "a made-up id": "pm_doesnotexist",
    "Stripe's test token, never saved by sam": "pm_card_visa",
    "sue's saved card": suesCard,
    "sam's removed card": removed,
    "sam's BECS account": becs,
  };
});

afterAll(async () => {
  await emulator?.stop();
});

describe("POST /v1/subscriptions with a paymentMethodId", () => {
  it("refuses a method that is not a card the caller saved, 404 payment_method_not_found, storing and asking nothing", async () => {
    const before = await everything();
    for (const [what, paymentMethodId] of Object.entries(bad)) {
      // Retried: every attempt is refused the same, none leaves a record.
      for (let attempt = 0; attempt < 2; attempt++) {
        const refused = await call(SAM, "POST", "/v1/subscriptions", {
          planId,
          currency: "AUD",
          interval: "month",
          paymentMethodId,
        });
        expect([refused.status, refused.body.code], what).toEqual([404, "payment_method_not_found"]);
        expect(refused.type).toMatch(/^application\/problem\+json/);
      }
    }
    // A person with no Stripe customer has saved nothing: refused before a customer is made.
    const nobody = await call(NEW, "POST", "/v1/subscriptions", {
      planId,
      currency: "AUD",
      interval: "month",
      paymentMethodId: "pm_card_visa",
    });
    expect([nobody.status, nobody.body.code]).toEqual([404, "payment_method_not_found"]);
    await settle();
    expect(await everything()).toEqual(before);
  });

  it("subscribes on the card the caller saved", async () => {
    const made = await call(SAM, "POST", "/v1/subscriptions", {
      planId,
      currency: "AUD",
      interval: "month",
      paymentMethodId: card,
    });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    await settle();
    const shown = await call(SAM, "GET", `/v1/subscriptions/${made.body.id as string}`);
    expect(shown.body.status).toBe("active");
  });

  it("documents the refusal", async () => {
    const res = await app.request("/v1/openapi.json");
    const doc = (await res.json()) as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    expect(JSON.stringify(doc.paths["/v1/subscriptions"]?.post?.responses["404"])).toContain(
      "payment_method_not_found",
    );
    expect(JSON.stringify(doc.paths["/v1/marketplace-charges"]?.post?.responses["404"])).toContain(
      "payment_method_not_found",
    );
  });
});

describe("a saved card past its expiry (POST /v1/subscriptions, POST …/payment-methods/{pm}/default, POST /v1/marketplace-charges)", () => {
  it("is refused 409 payment_method_expired, storing and asking nothing; documented in each route's 409", async () => {
    const expiring = await save(EVE, "card", "1");
    // The card network's word: the card ran out at the end of last year.
    await emulator.control.updateCardFromNetwork(expiring, {
      exp_month: 12,
      exp_year: new Date().getUTCFullYear() - 1,
    });
    await settle();
    const saved = await db.prisma.savedPaymentMethod.findUniqueOrThrow({ where: { id: expiring } });
    const before = { ...(await everything()), method: saved };

    const subscribed = await call(EVE, "POST", "/v1/subscriptions", {
      planId,
      currency: "AUD",
      interval: "month",
      paymentMethodId: expiring,
    });
    const defaulted = await call(EVE, "POST", `/v1/people/me/payment-methods/${expiring}/default`);
    const charged = await call(APP, "POST", "/v1/marketplace-charges", {
      clientReference: "rsvp_expired",
      activityId: "act_1",
      purpose: "rsvp",
      amountMinor: 50_00,
      currency: "AUD",
      description: "Pottery class",
      customer: { personId: EVE, email: "eve@example.com" },
      sellers: [{ personId: SELLER }],
      fee: { rateBps: 1_000 },
      paymentMethod: { type: "saved_card", paymentMethodId: expiring },
    });
    await settle();

    expect({
      subscribe: [subscribed.status, subscribed.body.code, subscribed.type],
      default: [defaulted.status, defaulted.body.code, defaulted.type],
      charge: [charged.status, charged.body.code, charged.type],
    }).toEqual({
      subscribe: [409, "payment_method_expired", "application/problem+json"],
      default: [409, "payment_method_expired", "application/problem+json"],
      charge: [409, "payment_method_expired", "application/problem+json"],
    });
    expect({
      ...(await everything()),
      method: await db.prisma.savedPaymentMethod.findUniqueOrThrow({ where: { id: expiring } }),
    }).toEqual(before);

    const doc = (await (await app.request("/v1/openapi.json")).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, Record<string, unknown>> }>>;
    };
    const codes = (path: string) =>
      doc.paths[path]?.post?.responses["409"]?.["x-problem-codes"] as readonly string[] | undefined;
    expect(codes("/v1/subscriptions")).toContain("payment_method_expired");
    expect(codes("/v1/people/{personId}/payment-methods/{paymentMethodId}/default")).toContain(
      "payment_method_expired",
    );
    expect(codes("/v1/marketplace-charges")).toContain("payment_method_expired");
  });
});

describe("POST /v1/marketplace-charges with a saved card", () => {
  const charge = (clientReference: string, paymentMethodId: string) => ({
    clientReference,
    activityId: "act_1",
    purpose: "rsvp",
    amountMinor: 50_00,
    currency: "AUD",
    description: "Pottery class",
    customer: { personId: SAM, email: "sam@example.com" },
    sellers: [{ personId: SELLER }],
    fee: { rateBps: 1_000 },
    paymentMethod: { type: "saved_card", paymentMethodId },
  });

  it("refuses a card the customer did not save, 404 payment_method_not_found, storing and asking nothing", async () => {
    const before = await everything();
    for (const [what, paymentMethodId] of Object.entries(bad)) {
      for (let attempt = 0; attempt < 2; attempt++) {
        const refused = await call(
          APP,
          "POST",
          "/v1/marketplace-charges",
          charge(`rsvp_${what}`, paymentMethodId),
        );
        expect([refused.status, refused.body.code], what).toEqual([404, "payment_method_not_found"]);
        expect(refused.type).toMatch(/^application\/problem\+json/);
      }
    }
    await settle();
    expect(await everything()).toEqual(before);
  });

  it("charges the card the customer saved", async () => {
    const made = await call(APP, "POST", "/v1/marketplace-charges", charge("rsvp_ok", card));
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    await settle();
    const shown = await call(APP, "GET", `/v1/marketplace-charges/${made.body.id as string}`);
    expect((shown.body.payment as { status: string }).status).toBe("succeeded");
  });
});
