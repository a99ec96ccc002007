// The money movements of a marketplace charge (a customer pays for an activity; the
// seller, or several co-hosting sellers, are paid at once; the platform keeps a fee), as
// ledger transactions.
//
// Chart of accounts (balance = debits − credits; ids escaped so each name parses one way):
//
//   marketplace:<c>:in_flight          asset   money of charge c on its way through the
//                                              platform: captured and not yet split, or
//                                              reversed from sellers and not yet refunded.
//                                              Zero whenever nothing is on its way; negative
//                                              only while a lost dispute's seller parts wait
//                                              for their reversals (what the sellers owe back).
//   marketplace:<c>:paid_in            source  credited when the customer's payment is captured.
//   marketplace:<c>:platform_funded    source  the platform's own money: the part of a refund
//                                              or a lost dispute nobody gave back (the platform
//                                              keeps its fee, or does not reverse the seller).
//   marketplace:<c>:seller_payable:<s> asset   seller s's share until their transfer lands.
//                                              Zero once s was paid (a destination charge pays
//                                              at once).
//   marketplace:<c>:seller:<s>         use     paid to seller s, net of reversals (and plus the
//                                              application fee refunded to them).
//   marketplace:<c>:fees               use     the platform's fee, net of what it gave back.
//   marketplace:<c>:refunds            use     refunded to the customer.
//   marketplace:<c>:dispute_losses     use     taken back by the customer's bank.
//
// Movements (Dr / Cr):
//   marketplace_captured                  in_flight         / paid_in
//   marketplace_fee_earned                fees              / in_flight
//   marketplace_seller_payable            seller_payable:s  / in_flight
//   marketplace_transferred               seller:s          / seller_payable:s
//   marketplace_transfer_reversed         in_flight         / seller:s
//   marketplace_application_fee_refunded  in_flight         / fees       (toward a refund)
//                                         seller:s          / fees       (a destination charge's
//                                                                         fee goes back to the seller)
//   marketplace_refunded                  refunds           / in_flight, platform_funded
//   marketplace_dispute_lost              dispute_losses    / in_flight, fees, platform_funded
//
// Every transaction stays inside the charge's accounts, so from balances alone:
// paid in + platform funded = in flight + seller payables + sellers + fees + refunds +
// dispute losses (`marketplaceMoney`).
//
// TODO(shared): the id escaping below is the same rule as round-movements.ts's private
// `idPart` (and the held branch's `accountIdPart`); once those meet on main, all three
// should use one exported function.
import { err, type Result } from "neverthrow";
import { type CurrencyCode, type Money, money } from "../money/index.js";
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

// "%" first, so the escapes themselves are not escaped twice.
const escapeId = (id: string): string => id.replaceAll("%", "%25").replaceAll(":", "%3A");

/** Prefix shared by every account of a marketplace charge: `marketplace:<c>:`. */
export function marketplaceAccountPrefix(chargeId: string): string {
  return `marketplace:${escapeId(chargeId)}:`;
}

const account =
  (name: string) =>
  (chargeId: string): LedgerAccountId =>
    `${marketplaceAccountPrefix(chargeId)}${name}`;

/** The accounts of a marketplace charge; see the chart of accounts at the top of marketplace-movements.ts. */
export const marketplaceAccounts = Object.freeze({
  /** Money on its way through the platform (asset). Zero when nothing is on its way. */
  inFlight: account("in_flight"),
  /** Source of the payment: credit balance = what the customer paid. */
  paidIn: account("paid_in"),
  /** The platform's own money spent on the charge's refunds and losses (source). */
  platformFunded: account("platform_funded"),
  /** Seller s's share until their transfer lands (asset). */
  sellerPayable: (chargeId: string, sellerId: string): LedgerAccountId =>
    `${marketplaceAccountPrefix(chargeId)}seller_payable:${escapeId(sellerId)}`,
  /** Paid to seller s, net. */
  seller: (chargeId: string, sellerId: string): LedgerAccountId =>
    `${marketplaceAccountPrefix(chargeId)}seller:${escapeId(sellerId)}`,
  /** The platform's fee, net of what it gave back. */
  fees: account("fees"),
  /** Refunded to the customer. */
  refunds: account("refunds"),
  /** Taken back through lost disputes. */
  disputeLosses: account("dispute_losses"),
});

/** What every marketplace movement builder takes. */
export interface MarketplaceMovementBase {
  /** The transaction id: a stable id from `marketplaceChargeIds.ledger`, so a repeated step posts once. */
  readonly id: string;
  /** The marketplace charge. */
  readonly chargeId: string;
  /** When it happened, epoch ms. */
  readonly occurredAt: number;
  /** Extra references (Stripe ids…); `marketplaceChargeId` is always set. */
  readonly refs?: Readonly<Record<string, string>>;
}

/** A one-amount movement. */
export interface MarketplaceMovementInput extends MarketplaceMovementBase {
  /** Positive amount moved. */
  readonly amount: Money;
}

/** A movement to or from one seller's accounts. */
export interface MarketplaceSellerMovementInput extends MarketplaceMovementInput {
  readonly sellerId: string;
}

function transaction(
  kind: LedgerTransactionKind,
  input: MarketplaceMovementBase,
  postings: readonly LedgerPosting[],
): Result<LedgerTransaction, LedgerError> {
  if (input.chargeId.length === 0)
    return err(invalidAccountId(input.chargeId, "empty marketplace charge id"));
  return createLedgerTransaction({
    id: input.id,
    kind,
    postings,
    occurredAt: input.occurredAt,
    refs: { ...input.refs, marketplaceChargeId: input.chargeId },
  });
}

