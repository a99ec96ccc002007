// Memberships on v1 through app.request(), on the whole domain on PostgreSQL (SusuOnPostgres:
// PrismaStore, a database of its own for each test; the fake billing gateway answers
// Stripe's calls, the outbox runs): plans managed by platform
// admins and read by everyone, a person subscribing themselves, changing plan, cancelling
// at period end and resuming — and what each refusal answers, changing nothing.
import { createTestDatabase, type TestDatabase } from "@susu/adapters/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { authed, testApp, tokenFor } from "../support/app.js";
import { SusuOnPostgres } from "../support/susu-on-postgres.js";

const PERSON = "sam";
const ADMIN = "ops_olga";

let db: TestDatabase;
let sim: SusuOnPostgres;
let app: ReturnType<typeof testApp>;
/** A card each person saved as their app does (a set-up, confirmed, Stripe's word recorded). */
let samCard: string;
let sueCard: string;

beforeEach(async () => {
  db = await createTestDatabase();
  sim = new SusuOnPostgres(db.prisma, { start: Date.UTC(2030, 0, 3, 9) });
  app = testApp({ useCases: sim.deps, gateway: sim.gateway, prisma: db.prisma });
  (await sim.addSeller(PERSON))._unsafeUnwrap();
  (await sim.addSeller("sue"))._unsafeUnwrap();
  samCard = await sim.saveCard(PERSON);
  sueCard = await sim.saveCard("sue");
});

afterEach(async () => {
  await db.drop();
});

/** The plans the database holds, archived ones too, with their prices. */
const plansStored = async () => (await sim.store.listPlans({ includeArchived: true }))._unsafeUnwrap();

async function call(method: string, path: string, token: string, body?: unknown) {
  const res = await app.request(path, authed(token, method, body));
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & { code?: string } };
}

const planTerms = {
  name: "Organiser",
  entitlements: { createGroups: true, maxOpenGroups: 5, sellBookings: true },
  trialDays: 0,
  prices: [
    { currency: "AUD", interval: "month", amountMinor: 15_00 },
    { currency: "AUD", interval: "year", amountMinor: 150_00 },
  ],
};

async function aPlan(terms: unknown = planTerms): Promise<string> {
  const created = await call("POST", "/v1/plans", await tokenFor(ADMIN, ["admin"]), terms);
  expect(created.status).toBe(201);
  await sim.runUntilQuiet();
  return created.body.id as string;
}

