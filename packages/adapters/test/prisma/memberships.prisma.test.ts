// The storage contract of plans and subscriptions, run against PostgreSQL and the in-memory
// store alike (both must refuse and find the same things), then what PostgreSQL adds: the
// price rows projected from a plan's snapshot, and constraints that refuse impossible rows.
import {
  type Changeset,
  createPlan,
  createSubscription,
  decidePlan,
  decideSubscription,
  type Plan,
  type PlanRepository,
  type Subscription,
  type SubscriptionRepository,
  type UnitOfWork,
} from "@susu/domain";
import { aReadyPerson, InMemoryStore } from "@susu/domain/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrismaStore } from "../../src/prisma/index.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";

const T = Date.UTC(2026, 0, 6);
const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };
type Store = PlanRepository & SubscriptionRepository & UnitOfWork;

function aPlan(id = "plan_1"): Plan {
  const created = createPlan(
    id,
    {
      name: "Plus",
      entitlements: { createGroups: true, maxOpenGroups: 3, sellBookings: false },
      trialDays: 14,
      prices: [
        { currency: "AUD", interval: "month", amountMinor: 10_00 },
        { currency: "USD", interval: "year", amountMinor: 90_00 },
      ],
    },
    T,
  )._unsafeUnwrap().state;
  return decidePlan(
    created,
    { type: "price_created", key: "aud_month", revision: 1, stripePriceId: `price_${id}` },
    { now: T },
  )._unsafeUnwrap().state;
}

function aSubscription(id: string, personId: string, createdAt = T): Subscription {
  return createSubscription(
    {
      id,
      personId,
      stripeCustomerId: `cus_${personId}`,
      price: {
        planId: "plan_1",
        priceKey: "aud_month",
        revision: 1,
        stripePriceId: "price_plan_1",
        currency: "AUD",
        interval: "month",
        amountMinor: 10_00,
      },
      trialDays: 0,
      start: { kind: "saved_method", paymentMethodId: "pm_1" },
    },
    { now: createdAt },
  )._unsafeUnwrap().state;
}

function started(s: Subscription, stripeId: string): Subscription {
  return decideSubscription(
    s,
    {
      type: "subscription_changed",
      snapshot: {
        stripeSubscriptionId: stripeId,
        status: "active",
        cancelAtPeriodEnd: false,
        observedAt: T + 1000,
      },
    },
    { now: T },
  )._unsafeUnwrap().state;
}

function ended(s: Subscription): Subscription {
  return decideSubscription(
    s,
    {
      type: "subscription_changed",
      snapshot: {
        stripeSubscriptionId: s.stripeSubscriptionId as string,
        status: "canceled",
        cancelAtPeriodEnd: false,
        observedAt: T + 2000,
        endedAt: T + 2000,
      },
    },
    { now: T },
  )._unsafeUnwrap().state;
}

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

