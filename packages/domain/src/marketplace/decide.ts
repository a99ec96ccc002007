import { err, type Result } from "neverthrow";
import { type Decision, ignore } from "../kernel/decision.js";
import {
  closeLossThatWaited,
  type DisputeRules,
  disputeClosed,
  disputeOpened,
  disputeUpdated,
  type OwedLossRules,
  owedAfterSupersededRefunds,
  settleOwedAfterLoss,
  takeUncountedLossesFromOwed,
  waitingLoss,
} from "../kernel/disputes.js";
import { PaymentDraft } from "../kernel/draft.js";
import {
  isBookedTransfer,
  isTransferInFlight,
  mayHaveLandedAfterWriteOff,
  writeOffOtherAttempts,
} from "../kernel/late-transfers.js";
import {
  type OwedCause,
  owedCauseData,
  owedCauseOfFailedRefund,
  owedCauseRefs,
  owedCauseSummary,
} from "../kernel/owed-cause.js";
import { type RefundLookupRules, refundNotEnded, refundOverdue } from "../kernel/refund-lookups.js";
import {
  type LedgerError,
  type LedgerTransaction,
  type MarketplaceSellerMovementInput,
  marketplaceAccounts,
  marketplaceApplicationFeeRefundCorrected,
  marketplaceApplicationFeeRefunded,
  marketplaceCaptured,
  marketplaceDisputeLost,
  marketplaceFeeEarned,
  marketplaceOwedToCustomer,
  marketplaceRefunded,
  marketplaceRefundFailed,
  marketplaceSellerPayable,
  marketplaceTransferReversed,
  marketplaceTransferred,
} from "../ledger/index.js";
import { currencyInfo, formatMoney, money } from "../money/index.js";
import { owedIds } from "../owed/owed-ids.js";
import { owedLeftMinor } from "../owed/owed-payment.js";
import { owedPaidNotTakenMinor, paymentOwed } from "../owed/payment-owed.js";
import { CHECKOUT_EXPIRY_RECHECK_MS, expiryRecheckStep } from "../policy/checkout-expiry-recheck.js";
import { classifyFailure } from "../policy/failure-codes.js";
import type {
  MarketplacePolicy,
  MarketplaceRefundRules,
  RefundInitiator,
} from "../policy/marketplace-policy.js";
import { REFUND_OUTCOME_OVERDUE_MS } from "../policy/refund-overdue.js";
import { retryOrPark } from "../policy/retry-or-park.js";
import type { Instant } from "../shared/time.js";
import { type MarketplaceChargeError, marketplaceChargeError } from "./marketplace-charge.errors.js";
import {
  type CreateMarketplaceCharge,
  countedMarketplaceRefunds,
  type MarketplaceCharge,
  type MarketplaceChargeStatus,
  type MarketplaceDispute,
  type MarketplaceRefund,
  marketplaceRefundableMinor,
  newMarketplaceCharge,
  reversedForSupersededMinor,
  type SellerPayout,
  type SellerReversal,
  type SellerTransferAttempt,
  supersedeUnmovedRefunds,
} from "./marketplace-charge.js";
import {
  MARKETPLACE_CHARGE_AGGREGATE,
  type MarketplaceChargeEffect,
  type MarketplaceChargeTicketReason,
} from "./marketplace-charge-effect.js";
import { marketplaceChargeIds as ids } from "./marketplace-charge-ids.js";
import type { MarketplaceChargeIgnoredCode } from "./marketplace-charge-ignored.js";
import type { MarketplaceChargeInput } from "./marketplace-charge-input.js";
import { destinationRefundParts, type TakeBackParts, takeBackParts } from "./marketplace-charge-money.js";
import type { MarketplaceChargeTimer } from "./marketplace-charge-timer.js";
import { moveMarketplaceCharge } from "./marketplace-charge-transitions.js";

/** What `decideMarketplaceCharge` needs besides the state and the input: the time and the policy. */
export interface MarketplaceChargeDecideContext {
  readonly now: Instant;
  readonly policy: MarketplacePolicy;
}

/**
 * The outcome of a decision on a marketplace charge: the next state and the effects to
 * carry out; when the input did not apply, the state unchanged, no effects, and `ignored`.
 */
export type MarketplaceChargeDecision = Decision<
  MarketplaceCharge,
  MarketplaceChargeEffect,
  MarketplaceChargeIgnoredCode
>;

type Step = Result<MarketplaceChargeDecision, MarketplaceChargeError>;

type InputOf<T extends MarketplaceChargeInput["type"]> = Extract<
  MarketplaceChargeInput,
  { readonly type: T }
>;

/** A marketplace charge's draft: the kernel's {@link PaymentDraft}, plus its sellers' postings, transfers and payouts. */
class Draft extends PaymentDraft<
  MarketplaceCharge,
  MarketplaceChargeEffect,
  MarketplaceChargeDecideContext,
  typeof MARKETPLACE_CHARGE_AGGREGATE
> {
  constructor(initial: MarketplaceCharge, ctx: MarketplaceChargeDecideContext) {
    super(initial, ctx, {
      label: "marketplace charge",
      move: moveMarketplaceCharge,
      aggregate: MARKETPLACE_CHARGE_AGGREGATE,
      timerId: ids.timer,
      noticeData: (s) => ({ marketplaceChargeId: s.id, activityId: s.activityId, currency: s.currency }),
    });
  }

  /** Posts a one-amount movement (of a seller, when `sellerId` is given), or nothing for a zero amount. */
  postAmount(
    build: (input: MarketplaceSellerMovementInput) => Result<LedgerTransaction, LedgerError>,
    id: string,
    amountMinor: number,
    sellerId = "",
  ): void {
    if (amountMinor === 0) return;
    const s = this.state;
    this.post(
      build({ id, chargeId: s.id, sellerId, amount: money(amountMinor, s.currency), occurredAt: this.now }),
    );
  }

  updateTransfer(sellerId: string, attempt: number, patch: Partial<SellerTransferAttempt>): void {
    this.setList(
      "transfers",
      this.state.transfers,
      (t) => t.sellerId === sellerId && t.attempt === attempt,
      patch,
    );
  }

  updatePayout(sellerId: string, patch: Partial<SellerPayout>): void {
    this.setList("payouts", this.state.payouts, (p) => p.sellerId === sellerId, patch);
  }
}

const refuse = (code: Parameters<typeof marketplaceChargeError>[0], message: string): Step =>
  err(marketplaceChargeError(code, message));

// ---------------------------------------------------------------- what the state says

const UNPAID: readonly MarketplaceChargeStatus[] = ["awaiting_payment", "requires_action", "processing"];

function attemptsOf(s: MarketplaceCharge, sellerId: string): SellerTransferAttempt[] {
  return s.transfers.filter((t) => t.sellerId === sellerId);
}

function latestAttempt(s: MarketplaceCharge, sellerId: string): SellerTransferAttempt | undefined {
  return attemptsOf(s, sellerId).at(-1);
}

/** The seller's transfer that paid them and is booked (a late extra one is not: `unbooked`): the one reversals are asked of. */
function paidTransfer(s: MarketplaceCharge, sellerId: string): SellerTransferAttempt | undefined {
  return attemptsOf(s, sellerId).find(isBookedTransfer);
}

/**
 * A split charge whose money came after it was given up on (failed, expired): its shares were
 * never allocated and no co-host is ever paid — the money is with the platform, in flight, and
 * its refund gives it all back (`unsplit`). A loss takes from there, and waits for no transfer.
 */
function unallocatedSplit(s: MarketplaceCharge): boolean {
  return s.mode === "split" && s.refunds.some((r) => r.unsplit);
}

/**
 * What a split's seller is to be transferred: their share, less their parts of lost disputes —
 * a loss takes a seller's part from the share the platform still holds for them when they
 * were not paid yet (see `bookPendingLosses`), so it is never transferred only to be reversed
 * again (their balance could be paid out to their bank before the reversal).
 */
function sellerDueMinor(s: MarketplaceCharge, sellerId: string): number {
  const i = s.sellers.findIndex((x) => x.id === sellerId);
  const share = s.sellers[i]?.shareMinor ?? 0;
  const lostMinor = s.disputes
    .filter((x) => x.status === "lost")
    .reduce((sum, x) => sum + (x.parts?.sellerPartsMinor[i] ?? 0), 0);
  return Math.max(0, share - lostMinor);
}

/**
 * Whether every seller was paid: at once for a destination charge, by their transfer for a
 * split — or, a split's seller not paid, is owed nothing more (lost disputes took their whole
 * share) and no attempt of theirs may still land.
 */
function everySellerPaid(s: MarketplaceCharge): boolean {
  if (s.capturedAt === undefined) return false;
  return (
    s.mode === "destination" ||
    s.sellers.every(
      (x) =>
        paidTransfer(s, x.id) !== undefined ||
        (sellerDueMinor(s, x.id) === 0 && !attemptsOf(s, x.id).some(isTransferInFlight)),
    )
  );
}

/**
 * What the platform still holds of each split seller's share (their `seller_payable`), in the
 * order of `sellers`: the share, less their transfer once it landed, less what booked losses
 * took of it. Nothing for a destination charge (its seller is paid with it) or a split whose
 * shares were never allocated.
 */
function payablesLeftMinor(s: MarketplaceCharge): number[] {
  if (s.mode === "destination" || s.capturedAt === undefined || unallocatedSplit(s))
    return s.sellers.map(() => 0);
  return s.sellers.map((seller, i) =>
    Math.max(
      0,
      seller.shareMinor -
        (paidTransfer(s, seller.id)?.amountMinor ?? 0) -
        s.disputes.reduce((sum, x) => sum + (x.withheldMinor?.[i] ?? 0), 0),
    ),
  );
}

/** What booked losses took of a seller's share the platform held (never transferred to them). */
function withheldFromMinor(s: MarketplaceCharge, sellerId: string): number {
  const i = s.sellers.findIndex((x) => x.id === sellerId);
  return s.disputes.reduce((sum, x) => sum + (x.withheldMinor?.[i] ?? 0), 0);
}

/**
 * A refund not yet done: in flight, or failed and waiting for an admin's retry (one a lost
 * dispute superseded is done, and so is one owed to the customer outside Stripe: nothing more
 * is asked of Stripe for it).
 */
function unfinishedRefund(s: MarketplaceCharge): MarketplaceRefund | undefined {
  return s.refunds.find(
    (r) =>
      r.status !== "succeeded" && r.status !== "superseded_by_dispute" && r.status !== "owed_outside_stripe",
  );
}

/**
 * A dispute Stripe closed lost: the charge was charged back, and Stripe refuses every refund
 * of it (`charge_disputed`), whatever amount the dispute took.
 */
function lostDispute(s: MarketplaceCharge): MarketplaceDispute | undefined {
  return s.disputes.find((x) => x.status === "lost");
}

const chargedBack = (x: MarketplaceDispute): Step =>
  refuse("charge_disputed", `dispute ${x.id} was lost: Stripe refuses every refund of a charge charged back`);

function openDispute(s: MarketplaceCharge): MarketplaceDispute | undefined {
  return s.disputes.find((x) => x.status === "open");
}

/** Everything committed to be taken back, as parts: refunds asked for and lost disputes. */
function committedParts(s: MarketplaceCharge): TakeBackParts[] {
  return [
    ...countedMarketplaceRefunds(s)
      .filter((r) => !r.unsplit)
      .map((r) => r.parts),
    ...s.disputes.flatMap((x) => (x.parts ? [x.parts] : [])),
  ];
}

