import { defineTransitions } from "../kernel/transitions.js";
import type { MarketplaceCharge, MarketplaceChargeStatus } from "./marketplace-charge.js";

/**
 * The statuses each status may move to — every move `decideMarketplaceCharge` makes, and no
 * other:
 *
 * - `awaiting_payment → requires_action` when the customer must confirm or authenticate;
 *   `→ processing` when the payment is processing; `→ settled` when a destination charge
 *   succeeded (the seller is paid with it); `→ paying_sellers` when a split's charge
 *   succeeded (transfers asked for); `→ payment_failed` when it failed.
 * - `requires_action`, `processing`: the same, onward (`processing ↔ requires_action` as
 *   Stripe reports them).
 * - `paying_sellers → settled` when every seller's transfer landed; `→ transfer_blocked`
 *   when one was parked or its outcome is unknown; `→ charged_back` when the last transfer
 *   landed and a dispute lost meanwhile took everything (its loss waited for it).
 * - `transfer_blocked → paying_sellers` when an admin retries; `→ settled` when the last
 *   outstanding transfer landed after all; `→ charged_back` as from `paying_sellers`.
 * - `settled → refunding` when everything left is refunded; `→ charged_back` when a lost
 *   dispute took everything left.
 * - `refunding → refunded` once the refund reached the customer; `→ charged_back` when the
 *   refund never reached the customer (Stripe refused it, `charge_disputed`; or a seller's
 *   reversal for it failed, so it was never asked of Stripe) and a lost dispute took
 *   everything left instead, superseding it — or took part of it, the rest owed to the
 *   customer outside Stripe (Stripe refuses every refund of a charge charged back).
 *   `refunding → refunded` also when the refund's card can no longer take money (Stripe failed
 *   it as lost, stolen, expired or canceled): it is owed to the customer outside Stripe.
 * - `requires_action → expired` when the customer did not act in the policy's time and
 *   Stripe confirmed the cancel the expiry timer asked for (until then the charge stays
 *   `requires_action`, and a success that beat the cancel settles it as usual).
 * - `payment_failed → refunding`, `expired → refunding` when the money arrived after all
 *   (refunded at once).
 * - `refunded → refunding` when Stripe fails the refund after its success: the customer does
 *   not have the money, and the charge waits for the refund again (the admins' retry, or
 *   owed outside Stripe); `→ charged_back` when a dispute was lost meanwhile (Stripe refuses
 *   every refund of the charge: the refund is owed outside Stripe).
 * - `charged_back` is final.
 */
const marketplaceChargeTransitions = defineTransitions<MarketplaceChargeStatus>("marketplace_charge", {
  awaiting_payment: ["requires_action", "processing", "paying_sellers", "settled", "payment_failed"],
  requires_action: ["processing", "paying_sellers", "settled", "payment_failed", "expired"],
  processing: ["requires_action", "paying_sellers", "settled", "payment_failed"],
  paying_sellers: ["settled", "transfer_blocked", "charged_back"],
  transfer_blocked: ["paying_sellers", "settled", "charged_back"],
  settled: ["refunding", "charged_back"],
  refunding: ["refunded", "charged_back"],
  payment_failed: ["refunding"],
  expired: ["refunding"],
  refunded: ["refunding", "charged_back"],
  charged_back: [],
});

/** The marketplace charge's transition table. */
export const MARKETPLACE_CHARGE_TRANSITIONS = marketplaceChargeTransitions.table;

/** Whether a charge in status `from` may move to `to` (staying put always may). */
export function isMarketplaceChargeMoveAllowed(
  from: MarketplaceChargeStatus,
  to: MarketplaceChargeStatus,
): boolean {
  return marketplaceChargeTransitions.allowed(from, to);
}

/** The fields a move may set along with the status. */
export type MarketplaceChargeMovePatch = Partial<Omit<MarketplaceCharge, "status">>;

/**
 * Moves a charge to `to`, setting `patch` — the one way its status changes. A move the table
 * does not allow throws (a bug in decide). Leaving `requires_action` drops the client
 * secret, which only serves while the customer must act.
 */
export function moveMarketplaceCharge(
  charge: MarketplaceCharge,
  to: MarketplaceChargeStatus,
  patch: MarketplaceChargeMovePatch = {},
): MarketplaceCharge {
  marketplaceChargeTransitions.assertMove(charge.id, charge.status, to);
  // Refunded no more (a refund failed after its success): it has not ended.
  const { endedAt: _ended, ...reopened } = charge;
  const moved: MarketplaceCharge = {
    ...(charge.status === "refunded" ? reopened : charge),
    ...patch,
    status: to,
  };
  if (to === "requires_action") return moved;
  const { clientSecret: _dropped, ...rest } = moved;
  return rest;
}
