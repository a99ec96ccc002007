import type Stripe from "stripe";

let seq = 0;

/** A unique Stripe-looking event id for this run. */
export function eventId(label = "test"): string {
  seq += 1;
  return `evt_${label}_${Date.now().toString(36)}_${seq}`;
}

/**
 * A Stripe event with the fields the inbox and the translator read. Hand-built for the
 * inbox and processor tests; the translator's own tests (and the end-to-end test) use
 * real events delivered by the emulator.
 */
export function stripeEvent(
  type: string,
  object: Record<string, unknown>,
  options: {
    readonly id?: string;
    readonly created?: number;
    readonly account?: string;
    readonly previousAttributes?: Record<string, unknown>;
  } = {},
): Stripe.Event {
  const event = {
    id: options.id ?? eventId(),
    object: "event",
    api_version: "2026-08-26.dahlia",
    created: options.created ?? Math.floor(Date.now() / 1000),
    data: {
      object,
      ...(options.previousAttributes !== undefined
        ? { previous_attributes: options.previousAttributes }
        : {}),
    },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    ...(options.account !== undefined ? { account: options.account } : {}),
  };
  // The union of every event type cannot be built generically; the tests control the shape.
  return event as unknown as Stripe.Event;
}

/** A `payment_intent.*` event for a round's debit, with the metadata StripePaymentGateway writes. */
export function debitEvent(
  type: "payment_intent.processing" | "payment_intent.succeeded" | "payment_intent.payment_failed",
  refs: { groupId: string; roundId: string; memberId: string; attempt: number },
  options: { readonly id?: string; readonly created?: number; readonly paymentIntentId?: string } = {},
): Stripe.Event {
  const pi = options.paymentIntentId ?? `pi_${refs.roundId}_${refs.memberId}_${refs.attempt}`;
  return stripeEvent(
    type,
    {
      id: pi,
      object: "payment_intent",
      status: type === "payment_intent.succeeded" ? "succeeded" : "processing",
      latest_charge: type === "payment_intent.succeeded" ? `ch_${pi.slice(3)}` : null,
      last_payment_error:
        type === "payment_intent.payment_failed" ? { code: "insufficient_funds", type: "card_error" } : null,
      metadata: {
        group_id: refs.groupId,
        round_id: refs.roundId,
        member_id: refs.memberId,
        attempt: String(refs.attempt),
      },
    },
    options,
  );
}
