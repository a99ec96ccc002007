// The in-memory store keeps marketplace charges as the port says (and as the PostgreSQL
// store must): versions, the keys it refuses, the look-ups and the newest-first pages.
import { describe, expect, it } from "vitest";
import type { MarketplaceCharge } from "../marketplace/marketplace-charge.js";
import type { Changeset, VersionedChange } from "../ports/storage.js";
import { InMemoryStore } from "./in-memory-store.js";
import {
  after,
  allCreated,
  closed,
  created,
  destinationCommand,
  dispute,
  paid,
  refund,
  refundOk,
  splitCommand,
} from "./marketplace-charge-mothers.js";
import { aReadyPerson } from "./mothers.js";

const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };
const people = ["cus_person", "sel_a", "sel_b", "sel_c"].map((id) => ({
  state: aReadyPerson(id),
  expectedVersion: undefined,
}));
const fresh = (state: MarketplaceCharge): VersionedChange<MarketplaceCharge> => ({
  state,
  expectedVersion: undefined,
});

async function storeWithPeople(): Promise<InMemoryStore> {
  const store = new InMemoryStore();
  (await store.commit({ ...empty, people }))._unsafeUnwrap();
  return store;
}

describe("InMemoryStore as a MarketplaceChargeRepository", () => {
  it("stores a new charge at version 0, then each change at the loaded version + 1, refusing a stale one", async () => {
    const store = await storeWithPeople();
    const charge = created();
    (await store.commit({ ...empty, marketplaceCharges: [fresh(charge)] }))._unsafeUnwrap();
    const settled = after(charge, [paid()]);
    (
      await store.commit({ ...empty, marketplaceCharges: [{ state: settled, expectedVersion: 0 }] })
    )._unsafeUnwrap();
    expect((await store.getMarketplaceCharge("mc1"))._unsafeUnwrap()).toEqual({ ...settled, version: 1 });
    const stale = await store.commit({
      ...empty,
      marketplaceCharges: [{ state: settled, expectedVersion: 0 }],
    });
    expect(stale._unsafeUnwrapErr()).toMatchObject({
      type: "version_conflict",
      aggregate: "marketplace_charge",
      id: "mc1",
    });
    const again = await store.commit({ ...empty, marketplaceCharges: [fresh(charge)] });
    expect(again._unsafeUnwrapErr().type).toBe("version_conflict");
  });

  it("finds a charge by the caller's reference and by its PaymentIntent", async () => {
    const store = await storeWithPeople();
    (
      await store.commit({ ...empty, marketplaceCharges: [fresh(after(created(), [paid()]))] })
    )._unsafeUnwrap();
    expect((await store.findMarketplaceChargeByReference("app_events", "rsvp_1"))._unsafeUnwrap()?.id).toBe(
      "mc1",
    );
    expect(
      (await store.findMarketplaceChargeByReference("other_app", "rsvp_1"))._unsafeUnwrap(),
    ).toBeUndefined();
    expect((await store.findMarketplaceChargeByPaymentIntent("pi_1"))._unsafeUnwrap()?.id).toBe("mc1");
    expect((await store.findMarketplaceChargeByPaymentIntent("pi_2"))._unsafeUnwrap()).toBeUndefined();
  });

  it("refuses a customer or a seller who is not a person, and a second charge with a reference, PaymentIntent or transfer group", async () => {
    const store = new InMemoryStore();
    (await store.commit({ ...empty, people: people.slice(0, 2) }))._unsafeUnwrap();
    const split = await store.commit({ ...empty, marketplaceCharges: [fresh(created(splitCommand))] });
    expect(split._unsafeUnwrapErr()).toMatchObject({ type: "storage_refused" });
    expect(split._unsafeUnwrapErr().message).toContain("sel_b is not a person");
    const noCustomer = created({
      ...destinationCommand,
      customer: { ...destinationCommand.customer, id: "nobody" },
    });
    expect(
      (await store.commit({ ...empty, marketplaceCharges: [fresh(noCustomer)] }))._unsafeUnwrapErr().type,
    ).toBe("storage_refused");
    (
      await store.commit({ ...empty, marketplaceCharges: [fresh(after(created(), [paid()]))] })
    )._unsafeUnwrap();
    const sameReference = created({ ...destinationCommand, id: "mc9" });
    const samePaymentIntent = after(created({ ...destinationCommand, id: "mc9", clientReference: "r9" }), [
      paid(),
    ]);
    for (const state of [
      sameReference,
      samePaymentIntent,
      { ...sameReference, clientReference: "r9", transferGroup: "marketplace_mc1" },
    ])
      expect(
        (await store.commit({ ...empty, marketplaceCharges: [fresh(state)] }))._unsafeUnwrapErr().type,
      ).toBe("duplicate");
    expect((await store.getMarketplaceCharge("mc9"))._unsafeUnwrap()).toBeUndefined();
  });

  it("lists newest first, filtered by customer, any seller of a split, caller and status, in pages", async () => {
    const store = await storeWithPeople();
    const charges = [1, 2, 3].map((n) =>
      after(
        created({
          ...(n === 2 ? splitCommand : destinationCommand),
          id: `mc${n}`,
          clientReference: `ref_${n}`,
          requestedBy: n === 3 ? "other_app" : "app_events",
        }),
        n === 1
          ? [
              {
                type: "payment_succeeded",
                paymentIntentId: "pi_one",
                chargeId: "ch_one",
                transferId: "tr_one",
              },
            ]
          : [],
      ),
    );
    for (const [i, c] of charges.entries())
      (
        await store.commit({ ...empty, marketplaceCharges: [fresh({ ...c, createdAt: c.createdAt + i })] })
      )._unsafeUnwrap();
    const ids = async (q: Parameters<InMemoryStore["listMarketplaceCharges"]>[0]) =>
      (await store.listMarketplaceCharges(q))._unsafeUnwrap().items.map((c) => c.id);
    expect(await ids({ limit: 10 })).toEqual(["mc3", "mc2", "mc1"]);
    expect(await ids({ limit: 10, sellerId: "sel_b" })).toEqual(["mc2"]);
    expect(await ids({ limit: 10, sellerId: "sel_a" })).toEqual(["mc3", "mc2", "mc1"]);
    expect(await ids({ limit: 10, customerId: "cus_person" })).toEqual(["mc3", "mc2", "mc1"]);
    expect(await ids({ limit: 10, customerId: "sel_a" })).toEqual([]);
    expect(await ids({ limit: 10, requestedBy: "app_events" })).toEqual(["mc2", "mc1"]);
    expect(await ids({ limit: 10, status: "settled" })).toEqual(["mc1"]);
    const first = (await store.listMarketplaceCharges({ limit: 2 }))._unsafeUnwrap();
    expect([first.items.map((c) => c.id), first.hasMore]).toEqual([["mc3", "mc2"], true]);
    const next = (await store.listMarketplaceCharges({ limit: 2, startingAfter: "mc2" }))._unsafeUnwrap();
    expect([next.items.map((c) => c.id), next.hasMore]).toEqual([["mc1"], false]);
    expect(await ids({ limit: 2, startingAfter: "nope" })).toEqual([]);
    expect((await store.listMarketplaceCharges({ limit: 101 }))._unsafeUnwrapErr().type).toBe(
      "storage_refused",
    );
  });
});

describe("a marketplace charge's state", () => {
  it("is plain data: it round-trips JSON, as a stored snapshot does", () => {
    const split = after(created(splitCommand), [
      paid(),
      ...allCreated,
      // A refund after a lost dispute is refused (charge_disputed): the dispute is lost while
      // the refund's reversals are in flight, so its loss waits (waitingLossMinor).
      refund(1_000, "customer"),
      dispute(2_000),
      closed("lost", 2_000),
    ]);
    const refunded = after(created(), [paid(), refund(), refundOk(1)]);
    for (const state of [created(), split, refunded])
      expect(JSON.parse(JSON.stringify(state))).toEqual(state);
    expect(split.refunds).toHaveLength(1);
    expect(split.disputes[0]).toMatchObject({ status: "open", waitingLossMinor: 2_000 });
  });
});