/** What each seller still holds of the charge (split: their share; destination: the whole transfer), minus what is committed back. */
function sellersLeftMinor(s: MarketplaceCharge): number[] {
  const parts = committedParts(s);
  return s.sellers.map((seller, i) => {
    const held = s.mode === "destination" ? s.amountMinor : seller.shareMinor;
    return held - parts.reduce((sum, p) => sum + (p.sellerPartsMinor[i] ?? 0), 0);
  });
}

/** What is left of the platform's fee, minus what is committed back. */
function feeLeftMinor(s: MarketplaceCharge): number {
  return s.feeMinor - committedParts(s).reduce((sum, p) => sum + p.feePartMinor, 0);
}

// ---------------------------------------------------------------- entry points

/**
 * A client app's `create`: validates it (see `newMarketplaceCharge`) and asks Stripe for the
 * PaymentIntent — a destination charge to the one seller with the platform's application
 * fee, or a charge to the platform for a split — confirmed off-session with the customer's
 * saved card, or left for the client to confirm on-session with a new card.
 */
export function createMarketplaceCharge(
  command: CreateMarketplaceCharge,
  ctx: MarketplaceChargeDecideContext,
): Step {
  return newMarketplaceCharge(command, ctx).andThen((state) => {
    const d = new Draft(state, ctx);
    const s = d.state;
    const seller = s.sellers[0];
    d.effect({
      ...d.addressed(ids.payment(s.id)),
      kind: "create_payment",
      amountMinor: s.amountMinor,
      currency: s.currency,
      description: s.description,
      customerId: s.customer.id,
      stripeCustomerId: s.customer.stripeCustomerId,
      confirmation:
        s.paymentMethod.kind === "saved_card"
          ? { kind: "saved_card", paymentMethodId: s.paymentMethod.paymentMethodId, offSession: true }
          : { kind: "client_confirmation" },
      ...(s.mode === "destination" && seller
        ? {
            destination: {
              connectedAccountId: seller.connectedAccountId,
              applicationFeeMinor: s.feeMinor,
              onBehalfOf: s.onBehalfOf,
            },
          }
        : {}),
      transferGroup: s.transferGroup,
      metadata: { aggregate: MARKETPLACE_CHARGE_AGGREGATE, marketplaceChargeId: s.id },
    });
    return d.done();
  });
}

/**
 * The marketplace charge's state machine: given its state and an input, the next state and
 * the effects to carry out. Pure. Inputs that do not apply are ignored with a code from
 * `MARKETPLACE_CHARGE_IGNORED_CODES`; refused commands are errors with a stable code. A move
 * outside `MARKETPLACE_CHARGE_TRANSITIONS` or a posting the ledger refuses throws: both are bugs.
 */
export function decideMarketplaceCharge(
  state: MarketplaceCharge,
  input: MarketplaceChargeInput,
  ctx: MarketplaceChargeDecideContext,
): Step {
  const d = new Draft(state, ctx);
  switch (input.type) {
    case "create":
      return ignore(state, "already_created", `marketplace charge ${state.id} exists`);
    case "refund":
      return refundCommand(d, input);
    case "retry_refund":
      return retryRefund(d);
    case "retry_transfers":
      return retryTransfers(d);
    case "retry_reversal":
      return retryReversal(d);
    case "timer":
      return onTimer(d, input.timer);
    case "payment_requires_action":
      return requiresAction(d, input);
    case "payment_processing":
      return processing(d, input);
    case "payment_succeeded":
      return succeeded(d, input);
    case "payment_failed":
      return failed(d, input);
    case "transfer_created":
      return transferCreated(d, input);
    case "transfer_failed":
      return transferFailed(d, input);
    case "transfer_not_found":
      return transferNotFound(d, input);
    case "transfer_reversed":
      return thenLossThatWaited(d, transferReversed(d, input));
    case "transfer_reversal_failed":
      return thenLossThatWaited(d, reversalFailed(d, input));
    case "refund_succeeded":
      return thenLossThatWaited(d, refundSucceeded(d, input));
    case "refund_failed":
      return thenLossThatWaited(d, refundFailed(d, input));
    case "refund_not_ended":
      return refundNotEnded(d, refundLookupRules, input);
    case "application_fee_refunded":
      return feeRefunded(d, input);
    case "dispute_opened":
      return disputeOpened(d, input, disputeRules);
    case "dispute_updated":
      return disputeUpdated(d, input);
    case "dispute_closed":
      return disputeClosed(d, input, disputeRules);
  }
}

// ---------------------------------------------------------------- the payment

function requiresAction(
  d: Draft,
  { paymentIntentId, clientSecret }: InputOf<"payment_requires_action">,
): Step {
  const s = d.state;
  if (!UNPAID.includes(s.status)) return ignore(s, "payment_already_settled", `the charge is ${s.status}`);
  if (s.status === "requires_action" && s.clientSecret === clientSecret)
    return ignore(s, "action_already_recorded", "the payment already waits for the customer");
  d.moveTo("requires_action", { paymentIntentId, clientSecret });
  // The customer has the policy's time to act, from when the payment began to wait for them
  // (a new challenge while it waits does not push it). Waiting again after `processing` is a
  // new wait, with its own timer: the first's may have fired already (ignored, the payment was
  // processing), and one still due must not cut the new wait short.
  if (s.status !== "requires_action") {
    const wait = (s.actionWaits ?? (s.status === "processing" ? 1 : 0)) + 1;
    // An earlier wait's ask that Stripe cancel is that wait's: its rechecks, and its asks not
    // yet sent, are ignored from now on (`cancelRecheck`, the outbox's `cancel_payment`).
    const { expiryRequestedAt: _asked, expiryAsks: _asks, expiryWait: _of, ...earlierAskDropped } = d.state;
    d.state = earlierAskDropped;
    d.set({ actionWaits: wait });
    d.timer(
      wait === 1 ? { kind: "action_expired" } : { kind: "action_expired", wait },
      d.now + d.ctx.policy.actionExpiryMs,
    );
  }
  // Off-session the customer is not there to see the challenge: tell them to come back.
  if (s.paymentMethod.kind === "saved_card")
    d.notify(ids.notice.actionRequired(s.id), "customer", "payment_action_required", {
      amountMinor: s.amountMinor,
    });
  return d.done();
}

function processing(d: Draft, { paymentIntentId }: InputOf<"payment_processing">): Step {
  const s = d.state;
  if (!UNPAID.includes(s.status)) return ignore(s, "payment_already_settled", `the charge is ${s.status}`);
  if (s.status === "processing")
    return ignore(s, "payment_already_processing", "the payment is already processing");
  d.moveTo("processing", { paymentIntentId });
  return d.done();
}

function succeeded(d: Draft, input: InputOf<"payment_succeeded">): Step {
  const s = d.state;
  if ((s.status === "payment_failed" || s.status === "expired") && s.capturedAt === undefined)
    return latePayment(d, input);
  if (!UNPAID.includes(s.status)) return ignore(s, "payment_already_settled", `the charge is ${s.status}`);
  capture(d, input);
  if (s.mode === "destination") {
    d.moveTo("settled");
    return d.done();
  }
  for (const seller of s.sellers) requestTransfer(d, seller.id, 1);
  d.moveTo("paying_sellers");
  return d.done();
}

/** Records the captured payment and where its money goes: the fee, each seller's share, and (destination) the seller paid with the charge. */
function capture(
  d: Draft,
  { paymentIntentId, chargeId, transferId }: InputOf<"payment_succeeded">,
  allocateShares = true,
): void {
  // A card declined before this one paid is history now (the audit log keeps it).
  const { failureCode: _declinedBefore, ...paid } = d.state;
  d.state = paid;
  d.set({
    paymentIntentId,
    chargeId,
    capturedAt: d.now,
    ...(transferId !== undefined && d.state.mode === "destination"
      ? { destinationTransferId: transferId }
      : {}),
  });
  const s = d.state;
  d.postAmount(marketplaceCaptured, ids.ledger.captured(s.id), s.amountMinor);
  if (!allocateShares) return;
  d.postAmount(marketplaceFeeEarned, ids.ledger.feeEarned(s.id), s.feeMinor);
  for (const seller of s.sellers)
    d.postAmount(
      marketplaceSellerPayable,
      ids.ledger.sellerPayable(s.id, seller.id),
      seller.shareMinor,
      seller.id,
    );
  if (s.mode === "destination")
    for (const seller of s.sellers) {
      d.postAmount(
        marketplaceTransferred,
        ids.ledger.transferred(s.id, seller.id),
        seller.shareMinor,
        seller.id,
      );
      d.notify(ids.notice.sellerPaid(s.id, seller.id), { sellerId: seller.id }, "seller_paid", {
        amountMinor: seller.shareMinor,
        feeMinor: seller.feeMinor,
      });
    }
}

/**
 * Money arrived for a charge susu had recorded as failed (a card that failed, then went
 * through). It is real money: record it, refund it whole at once, and tell the admins. A
 * destination charge already paid the seller, so the refund reverses them and gives the fee
 * back; a split paid nobody yet, so the money is refunded straight from the platform.
 */
function latePayment(d: Draft, input: InputOf<"payment_succeeded">): Step {
  const s = d.state;
  capture(d, input, s.mode === "destination");
  d.ticket(
    ids.ticket.latePayment(s.id),
    "unexpected_money",
    `payment ${input.paymentIntentId} of marketplace charge ${s.id} succeeded after it was recorded as ${s.status === "expired" ? "expired" : "failed"}; it is refunded in full`,
  );
  d.notify(ids.notice.latePayment(s.id), "platform_admins", "unexpected_money", {
    paymentIntentId: input.paymentIntentId,
  });
  startRefund(d, s.amountMinor, "platform", "late payment", {
    rules: { reverseTransfer: true, refundApplicationFee: true },
    unsplit: s.mode === "split",
  });
  return d.done();
}

function failed(d: Draft, { paymentIntentId, failureCode }: InputOf<"payment_failed">): Step {
  const s = d.state;
  if (!UNPAID.includes(s.status)) return ignore(s, "payment_already_settled", `the charge is ${s.status}`);
  // Stripe confirms the cancel the expiry timer asked for: only now has the payment expired.
  if (s.status === "requires_action" && s.expiryRequestedAt !== undefined && isCancellation(failureCode))
    return expire(d, paymentIntentId);
  // A new card confirmed by the customer: a declined attempt sends Stripe's PaymentIntent back
  // to requires_payment_method, and the customer may try another card with the same client
  // secret. Ending the charge here would refund a later success as a late payment: it keeps
  // waiting for the customer, with the decline recorded for the client to show. A cancelled
  // PaymentIntent (cancelled at Stripe by someone other than the expiry timer) takes no card
  // any more: the charge ends, as below.
  if (s.paymentMethod.kind === "new_card" && s.status === "requires_action" && !isCancellation(failureCode)) {
    if (s.failureCode === failureCode)
      return ignore(s, "payment_failure_recorded", `the decline ${failureCode} is already recorded`);
    d.set({ failureCode });
    return d.done();
  }
  d.moveTo("payment_failed", {
    ...(paymentIntentId !== undefined ? { paymentIntentId } : {}),
    failureCode,
    endedAt: d.now,
  });
  d.notify(ids.notice.paymentFailed(s.id), "customer", "payment_failed", { failureCode });
  return d.done();
}

