// `susu_checkout_sessions_total{outcome}` on GET /metrics, read from PostgreSQL: a held
// payment asked for through the API gets its session from the outbox (created), and the
// Stripe events the webhook inbox stores say how sessions ended (completed; expired
// untouched; abandoned: expired with a PaymentIntent, the customer having tried to pay).
// Two API instances on the same database answer the same counts.
import { PrismaOperationsCounts, PrismaStore, PrismaWebhookInbox } from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { type UseCaseDeps, useCaseDepsOn, useCases } from "@susu/domain";
import {
  aReadyPerson,
  FakePaymentGateway,
  InMemoryLedgerStore,
  InMemoryTimerScheduler,
  ManualClock,
  RecordingNotifier,
  RecordingSupportDesk,
  SequentialIds,
} from "@susu/domain/testing";
import type Stripe from "stripe";
import { beforeAll, describe, expect, it } from "vitest";
import { registerCheckoutCounters } from "../../src/v1/checkout-metrics.js";
import { authed, testApp, testHttp, tokenFor } from "../support/app.js";

const db = useTestDatabase();
const clock = new ManualClock(Date.UTC(2030, 0, 3, 9));
let deps: UseCaseDeps;
let store: PrismaStore;
let inbox: PrismaWebhookInbox;
let admin: string;

beforeAll(async () => {
  store = new PrismaStore(db.prisma, { clock });
  deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
  inbox = new PrismaWebhookInbox(db.prisma, clock);
  (
    await store.commit({
      people: [{ state: aReadyPerson("sam"), expectedVersion: undefined }],
      groups: [],
      rounds: [],
      outbox: [],
      audit: [],
    })
  )._unsafeUnwrap();
  admin = await tokenFor("ops_olga", ["admin"]);
});

function instance() {
  const http = testHttp({ prisma: db.prisma });
  registerCheckoutCounters(http.metrics, new PrismaOperationsCounts(db.prisma));
  return testApp({
    useCases: deps,
    gateway: new FakePaymentGateway(() => clock.now()),
    prisma: db.prisma,
    http,
  });
}

const gateway = new FakePaymentGateway(() => clock.now());
const dispatch = async () =>
  (
    await useCases.dispatchOutbox(
      deps,
      {
        gateway,
        notifier: new RecordingNotifier(),
        desk: new RecordingSupportDesk(),
        timers: new InMemoryTimerScheduler(),
        ledger: new InMemoryLedgerStore(),
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

let eventSeq = 0;
/** Stripe's event for a session, as the webhook route stores it. */
async function stripeSays(type: string, sessionId: string, paymentIntent: string | null): Promise<void> {
  eventSeq++;
  const event = {
    id: `evt_${eventSeq}`,
    object: "event",
    type,
    api_version: "2025-01-27.acacia",
    created: Math.floor(clock.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    data: { object: { id: sessionId, object: "checkout.session", payment_intent: paymentIntent } },
  } as unknown as Stripe.Event;
  (await inbox.receive(event))._unsafeUnwrap();
  // Stripe delivers at least once: the same event again is one row.
  (await inbox.receive(event))._unsafeUnwrap();
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

    await stripeSays("checkout.session.completed", paid, "pi_paid");
    await stripeSays("checkout.session.expired", untouched, null);
    await stripeSays("checkout.session.expired", tried, "pi_declined");
    // A session of something else on the Stripe account is not susu's to count.
    await stripeSays("checkout.session.expired", "cs_not_ours", null);

    const expected = { created: 4, completed: 1, expired: 1, abandoned: 1 };
    expect(await counters(a)).toEqual(expected);
    expect(await counters(b)).toEqual(expected);
  });
});
