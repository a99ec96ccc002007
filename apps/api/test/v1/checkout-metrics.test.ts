// `susu_checkout_sessions_total{outcome}` on GET /metrics, read from PostgreSQL: a held
// payment asked for through the API gets its session from the outbox (created, at the Stripe
// emulator through the real gateway), and the Stripe events the webhook inbox stores say how
// sessions ended (completed; expired untouched; abandoned: expired with a PaymentIntent, the
// customer having tried to pay). Two API instances on the same database answer the same counts.
import {
  PrismaLedgerStore,
  PrismaOperationsCounts,
  PrismaStore,
  PrismaSupportDesk,
  PrismaWebhookInbox,
  StripePaymentGateway,
  stripeEndpointOf,
} from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { type UseCaseDeps, useCaseDepsOn, useCases } from "@susu/domain";
import { InMemoryTimerScheduler, ManualClock, RecordingNotifier, SequentialIds } from "@susu/domain/testing";
import { type RunningEmulator, startEmulator } from "@susu/stripe-emulator";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerCheckoutCounters } from "../../src/v1/checkout-metrics.js";
import { authed, testApp, testHttp, tokenFor } from "../support/app.js";

const db = useTestDatabase();
// Near the emulator's clock (real time), so the sessions' expiry is in the future at Stripe.
const clock = new ManualClock(Date.now());
let emulator: RunningEmulator;
let gateway: StripePaymentGateway;
let stripe: Stripe;
/** The newest Stripe event already looked at. */
let cursor: string | undefined;
let deps: UseCaseDeps;
let store: PrismaStore;
let inbox: PrismaWebhookInbox;
let admin: string;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, fees: false });
  const endpoint = { secretKey: emulator.secretKey, ...stripeEndpointOf(emulator.url), timeoutMs: 10_000 };
  gateway = new StripePaymentGateway({ ...endpoint, maxNetworkRetries: 0 }, { clock });
  stripe = gateway.stripe;
  cursor = (await stripe.events.list({ limit: 1 })).data[0]?.id;
  // The seller: an onboarded Express account.
  const account = await stripe.accounts.create({
    type: "express",
    country: "AU",
    capabilities: { transfers: { requested: true } },
  });
  await emulator.control.completeAccountOnboarding(account.id);
  store = new PrismaStore(db.prisma, { clock });
  deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
  inbox = new PrismaWebhookInbox(db.prisma, clock);
  (
    await store.commit({
      people: [
        {
          state: {
            id: "sam",
            displayName: "SAM",
            payout: { connectedAccountId: account.id, payoutsEnabled: true },
            createdAt: clock.now(),
            version: 0,
          },
          expectedVersion: undefined,
        },
      ],
      groups: [],
      rounds: [],
      outbox: [],
      audit: [],
    })
  )._unsafeUnwrap();
  admin = await tokenFor("ops_olga", ["admin"]);
});

afterAll(async () => {
  await emulator?.stop();
});

function instance() {
  const http = testHttp({ prisma: db.prisma });
  registerCheckoutCounters(http.metrics, new PrismaOperationsCounts(db.prisma));
  return testApp({
    useCases: deps,
    gateway,
    prisma: db.prisma,
    http,
  });
}

const dispatch = async () =>
  (
    await useCases.dispatchOutbox(
      deps,
      {
        gateway,
        notifier: new RecordingNotifier(),
        desk: new PrismaSupportDesk(db.prisma, clock),
        timers: new InMemoryTimerScheduler(),
        ledger: new PrismaLedgerStore(db.prisma, { clock }),
      },
      store,
      { workerId: "dispatcher" },
    )
  )._unsafeUnwrap();

