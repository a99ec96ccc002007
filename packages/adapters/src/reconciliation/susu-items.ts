// susu's side of a reconciliation: which ledger transactions move money at Stripe, and
// what each is matched on.
//
// The ledger's transaction ids are built from the id of the effect that moved the money
// (`roundIds.ledger`, `heldPaymentIds.ledger`, pinned by the domain's id tests), and every
// Stripe object an effect creates carries that effect id as `effect_id` metadata (the
// gateway writes it; it is also the Idempotency-Key). So most keys are `effect:<id>`,
// read back from the ledger id; where the ledger carries the Stripe id itself (a held
// payment's refund, a dispute) the key is `object:<Stripe id>`.
//
// What is comparable, and why:
// - A round's BECS debit: `debit_initiated` is Stripe's `payment` (created when the debit
//   is submitted, pending until it settles), `debit_failed` its `payment_failure_refund`.
//   `debit_settled` moves nothing at Stripe (pending becomes available) and is skipped.
// - A held payment's capture is its Checkout charge (`held_charge:<payment>`, from the
//   charge's `held_payment_id` metadata). The fee earned and the seller's share set aside
//   are inside susu (no Stripe object) and are skipped.
// - Transfers, reversals, refunds and disputes are compared one to one (summed per key).
// - Stripe's own processing fees are not in susu's ledger: they are totalled on Stripe's
//   side only (see `SettlementTotal`), never reported as differences.
// - A marketplace charge's charge is matched by its `marketplace_charge_id` metadata, each
//   seller's transfer by the charge and the seller (a destination charge's own transfer by
//   its charge's metadata), the reversals of its transfers summed per charge, refunds and
//   disputes by their Stripe ids. The fee a destination charge keeps is the difference
//   between its charge and its transfer, so `marketplace_fee_earned` stays inside susu; the
//   fee Stripe refunds to the seller with a destination charge's refund
//   (`application_fee_refund`) is matched with the seller's transfer too (with its
//   correction to Stripe's figure, `marketplace_application_fee_refund_corrected`), and the
//   fee given back toward a refund of separate charges stays inside susu.
// - A membership invoice's payment is matched with its charges by the invoice
//   (`membership_invoice:<invoice>`): Stripe Billing's charge names no susu metadata, so the
//   pull finds its invoice through the charge's PaymentIntent and its invoice payment (see
//   stripe-records.ts). Every refund of an invoice, susu's (one per payment at Stripe) and
//   those made outside susu (Stripe's dashboard), and their failures after success, are summed
//   per invoice (`refunds_of_invoice:<invoice>`): one Stripe refund can be booked partly as
//   susu's (it answered susu's refund call, the payment refunded already) and partly as its own
//   news, so per Stripe refund the two sides need not agree, per invoice they do. A difference
//   still names the Stripe refunds involved (the ledger's `refundId`s and Stripe's sources).
//   Disputes, with their reinstatements, are matched by the dispute's id the ledger carries
//   (`refs.disputeId`), the rest of a loss the books had no room for included
//   (`…:dispute:<d>:lost:rest`, booked when a refund's failure frees room): Stripe withdrew
//   the dispute's whole amount, and gives back at a closure lost the part refunded then.
// - An operator's adjustment (`manual_adjustment`, POST /v1/operations/ledger/adjustments)
//   is compared only when it names a reconciliation item (`refs.reconciliationCategory`,
//   `reconciliationKey`, `reconciliationDirection`): under that category and key, its debits
//   as the amount, `in` money into the platform's balance, `out` out of it — so a correction
//   of a difference (a refund made in Stripe's dashboard that susu never booked, say, under
//   `object:<re_…>`) closes it. One without stays inside susu, out of the comparison.
import { adjustmentReconciliation, type LedgerTransaction, marketplaceAccountPrefix } from "@susu/domain";
import { stripeIdempotencyKey } from "../stripe/stripe-payment-gateway.js";
import { RECONCILIATION_CATEGORIES, type ReconciliationCategory, type SusuMoneyItem } from "./reconcile.js";

