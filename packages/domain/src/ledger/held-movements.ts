// The money movements of a held payment (a booking paid through Checkout, held for a
// dispute window, then released to the seller), as ledger transactions.
//
// Chart of accounts (balance = debits − credits; ids escaped as in round-movements.ts):
//
//   held:<p>:hold             asset   the platform's cash for payment p: what the customer paid
//                                     and is still held. Zero once the payment is released or
//                                     refunded (but for a refund Stripe failed after its
//                                     success, until it is asked again or owed). After the
//                                     release it is positive only while money reversed from
//                                     the seller waits to be refunded, and
//                                     negative only while a lost dispute's seller part (or an
//                                     owed refund's) waits to be reversed (what the seller owes
//                                     back).
//   held:<p>:paid_in          source  credited when the customer's payment is captured.
//   held:<p>:seller_payable   asset   the seller's share set aside when the release starts,
//                                     until the transfer lands. Zero once released.
//   held:<p>:seller           use     transferred to the seller, net of reversals.
//   held:<p>:fees             use     the platform fee earned, net of what refunds and lost
//                                     disputes gave back.
//   held:<p>:refunds          use     refunded to the customer.
//   held:<p>:dispute_losses   use     taken back by the customer's bank through lost disputes.
//   held:<p>:owed_to_customer use     still owed to the customer, to be paid outside Stripe: the
//                                     rest of a refund a lost dispute superseded, which Stripe
//                                     refuses to refund (`charge_disputed`). Set aside from the
//                                     payment like a refund, it is never released to the seller;
//                                     an admin pays it by other means (a ticket says so).
//   held:<p>:paid_outside_stripe use  what an admin recorded paying the customer outside Stripe
//                                     (a bank transfer, cash) of what was owed to them: it left
//                                     the platform, not through Stripe.
//   held:<p>:platform_funded  source  the platform's own money given back: the part of a
//                                     currency's step of a loss (off the step) that neither the
//                                     seller (who gives back whole steps) nor the fee had left.
//   held:<p>:owed_by_customer source  what the customer owes back (credit balance): a lost
//                                     dispute's bank gave back money an admin had already paid
//                                     them outside Stripe, so they got it twice; the platform's
//                                     own money went to the bank for it. A ticket asks an admin
//                                     to recover it; what comes back is recorded on the payment
//                                     (`held_recovered_from_customer`).
//
// Movements (Dr / Cr):
//   held_captured           hold             / paid_in
//   held_fee_earned         fees             / hold             (when the release starts)
//   held_seller_payable     seller_payable   / hold             (when the release starts)
//   held_transferred        seller           / seller_payable
//   held_transfer_reversed  hold             / seller
//   held_refunded           refunds          / where the money is (see TakenBackFrom)
//   held_dispute_lost       dispute_losses   / where the money is (see TakenBackFrom), and
//                                              platform_funded for what the platform pays,
//                                              owed_to_customer for what it took of the money
//                                              owed outside Stripe (beyond what was left),
//                                              owed_by_customer for what it took beyond that
//                                              of what an admin had paid them already
//   held_owed_to_customer   owed_to_customer / where the money is (see TakenBackFrom)
//   held_refund_failed      where the refund took it from / refunds
//                                              (Stripe failed a refund after its success: the
//                                              money is back on the platform's balance, where
//                                              the refund had taken it from, until it is asked
//                                              again or owed outside Stripe)
//   held_refund_superseded  where the payment keeps it now / where the refund's stage left it
//                                              (a refund a lost dispute superseded, asked before
//                                              the release went as far as it has: its money
//                                              was never set aside or transferred with the
//                                              rest, so it moves to where a loss takes money
//                                              from now — holding → earmarked: seller_payable,
//                                              fees / hold; holding → transferred: fees / hold
//                                              (its seller's part stays in the hold, held back
//                                              from the seller); earmarked → transferred:
//                                              hold / seller_payable)
//   held_paid_outside_stripe paid_outside_stripe / owed_to_customer
//   held_recovered_from_customer owed_by_customer / paid_outside_stripe
//                                              (the customer paid back, outside Stripe, what
//                                              they got twice: the payment made outside Stripe
//                                              in reverse, so paid_outside_stripe is what left
//                                              the platform outside Stripe net of what came back)
//
// Every transaction stays inside the payment's accounts, so from balances alone:
// paid in + platform funded + owed by the customer = hold + seller payable + seller + fees +
// refunds + dispute losses + owed to the customer + paid to the customer outside Stripe
// (`heldMoney`).
import { err, type Result } from "neverthrow";
import { type Money, money } from "../money/index.js";
import { accountIdPart } from "./account-id-part.js";
import { type AggregateMovementBase, accountsUnder, aggregateMovements } from "./aggregate-movements.js";
import { invalidAccountId, type LedgerError } from "./ledger.errors.js";
import {
  credit,
  debit,
  type LedgerAccountId,
  type LedgerPosting,
  type LedgerTransaction,
} from "./ledger-transaction.js";

