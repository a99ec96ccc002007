import { err, ok, type Result } from "neverthrow";
import type { Dispute } from "../kernel/disputes.js";
import { textLength } from "../kernel/text.js";
import { type CurrencyCode, checkChargeAmount, isCurrencyCode, money } from "../money/index.js";
import type { OwedPayment } from "../owed/owed-payment.js";
import type { OwedRecovery } from "../owed/owed-recovery.js";
import type {
  MarketplacePolicy,
  MarketplaceRefundRules,
  RefundInitiator,
} from "../policy/marketplace-policy.js";
import { notSettledIn } from "../policy/settlement-currencies.js";
import type { Instant } from "../shared/time.js";
import { type MarketplaceChargeError, marketplaceChargeError } from "./marketplace-charge.errors.js";
import { marketplaceChargeIds } from "./marketplace-charge-ids.js";
import {
  type MarketplaceFee,
  platformFeeMinor,
  splitAmongSellers,
  type TakeBackParts,
} from "./marketplace-charge-money.js";

/**
 * The life of a marketplace charge. A destination charge (one seller): `awaiting_payment →
 * settled` (through `requires_action` when the customer must authenticate or confirm, and
 * `processing`). A split among co-hosts: `awaiting_payment → paying_sellers → settled`,
 * through `transfer_blocked` when a seller's transfer was parked. Then refunds and
 * disputes: `settled → refunding → refunded`, or `→ charged_back` when a lost dispute took
 * everything that was left; `payment_failed` when the payment did not go through;
 * `expired` when it waited for the customer's action longer than the policy allows and
 * Stripe confirmed the PaymentIntent's cancel (the charge waits in `requires_action`, its
 * `expiryRequestedAt` set, until then — asked again by rechecks while Stripe's word does not
 * come; a success that beats the cancel is paid out as
 * usual, and money that arrives after a confirmed cancel is refunded). Every
 * allowed move is in `MARKETPLACE_CHARGE_TRANSITIONS`.
 */
export type MarketplaceChargeStatus =
  | "awaiting_payment"
  | "requires_action"
  | "processing"
  | "paying_sellers"
  | "transfer_blocked"
  | "settled"
  | "refunding"
  | "refunded"
  | "charged_back"
  | "payment_failed"
  | "expired";

/** Statuses no input moves a charge out of. */
export const TERMINAL_MARKETPLACE_CHARGE_STATUSES: readonly MarketplaceChargeStatus[] = [
  "refunded",
  "charged_back",
];

/**
 * How the charge reaches the sellers: `destination` (one seller: Stripe's destination
 * charge pays them with the charge, the platform takes an application fee) or `split`
 * (co-hosts: one charge to the platform, then one transfer per seller funded by it, all in
 * one transfer group — Stripe's separate charges and transfers).
 */
export type MarketplaceChargeMode = "destination" | "split";

/** How the customer pays: a saved card, charged off-session; or a new card the client confirms on-session. */
export type MarketplacePaymentMethod =
  | { readonly kind: "saved_card"; readonly paymentMethodId: string }
  | { readonly kind: "new_card" };

/** Who pays: a person with a Stripe customer. */
export interface MarketplaceCustomer {
  /** The person's id. */
  readonly id: string;
  /** Their Stripe customer (`cus_…`). */
  readonly stripeCustomerId: string;
  /** Where notices about the charge go. */
  readonly email: string;
}

/** One seller of the charge and their part of it. */
export interface MarketplaceSeller {
  /** The person's id. */
  readonly id: string;
  /** Their connected account (`acct_…`). */
  readonly connectedAccountId: string;
  /** Their weight in the split (1 for a destination charge). */
  readonly weight: number;
  /** What they are paid: their share of the amount minus the fee. */
  readonly shareMinor: number;
  /** Their part of the platform's fee, recorded for their statements. */
  readonly feeMinor: number;
}

/**
 * One attempt at a seller's transfer (its effect id is the Stripe idempotency key).
 * `unknown`: Stripe's answer was lost; no other attempt is made until a person has looked.
 * At most one landed attempt per seller is booked (kernel/late-transfers.ts).
 */
