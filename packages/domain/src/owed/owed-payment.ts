// Money susu owes a customer or a member outside Stripe, and the payments admins record of it.
//
// When Stripe refuses a refund (a charge charged back by a dispute refuses every refund,
// `charge_disputed`), what is still owed is booked on an owed account of the aggregate
// (`held:<p>:owed_to_customer`, `marketplace:<c>:owed_to_customer`,
// `round:<r>:owed_to_member:<m>`) and a ticket asks an admin to pay it by other means (a bank
// transfer, cash). This module is the one rule for recording that they did: in the owed
// currency, positive, at most what is still owed (a part is allowed), with a reference (the
// bank's). Each payment is kept on the aggregate (so a second one sees the first, under the
// aggregate's version check) and moves its amount out of the owed account to the aggregate's
// `paid_outside_stripe` account.
import { err, ok, type Result } from "neverthrow";
import { textLengthWithin } from "../kernel/text.js";
import type { CurrencyCode, Money } from "../money/index.js";
import type { Instant } from "../shared/time.js";
import { type OwedPaymentError, owedPaymentError } from "./owed-payment.errors.js";
import type { OwedRecovery } from "./owed-recovery.js";

/** Longest reference (a bank reference or a short note) an admin may record. */
export const OWED_PAYMENT_REFERENCE_MAX = 200;

/** One payment an admin recorded of money owed outside Stripe. */
export interface OwedPayment {
  /** 1-based, in the order they were recorded on this owed account. */
  readonly number: number;
  /** In the currency of what is owed. */
  readonly amountMinor: number;
  /** How it was paid: the bank transfer's reference, or a note. */
  readonly reference: string;
  /** Who recorded it (the audit actor, `operator:<id>`). */
  readonly paidBy: string;
  readonly recordedAt: Instant;
}

/** What is owed outside Stripe on one owed account, and the payments recorded of it. */
export interface OwedOutsideStripe {
  readonly currency: CurrencyCode;
  /** Everything ever booked as owed (what was paid of it included). */
  readonly bookedMinor: number;
  readonly payments: readonly OwedPayment[];
  /**
   * What the customer's bank gave back of it through lost disputes after it was booked (a
   * dispute that took more than was left to give back at Stripe: the rest came out of what was
   * owed): no longer owed. Absent: nothing.
   */
  readonly takenByDisputesMinor?: number;
  /**
   * What the customer's bank gave back through lost disputes beyond what was still owed, of what
   * had been paid already, less what was recovered from the customer since: the customer got it
   * twice and still owes it back (a ticket asks an admin to recover it). It does not change what
   * is owed. Absent: nothing.
   */
  readonly owedBackMinor?: number;
  /** What admins recorded recovering from the customer of what they owed back. Absent: none. */
  readonly recoveries?: readonly OwedRecovery[];
}

/** What the payments recorded add up to. */
export function owedPaidMinor(payments: readonly OwedPayment[]): number {
  return payments.reduce((total, p) => total + p.amountMinor, 0);
}

/**
 * What is still owed: booked minus paid, minus what lost disputes gave back of it (never
 * below zero in a state this module and the aggregates made).
 */
export function owedLeftMinor(owed: OwedOutsideStripe): number {
  return owed.bookedMinor - owedPaidMinor(owed.payments) - (owed.takenByDisputesMinor ?? 0);
}

/** Whether two references name the same payment: trimmed, ignoring case. */
function sameReference(a: string, b: string): boolean {
  return a.trim().toLowerCase() === b.trim().toLowerCase();
}

/** An admin's command: `amount` of what is owed was paid outside Stripe, with a reference. */
export interface RecordOwedPayment {
  readonly type: "record_owed_payment";
  readonly amount: Money;
  /** The bank transfer's reference, or a note (1–{@link OWED_PAYMENT_REFERENCE_MAX} characters). */
  readonly reference: string;
  /** Who made it (the audit actor, `operator:<id>`). */
  readonly by: string;
}

/** What recording a payment decided: the payment, every payment now, and what is still owed. */
export interface OwedPaymentDecision {
  readonly payment: OwedPayment;
  readonly payments: readonly OwedPayment[];
  readonly leftMinor: number;
}

/**
 * Records a payment of money owed outside Stripe, or refuses it (nothing changes): the
 * currency must be the owed one (`currency_mismatch`), the reference not one recorded already
 * on this account (`duplicate_owed_payment`, compared trimmed and ignoring case: a retry of
 * the request, or a second admin recording the same bank transfer, records it once),
 * something must be owed (`nothing_owed`), the amount positive and at most what is still owed
 * (`amount_exceeds_owed`; a part is allowed), the reference 1–200 characters
 * (`invalid_owed_payment`). Pure.
 */
export function decideOwedPayment(
  owed: OwedOutsideStripe,
  command: RecordOwedPayment,
  now: Instant,
): Result<OwedPaymentDecision, OwedPaymentError> {
  const leftMinor = owedLeftMinor(owed);
  const { amount } = command;
  const reference = command.reference.trim();
  if (amount.currency !== owed.currency)
    return err(
      owedPaymentError(
        "currency_mismatch",
        `what is owed is in ${owed.currency}, the payment is in ${amount.currency}`,
      ),
    );
  const recorded = owed.payments.find((p) => sameReference(p.reference, reference));
  if (recorded !== undefined)
    return err(
      owedPaymentError(
        "duplicate_owed_payment",
        `payment ${recorded.number} (${recorded.amountMinor} ${owed.currency}) was recorded with reference "${recorded.reference}" already`,
      ),
    );
  if (leftMinor <= 0)
    return err(
      owedPaymentError(
        "nothing_owed",
        owed.bookedMinor === 0
          ? "nothing is owed outside Stripe here"
          : (owed.takenByDisputesMinor ?? 0) > 0
            ? "what was owed outside Stripe is all paid or given back by a lost dispute"
            : "what was owed outside Stripe is all paid",
      ),
    );
  if (!Number.isSafeInteger(amount.amountMinor) || amount.amountMinor <= 0)
    return err(owedPaymentError("invalid_owed_payment", "the amount paid must be positive"));
  if (amount.amountMinor > leftMinor)
    return err(
      owedPaymentError(
        "amount_exceeds_owed",
        `${amount.amountMinor} ${owed.currency} is more than the ${leftMinor} ${owed.currency} still owed`,
      ),
    );
  if (!textLengthWithin(reference, 1, OWED_PAYMENT_REFERENCE_MAX))
    return err(
      owedPaymentError(
        "invalid_owed_payment",
        `the reference must be 1 to ${OWED_PAYMENT_REFERENCE_MAX} characters`,
      ),
    );
  const payment: OwedPayment = {
    number: owed.payments.length + 1,
    amountMinor: amount.amountMinor,
    reference,
    paidBy: command.by,
    recordedAt: now,
  };
  return ok({ payment, payments: [...owed.payments, payment], leftMinor: leftMinor - amount.amountMinor });
}