/** Prefix shared by every account of a held payment: `held:<p>:`. */
export function heldAccountPrefix(heldPaymentId: string): string {
  return `held:${accountIdPart(heldPaymentId)}:`;
}

const account = accountsUnder(heldAccountPrefix);

/** The accounts of a held payment; see the chart of accounts at the top of held-movements.ts. */
export const heldAccounts = Object.freeze({
  /** The platform's cash for the payment (asset). Zero once released or refunded. */
  hold: account("hold"),
  /** Source of the payment: credit balance = what the customer paid. */
  paidIn: account("paid_in"),
  /** The seller's share set aside once the release started, until its transfer lands (asset). */
  sellerPayable: account("seller_payable"),
  /** Transferred to the seller, net of reversals. */
  seller: account("seller"),
  /** The platform fee earned, net of what was given back. */
  fees: account("fees"),
  /** Refunded to the customer. */
  refunds: account("refunds"),
  /** Taken back by the customer's bank through lost disputes. */
  disputeLosses: account("dispute_losses"),
  /** Owed to the customer outside Stripe: a refund's rest Stripe refuses after a lost dispute. */
  owedToCustomer: account("owed_to_customer"),
  /** Paid to the customer outside Stripe (an admin recorded it) of what was owed to them. */
  paidOutsideStripe: account("paid_outside_stripe"),
  /** Source of the platform's own money given back (credit balance): a part of a step neither the seller nor the fee had. */
  platformFunded: account("platform_funded"),
  /** What the customer owes back (credit balance): paid outside Stripe by an admin and given back by their bank too. */
  owedByCustomer: account("owed_by_customer"),
});

/** What a held-payment movement builder takes: one movement of `amount` (ids from `heldPaymentIds.ledger`; refs get `heldPaymentId`). */
export interface HeldMovementInput extends AggregateMovementBase {
  /** The held payment. */
  readonly heldPaymentId: string;
  /** Positive amount moved. */
  readonly amount: Money;
}

/**
 * Where money given back to the customer (a refund, a lost dispute) comes from, by how far
 * the release had gone:
 * - `holding`: the release has not started; it all comes out of the hold;
 * - `earmarked`: the release started and its transfer has not landed; the seller's part
 *   comes out of the seller payable, the fee part out of the fee earned;
 * - `transferred`: the seller was paid; the seller's part comes out of the hold (where its
 *   reversal brings it, or will: until then the hold is short by it), the fee part out of
 *   the fee earned.
 *
 * The parts are the split of the amount between the seller's share and the fee (see
 * `takeBackSplit`); a zero part posts nothing. `platformFunded` (absent: nothing) is what
 * the platform pays of it itself (out of `platform_funded`, not the payment's money): in
 * `holding` the hold gives the amount less it.
 */
export type TakenBackFrom =
  | { readonly stage: "holding"; readonly amount: Money; readonly platformFunded?: Money }
  | {
      readonly stage: "earmarked" | "transferred";
      readonly sellerPart: Money;
      readonly feePart: Money;
      readonly platformFunded?: Money;
    };

/** What {@link heldRefunded} and {@link heldDisputeLost} take. */
export interface HeldTakeBackInput extends AggregateMovementBase {
  /** The held payment. */
  readonly heldPaymentId: string;
  /** Where the money comes from. */
  readonly from: TakenBackFrom;
  /**
   * Of a lost dispute only: what it took beyond what was left, out of what is owed to the
   * customer outside Stripe (credited to `owed_to_customer`: their bank gave it back). Absent:
   * nothing.
   */
  readonly fromOwed?: Money;
  /**
   * Of a lost dispute only: what it took beyond what was left and what was still owed, of what
   * an admin had paid the customer outside Stripe already (credited to `owed_by_customer`: the
   * customer got it twice and owes it back). Absent: nothing.
   */
  readonly fromOwedByCustomer?: Money;
}