export interface SellerTransferAttempt {
  readonly sellerId: string;
  /** 1-based per seller. */
  readonly attempt: number;
  readonly effectId: string;
  readonly amountMinor: number;
  readonly status: "requested" | "created" | "failed" | "unknown";
  readonly transferId?: string;
  readonly failureCode?: string;
  /** Look-ups of this attempt's transfer at Stripe asked for (an admin's retry of an attempt of unknown outcome looks first). */
  readonly lookups?: number;
  /**
   * Landed late (`created` after susu had written the attempt off, or beside another attempt)
   * and not booked: the seller was paid twice, or a lost dispute took their share before it
   * landed. Its `unexpected_money` ticket names it; a person recovers it. Absent: booked, or
   * not landed. (`failureCode` `another_attempt_landed`: written off because another attempt
   * landed late and was booked.)
   */
  readonly unbooked?: true;
}

/** Where one seller's payment stands (split charges only). */
export interface SellerPayout {
  readonly sellerId: string;
  /** Failed attempts since the transfers started or an admin retried them (for the retry policy). */
  readonly failures: number;
  /** Parked with a ticket: no retry until an admin's `retry_transfers`. */
  readonly parked: boolean;
  /**
   * The open dispute the seller's next transfer waits for: it came due (a retry timer, an
   * admin's retry, an attempt written off) while a dispute of the charge was open, so it was
   * not asked for. It is asked for once no dispute is open (whatever the outcome) — after a
   * loss, for what the loss left of their share only, and not at all when it took everything.
   */
  readonly frozenBy?: string;
}

/** A reversal of part of a seller's transfer, for a refund or a lost dispute (split charges, or a destination charge's lost dispute). */
export interface SellerReversal {
  /** 1-based. */
  readonly number: number;
  readonly effectId: string;
  readonly sellerId: string;
  readonly transferId: string;
  readonly amountMinor: number;
  readonly forRefund?: number;
  readonly forDisputeId?: string;
  readonly status: "requested" | "reversed" | "failed";
  readonly failureCode?: string;
}

/**
 * A refund to the customer, whole or partial. How it divides among the sellers, the fee and
 * the platform is fixed when it is asked for, by the policy's rules for who asked.
 * `reversing`: the sellers' parts are being reversed first (split charges).
 */
export interface MarketplaceRefund {
  /** 1-based. */
  readonly number: number;
  readonly amountMinor: number;
  readonly initiatedBy: RefundInitiator;
  readonly reason: string;
  readonly rules: MarketplaceRefundRules;
  /** Reversed from each seller, in the order of `sellers` (a destination charge's one seller: the whole refund when reversed). */
  readonly parts: TakeBackParts;
  /** Whether it gives back everything that was left: the charge ends `refunded` with it. */
  readonly full: boolean;
  /**
   * `superseded_by_dispute`: it never reached the customer (it failed, nothing was posted as
   * refunded; or, a split's, it stayed `reversing` with a seller's reversal failed) and a
   * dispute was lost meanwhile: the customer's bank gave the money back
   * instead, so it is no longer owed and counts nowhere (see {@link supersedeUnmovedRefunds});
   * reversals of sellers' parts that landed for it count toward the loss's seller parts.
   * `owed_outside_stripe`: what the superseded refunds asked for beyond the loss, still owed
   * to the customer. Stripe refuses every refund of a charge charged back (`charge_disputed`),
   * so it is never asked of Stripe: it is booked as owed to the customer
   * (`marketplace_owed_to_customer`) when it is made, taken back as the refund would have been
   * (its sellers' parts reversed, the fee's part, the platform's), and an admin pays it by
   * other means (a `refund_owed` ticket names the amount, the currency and the customer).
   */
  readonly status:
    | "reversing"
    | "requested"
    | "succeeded"
    | "failed"
    | "superseded_by_dispute"
    | "owed_outside_stripe";
  /** Attempts at the Stripe refund (each a new idempotency key); 0 while reversing. */
  readonly attempts: number;
  readonly refundId?: string;
  /** A destination charge's application fee refund, as Stripe reported it. */
  readonly feeRefundId?: string;
  readonly failureCode?: string;
  /**
   * Whether the ledger holds its postings. A success Stripe fails afterwards undoes what it
   * took back (`marketplace_refund_failed`: the money is back on the platform's balance), so
   * the refund waits, `failed`, for the admins' retry (whose success posts it again) or is owed
   * outside Stripe — as one that failed at once. (Charges stored before kept the postings of
   * such a refund, `failed` with `ledgerPosted`: a retry's success posts nothing more.)
   */
  readonly ledgerPosted: boolean;
  /**
   * How many times Stripe failed it after reporting it succeeded (each undoing its postings);
   * absent: never. What Stripe did with the success stays done: a destination charge's
   * reversal of the seller's transfer and its fee refund to the seller (the retry asks for
   * neither again, and a loss superseding the refund counts that reversal as the platform's),
   * a split's reversals (records of their own). A later success posts under its attempt's ids.
   */
  readonly failedAfterSuccess?: number;
  /** The lost dispute that superseded it (with `status: "superseded_by_dispute"`). */
  readonly supersededBy?: string;
  /**
   * Look-ups at Stripe (`find_refund`) of the current attempt whose answer was that it had
   * not ended (still pending, or no refund found); absent: none. A new attempt starts again.
   */
  readonly lookups?: number;
  /**
   * The money never left the platform: a payment that arrived after it was recorded as
   * failed, refunded whole before any seller was paid.
   */
  readonly unsplit: boolean;
}