/** The key of a Stripe object created by an effect: its `effect_id` metadata, as the gateway wrote it. */
export const effectKey = (effectId: string): string => `effect:${stripeIdempotencyKey(effectId)}`;
/** The key of a Stripe object by its id. */
export const objectKey = (stripeId: string): string => `object:${stripeId}`;
/** The key of a held payment's charge. */
export const heldChargeKey = (heldPaymentId: string): string => `held_charge:${heldPaymentId}`;
/** The key of the reversals of a transfer made by an effect. */
export const reversalsKey = (transferEffectId: string): string =>
  `reversals_of:${stripeIdempotencyKey(transferEffectId)}`;

/** The key of a marketplace charge's charge (its `marketplace_charge_id` metadata). */
export const marketplaceChargeKey = (chargeId: string): string => `marketplace_charge:${chargeId}`;
/** The key of a marketplace charge's transfer to one seller (a destination charge's own transfer included). */
export const marketplaceTransferKey = (chargeId: string, sellerId: string): string =>
  `marketplace_transfer:${chargeId}:${sellerId}`;
/** The key of every reversal of a marketplace charge's transfers. */
export const marketplaceReversalsKey = (chargeId: string): string => `marketplace_reversals:${chargeId}`;

/** The key of a membership invoice's payment: its charges at Stripe (found through their invoice payments). */
export const membershipInvoiceKey = (invoiceId: string): string => `membership_invoice:${invoiceId}`;
/**
 * The key of every refund of a membership invoice (susu's and those made outside susu) and of
 * their failures: every refund of the invoice's charges offers it (see the top of this file).
 */
export const membershipRefundsKey = (invoiceId: string): string => `refunds_of_invoice:${invoiceId}`;

const isReconciliationCategory = (category: string): category is ReconciliationCategory =>
  (RECONCILIATION_CATEGORIES as readonly string[]).includes(category);

/** A ledger transaction's amount: its debits in its (one) currency. */
function amountOf(tx: LedgerTransaction): { readonly minor: number; readonly currency: string } {
  const debits = tx.postings.filter((p) => p.side === "debit");
  const currency = debits[0]?.amount.currency ?? tx.postings[0]?.amount.currency ?? "";
  return { minor: debits.reduce((n, p) => n + p.amount.amountMinor, 0), currency };
}

const strip = (id: string, suffix: RegExp): string | undefined => {
  const m = suffix.exec(id);
  return m === null ? undefined : id.slice(0, m.index);
};

interface Mapped {
  readonly category: ReconciliationCategory;
  readonly key: string;
  /** The Stripe object the ledger names, where the key does not (a membership invoice's refund). */
  readonly objectId?: string;
  /** +1 when money comes into the platform's balance, −1 when it leaves. */
  readonly sign: 1 | -1;
  readonly statusChange?: boolean;
}

/** A key from the Stripe ids in the refs, or one no Stripe item offers (reported missing at Stripe). */
function byRefs(tx: LedgerTransaction, ...names: string[]): string {
  for (const name of names) {
    const value = tx.refs[name];
    if (value !== undefined) return objectKey(value);
  }
  return `ledger:${tx.id}`;
}

/**
 * The Stripe dispute a round's or a held payment's dispute posting names: `…:dispute:<d>`, or
 * `…:withdrawn`, `…:lost`, `…:won`, `…:reinstated` (a member's loss undone when the refund
 * beside it failed after its success: with the loss and the bank's part withdrawn, it sums to
 * what the dispute moved at Stripe), `…:withdrawn:undone` (a surplus charge's withdrawal
 * undone: our refund, out when the dispute was heard, landed whole and the dispute counts the
 * member's loss; or, in rounds stored before, a dispute closed won left its withdrawal beside our
 * refund, which then failed after its success, and it sums with Stripe's dispute_reversal), and
 * `…:withdrawn:again` (that withdrawal booked again when the refund beside it failed after its
 * success).
 */
function disputeOf(id: string): string | undefined {
  return /:dispute:([^:]+)(?::withdrawn|:withdrawn:undone|:withdrawn:again|:lost|:won|:reinstated)?$/.exec(
    id,
  )?.[1];
}

