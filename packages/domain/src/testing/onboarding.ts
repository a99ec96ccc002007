import { applyPaymentFact } from "../use-cases/apply-fact.js";
import type { UseCaseDeps } from "../use-cases/deps.js";
import { startPaymentMethodSetup } from "../use-cases/payment-method-use-cases.js";
import { updatePersonPayment, updatePersonReadiness } from "../use-cases/person-use-cases.js";
import type { FakePaymentGateway } from "./fake-payment-gateway.js";

/**
 * Records a person's finished onboarding through the use cases, as Stripe's webhooks would:
 * customer `cus_<id>`, an active mandate `mandate_<id>` with `pm_<id>`, and a connected
 * account `acct_<id>` that can receive. Throws when a use case refuses.
 */
export async function onboardThroughUseCases(deps: UseCaseDeps, personId: string): Promise<void> {
  (
    await updatePersonPayment(
      deps,
      personId,
      {
        customerId: `cus_${personId}`,
        debit: { paymentMethodId: `pm_${personId}`, mandateId: `mandate_${personId}`, mandateActive: true },
        connectedAccountId: `acct_${personId}`,
      },
      "stripe",
    )
  )._unsafeUnwrap();
  (await updatePersonReadiness(deps, personId, { payoutsEnabled: true }, "stripe"))._unsafeUnwrap();
}

/** Each saved card is a set-up of its own (its attempt key). */
let savedCards = 0;

/**
 * A person saves a card as their app does: a set-up through the use case (their customer
 * made first if they have none), confirmed at the fake provider, and the provider's word
 * (`payment_method.attached`) delivered through the fact router, which records it among their
 * saved methods. `paymentMethodId` is the id the provider gives the card (one of Stripe's
 * test cards makes it behave as that card: `pm_card_chargeDeclined`, …); a new `pm_…` when
 * absent. Returns the saved card's id; throws when a use case refuses.
 */
export async function saveCardThroughUseCases(
  deps: UseCaseDeps,
  gateway: FakePaymentGateway,
  personId: string,
  paymentMethodId?: string,
): Promise<string> {
  const setup = (
    await startPaymentMethodSetup(deps, gateway, personId, "card", `card_${++savedCards}`)
  )._unsafeUnwrap();
  const facts = gateway.confirmSetup(setup.setupIntentId, {
    ...(paymentMethodId !== undefined ? { paymentMethodId } : {}),
  });
  for (const fact of facts)
    (await applyPaymentFact(deps, { reader: gateway }, fact, "stripe:evt_saved_card"))._unsafeUnwrap();
  const attached = facts[0];
  if (attached?.kind !== "payment_method_changed") throw new Error("no card attached");
  return attached.paymentMethodId;
}