const held = aggregateMovements<HeldMovementInput | HeldTakeBackInput | HeldRefundSupersededInput>({
  what: "held payment",
  refKey: "heldPaymentId",
  idOf: (input) => input.heldPaymentId,
});

const a = heldAccounts;
const movement = held.movement<HeldMovementInput>;

/** The customer's payment was captured and is held. Dr hold, Cr paid_in. */
export const heldCaptured = movement("held_captured", a.hold, a.paidIn);

/** The release started: the platform's fee is earned. Dr fees, Cr hold. */
export const heldFeeEarned = movement("held_fee_earned", a.fees, a.hold);

/** The release started: the seller's share is set aside for its transfer. Dr seller_payable, Cr hold. */
export const heldSellerPayable = movement("held_seller_payable", a.sellerPayable, a.hold);

/**
 * An admin paid the customer outside Stripe (a bank transfer, cash) part or all of what was
 * owed to them. Dr paid_outside_stripe, Cr owed_to_customer.
 */
export const heldPaidOutsideStripe = movement(
  "held_paid_outside_stripe",
  a.paidOutsideStripe,
  a.owedToCustomer,
);

/**
 * The customer paid back, outside Stripe (a bank transfer, cash), part or all of what they got
 * twice (an admin's payment outside Stripe that a lost dispute's bank gave back too): the
 * payment outside Stripe in reverse. Dr owed_by_customer, Cr paid_outside_stripe.
 */
export const heldRecoveredFromCustomer = movement(
  "held_recovered_from_customer",
  a.owedByCustomer,
  a.paidOutsideStripe,
);

/** The seller's transfer landed. Dr seller, Cr seller_payable. */
export const heldTransferred = movement("held_transferred", a.seller, a.sellerPayable);

/** Part of the seller's transfer came back to the platform. Dr hold, Cr seller. */
export const heldTransferReversed = movement("held_transfer_reversed", a.hold, a.seller);

function takeBack(
  kind: "held_refunded" | "held_dispute_lost" | "held_owed_to_customer" | "held_refund_failed",
  debitAccount: LedgerAccountId,
  input: HeldTakeBackInput,
  undo = false,
): Result<LedgerTransaction, LedgerError> {
  const p = input.heldPaymentId;
  const { from } = input;
  const funded = from.platformFunded;
  const credits: LedgerPosting[] = [
    ...(from.stage === "holding"
      ? [
          credit(
            heldAccounts.hold(p),
            money(from.amount.amountMinor - (funded?.amountMinor ?? 0), from.amount.currency),
          ),
        ]
      : [
          credit(
            from.stage === "earmarked" ? heldAccounts.sellerPayable(p) : heldAccounts.hold(p),
            from.sellerPart,
          ),
          credit(heldAccounts.fees(p), from.feePart),
        ]),
    ...(funded !== undefined ? [credit(heldAccounts.platformFunded(p), funded)] : []),
    ...(input.fromOwed !== undefined ? [credit(heldAccounts.owedToCustomer(p), input.fromOwed)] : []),
    ...(input.fromOwedByCustomer !== undefined
      ? [credit(heldAccounts.owedByCustomer(p), input.fromOwedByCustomer)]
      : []),
  ].filter((c) => c.amount.amountMinor !== 0);
  const first = credits[0];
  if (first === undefined) return err(invalidAccountId(p, "nothing to take back"));
  const total = money(
    credits.reduce((sum, c) => sum + c.amount.amountMinor, 0),
    first.amount.currency,
  );
  // Undone (`undo`): the same accounts, each on the other side.
  if (undo)
    return held.transaction(kind, input, [
      ...credits.map((c) => debit(c.account, c.amount)),
      credit(debitAccount, total),
    ]);
  return held.transaction(kind, input, [debit(debitAccount, total), ...credits]);
}

/**
 * A refund Stripe reported succeeded failed afterwards (its `refund.failed`: the card or
 * account could not take it, and the money came back to the platform's balance): the refund's
 * posting undone. Dr where {@link heldRefunded} had taken it from (the same
 * {@link TakenBackFrom}), Cr refunds.
 */
