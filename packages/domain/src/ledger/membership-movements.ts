// The money movements of a membership (a person pays the platform a subscription), as
// ledger transactions.
//
// Chart of accounts (balance = debits − credits):
//
//   membership:<s>:paid_in         source  credited with every invoice of subscription s paid.
//   platform:membership_revenue    use     the platform's membership revenue, all subscriptions.
//
// Movements (Dr / Cr):
//   membership_invoice_paid        platform:membership_revenue / membership:<s>:paid_in
//   membership_invoice_refunded    membership:<s>:paid_in / platform:membership_revenue
//                                  (susu refunded an invoice paid after the membership was
//                                  canceled before it started: its revenue goes back)
//   membership_invoice_refund_failed
//                                  platform:membership_revenue / membership:<s>:paid_in
//                                  (a refund Stripe failed after it had succeeded: the
//                                  money did not go back, so the refunded posting is
//                                  reversed and the platform holds the money again)
//
// So the revenue of one subscription is its `paid_in`'s credit balance, and the platform's
// is the debit balance of `platform:membership_revenue` (per currency).
import type { Result } from "neverthrow";
import type { Money } from "../money/index.js";
import { accountIdPart } from "./account-id-part.js";
import { type AggregateMovementBase, aggregateMovements } from "./aggregate-movements.js";
import type { LedgerError } from "./ledger.errors.js";
import type { LedgerAccountId, LedgerTransaction } from "./ledger-transaction.js";

/** The accounts of memberships; see the chart at the top of membership-movements.ts. */
export const membershipAccounts = Object.freeze({
  /** What subscription s's person paid, as a source. */
  paidIn: (subscriptionId: string): LedgerAccountId => `membership:${accountIdPart(subscriptionId)}:paid_in`,
  /** The platform's membership revenue (every subscription's). */
  revenue: (): LedgerAccountId => "platform:membership_revenue",
});

interface MembershipMovementBase extends AggregateMovementBase {
  readonly subscriptionId: string;
}

const { movement } = aggregateMovements<MembershipMovementBase>({
  what: "subscription",
  refKey: "subscriptionId",
  idOf: (input) => input.subscriptionId,
});

/** An invoice of subscription s was paid: Dr platform:membership_revenue, Cr membership:s:paid_in. */
export const membershipInvoicePaid: (
  input: MembershipMovementBase & { readonly amount: Money; readonly invoiceId: string },
) => Result<LedgerTransaction, LedgerError> = (input) =>
  movement<MembershipMovementBase & { readonly amount: Money }>(
    "membership_invoice_paid",
    () => membershipAccounts.revenue(),
    (s) => membershipAccounts.paidIn(s),
  )({ ...input, refs: { ...input.refs, invoiceId: input.invoiceId } });

/** Susu refunded invoice i of subscription s in full: Dr membership:s:paid_in, Cr platform:membership_revenue. */
export const membershipInvoiceRefunded: (
  input: MembershipMovementBase & { readonly amount: Money; readonly invoiceId: string },
) => Result<LedgerTransaction, LedgerError> = (input) =>
  movement<MembershipMovementBase & { readonly amount: Money }>(
    "membership_invoice_refunded",
    (s) => membershipAccounts.paidIn(s),
    () => membershipAccounts.revenue(),
  )({ ...input, refs: { ...input.refs, invoiceId: input.invoiceId } });

/**
 * A refund of invoice i of subscription s that had succeeded failed afterwards (the card or
 * bank account could not take it): the reverse of {@link membershipInvoiceRefunded} for the
 * amount that did not go back. Dr platform:membership_revenue, Cr membership:s:paid_in.
 */
export const membershipInvoiceRefundFailed: (
  input: MembershipMovementBase & { readonly amount: Money; readonly invoiceId: string },
) => Result<LedgerTransaction, LedgerError> = (input) =>
  movement<MembershipMovementBase & { readonly amount: Money }>(
    "membership_invoice_refund_failed",
    () => membershipAccounts.revenue(),
    (s) => membershipAccounts.paidIn(s),
  )({ ...input, refs: { ...input.refs, invoiceId: input.invoiceId } });
