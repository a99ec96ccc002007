// Stripe's side of a reconciliation: a stored balance transaction, with what its source
// said, as a comparable item.
import type { ReconciliationCategory, StripeMoneyItem } from "./reconcile.js";
import {
  effectKey,
  heldChargeKey,
  marketplaceChargeKey,
  marketplaceReversalsKey,
  marketplaceTransferKey,
  membershipInvoiceKey,
  membershipRefundsKey,
  objectKey,
  reversalsKey,
} from "./susu-items.js";

/**
 * One of Stripe's balance transactions as susu stores it (`stripe_balance_transactions`):
 * the transaction's own amounts (settlement currency) and, from its source object, the
 * presentment amount and currency and susu's references from the source's metadata.
 */
export interface StripeBalanceRecord {
  readonly id: string;
  readonly type: string;
  readonly reportingCategory: string;
  /** `pending` or `available`. */
  readonly status: string;
  readonly sourceId: string | null;
  /** The source's `object` (`charge`, `refund`, `transfer`, `transfer_reversal`, `dispute`, `payout`…). */
  readonly sourceObject: string | null;
  /** Settlement amount, fee and net, minor units, signed as Stripe does. */
  readonly amountMinor: number;
  /** Settlement currency, upper case. */
  readonly currency: string;
  readonly feeMinor: number;
  readonly netMinor: number;
  /** Stripe's `exchange_rate` (presentment × rate = settlement, major units); null when not converted. */
  readonly exchangeRate: number | null;
  /** Epoch ms. */
  readonly created: number;
  readonly availableOn: number;
  /** The source's own amount (unsigned, minor units of its currency), when known. */
  readonly presentmentMinor: number | null;
  /** The source's currency, upper case, when known. */
  readonly presentmentCurrency: string | null;
  /** susu's references from the source's metadata (or its charge's, for a dispute). */
  readonly effectId: string | null;
  readonly heldPaymentId: string | null;
  readonly groupId: string | null;
  readonly roundId: string | null;
  /** A marketplace charge and its seller (a destination charge's transfer and reversals: the charge's). */
  readonly marketplaceChargeId: string | null;
  readonly sellerId: string | null;
  /**
   * A membership invoice: the one a charge paid, or whose charge a refund (or its failure)
   * refunded: named by susu's refund's `susu_invoice_id` metadata, else found through the
   * PaymentIntent's invoice payment.
   */
  readonly membershipInvoiceId: string | null;
  /**
   * Why that look-up through the PaymentIntent's invoice payment failed for good (Stripe refused
   * it), so the membership invoice is unknown; null when it succeeded or was not needed.
   */
  readonly membershipLookupFailure: string | null;
  /** For a transfer reversal: the reversed transfer and its `effect_id`. */
  readonly transferId: string | null;
  readonly transferEffectId: string | null;
  /** The source's status (a payout's `paid`/`failed`, a charge's `succeeded`/`pending`…). */
  readonly sourceStatus: string | null;
}

interface Shape {
  readonly category: ReconciliationCategory;
  readonly statusChange?: boolean;
}

