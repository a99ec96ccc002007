import { describe, expect, it } from "vitest";
import { DEFAULT_HELD_PAYMENT_POLICY } from "../policy/held-payment-policy.js";
import { HOUR_MS } from "../shared/time.js";
import { createHeldPayment, decideHeldPayment } from "./decide.js";
import type { CreateHeldPayment, HeldPayment, HeldPaymentStatus } from "./held-payment.js";
import type { HeldPaymentInput } from "./held-payment-input.js";
import {
  HELD_PAYMENT_TRANSITIONS,
  isHeldPaymentMoveAllowed,
  moveHeldPayment,
} from "./held-payment-transitions.js";

const T0 = Date.UTC(2026, 2, 2);
const LATER = T0 + 80 * HOUR_MS; // past the default 72-hour window
const policy = DEFAULT_HELD_PAYMENT_POLICY;

const command: CreateHeldPayment = {
  id: "hp1",
  clientReference: "booking_42",
  requestedBy: "app_1",
  amountMinor: 10_000,
  currency: "AUD",
  seller: { id: "sel_1", connectedAccountId: "acct_1", canReceive: true },
  description: "Two nights",
  customer: { email: "cy@example.com" },
  fee: { kind: "rate", basisPoints: 1_000 },
  successUrl: "https://app.example/done",
};
// 1.00 AUD with a 0.99 fee: a refund of half takes the seller's whole cent.
const tiny: Partial<CreateHeldPayment> = { amountMinor: 100, fee: { kind: "fixed", amountMinor: 99 } };

function fresh(over: Partial<CreateHeldPayment> = {}): HeldPayment {
  return createHeldPayment({ ...command, ...over }, { now: T0, policy })._unsafeUnwrap().state;
}

function after(state: HeldPayment, inputs: readonly HeldPaymentInput[], now = T0): HeldPayment {
  return inputs.reduce((s, i) => decideHeldPayment(s, i, { now, policy })._unsafeUnwrap().state, state);
}

const paid: HeldPaymentInput = {
  type: "checkout_completed",
  sessionId: "cs_1",
  paymentIntentId: "pi_1",
  paymentStatus: "succeeded",
  chargeId: "ch_1",
};
const processing: HeldPaymentInput = {
  type: "checkout_completed",
  sessionId: "cs_1",
  paymentIntentId: "pi_1",
  paymentStatus: "processing",
};
const asyncOk: HeldPaymentInput = {
  type: "async_payment_succeeded",
  sessionId: "cs_1",
  paymentIntentId: "pi_1",
  chargeId: "ch_1",
};
const asyncFailed: HeldPaymentInput = {
  type: "async_payment_failed",
  sessionId: "cs_1",
  paymentIntentId: "pi_1",
  failureCode: "account_closed",
};
const confirm: HeldPaymentInput = { type: "confirm_fulfilled" };
const due: HeldPaymentInput = { type: "timer", timer: { kind: "release_due" } };
const created1: HeldPaymentInput = { type: "transfer_created", attempt: 1, transferId: "tr_1" };
const dispute: HeldPaymentInput = {
  type: "dispute_created",
  disputeId: "dp_1",
  amountMinor: 10_000,
  reason: "fraudulent",
  stripeStatus: "needs_response",
};
const lost: HeldPaymentInput = {
  type: "dispute_closed",
  disputeId: "dp_1",
  outcome: "lost",
  amountMinor: 10_000,
};
const fullRefund: HeldPaymentInput = { type: "refund", by: "admin_1" };

const held = () => after(fresh(), [paid]);
const fulfilled = () => after(held(), [confirm]);
const releasing = () => after(fulfilled(), [due], LATER);
const released = () => after(releasing(), [created1], LATER);
const blocked = () =>
  after(fresh({ seller: { ...command.seller, canReceive: false } }), [paid, confirm, due], LATER);
const retrying = () =>
  after(releasing(), [{ type: "transfer_failed", attempt: 1, failureCode: "balance_insufficient" }], LATER);

