// The object store's index self-check (SUSU_EMULATOR_CHECK_INDEXES, on in these tests): a
// lookup through `indexed` is compared with a walk of all records, as indexed lists are, so an
// index left stale fails loudly instead of answering the wrong records.
import { describe, expect, it } from "vitest";
import { ObjectStore, stringKey } from "../src/core/store.js";

interface Dispute {
  id: string;
  charge: string | null;
}

/** Lets the store's scheduled re-key run: records handed out before are no longer watched. */
const settled = () => new Promise<void>((resolve) => setImmediate(resolve));

function disputes(): ObjectStore {
  const store = new ObjectStore();
  store.defineIndex<Dispute>(
    "dispute",
    "charge",
    stringKey((d) => d.charge),
  );
  store.insert<Dispute, null>("dispute", "acct_a", { id: "dp_1", charge: "ch_1" }, null);
  store.insert<Dispute, null>("dispute", "acct_a", { id: "dp_2", charge: "ch_2" }, null);
  store.insert<Dispute, null>("dispute", "acct_b", { id: "dp_3", charge: "ch_1" }, null);
  store.insert<Dispute, null>("dispute", "acct_a", { id: "dp_4", charge: "ch_1" }, null);
  return store;
}

const ids = (store: ObjectStore, owner: string, charge: string) =>
  store.indexed<Dispute>("dispute", owner, "charge", charge).map((r) => r.id);

describe("indexed lookups under the index self-check", () => {
  it("the check is on in the emulator's tests", () => {
    expect(process.env.SUSU_EMULATOR_CHECK_INDEXES).toBe("1");
  });

  it("answers an account's records with the value, oldest first, also after a change through a record handed out", async () => {
    const store = disputes();
    await settled();
    expect(ids(store, "acct_a", "ch_1")).toEqual(["dp_1", "dp_4"]);
    expect(ids(store, "acct_b", "ch_1")).toEqual(["dp_3"]);
    expect(ids(store, "acct_a", "ch_9")).toEqual([]);
    await settled();
    // Changed in place through `record`: the store re-keys it before the next lookup.
    const taken = store.record<Dispute>("dp_2");
    if (taken === undefined) throw new Error("dp_2 is stored");
    taken.obj.charge = "ch_1";
    expect(ids(store, "acct_a", "ch_1")).toEqual(["dp_1", "dp_2", "dp_4"]);
    expect(ids(store, "acct_a", "ch_2")).toEqual([]);
  });

  it("a record changed behind the index's back (through `all`, which is for reading) fails the lookup", async () => {
    const store = disputes();
    await settled();
    const record = store.all<Dispute>("dispute").find((r) => r.id === "dp_2");
    if (record === undefined) throw new Error("dp_2 is stored");
    record.obj.charge = "ch_1";
    // The index still files dp_2 under ch_2: both lookups disagree with the records.
    expect(() => ids(store, "acct_a", "ch_1")).toThrow(
      "index of dispute by charge disagrees with its records",
    );
    expect(() => ids(store, "acct_a", "ch_2")).toThrow(
      "index of dispute by charge disagrees with its records",
    );
  });
});