/**
 * The seller a fee refund's debit names (`marketplace:<c>:seller:<s>`, ids escaped as
 * `accountIdPart` does), or `undefined` when it goes toward a refund (`in_flight`).
 */
function feeRefundedToSeller(
  tx: LedgerTransaction,
  chargeId: string,
  side: "debit" | "credit" = "debit",
): string | undefined {
  const prefix = `${marketplaceAccountPrefix(chargeId)}seller:`;
  const account = tx.postings.find((p) => p.side === side && p.account.startsWith(prefix))?.account;
  return account?.slice(prefix.length).replace(/%(25|3A)/g, (escaped) => (escaped === "%25" ? "%" : ":"));
}

/** A refund of a membership invoice (−1), or its failure after success (+1): see the top of this file. */
function membershipRefund(tx: LedgerTransaction, sign: 1 | -1): Mapped {
  const i = tx.refs.invoiceId;
  // Outside refunds carry it in their refs; susu's own per payment name it in their ledger id
  // (`…:refunded:<r>`, `…:refund-failed:<r>`; `refused` when Stripe made none).
  const named = /:(?:refunded|refund-failed):([^:]+)$/.exec(tx.id)?.[1];
  const refundId = tx.refs.refundId ?? (named !== "refused" ? named : undefined);
  return {
    category: "refund",
    key: i ? membershipRefundsKey(i) : byRefs(tx, "refundId"),
    sign,
    ...(sign === 1 ? { statusChange: true } : {}),
    ...(refundId !== undefined ? { objectId: refundId } : {}),
  };
}

