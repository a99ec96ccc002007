// A service token (role `service`: a client app's backend; several apps may hold one) is not a
// person. `me` in /v1/people paths names a person, so every `me` route — onboarding, saved
// payment methods, payouts, notification settings, entitlements — answers it 403
// `person_only`, reads included; so do the writes that act as the person when it names its own
// subject, subscribing (and its membership commands), and asking to pay or be paid as itself
// in a held payment or a marketplace charge. Its subject here has a person row, a saved card
// and a payout account (made before service tokens were refused groups, or a person's id an
// app's subject happens to equal): each refusal is checked to leave PostgreSQL's rows as they
// were, and the payment provider unasked. What an app does for its users (a held payment for a
// seller, a charge for a named customer) and operators' reads of a named person still work.
// Real PostgreSQL; the domain's fake payment gateway, every call to it recorded.
import { PrismaPaymentAttemptStore, PrismaStore } from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { type PaymentGateway, useCaseDepsOn, useCases } from "@susu/domain";
import { FakePaymentGateway, ManualClock, SequentialIds } from "@susu/domain/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { PaymentAttemptLimiter } from "../../src/http/payment-attempts.js";
import { authed, testApp, tokenFor } from "../support/app.js";
import { countDomainRows } from "../support/v1-surface.js";
import { makeWorld, type World } from "../support/world.js";

const db = useTestDatabase();
const clock = new ManualClock(Date.UTC(2026, 5, 1));
/** The names of the payment gateway's methods the app called, in order. */
const asked: string[] = [];
let app: ReturnType<typeof testApp>;
let world: World;
let svc: string;
let svcCard: string;
/** The subscription the service's subject took before it was refused (incomplete). */
let svcSubscription: string;