/** Whether a payment failure is the PaymentIntent's cancellation (`canceled_<reason>`, or `canceled`). */
function isCancellation(failureCode: string): boolean {
  return failureCode === "canceled" || failureCode.startsWith("canceled_");
}

/**
 * The payment waited for the customer's action longer than the policy allows: its
 * PaymentIntent's cancel is asked for at Stripe (through the outbox), and the charge waits
 * for the answer in `requires_action`, `expiryRequestedAt` set. It does not end here: the
 * customer may have authenticated seconds before, the success still on its way. Stripe
 * confirming the cancel ends it `expired` (`expire`); a success, reported by the refused
 * cancel or by its webhook, is an ordinary payment (`succeeded`).
 */
function actionExpired(d: Draft, wait: number): Step {
  const s = d.state;
  if (s.status !== "requires_action" || s.paymentIntentId === undefined)
    return ignore(s, "timer_no_longer_due", `the charge is ${s.status}`);
  if (wait !== (s.actionWaits ?? 1))
    return ignore(
      s,
      "timer_no_longer_due",
      `the timer is wait ${wait}'s; the payment is in wait ${s.actionWaits ?? 1}`,
    );
  // An ask of an earlier wait (on a charge stored before a new wait dropped it) is not this wait's.
  if (s.expiryRequestedAt !== undefined && (s.expiryWait ?? 1) === wait)
    return ignore(s, "timer_no_longer_due", "the payment's cancel is already asked for");
  const { expiryAsks: _earlierWaits, expiryWait: _earlierWait, ...fresh } = s;
  d.state = fresh;
  askToCancel(d, s.paymentIntentId, 1);
  d.set({ expiryRequestedAt: d.now, ...(wait > 1 ? { expiryWait: wait } : {}) });
  return d.done();
}

/**
 * Ask `ask` that Stripe cancel the PaymentIntent, under its own key, and the recheck that asks
 * again if Stripe's word has not come by then: the ask goes through the outbox, which parks it
 * when Stripe refuses it (and the read of the payment after) or keeps failing; a refusal while
 * the payment is processing ends with no news; and the PaymentIntent's webhook may never come.
 */
function askToCancel(d: Draft, paymentIntentId: string, ask: number): void {
  // Each wait for the customer asks under its own ids and keys (wait 1 keeps those it had).
  const wait = d.state.actionWaits ?? 1;
  d.effect({
    ...d.addressed(ids.cancelPayment(d.state.id, ask, wait)),
    kind: "cancel_payment",
    paymentIntentId,
    ...(wait > 1 ? { wait } : {}),
  });
  d.set({ expiryAsks: ask });
  d.timer(
    { kind: "cancel_recheck", ask: ask + 1, ...(wait > 1 ? { wait } : {}) },
    d.now + CHECKOUT_EXPIRY_RECHECK_MS,
  );
}

/**
 * A recheck: the charge still waits in `requires_action` for Stripe's word on the cancel it
 * asked for (the cancel confirmed ends it `expired`, a success is paid as usual, either from an
 * answer or a webhook). Stripe is asked again under a new key, so a refusal or failure it stored
 * is not replayed; after `CHECKOUT_EXPIRY_ASKS_MAX` asks, one ticket says susu stopped asking
 * (the held payment's rule, `expiryRecheckStep`), one per wait for the customer (each wait's
 * asks are its own), naming the wait and the PaymentIntent. A recheck of an ask already made
 * asks nothing.
 */
function cancelRecheck(d: Draft, ask: number, wait: number): Step {
  const s = d.state;
  if (s.status !== "requires_action" || s.paymentIntentId === undefined || s.expiryRequestedAt === undefined)
    return ignore(s, "timer_no_longer_due", `the charge is ${s.status}, no cancel waits for Stripe`);
  // A recheck of an earlier wait's ask: that wait is over, the payment waits again with its own time.
  if (wait !== (s.actionWaits ?? 1) || wait !== (s.expiryWait ?? 1))
    return ignore(
      s,
      "timer_no_longer_due",
      `the recheck is wait ${wait}'s; the payment is in wait ${s.actionWaits ?? 1}`,
    );
  const step = expiryRecheckStep(s.expiryAsks, ask);
  if (step.kind === "not_due") return ignore(s, "timer_no_longer_due", step.reason);
  if (step.kind === "ask") {
    askToCancel(d, s.paymentIntentId, step.ask);
    return d.done();
  }
  d.set({ expiryAsks: step.ask });
  // One ticket per wait: a later wait's asks that Stripe never answers are news of their own.
  d.ticket(
    ids.ticket.cancelUnconfirmed(s.id, wait),
    "payment_cancel_unconfirmed",
    `Stripe answered none of ${step.asked} asks to cancel PaymentIntent ${s.paymentIntentId} of the ` +
      `payment that expired in wait ${wait} for the customer (the effects ${ids.cancelPayment(s.id, 1, wait)}…, parked or refused while it was ` +
      "processing); the charge waits for Stripe's word (payment_intent.canceled or .succeeded): " +
      "read the PaymentIntent at Stripe and replay a parked ask",
  );
  return d.done();
}

/** Stripe cancelled the PaymentIntent the expiry timer asked it to: the charge ends `expired`, the customer told. A payment that succeeds after all is refunded (`latePayment`). */
function expire(d: Draft, paymentIntentId: string | undefined): Step {
  const s = d.state;
  d.moveTo("expired", {
    ...(paymentIntentId !== undefined ? { paymentIntentId } : {}),
    failureCode: "action_expired",
    endedAt: d.now,
  });
  d.notify(ids.notice.paymentExpired(s.id), "customer", "payment_expired", {
    amountMinor: s.amountMinor,
    expiredAfterHours: Math.round(d.ctx.policy.actionExpiryMs / 3_600_000),
  });
  return d.done();
}

// ---------------------------------------------------------------- sellers' transfers (split)

function requestTransfer(d: Draft, sellerId: string, attempt: number): void {
  const s = d.state;
  const seller = s.sellers.find((x) => x.id === sellerId);
  if (!seller || !s.chargeId)
    throw new Error(`marketplace charge ${s.id}: a transfer needs its seller and charge`);
  const effectId = ids.transfer(s.id, sellerId, attempt);
  // Their share, unless a lost dispute took part of it first.
  const amountMinor = sellerDueMinor(s, sellerId);
  d.set({
    transfers: [...s.transfers, { sellerId, attempt, effectId, amountMinor, status: "requested" }],
    payouts: s.payouts.some((p) => p.sellerId === sellerId)
      ? s.payouts
      : [...s.payouts, { sellerId, failures: 0, parked: false }],
  });
  d.effect({
    ...d.addressed(effectId),
    kind: "transfer",
    sellerId,
    attempt,
    destinationAccountId: seller.connectedAccountId,
    sourceChargeId: s.chargeId,
    amountMinor,
    currency: s.currency,
    transferGroup: s.transferGroup,
    metadata: { aggregate: MARKETPLACE_CHARGE_AGGREGATE, marketplaceChargeId: s.id, sellerId, attempt },
  });
}

function transferCreated(d: Draft, { sellerId, attempt, transferId }: InputOf<"transfer_created">): Step {
  const s = d.state;
  const t = attemptsOf(s, sellerId).find((x) => x.attempt === attempt);
  if (!t) return ignore(s, "no_such_transfer", `no transfer attempt ${attempt} for seller ${sellerId}`);
  if (t.status === "created")
    return ignore(s, "transfer_already_created", `attempt ${attempt} already created`);
  const late = t.status === "failed" || latestAttempt(s, sellerId) !== t || paidTransfer(s, sellerId);
  if (late) {
    // An attempt susu had given up on paid the seller after all: never ignore money. It is
    // their one payment when no other is booked and no booked loss took their share while
    // they were unpaid (a loss not booked yet is reversed from it, as from any transfer).
    const bookable = paidTransfer(s, sellerId) === undefined && withheldFromMinor(s, sellerId) === 0;
    d.updateTransfer(sellerId, attempt, {
      status: "created",
      transferId,
      ...(bookable ? {} : { unbooked: true }),
    });
    const amount = formatMoney(money(t.amountMinor, s.currency));
    d.ticket(
      ids.ticket.lateTransfer(s.id, transferId),
      "unexpected_money",
      `transfer ${transferId} (attempt ${attempt}, ${amount}) to seller ${sellerId} was created after susu recorded it as ${t.status}; ${
        bookable
          ? "it is booked as the seller's payment; check the seller was not paid twice"
          : "it could not be booked (the seller was paid twice, or a lost dispute took their share before it landed): the books do not show this money paid to the seller; recover it from the seller or reconcile it by hand"
      }`,
    );
    d.notify(ids.notice.lateTransfer(s.id, transferId), "platform_admins", "unexpected_money", {
      transferId,
      sellerId,
      attempt,
      amountMinor: t.amountMinor,
      booked: bookable ? "yes" : "no",
    });
    // Paid twice, or after a loss took the share they were never transferred: the ticket asks a
    // person to check; the books keep what they had.
    if (!bookable) return d.done();
    // Their one payment (a look-up missed it, a frozen co-host's): booked as any landed transfer
    // is, below. Any other attempt of theirs still in flight is written off: neither the charge
    // nor the outbox asks Stripe for it again, and should it land too, it is flagged, not booked
    // (one of unknown outcome is looked up once, so that a second payment is heard even should
    // its webhook never come).
    writeOffOtherAttempts(attemptsOf(d.state, sellerId), {
      writeOff: (other, patch) => d.updateTransfer(sellerId, other.attempt, patch),
      lookUp: (other) => requestTransferLookup(d, other),
    });
  } else d.updateTransfer(sellerId, attempt, { status: "created", transferId });
  d.updatePayout(sellerId, { failures: 0, parked: false });
  unfreeze(d, sellerId);
  d.postAmount(marketplaceTransferred, ids.ledger.transferred(s.id, sellerId), t.amountMinor, sellerId);
  const seller = s.sellers.find((x) => x.id === sellerId);
  d.notify(ids.notice.sellerPaid(s.id, sellerId), { sellerId }, "seller_paid", {
    amountMinor: t.amountMinor,
    feeMinor: seller?.feeMinor ?? 0,
    transferId,
  });
  // A parked seller whose look-up found the transfer: the charge is blocked no more.
  if (d.state.status === "transfer_blocked" && !d.state.payouts.some((x) => x.parked))
    d.moveTo("paying_sellers");
  bookPendingLosses(d);
  return d.done();
}