/** A dispute of the charge (the kernel's {@link Dispute}); lost, it records how the loss divides. */
export interface MarketplaceDispute extends Dispute {
  readonly parts?: TakeBackParts;
  /**
   * Booked lost: what its loss took of each seller's share that the platform still held (never
   * transferred: a co-host whose transfer waited, frozen by a dispute, or failed), in the order
   * of `sellers` — taken from their `seller_payable` instead of reversed from a transfer, and
   * never transferred to them. Absent: none (every part was reversed, or taken from elsewhere).
   */
  readonly withheldMinor?: readonly number[];
}

/** A customer's payment for an activity's RSVP or purchase, paid to its seller(s) at once, the platform keeping a fee. */
export interface MarketplaceCharge {
  readonly id: string;
  /** The client app's own reference for the charge (an RSVP or order id). */
  readonly clientReference: string;
  /** Who asked for the charge (the caller's principal): a reference is unique per caller. */
  readonly requestedBy: string;
  readonly activityId: string;
  readonly purpose: "rsvp" | "purchase";
  readonly description: string;
  readonly currency: CurrencyCode;
  readonly amountMinor: number;
  readonly fee: MarketplaceFee;
  /** The platform's fee, after the currency's minimum. */
  readonly feeMinor: number;
  readonly mode: MarketplaceChargeMode;
  readonly sellers: readonly MarketplaceSeller[];
  /** A destination charge made `on_behalf_of` the seller: the seller is the merchant of record. */
  readonly onBehalfOf: boolean;
  readonly customer: MarketplaceCustomer;
  readonly paymentMethod: MarketplacePaymentMethod;
  /** Stripe `transfer_group` of the charge and its transfers. */
  readonly transferGroup: string;
  readonly status: MarketplaceChargeStatus;
  readonly createdAt: Instant;
  readonly paymentIntentId?: string;
  /** What the client needs to confirm or authenticate the payment (3-D Secure); kept only while the payment requires action. */
  readonly clientSecret?: string;
  readonly chargeId?: string;
  /** A destination charge's transfer to the seller (Stripe makes it with the charge): what a lost dispute reverses. */
  readonly destinationTransferId?: string;
  readonly capturedAt?: Instant;
  readonly failureCode?: string;
  /**
   * When the expiry timer asked Stripe to cancel the PaymentIntent of a payment still
   * waiting for the customer. The charge stays `requires_action` until Stripe answers: it
   * ends `expired` when the cancel is confirmed, and a success that won the race (the
   * customer authenticated seconds before) is an ordinary payment.
   */
  readonly expiryRequestedAt?: Instant;
  /**
   * How many times Stripe was asked to cancel the PaymentIntent (the expiry timer's ask is 1;
   * absent with `expiryRequestedAt` set: 1, as stored before rechecks). Each `cancel_recheck`
   * timer while the charge still waits in `requires_action` asks again, up to
   * `CHECKOUT_EXPIRY_ASKS_MAX`; the one after the last opens a ticket and stores one more.
   */
  readonly expiryAsks?: number;
  /**
   * The wait for the customer (`actionWaits`) whose expiry asked the cancel of
   * `expiryRequestedAt`; absent: 1. A new wait drops the earlier wait's ask (its rechecks and
   * any of its asks still to be sent are ignored): this tells a charge stored before that from
   * one whose current wait asked.
   */
  readonly expiryWait?: number;
  /**
   * How many times the payment has moved into `requires_action` from another status (each a
   * wait with the policy's whole time, its own `action_expired` timer). Absent: never counted,
   * as stored before waits were: a charge in `requires_action` is in wait 1, and one that moves
   * there again from `processing` may have waited once already, so that wait is number 2.
   */
  readonly actionWaits?: number;
  /** Application fee refunds Stripe reported that no refund of susu's asked for (each ticketed once). */
  readonly unmatchedFeeRefundIds?: readonly string[];
  /** Per seller, split charges only. */
  readonly payouts: readonly SellerPayout[];
  readonly transfers: readonly SellerTransferAttempt[];
  readonly reversals: readonly SellerReversal[];
  readonly refunds: readonly MarketplaceRefund[];
  readonly disputes: readonly MarketplaceDispute[];
  /**
   * What admins recorded paying the customer outside Stripe of the refunds owed to them
   * (`owed_outside_stripe`), oldest first. Absent: none (and in snapshots stored before).
   */
  readonly owedPayments?: readonly OwedPayment[];
  /**
   * What admins recorded recovering from the customer of what lost disputes booked as owed back
   * by them (their `overpaidMinor`: paid outside Stripe and given back by the bank too), oldest
   * first. Absent: none (and in snapshots stored before).
   */
  readonly owedRecoveries?: readonly OwedRecovery[];
  readonly endedAt?: Instant;
  /** Optimistic-concurrency version, incremented by every stored change. */
  readonly version: number;
}

