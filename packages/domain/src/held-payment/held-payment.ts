import { err, ok, type Result } from "neverthrow";
import type { Dispute } from "../kernel/disputes.js";
import { textLength } from "../kernel/text.js";
import { type CurrencyCode, checkChargeAmount, isCurrencyCode, money } from "../money/index.js";
import type { OwedPayment } from "../owed/owed-payment.js";
import type { OwedRecovery } from "../owed/owed-recovery.js";
import type { HeldPaymentPolicy } from "../policy/held-payment-policy.js";
import { notSettledIn } from "../policy/settlement-currencies.js";
import type { Instant } from "../shared/time.js";
import { type HeldPaymentError, heldPaymentError } from "./held-payment.errors.js";
import { heldPaymentIds } from "./held-payment-ids.js";
import { type PlatformFee, splitPlatformFee } from "./held-payment-money.js";

/**
 * The life of a held payment. Happy path: `awaiting_payment → held → releasing →
 * released` (with `payment_processing` between the first two for delayed methods). Around
 * it: the session expires (`expired`) or a delayed payment fails (`payment_failed`); the
 * booking is not fulfilled or an admin refunds everything (`refunding → refunded`); the
 * release cannot go (`release_blocked`); a lost dispute takes everything back
 * (`charged_back`). Every allowed move is in `HELD_PAYMENT_TRANSITIONS`.
 *
 * An admin hold and an open dispute are not statuses: they stop the release from any
 * status before it, and are recorded in `adminHold` and `disputes`.
 */
export type HeldPaymentStatus =
  | "awaiting_payment"
  | "payment_processing"
  | "held"
  | "releasing"
  | "release_blocked"
  | "released"
  | "refunding"
  | "refunded"
  | "expired"
  | "payment_failed"
  | "charged_back";

/** Statuses no input moves a payment out of. */
export const TERMINAL_HELD_PAYMENT_STATUSES: readonly HeldPaymentStatus[] = ["refunded", "charged_back"];

/** What blocks a release (see {@link HeldPayment.blockKind}). */
export type ReleaseBlockKind =
  | "seller_cannot_receive"
  | "transfer_parked"
  | "transfer_outcome_unknown"
  | "frozen"
  | "late_transfer_unbooked";

/** The seller: a person with a Stripe Connect account. */
export interface HeldPaymentSeller {
  /** The person's id. */
  readonly id: string;
  /** Their connected account (`acct_…`), the transfer's destination. */
  readonly connectedAccountId: string;
}

/** Who pays, as the client app names them; told about refunds. */
export interface HeldPaymentCustomer {
  readonly email: string;
  readonly name?: string;
}

/**
 * One attempt at the release transfer (its effect id is the Stripe idempotency key).
 * `unknown`: Stripe's answer was lost; the attempt may yet be reported created, and no
 * other attempt is made until a person has looked.
 */
export interface TransferAttempt {
  /** 1-based, across the payment's life. */
  readonly number: number;
  readonly effectId: string;
  readonly amountMinor: number;
  readonly status: "requested" | "created" | "failed" | "unknown";
  readonly requestedAt: Instant;
  readonly transferId?: string;
  readonly failureCode?: string;
  readonly failureMessage?: string;
  /**
   * Look-ups of this attempt's transfer at Stripe asked for (an admin's release of an
   * attempt of unknown outcome looks first, and adopts the transfer if it landed).
   */
  readonly lookups?: number;
  /**
   * Landed late (`created` after susu had written the attempt off, or beside another attempt)
   * and not booked: money Stripe paid the seller beyond what the books owe them. Its
   * `unexpected_money` ticket names it; a person recovers it. Absent: booked, or not landed.
   */
  readonly unbooked?: true;
}

/** A reversal of (part of) the seller's transfer: for a refund after the release, or a lost dispute. */
export interface TransferReversal {
  /** 1-based. */
  readonly number: number;
  readonly effectId: string;
  readonly amountMinor: number;
  readonly reason: "refund" | "dispute_lost";
  /** The refund (`refund`) or the dispute (`dispute_lost`) it is for. */
  readonly forRefund?: number;
  readonly forDisputeId?: string;
  readonly status: "requested" | "reversed" | "failed";
  readonly failureCode?: string;
}

