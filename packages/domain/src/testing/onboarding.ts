import type { UseCaseDeps } from "../use-cases/deps.js";
import { updatePersonPayment, updatePersonReadiness } from "../use-cases/person-use-cases.js";

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