/** A seller as the `create` command names them. */
export interface NewMarketplaceSeller {
  readonly id: string;
  readonly connectedAccountId: string;
  /** Weight in a split (default 1). */
  readonly weight?: number;
}

/** What a client app asks for: the `create` command. One seller makes a destination charge; several, a split. */
export interface CreateMarketplaceCharge {
  /** The aggregate's id, chosen by the use case. */
  readonly id: string;
  /** The client app's own reference for the charge (an RSVP or order id). */
  readonly clientReference: string;
  /** Who asks for the charge (the caller's principal): a reference is unique per caller. */
  readonly requestedBy: string;
  readonly activityId: string;
  readonly purpose: "rsvp" | "purchase";
  readonly description: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly customer: MarketplaceCustomer;
  readonly paymentMethod: MarketplacePaymentMethod;
  readonly fee: MarketplaceFee;
  readonly sellers: readonly NewMarketplaceSeller[];
  /** The seller is the merchant of record (`on_behalf_of`); destination charges only. */
  readonly sellerIsMerchantOfRecord?: boolean;
}

/**
 * Longest text field (Stripe metadata values go up to 500 characters), in characters as
 * `textLength` counts them (code points): Stripe's docs give the limit in characters
 * (docs.stripe.com/api/metadata) and say nothing of UTF-16 units, JavaScript's `.length`.
 */
export const MARKETPLACE_TEXT_MAX_CHARS = 500;

function textProblem(name: string, value: string): string | undefined {
  if (value.trim().length === 0) return `${name} is empty`;
  if (textLength(value) > MARKETPLACE_TEXT_MAX_CHARS)
    return `${name} is longer than ${MARKETPLACE_TEXT_MAX_CHARS} characters`;
  return undefined;
}

function commandProblem(c: CreateMarketplaceCharge): string | undefined {
  const texts: [string, string][] = [
    ["id", c.id],
    ["clientReference", c.clientReference],
    ["requestedBy", c.requestedBy],
    ["activityId", c.activityId],
    ["description", c.description],
    ["customer id", c.customer.id],
    ["customer's Stripe customer", c.customer.stripeCustomerId],
    ["customer email", c.customer.email],
    ...c.sellers.flatMap((s): [string, string][] => [
      ["seller id", s.id],
      ["seller connected account", s.connectedAccountId],
    ]),
  ];
  if (c.paymentMethod.kind === "saved_card") texts.push(["payment method", c.paymentMethod.paymentMethodId]);
  for (const [name, value] of texts) {
    const problem = textProblem(name, value);
    if (problem) return problem;
  }
  if (!c.customer.email.includes("@")) return "customer email has no @";
  if (c.sellerIsMerchantOfRecord === true && c.sellers.length > 1)
    return "on_behalf_of names one merchant of record: only a destination charge (one seller) can carry it";
  return undefined;
}

