import type { PersonId } from "../person/ids.js";
import type { Instant } from "../shared/time.js";

/** The kinds of payment method a person can save: a card, or a BECS Direct Debit account. */
export const SAVED_METHOD_TYPES = ["card", "au_becs_debit"] as const;

/** One of {@link SAVED_METHOD_TYPES}. */
export type SavedMethodType = (typeof SAVED_METHOD_TYPES)[number];

/** A BECS mandate's state at the provider, as last read. */
export type SavedMandateStatus = "active" | "inactive" | "pending";

/** What identifies a card to its owner: never the number, only brand, last four digits and expiry. */
export interface SavedCard {
  readonly brand: string;
  readonly last4: string;
  readonly expMonth: number;
  readonly expYear: number;
}

/** What identifies a bank account to its owner: the branch (BSB) and the account number's last four digits. */
export interface SavedBankAccount {
  readonly bsbNumber: string;
  readonly last4: string;
}

/**
 * A payment method as the provider holds it now (read again whenever news of it arrives,
 * so events about it may come in any order). `customerId` absent: it is attached to no
 * customer (detached, or never attached).
 */
export interface ReportedPaymentMethod {
  readonly paymentMethodId: string;
  /** `other` for a kind susu does not save. */
  readonly type: SavedMethodType | "other";
  readonly customerId?: string;
  readonly card?: SavedCard;
  readonly bankAccount?: SavedBankAccount;
  readonly createdAt: Instant;
}

/** Who removed a saved method: its owner through susu, or someone at the provider behind susu's back. */
export type RemovedBy = "person" | "provider";

/**
 * A payment method a person saved (a projection of the provider's payment method, its
 * mandate and the person's choices, not a state machine): what it is, without any number
 * beyond the last four digits, whether it is their default, and whether it was removed.
 * Removed methods are kept (as removed) so late news about them changes nothing.
 */
export interface SavedPaymentMethod {
  /** The provider's id (`pm_…`). */
  readonly id: string;
  readonly personId: PersonId;
  /** The person's customer at the provider, which the method is attached to. */
  readonly customerId: string;
  readonly type: SavedMethodType;
  readonly card?: SavedCard;
  readonly bankAccount?: SavedBankAccount;
  /** A BECS method's mandate, once the set-up that made it is known. */
  readonly mandate?: { readonly mandateId: string; readonly status: SavedMandateStatus };
  /** The person's default method (also the customer's default at the provider). */
  readonly isDefault: boolean;
  /** When the provider created it. */
  readonly createdAt: Instant;
  readonly updatedAt: Instant;
  readonly removal?: { readonly at: Instant; readonly by: RemovedBy };
  /** Optimistic-concurrency version, incremented by every stored change. */
  readonly version: number;
}

/** Whether the method is still the person's (not removed). */
export const isSaved = (m: SavedPaymentMethod): boolean => m.removal === undefined;

/** Whether rounds can debit with it: a saved BECS method whose mandate is active. */
export const canDebitWith = (m: SavedPaymentMethod): boolean =>
  isSaved(m) && m.type === "au_becs_debit" && m.mandate?.status === "active";

/**
 * Whether a saved card can still be charged at `now`: not removed, a card, and not past its
 * expiry (a card is good through the last day of its expiry month, read in UTC). A card whose
 * expiry susu was not told is taken as chargeable: only the provider can say otherwise.
 */
export function canChargeCardAt(m: SavedPaymentMethod, now: Instant): boolean {
  if (!isSaved(m) || m.type !== "card") return false;
  if (m.card === undefined) return true;
  // Date.UTC's month is 0-based: `expMonth` (1-12) there is the first day of the month after.
  return now < Date.UTC(m.card.expYear, m.card.expMonth, 1);
}

