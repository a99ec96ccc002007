import type { PersonId } from "./ids.js";

/**
 * The idempotency keys of the Stripe objects a person owns. They are sent to Stripe and
 * stored there (and as `effect_id` metadata), so their formats are fixed: changing one
 * would make a retry create a second customer or account. Pinned by `person.test.ts`.
 *
 * One customer and one connected account per person, whatever groups (and later
 * bookings or sales) they take part in; a debit set-up per deliberate attempt.
 */
export const personKeys = {
  /** The person's one Stripe customer, which owns their payment methods and mandates. */
  customer: (personId: PersonId): string => `person:${personId}:customer`,
  /** The person's one connected account, which receives their payouts. */
  connectedAccount: (personId: PersonId): string => `person:${personId}:connected_account`,
  /**
   * A BECS debit set-up. `attemptKey` tells a deliberate new set-up (after a revoked
   * mandate) from a retry of the same request, which must get the same SetupIntent.
   */
  debitSetup: (personId: PersonId, attemptKey: string): string =>
    `person:${personId}:debit_setup:${attemptKey}`,
} as const;