/**
 * Validates a `create` command and makes the charge, `awaiting_payment`: a valid charge
 * amount in a known currency (`unsupported_currency`, `invalid_amount`), one the platform
 * settles in (`currency_not_settled`); sellers distinct,
 * at most the policy's, with positive weights and a share each (`invalid_split`); a fee
 * leaving the sellers something (`invalid_fee`); texts present and bounded
 * (`invalid_marketplace_charge`).
 */
export function newMarketplaceCharge(
  command: CreateMarketplaceCharge,
  ctx: { readonly now: Instant; readonly policy: MarketplacePolicy },
): Result<MarketplaceCharge, MarketplaceChargeError> {
  const { currency, amountMinor, sellers } = command;
  if (!isCurrencyCode(currency))
    return err(marketplaceChargeError("unsupported_currency", `${currency} is not a supported currency`));
  if (!Number.isSafeInteger(amountMinor))
    return err(marketplaceChargeError("invalid_amount", "the amount must be a whole number of minor units"));
  const charge = checkChargeAmount(money(amountMinor, currency));
  if (charge.isErr()) return err(marketplaceChargeError("invalid_amount", charge.error.message));
  if (sellers.length === 0 || sellers.length > ctx.policy.splitSellersMax)
    return err(
      marketplaceChargeError("invalid_split", `a charge pays 1 to ${ctx.policy.splitSellersMax} sellers`),
    );
  if (new Set(sellers.map((s) => s.id)).size !== sellers.length)
    return err(marketplaceChargeError("invalid_split", "a seller appears twice"));
  const notSettled = notSettledIn(ctx.policy.settlementCurrencies, currency);
  if (notSettled !== undefined)
    return err(
      marketplaceChargeError(
        "currency_not_settled",
        `${notSettled}: the sellers' transfers and their reversals could not be made in the charge's currency`,
      ),
    );
  const problem = commandProblem(command);
  if (problem) return err(marketplaceChargeError("invalid_marketplace_charge", problem));
  const fee = platformFeeMinor(
    amountMinor,
    currency,
    command.fee,
    ctx.policy.feeMinimumMinor[currency],
    sellers.length,
  );
  if (fee.isErr()) return err(marketplaceChargeError("invalid_fee", fee.error));
  const weights = sellers.map((s) => s.weight ?? 1);
  const split = splitAmongSellers(amountMinor, fee.value, currency, weights);
  if (split.isErr()) return err(split.error);
  return ok({
    id: command.id,
    clientReference: command.clientReference,
    requestedBy: command.requestedBy,
    activityId: command.activityId,
    purpose: command.purpose,
    description: command.description,
    currency,
    amountMinor,
    fee: command.fee,
    feeMinor: fee.value,
    mode: sellers.length === 1 ? "destination" : "split",
    sellers: sellers.map((s, i) => ({
      id: s.id,
      connectedAccountId: s.connectedAccountId,
      weight: weights[i] ?? 1,
      shareMinor: split.value[i]?.shareMinor ?? 0,
      feeMinor: split.value[i]?.feeMinor ?? 0,
    })),
    onBehalfOf: command.sellerIsMerchantOfRecord === true,
    customer: { ...command.customer },
    paymentMethod: command.paymentMethod,
    transferGroup: marketplaceChargeIds.transferGroup(command.id),
    status: "awaiting_payment",
    createdAt: ctx.now,
    payouts: [],
    transfers: [],
    reversals: [],
    refunds: [],
    disputes: [],
    version: 0,
  });
}

/** Whether the charge has ended for good. */
export function isMarketplaceChargeEnded(charge: MarketplaceCharge): boolean {
  return TERMINAL_MARKETPLACE_CHARGE_STATUSES.includes(charge.status);
}