function transferFailed(d: Draft, input: InputOf<"transfer_failed">): Step {
  const { sellerId, attempt, failureCode } = input;
  const s = d.state;
  const t = attemptsOf(s, sellerId).find((x) => x.attempt === attempt);
  if (!t) return ignore(s, "no_such_transfer", `no transfer attempt ${attempt} for seller ${sellerId}`);
  // Written off while still asked for (another attempt landed late and was booked), its answer
  // says it may have landed after all: looked up once, as one of unknown outcome is when
  // written off — a second payment is heard even should its webhook never come.
  if (mayHaveLandedAfterWriteOff(t, failureCode)) {
    requestTransferLookup(d, t);
    return d.done();
  }
  if (t.status !== "requested" && t.status !== "unknown")
    return ignore(s, "transfer_not_pending", `attempt ${attempt} is ${t.status}`);
  const failureClass = classifyFailure("transfer", failureCode);
  if (t.status === "unknown") {
    // The same uncertain answer says nothing new; a definite one says no money moved (the
    // seller stays parked until an admin retries).
    if (failureClass === "outcome_unknown")
      return ignore(s, "transfer_not_pending", `attempt ${attempt}'s outcome is still unknown`);
    d.updateTransfer(sellerId, attempt, { status: "failed", failureCode });
    return d.done();
  }
  const failures = (s.payouts.find((p) => p.sellerId === sellerId)?.failures ?? 0) + 1;
  d.updateTransfer(sellerId, attempt, {
    status: failureClass === "outcome_unknown" ? "unknown" : "failed",
    failureCode,
  });
  d.updatePayout(sellerId, { failures });
  if (failureClass === "outcome_unknown") {
    // Stripe may have made it: another attempt under a new key could pay twice. A person checks.
    return park(d, sellerId, attempt, {
      id: ids.ticket.transferOutcomeUnknown(s.id, sellerId, attempt),
      reason: "transfer_outcome_unknown",
      summary: `transfer attempt ${attempt} (${t.effectId}) to seller ${sellerId} failed with ${failureCode}: check Stripe before retrying`,
    });
  }
  const message = input.failureMessage ?? failureCode;
  const decision = retryOrPark(
    {
      itemId: t.effectId,
      attempts: failures - 1,
      failure: { code: failureCode, message, retryable: failureClass === "retryable" },
      ticket: {
        id: ids.ticket.transferParked(s.id, sellerId, attempt),
        reason: "effect_parked",
        subject: `seller transfer ${t.effectId}`,
      },
    },
    { policy: d.ctx.policy.transferRetry, now: d.now },
  );
  if (decision.action === "retry") {
    d.timer({ kind: "retry_transfer", sellerId, attempt: attempt + 1 }, decision.at);
    return d.done();
  }
  return park(d, sellerId, attempt, {
    id: decision.ticket.id,
    reason: "transfer_parked",
    summary: decision.ticket.summary,
  });
}

/** A seller's transfer waits for a person: ticket, admins told, the charge blocked. */
function park(
  d: Draft,
  sellerId: string,
  attempt: number,
  ticket: { id: string; reason: MarketplaceChargeTicketReason; summary: string },
): Step {
  d.updatePayout(sellerId, { parked: true });
  d.ticket(ticket.id, ticket.reason, ticket.summary);
  d.notify(ids.notice.transferBlocked(d.state.id, sellerId, attempt), "platform_admins", "transfer_blocked", {
    sellerId,
    attempt,
  });
  d.moveTo("transfer_blocked");
  return d.done();
}

function onTimer(d: Draft, timer: MarketplaceChargeTimer): Step {
  if (timer.kind === "action_expired") return actionExpired(d, timer.wait ?? 1);
  if (timer.kind === "cancel_recheck") return cancelRecheck(d, timer.ask, timer.wait ?? 1);
  if (timer.kind === "refund_overdue")
    return refundOverdue(d, refundLookupRules, timer.refund, timer.attempt, timer.lookup ?? 1);
  const s = d.state;
  const last = latestAttempt(s, timer.sellerId);
  const payout = s.payouts.find((p) => p.sellerId === timer.sellerId);
  // (A seller an earlier attempt paid after all — it landed late and was booked — is not paid again.)
  const due =
    (s.status === "paying_sellers" || s.status === "transfer_blocked") &&
    paidTransfer(s, timer.sellerId) === undefined &&
    payout?.parked === false &&
    payout.frozenBy === undefined &&
    last?.status === "failed" &&
    timer.attempt === last.attempt + 1;
  if (!due)
    return ignore(
      s,
      "timer_no_longer_due",
      `transfer attempt ${timer.attempt} to ${timer.sellerId} is not due`,
    );
  transferOrFreeze(d, timer.sellerId, timer.attempt);
  settleIfEverySellerPaid(d);
  return d.done();
}

/**
 * Asks for attempt `attempt` of a seller's transfer — unless a dispute of the charge is open:
 * a co-host is not paid while the charge is disputed (a held payment freezes its release the
 * same way), so the seller's payout waits, frozen by the dispute, and the transfer is asked
 * for when no dispute is open any more ({@link thawTransfers}).
 */
function transferOrFreeze(d: Draft, sellerId: string, attempt: number): void {
  const dispute = openDispute(d.state);
  if (dispute) d.updatePayout(sellerId, { frozenBy: dispute.id });
  else if (sellerDueMinor(d.state, sellerId) > 0) requestTransfer(d, sellerId, attempt);
}

/** The seller's payout waits for no dispute any more (thawed, or they were paid). */
function unfreeze(d: Draft, sellerId: string): void {
  const p = d.state.payouts.find((x) => x.sellerId === sellerId);
  if (p?.frozenBy === undefined) return;
  const { frozenBy: _thawed, ...thawed } = p;
  d.set({ payouts: d.state.payouts.map((x) => (x.sellerId === sellerId ? thawed : x)) });
}

/**
 * A split still paying its sellers whose every seller is now paid or owed nothing (a loss
 * took the rest of their share, so no transfer was asked for): its losses are booked and it
 * settles, or ends charged back (see `bookPendingLosses`, which checks).
 */
function settleIfEverySellerPaid(d: Draft): void {
  if (d.state.status === "paying_sellers" || d.state.status === "transfer_blocked") bookPendingLosses(d);
}

/**
 * A dispute closed (won or lost): the sellers' transfers it froze are asked for, each as the
 * next attempt, once no dispute is open — another open one freezes them in turn. A seller a
 * late answer showed paid meanwhile is asked for nothing. After a loss, a frozen seller was
 * never paid: the loss takes their part from the share the platform holds for them, so their
 * transfer asks only for what it left (`sellerDueMinor`), and none is asked for when it took
 * everything; the loss is booked once every seller is paid (or owed nothing), and only the
 * parts of sellers already paid are reversed.
 */
function thawTransfers(d: Draft): void {
  const still = openDispute(d.state);
  for (const p of d.state.payouts.filter((x) => x.frozenBy !== undefined)) {
    if (still) {
      if (p.frozenBy !== still.id) d.updatePayout(p.sellerId, { frozenBy: still.id });
      continue;
    }
    unfreeze(d, p.sellerId);
    const last = latestAttempt(d.state, p.sellerId);
    if (
      last?.status === "failed" &&
      !paidTransfer(d.state, p.sellerId) &&
      sellerDueMinor(d.state, p.sellerId) > 0
    )
      requestTransfer(d, p.sellerId, last.attempt + 1);
  }
}

function retryTransfers(d: Draft): Step {
  const s = d.state;
  if (s.status !== "transfer_blocked") return refuse("no_blocked_transfer", `the charge is ${s.status}`);
  for (const p of s.payouts.filter((x) => x.parked)) {
    const last = latestAttempt(d.state, p.sellerId);
    if (!last) continue;
    // An attempt of unknown outcome may have paid the seller, and another attempt (a new
    // idempotency key) would pay them twice: it is looked up at Stripe first, and the
    // seller stays parked until the answer (adopted if found, retried if not).
    if (last.status === "unknown") {
      requestTransferLookup(d, last);
      continue;
    }
    d.updatePayout(p.sellerId, { failures: 0, parked: false });
    transferOrFreeze(d, p.sellerId, last.attempt + 1);
  }
  if (!d.state.payouts.some((x) => x.parked)) d.moveTo("paying_sellers");
  settleIfEverySellerPaid(d);
  return d.done();
}

function requestTransferLookup(d: Draft, t: SellerTransferAttempt): void {
  const lookup = (t.lookups ?? 0) + 1;
  d.updateTransfer(t.sellerId, t.attempt, { lookups: lookup });
  d.effect({
    ...d.addressed(ids.transferLookup(d.state.id, t.sellerId, t.attempt, lookup)),
    kind: "find_transfer",
    sellerId: t.sellerId,
    attempt: t.attempt,
    transferEffectId: t.effectId,
    transferGroup: d.state.transferGroup,
  });
}

/** A look-up found no transfer made by an attempt of unknown outcome: it is written off and the seller's transfer retried. */
function transferNotFound(d: Draft, { sellerId, attempt }: InputOf<"transfer_not_found">): Step {
  const s = d.state;
  const t = attemptsOf(s, sellerId).find((x) => x.attempt === attempt);
  if (!t) return ignore(s, "no_such_transfer", `no transfer attempt ${attempt} for seller ${sellerId}`);
  if (t.status !== "unknown" || (t.lookups ?? 0) === 0 || latestAttempt(s, sellerId) !== t)
    return ignore(s, "transfer_not_pending", `attempt ${attempt} is ${t.status}, not being looked up`);
  d.updateTransfer(sellerId, attempt, { status: "failed" });
  d.updatePayout(sellerId, { failures: 0, parked: false });
  transferOrFreeze(d, sellerId, attempt + 1);
  if (d.state.status === "transfer_blocked" && !d.state.payouts.some((x) => x.parked))
    d.moveTo("paying_sellers");
  settleIfEverySellerPaid(d);
  return d.done();
}

// ---------------------------------------------------------------- refunds

function refundCommand(d: Draft, input: InputOf<"refund">): Step {
  const s = d.state;
  if (s.capturedAt === undefined)
    return s.status === "payment_failed" || s.status === "expired"
      ? refuse("charge_ended", s.status === "expired" ? "the payment expired" : "the payment failed")
      : refuse("payment_not_captured", `the charge is ${s.status}`);
  if (s.status === "refunded" || s.status === "charged_back")
    return refuse("charge_ended", `the charge is ${s.status}`);
  if (s.status === "refunding") return refuse("refund_in_flight", "everything left is being refunded");
  if (!everySellerPaid(s)) return refuse("transfers_pending", "a seller's transfer has not landed yet");
  if (openDispute(s)) return refuse("payment_disputed", "the charge is disputed: Stripe cannot refund it");
  const lost = lostDispute(s);
  if (lost) return chargedBack(lost);
  if (unfinishedRefund(s)) return refuse("refund_in_flight", "a refund is unfinished");
  const left = marketplaceRefundableMinor(s);
  if (left === 0) return refuse("nothing_to_refund", "everything was refunded or taken back");
  const amount = input.amountMinor ?? left;
  const step = currencyInfo(s.currency).amountStepMinor;
  if (!Number.isSafeInteger(amount) || amount <= 0 || amount > left || amount % step !== 0)
    return refuse(
      "invalid_refund_amount",
      `a refund is a whole multiple of ${step} in (0, ${left}] ${s.currency}`,
    );
  startRefund(d, amount, input.initiatedBy, input.reason);
  return d.done();
}

/**
 * Gives `amountMinor` back to the customer. How it divides is fixed now, by the rules for
 * who asked: a split reverses each seller's part first (the refund follows once every
 * reversal landed); a destination charge's refund carries `reverse_transfer` and
 * `refund_application_fee` and Stripe does both with it.
 */
