// Held payments and marketplace charges read by id through the pool: the reads asked for while
// one is on its way go together in one statement (the webhook processor loads the payments of
// the events it works at once), each caller answered with its own row, none with another's,
// and each as fresh as a statement of its own would have been.
import {
  type Changeset,
  createHeldPayment,
  createMarketplaceCharge,
  DEFAULT_HELD_PAYMENT_POLICY,
  DEFAULT_MARKETPLACE_POLICY,
  decideHeldPayment,
  type HeldPayment,
  type MarketplaceCharge,
} from "@susu/domain";
import { aReadyPerson } from "@susu/domain/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrismaStore } from "../../src/prisma/index.js";
import { statementsSentDuring } from "../support/index.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";

const T = Date.UTC(2026, 0, 6);
const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };

function payment(n: number): HeldPayment {
  return createHeldPayment(
    {
      id: `hp_${n}`,
      requestedBy: "app_1",
      clientReference: `booking_${n}`,
      amountMinor: 1_000 + n,
      currency: "AUD",
      seller: { id: "sel", connectedAccountId: "acct_sel", canReceive: true },
      description: `Booking ${n}`,
      customer: { email: "cy@example.com" },
      fee: { kind: "rate", basisPoints: 1_000 },
      successUrl: "https://app.example/done",
    },
    { now: T, policy: DEFAULT_HELD_PAYMENT_POLICY },
  )._unsafeUnwrap().state;
}

function charge(n: number): MarketplaceCharge {
  return createMarketplaceCharge(
    {
      id: `mc_${n}`,
      clientReference: `rsvp_${n}`,
      requestedBy: "app_1",
      activityId: "act_1",
      purpose: "rsvp",
      description: "Pottery class",
      amountMinor: 2_000 + n,
      currency: "AUD",
      customer: { id: "cus", stripeCustomerId: "cus_stripe", email: "cy@example.com" },
      paymentMethod: { kind: "saved_card", paymentMethodId: "pm_1" },
      fee: { kind: "rate", basisPoints: 1_000 },
      sellers: [{ id: "sel", connectedAccountId: "acct_sel", weight: 1 }],
    },
    { now: T, policy: DEFAULT_MARKETPLACE_POLICY },
  )._unsafeUnwrap().state;
}

describe("held payments and marketplace charges read by id", () => {
  let db: TestDatabase;
  let store: PrismaStore;
  const payments = [1, 2, 3, 4, 5, 6].map(payment);
  const charges = [1, 2, 3].map(charge);

  beforeAll(async () => {
    db = await createTestDatabase();
    store = new PrismaStore(db.prisma, { clock: { now: () => T } });
    (
      await store.commit({
        ...empty,
        people: ["sel", "cus"].map((id) => ({ state: aReadyPerson(id), expectedVersion: undefined })),
        heldPayments: payments.map((state) => ({ state, expectedVersion: undefined })),
        marketplaceCharges: charges.map((state) => ({ state, expectedVersion: undefined })),
      })
    )._unsafeUnwrap();
  });
  afterAll(async () => {
    await db.drop();
  });

  it("reads those asked for while one is on its way in one statement, each answered with its own", async () => {
    const ids = ["hp_1", "hp_2", "hp_missing", "hp_3", "hp_4", "hp_5", "hp_2", "hp_6"];
    const { result, sent } = await statementsSentDuring(db.prisma, () =>
      Promise.all(ids.map((id) => store.getHeldPayment(id))),
    );
    // The first alone, at once; the seven asked for meanwhile together when it returns.
    expect(sent).toEqual(["susu_getHeldPayment", "susu_getHeldPayment_many"]);
    expect(result.map((r) => r._unsafeUnwrap()?.id)).toEqual(
      ids.map((id) => (id === "hp_missing" ? undefined : id)),
    );
    for (const [i, r] of result.entries()) {
      const found = r._unsafeUnwrap();
      if (found !== undefined) expect(found).toEqual(payments.find((p) => p.id === ids[i]));
    }
  });

  it("marketplace charges the same way", async () => {
    const ids = ["mc_3", "mc_1", "mc_missing", "mc_2"];
    const { result, sent } = await statementsSentDuring(db.prisma, () =>
      Promise.all(ids.map((id) => store.getMarketplaceCharge(id))),
    );
    expect(sent).toEqual(["susu_getMarketplaceCharge", "susu_getMarketplaceCharge_many"]);
    expect(result.map((r) => r._unsafeUnwrap())).toEqual([charges[2], charges[0], undefined, charges[1]]);
  });

  it("a read asked for after a change sees the change, grouped or not", async () => {
    const before = (await store.getHeldPayment("hp_4"))._unsafeUnwrap();
    if (before === undefined) throw new Error("hp_4 is stored");
    const changed = decideHeldPayment(
      before,
      { type: "checkout_session_created", sessionId: "cs_4", url: "https://checkout.example/cs_4" },
      { now: T + 1, policy: DEFAULT_HELD_PAYMENT_POLICY },
    )._unsafeUnwrap().state;
    // A read on its way while the change commits; the reads asked for after the commit wait for
    // it and are read then, together.
    const first = store.getHeldPayment("hp_1");
    (
      await store.commit({ ...empty, heldPayments: [{ state: changed, expectedVersion: before.version }] })
    )._unsafeUnwrap();
    const after = await Promise.all([store.getHeldPayment("hp_4"), store.getHeldPayment("hp_5")]);
    expect((await first)._unsafeUnwrap()?.id).toBe("hp_1");
    expect(after[0]?._unsafeUnwrap()).toMatchObject({
      version: before.version + 1,
      checkoutSessionId: "cs_4",
    });
    expect(after[1]?._unsafeUnwrap()?.id).toBe("hp_5");
  });
});
