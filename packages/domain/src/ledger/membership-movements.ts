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
//   membership_refunded_outside_susu
//                                  membership:<s>:paid_in / platform:membership_revenue
//                                  (someone refunded an invoice's charge outside susu, in
//                                  Stripe's dashboard: its revenue goes back, as susu's refund's)
//   membership_outside_refund_failed
//                                  platform:membership_revenue / membership:<s>:paid_in
//                                  (Stripe failed that refund after its success: undone)
//   membership_dispute_lost        membership:<s>:dispute_losses / platform:membership_revenue
//                                  (the person's bank took the invoice's charge back)
//   membership_dispute_reinstated  platform:membership_revenue / membership:<s>:dispute_losses
//                                  (the dispute was won: the money came back)
//
//   membership:<s>:dispute_losses  use     what the person's bank took back through disputes.
//
// So the revenue of one subscription is its `paid_in`'s credit balance less its dispute losses,
// and the platform's is the debit balance of `platform:membership_revenue` (per currency).
// Stripe's fees (a charge's, a dispute's) are not in the ledger, as for every other aggregate:
// the reconciliation compares them apart.
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
  /** What the person's bank took back from subscription s through disputes. */
  disputeLosses: (subscriptionId: string): LedgerAccountId =>
    `membership:${accountIdPart(subscriptionId)}:dispute_losses`,
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

type ChargeNewsInput = MembershipMovementBase & {
  readonly amount: Money;
  readonly invoiceId: string;
  /** The Stripe refund or dispute it books (`refundId` / `disputeId` in the refs). */
  readonly ref: { readonly refundId: string } | { readonly disputeId: string };
};

function chargeNews(
  kind:
    | "membership_refunded_outside_susu"
    | "membership_outside_refund_failed"
    | "membership_dispute_lost"
    | "membership_dispute_reinstated",
  debitOf: (s: string) => LedgerAccountId,
  creditOf: (s: string) => LedgerAccountId,
): (input: ChargeNewsInput) => Result<LedgerTransaction, LedgerError> {
  return (input) =>
    movement<MembershipMovementBase & { readonly amount: Money }>(
      kind,
      debitOf,
      creditOf,
    )({ ...input, refs: { ...input.refs, invoiceId: input.invoiceId, ...input.ref } });
}

/**
 * Invoice i's charge was refunded outside susu (Stripe's dashboard): Dr membership:s:paid_in,
 * Cr platform:membership_revenue, as susu's own refund of an invoice.
 */
export const membershipRefundedOutsideSusu = chargeNews(
  "membership_refunded_outside_susu",
  (s) => membershipAccounts.paidIn(s),
  () => membershipAccounts.revenue(),
);

/** Stripe failed a refund made outside susu after its success: the reverse of {@link membershipRefundedOutsideSusu}. */
export const membershipOutsideRefundFailed = chargeNews(
  "membership_outside_refund_failed",
  () => membershipAccounts.revenue(),
  (s) => membershipAccounts.paidIn(s),
);

/** The person's bank took invoice i's charge back (a dispute): Dr membership:s:dispute_losses, Cr platform:membership_revenue. */
export const membershipDisputeLost = chargeNews(
  "membership_dispute_lost",
  (s) => membershipAccounts.disputeLosses(s),
  () => membershipAccounts.revenue(),
);

/** The dispute was won and the money came back: the reverse of {@link membershipDisputeLost}. */
export const membershipDisputeReinstated = chargeNews(
  "membership_dispute_reinstated",
  () => membershipAccounts.revenue(),
  (s) => membershipAccounts.disputeLosses(s),
);