describe("/v1/plans", () => {
  it("an admin creates a plan; once Stripe made its prices everyone sees them available", async () => {
    const planId = await aPlan();
    const listed = await call("GET", "/v1/plans", await tokenFor(PERSON));
    expect(listed.status).toBe(200);
    expect(listed.body.data).toEqual([
      expect.objectContaining({
        id: planId,
        name: "Organiser",
        status: "active",
        prices: [
          { currency: "AUD", interval: "month", amountMinor: 15_00, available: true },
          { currency: "AUD", interval: "year", amountMinor: 150_00, available: true },
        ],
      }),
    ]);
  });

  it("refuses anyone but a platform admin, and malformed terms, storing nothing", async () => {
    for (const token of [await tokenFor(PERSON), await tokenFor("svc", ["service"])]) {
      const refused = await call("POST", "/v1/plans", token, planTerms);
      expect([refused.status, refused.body.code]).toEqual([403, "admin_only"]);
    }
    const admin = await tokenFor(ADMIN, ["admin"]);
    const cheap = await call("POST", "/v1/plans", admin, {
      ...planTerms,
      prices: [{ currency: "AUD", interval: "month", amountMinor: 1 }],
    });
    expect([cheap.status, cheap.body.code]).toEqual([422, "invalid_price"]);
    const unknown = await call("POST", "/v1/plans", admin, {
      ...planTerms,
      prices: [{ currency: "XXX", interval: "month", amountMinor: 100 }],
    });
    expect([unknown.status, unknown.body.code]).toEqual([422, "invalid_price"]);
    const weekly = await call("POST", "/v1/plans", admin, {
      ...planTerms,
      prices: [{ currency: "AUD", interval: "week", amountMinor: 100 }],
    });
    expect(weekly.status).toBe(400);
    expect(await plansStored()).toEqual([]);
  });

  it("a non-admin's malformed plan or change is refused 403 admin_only before the body is checked, changing nothing", async () => {
    const planId = await aPlan();
    const before = await plansStored();
    const malformed = [
      {},
      { name: 7, prices: "none" },
      { ...planTerms, prices: [{ currency: "AUD", interval: "week" }] },
    ];
    for (const token of [await tokenFor(PERSON), await tokenFor("svc", ["service"])]) {
      for (const terms of malformed) {
        const created = await call("POST", "/v1/plans", token, terms);
        expect([created.status, created.body.code]).toEqual([403, "admin_only"]);
        const changed = await call("PATCH", `/v1/plans/${planId}`, token, terms);
        expect([changed.status, changed.body.code]).toEqual([403, "admin_only"]);
      }
      // A plan that does not exist answers the same: nothing tells them which ids do.
      const missing = await call("PATCH", "/v1/plans/plan_nope", token, { name: 7 });
      expect([missing.status, missing.body.code]).toEqual([403, "admin_only"]);
      // Reading stays open to everyone.
      expect((await call("GET", `/v1/plans/${planId}`, token)).status).toBe(200);
    }
    expect(await plansStored()).toEqual(before);
    // An admin's malformed body is still the schema's 400.
    const admin = await tokenFor(ADMIN, ["admin"]);
    expect((await call("PATCH", `/v1/plans/${planId}`, admin, { name: 7 })).status).toBe(400);
  });

  it("an admin renames and archives; the archived plan is hidden from people and cannot be subscribed to", async () => {
    const planId = await aPlan();
    const admin = await tokenFor(ADMIN, ["admin"]);
    const renamed = await call("PATCH", `/v1/plans/${planId}`, admin, { name: "Host" });
    expect([renamed.status, renamed.body.name]).toEqual([200, "Host"]);
    const archived = await call("POST", `/v1/plans/${planId}/archive`, admin);
    expect([archived.status, archived.body.status]).toEqual([200, "archived"]);
    const person = await tokenFor(PERSON);
    expect((await call("GET", `/v1/plans/${planId}`, person)).status).toBe(404);
    expect((await call("GET", "/v1/plans", person)).body.data).toEqual([]);
    const withArchived = await call("GET", "/v1/plans?include_archived=true", admin);
    expect((withArchived.body.data as unknown[]).length).toBe(1);
    const again = await call("PATCH", `/v1/plans/${planId}`, admin, { name: "Again" });
    expect([again.status, again.body.code]).toEqual([409, "plan_archived"]);
    const subscribe = await call("POST", "/v1/subscriptions", person, {
      planId,
      currency: "AUD",
      interval: "month",
      paymentMethodId: samCard,
    });
    expect([subscribe.status, subscribe.body.code]).toEqual([409, "plan_archived"]);
  });
});