/** The refunds that count: every refund asked for but those a lost dispute superseded (they never reached the customer). */
export function countedMarketplaceRefunds(charge: MarketplaceCharge): readonly MarketplaceRefund[] {
  return charge.refunds.filter((r) => r.status !== "superseded_by_dispute");
}

/**
 * Whether a refund never reached the customer: it failed before anything was posted as
 * refunded, or it is a split's refund still `reversing` (never sent to Stripe) with none of
 * its sellers' reversals in flight — one failed and waits for an admin's `retry_reversal`. A
 * lost dispute supersedes it — also when reversals of sellers' parts for it already landed:
 * that money is with the platform and counts toward the loss's seller parts
 * ({@link reversedForSupersededMinor}), so no seller is reversed twice. A refund with a
 * reversal in flight waits: the loss could not tell whether that seller's part came back.
 */
function refundNeverReachedCustomer(charge: MarketplaceCharge, refund: MarketplaceRefund): boolean {
  if (refund.ledgerPosted) return false;
  if (refund.status === "failed") return true;
  return (
    refund.status === "reversing" &&
    refund.attempts === 0 &&
    !charge.reversals.some((rv) => rv.forRefund === refund.number && rv.status === "requested")
  );
}

/**
 * What the reversals that landed for the refunds the dispute `disputeId` superseded brought
 * back from each seller, in the order of `sellers`: the platform holds it already, so the
 * loss's part of a seller is reversed only beyond it, and what exceeds that part covers the
 * seller's part of the refund of the rest.
 */
export function reversedForSupersededMinor(charge: MarketplaceCharge, disputeId: string): readonly number[] {
  const supersededRefunds = charge.refunds.filter((r) => r.supersededBy === disputeId);
  const superseded = new Set(supersededRefunds.map((r) => r.number));
  // A destination charge's refund reverses the seller's transfer with it, at Stripe: one whose
  // success Stripe failed afterwards had it done, and that reversal stays.
  const withRefundsMinor =
    charge.mode === "destination"
      ? supersededRefunds
          .filter((r) => (r.failedAfterSuccess ?? 0) > 0 && !r.unsplit)
          .reduce((sum, r) => sum + (r.parts.sellerPartsMinor[0] ?? 0), 0)
      : 0;
  return charge.sellers.map(
    (seller, i) =>
      charge.reversals
        .filter(
          (rv) =>
            rv.sellerId === seller.id &&
            rv.status === "reversed" &&
            rv.forRefund !== undefined &&
            superseded.has(rv.forRefund),
        )
        .reduce((sum, rv) => sum + rv.amountMinor, 0) + (i === 0 ? withRefundsMinor : 0),
  );
}

/**
 * Marks every refund that never reached the customer as superseded by the lost dispute `disputeId`:
 * the customer's bank took the money back instead, so retrying the refund would pay the
 * customer twice (and Stripe refuses it: `charge_disputed`). What the loss does not cover
 * is owed to the customer outside Stripe (see decide's `oweWhatTheLossLeft`).
 */
export function supersedeUnmovedRefunds(charge: MarketplaceCharge, disputeId: string): MarketplaceCharge {
  if (!charge.refunds.some((r) => refundNeverReachedCustomer(charge, r))) return charge;
  return {
    ...charge,
    refunds: charge.refunds.map((r) =>
      refundNeverReachedCustomer(charge, r)
        ? { ...r, status: "superseded_by_dispute" as const, supersededBy: disputeId }
        : r,
    ),
  };
}

/** Everything given back to the customer or committed to be: refunds asked for (but superseded ones) and lost disputes. */
export function marketplaceGivenBackMinor(charge: MarketplaceCharge): number {
  return (
    countedMarketplaceRefunds(charge).reduce((sum, r) => sum + r.amountMinor, 0) +
    charge.disputes.reduce((sum, d) => sum + (d.lostMinor ?? 0), 0)
  );
}

/** What is left of the charge to refund (or to lose): captured minus everything given back. */
export function marketplaceRefundableMinor(charge: MarketplaceCharge): number {
  return charge.capturedAt === undefined ? 0 : charge.amountMinor - marketplaceGivenBackMinor(charge);
}