function movement(
  kind: LedgerTransactionKind,
  input: MarketplaceMovementInput,
  debitAccount: LedgerAccountId,
  creditAccount: LedgerAccountId,
): Result<LedgerTransaction, LedgerError> {
  return transaction(kind, input, [debit(debitAccount, input.amount), credit(creditAccount, input.amount)]);
}

/** The customer's payment was captured. Dr in_flight, Cr paid_in. */
export function marketplaceCaptured(input: MarketplaceMovementInput): Result<LedgerTransaction, LedgerError> {
  const a = marketplaceAccounts;
  return movement("marketplace_captured", input, a.inFlight(input.chargeId), a.paidIn(input.chargeId));
}

/** The platform's fee was earned. Dr fees, Cr in_flight. */
export function marketplaceFeeEarned(
  input: MarketplaceMovementInput,
): Result<LedgerTransaction, LedgerError> {
  const a = marketplaceAccounts;
  return movement("marketplace_fee_earned", input, a.fees(input.chargeId), a.inFlight(input.chargeId));
}

/** A seller's share was set aside for them. Dr seller_payable:s, Cr in_flight. */
export function marketplaceSellerPayable(
  input: MarketplaceSellerMovementInput,
): Result<LedgerTransaction, LedgerError> {
  const a = marketplaceAccounts;
  return movement(
    "marketplace_seller_payable",
    input,
    a.sellerPayable(input.chargeId, input.sellerId),
    a.inFlight(input.chargeId),
  );
}

/** A seller was paid (their transfer landed, or the destination charge paid them). Dr seller:s, Cr seller_payable:s. */
export function marketplaceTransferred(
  input: MarketplaceSellerMovementInput,
): Result<LedgerTransaction, LedgerError> {
  const a = marketplaceAccounts;
  return movement(
    "marketplace_transferred",
    input,
    a.seller(input.chargeId, input.sellerId),
    a.sellerPayable(input.chargeId, input.sellerId),
  );
}

/** Part of a seller's transfer came back to the platform. Dr in_flight, Cr seller:s. */
export function marketplaceTransferReversed(
  input: MarketplaceSellerMovementInput,
): Result<LedgerTransaction, LedgerError> {
  const a = marketplaceAccounts;
  return movement(
    "marketplace_transfer_reversed",
    input,
    a.inFlight(input.chargeId),
    a.seller(input.chargeId, input.sellerId),
  );
}

/**
 * The platform gave back part of its fee. Cr fees; Dr in_flight when it goes toward a
 * refund (separate charges and transfers), or Dr seller:s when Stripe refunds a destination
 * charge's application fee to the seller's account (`toSellerId`).
 */
export function marketplaceApplicationFeeRefunded(
  input: MarketplaceMovementInput & { readonly toSellerId?: string },
): Result<LedgerTransaction, LedgerError> {
  const a = marketplaceAccounts;
  const to =
    input.toSellerId === undefined ? a.inFlight(input.chargeId) : a.seller(input.chargeId, input.toSellerId);
  return movement("marketplace_application_fee_refunded", input, to, a.fees(input.chargeId));
}

/** Where money given back to the customer (a refund, a lost dispute) comes from; zero parts post nothing. */
export interface MarketplaceTakeBackFrom {
  /** From money on its way through the platform (reversed from sellers, or owed back by them). */
  readonly inFlightMinor: number;
  /** From the platform's fee (a lost dispute's fee part). */
  readonly feesMinor: number;
  /** From the platform's own money. */
  readonly platformFundedMinor: number;
}

/** What {@link marketplaceRefunded} and {@link marketplaceDisputeLost} take. */
export interface MarketplaceTakeBackInput extends MarketplaceMovementBase {
  readonly currency: CurrencyCode;
  readonly from: MarketplaceTakeBackFrom;
}

function takeBack(
  kind: "marketplace_refunded" | "marketplace_dispute_lost",
  debitAccount: LedgerAccountId,
  input: MarketplaceTakeBackInput,
): Result<LedgerTransaction, LedgerError> {
  const a = marketplaceAccounts;
  const c = input.chargeId;
  const parts: [LedgerAccountId, number][] = [
    [a.inFlight(c), input.from.inFlightMinor],
    [a.fees(c), input.from.feesMinor],
    [a.platformFunded(c), input.from.platformFundedMinor],
  ];
  const credits = parts
    .filter(([, amountMinor]) => amountMinor !== 0)
    .map(([acc, amountMinor]) => credit(acc, money(amountMinor, input.currency)));
  const totalMinor = parts.reduce((sum, [, amountMinor]) => sum + amountMinor, 0);
  if (credits.length === 0) return err(invalidAccountId(c, "nothing to take back"));
  return transaction(kind, input, [debit(debitAccount, money(totalMinor, input.currency)), ...credits]);
}

/** A refund reached the customer. Dr refunds, Cr where the money came from. */
export function marketplaceRefunded(input: MarketplaceTakeBackInput): Result<LedgerTransaction, LedgerError> {
  return takeBack("marketplace_refunded", marketplaceAccounts.refunds(input.chargeId), input);
}

/**
 * A dispute was lost: the customer's bank took the amount back. Dr dispute_losses, Cr where
 * it is booked: the sellers' parts against in_flight (their reversals bring it back), the
 * fee part against the fee, and whatever nobody can give back against the platform.
 */
export function marketplaceDisputeLost(
  input: MarketplaceTakeBackInput,
): Result<LedgerTransaction, LedgerError> {
  return takeBack("marketplace_dispute_lost", marketplaceAccounts.disputeLosses(input.chargeId), input);
}