/** How Stripe's balance transaction types map to categories; others are `other`. */
function shapeOf(r: StripeBalanceRecord): Shape {
  switch (r.type) {
    case "charge":
    case "payment":
      return { category: "charge" };
    case "payment_failure_refund":
      // A bank debit that failed, or (reporting category refund_failure) a bank refund that did.
      return r.reportingCategory === "refund_failure"
        ? { category: "refund", statusChange: true }
        : { category: "charge", statusChange: true };
    // The uncaptured part of a charge captured for less than it authorised: the pair sums to the capture.
    case "payment_reversal":
      return { category: "charge" };
    case "refund":
    case "payment_refund":
      // Stripe books that uncaptured part as `type=refund`, told apart only by its reporting
      // category (Stripe's reporting categories): counted against the charge, not as a refund
      // susu never asked for.
      return r.reportingCategory === "partial_capture_reversal"
        ? { category: "charge" }
        : { category: "refund" };
    case "refund_failure":
    case "payment_refund_failure":
      return { category: "refund", statusChange: true };
    case "transfer":
      return { category: "transfer" };
    case "transfer_cancel":
    case "transfer_failure":
      return { category: "transfer", statusChange: true };
    case "transfer_refund":
      return { category: "transfer_reversal" };
    case "payout":
      return { category: "payout" };
    case "payout_cancel":
    case "payout_failure":
      return { category: "payout", statusChange: true };
    case "application_fee":
    case "application_fee_refund":
      return { category: "application_fee" };
    case "adjustment":
      if (r.reportingCategory === "dispute") return { category: "dispute" };
      if (r.reportingCategory === "dispute_reversal") return { category: "dispute", statusChange: true };
      // Stripe books a refund that failed after succeeding as an adjustment of this category.
      if (r.reportingCategory === "refund_failure") return { category: "refund", statusChange: true };
      return { category: "other" };
    default:
      return { category: "other" };
  }
}

function keysOf(r: StripeBalanceRecord, category: ReconciliationCategory): string[] {
  const keys: string[] = [];
  if (r.effectId !== null) keys.push(effectKey(r.effectId));
  if (r.sourceId !== null) keys.push(objectKey(r.sourceId));
  if (category === "charge" && r.heldPaymentId !== null) keys.push(heldChargeKey(r.heldPaymentId));
  if (category === "transfer_reversal" && r.transferEffectId !== null)
    keys.push(reversalsKey(r.transferEffectId));
  const m = r.marketplaceChargeId;
  if (m !== null) {
    if (category === "charge") keys.push(marketplaceChargeKey(m));
    // A destination charge's application fee comes back out of its transfer: matched with it.
    if ((category === "transfer" || category === "application_fee") && r.sellerId !== null)
      keys.push(marketplaceTransferKey(m, r.sellerId));
    if (category === "transfer_reversal") keys.push(marketplaceReversalsKey(m));
  }
  const invoice = r.membershipInvoiceId;
  if (invoice !== null) {
    if (category === "charge") keys.push(membershipInvoiceKey(invoice));
    if (category === "refund") keys.push(membershipRefundsKey(invoice));
  }
  if (keys.length === 0) keys.push(objectKey(r.id));
  // Named by its source where it has one: a difference should show the Stripe object.
  return r.sourceId !== null
    ? [objectKey(r.sourceId), ...keys.filter((k) => k !== objectKey(r.sourceId!))]
    : keys;
}

/** The comparable item of a stored balance transaction. */
export function stripeItemOf(r: StripeBalanceRecord): StripeMoneyItem {
  const { category, statusChange } = shapeOf(r);
  const sign = Math.sign(r.amountMinor);
  const presentment =
    r.presentmentMinor !== null && r.presentmentCurrency !== null
      ? { minor: sign * r.presentmentMinor, currency: r.presentmentCurrency }
      : { minor: r.amountMinor, currency: r.currency };
  return {
    balanceTransactionId: r.id,
    type: r.type,
    category,
    sourceId: r.sourceId,
    keys: keysOf(r, category),
    signedMinor: presentment.minor === 0 ? 0 : presentment.minor,
    currency: presentment.currency,
    settlementMinor: r.amountMinor,
    settlementCurrency: r.currency,
    feeMinor: r.feeMinor,
    netMinor: r.netMinor,
    exchangeRate: r.exchangeRate,
    created: r.created,
    ...(statusChange === true ? { statusChange: true } : {}),
    ...(category === "transfer_reversal" && r.transferEffectId !== null
      ? { reversesSusuTransfer: true }
      : {}),
    ...(category === "payout" && r.sourceStatus !== null ? { payoutStatus: r.sourceStatus } : {}),
    ...(r.membershipLookupFailure !== null ? { lookupFailure: r.membershipLookupFailure } : {}),
  };
}
