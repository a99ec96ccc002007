import { defineTransitions } from "../kernel/transitions.js";
import type { HeldPayment, HeldPaymentStatus } from "./held-payment.js";

/**
 * The statuses each status may move to — every move `decideHeldPayment` makes, and no other:
 *
 * - `awaiting_payment → held` when the PaymentIntent succeeded; `→ payment_processing`
 *   when a delayed method is still collecting; `→ payment_failed` when it failed;
 *   `→ expired` when Stripe says the session expired unpaid (its event, or its answer to the
 *   backstop timer's request to expire it), or at the backstop when no session was recorded.
 * - `payment_processing → held` when the delayed payment succeeded, `→ payment_failed` when not;
 *   `→ releasing` (or `→ release_blocked`, the seller cannot receive) when it succeeded after
 *   the booking was confirmed and its window ended: it is captured and released at once.
 * - `held → releasing` when the dispute window ended with nothing in the way;
 *   `→ release_blocked` when the seller cannot receive then; `→ released` when nothing is
 *   left to transfer (refunds took all of the seller's share); `→ refunding` when the
 *   booking was not fulfilled or an admin refunds everything; `→ charged_back` when a lost
 *   dispute took everything.
 * - `releasing → released` when the transfer landed; `→ release_blocked` when it failed
 *   for good, retries ran out, its outcome is unknown, or a dispute opened while it waited
 *   to be retried; `→ refunding` when an admin refunds everything while it waits;
 *   `→ charged_back` when a lost dispute took everything while it waited.
 * - `release_blocked → releasing` when the account is fixed, an admin releases, or the
 *   dispute that froze it is won; `→ released`, `→ refunding`, `→ charged_back` as from `held`.
 * - `released → refunding` when an admin refunds everything that is left;
 *   `→ charged_back` when a lost dispute took everything that was left.
 * - `refunding → refunded` once the refund reached the customer. (A dispute lost while the
 *   refund is pending takes nothing: everything left is already committed to it.)
 *   `→ charged_back` when the refund never reached the customer (Stripe refused it, `charge_disputed`)
 *   and a lost dispute took everything left instead, superseding it — or took part of it, the
 *   rest owed to the customer outside Stripe (Stripe refuses every refund of a charge charged
 *   back), which leaves nothing to do at Stripe either.
 *   `refunding → refunded` also when the refund's card can no longer take money (Stripe failed
 *   it as lost, stolen, expired or canceled): it is owed to the customer outside Stripe.
 * - `expired`, `payment_failed → refunding` when the money arrived after all (it is
 *   refunded at once, and a ticket says so).
 * - `refunded → refunding` when Stripe fails the refund after its success: the customer does
 *   not have the money, and the payment waits for the refund again (the admins' retry, or
 *   owed outside Stripe); `→ charged_back` when a dispute was lost meanwhile (Stripe refuses
 *   every refund of the charge: what the loss did not take is owed outside Stripe).
 * - `charged_back` is final.
 */
const heldPaymentTransitions = defineTransitions<HeldPaymentStatus>("held_payment", {
  awaiting_payment: ["payment_processing", "held", "payment_failed", "expired"],
  payment_processing: ["held", "payment_failed", "releasing", "release_blocked"],
  held: ["releasing", "release_blocked", "released", "refunding", "charged_back"],
  releasing: ["released", "release_blocked", "refunding", "charged_back"],
  release_blocked: ["releasing", "released", "refunding", "charged_back"],
  released: ["refunding", "charged_back"],
  refunding: ["refunded", "charged_back"],
  expired: ["refunding"],
  payment_failed: ["refunding"],
  refunded: ["refunding", "charged_back"],
  charged_back: [],
});

/** The held payment's transition table. */
export const HELD_PAYMENT_TRANSITIONS = heldPaymentTransitions.table;

/** Whether a held payment in status `from` may move to `to` (staying put always may). */
export function isHeldPaymentMoveAllowed(from: HeldPaymentStatus, to: HeldPaymentStatus): boolean {
  return heldPaymentTransitions.allowed(from, to);
}

/** The fields a move may set along with the status. */
export type HeldPaymentMovePatch = Partial<Omit<HeldPayment, "status">>;

/**
 * Moves a payment to `to`, setting `patch` — the one way its status changes. A move the
 * table does not allow throws (a bug in decide). Leaving `release_blocked` clears
 * `blockedReason` and `blockKind`, which only describe the block the payment is in.
 */
export function moveHeldPayment(
  payment: HeldPayment,
  to: HeldPaymentStatus,
  patch: HeldPaymentMovePatch = {},
): HeldPayment {
  heldPaymentTransitions.assertMove(payment.id, payment.status, to);
  // Refunded no more (a refund failed after its success): it has not ended.
  const { endedAt: _ended, ...reopened } = payment;
  const moved: HeldPayment = {
    ...(payment.status === "refunded" ? reopened : payment),
    ...patch,
    status: to,
  };
  if (payment.status !== "release_blocked" || to === "release_blocked") return moved;
  const { blockedReason: _reason, blockKind: _kind, ...unblocked } = moved;
  return unblocked;
}