/**
 * A refund to the customer, whole or partial. Its split between the seller's share and
 * the fee, and where its money comes from (`stage`), are fixed when it is asked for.
 * `reversing`: the seller's part is being reversed first (a refund after the release).
 * `reversal_failed` and `failed` wait for an admin's `retry_refund`.
 * `superseded_by_dispute`: it never reached the customer (it failed, nothing was posted as
 * refunded) and a dispute was lost meanwhile: the customer's bank gave the money back
 * instead, so it is no longer owed and counts nowhere (see {@link supersedeUnmovedRefunds});
 * a reversal of the seller's part that landed for it counts toward the loss's seller part.
 * `owed_outside_stripe`: what the superseded refunds asked for beyond the loss, still owed to
 * the customer. Stripe refuses every refund of a charge charged back (`charge_disputed`), so it
 * is never asked of Stripe: it is booked as owed to the customer (`held_owed_to_customer`)
 * when it is made, and an admin pays it by other means (a `refund_owed` ticket names the
 * amount, the currency and the customer). It counts as given back: nothing of it is released
 * to the seller, and after the release its seller part is reversed (`reversalNumber`).
 */
export interface HeldRefund {
  /** 1-based. */
  readonly number: number;
  readonly amountMinor: number;
  readonly sellerPartMinor: number;
  readonly feePartMinor: number;
  /**
   * What the platform pays of it itself: a part of the currency's step neither the seller
   * (who gives back whole steps) nor the fee had left (`takeBackSplit`). Absent: nothing.
   */
  readonly platformFundedMinor?: number;
  readonly stage: "holding" | "earmarked" | "transferred";
  readonly reason: "unfulfilled" | "admin" | "late_payment";
  /** Whether it gives back everything that was left: the payment ends `refunded` with it. */
  readonly full: boolean;
  readonly status:
    | "reversing"
    | "requested"
    | "succeeded"
    | "failed"
    | "reversal_failed"
    | "superseded_by_dispute"
    | "owed_outside_stripe";
  /** Attempts at the Stripe refund (each a new idempotency key); 0 while reversing first. */
  readonly attempts: number;
  /** The reversal of the seller's part, when one was needed and asked for. */
  readonly reversalNumber?: number;
  readonly refundId?: string;
  readonly failureCode?: string;
  /**
   * Whether the ledger holds its posting. A success Stripe fails afterwards undoes it
   * (`held_refund_failed`: the money is back where the refund took it from), so the refund
   * waits, `failed`, for the admins' retry (whose success posts it again) or is owed outside
   * Stripe — as one that failed at once. (Payments stored before kept the posting of such a
   * refund, `failed` with `ledgerPosted`: a retry's success posts nothing more.)
   */
  readonly ledgerPosted: boolean;
  /**
   * How many times Stripe failed it after reporting it succeeded (each undoing its posting);
   * absent: never. A later success posts under its attempt's id (`refundedAgain`).
   */
  readonly failedAfterSuccess?: number;
  /** The lost dispute that superseded it (with `status: "superseded_by_dispute"`). */
  readonly supersededBy?: string;
  /**
   * Where the money of a superseded refund was moved (`held_refund_superseded`) when the
   * release had gone past its `stage` by the time its loss was booked: set aside with the
   * seller's share (`earmarked`), or, after the transfer, its seller's part held back in the
   * hold and its fee part in the fees (`transferred`). Absent: where its stage left it (and in
   * snapshots stored before).
   */
  readonly supersededMoneyAt?: "earmarked" | "transferred";
  /**
   * Look-ups at Stripe (`find_refund`) of the current attempt whose answer was that it had
   * not ended (still pending, or no refund found); absent: none. A new attempt starts again.
   */
  readonly lookups?: number;
}

/**
 * A dispute of the charge (the kernel's {@link Dispute}). Lost, it records how the loss
 * divides between the seller's share and the fee — booked only once no transfer is in
 * flight, as where the money is depends on its outcome — and the reversal it needed.
 */
export interface HeldDispute extends Dispute {
  readonly sellerPartMinor?: number;
  readonly feePartMinor?: number;
  /** Of a loss off the currency's step, what the platform pays itself (see {@link HeldRefund}). Absent: nothing. */
  readonly platformFundedMinor?: number;
  readonly reversalNumber?: number;
  /**
   * Lost while the release's transfer was in flight: what the refunds it superseded asked
   * beyond it is owed outside Stripe once the transfer's outcome is heard (where that money is
   * taken from depends on it), with the loss's booking. Absent: nothing waits (and in snapshots
   * stored before, whose rest was owed at once).
   */
  readonly owedRestWaits?: true;
}

