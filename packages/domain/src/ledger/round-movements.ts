// The money movements of a savings round, as ledger transactions.
//
// Chart of accounts (balance = debits − credits; ids escape ":" and "%" inside a round
// or member id, so every account name parses one way):
//
//   round:<r>:in_flight            asset   debits submitted by BECS, outcome not known yet.
//                                          Zero when no debit of the round is processing.
//   round:<r>:pot                  asset   settled contributions held for the round:
//                                          settled − refunded − paid out + reversed.
//                                          Zero when the round ends (all paid out, or all refunded).
//   round:<r>:contributions:<m>    source  credited when m's debit is initiated, debited when it
//                                          fails: −balance = m's contribution accepted (in flight
//                                          or settled).
//   round:<r>:refunds:<m>          use     contributions refunded to m.
//   round:<r>:payouts:<m>          use     pot transferred to m as recipient, net of reversals.
//   round:<r>:owed_to_member:<m>   use     m's money the round still owes them, to be paid outside
//                                          Stripe (which refuses a refund of a disputed charge,
//                                          `charge_disputed`): the rest of a contribution disputed
//                                          in part before the payout. It has left the pot, but
//                                          nobody has paid it back yet; an admin pays it by other
//                                          means (a ticket says so).
//   round:<r>:paid_outside_stripe:<m>
//                                  use     what an admin recorded paying m outside Stripe (a bank
//                                          transfer, cash) of what the round owed them: it left the
//                                          platform, not through Stripe.
//   member:<m>                     asset   what m owes the platform: dispute losses (a receivable,
//                                          collected or written off only by an explicit decision).
//   platform:funds                 source  the platform's own money that covered dispute
//                                          withdrawals (credit balance = covered so far).
//
// Movements (Dr / Cr):
//   debit_initiated        in_flight           / contributions:<m>
//   debit_failed           contributions:<m>   / in_flight
//   debit_settled          pot                 / in_flight
//   contribution_refunded  refunds:<m>         / pot
//   contribution_refund_failed
//                          pot                 / refunds:<m>   (a refund Stripe failed after its
//                                                              success, reversed when the member
//                                                              disputes the charge: the money is
//                                                              the round's again)
//   contribution_owed_to_member
//                          owed_to_member:<m>  / pot
//   contribution_paid_outside_stripe
//                          paid_outside_stripe:<m> / owed_to_member:<m>
//   payout_transferred     payouts:<m>         / pot
//   transfer_reversed      pot                 / payouts:<m>
//   dispute_loss           member:<m>          / platform:funds
//   dispute_reinstated     platform:funds      / member:<m>
//
// So for a round, from balances alone: money in (contributions accepted) = money out
// (payouts) + refunds + owed to members + paid to members outside Stripe + money still held (pot + in flight) — see `roundMoney`. A dispute
// does not touch the round's accounts: the round's books stay as they were, and the
// loss sits against the member, never silently taken back from the recipient.
import { err, ok, type Result } from "neverthrow";
import type { Money } from "../money/index.js";
import { accountIdPart } from "./account-id-part.js";
import { invalidAccountId, type LedgerError } from "./ledger.errors.js";
import {
  checkAccountId,
  createLedgerTransaction,
  credit,
  debit,
  type LedgerAccountId,
  type LedgerTransaction,
  type LedgerTransactionKind,
} from "./ledger-transaction.js";

const idPart = accountIdPart;

/** Prefix shared by every account of a round: `round:<r>:`. */
export function roundAccountPrefix(roundId: string): string {
  return `round:${idPart(roundId)}:`;
}

