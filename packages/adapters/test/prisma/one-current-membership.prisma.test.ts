// A person holds at most one current membership, and PostgreSQL is what enforces it: two
// subscribe requests that both pass the use case's read check ("no current membership")
// race to commit, and the partial unique index refuses the second. The race is made certain
// by holding both reads until both have run.
import {
  createPlan,
  createSubscription,
  decidePlan,
  decideSubscription,
  type Plan,
  type Subscription,
  type SubscriptionRepository,
  useCaseDepsOn,
  useCases,
} from "@susu/domain";
import {
  aReadyPerson,
  FakePaymentGateway,
  ManualClock,
  SequentialIds,
  saveCardThroughUseCases,
} from "@susu/domain/testing";
import { ResultAsync } from "neverthrow";
import { beforeEach, describe, expect, it } from "vitest";
import { PrismaStore } from "../../src/prisma/index.js";
import { useTestDatabase } from "../support/test-database.js";
import { resetDatabase } from "./reset-database.js";

const T = Date.UTC(2026, 0, 6);

function aReadyPlan(): Plan {
  const created = createPlan(
    "plan_1",
    {
      name: "Plus",
      entitlements: { createGroups: true, maxOpenGroups: 3, sellBookings: false },
      trialDays: 0,
      prices: [{ currency: "AUD", interval: "month", amountMinor: 10_00 }],
    },
    T,
  )._unsafeUnwrap().state;
  return decidePlan(
    created,
    { type: "price_created", key: "aud_month", revision: 1, stripePriceId: "price_plus" },
    { now: T },
  )._unsafeUnwrap().state;
}

function aMembership(id: string, personId: string): Subscription {
  return createSubscription(
    {
      id,
      personId,
      stripeCustomerId: `cus_${personId}`,
      price: {
        planId: "plan_1",
        priceKey: "aud_month",
        revision: 1,
        stripePriceId: "price_plus",
        currency: "AUD",
        interval: "month",
        amountMinor: 10_00,
      },
      trialDays: 0,
      start: { kind: "saved_method", paymentMethodId: "pm_1" },
    },
    { now: T },
  )._unsafeUnwrap().state;
}

/** Stripe's view of `s` as `status` (ended ones carry their end). */
function seenAs(s: Subscription, stripeId: string, status: "active" | "canceled" | "unpaid"): Subscription {
  return decideSubscription(
    s,
    {
      type: "subscription_changed",
      snapshot: {
        stripeSubscriptionId: stripeId,
        status,
        cancelAtPeriodEnd: false,
        observedAt: T + 1000,
        ...(status === "canceled"
          ? { endedAt: T + 1000, cancellationReason: "payment_failed" as const }
          : {}),
      },
    },
    { now: T },
  )._unsafeUnwrap().state;
}

/** Holds every reader of a person's memberships until `parties` of them have read. */
function barrierOnRead(repo: SubscriptionRepository, parties: number): SubscriptionRepository {
  let waiting = 0;
  let release!: () => void;
  const allRead = new Promise<void>((resolve) => {
    release = resolve;
  });
  return {
    getSubscription: (id) => repo.getSubscription(id),
    findSubscriptionByStripeId: (id) => repo.findSubscriptionByStripeId(id),
    listStartedSubscriptionsOfPerson: (personId) => repo.listStartedSubscriptionsOfPerson(personId),
    listSubscriptionsOfPerson: (personId) =>
      repo.listSubscriptionsOfPerson(personId).andThen((held) => {
        waiting += 1;
        if (waiting >= parties) release();
        return ResultAsync.fromSafePromise(allRead.then(() => held));
      }),
  };
}

describe("one current membership per person, on PostgreSQL", () => {
  const db = useTestDatabase();
  beforeEach(async () => {
    await resetDatabase(db.prisma);
  });

  async function seeded(): Promise<PrismaStore> {
    const store = new PrismaStore(db.prisma, { clock: { now: () => T } });
    (
      await store.commit({
        people: [{ state: aReadyPerson("sam"), expectedVersion: undefined }],
        groups: [],
        rounds: [],
        outbox: [],
        audit: [],
        plans: [{ state: aReadyPlan(), expectedVersion: undefined }],
      })
    )._unsafeUnwrap();
    return store;
  }

  it("two subscribes that both read 'none held' before either stores: one is created, the other is already_subscribed, Stripe is asked once", async () => {
    const store = await seeded();
    const base = useCaseDepsOn(store, { clock: new ManualClock(T), ids: new SequentialIds() });
    // Sam saved the card as their app does.
    await saveCardThroughUseCases(base, new FakePaymentGateway(() => T), "sam", "pm_sam");
    const deps = { ...base, subscriptions: barrierOnRead(base.subscriptions, 2) };
    const command = {
      personId: "sam",
      planId: "plan_1",
      currency: "AUD",
      interval: "month",
      start: { kind: "saved_method", paymentMethodId: "pm_sam" },
    } as const;
    const results = await Promise.all([useCases.subscribe(deps, command), useCases.subscribe(deps, command)]);
    const created = results.filter((r) => r.isOk());
    const refused = results.filter((r) => r.isErr());
    expect(created).toHaveLength(1);
    expect(refused).toHaveLength(1);
    const winner = created[0]?._unsafeUnwrap();
    expect(refused[0]?._unsafeUnwrapErr()).toMatchObject({ code: "already_subscribed" });
    expect(refused[0]?._unsafeUnwrapErr().message).toContain(winner?.id);
    const held = (await store.listSubscriptionsOfPerson("sam"))._unsafeUnwrap();
    expect(held.map((s) => s.id)).toEqual([winner?.id]);
    const rows = await db.prisma.$queryRawUnsafe<{ n: bigint }[]>(
      "SELECT count(*) AS n FROM outbox_effects WHERE payload->>'kind' = 'create_subscription'",
    );
    expect(Number(rows[0]?.n)).toBe(1);
  });

  it("refuses a second current membership at the store; an ended one (canceled, or lapsed and canceled at Stripe) leaves room", async () => {
    const store = await seeded();
    const commit = (state: Subscription, expectedVersion?: number) =>
      store.commit({
        people: [],
        groups: [],
        rounds: [],
        outbox: [],
        audit: [],
        subscriptions: [{ state, expectedVersion }],
      });
    const first = seenAs(aMembership("mbr_1", "sam"), "sub_1", "active");
    (await commit(first))._unsafeUnwrap();
    const second = aMembership("mbr_2", "sam");
    expect((await commit(second))._unsafeUnwrapErr()).toMatchObject({ code: "duplicate" });
    // A lapse still waiting on its open invoice is current; canceled at Stripe, it is not.
    const lapsed = seenAs(first, "sub_1", "unpaid");
    expect(lapsed.status).toBe("lapsed");
    (await commit(lapsed, 0))._unsafeUnwrap();
    expect((await commit(second))._unsafeUnwrapErr()).toMatchObject({ code: "duplicate" });
    const lapsedForGood = seenAs({ ...lapsed, version: 1 }, "sub_1", "canceled");
    expect(lapsedForGood).toMatchObject({ status: "lapsed" });
    expect(lapsedForGood.endedAt).toBeDefined();
    (await commit(lapsedForGood, 1))._unsafeUnwrap();
    (await commit(second))._unsafeUnwrap();
    expect((await store.listSubscriptionsOfPerson("sam"))._unsafeUnwrap()).toHaveLength(2);
  });
});
