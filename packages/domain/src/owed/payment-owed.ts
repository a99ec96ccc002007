// Recording money owed outside Stripe paid, for the payment aggregates whose customer it is
// owed to: a held payment and a marketplace charge. What is owed is their refunds
// `owed_outside_stripe` (never asked of Stripe, booked on `<agg>:owed_to_customer` when made);
// what was paid, `owedPayments`. Each payment posts `<agg>_paid_outside_stripe` (Dr
// `<agg>:paid_outside_stripe`, Cr `<agg>:owed_to_customer`), tells the customer, and once
// nothing is left resolves the `refund_owed` ticket of every owed refund.
import type { Result } from "neverthrow";
import type { HeldPayment } from "../held-payment/held-payment.js";
import { HELD_PAYMENT_AGGREGATE, type HeldPaymentEffect } from "../held-payment/held-payment-effect.js";
import { heldPaymentIds } from "../held-payment/held-payment-ids.js";
import type { Decision } from "../kernel/decision.js";
import { effectAddress } from "../kernel/effect-address.js";
import { heldPaidOutsideStripe } from "../ledger/held-movements.js";
import type { LedgerError } from "../ledger/ledger.errors.js";
import type { LedgerTransaction } from "../ledger/ledger-transaction.js";
import { marketplacePaidOutsideStripe } from "../ledger/marketplace-movements.js";
import type { MarketplaceCharge } from "../marketplace/marketplace-charge.js";
import {
  MARKETPLACE_CHARGE_AGGREGATE,
  type MarketplaceChargeEffect,
} from "../marketplace/marketplace-charge-effect.js";
import { marketplaceChargeIds } from "../marketplace/marketplace-charge-ids.js";
import { money } from "../money/index.js";
import type { Instant } from "../shared/time.js";
import { owedIds } from "./owed-ids.js";
import type { OwedPaymentError } from "./owed-payment.errors.js";
import {
  decideOwedPayment,
  type OwedOutsideStripe,
  type OwedPaymentDecision,
  owedPaidMinor,
  type RecordOwedPayment,
} from "./owed-payment.js";
import { type OwedBack, type OwedRecovery, owedBackLeftMinor } from "./owed-recovery.js";

/** What a payment aggregate's owed money is made of: its refunds and the payments recorded. */
interface OwingPayment {
  readonly currency: OwedOutsideStripe["currency"];
  readonly refunds: readonly {
    readonly number: number;
    readonly amountMinor: number;
    readonly status: string;
  }[];
  readonly owedPayments?: OwedOutsideStripe["payments"];
  /** What admins recorded recovering from the customer of what they owe back. */
  readonly owedRecoveries?: readonly OwedRecovery[];
  /**
   * Its disputes: a lost one may have taken part of what was owed (`owedTakenMinor`), and of
   * what was paid of it already (`overpaidMinor`).
   */
  readonly disputes: readonly {
    readonly id: string;
    readonly owedTakenMinor?: number;
    readonly overpaidMinor?: number;
  }[];
}

/** The refunds owed to the customer outside Stripe. */
function owedRefunds(s: OwingPayment): OwingPayment["refunds"] {
  return s.refunds.filter((r) => r.status === "owed_outside_stripe");
}

/**
 * What the customer of a held payment or a marketplace charge owes back: what lost disputes gave
 * back beyond what was owed, of what an admin had paid them (their `overpaidMinor`), and what was
 * recovered of it.
 */
export function paymentOwedBack(s: OwingPayment): OwedBack {
  return {
    currency: s.currency,
    bookedMinor: s.disputes.reduce((total, x) => total + (x.overpaidMinor ?? 0), 0),
    recoveries: s.owedRecoveries ?? [],
  };
}

/**
 * What a held payment or a marketplace charge owes its customer outside Stripe, what was paid
 * of it, what lost disputes gave back of it (their `owedTakenMinor`), what they gave back
 * beyond it of what was paid, which the customer still owes back (their `overpaidMinor`, less
 * what was recovered), and the recoveries.
 */
export function paymentOwed(s: OwingPayment): OwedOutsideStripe {
  const takenMinor = s.disputes.reduce((total, x) => total + (x.owedTakenMinor ?? 0), 0);
  const owedBack = paymentOwedBack(s);
  const owedBackMinor = owedBackLeftMinor(owedBack);
  return {
    currency: s.currency,
    bookedMinor: owedRefunds(s).reduce((total, r) => total + r.amountMinor, 0),
    payments: s.owedPayments ?? [],
    ...(takenMinor > 0 ? { takenByDisputesMinor: takenMinor } : {}),
    ...(owedBackMinor > 0 ? { owedBackMinor } : {}),
    ...(owedBack.recoveries.length > 0 ? { recoveries: owedBack.recoveries } : {}),
  };
}

/**
 * What admins recorded paying the customer outside Stripe that no lost dispute has taken as
 * paid twice yet: the payments, less the lost disputes' `overpaidMinor` (what their banks gave
 * back of it, so that the customer got it twice). A later loss beyond what is left and what is
 * still owed takes at most this.
 */