function startRefund(
  d: Draft,
  amountMinor: number,
  initiatedBy: RefundInitiator,
  reason: string,
  override: { rules?: MarketplaceRefundRules; unsplit?: boolean; coveredMinor?: readonly number[] } = {},
): void {
  const s = d.state;
  const rules = override.rules ?? d.ctx.policy.refunds[initiatedBy];
  const unsplit = override.unsplit === true;
  const left = marketplaceRefundableMinor(s);
  const parts = refundParts(s, amountMinor, rules, unsplit);
  const refund: MarketplaceRefund = {
    number: s.refunds.length + 1,
    amountMinor,
    initiatedBy,
    reason,
    rules,
    parts,
    full: amountMinor === left,
    status: "requested",
    attempts: 0,
    ledgerPosted: false,
    unsplit,
  };
  d.set({ refunds: [...s.refunds, refund] });
  if (refund.full) d.moveTo("refunding");
  // What the platform holds already of a seller's part (reversed for a refund a lost dispute
  // superseded) is not reversed again.
  const toReverse = parts.sellerPartsMinor.map((p, i) => Math.max(0, p - (override.coveredMinor?.[i] ?? 0)));
  const reverseFirst = s.mode === "split" && toReverse.some((p) => p > 0);
  if (reverseFirst) {
    d.updateRefund(refund.number, { status: "reversing" });
    s.sellers.forEach((seller, i) => {
      const part = toReverse[i] ?? 0;
      if (part > 0) requestReversal(d, seller.id, part, "refund", { forRefund: refund.number });
    });
  } else requestRefundAttempt(d, refund.number);
  d.notify(ids.notice.refundStarted(s.id, refund.number), "customer", "refund_started", {
    amountMinor,
    reason,
  });
}

/** How a refund of `amountMinor` divides, fixed when it is asked for, by the rules for who asked. */
function refundParts(
  s: MarketplaceCharge,
  amountMinor: number,
  rules: MarketplaceRefundRules,
  unsplit: boolean,
): TakeBackParts {
  if (unsplit) return { sellerPartsMinor: s.sellers.map(() => 0), feePartMinor: 0, platformFundedMinor: 0 };
  if (s.mode === "split")
    return takeBackParts(amountMinor, sellersLeftMinor(s), feeLeftMinor(s), rules, s.currency);
  const p = destinationRefundParts(
    amountMinor,
    {
      chargeMinor: s.amountMinor,
      feeMinor: s.feeMinor,
      chargeLeftMinor: marketplaceRefundableMinor(s),
      feeLeftMinor: feeLeftMinor(s),
    },
    rules,
    s.currency,
  );
  return {
    sellerPartsMinor: [p.reversalMinor],
    feePartMinor: p.feeRefundMinor,
    platformFundedMinor: p.platformFundedMinor,
  };
}

function requestRefundAttempt(d: Draft, number: number): void {
  const s = d.state;
  const r = s.refunds.find((x) => x.number === number);
  if (!r || !s.paymentIntentId)
    throw new Error(`marketplace charge ${s.id}: refund ${number} needs its PaymentIntent`);
  const attempt = r.attempts + 1;
  const { failureCode: _cleared, lookups: _restarted, ...rest } = r;
  d.set({
    refunds: s.refunds.map((x) =>
      x.number === number ? { ...rest, status: "requested", attempts: attempt } : x,
    ),
  });
  // A destination refund whose success Stripe failed afterwards had the seller's transfer
  // reversed and the fee refunded to them with it; both stay done, so they are not asked again.
  const destination = s.mode === "destination" && !r.unsplit && (r.failedAfterSuccess ?? 0) === 0;
  d.effect({
    ...d.addressed(ids.refund(s.id, number, attempt)),
    kind: "refund",
    refund: number,
    attempt,
    paymentIntentId: s.paymentIntentId,
    amountMinor: r.amountMinor,
    currency: s.currency,
    reverseTransfer: destination && (r.parts.sellerPartsMinor[0] ?? 0) > 0,
    refundApplicationFee: destination && r.parts.feePartMinor > 0,
    initiatedBy: r.initiatedBy,
  });
  d.timer({ kind: "refund_overdue", refund: number, attempt }, d.now + REFUND_OUTCOME_OVERDUE_MS);
}

/** The marketplace charge's names for its refund look-ups (kernel/refund-lookups.ts does the rest). */
const refundLookupRules: RefundLookupRules<Draft> = {
  askStripe: (d, refund, attempt, lookup) => {
    const s = d.state;
    if (!s.paymentIntentId)
      throw new Error(`marketplace charge ${s.id}: refund ${refund} needs its PaymentIntent`);
    d.effect({
      ...d.addressed(ids.refundLookup(s.id, refund, attempt, lookup)),
      kind: "find_refund",
      refund,
      attempt,
      lookup,
      refundEffectId: ids.refund(s.id, refund, attempt),
      paymentIntentId: s.paymentIntentId,
    });
  },
  refundEffectId: (d, refund, attempt) => ids.refund(d.state.id, refund, attempt),
  ticketId: (d, refund, attempt, last) =>
    last
      ? ids.ticket.refundOverdueLast(d.state.id, refund, attempt)
      : ids.ticket.refundOverdue(d.state.id, refund, attempt),
  whose: (d) => `of marketplace charge ${d.state.id}`,
  lossWaitNote: "not booked",
  blockedNote: "no other refund can start until it ends",
};

function refundSucceeded(d: Draft, { refund, attempt, refundId }: InputOf<"refund_succeeded">): Step {
  const s = d.state;
  const r = s.refunds.find((x) => x.number === refund);
  if (!r || attempt < 1 || attempt > r.attempts)
    return ignore(s, "no_such_refund", `no attempt ${attempt} of refund ${refund}`);
  // Refunds go pending → succeeded (and rarely → failed), never back: a success that is not
  // the latest attempt's, or after a failure, is stale.
  if (r.status !== "requested" || attempt !== r.attempts)
    return ignore(s, "refund_already_settled", `refund ${refund} is ${r.status}`);
  d.updateRefund(refund, { status: "succeeded", refundId, ledgerPosted: true });
  if (!r.ledgerPosted) postRefund(d, r, refundId, attempt);
  if (
    d.state.status === "refunding" &&
    marketplaceRefundableMinor(d.state) === 0 &&
    !unfinishedRefund(d.state)
  )
    d.moveTo("refunded", { endedAt: d.now });
  return d.done();
}

/**
 * Where a refund's postings take its amount from: money in flight (reversed from sellers, or
 * never split), the fee given back toward it (separate charges: moved into in flight first),
 * and the platform's own money. A destination charge's fee refund goes to the seller, not
 * toward the refund.
 */
function refundTakenFrom(
  s: MarketplaceCharge,
  r: MarketplaceRefund,
): { inFlightMinor: number; feeTowardMinor: number; platformFundedMinor: number } {
  if (r.unsplit) return { inFlightMinor: r.amountMinor, feeTowardMinor: 0, platformFundedMinor: 0 };
  if (s.mode === "destination") {
    const inFlightMinor = r.parts.sellerPartsMinor[0] ?? 0;
    return { inFlightMinor, feeTowardMinor: 0, platformFundedMinor: r.amountMinor - inFlightMinor };
  }
  return {
    inFlightMinor: r.amountMinor - r.parts.platformFundedMinor,
    feeTowardMinor: r.parts.feePartMinor,
    platformFundedMinor: r.parts.platformFundedMinor,
  };
}

/**
 * A refund's postings: the parts taken back from the sellers and the fee, then the refund
 * itself. After a success Stripe failed (`failedAfterSuccess`, its postings undone), a later
 * attempt's success posts under that attempt's ids, and a destination charge's reversal and fee
 * refund, which stayed done, are not posted again.
 */
function postRefund(d: Draft, r: MarketplaceRefund, refundId: string, attempt: number): void {
  const s = d.state;
  const refs = { refundId };
  const seller = s.sellers[0];
  const again = (r.failedAfterSuccess ?? 0) > 0;
  const effectId = ids.refund(s.id, r.number, attempt);
  const from = refundTakenFrom(s, r);
  if (r.unsplit) {
    // Never split: all of it is in flight.
  } else if (s.mode === "destination" && seller) {
    // Stripe reversed the seller's transfer and refunded the fee to them with the refund.
    if (!again) {
      d.postAmount(
        marketplaceTransferReversed,
        ids.ledger.refundReversed(s.id, r.number),
        r.parts.sellerPartsMinor[0] ?? 0,
        seller.id,
      );
      if (r.parts.feePartMinor > 0)
        d.post(
          marketplaceApplicationFeeRefunded({
            id: ids.ledger.feeRefunded(s.id, r.number),
            chargeId: s.id,
            amount: money(r.parts.feePartMinor, s.currency),
            occurredAt: d.now,
            toSellerId: seller.id,
            refs,
          }),
        );
    }
  } else if (from.feeTowardMinor > 0)
    d.post(
      marketplaceApplicationFeeRefunded({
        id: again ? ids.ledger.feeRefundedAgain(effectId) : ids.ledger.feeRefunded(s.id, r.number),
        chargeId: s.id,
        amount: money(from.feeTowardMinor, s.currency),
        occurredAt: d.now,
        refs,
      }),
    );
  d.post(
    marketplaceRefunded({
      id: again ? ids.ledger.refundedAgain(effectId) : ids.ledger.refunded(s.id, r.number),
      chargeId: s.id,
      currency: s.currency,
      from: {
        inFlightMinor: from.inFlightMinor,
        feesMinor: 0,
        platformFundedMinor: from.platformFundedMinor,
      },
      occurredAt: d.now,
      refs,
    }),
  );
}

/**
 * Undoes what a refund's postings took back (see {@link refundTakenFrom}) when Stripe fails
 * its success afterwards: the money is back on the platform's balance — in flight, the fee
 * given toward it back in the fee, the platform's part back to the platform.
 */
function postRefundFailed(d: Draft, r: MarketplaceRefund, attempt: number): void {
  const s = d.state;
  const from = refundTakenFrom(s, r);
  d.post(
    marketplaceRefundFailed({
      id: ids.ledger.refundFailed(ids.refund(s.id, r.number, attempt)),
      chargeId: s.id,
      currency: s.currency,
      from: {
        inFlightMinor: from.inFlightMinor - from.feeTowardMinor,
        feesMinor: from.feeTowardMinor,
        platformFundedMinor: from.platformFundedMinor,
      },
      occurredAt: d.now,
      ...(r.refundId !== undefined ? { refs: { refundId: r.refundId } } : {}),
    }),
  );
}

function refundFailed(d: Draft, { refund, attempt, failureCode }: InputOf<"refund_failed">): Step {
  const s = d.state;
  const r = s.refunds.find((x) => x.number === refund);
  if (!r || attempt < 1 || attempt > r.attempts)
    return ignore(s, "no_such_refund", `no attempt ${attempt} of refund ${refund}`);
  if (attempt !== r.attempts || (r.status !== "requested" && r.status !== "succeeded"))
    return ignore(s, "refund_already_settled", `refund ${refund} is ${r.status}`);
  const after = r.status === "succeeded";
  // A success Stripe fails afterwards (the card or account could not take it): the money is
  // back on the platform's balance. What its postings took back is undone, so the books no
  // longer say the customer has it, and the refund waits like one that failed at once: asked
  // again by the admins' retry, or owed outside Stripe when Stripe cannot take it (a lost
  // dispute). Sellers' reversals made for it stay made: that money is with the platform, in
  // flight. (A charge stored before this kept such postings: ledgerPosted stays.)
  const undo = after && r.ledgerPosted;
  if (undo) postRefundFailed(d, r, attempt);
  d.updateRefund(refund, {
    status: "failed",
    failureCode,
    ...(undo ? { ledgerPosted: false, failedAfterSuccess: (r.failedAfterSuccess ?? 0) + 1 } : {}),
  });
  // A charge refunded in full no longer is: the customer does not have this refund's money.
  // It is `refunding` again until the refund ends (a retry lands, or it is owed outside Stripe).
  if (undo && s.status === "refunded") d.moveTo("refunding");
  const failed = d.state.refunds.find((x) => x.number === refund) ?? r;
  if (supersededByWaitingLoss(d, refund)) return d.done();
  // Stripe refuses every refund of a charge charged back (`charge_disputed`): a refund that
  // never reached the customer then is owed outside Stripe (a refund of the rest of a partial
  // loss asked of Stripe by the code before owed refunds, or a success Stripe failed afterwards).
  // A card that can no longer take money (lost, stolen, expired, canceled) is owed outside
  // Stripe at once too: Stripe refunds only to it, so a retry would fail in vain.
  const owed = owedCauseOfFailedRefund({
    lostDisputeId: lostDispute(s)?.id,
    ledgerPosted: failed.ledgerPosted,
    failureCode,
    afterSuccess: after,
    refundId: r.refundId,
  });
  if (owed !== undefined) return oweRefused(d, failed, owed);
  d.ticket(
    ids.ticket.refundFailed(s.id, refund, attempt),
    "refund_failed",
    `refund ${refund} of ${r.amountMinor} ${s.currency} to ${s.customer.email} failed (${failureCode})${
      !after
        ? ""
        : undo
          ? " after Stripe had reported it succeeded; the money is back on the platform's balance and the ledger no longer shows it refunded"
          : " after Stripe had reported it succeeded; the ledger still shows it refunded (stored before such failures were undone)"
    }; retry it once the cause is fixed`,
  );
  d.notify(ids.notice.refundFailed(s.id, refund, attempt), "platform_admins", "refund_failed", {
    refund,
    attempt,
    amountMinor: r.amountMinor,
    failureCode,
  });
  return d.done();
}

