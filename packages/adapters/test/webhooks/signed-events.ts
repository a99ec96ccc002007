import Stripe from "stripe";
import { debitEvent, eventId, stripeEvent } from "./events.js";

/**
 * The Stripe events one member's debit in one round produces, in Stripe's order, with the
 * metadata susu writes: the kinds a round's 60-odd events are made of. Two of the six move
 * state (`payment_intent.processing`, `payment_intent.succeeded`); the rest are stored
 * ignored at ingest. `created` is in seconds.
 */
export function debitEventsOf(
  refs: { readonly groupId: string; readonly roundId: string; readonly memberId: string },
  created: number,
): Stripe.Event[] {
  const pi = `pi_${refs.roundId}_${refs.memberId}`;
  const charge = `ch_${refs.roundId}_${refs.memberId}`;
  const metadata = { group_id: refs.groupId, round_id: refs.roundId, member_id: refs.memberId, attempt: "1" };
  const chargeObject = { id: charge, object: "charge", payment_intent: pi, metadata };
  const full = { ...refs, attempt: 1 };
  return [
    stripeEvent("payment_intent.created", { id: pi, object: "payment_intent", metadata }, { created }),
    debitEvent("payment_intent.processing", full, { created: created + 1, paymentIntentId: pi }),
    stripeEvent("charge.pending", chargeObject, { created: created + 1 }),
    debitEvent("payment_intent.succeeded", full, { created: created + 2, paymentIntentId: pi }),
    stripeEvent("charge.succeeded", chargeObject, { created: created + 2 }),
    stripeEvent("charge.updated", chargeObject, { created: created + 3 }),
  ];
}

/** `count` events over `rounds` rounds (members m0, m1, …), six per member's debit. */
export function roundEventStream(options: {
  readonly count: number;
  readonly rounds: number;
  readonly created?: number;
  readonly label?: string;
}): Stripe.Event[] {
  const created = options.created ?? Math.floor(Date.now() / 1000);
  const label = options.label ?? eventId("stream").slice(4);
  const events: Stripe.Event[] = [];
  for (let member = 0; events.length < options.count; member += 1)
    for (let round = 0; round < options.rounds && events.length < options.count; round += 1)
      events.push(
        ...debitEventsOf(
          { groupId: `grp_${label}_${round}`, roundId: `round_${label}_${round}`, memberId: `m${member}` },
          created + member,
        ).slice(0, options.count - events.length),
      );
  return events;
}

/** A delivery as Stripe sends it: the raw body and its `Stripe-Signature` header. */
export interface SignedDelivery {
  readonly id: string;
  readonly body: string;
  readonly signature: string;
}

/** Signs `event` with the endpoint's secret (`whsec_…`) as Stripe does, at `timestamp` (s, default now). */
export function signedDelivery(event: Stripe.Event, secret: string, timestamp?: number): SignedDelivery {
  const body = JSON.stringify(event);
  return {
    id: event.id,
    body,
    signature: Stripe.webhooks.generateTestHeaderString({
      payload: body,
      secret,
      ...(timestamp !== undefined ? { timestamp } : {}),
    }),
  };
}
