import { describe, expect, it } from "vitest";
import {
  after,
  allCreated,
  closed,
  created,
  created1,
  dispute,
  paid,
  marketplaceTestPolicy as policy,
  refund,
  refundOk,
  splitCommand,
  T0,
} from "../testing/marketplace-charge-mothers.js";
import { decideMarketplaceCharge } from "./decide.js";
import type { MarketplaceCharge, MarketplaceChargeStatus } from "./marketplace-charge.js";
import type { MarketplaceChargeInput } from "./marketplace-charge-input.js";
import {
  isMarketplaceChargeMoveAllowed,
  MARKETPLACE_CHARGE_TRANSITIONS,
  moveMarketplaceCharge,
} from "./marketplace-charge-transitions.js";

const action: MarketplaceChargeInput = {
  type: "payment_requires_action",
  paymentIntentId: "pi_1",
  clientSecret: "s",
};
const processing: MarketplaceChargeInput = { type: "payment_processing", paymentIntentId: "pi_1" };
const failed: MarketplaceChargeInput = { type: "payment_failed", failureCode: "card_declined" };
const expiry: MarketplaceChargeInput = { type: "timer", timer: { kind: "action_expired" } };
const cancelled: MarketplaceChargeInput = {
  type: "payment_failed",
  paymentIntentId: "pi_1",
  failureCode: "canceled_abandoned",
};
const parkNow: MarketplaceChargeInput = {
  type: "transfer_failed",
  sellerId: "sel_a",
  attempt: 1,
  failureCode: "account_invalid",
};

const dest = () => created();
const split = () => created(splitCommand);
const blocked = () => after(split(), [paid(), parkNow]);

/** One decision making each move of the table: [from, to, the state before, the input]. */
const moves: [
  MarketplaceChargeStatus,
  MarketplaceChargeStatus,
  () => MarketplaceCharge,
  MarketplaceChargeInput,
][] = [
  ["awaiting_payment", "requires_action", dest, action],
  ["awaiting_payment", "processing", dest, processing],
  ["awaiting_payment", "paying_sellers", split, paid()],
  ["awaiting_payment", "settled", dest, paid()],
  ["awaiting_payment", "payment_failed", dest, failed],
  ["requires_action", "processing", () => after(dest(), [action]), processing],
  ["requires_action", "paying_sellers", () => after(split(), [action]), paid()],
  ["requires_action", "settled", () => after(dest(), [action]), paid()],
  ["requires_action", "payment_failed", () => after(dest(), [action]), failed],
  ["processing", "requires_action", () => after(dest(), [processing]), action],
  ["processing", "paying_sellers", () => after(split(), [processing]), paid()],
  ["processing", "settled", () => after(dest(), [processing]), paid()],
  ["processing", "payment_failed", () => after(dest(), [processing]), failed],
  [
    "paying_sellers",
    "settled",
    () => after(split(), [paid(), created1("sel_a"), created1("sel_b")]),
    created1("sel_c"),
  ],
  ["paying_sellers", "transfer_blocked", () => after(split(), [paid()]), parkNow],
  ["transfer_blocked", "paying_sellers", blocked, { type: "retry_transfers", by: "admin_1" }],
  [
    "transfer_blocked",
    "settled",
    () =>
      after(split(), [
        paid(),
        { type: "transfer_failed", sellerId: "sel_a", attempt: 1, failureCode: "api_error" },
        created1("sel_b"),
        created1("sel_c"),
      ]),
    created1("sel_a"),
  ],
  [
    "paying_sellers",
    "charged_back",
    () => after(split(), [paid(), created1("sel_a"), created1("sel_b"), closed("lost", 10_001)]),
    created1("sel_c"),
  ],
  [
    "transfer_blocked",
    "charged_back",
    () =>
      after(split(), [
        paid(),
        { type: "transfer_failed", sellerId: "sel_a", attempt: 1, failureCode: "api_error" },
        created1("sel_b"),
        created1("sel_c"),
        closed("lost", 10_001),
      ]),
    created1("sel_a"),
  ],
  ["settled", "refunding", () => after(dest(), [paid()]), refund()],
  ["settled", "charged_back", () => after(split(), [paid(), ...allCreated]), closed("lost", 10_001)],
  ["refunding", "refunded", () => after(dest(), [paid(), refund()]), refundOk(1)],
  [
    "refunded",
    "refunding",
    () => after(dest(), [paid(), refund(), refundOk(1)]),
    { type: "refund_failed", refund: 1, attempt: 1, failureCode: "declined" },
  ],
  [
    "refunded",
    "charged_back",
    () => after(dest(), [paid(), refund(), refundOk(1), dispute(100), closed("lost", 100)]),
    { type: "refund_failed", refund: 1, attempt: 1, failureCode: "declined" },
  ],
  [
    "refunding",
    "charged_back",
    () =>
      after(dest(), [
        paid(),
        refund(),
        { type: "refund_failed", refund: 1, attempt: 1, failureCode: "charge_disputed" },
        dispute(10_000),
      ]),
    closed("lost", 10_000),
  ],
  ["payment_failed", "refunding", () => after(dest(), [failed]), paid()],
  ["requires_action", "expired", () => after(dest(), [action, expiry]), cancelled],
  ["expired", "refunding", () => after(dest(), [action, expiry, cancelled]), paid()],
];

describe("MARKETPLACE_CHARGE_TRANSITIONS", () => {
  it("the cases make every move of the table, and only those", () => {
    const table = Object.entries(MARKETPLACE_CHARGE_TRANSITIONS).flatMap(([from, tos]) =>
      tos.map((to) => `${from} → ${to}`),
    );
    expect(moves.map(([from, to]) => `${from} → ${to}`).sort()).toEqual(table.sort());
  });

  it.each(moves)("%s → %s", (from, to, state, input) => {
    const before = state();
    expect(before.status).toBe(from);
    const d = decideMarketplaceCharge(before, input, { now: T0, policy })._unsafeUnwrap();
    expect(d.ignored).toBeUndefined();
    expect(d.state.status).toBe(to);
  });

  it("the final statuses move nowhere, and a move outside the table throws", () => {
    // Refunded goes back to refunding only when Stripe fails its refund after the success.
    expect(MARKETPLACE_CHARGE_TRANSITIONS.refunded).toEqual(["refunding", "charged_back"]);
    expect(MARKETPLACE_CHARGE_TRANSITIONS.charged_back).toEqual([]);
    expect(isMarketplaceChargeMoveAllowed("settled", "settled")).toBe(true);
    expect(isMarketplaceChargeMoveAllowed("settled", "paying_sellers")).toBe(false);
    expect(() => moveMarketplaceCharge(created(), "refunded")).toThrow(/not in its transition table/);
  });
});
