// A plan change Stripe held (a pending update) whose expiry views are heard before any news
// showing it held: the call's answer lost, the held view delayed past the expiry. Before, the
// expiry views proved nothing (no held update was known) and the held view, older, only then
// recorded it held: the change stayed pending for ever. Stripe's `pending_update_expired` view
// says a held update expired then; an update of this change shown held later (its view, or the
// call's answer) that expired by then was discarded unpaid: the change is dropped and the person
// told, once, in any order of the news.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DAY_MS } from "../shared/time.js";
import {
  activeSubscription,
  basicMonthly,
  feed,
  MEMBERSHIP_T0,
  proMonthly,
  snapshot,
} from "../testing/membership-mothers.js";
import type { Subscription } from "./subscription.js";
import { decideSubscription } from "./subscription-decide.js";
import type { SubscriptionInput } from "./subscription-input.js";

const HOUR_MS = 3_600_000;
const ASKED_AT = MEMBERSHIP_T0 + 10 * DAY_MS;
const EXPIRES_AT = ASKED_AT + 23 * HOUR_MS;
const held = { stripePriceId: "price_pro_m", expiresAt: EXPIRES_AT, invoiceId: "in_up" };

const decided = (s: Subscription, input: SubscriptionInput, now = ASKED_AT) =>
  decideSubscription(s, input, { now })._unsafeUnwrap();

function asked(): Subscription {
  const s = feed(activeSubscription(), [snapshot("active", 5)]);
  return decided(s, { type: "change_price", price: proMonthly, prorationBehavior: "always_invoice" }).state;
}

const viewAt = (at: number, extra: Record<string, unknown> = {}): SubscriptionInput => {
  const base = snapshot("active", 0) as Extract<SubscriptionInput, { type: "subscription_changed" }>;
  return { type: "subscription_changed", snapshot: { ...base.snapshot, observedAt: at, ...extra } };
};

/** The held view: Stripe's event a second after the request. */
const heldView = viewAt(ASKED_AT + 1000, { pendingUpdate: held });
/** The call's answer (no Stripe time), showing the change held. */
const heldAnswer: SubscriptionInput = {
  type: "subscription_changed",
  snapshot: {
    stripeSubscriptionId: "sub_stripe1",
    status: "active",
    stripePriceId: "price_basic_m",
    cancelAtPeriodEnd: false,
    pendingUpdate: held,
  },
};
/** Stripe discards the update at its expiry: the updated view, then `pending_update_expired`. */
const expiryViews = [viewAt(EXPIRES_AT), viewAt(EXPIRES_AT, { pendingUpdateExpired: true })];

const refusedNotices = (s: Subscription, inputs: readonly SubscriptionInput[]) => {
  let state = s;
  const notices: string[] = [];
  for (const input of inputs) {
    const d = decided(state, input, EXPIRES_AT + HOUR_MS);
    for (const e of d.effects)
      if (e.kind === "notify" && e.template === "membership_change_refused") notices.push(e.id);
    state = d.state;
  }
  return { state, notices };
};

describe("a held plan change whose expiry is heard first", () => {
  it("the held view heard after the expiry views drops the change and tells the person", () => {
    const { state, notices } = refusedNotices(asked(), [...expiryViews, heldView]);
    expect({ pending: state.pendingChange, price: state.price, notices: notices.length }).toEqual({
      pending: undefined,
      price: basicMonthly,
      notices: 1,
    });
  });

  it("the call's answer heard after the expiry views drops it too", () => {
    const { state, notices } = refusedNotices(asked(), [...expiryViews, heldAnswer]);
    expect({ pending: state.pendingChange, notices: notices.length }).toEqual({
      pending: undefined,
      notices: 1,
    });
  });

  it("an expiry heard before the change was asked proves nothing (an earlier update's)", () => {
    const s = feed(activeSubscription(), [snapshot("active", 5)]);
    const early = decided(s, viewAt(ASKED_AT - HOUR_MS, { pendingUpdateExpired: true })).state;
    const again = decided(early, {
      type: "change_price",
      price: proMonthly,
      prorationBehavior: "always_invoice",
    }).state;
    const d = decided(again, heldView);
    expect(d.state.pendingChange?.awaitingPayment?.expiresAt).toBe(EXPIRES_AT);
  });

  it("an expiry of another, earlier update (before this one's expiry) does not drop this one", () => {
    const { state, notices } = refusedNotices(asked(), [
      viewAt(ASKED_AT + 2000, { pendingUpdateExpired: true }),
      heldView,
    ]);
    expect({ held: state.pendingChange?.awaitingPayment?.expiresAt, notices: notices.length }).toEqual({
      held: EXPIRES_AT,
      notices: 0,
    });
  });

  it("in any order, repeated: the change ends dropped, told once (property)", () => {
    const news = [...expiryViews, heldView, heldAnswer];
    fc.assert(
      fc.property(
        fc.shuffledSubarray(news, { minLength: news.length, maxLength: news.length }),
        fc.nat(news.length - 1),
        (order, dup) => {
          const { state, notices } = refusedNotices(asked(), [...order, order[dup] as SubscriptionInput]);
          expect({ pending: state.pendingChange, price: state.price, notices: notices.length }).toEqual({
            pending: undefined,
            price: basicMonthly,
            notices: 1,
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});