/** The accounts of a savings round; see the chart of accounts at the top of round-movements.ts. */
export const roundAccounts = Object.freeze({
  /** Settled contributions held for the round (asset). Zero when the round ends. */
  pot: (roundId: string): LedgerAccountId => `${roundAccountPrefix(roundId)}pot`,
  /** Debits submitted but not settled or failed yet (asset). Zero when none is processing. */
  inFlight: (roundId: string): LedgerAccountId => `${roundAccountPrefix(roundId)}in_flight`,
  /** Source of a member's contributions to a round (credit balance = contribution accepted). */
  contributions: (roundId: string, memberId: string): LedgerAccountId =>
    `${roundAccountPrefix(roundId)}contributions:${idPart(memberId)}`,
  /** What the round refunded to a member. */
  refunds: (roundId: string, memberId: string): LedgerAccountId =>
    `${roundAccountPrefix(roundId)}refunds:${idPart(memberId)}`,
  /** What the round paid to a member as recipient, net of reversals. */
  payouts: (roundId: string, memberId: string): LedgerAccountId =>
    `${roundAccountPrefix(roundId)}payouts:${idPart(memberId)}`,
  /** What the round owes a member outside Stripe (the rest of a contribution disputed in part). */
  owedToMember: (roundId: string, memberId: string): LedgerAccountId =>
    `${roundAccountPrefix(roundId)}owed_to_member:${idPart(memberId)}`,
  /** What an admin recorded paying a member outside Stripe (a bank transfer, cash) of what the round owed them. */
  paidOutsideStripe: (roundId: string, memberId: string): LedgerAccountId =>
    `${roundAccountPrefix(roundId)}paid_outside_stripe:${idPart(memberId)}`,
  /** A member's account with the platform: a debit balance is what the member owes (dispute losses). */
  member: (memberId: string): LedgerAccountId => `member:${idPart(memberId)}`,
  /** The platform's own funds, which cover dispute withdrawals. */
  platformFunds: (): LedgerAccountId => "platform:funds",
});

/** What a round-movement builder takes: one member's movement of `amount` in a round. */
export interface RoundMovementInput {
  /** The transaction id; use the effect's stable id so a retried step posts once. */
  readonly id: string;
  /** The round. */
  readonly roundId: string;
  /** The member whose contribution, refund, reversal or dispute this is. */
  readonly memberId: string;
  /** Positive amount moved. */
  readonly amount: Money;
  /** When it happened, epoch ms. */
  readonly occurredAt: number;
  /** Extra references (Stripe ids…); `roundId` and `memberId` are always set from the input. */
  readonly refs?: Readonly<Record<string, string>>;
}

/** What {@link payoutTransferred} takes: like {@link RoundMovementInput} with the recipient. */
export interface PayoutMovementInput {
  /** The transaction id; use the effect's stable id so a retried step posts once. */
  readonly id: string;
  /** The round. */
  readonly roundId: string;
  /** The member receiving the pot. */
  readonly recipientMemberId: string;
  /** Positive amount transferred. */
  readonly amount: Money;
  /** When it happened, epoch ms. */
  readonly occurredAt: number;
  /** Extra references (transfer id…); `roundId` and `memberId` (the recipient) are always set. */
  readonly refs?: Readonly<Record<string, string>>;
}

function checkIdPart(kind: string, id: string): Result<void, LedgerError> {
  return id.length === 0 ? err(invalidAccountId(id, `empty ${kind} id`)) : ok(undefined);
}

function movement(
  kind: LedgerTransactionKind,
  input: RoundMovementInput,
  debitAccount: LedgerAccountId,
  creditAccount: LedgerAccountId,
): Result<LedgerTransaction, LedgerError> {
  return checkIdPart("round", input.roundId)
    .andThen(() => checkIdPart("member", input.memberId))
    .andThen(() => checkAccountId(debitAccount))
    .andThen(() => checkAccountId(creditAccount))
    .andThen(() =>
      createLedgerTransaction({
        id: input.id,
        kind,
        postings: [debit(debitAccount, input.amount), credit(creditAccount, input.amount)],
        occurredAt: input.occurredAt,
        refs: { ...input.refs, roundId: input.roundId, memberId: input.memberId },
      }),
    );
}

/** A member's debit was submitted: the money is in flight. Dr in_flight, Cr contributions:m. */
export function debitInitiated(input: RoundMovementInput): Result<LedgerTransaction, LedgerError> {
  const { roundId, memberId } = input;
  return movement(
    "debit_initiated",
    input,
    roundAccounts.inFlight(roundId),
    roundAccounts.contributions(roundId, memberId),
  );
}

/** The in-flight debit failed: undoes {@link debitInitiated}. Dr contributions:m, Cr in_flight. */
export function debitFailed(input: RoundMovementInput): Result<LedgerTransaction, LedgerError> {
  const { roundId, memberId } = input;
  return movement(
    "debit_failed",
    input,
    roundAccounts.contributions(roundId, memberId),
    roundAccounts.inFlight(roundId),
  );
}

