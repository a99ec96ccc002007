import { HELD_PAYMENT_AGGREGATE } from "../held-payment/held-payment-effect.js";
import { MARKETPLACE_CHARGE_AGGREGATE } from "../marketplace/marketplace-charge-effect.js";
import type { OutboxEffect } from "./outbox-effect.js";

/** The aggregate an outbox effect belongs to: its effects are executed one at a time, in order. */
export interface OutboxAggregate {
  readonly type: string;
  readonly id: string;
}

/**
 * The aggregate an outbox effect belongs to. Effects of one aggregate are executed one at a
 * time in the order they were decided (across every dispatcher); effects of different
 * aggregates may run in parallel. Stored with each outbox row (`aggregate_type`,
 * `aggregate_id`), so the claim can keep the rule in SQL.
 */
export function outboxAggregateOf(effect: OutboxEffect): OutboxAggregate {
  if ("aggregate" in effect) return { type: effect.aggregate, id: effect.aggregateId };
  if (effect.kind !== "post_ledger") return { type: "round", id: effect.roundId };
  // A posting names what it is about in its refs: a round's, a held payment's or a
  // marketplace charge's (their movements always carry `heldPaymentId`, `marketplaceChargeId`).
  const { roundId, heldPaymentId, marketplaceChargeId } = effect.transaction.refs;
  if (roundId !== undefined) return { type: "round", id: roundId };
  if (heldPaymentId !== undefined) return { type: HELD_PAYMENT_AGGREGATE, id: heldPaymentId };
  if (marketplaceChargeId !== undefined)
    return { type: MARKETPLACE_CHARGE_AGGREGATE, id: marketplaceChargeId };
  const { subscriptionId } = effect.transaction.refs;
  if (subscriptionId !== undefined) return { type: "subscription", id: subscriptionId };
  return { type: "ledger", id: effect.transaction.id };
}
