// The money movements of a marketplace charge (a customer pays for an activity; the
// seller, or several co-hosting sellers, are paid at once; the platform keeps a fee), as
// ledger transactions.
//
// Chart of accounts (balance = debits − credits; ids escaped so each name parses one way):
//
//   marketplace:<c>:in_flight          asset   money of charge c on its way through the
//                                              platform: captured and not yet split, or
//                                              reversed from sellers and not yet refunded (or
//                                              refunded, and failed by Stripe afterwards).
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
//   marketplace:<c>:owed_to_customer   use     still owed to the customer, to be paid outside
//                                              Stripe: the rest of a refund a lost dispute
//                                              superseded, which Stripe refuses to refund
//                                              (`charge_disputed`). Taken back like that refund
//                                              (sellers' parts reversed, the fee's part, the
//                                              platform's); an admin pays it by other means.
//   marketplace:<c>:paid_outside_stripe use    what an admin recorded paying the customer
//                                              outside Stripe (a bank transfer, cash) of what
//                                              was owed to them: it left the platform, not
//                                              through Stripe.
//   marketplace:<c>:owed_by_customer   source  what the customer owes back (credit balance): a
//                                              lost dispute's bank gave back money an admin
//                                              had already paid them outside Stripe, so they
//                                              got it twice; the platform's own money went to
//                                              the bank for it. A ticket asks an admin to
//                                              recover it; what comes back is recorded on the
//                                              charge (`marketplace_recovered_from_customer`).
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
//   marketplace_application_fee_refund_corrected
//                                         seller:s          / fees       (Stripe gave back more of
//                                                                         the fee than was booked)
//                                         fees              / seller:s   (Stripe gave back less)
//   marketplace_refunded                  refunds           / in_flight, platform_funded
//   marketplace_dispute_lost              dispute_losses    / in_flight, seller_payable:s, fees,
//                                                             platform_funded, owed_to_customer
//                                                             (what it took beyond what was left,
//                                                             of the money owed outside Stripe),
//                                                             owed_by_customer (beyond that, of
//                                                             what an admin had paid already)
//   marketplace_owed_to_customer          owed_to_customer  / in_flight, fees, platform_funded
//   marketplace_refund_failed             in_flight, fees,  / refunds     (Stripe failed a refund
//                                         platform_funded                  after its success: the
//                                                                          money is back on the
//                                                                          platform's balance)
//   marketplace_paid_outside_stripe       paid_outside_stripe / owed_to_customer
//   marketplace_recovered_from_customer   owed_by_customer  / paid_outside_stripe (the customer
//                                                             paid back what they got twice: the
//                                                             payment outside Stripe in reverse)
//
// Every transaction stays inside the charge's accounts, so from balances alone:
// paid in + platform funded + owed by the customer = in flight + seller payables + sellers +
// fees + refunds + dispute losses + owed to the customer + paid to the customer outside Stripe
// (`marketplaceMoney`).

import { err, type Result } from "neverthrow";
import { type CurrencyCode, type Money, money } from "../money/index.js";
import { accountIdPart } from "./account-id-part.js";
import {
  type AccountOf,
  type AggregateMovementBase,
  accountsUnder,
  aggregateMovements,
} from "./aggregate-movements.js";
import { invalidAccountId, type LedgerError } from "./ledger.errors.js";
import { credit, debit, type LedgerAccountId, type LedgerTransaction } from "./ledger-transaction.js";

/** Prefix shared by every account of a marketplace charge: `marketplace:<c>:`. */
export function marketplaceAccountPrefix(chargeId: string): string {
  return `marketplace:${accountIdPart(chargeId)}:`;
}

const account = accountsUnder(marketplaceAccountPrefix);

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
    `${marketplaceAccountPrefix(chargeId)}seller_payable:${accountIdPart(sellerId)}`,
  /** Paid to seller s, net. */
  seller: (chargeId: string, sellerId: string): LedgerAccountId =>
    `${marketplaceAccountPrefix(chargeId)}seller:${accountIdPart(sellerId)}`,
  /** The platform's fee, net of what it gave back. */
  fees: account("fees"),
  /** Refunded to the customer. */
  refunds: account("refunds"),
  /** Taken back through lost disputes. */
  disputeLosses: account("dispute_losses"),
  /** Owed to the customer outside Stripe: a refund's rest Stripe refuses after a lost dispute. */
  owedToCustomer: account("owed_to_customer"),
  /** Paid to the customer outside Stripe (an admin recorded it) of what was owed to them. */
  paidOutsideStripe: account("paid_outside_stripe"),
  /** What the customer owes back (credit balance): paid outside Stripe by an admin and given back by their bank too. */
  owedByCustomer: account("owed_by_customer"),
});

