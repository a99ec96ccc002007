import type { HeldPaymentEffect } from "../held-payment/held-payment-effect.js";
import type { MarketplaceChargeEffect } from "../marketplace/marketplace-charge-effect.js";
import type { PlanEffect, SubscriptionEffect } from "../membership/membership-effect.js";
import type { PaymentMethodEffect } from "../payment-method/payment-method-effect.js";
import type { PayoutEffect } from "../payout/payout-effect.js";
import type { RoundOutboxEffect } from "../round/round-effect.js";

/**
 * The effects that go through the outbox to be executed by a dispatcher: every
 * aggregate's, each naming its aggregate (a round's payment effects by `roundId`, every
 * other effect by `aggregate` and `aggregateId`). A new aggregate adds its outbox effects
 * here and their execution to `executeEffect`.
 */
export type OutboxEffect =
  | RoundOutboxEffect
  | HeldPaymentEffect
  | MarketplaceChargeEffect
  | PayoutEffect
  | PaymentMethodEffect
  | PlanEffect
  | SubscriptionEffect;

/** A saved payment method's effects (detach, default, notices, tickets). */
export function isPaymentMethodEffect(effect: OutboxEffect): effect is PaymentMethodEffect {
  return "aggregate" in effect && effect.aggregate === "payment_method";
}

/** A recorded payout's effects (the notice and ticket of a failure). */
export function isPayoutEffect(effect: OutboxEffect): effect is PayoutEffect {
  return "aggregate" in effect && effect.aggregate === "payout";
}

/** A held payment's effects: all of them go through the outbox. */
export function isHeldPaymentEffect(effect: OutboxEffect): effect is HeldPaymentEffect {
  return "aggregate" in effect && effect.aggregate === "held_payment";
}

/** A marketplace charge's effects: all of them go through the outbox. */
export function isMarketplaceChargeEffect(effect: OutboxEffect): effect is MarketplaceChargeEffect {
  return "aggregate" in effect && effect.aggregate === "marketplace_charge";
}

/** A membership plan's effects (its Stripe product and prices). */
export function isPlanEffect(effect: OutboxEffect): effect is PlanEffect {
  return "aggregate" in effect && effect.aggregate === "plan";
}

/** A subscription's effects: all of them go through the outbox. */
export function isSubscriptionEffect(effect: OutboxEffect): effect is SubscriptionEffect {
  return "aggregate" in effect && effect.aggregate === "subscription";
}
