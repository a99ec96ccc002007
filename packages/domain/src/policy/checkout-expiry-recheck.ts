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

/**
 * What a recheck of a payment page's end does, once its aggregate has found it still waiting
 * for Stripe's word on the request (a held payment's checkout expiry, a marketplace charge's
 * PaymentIntent cancel). `asked`: the asks made so far (absent, as on a payment stored before
 * rechecks: 1); `ask`: the number of the ask the recheck's timer is for (the backstop's is 1).
 *
 * - `not_due`: an ask already made or not next (a redelivered or stale timer), or susu already
 *   stopped asking: nothing happens, for the reason given;
 * - `ask`: ask Stripe again, as ask number `ask`, under its own key;
 * - `stop`: the recheck after the last of {@link CHECKOUT_EXPIRY_ASKS_MAX} asks: open one
 *   ticket, record `ask` as made (so nothing is asked or ticketed again), ask nothing.
 */
export type ExpiryRecheckStep =
  | { readonly kind: "not_due"; readonly reason: string }
  | { readonly kind: "ask"; readonly ask: number }
  | { readonly kind: "stop"; readonly asked: number; readonly ask: number };

/** The one rule both aggregates' rechecks follow: see {@link ExpiryRecheckStep}. */
export function expiryRecheckStep(asked: number | undefined, ask: number): ExpiryRecheckStep {
  const made = asked ?? 1;
  if (made > CHECKOUT_EXPIRY_ASKS_MAX)
    return { kind: "not_due", reason: `susu stopped asking Stripe after ${CHECKOUT_EXPIRY_ASKS_MAX} asks` };
  if (ask !== made + 1)
    return { kind: "not_due", reason: `recheck ${ask} is not due: Stripe was asked ${made} times` };
  return ask <= CHECKOUT_EXPIRY_ASKS_MAX ? { kind: "ask", ask } : { kind: "stop", asked: made, ask };
}
