import { describe, expect, it } from "vitest";
import { DEFAULT_HELD_PAYMENT_POLICY } from "../policy/held-payment-policy.js";
import { InMemoryStore } from "../testing/in-memory-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { SequentialIds } from "../testing/sequential-ids.js";
import { useCaseDepsOn } from "./deps.js";

describe("useCaseDepsOn", () => {
  it("is the store as every repository, the unit of work and the audit log", () => {
    const store = new InMemoryStore();
    const clock = new ManualClock();
    const ids = new SequentialIds();
    expect(useCaseDepsOn(store, { clock, ids })).toStrictEqual({
      people: store,
      groups: store,
      rounds: store,
      heldPayments: store,
      payouts: store,
      marketplaceCharges: store,
      plans: store,
      subscriptions: store,
      paymentMethods: store,
      uow: store,
      audit: store,
      clock,
      ids,
    });
  });

  it("sets what else it is given over them", () => {
    const store = new InMemoryStore();
    const other = new InMemoryStore();
    const deps = useCaseDepsOn(store, {
      clock: new ManualClock(),
      ids: new SequentialIds(),
      rounds: other,
      heldPaymentPolicy: DEFAULT_HELD_PAYMENT_POLICY,
    });
    expect(deps.rounds).toBe(other);
    expect(deps.groups).toBe(store);
    expect(deps.heldPaymentPolicy).toBe(DEFAULT_HELD_PAYMENT_POLICY);
  });
});