export function owedPaidNotTakenMinor(s: OwingPayment): number {
  const overpaidMinor = s.disputes.reduce((total, x) => total + (x.overpaidMinor ?? 0), 0);
  return owedPaidMinor(s.owedPayments ?? []) - overpaidMinor;
}

/** A posting a valid state builds cannot be refused: a refusal is a bug. */
function posted(tx: Result<LedgerTransaction, LedgerError>, what: string): LedgerTransaction {
  if (tx.isErr())
    throw new Error(`${what}: a posting was refused (${tx.error.code}: ${tx.error.message}); this is a bug`);
  return tx.value;
}

/** The effects of one recorded payment, addressed to aggregate `A`. */
function paymentEffects<A extends typeof HELD_PAYMENT_AGGREGATE | typeof MARKETPLACE_CHARGE_AGGREGATE>(
  aggregate: A,
  s: OwingPayment & { readonly id: string; readonly customer: { readonly email: string } },
  decided: OwedPaymentDecision,
  transaction: LedgerTransaction,
  ticketOf: (id: string, refund: number) => string,
  noticeData: Readonly<Record<string, string | number>>,
) {
  const { payment, leftMinor } = decided;
  const takenMinor = paymentOwed(s).takenByDisputesMinor ?? 0;
  const at = (id: string) => effectAddress(aggregate, s.id, id);
  return [
    { kind: "post_ledger" as const, id: transaction.id, transaction },
    {
      ...at(owedIds.payment.noticePaid(s.id, payment.number)),
      kind: "notify" as const,
      to: { kind: "customer" as const, email: s.customer.email },
      template: "owed_paid_outside_stripe" as const,
      data: {
        ...noticeData,
        currency: s.currency,
        payment: payment.number,
        amountMinor: payment.amountMinor,
        leftMinor,
        reference: payment.reference,
      },
    },
    // Nothing left owed: what each `refund_owed` ticket asked is done.
    ...(leftMinor === 0
      ? owedRefunds(s).map((r) => ({
          ...at(owedIds.payment.resolveRefundOwed(s.id, r.number)),
          kind: "resolve_ticket" as const,
          ticketId: ticketOf(s.id, r.number),
          by: payment.paidBy,
          note: `paid outside Stripe: ${owedPaidMinor(decided.payments)} ${s.currency} in ${payment.number} payment(s), the last ${payment.reference}${
            takenMinor > 0
              ? `; ${takenMinor} ${s.currency} of it given back by the customer's bank (lost disputes)`
              : ""
          }`,
        }))
      : []),
  ];
}

/**
 * A platform admin records paying a held payment's customer outside Stripe (part or all of
 * the refunds owed to them): see {@link decideOwedPayment} for the refusals. Pure.
 */
export function decideHeldOwedPayment(
  s: HeldPayment,
  command: RecordOwedPayment,
  ctx: { readonly now: Instant },
): Result<Decision<HeldPayment, HeldPaymentEffect, never>, OwedPaymentError> {
  return decideOwedPayment(paymentOwed(s), command, ctx.now).map((decided) => {
    const transaction = posted(
      heldPaidOutsideStripe({
        id: owedIds.payment.ledgerPaid(s.id, decided.payment.number),
        heldPaymentId: s.id,
        amount: money(decided.payment.amountMinor, s.currency),
        occurredAt: ctx.now,
        refs: { owedPayment: `${decided.payment.number}` },
      }),
      `held payment ${s.id}`,
    );
    return {
      state: { ...s, owedPayments: decided.payments },
      effects: paymentEffects(
        HELD_PAYMENT_AGGREGATE,
        s,
        decided,
        transaction,
        heldPaymentIds.ticket.refundOwed,
        {
          heldPaymentId: s.id,
          clientReference: s.clientReference,
        },
      ),
    };
  });
}

/**
 * A platform admin records paying a marketplace charge's customer outside Stripe (part or
 * all of the refunds owed to them): see {@link decideOwedPayment} for the refusals. Pure.
 */
export function decideMarketplaceOwedPayment(
  s: MarketplaceCharge,
  command: RecordOwedPayment,
  ctx: { readonly now: Instant },
): Result<Decision<MarketplaceCharge, MarketplaceChargeEffect, never>, OwedPaymentError> {
  return decideOwedPayment(paymentOwed(s), command, ctx.now).map((decided) => {
    const transaction = posted(
      marketplacePaidOutsideStripe({
        id: owedIds.payment.ledgerPaid(s.id, decided.payment.number),
        chargeId: s.id,
        amount: money(decided.payment.amountMinor, s.currency),
        occurredAt: ctx.now,
        refs: { owedPayment: `${decided.payment.number}` },
      }),
      `marketplace charge ${s.id}`,
    );
    return {
      state: { ...s, owedPayments: decided.payments },
      effects: paymentEffects(
        MARKETPLACE_CHARGE_AGGREGATE,
        s,
        decided,
        transaction,
        marketplaceChargeIds.ticket.refundOwed,
        { marketplaceChargeId: s.id, activityId: s.activityId },
      ),
    };
  });
}