/**
 * Whether the outcome being decided closes a loss that waited for it (see
 * `thenLossThatWaited`) and that loss supersedes refund `refundNumber`: the customer's bank
 * gave the money back, nothing is left to retry, so the failure opens no "retry it" ticket
 * or notice (the dispute's closure is told instead).
 */
function supersededByWaitingLoss(d: Draft, refundNumber: number): boolean {
  const waiting = waitingLoss(d.state);
  if (waiting === undefined || disputeRules.lossWaits?.(d)) return false;
  return supersedeUnmovedRefunds(d.state, waiting.id).refunds.some(
    (r) => r.number === refundNumber && r.status === "superseded_by_dispute",
  );
}

function retryRefund(d: Draft): Step {
  const s = d.state;
  const r = s.refunds.find((x) => x.status === "failed");
  if (!r) return refuse("no_failed_refund", "no refund failed");
  if (openDispute(s)) return refuse("payment_disputed", "the charge is disputed: Stripe cannot refund it");
  const lost = lostDispute(s);
  // A refund that never reached the customer on a charge charged back (stored so by the code
  // before owed refunds, which asked Stripe for the rest of a partial loss): Stripe would
  // refuse it again, so the admin's retry owes it outside Stripe instead.
  if (lost && !r.ledgerPosted) return oweRefused(d, r, { kind: "dispute_lost", disputeId: lost.id });
  if (lost) return chargedBack(lost);
  requestRefundAttempt(d, r.number);
  return d.done();
}

/**
 * Stripe's word that it refunded (part of) the application fee: every fee refund the fee
 * lists, oldest first (two refunds close together may both be new by the time an event is
 * read), each recorded on the refund it came with — named, or the earliest that asked for
 * the fee back and has none recorded. Susu asks for one refund at a time, so the order of
 * the fee's refunds is the order of its own. Stripe's figure is the one the books keep: the
 * refund's fee part becomes it, and when the refund's postings were already made with the
 * predicted figure (`destinationRefundParts`, Stripe's rounding being undocumented) the
 * difference is booked (`marketplace_application_fee_refund_corrected`), so the seller's
 * account and the fee agree with Stripe's balances. A difference larger than a rounding
 * step also opens a ticket; a fee refund susu never asked for opens one and leaves the books
 * alone. A fee refund in another currency than the charge's (Stripe converted the fee) is
 * recorded on its refund as it is, its figure not compared: the books keep the predicted
 * part, in the charge's currency. A fee refund already recorded (or already ticketed as unasked for) changes nothing;
 * an event whose every fee refund is known is ignored.
 */
function feeRefunded(d: Draft, { feeRefunds }: InputOf<"application_fee_refunded">): Step {
  const s = d.state;
  const passed = feeRefunds.map((seen) => oneFeeRefund(d, seen)).filter((x) => x !== undefined);
  const [first] = passed;
  if (first !== undefined && passed.length === feeRefunds.length)
    return ignore(s, first.code, passed.map((x) => x.message).join("; "));
  if (feeRefunds.length === 0) return ignore(s, "no_such_refund", "the event lists no fee refund");
  return d.done();
}

/** Records one fee refund (see `feeRefunded`); returns why it changed nothing, if it did not. */
function oneFeeRefund(
  d: Draft,
  { refund, feeRefundId, amountMinor, currency }: InputOf<"application_fee_refunded">["feeRefunds"][number],
): { code: MarketplaceChargeIgnoredCode; message: string } | undefined {
  const s = d.state;
  const recorded = s.refunds.find((x) => x.feeRefundId === feeRefundId);
  if (recorded !== undefined)
    return { code: "fee_refund_already_recorded", message: `${feeRefundId} is refund ${recorded.number}'s` };
  if ((s.unmatchedFeeRefundIds ?? []).includes(feeRefundId))
    return { code: "fee_refund_already_recorded", message: `${feeRefundId} was reported unasked for` };
  const r =
    refund !== undefined
      ? s.refunds.find((x) => x.number === refund)
      : s.refunds.find(
          (x) =>
            x.attempts > 0 &&
            x.feeRefundId === undefined &&
            !x.unsplit &&
            s.mode === "destination" &&
            x.parts.feePartMinor > 0,
        );
  if (refund === undefined && r === undefined) {
    // Nobody at susu asked for it (a refund made at the Dashboard, a fee refunded by hand).
    d.set({ unmatchedFeeRefundIds: [...(s.unmatchedFeeRefundIds ?? []), feeRefundId] });
    d.ticket(
      ids.ticket.feeRefundUnexpected(s.id, feeRefundId),
      "amount_mismatch",
      `Stripe refunded ${amountMinor} ${currency} of marketplace charge ${s.id}'s application fee (${feeRefundId}), but no refund of susu's asked for the fee back; the books do not show it`,
    );
    return undefined;
  }
  if (!r || r.attempts === 0) return { code: "no_such_refund", message: `no refund ${refund} was asked for` };
  if (r.feeRefundId !== undefined)
    return {
      code: "fee_refund_already_recorded",
      message: `refund ${r.number}'s fee refund is ${r.feeRefundId}`,
    };
  // Stripe kept the fee in another currency (it converted it): its refund cannot be compared
  // with the part predicted in the charge's currency, which the books keep.
  if (currency !== s.currency) {
    d.updateRefund(r.number, { feeRefundId });
    return undefined;
  }
  const predictedMinor = r.parts.feePartMinor;
  const differenceMinor = amountMinor - predictedMinor;
  d.updateRefund(r.number, {
    feeRefundId,
    ...(differenceMinor !== 0 ? { parts: { ...r.parts, feePartMinor: amountMinor } } : {}),
  });
  const seller = s.sellers[0];
  // The fee refund's posting stands once the refund succeeded, also when Stripe failed it afterwards.
  const feePosted = r.ledgerPosted || (r.failedAfterSuccess ?? 0) > 0;
  if (differenceMinor !== 0 && feePosted && seller && s.mode === "destination" && !r.unsplit)
    d.post(
      marketplaceApplicationFeeRefundCorrected({
        id: ids.ledger.feeRefundCorrected(s.id, r.number),
        chargeId: s.id,
        sellerId: seller.id,
        amount: money(Math.abs(differenceMinor), s.currency),
        stripeGaveBackMore: differenceMinor > 0,
        occurredAt: d.now,
        refs: { feeRefundId, ...(r.refundId !== undefined ? { refundId: r.refundId } : {}) },
      }),
    );
  if (Math.abs(differenceMinor) > currencyInfo(s.currency).amountStepMinor)
    d.ticket(
      ids.ticket.feeRefundMismatch(s.id, r.number),
      "amount_mismatch",
      `Stripe refunded ${amountMinor} ${s.currency} of the application fee for refund ${r.number} (${feeRefundId}) where ${predictedMinor} was expected; the books now hold Stripe's figure`,
    );
  return undefined;
}

// ---------------------------------------------------------------- reversals

function requestReversal(
  d: Draft,
  sellerId: string,
  amountMinor: number,
  reason: "refund" | "dispute_lost",
  forWhat: Pick<SellerReversal, "forRefund" | "forDisputeId">,
): void {
  const s = d.state;
  const transferId =
    s.mode === "destination" ? s.destinationTransferId : paidTransfer(s, sellerId)?.transferId;
  if (transferId === undefined)
    throw new Error(`marketplace charge ${s.id}: a reversal needs seller ${sellerId}'s transfer`);
  const number = s.reversals.length + 1;
  const effectId = ids.reversal(s.id, number);
  d.set({
    reversals: [
      ...s.reversals,
      { number, effectId, sellerId, transferId, amountMinor, status: "requested", ...forWhat },
    ],
  });
  d.effect({
    ...d.addressed(effectId),
    kind: "reverse_transfer",
    reversal: number,
    sellerId,
    transferId,
    amountMinor,
    currency: s.currency,
    reason,
  });
}

function transferReversed(d: Draft, { reversal, transferId }: InputOf<"transfer_reversed">): Step {
  const s = d.state;
  const rv = s.reversals.find((x) => x.number === reversal);
  if (!rv) return ignore(s, "no_such_reversal", `no reversal ${reversal} (of ${transferId})`);
  if (rv.status !== "requested")
    return ignore(s, "reversal_already_settled", `reversal ${reversal} is ${rv.status}`);
  d.updateReversal(reversal, { status: "reversed" });
  d.postAmount(
    marketplaceTransferReversed,
    ids.ledger.transferReversed(rv.effectId),
    rv.amountMinor,
    rv.sellerId,
  );
  const r = rv.forRefund === undefined ? undefined : d.state.refunds.find((x) => x.number === rv.forRefund);
  if (r?.status === "reversing") {
    // Every seller a reversal was asked of for the refund (not one whose part the platform
    // held already) has one landed.
    const forIt = d.state.reversals.filter((x) => x.forRefund === r.number);
    const allLanded = s.sellers.every(
      (seller) =>
        !forIt.some((x) => x.sellerId === seller.id) ||
        forIt.some((x) => x.sellerId === seller.id && x.status === "reversed"),
    );
    // A refund of the rest of a partial loss that the code before owed refunds reversed
    // first: Stripe would refuse it, so it is owed outside Stripe once the parts are back.
    const lost = lostDispute(d.state);
    if (allLanded && lost) return oweRefused(d, r, { kind: "dispute_lost", disputeId: lost.id });
    if (allLanded) requestRefundAttempt(d, r.number);
  }
  return d.done();
}

