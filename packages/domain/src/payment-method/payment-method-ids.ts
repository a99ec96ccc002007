import type { PersonId } from "../person/ids.js";

/**
 * The stored ids saved payment methods make: the provider keys of set-ups, detachments
 * and default changes (`Idempotency-Key`s), and the ids of the notices and tickets a
 * method's news makes (outbox keys). Formats are pinned by `payment-method-ids.test.ts`:
 * changing one would repeat a call at the provider or a message to a person.
 */
export const paymentMethodIds = {
  /**
   * A set-up of a new method: `attemptKey` tells a deliberate new set-up from a retry of
   * the same request, which must get the same SetupIntent.
   */
  setup: (personId: PersonId, methodType: string, attemptKey: string): string =>
    `person:${personId}:method_setup:${methodType}:${attemptKey}`,
  /** Detaching a method at the provider: once per method (a detached method stays detached). */
  detach: (paymentMethodId: string): string => `payment_method:${paymentMethodId}:detach`,
  /**
   * Making a method the customer's default at the provider. `version` is the method's
   * stored version once it is the default, so making it the default again later is a new
   * call and not a replay of the first.
   */
  setDefault: (paymentMethodId: string, version: number): string =>
    `payment_method:${paymentMethodId}:default:v${version}`,
  /** The notice to the person that a method a round relied on was removed at the provider. */
  detachedNotice: (paymentMethodId: string): string => `payment_method:${paymentMethodId}:detached:notify`,
  /** The notice to a group's admins that a member's debit was removed at the provider. */
  detachedAdminsNotice: (paymentMethodId: string, groupId: string): string =>
    `payment_method:${paymentMethodId}:detached:group:${groupId}:notify`,
  /** The ticket for a group whose round relied on a method removed at the provider. */
  detachedTicket: (paymentMethodId: string, groupId: string): string =>
    `payment_method:${paymentMethodId}:detached:group:${groupId}:ticket`,
  /**
   * The notice to the person that the card their membership `subscriptionId` is charged on was
   * removed at the provider (once per card and membership: whether it moved to another card or
   * waits for one).
   */
  membershipCardDetachedNotice: (paymentMethodId: string, subscriptionId: string): string =>
    `payment_method:${paymentMethodId}:detached:membership:${subscriptionId}:notify`,
  /** The notice to the person that a mandate became inactive (a mandate never becomes active again). */
  mandateInactiveNotice: (paymentMethodId: string, mandateId: string): string =>
    `payment_method:${paymentMethodId}:mandate:${mandateId}:inactive:notify`,
} as const;
