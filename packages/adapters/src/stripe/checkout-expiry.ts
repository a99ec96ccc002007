// Expiring a Checkout Session, for the payment and billing gateways alike.

import type { GatewayError } from "@susu/domain";
import { errAsync, type ResultAsync } from "neverthrow";
import type Stripe from "stripe";

/**
 * Asks Stripe to expire Checkout Session `sessionId` under `idempotencyKey` (already in
 * Stripe's form) and answers `ended` of the session. Stripe expires only an open session: one
 * already complete (the customer paid) or expired is refused, and how it ended, read again, is
 * the answer; a session still open after a refusal keeps the refusal. `call` is the gateway's
 * own wrapper of an SDK call (its errors classified).
 */
export function expireCheckoutSessionAt<A>(
  stripe: Stripe,
  call: <T>(request: () => Promise<T>) => ResultAsync<T, GatewayError>,
  sessionId: string,
  idempotencyKey: string,
  ended: (session: Stripe.Checkout.Session) => ResultAsync<A, GatewayError>,
): ResultAsync<A, GatewayError> {
  return call(() => stripe.checkout.sessions.expire(sessionId, {}, { idempotencyKey }))
    .andThen(ended)
    .orElse((e) =>
      e.type === "gateway_definite" && e.code !== "resource_missing"
        ? call(() => stripe.checkout.sessions.retrieve(sessionId)).andThen((session) =>
            session.status === "open" ? errAsync(e) : ended(session),
          )
        : errAsync(e),
    );
}