function reversalFailed(d: Draft, { reversal, failureCode }: InputOf<"transfer_reversal_failed">): Step {
  const s = d.state;
  const rv = s.reversals.find((x) => x.number === reversal);
  if (!rv) return ignore(s, "no_such_reversal", `no reversal ${reversal}`);
  if (rv.status !== "requested")
    return ignore(s, "reversal_already_settled", `reversal ${reversal} is ${rv.status}`);
  d.updateReversal(reversal, { status: "failed", failureCode });
  if (rv.forRefund !== undefined && supersededByWaitingLoss(d, rv.forRefund)) return d.done();
  d.ticket(
    ids.ticket.reversalFailed(s.id, reversal),
    "reversal_failed",
    `reversal ${reversal} of ${rv.amountMinor} ${s.currency} from seller ${rv.sellerId} (${rv.transferId}) failed (${failureCode}); retry it once the seller's balance covers it`,
  );
  d.notify(ids.notice.reversalFailed(s.id, reversal), "platform_admins", "reversal_failed", {
    reversal,
    sellerId: rv.sellerId,
    amountMinor: rv.amountMinor,
    failureCode,
  });
  return d.done();
}

/**
 * Asks again for every failed reversal not asked again yet (each under a new reversal
 * number) — a lost dispute's, or a refund's still reversing. A refund a lost dispute
 * superseded needs its reversals no more: the loss's own reversal of that seller replaces
 * them, and asking again would take the seller's part twice.
 */
function retryReversal(d: Draft): Step {
  const superseded = new Set(
    d.state.refunds.filter((r) => r.status === "superseded_by_dispute").map((r) => r.number),
  );
  const failedOnes = d.state.reversals.filter(
    (x) =>
      x.status === "failed" &&
      !(x.forRefund !== undefined && superseded.has(x.forRefund)) &&
      !d.state.reversals.some(
        (y) =>
          y.number > x.number &&
          y.sellerId === x.sellerId &&
          y.forRefund === x.forRefund &&
          y.forDisputeId === x.forDisputeId,
      ),
  );
  if (failedOnes.length === 0) return refuse("no_failed_reversal", "no reversal failed");
  for (const x of failedOnes)
    requestReversal(d, x.sellerId, x.amountMinor, x.forDisputeId === undefined ? "refund" : "dispute_lost", {
      ...(x.forRefund !== undefined ? { forRefund: x.forRefund } : {}),
      ...(x.forDisputeId !== undefined ? { forDisputeId: x.forDisputeId } : {}),
    });
  return d.done();
}

// ---------------------------------------------------------------- disputes

/** The marketplace charge's answers to disputes (kernel/disputes.ts does the rest): every seller and the admins are told, a co-host's transfer that comes due while one is open waits for its closure (`transferOrFreeze`), a loss divides by `lossParts` and is booked once every seller was paid. */
const disputeRules: DisputeRules<Draft, Step> = {
  noun: "charge",
  ticket: (d, dispute, due) => ({
    id: ids.ticket.dispute(d.state.id, dispute.id),
    summary: `marketplace charge ${d.state.id} is disputed (${dispute.id}, ${dispute.reason})${due ? `; evidence due by ${due}` : ""}`,
  }),
  tell: (d, template, disputeId, data) => {
    const s = d.state;
    const id = template === "dispute_opened" ? ids.notice.disputeOpened : ids.notice.disputeClosed;
    for (const seller of s.sellers)
      d.notify(id(s.id, "seller", disputeId, seller.id), { sellerId: seller.id }, template, data);
    d.notify(id(s.id, "admins", disputeId), "platform_admins", template, data);
  },
  beforeLoss: (d, disputeId) => {
    const next = supersedeUnmovedRefunds(d.state, disputeId);
    if (next !== d.state) d.set({ refunds: next.refunds });
  },
  // A refund at Stripe, or a split's refund with a seller's reversal for it still in flight:
  // whether it reaches the customer is not known yet. (One whose reversal failed never will.)
  lossWaits: (d) =>
    d.state.refunds.some(
      (r) =>
        r.status === "requested" ||
        (r.status === "reversing" &&
          d.state.reversals.some((rv) => rv.forRefund === r.number && rv.status === "requested")),
    ),
  refundableMinor: (d) => marketplaceRefundableMinor(d.state),
  owedLeftMinor: (d) => owedLeftMinor(paymentOwed(d.state)),
  owedPaidMinor: (d) => owedPaidNotTakenMinor(d.state),
  lossParts: (d, lostMinor) => ({ parts: lossParts(d.state, lostMinor) }),
  won: (d, tellClosed) => {
    tellClosed();
    thawTransfers(d);
    // A loss booked nothing yet because a frozen seller was unpaid, and it took their whole share.
    settleIfEverySellerPaid(d);
    return d.done();
  },
  lost: (d, disputeId) => {
    thawTransfers(d);
    settleOwedAfterLoss(d, disputeId, owedLossRules);
    oweWhatTheLossLeft(d, disputeId);
    bookPendingLosses(d);
    return d.done();
  },
};

/** What is owed to the customer outside Stripe, and how a loss's part taken from it is booked (kernel/disputes.ts). */
const owedLossRules: OwedLossRules<Draft> = {
  owedLeftMinor: (d) => owedLeftMinor(paymentOwed(d.state)),
  refundOwedTicket: ids.ticket.refundOwed,
  overpaidTicket: ids.ticket.owedOverpaid,
  overpaidContext: (d) => {
    const s = d.state;
    return {
      customer: `${s.customer.email} (person ${s.customer.id})`,
      what: `marketplace charge ${s.id}, ${s.clientReference}`,
      succeededRefunds: s.refunds.filter((r) => r.status === "succeeded").map((r) => r.number),
      recordAt: `/v1/marketplace-charges/${s.id}/owed-recoveries`,
    };
  },
  postTakenFromOwed: (d, disputeId, refundNumber, takenMinor) =>
    d.post(
      marketplaceDisputeLost({
        id: ids.ledger.disputeLostFromOwed(d.state.id, disputeId, refundNumber),
        chargeId: d.state.id,
        currency: d.state.currency,
        from: { inFlightMinor: 0, feesMinor: 0, platformFundedMinor: 0, owedMinor: takenMinor },
        occurredAt: d.now,
        refs: { disputeId },
      }),
    ),
};

/**
 * After a refund's or a reversal's outcome (`step`, when it applied): a dispute Stripe closed
 * lost while the refund was in flight is closed now that no refund is, its loss measured as if
 * this outcome had come before the closure (see `DisputeRules.lossWaits`).
 */
function thenLossThatWaited(d: Draft, step: Step): Step {
  if (step.isErr() || step.value.ignored !== undefined) return step;
  return closeLossThatWaited(d, disputeRules) ?? step;
}

/**
 * A lost dispute superseded refunds that never reached the customer: the bank gave back
 * `lostMinor` instead. What those refunds asked for beyond it (at most what is left) is
 * still owed to the customer — but Stripe refuses every refund of a charge charged back
 * (`charge_disputed`), so it is not asked of Stripe: a new refund (a new number), by the same
 * initiator, for the same reason, under the same rules, is owed outside Stripe at once (see
 * {@link oweOutsideStripe}).
 */
function oweWhatTheLossLeft(d: Draft, disputeId: string): void {
  const s = d.state;
  const owed = owedAfterSupersededRefunds(s.refunds, s.disputes, disputeId, marketplaceRefundableMinor(s));
  if (owed === undefined) return;
  const { restMinor, last } = owed;
  // What reversals for the superseded refunds brought back beyond the loss's part of each
  // seller is with the platform already: the rest's seller parts are reversed only beyond it.
  const lossPartsMinor = s.disputes.find((x) => x.id === disputeId)?.parts?.sellerPartsMinor ?? [];
  const coveredMinor = reversedForSupersededMinor(s, disputeId).map((m, i) =>
    Math.max(0, m - (lossPartsMinor[i] ?? 0)),
  );
  // A destination refund whose success Stripe failed afterwards had the seller's transfer
  // reversed and the fee refunded to them with it, at Stripe, and both stay: the rest is the
  // money that reversal brought back (in flight, `coveredMinor`), the fee given back already —
  // taking a fee part again would take the fee below zero — and the platform's beyond it.
  const reversedWithRefund =
    s.mode === "destination" &&
    !last.unsplit &&
    s.refunds.some((r) => r.supersededBy === disputeId && (r.failedAfterSuccess ?? 0) > 0 && !r.unsplit);
  const fromReversalMinor = Math.min(restMinor, coveredMinor[0] ?? 0);
  const refund: MarketplaceRefund = {
    number: s.refunds.length + 1,
    amountMinor: restMinor,
    initiatedBy: last.initiatedBy,
    reason: last.reason,
    rules: last.rules,
    parts: reversedWithRefund
      ? {
          sellerPartsMinor: [fromReversalMinor],
          feePartMinor: 0,
          platformFundedMinor: restMinor - fromReversalMinor,
        }
      : refundParts(s, restMinor, last.rules, last.unsplit),
    full: restMinor === marketplaceRefundableMinor(s),
    status: "requested",
    attempts: 0,
    ledgerPosted: false,
    unsplit: last.unsplit,
  };
  d.set({ refunds: [...s.refunds, refund] });
  oweOutsideStripe(
    d,
    refund,
    { kind: "dispute_lost", disputeId },
    coveredMinor,
    reversedWithRefund ? { sellersMinor: [fromReversalMinor], feesMinor: 0 } : undefined,
  );
}

/**
 * Where the money of refund `r`, owed outside Stripe, comes from: as its refund would have
 * taken it. A destination charge's seller is reversed their net part (the refund's reversal
 * less the fee Stripe would have refunded them with it), the fee's part is the platform's; a
 * split's sellers their parts; what nobody gives back is the platform's. An unsplit refund
 * (money that never left the platform) comes all from in flight.
 */
function owedFrom(s: MarketplaceCharge, r: MarketplaceRefund): { sellersMinor: number[]; feesMinor: number } {
  if (r.unsplit) return { sellersMinor: s.sellers.map(() => 0), feesMinor: 0 };
  // A destination refund whose success Stripe failed afterwards: Stripe reversed the seller's
  // part and refunded the fee to them with it, and both stay; the money is where its undone
  // posting put it back (see refundTakenFrom).
  if (s.mode === "destination" && (r.failedAfterSuccess ?? 0) > 0)
    return { sellersMinor: [r.parts.sellerPartsMinor[0] ?? 0], feesMinor: 0 };
  if (s.mode === "split")
    return { sellersMinor: [...r.parts.sellerPartsMinor], feesMinor: r.parts.feePartMinor };
  // The seller's part net of the fee refunded to them is reversed from their transfer: in whole
  // steps of the currency (Stripe takes a three-decimal currency's amounts in tens), the nearest
  // to it within their part; the fee gives the rest, as far as its part goes.
  const step = currencyInfo(s.currency).amountStepMinor;
  const sellerPartMinor = r.parts.sellerPartsMinor[0] ?? 0;
  const exactNetMinor = Math.max(0, sellerPartMinor - r.parts.feePartMinor);
  const net = Math.min(sellerPartMinor - (sellerPartMinor % step), Math.round(exactNetMinor / step) * step);
  return { sellersMinor: [net], feesMinor: Math.min(r.parts.feePartMinor, r.amountMinor - net) };
}

/**
 * Refund `r` never reached the customer and never can at Stripe (`cause`: the charge was
 * charged back by a lost dispute, or its card can no longer take money): it is owed to them
 * outside Stripe. Booked at once
 * (`marketplace_owed_to_customer`), taken from where `from` says (by default as its refund
 * would have taken it: {@link owedFrom}), so it counts as given back; its sellers' parts beyond
 * what the platform holds already (`coveredMinor`, per seller) are reversed from their transfers.
 * The admins get a ticket and a notice naming the amount, the currency and the customer to
 * pay by other means.
 */