/** A client app's payment for one of its bookings, held for a dispute window, then released to the seller. */
export interface HeldPayment {
  readonly id: string;
  /** The client app's own reference (a booking id). */
  readonly clientReference: string;
  /** Who asked for the payment (the caller's principal): a reference is unique per caller. */
  readonly requestedBy: string;
  readonly description: string;
  readonly currency: CurrencyCode;
  readonly amountMinor: number;
  readonly fee: PlatformFee;
  /** The platform's fee, after the currency's minimum. */
  readonly feeMinor: number;
  /** `amountMinor − feeMinor`: what the seller is paid if nothing is given back. */
  readonly sellerShareMinor: number;
  readonly seller: HeldPaymentSeller;
  /** Whether the seller's account can receive transfers, as last reported. */
  readonly sellerCanReceive: boolean;
  readonly customer: HeldPaymentCustomer;
  /** How long funds stay held after the booking is fulfilled (this payment's own, or the policy's). */
  readonly disputeWindowMs: number;
  /** Stripe `transfer_group` of the charge and the transfer. */
  readonly transferGroup: string;
  readonly successUrl: string;
  readonly cancelUrl?: string;
  readonly status: HeldPaymentStatus;
  readonly createdAt: Instant;
  /** When the Checkout Session expires (asked of Stripe). */
  readonly checkoutExpiresAt: Instant;
  readonly checkoutSessionId?: string;
  readonly checkoutUrl?: string;
  /**
   * When the backstop timer asked Stripe to expire the Checkout Session of a payment still
   * `awaiting_payment`. The payment stays `awaiting_payment` until Stripe answers: it ends
   * `expired` once the session is expired (the answer, or `checkout.session.expired`); a
   * success whose webhook was late (the session is `complete`) is an ordinary payment.
   */
  readonly expiryRequestedAt?: Instant;
  /**
   * How many times Stripe was asked to expire the session (the backstop's ask is 1; absent
   * with `expiryRequestedAt` set: 1, as stored before rechecks). Each `checkout_recheck`
   * timer while the payment still waits asks again, up to `CHECKOUT_EXPIRY_ASKS_MAX`; the one
   * after the last opens a ticket and stores one more.
   */
  readonly expiryAsks?: number;
  readonly paymentIntentId?: string;
  /** The charge: the transfer's `source_transaction`. */
  readonly chargeId?: string;
  readonly capturedAt?: Instant;
  /** What the client app said about the booking. */
  readonly fulfilment: "pending" | "confirmed" | "unfulfilled";
  /** Why the client app could not fulfil the booking (with `fulfilment: "unfulfilled"`). */
  readonly unfulfilledReason?: string;
  /** When the dispute window ends and the release is due (set by the fulfilment confirmation). */
  readonly releaseDueAt?: Instant;
  readonly adminHold?: { readonly by: string; readonly reason: string; readonly at: Instant };
  /** Whether the release started: the fee was earned and the seller's share set aside. */
  readonly releaseStarted: boolean;
  /** Failed transfer attempts since the release started or last resumed (for the retry policy). */
  readonly transferFailures: number;
  readonly transfers: readonly TransferAttempt[];
  readonly reversals: readonly TransferReversal[];
  readonly refunds: readonly HeldRefund[];
  readonly disputes: readonly HeldDispute[];
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
  /** Why the release is blocked, for people; set only while `release_blocked`. */
  readonly blockedReason?: string;
  /**
   * What blocks the release, which says what lifts it; set only while `release_blocked`:
   * `seller_cannot_receive` and `transfer_parked` lift when the seller's account is
   * reported ready (or an admin releases), `frozen` when the dispute that froze it closes,
   * `transfer_outcome_unknown` only by an admin, once they checked Stripe;
   * `late_transfer_unbooked` (a transfer landed late and could not be booked, and no other
   * attempt will pay the seller) by nothing yet: a person reconciles it by hand (its ticket).
   */
  readonly blockKind?: ReleaseBlockKind;
  readonly failureCode?: string;
  readonly endedAt?: Instant;
  /** Optimistic-concurrency version, incremented by every stored change. */
  readonly version: number;
}

/** What a client app asks for: the `create` command. */
export interface CreateHeldPayment {
  /** The aggregate's id, chosen by the use case. */
  readonly id: string;
  readonly clientReference: string;
  /** Who asks for the payment (the caller's principal): a reference is unique per caller. */
  readonly requestedBy: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly seller: HeldPaymentSeller & { readonly canReceive: boolean };
  readonly description: string;
  readonly customer: HeldPaymentCustomer;
  readonly fee: PlatformFee;
  /** This seller's or product's dispute window; the policy's when absent. */
  readonly disputeWindowMs?: number;
  readonly successUrl: string;
  readonly cancelUrl?: string;
}

