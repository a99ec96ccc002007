import type Stripe from "stripe";
import { translateStripeEvent } from "../stripe/event-translator.js";
import { metadataToReferences } from "../stripe/payment-metadata.js";
import { BILLING_METADATA_KEYS } from "../stripe/stripe-billing-gateway.js";

/**
 * What the ingest decides about an event before storing it: its ordering key, and — when
 * the event cannot change any state — why, so it is stored `ignored` at once and no
 * processor ever claims it.
 */
export interface IngestTriage {
  /** Events about one payment or aggregate share it; see {@link orderingKeyOf}. */
  readonly orderingKey: string;
  /** Set when processing the event could do nothing: the reason the processor would record. */
  readonly ignoredReason?: string;
}

/**
 * Triage at ingest. Pure (no I/O, no clock), and decided by the processor's own translator
 * (`translateStripeEvent`), so the two cannot disagree: an event is ignored at ingest only
 * when the translator, which depends on nothing but the event, says `ignored` or
 * `not_handled` — exactly what the processor would record for it, whenever it ran — and
 * the processor does nothing else with it. The one thing the processor does besides
 * translating is recording a card's failed charge for the payment-attempt limits
 * (`charge.failed` with a card fingerprint): such events are always kept. An event the
 * translator throws on is kept, so the processor reports it as it always did.
 */
export function triageAtIngest(event: Stripe.Event): IngestTriage {
  const orderingKey = orderingKeyOf(event);
  if (event.type === "charge.failed") return { orderingKey };
  let translation: ReturnType<typeof translateStripeEvent>;
  try {
    translation = translateStripeEvent(event);
  } catch {
    return { orderingKey };
  }
  switch (translation.kind) {
    case "ignored":
      return { orderingKey, ignoredReason: withoutNul(translation.reason) };
    case "not_handled":
      return { orderingKey, ignoredReason: withoutNul(`not handled: ${translation.reason}`) };
    default:
      return { orderingKey };
  }
}

/** The fields of an event's object the key reads; any of them may be missing. */
interface KeyedObject {
  readonly id?: unknown;
  readonly object?: unknown;
  readonly metadata?: unknown;
  readonly payment_intent?: unknown;
  readonly charge?: unknown;
  readonly subscription?: unknown;
  readonly parent?: { readonly subscription_details?: { readonly metadata?: unknown } | null } | null;
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * The object's metadata, its string values only. Stripe's metadata values are strings; a value
 * that is not (a signed body holding `{"toString": 1}` there) made building the key throw, a
 * TypeError answered 503 for its whole batch on every delivery.
 */
function metadataOf(value: unknown): Stripe.Metadata | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const entries = Object.entries(value);
  if (entries.every(([, v]) => typeof v === "string")) return value as Stripe.Metadata;
  return Object.fromEntries(entries.filter(([, v]) => typeof v === "string"));
}

/** An id or expanded object's id, when it is a non-empty string. */
function idIn(value: unknown): string | undefined {
  return stringOrUndefined(
    typeof value === "object" && value !== null ? (value as { id?: unknown }).id : value,
  );
}

/** Longest key stored: ids are short; a hostile metadata value must not make rows huge. */
const KEY_MAX = 200;

/**
 * The ordering key of an event: the aggregate susu's router applies it to, when the
 * object's metadata names one (`round:<id>`, `held_payment:<id>`, `marketplace_charge:<id>`,
 * `subscription:<id>`, else `group:<id>` or `person:<id>`); else the PaymentIntent a charge,
 * refund or dispute belongs to (`pi:<id>`; a PaymentIntent with susu's metadata keys to its
 * aggregate instead, so a dispute, which carries no metadata, can run beside its payment's
 * events: the aggregates accept facts in any order, at worst a version conflict retried);
 * else the connected account an `account.*` event is about; else the object itself
 * (`<object>:<id>`); and the event id as a last resort. Pure.
 */
export function orderingKeyOf(event: Stripe.Event): string {
  return clipKey(keyOf(event));
}

function keyOf(event: Stripe.Event): string {
  const object = (event.data?.object ?? {}) as KeyedObject;
  const metadata = metadataOf(object.metadata);
  const refs = metadataToReferences(metadata);
  if (refs?.heldPaymentId !== undefined) return `held_payment:${refs.heldPaymentId}`;
  if (refs?.marketplaceChargeId !== undefined) return `marketplace_charge:${refs.marketplaceChargeId}`;
  if (refs?.roundId !== undefined) return `round:${refs.roundId}`;
  const subscription =
    stringOrUndefined(metadata?.[BILLING_METADATA_KEYS.subscriptionId]) ??
    stringOrUndefined(
      metadataOf(object.parent?.subscription_details?.metadata)?.[BILLING_METADATA_KEYS.subscriptionId],
    );
  if (subscription !== undefined) return `subscription:${subscription}`;
  if (refs?.groupId !== undefined) return `group:${refs.groupId}`;
  if (refs?.personId !== undefined) return `person:${refs.personId}`;
  const kind = stringOrUndefined(object.object);
  const paymentIntent = idIn(object.payment_intent);
  if (kind === "payment_intent" && stringOrUndefined(object.id) !== undefined) return `pi:${object.id}`;
  if (paymentIntent !== undefined) return `pi:${paymentIntent}`;
  if (event.type.startsWith("account.") || event.type === "capability.updated") {
    const account =
      stringOrUndefined(event.account) ?? (kind === "account" ? stringOrUndefined(object.id) : undefined);
    if (account !== undefined) return `account:${account}`;
  }
  const chargeId = idIn(object.charge);
  if (kind !== "charge" && chargeId !== undefined) return `charge:${chargeId}`;
  const id = stringOrUndefined(object.id);
  if (id !== undefined) return `${kind ?? "object"}:${id}`;
  return `event:${event.id}`;
}

/** The key clipped, and without NUL characters (a text column cannot hold them). */
function clipKey(key: string): string {
  return withoutNul(key.length <= KEY_MAX ? key : key.slice(0, KEY_MAX));
}

function withoutNul(text: string): string {
  return text.includes("\u0000") ? text.replaceAll("\u0000", "\ufffd") : text;
}