async function sessionOf(app: ReturnType<typeof instance>, reference: string): Promise<string> {
  const res = await app.request(
    "/v1/held-payments",
    authed(await tokenFor("app_bookings", ["service"]), "POST", {
      clientReference: reference,
      amountMinor: 100_00,
      currency: "AUD",
      sellerId: "sam",
      description: "Two nights by the sea",
      customer: { email: "cy@example.com" },
      fee: { rateBps: 1_000 },
      successUrl: "https://app.example/paid",
    }),
  );
  expect(res.status).toBe(201);
  const { id } = (await res.json()) as { id: string };
  await dispatch();
  const session = (await store.getHeldPayment(id))._unsafeUnwrap()?.checkoutSessionId;
  if (session === undefined) throw new Error(`no session for ${id}`);
  return session;
}

/** Stripe's Checkout Session events since the last call, stored as the webhook route stores them. */
async function stripeSaysWhatHappened(): Promise<number> {
  const events: Stripe.Event[] = [];
  for (;;) {
    const page = await stripe.events.list({ limit: 100, ...(cursor ? { ending_before: cursor } : {}) });
    events.push(...[...page.data].reverse());
    if (page.data[0]) cursor = page.data[0].id;
    if (!page.has_more || !page.data[0]) break;
  }
  const sessions = events.filter((e) => e.type.startsWith("checkout.session."));
  for (const event of sessions) {
    (await inbox.receive(event))._unsafeUnwrap();
    // Stripe delivers at least once: the same event again is one row.
    (await inbox.receive(event))._unsafeUnwrap();
  }
  return sessions.length;
}

async function counters(app: ReturnType<typeof instance>): Promise<Record<string, number>> {
  const res = await app.request("/metrics", authed(admin));
  expect(res.status).toBe(200);
  const text = await res.text();
  expect(text).toContain("# TYPE susu_checkout_sessions_total counter");
  const found: Record<string, number> = {};
  for (const m of text.matchAll(/^susu_checkout_sessions_total\{outcome="(\w+)"\} (\d+)$/gm))
    found[m[1] as string] = Number(m[2]);
  return found;
}

describe("susu_checkout_sessions_total", () => {
  it("counts sessions created, completed, expired untouched and abandoned, the same on every instance", async () => {
    const a = instance();
    const b = instance();
    expect(await counters(a)).toEqual({ created: 0, completed: 0, expired: 0, abandoned: 0 });

    const paid = await sessionOf(a, "m_1");
    const untouched = await sessionOf(b, "m_2");
    const tried = await sessionOf(a, "m_3");
    await sessionOf(b, "m_4");
    expect(await counters(a)).toEqual({ created: 4, completed: 0, expired: 0, abandoned: 0 });

    // At Stripe: one customer pays; one session expires untouched; on one the customer's card
    // is declined (the session stays open, with its PaymentIntent) and it then expires.
    expect(
      (await emulator.control.completeCheckoutSession(paid, { paymentMethod: "pm_card_visa" })).status,
    ).toBe("complete");
    await stripe.checkout.sessions.expire(untouched);
    await emulator.control
      .completeCheckoutSession(tried, { paymentMethod: "pm_card_chargeDeclined" })
      .catch(() => undefined);
    const declined = await stripe.checkout.sessions.retrieve(tried);
    expect(declined.status).toBe("open");
    expect(declined.payment_intent).not.toBeNull();
    await stripe.checkout.sessions.expire(tried);
    // A session of something else on the Stripe account is not susu's to count.
    const notOurs = await stripe.checkout.sessions.create({
      mode: "payment",
      line_items: [
        { price_data: { currency: "aud", unit_amount: 5_00, product_data: { name: "Other" } }, quantity: 1 },
      ],
      success_url: "https://other.example/paid",
    });
    await stripe.checkout.sessions.expire(notOurs.id);
    expect(await stripeSaysWhatHappened()).toBeGreaterThanOrEqual(4);

    const expected = { created: 4, completed: 1, expired: 1, abandoned: 1 };
    expect(await counters(a)).toEqual(expected);
    expect(await counters(b)).toEqual(expected);
  });
});