/** What every marketplace movement builder takes (ids from `marketplaceChargeIds.ledger`; refs get `marketplaceChargeId`). */
export interface MarketplaceMovementBase extends AggregateMovementBase {
  /** The marketplace charge. */
  readonly chargeId: string;
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

const marketplace = aggregateMovements<MarketplaceMovementBase>({
  what: "marketplace charge",
  refKey: "marketplaceChargeId",
  idOf: (input) => input.chargeId,
});

/** A seller's account, named from the movement's seller. */
const sellerAccount =
  (
    named: (chargeId: string, sellerId: string) => LedgerAccountId,
  ): AccountOf<MarketplaceSellerMovementInput> =>
  (chargeId, input) =>
    named(chargeId, input.sellerId);

const a = marketplaceAccounts;
const movement = marketplace.movement<MarketplaceMovementInput>;
const sellerMovement = marketplace.movement<MarketplaceSellerMovementInput>;

/** The customer's payment was captured. Dr in_flight, Cr paid_in. */
export const marketplaceCaptured = movement("marketplace_captured", a.inFlight, a.paidIn);

/**
 * An admin paid the customer outside Stripe (a bank transfer, cash) part or all of what was
 * owed to them. Dr paid_outside_stripe, Cr owed_to_customer.
 */
export const marketplacePaidOutsideStripe = movement(
  "marketplace_paid_outside_stripe",
  a.paidOutsideStripe,
  a.owedToCustomer,
);

/**
 * The customer paid back, outside Stripe (a bank transfer, cash), part or all of what they got
 * twice (an admin's payment outside Stripe that a lost dispute's bank gave back too): the
 * payment outside Stripe in reverse. Dr owed_by_customer, Cr paid_outside_stripe.
 */
export const marketplaceRecoveredFromCustomer = movement(
  "marketplace_recovered_from_customer",
  a.owedByCustomer,
  a.paidOutsideStripe,
);

/** The platform's fee was earned. Dr fees, Cr in_flight. */
export const marketplaceFeeEarned = movement("marketplace_fee_earned", a.fees, a.inFlight);

/** A seller's share was set aside for them. Dr seller_payable:s, Cr in_flight. */
export const marketplaceSellerPayable = sellerMovement(
  "marketplace_seller_payable",
  sellerAccount(a.sellerPayable),
  a.inFlight,
);

/** A seller was paid (their transfer landed, or the destination charge paid them). Dr seller:s, Cr seller_payable:s. */
export const marketplaceTransferred = sellerMovement(
  "marketplace_transferred",
  sellerAccount(a.seller),
  sellerAccount(a.sellerPayable),
);

/** Part of a seller's transfer came back to the platform. Dr in_flight, Cr seller:s. */
export const marketplaceTransferReversed = sellerMovement(
  "marketplace_transfer_reversed",
  a.inFlight,
  sellerAccount(a.seller),
);

/**
 * The platform gave back part of its fee. Cr fees; Dr in_flight when it goes toward a
 * refund (separate charges and transfers), or Dr seller:s when Stripe refunds a destination
 * charge's application fee to the seller's account (`toSellerId`).
 */
export const marketplaceApplicationFeeRefunded = marketplace.movement<
  MarketplaceMovementInput & { readonly toSellerId?: string }
>(
  "marketplace_application_fee_refunded",
  (chargeId, input) =>
    input.toSellerId === undefined
      ? marketplaceAccounts.inFlight(chargeId)
      : marketplaceAccounts.seller(chargeId, input.toSellerId),
  marketplaceAccounts.fees,
);

/**
 * A destination charge's fee refund booked when its refund succeeded differed from the
 * figure Stripe reported (its `application_fee_refund`): the difference moves between the
 * seller's account and the fee, so the books hold Stripe's figure. `amount` is the
 * difference's size; `stripeGaveBackMore` says which way it goes: Dr seller:s, Cr fees when
 * Stripe refunded more of the fee than was booked, Dr fees, Cr seller:s when less.
 */
export function marketplaceApplicationFeeRefundCorrected(
  input: MarketplaceSellerMovementInput & { readonly stripeGaveBackMore: boolean },
): Result<LedgerTransaction, LedgerError> {
  const seller = marketplaceAccounts.seller(input.chargeId, input.sellerId);
  const fees = marketplaceAccounts.fees(input.chargeId);
  const [debited, credited] = input.stripeGaveBackMore ? [seller, fees] : [fees, seller];
  return marketplace.transaction("marketplace_application_fee_refund_corrected", input, [
    debit(debited, input.amount),
    credit(credited, input.amount),
  ]);
}

/** Where money given back to the customer (a refund, a lost dispute) comes from; zero parts post nothing. */
export interface MarketplaceTakeBackFrom {
  /** From money on its way through the platform (reversed from sellers, or owed back by them). */
  readonly inFlightMinor: number;
  /** From the platform's fee (a lost dispute's fee part). */
  readonly feesMinor: number;
  /** From the platform's own money. */
  readonly platformFundedMinor: number;
  /**
   * From sellers' shares the platform still holds, never transferred (a lost dispute's part of
   * a seller whose transfer it kept from being made): credited to their `seller_payable`.
   */
  readonly sellerPayablesMinor?: readonly { readonly sellerId: string; readonly amountMinor: number }[];
  /**
   * From what is owed to the customer outside Stripe (a lost dispute that took more than was
   * left: their bank gave that part back): credited to `owed_to_customer`. Absent: nothing.
   */
  readonly owedMinor?: number;
  /**
   * From what an admin had paid the customer outside Stripe already (a lost dispute that took
   * beyond what was left and what was still owed: the customer got it twice and owes it back):
   * credited to `owed_by_customer`. Absent: nothing.
   */
  readonly owedByCustomerMinor?: number;
}

/** What {@link marketplaceRefunded} and {@link marketplaceDisputeLost} take. */
export interface MarketplaceTakeBackInput extends MarketplaceMovementBase {
  readonly currency: CurrencyCode;
  readonly from: MarketplaceTakeBackFrom;
}

function takeBack(
  kind:
    | "marketplace_refunded"
    | "marketplace_dispute_lost"
    | "marketplace_owed_to_customer"
    | "marketplace_refund_failed",
  debitAccount: LedgerAccountId,
  input: MarketplaceTakeBackInput,
  undo = false,
): Result<LedgerTransaction, LedgerError> {
  const a = marketplaceAccounts;
  const c = input.chargeId;
  const parts: [LedgerAccountId, number][] = [
    [a.inFlight(c), input.from.inFlightMinor],
    ...(input.from.sellerPayablesMinor ?? []).map((x): [LedgerAccountId, number] => [
      a.sellerPayable(c, x.sellerId),
      x.amountMinor,
    ]),
    [a.fees(c), input.from.feesMinor],
    [a.platformFunded(c), input.from.platformFundedMinor],
    [a.owedToCustomer(c), input.from.owedMinor ?? 0],
    [a.owedByCustomer(c), input.from.owedByCustomerMinor ?? 0],
  ];
  const credits = parts
    .filter(([, amountMinor]) => amountMinor !== 0)
    .map(([acc, amountMinor]) => credit(acc, money(amountMinor, input.currency)));
  const totalMinor = parts.reduce((sum, [, amountMinor]) => sum + amountMinor, 0);
  if (credits.length === 0) return err(invalidAccountId(c, "nothing to take back"));
  const total = money(totalMinor, input.currency);
  // Undone (`undo`): the same accounts, each on the other side.
  if (undo)
    return marketplace.transaction(kind, input, [
      ...credits.map((x) => debit(x.account, x.amount)),
      credit(debitAccount, total),
    ]);
  return marketplace.transaction(kind, input, [debit(debitAccount, total), ...credits]);
}

/**
 * A refund Stripe reported succeeded failed afterwards (its `refund.failed`: the card or
 * account could not take it, and the money came back to the platform's balance): what the
 * refund's postings had taken back undone — Dr where it came from (`from`: in flight, the fee
 * given toward it, the platform's part), Cr refunds. Reversals of sellers' transfers Stripe made
 * for it stay made: that money is with the platform, in flight.
 */
export function marketplaceRefundFailed(
  input: MarketplaceTakeBackInput,
): Result<LedgerTransaction, LedgerError> {
  return takeBack("marketplace_refund_failed", marketplaceAccounts.refunds(input.chargeId), input, true);
}

/** A refund reached the customer. Dr refunds, Cr where the money came from. */
export function marketplaceRefunded(input: MarketplaceTakeBackInput): Result<LedgerTransaction, LedgerError> {
  return takeBack("marketplace_refunded", marketplaceAccounts.refunds(input.chargeId), input);
}

/**
 * A dispute was lost: the customer's bank took the amount back. Dr dispute_losses, Cr where
 * it is booked: the sellers' parts against in_flight (their reversals bring it back) — or,
 * for a seller whose share the platform still holds (never transferred), against their
 * seller_payable (`sellerPayablesMinor`) — the fee part against the fee, whatever nobody
 * can give back against the platform, and what it took beyond what was left against what is
 * owed to the customer outside Stripe (`owedMinor`: their bank gave it back).
 */
export function marketplaceDisputeLost(
  input: MarketplaceTakeBackInput,
): Result<LedgerTransaction, LedgerError> {
  return takeBack("marketplace_dispute_lost", marketplaceAccounts.disputeLosses(input.chargeId), input);
}

/**
 * The rest of a refund a lost dispute superseded is owed to the customer outside Stripe
 * (Stripe refuses every refund of a charge charged back, `charge_disputed`): taken back as
 * that refund would have been. Dr owed_to_customer, Cr the sellers' parts against in_flight
 * (their reversals bring them back), the fee's part against the fee, the rest against the
 * platform.
 */
export function marketplaceOwedToCustomer(
  input: MarketplaceTakeBackInput,
): Result<LedgerTransaction, LedgerError> {
  return takeBack("marketplace_owed_to_customer", marketplaceAccounts.owedToCustomer(input.chargeId), input);
}