function mapped(tx: LedgerTransaction): Mapped | undefined {
  const id = tx.id;
  switch (tx.kind) {
    case "debit_initiated": {
      const effect = strip(id, /:initiated(?::late)?$/);
      return { category: "charge", key: effect ? effectKey(effect) : `ledger:${id}`, sign: 1 };
    }
    case "debit_failed": {
      const effect = strip(id, /:failed$/);
      return {
        category: "charge",
        key: effect ? effectKey(effect) : `ledger:${id}`,
        sign: -1,
        statusChange: true,
      };
    }
    case "contribution_refunded": {
      // The rest of a contribution disputed in part before the payout, owed to the member
      // outside Stripe (Stripe refuses a refund of a disputed charge), as a round posted it
      // before `contribution_owed_to_member`: it leaves the pot inside susu, and no Stripe
      // object moves it.
      if (id.endsWith(":rest_owed")) return undefined;
      const dispute = disputeOf(id);
      if (dispute !== undefined) return { category: "dispute", key: objectKey(dispute), sign: -1 };
      const effect = strip(id, /:ledger$/);
      return { category: "refund", key: effect ? effectKey(effect) : `ledger:${id}`, sign: -1 };
    }
    case "contribution_refund_failed": {
      // A dispute closed won (`<round>:dispute:<d>:won`): the bank's part it had taken out of the
      // pot came back with Stripe's `dispute_reversal`, matched with that dispute; so is a
      // surplus charge's withdrawal undone (`<round>:dispute:<d>:withdrawn:undone`: our refund
      // landed whole beside it, or a won dispute had left it beside our refund, which failed).
      const won = id.endsWith(":won") || id.endsWith(":withdrawn:undone") ? disputeOf(id) : undefined;
      if (won !== undefined) return { category: "dispute", key: objectKey(won), sign: 1, statusChange: true };
      // A refund Stripe failed after its success (`refund_failure` at Stripe), reversed in the
      // books when the member disputes the charge: the money came back, matched with the refund.
      const effect = strip(id, /:ledger:failed$/);
      return {
        category: "refund",
        key: effect ? effectKey(effect) : `ledger:${id}`,
        sign: 1,
        statusChange: true,
      };
    }
    case "payout_transferred":
    case "held_transferred": {
      const effect = strip(id, /:ledger$/);
      return { category: "transfer", key: effect ? effectKey(effect) : `ledger:${id}`, sign: -1 };
    }
    case "transfer_reversed": {
      const transferEffect = strip(id, /:reversed:\d+$/);
      return {
        category: "transfer_reversal",
        key: transferEffect ? reversalsKey(transferEffect) : `ledger:${id}`,
        sign: 1,
      };
    }
    case "held_transfer_reversed": {
      const effect = strip(id, /:ledger$/);
      return { category: "transfer_reversal", key: effect ? effectKey(effect) : `ledger:${id}`, sign: 1 };
    }
    case "dispute_loss":
    case "held_dispute_lost": {
      const dispute = tx.refs.disputeId ?? disputeOf(id);
      return { category: "dispute", key: dispute ? objectKey(dispute) : `ledger:${id}`, sign: -1 };
    }
    case "dispute_reinstated": {
      const dispute = tx.refs.disputeId ?? disputeOf(id);
      return {
        category: "dispute",
        key: dispute ? objectKey(dispute) : `ledger:${id}`,
        sign: 1,
        statusChange: true,
      };
    }
    case "held_captured": {
      const p = tx.refs.heldPaymentId;
      return { category: "charge", key: p ? heldChargeKey(p) : `ledger:${id}`, sign: 1 };
    }
    case "held_refunded":
      return { category: "refund", key: byRefs(tx, "refundId"), sign: -1 };
    // A refund Stripe failed after its success (its `refund_failure` balance transaction): the
    // money came back, matched with the refund by its Stripe id.
    case "held_refund_failed":
    case "marketplace_refund_failed":
      return { category: "refund", key: byRefs(tx, "refundId"), sign: 1, statusChange: true };
    case "marketplace_captured": {
      const c = tx.refs.marketplaceChargeId;
      return { category: "charge", key: c ? marketplaceChargeKey(c) : `ledger:${id}`, sign: 1 };
    }
    case "marketplace_transferred": {
      // `<charge>:ledger:transferred:<seller>`, once per seller whichever attempt paid them.
      const c = tx.refs.marketplaceChargeId;
      const prefix = `${c}:ledger:transferred:`;
      const seller = c && id.startsWith(prefix) ? id.slice(prefix.length) : undefined;
      return {
        category: "transfer",
        key: c && seller ? marketplaceTransferKey(c, seller) : `ledger:${id}`,
        sign: -1,
      };
    }
    case "marketplace_transfer_reversed": {
      // Asked for by the charge, or made by Stripe with a destination charge's refund: summed per charge.
      const c = tx.refs.marketplaceChargeId;
      return { category: "transfer_reversal", key: c ? marketplaceReversalsKey(c) : `ledger:${id}`, sign: 1 };
    }
    case "marketplace_application_fee_refunded": {
      // Stripe refunds a destination charge's application fee to the seller's account with the
      // charge's refund (`application_fee_refund`): matched with that seller's transfer, as the
      // fee is. The fee given back toward a refund of separate charges stays inside susu.
      const c = tx.refs.marketplaceChargeId;
      const seller = c === undefined ? undefined : feeRefundedToSeller(tx, c);
      if (c === undefined || seller === undefined) return undefined;
      return { category: "application_fee", key: marketplaceTransferKey(c, seller), sign: -1 };
    }
    case "marketplace_application_fee_refund_corrected": {
      // The fee refund above booked again at Stripe's figure: more given back to the seller
      // (Dr seller) leaves the platform as the fee refund does; less (Cr seller) comes back.
      const c = tx.refs.marketplaceChargeId;
      if (c === undefined) return undefined;
      const more = feeRefundedToSeller(tx, c, "debit");
      const less = more === undefined ? feeRefundedToSeller(tx, c, "credit") : undefined;
      const seller = more ?? less;
      if (seller === undefined) return undefined;
      return { category: "application_fee", key: marketplaceTransferKey(c, seller), sign: more ? -1 : 1 };
    }
    case "marketplace_refunded":
      return { category: "refund", key: byRefs(tx, "refundId"), sign: -1 };
    case "marketplace_dispute_lost":
      return { category: "dispute", key: byRefs(tx, "disputeId"), sign: -1 };
    case "membership_invoice_paid": {
      const i = tx.refs.invoiceId;
      return { category: "charge", key: i ? membershipInvoiceKey(i) : `ledger:${id}`, sign: 1 };
    }
    // susu's refund of an invoice (paid after the membership was canceled), whole or one
    // payment's at a time, and the invoice's charge refunded outside susu; and their reversal
    // when Stripe failed them after they succeeded: summed per invoice.
    case "membership_invoice_refunded":
    case "membership_refunded_outside_susu":
      return membershipRefund(tx, -1);
    case "membership_invoice_refund_failed":
    case "membership_outside_refund_failed":
      return membershipRefund(tx, 1);
    // The invoice's charge taken back by a dispute, its rest booked later included (and given
    // back when won): by the dispute's id.
    case "membership_dispute_lost":
      return { category: "dispute", key: byRefs(tx, "disputeId"), sign: -1 };
    case "membership_dispute_reinstated":
      return { category: "dispute", key: byRefs(tx, "disputeId"), sign: 1, statusChange: true };
    // Inside susu: no Stripe object moves money for these. The rest of a partial loss owed to
    // the customer outside Stripe stays in the platform's balance until an admin pays it by
    // other means (Stripe refuses the refund, `charge_disputed`); the sellers' reversals for it
    // are matched as every reversal is.
    case "held_owed_to_customer":
    case "marketplace_owed_to_customer":
    // Likewise the rest of a round's contribution disputed in part, owed to the member.
    case "contribution_owed_to_member":
    // And what an admin recorded paying of it outside Stripe (a bank transfer, cash): it left
    // the platform, but no Stripe object moved it, so there is nothing at Stripe to match.
    case "held_paid_outside_stripe":
    case "marketplace_paid_outside_stripe":
    case "contribution_paid_outside_stripe":
    // And what a customer paid back outside Stripe of what they got twice (a lost dispute's bank
    // gave back money an admin had paid them): it came back by the same way, no Stripe object.
    case "held_recovered_from_customer":
    case "marketplace_recovered_from_customer":
    case "debit_settled":
    case "held_fee_earned":
    case "held_seller_payable":
    // A superseded refund's money moved between the payment's own accounts (it stays with the platform).
    case "held_refund_superseded":
    case "marketplace_fee_earned":
    case "marketplace_seller_payable":
      return undefined;
    // An operator's correction: compared under the category and key they gave, so it can
    // close a difference; without them it stays inside susu (see the top of this file).
    case "manual_adjustment": {
      const given = adjustmentReconciliation(tx);
      if (given === undefined || !isReconciliationCategory(given.category)) return undefined;
      return { category: given.category, key: given.key, sign: given.direction === "in" ? 1 : -1 };
    }
    default: {
      // A new kind must say here whether Stripe moves money for it, and how it is matched.
      const unmapped: never = tx.kind;
      throw new TypeError(`ledger transaction kind ${String(unmapped)} has no reconciliation mapping`);
    }
  }
}

/**
 * The comparable item of a ledger transaction, or `undefined` for one that moves no money
 * at Stripe (see the top of this file).
 */
export function susuItemOf(tx: LedgerTransaction): SusuMoneyItem | undefined {
  const m = mapped(tx);
  if (m === undefined) return undefined;
  const { minor, currency } = amountOf(tx);
  return {
    ledgerTransactionId: tx.id,
    kind: tx.kind,
    category: m.category,
    key: m.key,
    signedMinor: m.sign * minor,
    currency,
    occurredAt: tx.occurredAt,
    ...(m.statusChange === true ? { statusChange: true } : {}),
    ...(m.objectId !== undefined ? { stripeObjectId: m.objectId } : {}),
  };
}

/** The comparable items of some ledger transactions, in their order. */
export function susuItemsOf(transactions: readonly LedgerTransaction[]): SusuMoneyItem[] {
  return transactions.flatMap((tx) => {
    const item = susuItemOf(tx);
    return item === undefined ? [] : [item];
  });
}