describe.each([
  ["PostgreSQL", () => new PrismaStore(db.prisma, { clock: { now: () => T + 999 } })],
  ["memory", () => new InMemoryStore()],
] as const)("plans and subscriptions stored (%s)", (_name, makeStore) => {
  let store: Store;
  const suffix = _name === "memory" ? "m" : "p";
  const person = (id: string) => `${id}_${suffix}`;

  beforeAll(async () => {
    store = makeStore();
    const people = ["ana", "ben"].map((id) => ({
      state: aReadyPerson(person(id)),
      expectedVersion: undefined,
    }));
    (await store.commit({ ...empty, people }))._unsafeUnwrap();
  });

  it("stores a plan and reads it back as it was, versioned", async () => {
    const plan = aPlan(`plan_${suffix}`);
    (await store.commit({ ...empty, plans: [{ state: plan, expectedVersion: undefined }] }))._unsafeUnwrap();
    expect((await store.getPlan(plan.id))._unsafeUnwrap()).toEqual({ ...plan, version: 0 });
    const archived = decidePlan(plan, { type: "archive" }, { now: T })._unsafeUnwrap().state;
    (await store.commit({ ...empty, plans: [{ state: archived, expectedVersion: 0 }] }))._unsafeUnwrap();
    const stale = await store.commit({ ...empty, plans: [{ state: archived, expectedVersion: 0 }] });
    expect(stale._unsafeUnwrapErr()).toMatchObject({ code: "version_conflict", aggregate: "plan" });
    const listed = (await store.listPlans({ includeArchived: false }))._unsafeUnwrap();
    expect(listed.map((p) => p.id)).not.toContain(plan.id);
    const all = (await store.listPlans({ includeArchived: true }))._unsafeUnwrap();
    expect(all.find((p) => p.id === plan.id)).toMatchObject({ status: "archived", version: 1 });
  });

  it("stores subscriptions, finds them by Stripe subscription, lists a person's newest first", async () => {
    // One current membership per person: the older one ended before the newer began.
    const older = ended(started(aSubscription(`mbr_1${suffix}`, person("ana"), T), `sub_a${suffix}`));
    const newer = aSubscription(`mbr_2${suffix}`, person("ana"), T + 5000);
    (
      await store.commit({
        ...empty,
        subscriptions: [
          { state: older, expectedVersion: undefined },
          { state: newer, expectedVersion: undefined },
        ],
      })
    )._unsafeUnwrap();
    expect((await store.getSubscription(older.id))._unsafeUnwrap()).toEqual({ ...older, version: 0 });
    expect((await store.findSubscriptionByStripeId(`sub_a${suffix}`))._unsafeUnwrap()?.id).toBe(older.id);
    expect((await store.findSubscriptionByStripeId("sub_nobody"))._unsafeUnwrap()).toBeUndefined();
    const mine = (await store.listSubscriptionsOfPerson(person("ana")))._unsafeUnwrap();
    expect(mine.map((s) => s.id)).toEqual([newer.id, older.id]);
    expect((await store.listSubscriptionsOfPerson(person("ben")))._unsafeUnwrap()).toEqual([]);
    // Only those Stripe started (the trial rule reads every one of them).
    const startedOnes = (await store.listStartedSubscriptionsOfPerson(person("ana")))._unsafeUnwrap();
    expect(startedOnes).toEqual([{ ...older, version: 0 }]);
    expect((await store.listStartedSubscriptionsOfPerson(person("ben")))._unsafeUnwrap()).toEqual([]);
  });

  it("refuses a second current membership of one person (duplicate) and stores nothing of it", async () => {
    const first = aSubscription(`mbr_5${suffix}`, person("ben"));
    (
      await store.commit({ ...empty, subscriptions: [{ state: first, expectedVersion: undefined }] })
    )._unsafeUnwrap();
    const second = aSubscription(`mbr_6${suffix}`, person("ben"), T + 1);
    const dup = await store.commit({
      ...empty,
      subscriptions: [{ state: second, expectedVersion: undefined }],
    });
    expect(dup._unsafeUnwrapErr().code).toBe("duplicate");
    expect((await store.getSubscription(second.id))._unsafeUnwrap()).toBeUndefined();
  });

  it("refuses a second subscription of one Stripe subscription, and one of somebody who is not a person", async () => {
    const twin = started(aSubscription(`mbr_3${suffix}`, person("ben")), `sub_a${suffix}`);
    const dup = await store.commit({
      ...empty,
      subscriptions: [{ state: twin, expectedVersion: undefined }],
    });
    expect(dup._unsafeUnwrapErr().code).toBe("duplicate");
    const ghost = aSubscription(`mbr_4${suffix}`, "nobody");
    const refused = await store.commit({
      ...empty,
      subscriptions: [{ state: ghost, expectedVersion: undefined }],
    });
    expect(refused._unsafeUnwrapErr().code).toBe("storage_refused");
    expect((await store.getSubscription(ghost.id))._unsafeUnwrap()).toBeUndefined();
  });
});

describe("PostgreSQL beyond the contract", () => {
  it("projects a plan's prices into rows, rewritten with each change", async () => {
    const store = new PrismaStore(db.prisma, { clock: { now: () => T } });
    const plan = aPlan("plan_rows");
    (await store.commit({ ...empty, plans: [{ state: plan, expectedVersion: undefined }] }))._unsafeUnwrap();
    const rows = () =>
      db.prisma.planPrice.findMany({ where: { planId: "plan_rows" }, orderBy: { key: "asc" } });
    expect((await rows()).map((r) => [r.key, Number(r.amountMinor), r.revision, r.stripePriceId])).toEqual([
      ["aud_month", 10_00, 1, "price_plan_rows"],
      ["usd_year", 90_00, 1, null],
    ]);
    const repriced = decidePlan(
      plan,
      { type: "update", prices: [{ currency: "AUD", interval: "month", amountMinor: 12_00 }] },
      { now: T },
    )._unsafeUnwrap().state;
    (await store.commit({ ...empty, plans: [{ state: repriced, expectedVersion: 0 }] }))._unsafeUnwrap();
    expect((await rows()).map((r) => [r.key, Number(r.amountMinor), r.revision, r.stripePriceId])).toEqual([
      ["aud_month", 12_00, 2, null],
      ["usd_year", 90_00, 1, null],
    ]);
  });

  it("refuses impossible price rows", async () => {
    const client = new pg.Client({ connectionString: db.connectionString });
    await client.connect();
    try {
      await expect(
        client.query(
          "INSERT INTO plan_prices (plan_id, key, currency, interval, amount_minor, revision) VALUES ('plan_rows', 'aud_week', 'AUD', 'week', 100, 1)",
        ),
      ).rejects.toMatchObject({ code: "23514", constraint: "plan_prices_interval_check" });
    } finally {
      await client.end();
    }
  });
});
