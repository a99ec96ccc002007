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
import { poolOf } from "../../src/db/prisma-client.js";
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

  /**
   * Runs `work` with the next `susu_getHeldPayment` statement held back after it ran, until
   * `work` calls the given `open` (a connection gone slow or silent with a read on it);
   * `ran` resolves once the database has answered it.
   */
  async function withFirstReadHeld<T>(
    work: (open: () => void, ran: Promise<void>) => Promise<T>,
  ): Promise<T> {
    const pool = poolOf(db.prisma);
    if (pool === undefined) throw new Error("no pool");
    const query = pool.query.bind(pool) as (config: { name?: string }) => Promise<unknown>;
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let answered!: () => void;
    const ran = new Promise<void>((resolve) => {
      answered = resolve;
    });
    let armed = true;
    const replaced = pool.query;
    (pool as unknown as { query: unknown }).query = (config: { name?: string }) => {
      if (!armed || config.name !== "susu_getHeldPayment") return query(config);
      armed = false;
      return query(config).then(async (result) => {
        answered();
        await gate;
        return result;
      });
    };
    try {
      return await work(open, ran);
    } finally {
      open();
      pool.query = replaced;
    }
  }

  it("a read asked for while one is on its way is read by a statement sent after that one: it sees a change committed meanwhile", async () => {
    const before = (await store.getHeldPayment("hp_4"))._unsafeUnwrap();
    if (before === undefined) throw new Error("hp_4 is stored");
    const changed = decideHeldPayment(
      before,
      { type: "checkout_session_created", sessionId: "cs_4", url: "https://checkout.example/cs_4" },
      { now: T + 1, policy: DEFAULT_HELD_PAYMENT_POLICY },
    )._unsafeUnwrap().state;
    await withFirstReadHeld(async (open, ran) => {
      // Read before the change commits, and still on its way (held back) when it does: the
      // reads asked for after the commit must not be answered by it.
      const inFlight = store.getHeldPayment("hp_4");
      await ran;
      (
        await store.commit({ ...empty, heldPayments: [{ state: changed, expectedVersion: before.version }] })
      )._unsafeUnwrap();
      const after = [store.getHeldPayment("hp_4"), store.getHeldPayment("hp_1")];
      open();
      expect((await inFlight)._unsafeUnwrap()?.version).toBe(before.version);
      expect((await after[0])?._unsafeUnwrap()).toMatchObject({
        version: before.version + 1,
        checkoutSessionId: "cs_4",
      });
      expect((await after[1])?._unsafeUnwrap()?.id).toBe("hp_1");
    });
  });

  it("a read stuck on its way holds the others back 200 ms at most, not until it returns", async () => {
    await withFirstReadHeld(async (open) => {
      const stuck = store.getHeldPayment("hp_5");
      await new Promise((resolve) => setTimeout(resolve, 20));
      const startedAt = Date.now();
      const others = await Promise.all(["hp_1", "hp_2"].map((id) => store.getHeldPayment(id)));
      expect(others.map((r) => r._unsafeUnwrap()?.id)).toEqual(["hp_1", "hp_2"]);
      expect(Date.now() - startedAt).toBeLessThan(2_000);
      open();
      expect((await stuck)._unsafeUnwrap()?.id).toBe("hp_5");
    });
  });
});