export function heldRefundFailed(input: HeldTakeBackInput): Result<LedgerTransaction, LedgerError> {
  return takeBack("held_refund_failed", heldAccounts.refunds(input.heldPaymentId), input, true);
}

/** What {@link heldRefundSuperseded} takes. */
export interface HeldRefundSupersededInput extends AggregateMovementBase {
  /** The held payment. */
  readonly heldPaymentId: string;
  /** Where the refund's stage left its money, and where the payment keeps such money now (further on). */
  readonly from: "holding" | "earmarked";
  readonly to: "earmarked" | "transferred";
  /** The refund's split: its seller's part and its fee part. */
  readonly sellerPart: Money;
  readonly feePart: Money;
}

/**
 * A refund a lost dispute superseded was asked before the release went as far as it has now:
 * the release set aside and transferred the seller's share net of it, and earned the fee net of
 * it, so its money is still where its stage left it (`from`, see {@link TakenBackFrom}). Now
 * that it counts nowhere, its money moves to where the payment keeps it at stage `to`, where
 * the loss (and what is owed beyond it) takes money from: after the transfer its seller's part
 * is in the hold (held back from the seller, as money reversed from them is) and its fee part
 * in the fees. Postings netted per account; refused when nothing moves.
 */
export function heldRefundSuperseded(
  input: HeldRefundSupersededInput,
): Result<LedgerTransaction, LedgerError> {
  const p = input.heldPaymentId;
  const { sellerPart, feePart } = input;
  const net = new Map<LedgerAccountId, number>();
  const add = (account: LedgerAccountId, minor: number) => net.set(account, (net.get(account) ?? 0) + minor);
  // Where it is: credited.
  if (input.from === "holding") add(heldAccounts.hold(p), -(sellerPart.amountMinor + feePart.amountMinor));
  else {
    add(heldAccounts.sellerPayable(p), -sellerPart.amountMinor);
    add(heldAccounts.fees(p), -feePart.amountMinor);
  }
  // Where it goes: debited.
  add(
    input.to === "earmarked" ? heldAccounts.sellerPayable(p) : heldAccounts.hold(p),
    sellerPart.amountMinor,
  );
  add(heldAccounts.fees(p), feePart.amountMinor);
  const currency = sellerPart.currency;
  const postings: LedgerPosting[] = [...net]
    .filter(([, minor]) => minor !== 0)
    .map(([account, minor]) =>
      minor > 0 ? debit(account, money(minor, currency)) : credit(account, money(-minor, currency)),
    );
  if (postings.length === 0) return err(invalidAccountId(p, "nothing to move"));
  return held.transaction("held_refund_superseded", input, postings);
}

/** A refund reached the customer. Dr refunds, Cr where the money was ({@link TakenBackFrom}). */
export function heldRefunded(input: HeldTakeBackInput): Result<LedgerTransaction, LedgerError> {
  return takeBack("held_refunded", heldAccounts.refunds(input.heldPaymentId), input);
}

/**
 * A dispute was lost: the customer's bank took the amount back. Dr dispute_losses, Cr where
 * the money was ({@link TakenBackFrom}), owed_to_customer for what it took of the money
 * owed to the customer outside Stripe (`fromOwed`), and owed_by_customer for what it took
 * beyond that of what an admin had paid them already (`fromOwedByCustomer`). After the release the seller's part is
 * booked against the seller: the hold is short by it until the reversal of their transfer lands.
 */
export function heldDisputeLost(input: HeldTakeBackInput): Result<LedgerTransaction, LedgerError> {
  return takeBack("held_dispute_lost", heldAccounts.disputeLosses(input.heldPaymentId), input);
}

/**
 * The rest of a refund a lost dispute superseded is owed to the customer outside Stripe
 * (Stripe refuses every refund of a charge charged back, `charge_disputed`): set aside as a
 * refund would be. Dr owed_to_customer, Cr where the money was ({@link TakenBackFrom}).
 */
export function heldOwedToCustomer(input: HeldTakeBackInput): Result<LedgerTransaction, LedgerError> {
  return takeBack("held_owed_to_customer", heldAccounts.owedToCustomer(input.heldPaymentId), input);
}
