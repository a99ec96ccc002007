// The money movements of a held payment (a booking paid through Checkout, held for a
// dispute window, then released to the seller), as ledger transactions.
//
// Chart of accounts (balance = debits − credits; ids escaped as in round-movements.ts):
//
//   held:<p>:hold             asset   the platform's cash for payment p: what the customer paid
//                                     and is still held. Zero once the payment is released or
//                                     refunded. After the release it is positive only while
//                                     money reversed from the seller waits to be refunded, and
//                                     negative only while a lost dispute's seller part waits to
//                                     be reversed (what the seller owes back).
//   held:<p>:paid_in          source  credited when the customer's payment is captured.
//   held:<p>:seller_payable   asset   the seller's share set aside when the release starts,
//                                     until the transfer lands. Zero once released.
//   held:<p>:seller           use     transferred to the seller, net of reversals.
//   held:<p>:fees             use     the platform fee earned, net of what refunds and lost
//                                     disputes gave back.
//   held:<p>:refunds          use     refunded to the customer.
//   held:<p>:dispute_losses   use     taken back by the customer's bank through lost disputes.
//
// Movements (Dr / Cr):
//   held_captured           hold             / paid_in
//   held_fee_earned         fees             / hold             (when the release starts)
//   held_seller_payable     seller_payable   / hold             (when the release starts)
//   held_transferred        seller           / seller_payable
//   held_transfer_reversed  hold             / seller
//   held_refunded           refunds          / where the money is (see TakenBackFrom)
//   held_dispute_lost       dispute_losses   / where the money is (see TakenBackFrom)
//
// Every transaction stays inside the payment's accounts, so from balances alone:
// paid in = hold + seller payable + seller + fees + refunds + dispute losses (`heldMoney`).
import { err, ok, type Result } from "neverthrow";
import { type Money, money } from "../money/index.js";
import { accountIdPart } from "./account-id-part.js";
import { invalidAccountId, type LedgerError } from "./ledger.errors.js";
import {
  createLedgerTransaction,
  credit,
  debit,
  type LedgerAccountId,
  type LedgerPosting,
  type LedgerTransaction,
  type LedgerTransactionKind,
} from "./ledger-transaction.js";

/** Prefix shared by every account of a held payment: `held:<p>:`. */
export function heldAccountPrefix(heldPaymentId: string): string {
  return `held:${accountIdPart(heldPaymentId)}:`;
}

/** The accounts of a held payment; see the chart of accounts at the top of held-movements.ts. */
export const heldAccounts = Object.freeze({
  /** The platform's cash for the payment (asset). Zero once released or refunded. */
  hold: (heldPaymentId: string): LedgerAccountId => `${heldAccountPrefix(heldPaymentId)}hold`,
  /** Source of the payment: credit balance = what the customer paid. */
  paidIn: (heldPaymentId: string): LedgerAccountId => `${heldAccountPrefix(heldPaymentId)}paid_in`,
  /** The seller's share set aside once the release started, until its transfer lands (asset). */
  sellerPayable: (heldPaymentId: string): LedgerAccountId =>
    `${heldAccountPrefix(heldPaymentId)}seller_payable`,
  /** Transferred to the seller, net of reversals. */
  seller: (heldPaymentId: string): LedgerAccountId => `${heldAccountPrefix(heldPaymentId)}seller`,
  /** The platform fee earned, net of what was given back. */
  fees: (heldPaymentId: string): LedgerAccountId => `${heldAccountPrefix(heldPaymentId)}fees`,
  /** Refunded to the customer. */
  refunds: (heldPaymentId: string): LedgerAccountId => `${heldAccountPrefix(heldPaymentId)}refunds`,
  /** Taken back by the customer's bank through lost disputes. */
  disputeLosses: (heldPaymentId: string): LedgerAccountId =>
    `${heldAccountPrefix(heldPaymentId)}dispute_losses`,
});

/** What a held-payment movement builder takes: one movement of `amount`. */
export interface HeldMovementInput {
  /** The transaction id; a stable id from `heldPaymentIds.ledger`, so a repeated step posts once. */
  readonly id: string;
  /** The held payment. */
  readonly heldPaymentId: string;
  /** Positive amount moved. */
  readonly amount: Money;
  /** When it happened, epoch ms. */
  readonly occurredAt: number;
  /** Extra references (Stripe ids…); `heldPaymentId` is always set from the input. */
  readonly refs?: Readonly<Record<string, string>>;
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
 * `heldTakeBackSplit`); a zero part posts nothing.
 */
export type TakenBackFrom =
  | { readonly stage: "holding"; readonly amount: Money }
  | {
      readonly stage: "earmarked" | "transferred";
      readonly sellerPart: Money;
      readonly feePart: Money;
    };