describe("/v1/subscriptions", () => {
  it("a person subscribes with a saved card, changes plan, cancels at period end and resumes", async () => {
    const planId = await aPlan();
    const person = await tokenFor(PERSON);
    const created = await call("POST", "/v1/subscriptions", person, {
      planId,
      currency: "AUD",
      interval: "month",
      paymentMethodId: samCard,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ personId: PERSON, planId, status: "incomplete" });
    await sim.runUntilQuiet();
    const id = created.body.id as string;
    expect((await call("GET", `/v1/subscriptions/${id}`, person)).body.status).toBe("active");
    const mine = await call("GET", "/v1/subscriptions", person);
    expect((mine.body.data as { id: string }[]).map((s) => s.id)).toEqual([id]);

    const twice = await call("POST", "/v1/subscriptions", person, {
      planId,
      currency: "AUD",
      interval: "month",
      paymentMethodId: samCard,
    });
    expect([twice.status, twice.body.code]).toEqual([409, "already_subscribed"]);

    const yearly = await call("POST", `/v1/subscriptions/${id}/change-plan`, person, {
      planId,
      interval: "year",
    });
    expect(yearly.status).toBe(200);
    // Asked, not made: the membership stays on its price until Stripe makes the change.
    expect(yearly.body.price).toEqual({ currency: "AUD", interval: "month", amountMinor: 15_00 });
    expect(yearly.body.pendingChange).toEqual({
      planId,
      price: { currency: "AUD", interval: "year", amountMinor: 150_00 },
      requestedAt: expect.any(String),
      awaitingPaymentUntil: null,
    });
    const meanwhile = await call("POST", `/v1/subscriptions/${id}/change-plan`, person, { planId });
    expect([meanwhile.status, meanwhile.body.code]).toEqual([409, "change_pending"]);
    await sim.runUntilQuiet();
    const made = await call("GET", `/v1/subscriptions/${id}`, person);
    expect(made.body.price).toEqual({ currency: "AUD", interval: "year", amountMinor: 150_00 });
    expect(made.body.pendingChange).toBeNull();
    const nothingToDrop = await call("POST", `/v1/subscriptions/${id}/cancel-change`, person);
    expect([nothingToDrop.status, nothingToDrop.body.code]).toEqual([409, "no_change_pending"]);
    const same = await call("POST", `/v1/subscriptions/${id}/change-plan`, person, {
      planId,
      interval: "year",
    });
    expect([same.status, same.body.code]).toEqual([409, "same_price"]);

    const canceling = await call("POST", `/v1/subscriptions/${id}/cancel`, person, { atPeriodEnd: true });
    expect([canceling.status, canceling.body.cancelAtPeriodEnd]).toEqual([200, true]);
    const resumed = await call("POST", `/v1/subscriptions/${id}/resume`, person);
    expect([resumed.status, resumed.body.cancelAtPeriodEnd]).toEqual([200, false]);
    const notCanceling = await call("POST", `/v1/subscriptions/${id}/resume`, person);
    expect([notCanceling.status, notCanceling.body.code]).toEqual([409, "not_canceling"]);
    await sim.runUntilQuiet();
    expect(sim.billing.calls.map((c) => c.method)).toEqual([
      "createPlanPrice",
      "createPlanPrice",
      "createSubscription",
      "changeSubscriptionPrice",
      "cancelSubscription",
      "cancelSubscription",
    ]);
  });

  it("one free trial per person: canceled during the trial, the next membership starts paid (trialDays 0)", async () => {
    const planId = await aPlan({ ...planTerms, trialDays: 14 });
    const person = await tokenFor(PERSON);
    const ask = { planId, currency: "AUD", interval: "month", paymentMethodId: samCard };
    const first = await call("POST", "/v1/subscriptions", person, ask);
    expect([first.status, first.body.trialDays]).toEqual([201, 14]);
    await sim.runUntilQuiet();
    const id = first.body.id as string;
    expect((await call("GET", `/v1/subscriptions/${id}`, person)).body.status).toBe("trialing");
    const canceled = await call("POST", `/v1/subscriptions/${id}/cancel`, person, { atPeriodEnd: false });
    expect(canceled.status).toBe(200);
    await sim.runUntilQuiet();
    expect((await call("GET", `/v1/subscriptions/${id}`, person)).body.status).toBe("canceled");
    const again = await call("POST", "/v1/subscriptions", person, ask);
    expect([again.status, again.body.trialDays]).toEqual([201, 0]);
    await sim.runUntilQuiet();
    const view = await call("GET", `/v1/subscriptions/${again.body.id as string}`, person);
    expect([view.body.status, view.body.trialDays]).toEqual(["active", 0]);
    expect(
      sim.billing.calls
        .filter((c) => c.method === "createSubscription")
        .map((c) => (c as unknown as { trialDays: number }).trialDays),
    ).toEqual([14, 0]);
  });

  it("through Checkout the page's URL comes back once Stripe made it", async () => {
    const planId = await aPlan();
    const person = await tokenFor(PERSON);
    const created = await call("POST", "/v1/subscriptions", person, {
      planId,
      currency: "AUD",
      interval: "month",
      checkout: { successUrl: "https://app.example/ok", cancelUrl: "https://app.example/no" },
    });
    expect(created.status).toBe(201);
    await sim.runUntilQuiet();
    const read = await call("GET", `/v1/subscriptions/${created.body.id}`, person);
    expect(read.body.checkoutUrl).toMatch(/^https:\/\/checkout\.fake\//);
    expect(read.body.refunds).toEqual([]);
  });

  it("canceled before its Checkout page was paid, paid anyway: the payment shows as refunded", async () => {
    const planId = await aPlan();
    const person = await tokenFor(PERSON);
    const created = await call("POST", "/v1/subscriptions", person, {
      planId,
      currency: "AUD",
      interval: "month",
      checkout: { successUrl: "https://app.example/ok", cancelUrl: "https://app.example/no" },
    });
    await sim.runUntilQuiet();
    const id = created.body.id as string;
    const canceled = await call("POST", `/v1/subscriptions/${id}/cancel`, person, { atPeriodEnd: false });
    expect([canceled.status, canceled.body.status]).toEqual([200, "canceled"]);
    const at = sim.clock.now();
    (
      await sim.deliver([
        {
          kind: "invoice_paid",
          refs: { subscriptionId: id },
          stripeSubscriptionId: "sub_late",
          invoice: {
            invoiceId: "in_late",
            amountDueMinor: 15_00,
            amountPaidMinor: 15_00,
            currency: "AUD",
            observedAt: at,
          },
          paidAt: at,
        },
      ])
    )._unsafeUnwrap();
    await sim.runUntilQuiet();
    const read = await call("GET", `/v1/subscriptions/${id}`, person);
    expect(read.body.status).toBe("canceled");
    expect(read.body.refunds).toEqual([
      {
        invoiceId: "in_late",
        amountMinor: 15_00,
        refundedMinor: 15_00,
        currency: "AUD",
        status: "succeeded",
      },
    ]);
  });

  it("hides another person's subscription, and refuses bad requests storing nothing", async () => {
    const planId = await aPlan();
    const person = await tokenFor(PERSON);
    const created = await call("POST", "/v1/subscriptions", person, {
      planId,
      currency: "AUD",
      interval: "month",
      paymentMethodId: samCard,
    });
    const id = created.body.id as string;
    const other = await tokenFor("sue");
    for (const [method, path, body] of [
      ["GET", `/v1/subscriptions/${id}`, undefined],
      ["POST", `/v1/subscriptions/${id}/cancel`, { atPeriodEnd: false }],
      ["POST", `/v1/subscriptions/${id}/resume`, undefined],
      ["POST", `/v1/subscriptions/${id}/change-plan`, { planId }],
    ] as const) {
      const hidden = await call(method, path, other, body);
      expect([hidden.status, hidden.body.code]).toEqual([404, "subscription_not_found"]);
    }
    expect((await call("GET", `/v1/subscriptions?person_id=${PERSON}`, other)).body.data).toEqual([]);
    const operator = await tokenFor(ADMIN, ["admin"]);
    expect((await call("GET", `/v1/subscriptions?person_id=${PERSON}`, operator)).body.data).toHaveLength(1);

    const before = await db.prisma.subscription.count();
    const sue = other;
    const both = await call("POST", "/v1/subscriptions", sue, {
      planId,
      currency: "AUD",
      interval: "month",
      paymentMethodId: sueCard,
      checkout: { successUrl: "https://a.example", cancelUrl: "https://a.example" },
    });
    expect([both.status, both.body.code]).toEqual([422, "invalid_subscription"]);
    const neither = await call("POST", "/v1/subscriptions", sue, {
      planId,
      currency: "AUD",
      interval: "month",
    });
    expect([neither.status, neither.body.code]).toEqual([422, "invalid_subscription"]);
    const script = await call("POST", "/v1/subscriptions", sue, {
      planId,
      currency: "AUD",
      interval: "month",
      checkout: { successUrl: "javascript:alert(1)", cancelUrl: "https://a.example" },
    });
    expect(script.status).toBe(422);
    const noPrice = await call("POST", "/v1/subscriptions", sue, {
      planId,
      currency: "USD",
      interval: "month",
      paymentMethodId: sueCard,
    });
    expect([noPrice.status, noPrice.body.code]).toEqual([409, "price_not_available"]);
    const noPlan = await call("POST", "/v1/subscriptions", sue, {
      planId: "plan_nope",
      currency: "AUD",
      interval: "month",
      paymentMethodId: sueCard,
    });
    expect([noPlan.status, noPlan.body.code]).toEqual([404, "plan_not_found"]);
    const notAPerson = await call("POST", "/v1/subscriptions", await tokenFor("app_x", ["service"]), {
      planId,
      currency: "AUD",
      interval: "month",
      paymentMethodId: "pm_card_visa",
    });
    // A service token is an app's, not a person's: refused before anything is looked up.
    expect([notAPerson.status, notAPerson.body.code]).toEqual([403, "person_only"]);
    expect(await db.prisma.subscription.count()).toBe(before);
  });
});

describe("subscribing without a Stripe customer yet", () => {
  it("creates the person's customer (once) and subscribes them through Checkout", async () => {
    const planId = await aPlan();
    (
      await sim.store.commit({
        people: [
          { state: { id: "dee", displayName: "Dee", createdAt: 0, version: 0 }, expectedVersion: undefined },
        ],
        groups: [],
        rounds: [],
        outbox: [],
        audit: [],
      })
    )._unsafeUnwrap();
    const dee = await tokenFor("dee");
    const ask = {
      planId,
      currency: "AUD",
      interval: "month",
      checkout: { successUrl: "https://app.example/ok", cancelUrl: "https://app.example/no" },
    };
    // A refused request makes no customer.
    const refused = await call("POST", "/v1/subscriptions", dee, { ...ask, currency: "USD" });
    expect([refused.status, refused.body.code]).toEqual([409, "price_not_available"]);
    expect((await sim.store.getPerson("dee"))._unsafeUnwrap()?.customerId).toBeUndefined();

    const created = await call("POST", "/v1/subscriptions", dee, ask);
    expect(created.status).toBe(201);
    const customerId = (await sim.store.getPerson("dee"))._unsafeUnwrap()?.customerId;
    expect(customerId).toMatch(/^cus_/);
    await sim.runUntilQuiet();
    expect(sim.billing.calls.find((c) => c.method === "createSubscriptionCheckout")).toMatchObject({
      customerId,
    });
    const shown = await call("GET", `/v1/subscriptions/${created.body.id as string}`, dee);
    expect(shown.body.checkoutUrl).toMatch(/^https:\/\/checkout\.fake\//);
  });
});

describe("/v1/people/{personId}/entitlements", () => {
  it("the person reads their own; a platform admin reads anyone's; anyone else gets 404", async () => {
    const narrowed = { createGroups: false, maxOpenGroups: 1, sellBookings: false };
    // Another world with these defaults, on a database of its own.
    await db.drop();
    db = await createTestDatabase();
    sim = new SusuOnPostgres(db.prisma, { start: Date.UTC(2030, 0, 3, 9), defaultEntitlements: narrowed });
    app = testApp({ useCases: sim.deps, gateway: sim.gateway, prisma: db.prisma });
    (await sim.addSeller(PERSON))._unsafeUnwrap();
    (await sim.addSeller("sue"))._unsafeUnwrap();
    samCard = await sim.saveCard(PERSON);
    const sam = await tokenFor(PERSON);
    const own = await call("GET", "/v1/people/me/entitlements", sam);
    expect([own.status, own.body]).toEqual([200, { personId: PERSON, entitlements: narrowed }]);

    const planId = await aPlan();
    const subscribed = await call("POST", "/v1/subscriptions", sam, {
      planId,
      currency: "AUD",
      interval: "month",
      paymentMethodId: samCard,
    });
    expect(subscribed.status).toBe(201);
    await sim.runUntilQuiet();
    const granted = { createGroups: true, maxOpenGroups: 5, sellBookings: true };
    const admin = await tokenFor(ADMIN, ["admin"]);
    const read = await call("GET", `/v1/people/${PERSON}/entitlements`, admin);
    expect([read.status, read.body]).toEqual([200, { personId: PERSON, entitlements: granted }]);
    expect((await call("GET", `/v1/people/${PERSON}/entitlements`, sam)).body.entitlements).toEqual(granted);

    const other = await call("GET", `/v1/people/${PERSON}/entitlements`, await tokenFor("sue"));
    expect([other.status, other.body.code]).toEqual([404, "person_not_found"]);
    const nobody = await call("GET", "/v1/people/nobody/entitlements", admin);
    expect([nobody.status, nobody.body.code]).toEqual([404, "person_not_found"]);
  });
});
