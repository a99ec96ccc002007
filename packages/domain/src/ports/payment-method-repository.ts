import type { ResultAsync } from "neverthrow";
import type { SavedPaymentMethod } from "../payment-method/saved-payment-method.js";
import type { PersonId } from "../person/ids.js";
import type { StorageError } from "./storage.js";

/**
 * Loads people's saved payment methods (written through the unit of work's
 * `paymentMethods`). A method belongs to one person; a store refuses one whose person does
 * not exist (`storage_refused`).
 */
export interface PaymentMethodRepository {
  /** The method with this provider id (`pm_…`), removed or not, or undefined. */
  getPaymentMethod(id: string): ResultAsync<SavedPaymentMethod | undefined, StorageError>;
  /**
   * A person's methods, oldest first (by `createdAt`, then id); removed ones only when
   * `includeRemoved`. Bounded by what one person saves.
   */
  listPaymentMethodsOfPerson(
    personId: PersonId,
    options?: { readonly includeRemoved?: boolean },
  ): ResultAsync<readonly SavedPaymentMethod[], StorageError>;
}