/** What {@link heldRefunded} and {@link heldDisputeLost} take. */
export interface HeldTakeBackInput {
  /** The transaction id (stable, from `heldPaymentIds.ledger`). */
  readonly id: string;
  /** The held payment. */
  readonly heldPaymentId: string;
  /** Where the money comes from. */
  readonly from: TakenBackFrom;
  /** When it happened, epoch ms. */
  readonly occurredAt: number;
  /** Extra references; `heldPaymentId` is always set. */
  readonly refs?: Readonly<Record<string, string>>;
}

function checkPaymentId(heldPaymentId: string): Result<void, LedgerError> {
  return heldPaymentId.length === 0
    ? err(invalidAccountId(heldPaymentId, "empty held payment id"))
    : ok(undefined);
}

function transaction(
  kind: LedgerTransactionKind,
  input: { id: string; heldPaymentId: string; occurredAt: number; refs?: Readonly<Record<string, string>> },
  postings: readonly LedgerPosting[],
): Result<LedgerTransaction, LedgerError> {
  return checkPaymentId(input.heldPaymentId).andThen(() =>
    createLedgerTransaction({
      id: input.id,
      kind,
      postings,
      occurredAt: input.occurredAt,
      refs: { ...input.refs, heldPaymentId: input.heldPaymentId },
    }),
  );
}

function movement(
  kind: LedgerTransactionKind,
  input: HeldMovementInput,
  debitAccount: LedgerAccountId,
  creditAccount: LedgerAccountId,
): Result<LedgerTransaction, LedgerError> {
  return transaction(kind, input, [debit(debitAccount, input.amount), credit(creditAccount, input.amount)]);
}

/** The customer's payment was captured and is held. Dr hold, Cr paid_in. */
export function heldCaptured(input: HeldMovementInput): Result<LedgerTransaction, LedgerError> {
  const p = input.heldPaymentId;
  return movement("held_captured", input, heldAccounts.hold(p), heldAccounts.paidIn(p));
}

/** The release started: the platform's fee is earned. Dr fees, Cr hold. */
export function heldFeeEarned(input: HeldMovementInput): Result<LedgerTransaction, LedgerError> {
  const p = input.heldPaymentId;
  return movement("held_fee_earned", input, heldAccounts.fees(p), heldAccounts.hold(p));
}

/** The release started: the seller's share is set aside for its transfer. Dr seller_payable, Cr hold. */
export function heldSellerPayable(input: HeldMovementInput): Result<LedgerTransaction, LedgerError> {
  const p = input.heldPaymentId;
  return movement("held_seller_payable", input, heldAccounts.sellerPayable(p), heldAccounts.hold(p));
}

/** The seller's transfer landed. Dr seller, Cr seller_payable. */
export function heldTransferred(input: HeldMovementInput): Result<LedgerTransaction, LedgerError> {
  const p = input.heldPaymentId;
  return movement("held_transferred", input, heldAccounts.seller(p), heldAccounts.sellerPayable(p));
}

/** Part of the seller's transfer came back to the platform. Dr hold, Cr seller. */
export function heldTransferReversed(input: HeldMovementInput): Result<LedgerTransaction, LedgerError> {
  const p = input.heldPaymentId;
  return movement("held_transfer_reversed", input, heldAccounts.hold(p), heldAccounts.seller(p));
}

function takeBack(
  kind: "held_refunded" | "held_dispute_lost",
  debitAccount: LedgerAccountId,
  input: HeldTakeBackInput,
): Result<LedgerTransaction, LedgerError> {
  const p = input.heldPaymentId;
  const { from } = input;
  const credits: LedgerPosting[] =
    from.stage === "holding"
      ? [credit(heldAccounts.hold(p), from.amount)]
      : [
          credit(
            from.stage === "earmarked" ? heldAccounts.sellerPayable(p) : heldAccounts.hold(p),
            from.sellerPart,
          ),
          credit(heldAccounts.fees(p), from.feePart),
        ].filter((c) => c.amount.amountMinor !== 0);
  const first = credits[0];
  if (first === undefined) return err(invalidAccountId(p, "nothing to take back"));
  const totalMinor = credits.reduce((sum, c) => sum + c.amount.amountMinor, 0);
  return transaction(kind, input, [
    debit(debitAccount, money(totalMinor, first.amount.currency)),
    ...credits,
  ]);
}

/** A refund reached the customer. Dr refunds, Cr where the money was ({@link TakenBackFrom}). */
export function heldRefunded(input: HeldTakeBackInput): Result<LedgerTransaction, LedgerError> {
  return takeBack("held_refunded", heldAccounts.refunds(input.heldPaymentId), input);
}

/**
 * A dispute was lost: the customer's bank took the amount back. Dr dispute_losses, Cr where
 * the money was ({@link TakenBackFrom}). After the release the seller's part is booked
 * against the seller: the hold is short by it until the reversal of their transfer lands.
 */
export function heldDisputeLost(input: HeldTakeBackInput): Result<LedgerTransaction, LedgerError> {
  return takeBack("held_dispute_lost", heldAccounts.disputeLosses(input.heldPaymentId), input);
}
