import { type DurationMs, HOUR_MS } from "../shared/time.js";

/**
 * How long after one request that Stripe end a payment page (a held payment's
 * `expire_checkout_session`, a marketplace charge's `cancel_payment`) susu asks again while the
 * payment still waits for Stripe's word. The request goes through the outbox, which retries a
 * failing call for about two hours (`DEFAULT_EFFECT_RETRY`) and then parks it, or parks it at
 * once when Stripe refuses it; Stripe's webhook (`checkout.session.expired`,
 * `payment_intent.canceled`) may never come. Each recheck asks under a new key, so a refusal or
 * a failure Stripe stored under the earlier key is not replayed, and its answer — ended,
 * completed with a payment, or paid — decides as the first answer would have.
 */
export const CHECKOUT_EXPIRY_RECHECK_MS: DurationMs = 6 * HOUR_MS;

/**
 * How many times susu asks Stripe to end one payment page, the backstop's request included:
 * five asks over 24 hours. A recheck due after the last opens one ticket saying susu stopped
 * asking (each parked ask has its own ticket too); the payment still ends when Stripe's word
 * comes, and an operator's replay of a parked ask brings it.
 */
export const CHECKOUT_EXPIRY_ASKS_MAX = 5;