/** What news of a method did to the stored one. */
export interface MethodMerge {
  /** The method to store; undefined when there is nothing to store (not the person's and never was). */
  readonly next: SavedPaymentMethod | undefined;
  /** Whether `next` differs from what was stored. */
  readonly changed: boolean;
  /** The provider removed it just now (it was saved, and is attached to the customer no more). */
  readonly detachedByProvider: boolean;
  /** Its mandate became inactive just now (it was saved and not known inactive before). */
  readonly mandateWentInactive: boolean;
}

/**
 * Merges what the provider says of a method now (`reported`; undefined: the provider no
 * longer has it) and of its mandate (when known) into what susu stored (`stored`;
 * undefined: nothing yet) for `personId`, whose customer is `customerId`. The result
 * depends only on the provider's present state, never on the order news arrived in:
 * applying it twice changes nothing the second time. A removed method stays removed.
 */
export function mergeReportedMethod(
  stored: SavedPaymentMethod | undefined,
  reported: ReportedPaymentMethod | undefined,
  owner: { readonly personId: PersonId; readonly customerId: string },
  mandate: { readonly mandateId: string; readonly status: SavedMandateStatus } | undefined,
  now: Instant,
): MethodMerge {
  const attached = reported !== undefined && reported.customerId === owner.customerId;
  const nothing: MethodMerge = {
    next: stored,
    changed: false,
    detachedByProvider: false,
    mandateWentInactive: false,
  };
  if (stored === undefined) {
    if (!attached || reported.type === "other") return { ...nothing, next: undefined };
    const created: SavedPaymentMethod = {
      id: reported.paymentMethodId,
      personId: owner.personId,
      customerId: owner.customerId,
      type: reported.type,
      ...(reported.card !== undefined ? { card: { ...reported.card } } : {}),
      ...(reported.bankAccount !== undefined ? { bankAccount: { ...reported.bankAccount } } : {}),
      ...(mandate !== undefined && reported.type === "au_becs_debit" ? { mandate: { ...mandate } } : {}),
      isDefault: false,
      createdAt: reported.createdAt,
      updatedAt: now,
      version: 0,
    };
    return {
      next: created,
      changed: true,
      detachedByProvider: false,
      mandateWentInactive: created.mandate?.status === "inactive",
    };
  }
  if (!isSaved(stored)) return nothing;
  if (!attached) {
    const next: SavedPaymentMethod = {
      ...stored,
      isDefault: false,
      removal: { at: now, by: "provider" },
      updatedAt: now,
    };
    return { next, changed: true, detachedByProvider: true, mandateWentInactive: false };
  }
  let next: SavedPaymentMethod = stored;
  if (reported.card !== undefined && !sameCard(stored.card, reported.card))
    next = { ...next, card: { ...reported.card } };
  if (reported.bankAccount !== undefined && !sameBank(stored.bankAccount, reported.bankAccount))
    next = { ...next, bankAccount: { ...reported.bankAccount } };
  const mandateWentInactive =
    mandate !== undefined &&
    stored.type === "au_becs_debit" &&
    mandate.status === "inactive" &&
    !(stored.mandate?.mandateId === mandate.mandateId && stored.mandate.status === "inactive");
  if (
    mandate !== undefined &&
    stored.type === "au_becs_debit" &&
    (stored.mandate?.mandateId !== mandate.mandateId || stored.mandate.status !== mandate.status)
  )
    next = { ...next, mandate: { ...mandate } };
  if (next === stored) return nothing;
  return { next: { ...next, updatedAt: now }, changed: true, detachedByProvider: false, mandateWentInactive };
}

function sameCard(a: SavedCard | undefined, b: SavedCard): boolean {
  return (
    a !== undefined &&
    a.brand === b.brand &&
    a.last4 === b.last4 &&
    a.expMonth === b.expMonth &&
    a.expYear === b.expYear
  );
}

function sameBank(a: SavedBankAccount | undefined, b: SavedBankAccount): boolean {
  return a !== undefined && a.bsbNumber === b.bsbNumber && a.last4 === b.last4;
}