/**
 * Longest text field (Stripe metadata values go up to 500 characters; descriptions more), in
 * characters as `textLength` counts them (code points). Stripe gives its limits in characters
 * ("values up to 500 characters long", docs.stripe.com/api/metadata) and says no more about
 * how it counts; it never mentions UTF-16 units, which are JavaScript's `.length`, not a
 * character count, so a code point is the reading followed here, as for every other text.
 */
export const HELD_PAYMENT_TEXT_MAX_CHARS = 500;

function textProblem(name: string, value: string | undefined, optional = false): string | undefined {
  if (value === undefined) return optional ? undefined : `${name} is required`;
  if (value.trim().length === 0) return `${name} is empty`;
  if (textLength(value) > HELD_PAYMENT_TEXT_MAX_CHARS)
    return `${name} is longer than ${HELD_PAYMENT_TEXT_MAX_CHARS} characters`;
  return undefined;
}

/**
 * Validates a `create` command and makes the payment, `awaiting_payment`: the amount is
 * a valid charge in a known currency the platform settles in (`unsupported_currency`,
 * `currency_not_settled`, `invalid_amount`), the fee
 * splits it leaving the seller something (`invalid_fee`), the dispute window is within
 * the policy (`invalid_dispute_window`), and the texts are present and bounded
 * (`invalid_held_payment`).
 */
export function newHeldPayment(
  command: CreateHeldPayment,
  ctx: { readonly now: Instant; readonly policy: HeldPaymentPolicy },
): Result<HeldPayment, HeldPaymentError> {
  const { currency, amountMinor } = command;
  if (!isCurrencyCode(currency))
    return err(heldPaymentError("unsupported_currency", `${currency} is not a supported currency`));
  const notSettled = notSettledIn(ctx.policy.settlementCurrencies, currency);
  if (notSettled !== undefined)
    return err(
      heldPaymentError("currency_not_settled", `${notSettled}: the seller could not be paid from the charge`),
    );
  if (!Number.isSafeInteger(amountMinor))
    return err(heldPaymentError("invalid_amount", "the amount must be a whole number of minor units"));
  const charge = checkChargeAmount(money(amountMinor, currency));
  if (charge.isErr()) return err(heldPaymentError("invalid_amount", charge.error.message));
  const split = splitPlatformFee(amountMinor, currency, command.fee, ctx.policy.feeMinimumMinor[currency]);
  if (split.isErr()) return err(split.error);
  const window = command.disputeWindowMs ?? ctx.policy.disputeWindowMs;
  const { disputeWindowMinMs: min, disputeWindowMaxMs: max } = ctx.policy;
  if (!Number.isSafeInteger(window) || window < min || window > max)
    return err(
      heldPaymentError(
        "invalid_dispute_window",
        `the dispute window must be from ${min / 1000} to ${max / 1000} seconds`,
      ),
    );
  const problem =
    textProblem("id", command.id) ??
    textProblem("clientReference", command.clientReference) ??
    textProblem("requestedBy", command.requestedBy) ??
    textProblem("description", command.description) ??
    textProblem("seller id", command.seller.id) ??
    textProblem("seller connected account", command.seller.connectedAccountId) ??
    textProblem("customer email", command.customer.email) ??
    textProblem("customer name", command.customer.name, true) ??
    textProblem("successUrl", command.successUrl) ??
    textProblem("cancelUrl", command.cancelUrl, true) ??
    (command.customer.email.includes("@") ? undefined : "customer email has no @");
  if (problem !== undefined) return err(heldPaymentError("invalid_held_payment", problem));
  const customer: HeldPaymentCustomer =
    command.customer.name === undefined
      ? { email: command.customer.email }
      : { email: command.customer.email, name: command.customer.name };
  return ok({
    id: command.id,
    clientReference: command.clientReference,
    requestedBy: command.requestedBy,
    description: command.description,
    currency,
    amountMinor,
    fee: command.fee,
    feeMinor: split.value.feeMinor,
    sellerShareMinor: split.value.sellerShareMinor,
    seller: { id: command.seller.id, connectedAccountId: command.seller.connectedAccountId },
    sellerCanReceive: command.seller.canReceive,
    customer,
    disputeWindowMs: window,
    transferGroup: heldPaymentIds.transferGroup(command.id),
    successUrl: command.successUrl,
    ...(command.cancelUrl !== undefined ? { cancelUrl: command.cancelUrl } : {}),
    status: "awaiting_payment",
    createdAt: ctx.now,
    checkoutExpiresAt: ctx.now + ctx.policy.checkoutTtlMs,
    fulfilment: "pending",
    releaseStarted: false,
    transferFailures: 0,
    transfers: [],
    reversals: [],
    refunds: [],
    disputes: [],
    version: 0,
  });
}

