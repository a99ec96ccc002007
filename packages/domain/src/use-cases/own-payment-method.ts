import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import { paymentMethodError } from "../payment-method/payment-method.errors.js";
import { canChargeCardAt, isSaved, type SavedPaymentMethod } from "../payment-method/saved-payment-method.js";
import type { PersonId } from "../person/ids.js";
import type { UseCaseDeps, UseCaseError } from "./deps.js";

/** A saved method of the person's that they have not removed, or `payment_method_not_found`. */
export function loadOwnMethod(
  deps: UseCaseDeps,
  personId: PersonId,
  paymentMethodId: string,
): ResultAsync<SavedPaymentMethod, UseCaseError> {
  return deps.paymentMethods
    .getPaymentMethod(paymentMethodId)
    .andThen((m) =>
      m !== undefined && m.personId === personId && isSaved(m)
        ? okAsync(m)
        : errAsync<SavedPaymentMethod, UseCaseError>(
            paymentMethodError(
              "payment_method_not_found",
              `${personId} has no saved payment method ${paymentMethodId}`,
            ),
          ),
    );
}

/**
 * Refuses a card that cannot be charged now (`payment_method_expired`: past the last day of
 * its expiry month, {@link canChargeCardAt}) for `what`; anything else passes as it is (a BECS
 * account is not this rule's). The rule that picks the card a removed card's membership moves
 * to: a membership is never started on, nor moved onto, a card Stripe would decline.
 */
export function refuseExpiredCard(
  deps: UseCaseDeps,
  method: SavedPaymentMethod,
  what: string,
): ResultAsync<SavedPaymentMethod, UseCaseError> {
  if (method.type !== "card" || canChargeCardAt(method, deps.clock.now())) return okAsync(method);
  const expiry = method.card === undefined ? "" : ` (expired ${method.card.expMonth}/${method.card.expYear})`;
  return errAsync(
    paymentMethodError(
      "payment_method_expired",
      `card ${method.id} has expired${expiry} and cannot be charged: ${what} needs a card that can; save another card`,
    ),
  );
}

/**
 * A card the person saved (through susu's set-up, reported by the provider) and has not
 * removed: what a client may name to be charged off session, for `what` (a membership, a
 * marketplace charge). Anything else is `payment_method_not_found`, before anything is
 * stored or asked of the provider: an id never saved (a made-up one, or a provider's test
 * token such as `pm_card_visa`), somebody else's method, a removed one, or a BECS account
 * (susu charges memberships and marketplace charges on cards only; BECS accounts are
 * debited by rounds).
 */
export function loadOwnCard(
  deps: UseCaseDeps,
  personId: PersonId,
  paymentMethodId: string,
  what: string,
): ResultAsync<SavedPaymentMethod, UseCaseError> {
  return loadOwnMethod(deps, personId, paymentMethodId).andThen((m) =>
    m.type === "card"
      ? okAsync(m)
      : errAsync<SavedPaymentMethod, UseCaseError>(
          paymentMethodError(
            "payment_method_not_found",
            `${personId} has no saved card ${paymentMethodId} (it is a BECS bank account): ${what} is charged on a saved card`,
          ),
        ),
  );
}
