// Recording money recovered from a customer who got it twice, for the payment aggregates whose
// customer it is: a held payment and a marketplace charge. What the customer owes back is what
// their lost disputes booked against `<agg>:owed_by_customer` (`overpaidMinor`: the bank gave back
// money an admin had already paid them outside Stripe); what came back, `owedRecoveries`. Each
// recovery posts `<agg>_recovered_from_customer` (Dr `<agg>:owed_by_customer`, Cr
// `<agg>:paid_outside_stripe`: the admin's payment outside Stripe in reverse, the money coming
// back to the platform by the same way it left), and the one that recovers the last of it
// resolves the `owed_overpaid` ticket of every dispute that booked some of it.
import type { Result } from "neverthrow";
import type { HeldPayment } from "../held-payment/held-payment.js";
import { HELD_PAYMENT_AGGREGATE, type HeldPaymentEffect } from "../held-payment/held-payment-effect.js";
import { heldPaymentIds } from "../held-payment/held-payment-ids.js";
import type { Decision } from "../kernel/decision.js";
import { effectAddress } from "../kernel/effect-address.js";
import { heldRecoveredFromCustomer } from "../ledger/held-movements.js";
import type { LedgerError } from "../ledger/ledger.errors.js";
import type { LedgerTransaction } from "../ledger/ledger-transaction.js";
import { marketplaceRecoveredFromCustomer } from "../ledger/marketplace-movements.js";
import type { MarketplaceCharge } from "../marketplace/marketplace-charge.js";
import {
  MARKETPLACE_CHARGE_AGGREGATE,
  type MarketplaceChargeEffect,
} from "../marketplace/marketplace-charge-effect.js";
import { marketplaceChargeIds } from "../marketplace/marketplace-charge-ids.js";
import { formatMoney, money } from "../money/index.js";
import type { Instant } from "../shared/time.js";
import { owedIds } from "./owed-ids.js";
import type { OwedRecoveryError } from "./owed-recovery.errors.js";
import {
  decideOwedRecovery,
  type OwedRecovery,
  type OwedRecoveryDecision,
  owedRecoveredMinor,
  type RecordOwedRecovery,
} from "./owed-recovery.js";
import { paymentOwedBack } from "./payment-owed.js";

/** What recording a recovery needs of a payment aggregate. */
type RecoveringPayment = Parameters<typeof paymentOwedBack>[0] & { readonly id: string };

/** A posting a valid state builds cannot be refused: a refusal is a bug. */
function posted(tx: Result<LedgerTransaction, LedgerError>, what: string): LedgerTransaction {
  if (tx.isErr())
    throw new Error(`${what}: a posting was refused (${tx.error.code}: ${tx.error.message}); this is a bug`);
  return tx.value;
}

/**
 * The lost disputes whose `owed_overpaid` ticket is still to be resolved once everything owed
 * back is recovered: those that booked some (`overpaidMinor`) and that no earlier recovery
 * resolved (its `settledDisputeIds`).
 */
function disputesToSettle(s: RecoveringPayment): readonly string[] {
  const settled = new Set((s.owedRecoveries ?? []).flatMap((r) => r.settledDisputeIds ?? []));
  return s.disputes.filter((x) => (x.overpaidMinor ?? 0) > 0 && !settled.has(x.id)).map((x) => x.id);
}

/** The recovery decided, with the disputes it settles when it recovers the last of what was owed back. */
function decided(
  s: RecoveringPayment,
  command: RecordOwedRecovery,
  now: Instant,
): Result<OwedRecoveryDecision & { readonly settles: readonly string[] }, OwedRecoveryError> {
  return decideOwedRecovery(paymentOwedBack(s), command, now).map((d) => {
    const settles = d.leftMinor === 0 ? disputesToSettle(s) : [];
    if (settles.length === 0) return { ...d, settles };
    const recovery: OwedRecovery = { ...d.recovery, settledDisputeIds: settles };
    return { ...d, recovery, recoveries: [...d.recoveries.slice(0, -1), recovery], settles };
  });
}

/** The effects of one recorded recovery, addressed to aggregate `A`. */
function recoveryEffects<A extends typeof HELD_PAYMENT_AGGREGATE | typeof MARKETPLACE_CHARGE_AGGREGATE>(
  aggregate: A,
  s: RecoveringPayment,
  d: OwedRecoveryDecision & { readonly settles: readonly string[] },
  transaction: LedgerTransaction,
  ticketOf: (id: string, disputeId: string) => string,
) {
  const { recovery } = d;
  const currency = paymentOwedBack(s).currency;
  const at = (id: string) => effectAddress(aggregate, s.id, id);
  const recovered = formatMoney(money(owedRecoveredMinor(d.recoveries), currency));
  return [
    { kind: "post_ledger" as const, id: transaction.id, transaction },
    // Nothing left owed back: what each `owed_overpaid` ticket asked is done.
    ...d.settles.map((disputeId) => ({
      ...at(owedIds.payment.resolveOwedOverpaid(s.id, disputeId)),
      kind: "resolve_ticket" as const,
      ticketId: ticketOf(s.id, disputeId),
      by: recovery.recordedBy,
      note: `recovered from the customer: ${recovered} in ${recovery.number} recovery(ies), the last ${recovery.reference}; nothing is left owed back`,
    })),
  ];
}

/**
 * A platform admin records that a held payment's customer paid back (outside Stripe) part or all
 * of what they owe back: see {@link decideOwedRecovery} for the refusals. Pure.
 */
export function decideHeldOwedRecovery(
  s: HeldPayment,
  command: RecordOwedRecovery,
  ctx: { readonly now: Instant },
): Result<Decision<HeldPayment, HeldPaymentEffect, never>, OwedRecoveryError> {
  return decided(s, command, ctx.now).map((d) => {
    const transaction = posted(
      heldRecoveredFromCustomer({
        id: owedIds.payment.ledgerRecovered(s.id, d.recovery.number),
        heldPaymentId: s.id,
        amount: money(d.recovery.amountMinor, s.currency),
        occurredAt: ctx.now,
        refs: { owedRecovery: `${d.recovery.number}` },
      }),
      `held payment ${s.id}`,
    );
    return {
      state: { ...s, owedRecoveries: d.recoveries },
      effects: recoveryEffects(HELD_PAYMENT_AGGREGATE, s, d, transaction, heldPaymentIds.ticket.owedOverpaid),
    };
  });
}

/**
 * A platform admin records that a marketplace charge's customer paid back (outside Stripe) part
 * or all of what they owe back: see {@link decideOwedRecovery} for the refusals. Pure.
 */
export function decideMarketplaceOwedRecovery(
  s: MarketplaceCharge,
  command: RecordOwedRecovery,
  ctx: { readonly now: Instant },
): Result<Decision<MarketplaceCharge, MarketplaceChargeEffect, never>, OwedRecoveryError> {
  return decided(s, command, ctx.now).map((d) => {
    const transaction = posted(
      marketplaceRecoveredFromCustomer({
        id: owedIds.payment.ledgerRecovered(s.id, d.recovery.number),
        chargeId: s.id,
        amount: money(d.recovery.amountMinor, s.currency),
        occurredAt: ctx.now,
        refs: { owedRecovery: `${d.recovery.number}` },
      }),
      `marketplace charge ${s.id}`,
    );
    return {
      state: { ...s, owedRecoveries: d.recoveries },
      effects: recoveryEffects(
        MARKETPLACE_CHARGE_AGGREGATE,
        s,
        d,
        transaction,
        marketplaceChargeIds.ticket.owedOverpaid,
      ),
    };
  });
}