/** Whether the payment has ended for good. */
export function isHeldPaymentEnded(payment: HeldPayment): boolean {
  return TERMINAL_HELD_PAYMENT_STATUSES.includes(payment.status);
}

/** The refunds that count: every refund asked for but those a lost dispute superseded (they never reached the customer). */
export function countedRefunds(payment: HeldPayment): readonly HeldRefund[] {
  return payment.refunds.filter((r) => r.status !== "superseded_by_dispute");
}

/**
 * Whether a refund never reached the customer and never will unless retried: it failed (or
 * its reversal did) before anything was posted as refunded. A lost dispute supersedes such a
 * refund — also when the reversal of the seller's part for it already landed: that money is
 * with the platform, and counts toward the loss's seller part
 * ({@link heldBackForSupersededMinor}), so the seller is not reversed twice.
 */
export function refundNeverReachedCustomer(refund: HeldRefund): boolean {
  return (refund.status === "failed" || refund.status === "reversal_failed") && !refund.ledgerPosted;
}

/**
 * Marks every refund that never reached the customer ({@link refundNeverReachedCustomer}) as
 * superseded by the lost dispute `disputeId`: the customer's bank took the money back
 * instead, so retrying the refund would pay the customer twice (and Stripe refuses it:
 * `charge_disputed`). What the loss does not cover is owed to the customer outside Stripe
 * (see decide's `oweWhatTheLossLeft`).
 */
export function supersedeUnmovedRefunds(payment: HeldPayment, disputeId: string): HeldPayment {
  if (!payment.refunds.some(refundNeverReachedCustomer)) return payment;
  return {
    ...payment,
    refunds: payment.refunds.map((r) =>
      refundNeverReachedCustomer(r)
        ? { ...r, status: "superseded_by_dispute" as const, supersededBy: disputeId }
        : r,
    ),
  };
}

/**
 * What the platform holds back from the seller for the refunds the dispute `disputeId`
 * superseded: what reversals of the seller's transfer that landed for them brought back, and
 * the seller's part of each that was asked before the seller was paid (`holding` or
 * `earmarked`: the transfer was made net of it, so it was never transferred). The loss's
 * seller part is reversed only beyond it, and what exceeds that part covers the seller's part
 * of the refund of the rest. Only what happens after the transfer reads it.
 */
export function heldBackForSupersededMinor(payment: HeldPayment, disputeId: string): number {
  const superseded = payment.refunds.filter((r) => r.supersededBy === disputeId);
  const numbers = new Set(superseded.map((r) => r.number));
  const reversedMinor = payment.reversals
    .filter((rv) => rv.status === "reversed" && rv.forRefund !== undefined && numbers.has(rv.forRefund))
    .reduce((sum, rv) => sum + rv.amountMinor, 0);
  const neverTransferredMinor = superseded
    .filter((r) => r.stage !== "transferred")
    .reduce((sum, r) => sum + r.sellerPartMinor, 0);
  return reversedMinor + neverTransferredMinor;
}

/** Everything given back to the customer or committed to be: every refund asked for (but superseded ones), and lost disputes. */
export function givenBackMinor(payment: HeldPayment): number {
  const refunded = countedRefunds(payment).reduce((sum, r) => sum + r.amountMinor, 0);
  const lost = payment.disputes.reduce((sum, d) => sum + (d.lostMinor ?? 0), 0);
  return refunded + lost;
}

/** What is left of the payment to refund (or to lose): captured minus everything given back. */
export function refundableMinor(payment: HeldPayment): number {
  return payment.capturedAt === undefined ? 0 : payment.amountMinor - givenBackMinor(payment);
}

/** The seller's share net of the seller's parts of everything given back: what the release transfers. */
export function sellerNetMinor(payment: HeldPayment): number {
  const refunds = countedRefunds(payment).reduce((sum, r) => sum + r.sellerPartMinor, 0);
  const lost = payment.disputes.reduce((sum, d) => sum + (d.sellerPartMinor ?? 0), 0);
  return payment.sellerShareMinor - refunds - lost;
}

/** The fee net of the fee parts of everything given back: what the platform earns. */
export function feeNetMinor(payment: HeldPayment): number {
  const refunds = countedRefunds(payment).reduce((sum, r) => sum + r.feePartMinor, 0);
  const lost = payment.disputes.reduce((sum, d) => sum + (d.feePartMinor ?? 0), 0);
  return payment.feeMinor - refunds - lost;
}