describe("HELD_PAYMENT_TRANSITIONS", () => {
  it("final statuses go nowhere; every other status can end", () => {
    // Refunded goes back to refunding only when Stripe fails its refund after the success.
    expect(HELD_PAYMENT_TRANSITIONS.refunded).toEqual(["refunding", "charged_back"]);
    expect(HELD_PAYMENT_TRANSITIONS.charged_back).toEqual([]);
    const reach = (from: HeldPaymentStatus, seen = new Set<HeldPaymentStatus>()): Set<HeldPaymentStatus> => {
      for (const to of HELD_PAYMENT_TRANSITIONS[from])
        if (!seen.has(to)) {
          seen.add(to);
          reach(to, seen);
        }
      return seen;
    };
    for (const status of Object.keys(HELD_PAYMENT_TRANSITIONS) as HeldPaymentStatus[]) {
      if (HELD_PAYMENT_TRANSITIONS[status].length === 0) continue;
      const ends = reach(status);
      expect(ends.has("refunded") || ends.has("released") || ends.has("charged_back"), status).toBe(true);
    }
  });

  it("moveHeldPayment throws on a move the table does not list: a bug, not an outcome", () => {
    expect(() => moveHeldPayment(fresh(), "released")).toThrow(
      /held_payment hp1: awaiting_payment → released is not in its transition table/,
    );
    expect(() => moveHeldPayment({ ...fresh(), status: "refunded" }, "held")).toThrow(/refunded → held/);
    expect(isHeldPaymentMoveAllowed("released", "held")).toBe(false);
  });

  it("leaving release_blocked clears why it was blocked", () => {
    const b = blocked();
    expect(b.status).toBe("release_blocked");
    expect(b.blockKind).toBe("seller_cannot_receive");
    const moved = moveHeldPayment(b, "releasing");
    expect("blockedReason" in moved || "blockKind" in moved).toBe(false);
  });

  // Each listed move is made by decide in one step: the table is what the payment does.
  // (The model-based test checks the other way: every change it sees is listed.)
  const moves: [
    string,
    () => HeldPayment,
    HeldPaymentInput,
    HeldPaymentStatus,
    HeldPaymentStatus,
    number?,
  ][] = [
    ["is paid by a delayed method", fresh, processing, "awaiting_payment", "payment_processing"],
    ["is paid", fresh, paid, "awaiting_payment", "held"],
    ["fails before completing", fresh, asyncFailed, "awaiting_payment", "payment_failed"],
    ["expires unpaid", fresh, { type: "checkout_expired", sessionId: "cs_1" }, "awaiting_payment", "expired"],
    [
      "settles its delayed payment",
      () => after(fresh(), [processing]),
      asyncOk,
      "payment_processing",
      "held",
    ],
    [
      "settles its delayed payment after the booking's window ended",
      () => after(fresh(), [processing, confirm]),
      asyncOk,
      "payment_processing",
      "releasing",
      LATER,
    ],
    [
      "settles its delayed payment after the window, for a seller who cannot receive",
      () => after(fresh({ seller: { ...command.seller, canReceive: false } }), [processing, confirm]),
      asyncOk,
      "payment_processing",
      "release_blocked",
      LATER,
    ],
    [
      "fails its delayed payment",
      () => after(fresh(), [processing]),
      asyncFailed,
      "payment_processing",
      "payment_failed",
    ],
    ["comes due", fulfilled, due, "held", "releasing", LATER],
    [
      "comes due for a seller who cannot receive",
      () => after(fresh({ seller: { ...command.seller, canReceive: false } }), [paid, confirm]),
      due,
      "held",
      "release_blocked",
      LATER,
    ],
    [
      "comes due with nothing left for the seller",
      () =>
        after(fresh(tiny), [
          paid,
          confirm,
          { type: "refund", by: "a", amountMinor: 50 },
          { type: "refund_succeeded", refund: 1, attempt: 1, refundId: "re_1" },
        ]),
      due,
      "held",
      "released",
      LATER,
    ],
    ["is not fulfilled", held, { type: "report_unfulfilled", reason: "no room" }, "held", "refunding"],
    ["is charged back before the release", () => after(held(), [dispute]), lost, "held", "charged_back"],
    ["has its transfer land", releasing, created1, "releasing", "released", LATER],
    [
      "has its transfer fail for good",
      releasing,
      { type: "transfer_failed", attempt: 1, failureCode: "account_invalid" },
      "releasing",
      "release_blocked",
      LATER,
    ],
    [
      "is refunded in full while its transfer waits for a retry",
      retrying,
      fullRefund,
      "releasing",
      "refunding",
      LATER,
    ],
    [
      "is charged back while its transfer was in flight",
      () => after(releasing(), [dispute, lost], LATER),
      { type: "transfer_failed", attempt: 1, failureCode: "balance_insufficient" },
      "releasing",
      "charged_back",
      LATER,
    ],
    [
      "is unblocked by the seller's account",
      blocked,
      { type: "seller_account_ready" },
      "release_blocked",
      "releasing",
      LATER,
    ],
    [
      "is released by an admin with nothing left for the seller",
      () =>
        after(
          fresh(tiny),
          [
            paid,
            confirm,
            due,
            { type: "transfer_failed", attempt: 1, failureCode: "account_invalid" },
            { type: "refund", by: "a", amountMinor: 50 },
            { type: "refund_succeeded", refund: 1, attempt: 1, refundId: "re_1" },
          ],
          LATER,
        ),
      { type: "admin_release", by: "admin_1" },
      "release_blocked",
      "released",
      LATER,
    ],
    ["is refunded in full while blocked", blocked, fullRefund, "release_blocked", "refunding", LATER],
    [
      "is charged back while blocked",
      () => after(blocked(), [dispute], LATER),
      lost,
      "release_blocked",
      "charged_back",
      LATER,
    ],
    ["is refunded in full after the release", released, fullRefund, "released", "refunding", LATER],
    [
      "is charged back after the release",
      () => after(released(), [dispute], LATER),
      lost,
      "released",
      "charged_back",
      LATER,
    ],
    [
      "has its full refund land",
      () => after(held(), [fullRefund]),
      { type: "refund_succeeded", refund: 1, attempt: 1, refundId: "re_1" },
      "refunding",
      "refunded",
    ],
    [
      "has its full refund fail after its success",
      () =>
        after(held(), [fullRefund, { type: "refund_succeeded", refund: 1, attempt: 1, refundId: "re_1" }]),
      { type: "refund_failed", refund: 1, attempt: 1, failureCode: "declined" },
      "refunded",
      "refunding",
    ],
    [
      "has its full refund fail after its success, a dispute lost meanwhile",
      () =>
        after(held(), [
          fullRefund,
          { type: "refund_succeeded", refund: 1, attempt: 1, refundId: "re_1" },
          { ...dispute, amountMinor: 100 },
          { ...lost, amountMinor: 100 },
        ]),
      { type: "refund_failed", refund: 1, attempt: 1, failureCode: "declined" },
      "refunded",
      "charged_back",
    ],
    [
      "is charged back when its refund was refused (charge_disputed) and the dispute lost",
      () =>
        after(held(), [
          fullRefund,
          { type: "refund_failed", refund: 1, attempt: 1, failureCode: "charge_disputed" },
          dispute,
        ]),
      lost,
      "refunding",
      "charged_back",
    ],
    [
      "is paid after it expired",
      () => after(fresh(), [{ type: "checkout_expired", sessionId: "cs_1" }]),
      paid,
      "expired",
      "refunding",
    ],
    ["is paid after it failed", () => after(fresh(), [asyncFailed]), asyncOk, "payment_failed", "refunding"],
  ];

  it.each(moves)("decide makes every listed move: a payment that %s", (_, before, input, from, to, now) => {
    const state = before();
    expect(state.status).toBe(from);
    const next = decideHeldPayment(state, input, { now: now ?? T0, policy })._unsafeUnwrap();
    expect(next.ignored).toBeUndefined();
    expect(next.state.status).toBe(to);
  });

  it("the examples cover the whole table", () => {
    const listed = Object.entries(HELD_PAYMENT_TRANSITIONS).flatMap(([from, tos]) =>
      tos.map((to) => `${from}→${to}`),
    );
    expect(moves.map(([, , , from, to]) => `${from}→${to}`).sort()).toEqual(listed.sort());
  });
});