/** The debit's funds arrived: in flight → the round's pot. Dr pot, Cr in_flight. */
export function debitSettled(input: RoundMovementInput): Result<LedgerTransaction, LedgerError> {
  return movement(
    "debit_settled",
    input,
    roundAccounts.pot(input.roundId),
    roundAccounts.inFlight(input.roundId),
  );
}

/** A settled contribution went back to the member: pot → refunds:m. Dr refunds:m, Cr pot. */
export function contributionRefunded(input: RoundMovementInput): Result<LedgerTransaction, LedgerError> {
  const { roundId, memberId } = input;
  return movement(
    "contribution_refunded",
    input,
    roundAccounts.refunds(roundId, memberId),
    roundAccounts.pot(roundId),
  );
}

/**
 * A refund Stripe reported succeeded, then failed (the money came back to the platform), is
 * reversed: refunds:m → pot. Dr pot, Cr refunds:m. The round then holds the money again until
 * a new refund pays it, or, when the member disputes the charge (Stripe then refuses every
 * refund of it), the dispute and the rest owed are booked from the pot, as for a contribution
 * never refunded.
 */
export function contributionRefundFailed(input: RoundMovementInput): Result<LedgerTransaction, LedgerError> {
  const { roundId, memberId } = input;
  return movement(
    "contribution_refund_failed",
    input,
    roundAccounts.pot(roundId),
    roundAccounts.refunds(roundId, memberId),
  );
}

/**
 * Money of a member's contribution the round owes them outside Stripe (Stripe refuses a
 * refund of a disputed charge, `charge_disputed`): it leaves the pot, but is not refunded
 * until an admin pays it by other means. Dr owed_to_member:m, Cr pot.
 */
export function contributionOwedToMember(input: RoundMovementInput): Result<LedgerTransaction, LedgerError> {
  const { roundId, memberId } = input;
  return movement(
    "contribution_owed_to_member",
    input,
    roundAccounts.owedToMember(roundId, memberId),
    roundAccounts.pot(roundId),
  );
}

/**
 * An admin paid a member outside Stripe (a bank transfer, cash) part or all of what the round
 * owed them. Dr paid_outside_stripe:m, Cr owed_to_member:m.
 */
export function contributionPaidOutsideStripe(
  input: RoundMovementInput,
): Result<LedgerTransaction, LedgerError> {
  const { roundId, memberId } = input;
  return movement(
    "contribution_paid_outside_stripe",
    input,
    roundAccounts.paidOutsideStripe(roundId, memberId),
    roundAccounts.owedToMember(roundId, memberId),
  );
}

/** A transfer paid (part of) the pot to the recipient: pot → payouts:recipient. Dr payouts:m, Cr pot. */
export function payoutTransferred(input: PayoutMovementInput): Result<LedgerTransaction, LedgerError> {
  const { recipientMemberId, ...rest } = input;
  const asMovement: RoundMovementInput = { ...rest, memberId: recipientMemberId };
  return movement(
    "payout_transferred",
    asMovement,
    roundAccounts.payouts(input.roundId, recipientMemberId),
    roundAccounts.pot(input.roundId),
  );
}

/**
 * A payout transfer was reversed: recipient → pot. Dr pot, Cr payouts:m, where
 * `memberId` is the recipient whose transfer was reversed.
 */
export function transferReversed(input: RoundMovementInput): Result<LedgerTransaction, LedgerError> {
  const { roundId, memberId } = input;
  return movement(
    "transfer_reversed",
    input,
    roundAccounts.pot(roundId),
    roundAccounts.payouts(roundId, memberId),
  );
}

/**
 * A member's contribution was disputed (typically after the payout) and the bank took
 * it back from the platform: the platform's funds covered it, and the member now owes
 * it. Dr member:m (receivable), Cr platform:funds. The round's accounts are untouched —
 * nothing is clawed back from the recipient; collecting or writing off the receivable is
 * a separate, explicit decision.
 */
export function disputeLoss(input: RoundMovementInput): Result<LedgerTransaction, LedgerError> {
  return movement("dispute_loss", input, roundAccounts.member(input.memberId), roundAccounts.platformFunds());
}

/** A dispute was won and the funds came back: undoes {@link disputeLoss}. Dr platform:funds, Cr member:m. */
export function disputeReinstated(input: RoundMovementInput): Result<LedgerTransaction, LedgerError> {
  return movement(
    "dispute_reinstated",
    input,
    roundAccounts.platformFunds(),
    roundAccounts.member(input.memberId),
  );
}