beforeAll(async () => {
  const deps = useCaseDepsOn(new PrismaStore(db.prisma), { clock, ids: new SequentialIds() });
  const fake = new FakePaymentGateway(() => clock.now());
  // Every method call is recorded, then made on the fake itself (its private fields need it as `this`).
  const gateway = new Proxy(fake, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        asked.push(String(property));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as PaymentGateway;
  const limiter = new PaymentAttemptLimiter({
    store: new PrismaPaymentAttemptStore(db.prisma),
    limits: {
      perPerson: { max: 100, windowMs: 3_600_000 },
      perCard: { max: 100, windowMs: 3_600_000 },
      perCustomerEmail: { max: 100, windowMs: 3_600_000 },
      cardFailures: { max: 100, windowMs: 3_600_000 },
    },
    now: () => clock.now(),
  });
  app = testApp({ useCases: deps, gateway, prisma: db.prisma, paymentAttempts: limiter });
  world = await makeWorld(deps);
  svc = world.service;
  svcCard = world.cards.service ?? "";
  // The service's subject onboarded for payouts too, and subscribed, as a person would have.
  (
    await useCases.updatePersonPayment(deps, svc, { connectedAccountId: `acct_${svc}` }, "stripe")
  )._unsafeUnwrap();
  (await useCases.updatePersonReadiness(deps, svc, { payoutsEnabled: true }, "stripe"))._unsafeUnwrap();
  svcSubscription = (
    await useCases.subscribe(deps, {
      personId: svc,
      planId: world.planId,
      currency: "AUD",
      interval: "month",
      start: { kind: "saved_method", paymentMethodId: svcCard },
    })
  )._unsafeUnwrap().id;
});

interface Answer {
  readonly status: number;
  readonly body: { readonly code?: string; readonly detail?: string } & Record<string, unknown>;
}

async function send(token: string, method: string, path: string, body?: unknown): Promise<Answer> {
  const res = await app.request(path, authed(token, method, body));
  return { status: res.status, body: (await res.json()) as Answer["body"] };
}
const asService = async (method: string, path: string, body?: unknown) =>
  send(await tokenFor(svc, ["service"]), method, path, body);

/** What a request could have changed: the domain's row counts, the service's person, cards, subscriptions, attempts. */
async function stateOf() {
  const [counts, person, methods, subscriptions, attempts] = await Promise.all([
    countDomainRows(db.prisma),
    db.prisma.person.findUniqueOrThrow({ where: { id: svc } }),
    db.prisma.savedPaymentMethod.findMany({ where: { personId: svc }, orderBy: { id: "asc" } }),
    db.prisma.subscription.findMany({ orderBy: { id: "asc" } }),
    db.prisma.paymentAttempt.count(),
  ]);
  return { counts, person, methods, subscriptions, attempts };
}

/** Each request answers 403 `person_only`; nothing stored changes and the provider is not asked. */
async function expectPersonOnly(
  requests: readonly (readonly [method: string, path: string, body?: unknown])[],
): Promise<void> {
  const before = await stateOf();
  const calls = asked.length;
  const failures: string[] = [];
  for (const [method, path, body] of requests) {
    const answer = await asService(method, path, body);
    if (answer.status !== 403 || answer.body.code !== "person_only")
      failures.push(`${method} ${path}: ${answer.status} ${answer.body.code ?? ""}`);
    else expect(answer.body.detail).toMatch(/\(a service token acts for an app, not a person\)$/);
  }
  expect(failures, "a service token acting as a person").toEqual([]);
  expect(await stateOf()).toEqual(before);
  expect(asked.slice(calls), "calls to the payment provider").toEqual([]);
}

const me = "/v1/people/me";
const own = () => `/v1/people/${encodeURIComponent(svc)}`;
const onboardingUrls = {
  refreshUrl: "https://app.example/onboarding/refresh",
  returnUrl: "https://app.example/onboarding/done",
};
const settings = { email: "app@example.com", notifications: {} };

describe("a service token on /v1/people/me", () => {
  it("may not set up a debit, onboard for payouts, save, choose or remove a card, or change settings as itself: 403 person_only", async () => {
    const writes = (base: string) =>
      [
        ["POST", `${base}/debit-setup`, {}],
        ["POST", `${base}/payout-onboarding`, onboardingUrls],
        ["POST", `${base}/payment-methods/setup`, { type: "card" }],
        ["POST", `${base}/payment-methods/${svcCard}/default`],
        ["DELETE", `${base}/payment-methods/${svcCard}`],
        ["PUT", `${base}/notification-settings`, settings],
        ["POST", `${base}/payouts`],
      ] as const;
    // `me`, and its own subject spelled out: the same person.
    await expectPersonOnly(writes(me));
    await expectPersonOnly(writes(own()).filter(([, path]) => !path.endsWith("/payouts")));
    expect(await db.prisma.person.findUniqueOrThrow({ where: { id: svc } })).toMatchObject({
      connectedAccountId: `acct_${svc}`,
      email: null,
    });
  });

  it("may not read as itself either: every `me` read is 403 person_only", async () => {
    await expectPersonOnly([
      ["GET", me],
      ["GET", `${me}/balance`],
      ["GET", `${me}/payouts`],
      ["GET", `${me}/entitlements`],
      ["GET", `${me}/payment-methods`],
      ["GET", `${me}/notification-settings`],
    ]);
  });

  it("still reads any person it names, its subject's included, as operators do", async () => {
    for (const person of [svc, world.member])
      for (const tail of [
        "",
        "/balance",
        "/payouts",
        "/entitlements",
        "/payment-methods",
        "/notification-settings",
      ]) {
        const path = `/v1/people/${encodeURIComponent(person)}${tail}`;
        expect((await asService("GET", path)).status, `GET ${path}`).toBe(200);
      }
    const listed = await asService("GET", `/v1/subscriptions?person_id=${encodeURIComponent(svc)}`);
    expect(listed.status).toBe(200);
    expect((listed.body.data as { id: string }[]).map((s) => s.id)).toEqual([svcSubscription]);
  });

  it("a person still acts as themselves, with a token that has the service role besides member too", async () => {
    const ben = await tokenFor(world.member);
    const setup = await send(ben, "POST", `${me}/payment-methods/setup`, { type: "card" });
    expect(setup.status).toBe(201);
    expect((await send(ben, "GET", me)).status).toBe(200);
    // A token with the member role besides `service` is a person's.
    const both = await tokenFor(world.stranger, ["member", "service"]);
    expect((await send(both, "GET", `${me}/payment-methods`)).status).toBe(200);
  });
});

describe("a service token paying or being paid as itself", () => {
  it("may not subscribe, list its own memberships, or change, cancel or resume its subject's: 403 person_only", async () => {
    await expectPersonOnly([
      [
        "POST",
        "/v1/subscriptions",
        { planId: world.planId, currency: "AUD", interval: "month", paymentMethodId: svcCard },
      ],
      ["GET", "/v1/subscriptions"],
      [
        "POST",
        `/v1/subscriptions/${svcSubscription}/change-plan`,
        { planId: world.planId, interval: "year" },
      ],
      ["POST", `/v1/subscriptions/${svcSubscription}/cancel`, { atPeriodEnd: false }],
      ["POST", `/v1/subscriptions/${svcSubscription}/cancel-change`],
      ["POST", `/v1/subscriptions/${svcSubscription}/resume`],
    ]);
    // It still reads it, as operators read anyone's.
    expect((await asService("GET", `/v1/subscriptions/${svcSubscription}`)).status).toBe(200);
  });

  it("may not be a held payment's seller: 403 person_only; for a seller of its users it still asks (201)", async () => {
    const booking = (reference: string, sellerId: string) => ({
      clientReference: reference,
      amountMinor: 50_00,
      currency: "AUD",
      sellerId,
      description: "A night in town",
      customer: { email: "cy@example.com" },
      fee: { rateBps: 500 },
      successUrl: "https://app.example/paid",
    });
    await expectPersonOnly([["POST", "/v1/held-payments", booking("self_paid", svc)]]);
    const forSeller = await asService("POST", "/v1/held-payments", booking("for_sam", world.seller));
    expect(forSeller.status).toBe(201);
    expect(forSeller.body).toMatchObject({ requestedBy: svc, seller: { id: world.seller } });
  });

  it("may not be a marketplace charge's customer or one of its sellers: 403 person_only; for its users it still charges (201)", async () => {
    const charge = (
      reference: string,
      customerId: string,
      sellers: readonly string[],
      paymentMethod: unknown = { type: "new_card" },
    ) => ({
      clientReference: reference,
      activityId: "act_self",
      purpose: "purchase",
      amountMinor: 40_00,
      currency: "AUD",
      description: "A ceramics kit",
      customer: { personId: customerId, email: "cy@example.com" },
      sellers: sellers.map((personId) => ({ personId })),
      fee: { rateBps: 500 },
      paymentMethod,
    });
    await expectPersonOnly([
      [
        "POST",
        "/v1/marketplace-charges",
        charge("self_pays", svc, [world.seller], { type: "saved_card", paymentMethodId: svcCard }),
      ],
      ["POST", "/v1/marketplace-charges", charge("self_paid", world.customer, [svc])],
      ["POST", "/v1/marketplace-charges", charge("self_cohost", world.customer, [world.seller, svc])],
    ]);
    const forUsers = await asService(
      "POST",
      "/v1/marketplace-charges",
      charge("for_cy", world.customer, [world.seller]),
    );
    expect(forUsers.status).toBe(201);
  });
});
