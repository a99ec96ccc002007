// Money a customer owes back, and what admins record recovering of it.
//
// A dispute lost after an admin had paid the customer part of a refund owed outside Stripe can
// make the customer's bank give back that part too: the customer got it twice. The aggregate
// books it as the loss's, against its `owed_by_customer` account, and a ticket (`owed_overpaid`)
// asks an admin to recover it. This module is the one rule for recording that they did: in the
// charge's currency, positive, at most what is still owed back (a part is allowed), with a
// reference (the bank's) recorded once. Each recovery is kept on the aggregate (a second one
// sees the first, under the aggregate's version check).
import { err, ok, type Result } from "neverthrow";
import { textLengthWithin } from "../kernel/text.js";
import type { CurrencyCode, Money } from "../money/index.js";
import type { Instant } from "../shared/time.js";
import { type OwedRecoveryError, owedRecoveryError } from "./owed-recovery.errors.js";

/** Longest reference (a bank reference or a short note) an admin may record of a recovery. */
export const OWED_RECOVERY_REFERENCE_MAX = 200;

/** One recovery an admin recorded of money the customer owed back. */
export interface OwedRecovery {
  /** 1-based, in the order they were recorded on this aggregate. */
  readonly number: number;
  /** In the charge's currency. */
  readonly amountMinor: number;
  /** How it came back: the bank transfer's reference, or a note. */
  readonly reference: string;
  /** Who recorded it (the audit actor, `operator:<id>`). */
  readonly recordedBy: string;
  readonly recordedAt: Instant;
  /**
   * The lost disputes whose `owed_overpaid` tickets this recovery resolved: it recovered the last
   * of what was owed back, and these had booked some of it (and were not resolved by an earlier
   * recovery). Absent: none.
   */
  readonly settledDisputeIds?: readonly string[];
}

/** What a customer was booked as owing back, and what was recovered of it. */
export interface OwedBack {
  readonly currency: CurrencyCode;
  /** Everything lost disputes booked as owed back (what was recovered of it included). */
  readonly bookedMinor: number;
  readonly recoveries: readonly OwedRecovery[];
}

/** What the recoveries recorded add up to. */
export function owedRecoveredMinor(recoveries: readonly OwedRecovery[]): number {
  return recoveries.reduce((total, r) => total + r.amountMinor, 0);
}

/** What the customer still owes back: booked minus recovered (never below zero in a state this module made). */
export function owedBackLeftMinor(owed: OwedBack): number {
  return owed.bookedMinor - owedRecoveredMinor(owed.recoveries);
}

/** An admin's command: the customer paid `amount` of what they owe back, with a reference. */
export interface RecordOwedRecovery {
  readonly type: "record_owed_recovery";
  readonly amount: Money;
  /** The bank transfer's reference, or a note (1–{@link OWED_RECOVERY_REFERENCE_MAX} characters). */
  readonly reference: string;
  /** Who recorded it (the audit actor, `operator:<id>`). */
  readonly by: string;
}

/** What recording a recovery decided: the recovery, every recovery now, and what is still owed back. */
export interface OwedRecoveryDecision {
  readonly recovery: OwedRecovery;
  readonly recoveries: readonly OwedRecovery[];
  readonly leftMinor: number;
}

/** Whether two references name the same recovery: trimmed, ignoring case. */
function sameReference(a: string, b: string): boolean {
  return a.trim().toLowerCase() === b.trim().toLowerCase();
}

/**
 * Records money recovered from the customer of what they owe back, or refuses it (nothing
 * changes): the currency must be the charge's (`currency_mismatch`), the reference not one
 * recorded already (`duplicate_owed_recovery`, compared trimmed and ignoring case: a retry of
 * the request, or a second admin recording the same transfer, records it once), something must
 * be owed back (`nothing_owed_back`), the amount positive (`invalid_owed_recovery`) and at most
 * what is still owed back (`amount_exceeds_owed_back`; a part is allowed), the reference 1–200
 * characters (`invalid_owed_recovery`). Pure.
 */
export function decideOwedRecovery(
  owed: OwedBack,
  command: RecordOwedRecovery,
  now: Instant,
): Result<OwedRecoveryDecision, OwedRecoveryError> {
  const leftMinor = owedBackLeftMinor(owed);
  const { amount } = command;
  const reference = command.reference.trim();
  if (amount.currency !== owed.currency)
    return err(
      owedRecoveryError(
        "currency_mismatch",
        `what the customer owes back is in ${owed.currency}, the recovery is in ${amount.currency}`,
      ),
    );
  const recorded = owed.recoveries.find((r) => sameReference(r.reference, reference));
  if (recorded !== undefined)
    return err(
      owedRecoveryError(
        "duplicate_owed_recovery",
        `recovery ${recorded.number} (${recorded.amountMinor} ${owed.currency}) was recorded with reference "${recorded.reference}" already`,
      ),
    );
  if (leftMinor <= 0)
    return err(
      owedRecoveryError(
        "nothing_owed_back",
        owed.bookedMinor === 0
          ? "the customer owes nothing back here"
          : "what the customer owed back is all recovered",
      ),
    );
  if (!Number.isSafeInteger(amount.amountMinor) || amount.amountMinor <= 0)
    return err(owedRecoveryError("invalid_owed_recovery", "the amount recovered must be positive"));
  if (amount.amountMinor > leftMinor)
    return err(
      owedRecoveryError(
        "amount_exceeds_owed_back",
        `${amount.amountMinor} ${owed.currency} is more than the ${leftMinor} ${owed.currency} the customer still owes back`,
      ),
    );
  if (!textLengthWithin(reference, 1, OWED_RECOVERY_REFERENCE_MAX))
    return err(
      owedRecoveryError(
        "invalid_owed_recovery",
        `the reference must be 1 to ${OWED_RECOVERY_REFERENCE_MAX} characters`,
      ),
    );
  const recovery: OwedRecovery = {
    number: owed.recoveries.length + 1,
    amountMinor: amount.amountMinor,
    reference,
    recordedBy: command.by,
    recordedAt: now,
  };
  return ok({
    recovery,
    recoveries: [...owed.recoveries, recovery],
    leftMinor: leftMinor - amount.amountMinor,
  });
}