function oweOutsideStripe(
  d: Draft,
  r: MarketplaceRefund,
  cause: OwedCause,
  coveredMinor: readonly number[],
  from: { sellersMinor: number[]; feesMinor: number } = owedFrom(d.state, r),
): void {
  const s = d.state;
  d.updateRefund(r.number, { status: "owed_outside_stripe", ledgerPosted: true });
  const inFlightMinor = r.unsplit ? r.amountMinor : from.sellersMinor.reduce((a, b) => a + b, 0);
  d.post(
    marketplaceOwedToCustomer({
      id: ids.ledger.owedToCustomer(s.id, r.number),
      chargeId: s.id,
      currency: s.currency,
      from: {
        inFlightMinor,
        feesMinor: from.feesMinor,
        platformFundedMinor: r.amountMinor - inFlightMinor - from.feesMinor,
      },
      occurredAt: d.now,
      refs: owedCauseRefs(cause),
    }),
  );
  s.sellers.forEach((seller, i) => {
    const part = (from.sellersMinor[i] ?? 0) - (coveredMinor[i] ?? 0);
    if (part > 0) requestReversal(d, seller.id, part, "refund", { forRefund: r.number });
  });
  const amount = formatMoney(money(r.amountMinor, s.currency));
  d.ticket(
    ids.ticket.refundOwed(s.id, r.number),
    "refund_owed",
    `${amount} is owed to customer ${s.customer.email} (person ${s.customer.id}; refund ${r.number} of marketplace charge ${s.id}, ${s.clientReference}): ${owedCauseSummary(cause, s.chargeId)}; pay it by other means and record it (POST /v1/marketplace-charges/${s.id}/owed-payments), which closes this ticket once nothing is left owed. It is booked in ${marketplaceAccounts.owedToCustomer(s.id)}`,
  );
  d.notify(ids.notice.refundOwed(s.id, r.number), "platform_admins", "refund_owed", {
    refund: r.number,
    amountMinor: r.amountMinor,
    customerEmail: s.customer.email,
    ...owedCauseData(cause),
  });
  // The customer hears it too: what is owed, and that it comes by other means than Stripe.
  d.notify(owedIds.payment.noticeBooked(s.id, r.number), "customer", "owed_outside_stripe", {
    refund: r.number,
    amountMinor: r.amountMinor,
    ...owedCauseData(cause),
  });
}

/**
 * A refund that never reached the customer and that Stripe cannot be asked for (`cause`: on a
 * charge charged back by a lost dispute — stored so by the code before owed refunds, which
 * asked Stripe for the rest of a partial loss, or failed after its success — or failed on a
 * card that can no longer take money): owed outside Stripe now — its sellers' parts reversed
 * unless reversals for it landed — and the charge ends when nothing is left to give back
 * (`charged_back` after a lost dispute, else `refunded` when it was refunding).
 */
function oweRefused(d: Draft, r: MarketplaceRefund, cause: OwedCause): Step {
  const s = d.state;
  // A destination refund whose success Stripe failed afterwards had the seller's part reversed
  // with it, at Stripe: that reversal stays, and counts as landed.
  const withRefundMinor =
    s.mode === "destination" && (r.failedAfterSuccess ?? 0) > 0 ? (r.parts.sellerPartsMinor[0] ?? 0) : 0;
  const landed = s.sellers.map(
    (seller, i) =>
      s.reversals
        .filter((rv) => rv.forRefund === r.number && rv.sellerId === seller.id && rv.status === "reversed")
        .reduce((sum, rv) => sum + rv.amountMinor, 0) + (i === 0 ? withRefundMinor : 0),
  );
  oweOutsideStripe(d, r, cause, landed);
  takeUncountedLossesFromOwed(d, r.number, owedLossRules);
  const after = d.state;
  if (marketplaceRefundableMinor(after) !== 0 || unfinishedRefund(after)) return d.done();
  if (cause.kind === "dispute_lost" && (after.status === "settled" || after.status === "refunding"))
    d.moveTo("charged_back", { endedAt: d.now });
  else if (cause.kind === "refund_unreachable" && after.status === "refunding")
    d.moveTo("refunded", { endedAt: d.now });
  return d.done();
}

/**
 * How a lost dispute divides: a split takes it back from every seller and the fee in
 * proportion to what each still holds; a destination charge reverses it from the seller's
 * transfer (the platform keeps its fee, as a destination refund without the fee refund
 * does). What cannot be reversed is the platform's.
 */
function lossParts(s: MarketplaceCharge, lostMinor: number): TakeBackParts {
  // Nothing was allocated to the co-hosts or the fee: the loss is of money in flight (booked
  // as such by bookPendingLosses), no seller's part.
  if (unallocatedSplit(s))
    return { sellerPartsMinor: s.sellers.map(() => 0), feePartMinor: 0, platformFundedMinor: 0 };
  if (s.mode === "split")
    return takeBackParts(
      lostMinor,
      sellersLeftMinor(s),
      feeLeftMinor(s),
      { reverseTransfer: true, refundApplicationFee: true },
      s.currency,
    );
  const reversible = s.destinationTransferId === undefined ? 0 : Math.max(0, sellersLeftMinor(s)[0] ?? 0);
  // Reversed in whole steps of the currency, as a split's are; a part of a step is the platform's.
  const step = currencyInfo(s.currency).amountStepMinor;
  const reversalMinor = Math.min(lostMinor - (lostMinor % step), reversible);
  return {
    sellerPartsMinor: [reversalMinor],
    feePartMinor: 0,
    platformFundedMinor: lostMinor - reversalMinor,
  };
}

/**
 * What each seller's transfer would still give back for the charge's disputes, by seller
 * id: their part of every lost dispute whose loss is not booked yet (its reversal is still
 * to be asked for), and of every open dispute were it lost (each taking at most what is
 * left, in turn, divided as a loss would be by {@link lossParts}). Only sellers already
 * paid count — a destination charge's seller once the transfer is known, a split's once
 * their transfer was created: until then a loss comes out of money the platform holds.
 * What a payout of a seller's balance must leave for reversals not asked for yet
 * (`reversalReserve`).
 */
export function disputedSellerPartsMinor(charge: MarketplaceCharge): ReadonlyMap<string, number> {
  const parts = new Map<string, number>();
  const paid = (sellerId: string) =>
    charge.mode === "destination"
      ? charge.destinationTransferId !== undefined
      : paidTransfer(charge, sellerId) !== undefined;
  // What reversals for the refunds a loss superseded brought back is not reversed again, nor
  // what the platform still holds of a seller's share (a loss takes it from there first).
  const payables = payablesLeftMinor(charge);
  const add = (p: TakeBackParts, reversed: readonly number[]) =>
    charge.sellers.forEach((seller, i) => {
      const beyond = Math.max(0, (p.sellerPartsMinor[i] ?? 0) - (reversed[i] ?? 0));
      const held = Math.min(beyond, payables[i] ?? 0);
      payables[i] = (payables[i] ?? 0) - held;
      const part = beyond - held;
      if (part > 0 && paid(seller.id)) parts.set(seller.id, (parts.get(seller.id) ?? 0) + part);
    });
  let s = charge;
  for (const x of charge.disputes) {
    if (x.status === "lost" && x.lossBooked !== true && x.parts !== undefined)
      add(x.parts, reversedForSupersededMinor(s, x.id));
    if (x.status !== "open") continue;
    // Lost, it would supersede the refunds that never reached the customer, as a real loss does.
    s = supersedeUnmovedRefunds(s, x.id);
    const lostMinor = Math.min(x.amountMinor, marketplaceRefundableMinor(s));
    const loss = lossParts(s, lostMinor);
    add(loss, reversedForSupersededMinor(s, x.id));
    // The next open dispute takes from what this one would leave.
    s = {
      ...s,
      disputes: s.disputes.map((y) =>
        y.id === x.id ? { ...y, status: "lost" as const, lostMinor, parts: loss } : y,
      ),
    };
  }
  return parts;
}

/**
 * Books the losses of lost disputes — once every seller was paid (or is owed nothing), since
 * where the money is depends on it — and asks for the sellers' reversals. A seller's part is
 * taken first from what the platform still holds of their share (`seller_payable`: a seller a
 * loss reached before they were paid was transferred only the rest, or nothing), and only the
 * rest reversed from their transfer. A split whose last seller was just paid is settled; a
 * loss that took everything left ends the charge instead (one stored move, so the table lists
 * `paying_sellers` and `transfer_blocked → charged_back` too).
 */
function bookPendingLosses(d: Draft): void {
  const unallocated = unallocatedSplit(d.state);
  if (!unallocated && !everySellerPaid(d.state)) return;
  for (const x of d.state.disputes.filter((y) => y.status === "lost" && y.lossBooked === false)) {
    const s = d.state;
    const parts = x.parts ?? { sellerPartsMinor: [], feePartMinor: 0, platformFundedMinor: 0 };
    // What reversals for the refunds it superseded brought back is with the platform already;
    // of the rest, what it still holds of the seller's share is taken from there.
    const reversed = reversedForSupersededMinor(s, x.id);
    const payables = payablesLeftMinor(s);
    const withheld = s.sellers.map((_, i) =>
      Math.min(Math.max(0, (parts.sellerPartsMinor[i] ?? 0) - (reversed[i] ?? 0)), payables[i] ?? 0),
    );
    const withheldMinor = withheld.reduce((a, b) => a + b, 0);
    // A late split's money is all in flight (see unallocatedSplit): the loss takes it from there.
    const fromSellersMinor = unallocated
      ? (x.lostMinor ?? 0)
      : parts.sellerPartsMinor.reduce((a, b) => a + b, 0) - withheldMinor;
    d.post(
      marketplaceDisputeLost({
        id: ids.ledger.disputeLost(s.id, x.id),
        chargeId: s.id,
        currency: s.currency,
        from: {
          inFlightMinor: fromSellersMinor,
          ...(withheldMinor > 0
            ? {
                sellerPayablesMinor: s.sellers
                  .map((seller, i) => ({ sellerId: seller.id, amountMinor: withheld[i] ?? 0 }))
                  .filter((p) => p.amountMinor > 0),
              }
            : {}),
          feesMinor: parts.feePartMinor,
          platformFundedMinor: parts.platformFundedMinor,
          ...((x.owedTakenMinor ?? 0) > 0 ? { owedMinor: x.owedTakenMinor } : {}),
          ...((x.overpaidMinor ?? 0) > 0 ? { owedByCustomerMinor: x.overpaidMinor } : {}),
        },
        occurredAt: d.now,
        refs: { disputeId: x.id },
      }),
    );
    d.updateDispute(x.id, { lossBooked: true, ...(withheldMinor > 0 ? { withheldMinor: withheld } : {}) });
    s.sellers.forEach((seller, i) => {
      const part = (parts.sellerPartsMinor[i] ?? 0) - (reversed[i] ?? 0) - (withheld[i] ?? 0);
      if (part > 0) requestReversal(d, seller.id, part, "dispute_lost", { forDisputeId: x.id });
    });
  }
  const s = d.state;
  const paying = s.status === "paying_sellers" || s.status === "transfer_blocked";
  // A charge being refunded ends charged back too when no refund is left to finish: the
  // refund that made it `refunding` never reached the customer and the loss superseded it.
  const open = paying || s.status === "settled" || s.status === "refunding";
  if (open && marketplaceRefundableMinor(s) === 0 && !unfinishedRefund(s))
    d.moveTo("charged_back", { endedAt: d.now });
  else if (paying) d.moveTo("settled");
}
