import { describe, expect, it } from "vitest";
import { basicPlanTerms, MEMBERSHIP_T0 } from "../testing/membership-mothers.js";
import { UNRESTRICTED_ENTITLEMENTS } from "./entitlements.js";
import { availablePrice, createPlan, decidePlan, type Plan } from "./plan.js";

const now = { now: MEMBERSHIP_T0 };
const created = () => createPlan("pl1", basicPlanTerms, MEMBERSHIP_T0)._unsafeUnwrap();
const withPrice = (): Plan =>
  decidePlan(
    created().state,
    { type: "price_created", key: "aud_month", revision: 1, stripePriceId: "price_1" },
    now,
  )._unsafeUnwrap().state;

describe("plans", () => {
  it("a new plan asks Stripe for each price, on the plan's own product id", () => {
    const { state, effects } = created();
    expect(state).toMatchObject({
      status: "active",
      trialDays: 0,
      prices: [{ key: "aud_month", revision: 1 }],
    });
    expect(effects).toEqual([
      expect.objectContaining({
        kind: "create_plan_price",
        id: "pl1:price:aud_month:r1",
        productId: "susu_plan_pl1",
        productName: "Basic",
        currency: "AUD",
        interval: "month",
        amountMinor: 10_00,
      }),
    ]);
    expect(availablePrice(state, "AUD", "month")).toBeUndefined();
    expect(availablePrice(withPrice(), "AUD", "month")?.stripePriceId).toBe("price_1");
  });

  it.each([
    [{ ...basicPlanTerms, name: "" }, "invalid_plan"],
    [{ ...basicPlanTerms, name: "x".repeat(201) }, "invalid_plan"],
    [{ ...basicPlanTerms, prices: [] }, "invalid_price"],
    [
      { ...basicPlanTerms, prices: [{ currency: "XXX", interval: "month", amountMinor: 100 }] },
      "invalid_price",
    ],
    [
      { ...basicPlanTerms, prices: [{ currency: "AUD", interval: "week", amountMinor: 1000 }] },
      "invalid_price",
    ],
    [
      { ...basicPlanTerms, prices: [{ currency: "AUD", interval: "month", amountMinor: 1 }] },
      "invalid_price",
    ],
    [
      { ...basicPlanTerms, prices: [{ currency: "AUD", interval: "month", amountMinor: 10.5 }] },
      "invalid_price",
    ],
    [
      { ...basicPlanTerms, prices: [{ currency: "AUD", interval: "month", amountMinor: -500 }] },
      "invalid_price",
    ],
    [
      {
        ...basicPlanTerms,
        prices: [
          { currency: "AUD", interval: "month", amountMinor: 1000 },
          { currency: "AUD", interval: "month", amountMinor: 2000 },
        ],
      },
      "invalid_price",
    ],
    [{ ...basicPlanTerms, trialDays: 731 }, "invalid_trial_days"],
    [{ ...basicPlanTerms, trialDays: 1.5 }, "invalid_trial_days"],
    [
      { ...basicPlanTerms, entitlements: { ...UNRESTRICTED_ENTITLEMENTS, maxOpenGroups: -1 } },
      "invalid_entitlements",
    ],
  ])("refuses malformed terms (%#)", (terms, code) => {
    expect(createPlan("pl1", terms, MEMBERSHIP_T0)._unsafeUnwrapErr().code).toBe(code);
  });

  it("a new amount is a new price revision; an unchanged one asks nothing", () => {
    const d = decidePlan(
      withPrice(),
      {
        type: "update",
        prices: [
          { currency: "AUD", interval: "month", amountMinor: 12_00 },
          { currency: "USD", interval: "year", amountMinor: 100_00 },
        ],
      },
      now,
    )._unsafeUnwrap();
    expect(d.effects.map((e) => e.id)).toEqual(["pl1:price:aud_month:r2", "pl1:price:usd_year:r1"]);
    expect(availablePrice(d.state, "AUD", "month")).toBeUndefined();
    const same = decidePlan(
      d.state,
      { type: "update", prices: [{ currency: "AUD", interval: "month", amountMinor: 12_00 }] },
      now,
    );
    expect(same._unsafeUnwrap().effects).toEqual([]);
    const stale = decidePlan(
      d.state,
      { type: "price_created", key: "aud_month", revision: 1, stripePriceId: "p" },
      now,
    );
    expect(stale._unsafeUnwrap().ignored?.code).toBe("no_such_price_revision");
  });

  it("a price reported twice is recorded once", () => {
    const again = decidePlan(
      withPrice(),
      { type: "price_created", key: "aud_month", revision: 1, stripePriceId: "p2" },
      now,
    );
    expect(again._unsafeUnwrap().ignored?.code).toBe("price_already_recorded");
  });

  it("renaming updates the product; archiving deactivates it and closes the plan", () => {
    const renamed = decidePlan(withPrice(), { type: "update", name: "Plus" }, now)._unsafeUnwrap();
    expect(renamed.effects).toEqual([
      expect.objectContaining({
        kind: "update_plan_product",
        id: "pl1:product:v1",
        name: "Plus",
        active: true,
      }),
    ]);
    const archived = decidePlan(withPrice(), { type: "archive" }, now)._unsafeUnwrap();
    expect(archived.effects).toEqual([
      expect.objectContaining({ kind: "update_plan_product", active: false }),
    ]);
    expect(availablePrice(archived.state, "AUD", "month")).toBeUndefined();
    expect(decidePlan(archived.state, { type: "archive" }, now)._unsafeUnwrap().ignored?.code).toBe(
      "already_archived",
    );
    expect(decidePlan(archived.state, { type: "update", name: "X" }, now)._unsafeUnwrapErr().code).toBe(
      "plan_archived",
    );
  });
});
