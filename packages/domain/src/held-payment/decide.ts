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
  type HeldMovementInput,
  heldAccounts,
  heldCaptured,
  heldDisputeLost,
  heldFeeEarned,
  heldOwedToCustomer,
  heldRefunded,
  heldRefundFailed,
  heldRefundSuperseded,
  heldSellerPayable,
  heldTransferReversed,
  heldTransferred,
  type LedgerError,
  type LedgerTransaction,
  type TakenBackFrom,
} from "../ledger/index.js";
import { currencyInfo, formatMoney, money } from "../money/index.js";
import { owedIds } from "../owed/owed-ids.js";
import { owedLeftMinor } from "../owed/owed-payment.js";
import { owedPaidNotTakenMinor, paymentOwed } from "../owed/payment-owed.js";
import { CHECKOUT_EXPIRY_RECHECK_MS, expiryRecheckStep } from "../policy/checkout-expiry-recheck.js";
import { classifyFailure } from "../policy/failure-codes.js";
import type { HeldPaymentPolicy } from "../policy/held-payment-policy.js";
import { REFUND_OUTCOME_OVERDUE_MS } from "../policy/refund-overdue.js";
import { retryOrPark } from "../policy/retry-or-park.js";
import { DAY_MS, type Instant, isoString } from "../shared/time.js";
import { type HeldPaymentError, heldPaymentError } from "./held-payment.errors.js";
import {
  type CreateHeldPayment,
  feeNetMinor,
  givenBackMinor,
  type HeldDispute,
  type HeldPayment,
  type HeldPaymentStatus,
  type HeldRefund,
  heldBackForSupersededMinor,
  newHeldPayment,
  type ReleaseBlockKind,
  refundableMinor,
  sellerNetMinor,
  supersedeUnmovedRefunds,
  type TransferAttempt,
  type TransferReversal,
} from "./held-payment.js";
import {
  HELD_PAYMENT_AGGREGATE,
  type HeldPaymentEffect,
  type HeldPaymentTicketReason,
} from "./held-payment-effect.js";
import { heldPaymentIds as ids } from "./held-payment-ids.js";
import type { HeldPaymentIgnoredCode } from "./held-payment-ignored.js";
import type { HeldPaymentInput } from "./held-payment-input.js";
import { type TakeBackSplit, takeBackSplit } from "./held-payment-money.js";
import type { HeldPaymentTimer } from "./held-payment-timer.js";
import { moveHeldPayment } from "./held-payment-transitions.js";

/** What `decideHeldPayment` needs besides the state and the input: the time and the policy. */
export interface HeldPaymentDecideContext {
  readonly now: Instant;
  readonly policy: HeldPaymentPolicy;
}

/**
 * The outcome of a decision on a held payment: the next state and the effects to carry
 * out; when the input did not apply, the state unchanged, no effects, and `ignored`.
 */
export type HeldPaymentDecision = Decision<HeldPayment, HeldPaymentEffect, HeldPaymentIgnoredCode>;

type Step = Result<HeldPaymentDecision, HeldPaymentError>;

type InputOf<T extends HeldPaymentInput["type"]> = Extract<HeldPaymentInput, { readonly type: T }>;

/** A held payment's draft: the kernel's {@link PaymentDraft}, plus its one-amount postings and transfer attempts. */
class Draft extends PaymentDraft<
  HeldPayment,
  HeldPaymentEffect,
  HeldPaymentDecideContext,
  typeof HELD_PAYMENT_AGGREGATE
> {
  constructor(initial: HeldPayment, ctx: HeldPaymentDecideContext) {
    super(initial, ctx, {
      label: "held payment",
      move: moveHeldPayment,
      aggregate: HELD_PAYMENT_AGGREGATE,
      timerId: ids.timer,
      noticeData: (s) => ({ heldPaymentId: s.id, clientReference: s.clientReference, currency: s.currency }),
      sellerOf: (s) => s.seller.id,
    });
  }

  /** Posts a one-amount movement, or nothing when the amount is zero. */
  postAmount(
    build: (input: HeldMovementInput) => Result<LedgerTransaction, LedgerError>,
    id: string,
    amountMinor: number,
  ): void {
    if (amountMinor === 0) return;
    this.post(
      build({
        id,
        heldPaymentId: this.state.id,
        amount: money(amountMinor, this.state.currency),
        occurredAt: this.now,
      }),
    );
  }

  updateTransfer(number: number, patch: Partial<TransferAttempt>): void {
    this.setList("transfers", this.state.transfers, (t) => t.number === number, patch);
  }
}

const refuse = (code: Parameters<typeof heldPaymentError>[0], message: string): Step =>
  err(heldPaymentError(code, message));

// ---------------------------------------------------------------- what the state says

const CAPTURED_STATUSES: readonly HeldPaymentStatus[] = [
  "held",
  "releasing",
  "release_blocked",
  "released",
  "refunding",
  "refunded",
  "charged_back",
];

/** A transfer that may still land: asked for, or whose outcome is unknown. */
function transferInFlight(s: HeldPayment): TransferAttempt | undefined {
  return s.transfers.find(isTransferInFlight);
}

/** The transfer that paid the seller and is booked (`held_transferred`): the one reversals are asked of. */
function createdTransfer(s: HeldPayment): TransferAttempt | undefined {
  return s.transfers.find(isBookedTransfer);
}

/** A transfer that landed late and could not be booked (see `transferCreated`). */
function unbookedTransfer(s: HeldPayment): TransferAttempt | undefined {
  return s.transfers.find((t) => t.status === "created" && t.unbooked === true);
}

/**
 * What the seller's transfer would still give back for the payment's disputes: their part
 * of every lost dispute whose loss is not booked yet (its reversal is still to be asked
 * for), and of every open dispute were it lost (each taking at most what is left, in turn,
 * split as a loss would be) — 0 unless the transfer was made, since until then a loss comes
 * out of the money the platform still holds. What a payout of the seller's balance must
 * leave for reversals that have not been asked for yet (`reversalReserve`).
 */
export function disputedSellerPartMinor(payment: HeldPayment): number {
  if (createdTransfer(payment) === undefined) return 0;
  let s = payment;
  let total = 0;
  for (const x of payment.disputes) {
    if (x.status === "lost" && x.lossBooked !== true)
      total += lossReversalMinor(s, x.id, x.sellerPartMinor ?? 0);
    if (x.status !== "open") continue;
    // Lost, it would supersede the refunds that never reached the customer, as a real loss does.
    s = supersedeUnmovedRefunds(s, x.id);
    const lostMinor = Math.min(x.amountMinor, refundableMinor(s));
    const parts = partsRecord(splitNow(s, lostMinor));
    total += lossReversalMinor(s, x.id, parts.sellerPartMinor);
    // The next open dispute takes from what this one would leave.
    s = {
      ...s,
      disputes: s.disputes.map((y) =>
        y.id === x.id ? { ...y, status: "lost" as const, lostMinor, ...parts } : y,
      ),
    };
  }
  return total;
}

/**
 * How `amountMinor` given back now divides (`takeBackSplit`), from what the seller and the fee
 * gave back so far.
 */
function splitNow(s: HeldPayment, amountMinor: number): TakeBackSplit {
  return takeBackSplit(s, s.currency, givenBackMinor(s), amountMinor, {
    sellerPartMinor: s.sellerShareMinor - sellerNetMinor(s),
    feePartMinor: s.feeMinor - feeNetMinor(s),
  });
}

/**
 * `split` (of `amountMinor`: a loss, or the rest owed to the customer after it) given back in
 * place of refunds a lost dispute superseded, once the seller was paid: the platform holds
 * `heldBackMinor` of their seller parts back (the transfer was made net of them, or a reversal
 * for them landed), so taking from it needs no reversal — which is why the seller otherwise
 * gives whole steps only. The part of a step {@link splitNow} leaves to the fee (or the
 * platform) comes out of that held-back money first, as far as it goes: otherwise the fee
 * would pay it and the held-back money stay in the hold for good. Nothing changes in a
 * currency whose step is one minor unit, nor before the transfer (what is transferred later
 * must stay in steps).
 */
function offStepFromHeldBack(
  s: HeldPayment,
  split: TakeBackSplit,
  amountMinor: number,
  heldBackMinor: number,
): TakeBackSplit {
  if (createdTransfer(s) === undefined) return split;
  const offStepMinor = amountMinor % currencyInfo(s.currency).amountStepMinor;
  const roomMinor = heldBackMinor - split.sellerPartMinor;
  const movedMinor = Math.min(offStepMinor, roomMinor, split.feePartMinor + split.platformFundedMinor);
  if (movedMinor <= 0) return split;
  const fromFundedMinor = Math.min(movedMinor, split.platformFundedMinor);
  return {
    sellerPartMinor: split.sellerPartMinor + movedMinor,
    feePartMinor: split.feePartMinor - (movedMinor - fromFundedMinor),
    platformFundedMinor: split.platformFundedMinor - fromFundedMinor,
  };
}

/** A split as a refund or a loss records it: what the platform pays only when it pays something. */
function partsRecord(split: TakeBackSplit): {
  sellerPartMinor: number;
  feePartMinor: number;
  platformFundedMinor?: number;
} {
  const { platformFundedMinor, ...parts } = split;
  return platformFundedMinor > 0 ? { ...parts, platformFundedMinor } : parts;
}

/**
 * What a loss of the dispute `disputeId` still reverses from the seller: its seller part
 * beyond what the platform holds back for the refunds it superseded already (reversals that
 * landed for them, and their seller parts the transfer was made net of).
 */
function lossReversalMinor(s: HeldPayment, disputeId: string, sellerPartMinor: number): number {
  return Math.max(0, sellerPartMinor - heldBackForSupersededMinor(s, disputeId));
}

/**
 * A refund not yet done: in flight, or failed and waiting for an admin's retry (one a lost
 * dispute superseded is done, and so is one owed to the customer outside Stripe: nothing more
 * is asked of Stripe for it).
 */
function unfinishedRefund(s: HeldPayment): HeldRefund | undefined {
  return s.refunds.find(
    (r) =>
      r.status !== "succeeded" && r.status !== "superseded_by_dispute" && r.status !== "owed_outside_stripe",
  );
}

function openDispute(s: HeldPayment): HeldDispute | undefined {
  return s.disputes.find((x) => x.status === "open");
}

/**
 * A dispute Stripe closed lost: the charge was charged back, and Stripe refuses every refund
 * of it (`charge_disputed`), whatever amount the dispute took.
 */
function lostDispute(s: HeldPayment): HeldDispute | undefined {
  return s.disputes.find((x) => x.status === "lost");
}

const chargedBack = (x: HeldDispute): Step =>
  refuse("charge_disputed", `dispute ${x.id} was lost: Stripe refuses every refund of a charge charged back`);

/** Where money given back now comes from, by how far the release went. */
function stageOf(s: HeldPayment): HeldRefund["stage"] {
  if (createdTransfer(s)) return "transferred";
  return s.releaseStarted ? "earmarked" : "holding";
}

function takenBackFrom(
  s: HeldPayment,
  stage: HeldRefund["stage"],
  amountMinor: number,
  sellerPartMinor: number,
  feePartMinor: number,
  platformFundedMinor = 0,
): TakenBackFrom {
  const funded = platformFundedMinor > 0 ? { platformFunded: money(platformFundedMinor, s.currency) } : {};
  if (stage === "holding") return { stage, amount: money(amountMinor, s.currency), ...funded };
  return {
    stage,
    sellerPart: money(sellerPartMinor, s.currency),
    feePart: money(feePartMinor, s.currency),
    ...funded,
  };
}

/** Whether nothing stands in the release's way: the seller can receive, no hold, dispute, unfinished refund or transfer in flight. */
function nothingInTheWay(s: HeldPayment): boolean {
  return (
    s.sellerCanReceive &&
    s.adminHold === undefined &&
    openDispute(s) === undefined &&
    unfinishedRefund(s) === undefined &&
    transferInFlight(s) === undefined
  );
}

// ---------------------------------------------------------------- entry points

/**
 * A client app's `create`: validates it (see `newHeldPayment`) and asks Stripe for the
 * Checkout Session (payment mode, the payment's transfer group, metadata naming the
 * aggregate), arming a backstop timer for its expiry.
 */
export function createHeldPayment(command: CreateHeldPayment, ctx: HeldPaymentDecideContext): Step {
  return newHeldPayment(command, ctx).andThen((state) => {
    const d = new Draft(state, ctx);
    const s = d.state;
    d.effect({
      ...d.addressed(ids.checkoutSession(s.id)),
      kind: "create_checkout_session",
      mode: "payment",
      clientReference: s.clientReference,
      amountMinor: s.amountMinor,
      currency: s.currency,
      description: s.description,
      customerEmail: s.customer.email,
      ...(s.customer.name !== undefined ? { customerName: s.customer.name } : {}),
      transferGroup: s.transferGroup,
      expiresAt: s.checkoutExpiresAt,
      successUrl: s.successUrl,
      ...(s.cancelUrl !== undefined ? { cancelUrl: s.cancelUrl } : {}),
      metadata: { aggregate: HELD_PAYMENT_AGGREGATE, heldPaymentId: s.id },
    });
    d.timer({ kind: "checkout_expired" }, s.checkoutExpiresAt + ctx.policy.checkoutExpiryGraceMs);
    return d.done();
  });
}

/**
 * The held payment's state machine: given its state and an input, the next state and the
 * effects to carry out. Pure. Inputs that do not apply are ignored with a code from
 * `HELD_PAYMENT_IGNORED_CODES`; refused commands are errors with a stable code. A move
 * outside `HELD_PAYMENT_TRANSITIONS` or a posting the ledger refuses throws: both are bugs.
 */
export function decideHeldPayment(
  state: HeldPayment,
  input: HeldPaymentInput,
  ctx: HeldPaymentDecideContext,
): Step {
  const d = new Draft(state, ctx);
  switch (input.type) {
    case "create":
      return ignore(state, "already_created", `held payment ${state.id} exists`);
    case "confirm_fulfilled":
      return confirmFulfilled(d);
    case "report_unfulfilled":
      return reportUnfulfilled(d, input);
    case "admin_hold":
      return adminHold(d, input);
    case "admin_release":
      return adminRelease(d, input);
    case "refund":
      return refundCommand(d, input);
    case "retry_refund":
      return retryRefund(d);
    case "retry_reversal":
      return retryReversal(d);
    case "timer":
      return onTimer(d, input.timer);
    case "checkout_session_created":
      return sessionCreated(d, input);
    case "checkout_completed":
      return checkoutCompleted(d, input);
    case "async_payment_succeeded":
      return asyncSucceeded(d, input);
    case "async_payment_failed":
      return asyncFailed(d, input);
    case "checkout_expired":
      return checkoutExpiredFact(d, input);
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
    case "dispute_created":
      return disputeOpened(d, input, disputeRules);
    case "dispute_updated":
      return disputeUpdated(d, input);
    case "dispute_closed":
      return disputeClosed(d, input, disputeRules);
    case "seller_account_ready":
      return sellerReady(d);
    case "seller_account_not_ready":
      return sellerNotReady(d, input);
  }
}

// ---------------------------------------------------------------- checkout and payment

/** A Checkout fact names a session: this payment's, or one it has not heard of yet (its creation's answer may be late). */
function otherSession(s: HeldPayment, sessionId: string): boolean {
  return s.checkoutSessionId !== undefined && s.checkoutSessionId !== sessionId;
}

function sessionCreated(d: Draft, { sessionId, url }: InputOf<"checkout_session_created">): Step {
  const s = d.state;
  if (s.checkoutSessionId === sessionId)
    return ignore(s, "session_already_recorded", `session ${sessionId} already recorded`);
  if (otherSession(s, sessionId))
    return ignore(s, "no_such_session", `the payment's session is ${s.checkoutSessionId}, not ${sessionId}`);
  d.set({ checkoutSessionId: sessionId, checkoutUrl: url });
  return d.done();
}

function capture(d: Draft, sessionId: string, paymentIntentId: string, chargeId: string): void {
  d.set({ checkoutSessionId: sessionId, paymentIntentId, chargeId, capturedAt: d.now });
  d.postAmount(heldCaptured, ids.ledger.captured(d.state.id), d.state.amountMinor);
  d.moveTo("held");
  noticeBookingPaid(d);
}

/**
 * Tells the customer (a receipt: what, how much, when) and the seller (paid, the funds
 * held until …) that the booking was paid. The hold ends at `releaseDueAt` when the
 * booking was already confirmed; otherwise the window's length after the confirmation.
 */
function noticeBookingPaid(d: Draft): void {
  const s = d.state;
  const hold =
    s.releaseDueAt !== undefined
      ? { holdEndsAt: isoString(s.releaseDueAt) }
      : { holdDaysAfterFulfilment: Math.ceil(s.disputeWindowMs / DAY_MS) };
  const common = {
    description: s.description,
    amountMinor: s.amountMinor,
    paidAt: isoString(d.now),
    ...hold,
  };
  d.notify(ids.notice.bookingPaid(s.id, "customer"), "customer", "booking_paid", {
    ...common,
    recipient: "customer",
  });
  d.notify(ids.notice.bookingPaid(s.id, "seller"), "seller", "booking_paid", {
    ...common,
    recipient: "seller",
    sellerShareMinor: s.sellerShareMinor,
    feeMinor: s.feeMinor,
  });
}

/** The customer's payment succeeded: hold it, and release it if the window already ended. */
function paid(d: Draft, sessionId: string, paymentIntentId: string, chargeId: string): Step {
  const s = d.state;
  if (s.status === "expired" || s.status === "payment_failed")
    return latePayment(d, sessionId, paymentIntentId, chargeId);
  capture(d, sessionId, paymentIntentId, chargeId);
  return releaseIfDue(d);
}

/**
 * Money arrived for a payment susu had given up on (the session expired or the payment
 * failed, and then it succeeded after all). It is real money: record it, refund it at
 * once, and tell the admins. Never ignored.
 */
function latePayment(d: Draft, sessionId: string, paymentIntentId: string, chargeId: string): Step {
  const was = d.state.status;
  d.set({ checkoutSessionId: sessionId, paymentIntentId, chargeId, capturedAt: d.now });
  d.postAmount(heldCaptured, ids.ledger.captured(d.state.id), d.state.amountMinor);
  const p = d.state.id;
  d.ticket(
    ids.ticket.latePayment(p),
    "unexpected_money",
    `payment ${paymentIntentId} succeeded after the held payment was ${was}; it is refunded in full`,
  );
  d.notify(ids.notice.latePayment(p), "platform_admins", "unexpected_money", { paymentIntentId, was });
  startRefund(d, d.state.amountMinor, "late_payment");
  return d.done();
}

function paymentFailed(d: Draft, paymentIntentId: string, failureCode: string): Step {
  d.moveTo("payment_failed", { paymentIntentId, failureCode, endedAt: d.now });
  d.notify(ids.notice.paymentFailed(d.state.id), "customer", "payment_failed", { failureCode });
  return d.done();
}

function checkoutCompleted(d: Draft, input: InputOf<"checkout_completed">): Step {
  const { sessionId, paymentIntentId, paymentStatus, chargeId } = input;
  const s = d.state;
  if (otherSession(s, sessionId))
    return ignore(s, "no_such_session", `the payment's session is ${s.checkoutSessionId}, not ${sessionId}`);
  const open = s.status === "awaiting_payment" || s.status === "payment_processing";
  const givenUp = s.status === "expired" || s.status === "payment_failed";
  if (paymentStatus === "succeeded" && chargeId !== undefined && (open || givenUp))
    return paid(d, sessionId, paymentIntentId, chargeId);
  if (!open) return ignore(s, "payment_already_settled", `the payment is ${s.status}`);
  switch (paymentStatus) {
    case "succeeded": // a success without its charge cannot fund a transfer: wait for the async fact
    case "processing":
      if (s.status === "payment_processing")
        return ignore(s, "checkout_already_completed", "the session's payment is already processing");
      d.moveTo("payment_processing", { checkoutSessionId: sessionId, paymentIntentId });
      return d.done();
    case "requires_action":
      return ignore(s, "payment_not_settled", "the PaymentIntent still requires the customer's action");
    case "requires_payment_method":
    case "canceled":
      d.set({ checkoutSessionId: sessionId });
      return paymentFailed(d, paymentIntentId, paymentStatus);
  }
}

function asyncSucceeded(d: Draft, input: InputOf<"async_payment_succeeded">): Step {
  const s = d.state;
  if (otherSession(s, input.sessionId))
    return ignore(
      s,
      "no_such_session",
      `the payment's session is ${s.checkoutSessionId}, not ${input.sessionId}`,
    );
  if (CAPTURED_STATUSES.includes(s.status))
    return ignore(s, "payment_already_settled", `the payment is ${s.status}`);
  return paid(d, input.sessionId, input.paymentIntentId, input.chargeId);
}

function asyncFailed(d: Draft, input: InputOf<"async_payment_failed">): Step {
  const s = d.state;
  if (otherSession(s, input.sessionId))
    return ignore(
      s,
      "no_such_session",
      `the payment's session is ${s.checkoutSessionId}, not ${input.sessionId}`,
    );
  if (s.status !== "awaiting_payment" && s.status !== "payment_processing")
    return ignore(s, "payment_already_settled", `the payment is ${s.status}`);
  d.set({ checkoutSessionId: input.sessionId });
  return paymentFailed(d, input.paymentIntentId, input.failureCode);
}

function expire(d: Draft): Step {
  d.moveTo("expired", { endedAt: d.now });
  d.notify(ids.notice.checkoutExpired(d.state.id), "customer", "checkout_expired");
  return d.done();
}

/**
 * The backstop timer (the session's expiry and a grace): the payment does not end here. The
 * customer may have paid, the success webhook still on its way (Stripe retries for days), so
 * Stripe is asked to expire the session and its answer decides: expired (the answer or
 * `checkout.session.expired`) ends the payment `expired` and tells the customer; a session
 * already complete has its payment read, an ordinary payment. With no session recorded the
 * customer never had a page to pay on: the payment ends at once.
 */
function checkoutBackstop(d: Draft): Step {
  const s = d.state;
  if (s.status !== "awaiting_payment") return ignore(s, "timer_no_longer_due", `the payment is ${s.status}`);
  if (s.checkoutSessionId === undefined) return expire(d);
  if (s.expiryRequestedAt !== undefined)
    return ignore(s, "timer_no_longer_due", "the session's expiry is already asked of Stripe");
  askToExpire(d, s.checkoutSessionId, 1);
  d.set({ expiryRequestedAt: d.now });
  return d.done();
}

/**
 * Ask `ask` that Stripe expire the session, under its own key, and the recheck that asks again
 * if Stripe's word has not come by then: the ask goes through the outbox, which parks it when
 * Stripe refuses it or keeps failing, and the session's webhook may never come.
 */
function askToExpire(d: Draft, sessionId: string, ask: number): void {
  d.effect({
    ...d.addressed(ids.expireCheckoutSession(d.state.id, ask)),
    kind: "expire_checkout_session",
    sessionId,
  });
  d.set({ expiryAsks: ask });
  d.timer({ kind: "checkout_recheck", ask: ask + 1 }, d.now + CHECKOUT_EXPIRY_RECHECK_MS);
}

/**
 * A recheck: the payment still waits for Stripe's word on the session it was asked to expire
 * (each answer — expired, or complete with its payment — ends the wait, as the webhook does).
 * Stripe is asked again under a new key, so a refusal or failure it stored is not replayed;
 * after `CHECKOUT_EXPIRY_ASKS_MAX` asks, one ticket says susu stopped asking. A recheck of an
 * ask already made (a redelivery, a payment stored before rechecks) asks nothing.
 */
function checkoutRecheck(d: Draft, ask: number): Step {
  const s = d.state;
  if (
    s.status !== "awaiting_payment" ||
    s.checkoutSessionId === undefined ||
    s.expiryRequestedAt === undefined
  )
    return ignore(s, "timer_no_longer_due", `the payment is ${s.status}, no expiry waits for Stripe`);
  const step = expiryRecheckStep(s.expiryAsks, ask);
  if (step.kind === "not_due") return ignore(s, "timer_no_longer_due", step.reason);
  if (step.kind === "ask") {
    askToExpire(d, s.checkoutSessionId, step.ask);
    return d.done();
  }
  d.set({ expiryAsks: step.ask });
  d.ticket(
    ids.ticket.checkoutExpiryUnconfirmed(s.id),
    "checkout_expiry_unconfirmed",
    `Stripe answered none of ${step.asked} asks to expire Checkout Session ${s.checkoutSessionId} ` +
      `(the parked effects ${ids.expireCheckoutSession(s.id)}…); the payment waits for Stripe's word ` +
      "(checkout.session.expired or .completed): read the session at Stripe and replay a parked ask",
  );
  return d.done();
}

function checkoutExpiredFact(d: Draft, { sessionId }: InputOf<"checkout_expired">): Step {
  const s = d.state;
  if (otherSession(s, sessionId))
    return ignore(s, "no_such_session", `the payment's session is ${s.checkoutSessionId}, not ${sessionId}`);
  if (s.status !== "awaiting_payment") return ignore(s, "checkout_not_open", `the payment is ${s.status}`);
  d.set({ checkoutSessionId: sessionId });
  return expire(d);
}

// ---------------------------------------------------------------- the client app's word

function confirmFulfilled(d: Draft): Step {
  const s = d.state;
  if (s.status === "awaiting_payment" || s.status === "expired" || s.status === "payment_failed")
    return refuse("payment_not_captured", `the payment is ${s.status}`);
  if (s.fulfilment !== "pending")
    return refuse("fulfilment_already_reported", `the booking was already reported ${s.fulfilment}`);
  if (s.status !== "held" && s.status !== "payment_processing")
    return refuse("payment_ended", `the payment is ${s.status}`);
  const releaseDueAt = d.now + s.disputeWindowMs;
  d.set({ fulfilment: "confirmed", releaseDueAt });
  d.timer({ kind: "release_due" }, releaseDueAt);
  return d.done();
}

function reportUnfulfilled(d: Draft, { reason }: InputOf<"report_unfulfilled">): Step {
  const s = d.state;
  if (s.status === "awaiting_payment" || s.status === "expired" || s.status === "payment_failed")
    return refuse("payment_not_captured", `the payment is ${s.status}`);
  if (s.fulfilment !== "pending")
    return refuse("fulfilment_already_reported", `the booking was already reported ${s.fulfilment}`);
  if (s.status === "payment_processing")
    return refuse("payment_not_captured", "the payment is still processing; report again once it is paid");
  if (s.status !== "held") return refuse("payment_ended", `the payment is ${s.status}`);
  if (openDispute(s)) return refuse("payment_disputed", "the charge is disputed: Stripe cannot refund it");
  const lost = lostDispute(s);
  if (lost) return chargedBack(lost);
  if (unfinishedRefund(s)) return refuse("refund_in_flight", "a refund is unfinished");
  d.set({ fulfilment: "unfulfilled", unfulfilledReason: reason });
  startRefund(d, refundableMinor(d.state), "unfulfilled");
  return d.done();
}

// ---------------------------------------------------------------- admins

function adminHold(d: Draft, { by, reason }: InputOf<"admin_hold">): Step {
  const s = d.state;
  if (s.status === "releasing") return refuse("release_in_flight", "the release has started");
  const holdable: readonly HeldPaymentStatus[] = [
    "awaiting_payment",
    "payment_processing",
    "held",
    "release_blocked",
  ];
  if (!holdable.includes(s.status)) return refuse("not_holdable", `the payment is ${s.status}`);
  if (s.adminHold)
    return refuse("already_on_hold", `held by ${s.adminHold.by} since ${isoString(s.adminHold.at)}`);
  d.set({ adminHold: { by, reason, at: d.now } });
  return d.done();
}

function adminRelease(d: Draft, _input: InputOf<"admin_release">): Step {
  const s = d.state;
  if (s.adminHold) {
    const { adminHold: _lifted, ...rest } = s;
    d.state = rest;
    if (d.state.status === "release_blocked" && nothingInTheWay(d.state)) return resumeRelease(d);
    return releaseIfDue(d);
  }
  if (s.status !== "release_blocked") return refuse("not_on_hold", "no admin hold and no blocked release");
  if (openDispute(s)) return refuse("payment_disputed", "the charge is disputed");
  if (unfinishedRefund(s)) return refuse("refund_in_flight", "a refund is unfinished");
  if (!s.sellerCanReceive)
    return refuse("seller_cannot_receive", "the seller's account cannot receive transfers");
  // An attempt of unknown outcome may have paid the seller after all, and another attempt
  // (a new idempotency key) would pay them twice: look for it at Stripe first. Found, it is
  // adopted (`transfer_created`); not found, it is written off and the release goes on.
  const unknown = s.transfers.filter((t) => t.status === "unknown");
  if (unknown.length > 0) {
    for (const t of unknown) requestTransferLookup(d, t);
    return d.done();
  }
  // A transfer landed late and could not be booked: another would pay the seller twice. A
  // person reconciles it first (its tickets); releasing again would do nothing, so it is refused.
  const late = unbookedTransfer(s);
  if (late !== undefined)
    return refuse(
      "transfer_landed_late",
      `transfer ${late.transferId} (attempt ${late.number}) landed late and is not booked: reconcile it with the seller first`,
    );
  return resumeRelease(d);
}

function requestTransferLookup(d: Draft, t: TransferAttempt): void {
  const lookup = (t.lookups ?? 0) + 1;
  d.updateTransfer(t.number, { lookups: lookup });
  d.effect({
    ...d.addressed(ids.transferLookup(d.state.id, t.number, lookup)),
    kind: "find_transfer",
    attempt: t.number,
    transferEffectId: t.effectId,
    transferGroup: d.state.transferGroup,
  });
}

function refundCommand(d: Draft, { amountMinor }: InputOf<"refund">): Step {
  const s = d.state;
  if (s.capturedAt === undefined) return refuse("payment_not_captured", `the payment is ${s.status}`);
  if (s.status === "refunding") return refuse("refund_in_flight", "everything left is being refunded");
  const left = refundableMinor(s);
  if (left === 0) return refuse("nothing_to_refund", "everything was refunded or taken back");
  if (transferInFlight(s)) return refuse("release_in_flight", "the seller's transfer is in flight");
  if (openDispute(s)) return refuse("payment_disputed", "the charge is disputed: Stripe cannot refund it");
  const lost = lostDispute(s);
  if (lost) return chargedBack(lost);
  if (unfinishedRefund(s)) return refuse("refund_in_flight", "a refund is unfinished");
  const amount = amountMinor ?? left;
  const step = currencyInfo(s.currency).amountStepMinor;
  if (!Number.isSafeInteger(amount) || amount <= 0 || amount > left || amount % step !== 0)
    return refuse(
      "invalid_refund_amount",
      `a refund is a whole multiple of ${step} in (0, ${left}] ${s.currency}`,
    );
  startRefund(d, amount, "admin");
  return d.done();
}

function retryRefund(d: Draft): Step {
  const s = d.state;
  const r = s.refunds.find((x) => x.status === "failed" || x.status === "reversal_failed");
  if (!r) return refuse("no_failed_refund", "no refund failed");
  if (openDispute(s)) return refuse("payment_disputed", "the charge is disputed: Stripe cannot refund it");
  const lost = lostDispute(s);
  // A refund that never reached the customer on a charge charged back (stored so by the code
  // before owed refunds, which asked Stripe for the rest of a partial loss): Stripe would
  // refuse it again, so the admin's retry owes it outside Stripe instead.
  if (lost && !r.ledgerPosted) return oweRefused(d, r, { kind: "dispute_lost", disputeId: lost.id });
  if (lost) return chargedBack(lost);
  // A reversal is asked for again for what the failed one asked (less than the seller's part
  // when the platform held the rest already).
  const failed = s.reversals.filter((rv) => rv.forRefund === r.number).at(-1);
  if (r.status === "reversal_failed") requestReversalFor(d, r, failed?.amountMinor ?? r.sellerPartMinor);
  else requestRefundAttempt(d, r);
  return d.done();
}

/**
 * Asks again for the reversal of each lost dispute's seller part, and of each owed refund's
 * (see `oweOutsideStripe`), whose latest reversal failed (a refund's failed reversal is
 * otherwise retried with its refund, by `retry_refund`): the seller still owes it, and the
 * ledger counts it against them until it lands.
 */
function retryReversal(d: Draft): Step {
  const s = d.state;
  const latestFailed = s.disputes.flatMap((x) => {
    const latest = s.reversals.filter((rv) => rv.forDisputeId === x.id).at(-1);
    return latest?.status === "failed" ? [{ dispute: x, reversal: latest }] : [];
  });
  const owedFailed = s.refunds.flatMap((r) => {
    if (r.status !== "owed_outside_stripe") return [];
    const latest = s.reversals.filter((rv) => rv.forRefund === r.number).at(-1);
    return latest?.status === "failed" ? [{ refund: r, reversal: latest }] : [];
  });
  if (latestFailed.length === 0 && owedFailed.length === 0)
    return refuse("no_failed_reversal", "no reversal of a lost dispute or an owed refund failed");
  for (const { dispute, reversal } of latestFailed) {
    const reversalNumber = requestReversal(d, reversal.amountMinor, "dispute_lost", {
      forDisputeId: dispute.id,
    });
    d.updateDispute(dispute.id, { reversalNumber });
  }
  for (const { refund, reversal } of owedFailed) {
    const reversalNumber = requestReversal(d, reversal.amountMinor, "refund", { forRefund: refund.number });
    d.updateRefund(refund.number, { reversalNumber });
  }
  return d.done();
}

// ---------------------------------------------------------------- refunds

/**
 * Gives `amountMinor` back to the customer. Its split between the seller's share and the
 * fee is fixed now, on the running total of what was given back. After the release the
 * seller's part is reversed first — but for `coveredMinor`, what the platform holds already
 * (reversed for a refund a lost dispute superseded) — and the refund follows when the
 * reversal lands.
 */
function startRefund(d: Draft, amountMinor: number, reason: HeldRefund["reason"], coveredMinor = 0): void {
  const s = d.state;
  const full = amountMinor === refundableMinor(s);
  const refund: HeldRefund = {
    number: s.refunds.length + 1,
    amountMinor,
    ...partsRecord(splitNow(s, amountMinor)),
    stage: stageOf(s),
    reason,
    full,
    status: "requested",
    attempts: 0,
    ledgerPosted: false,
  };
  d.set({ refunds: [...s.refunds, refund] });
  if (full) d.moveTo("refunding");
  const toReverseMinor = refund.sellerPartMinor - coveredMinor;
  if (refund.stage === "transferred" && toReverseMinor > 0) requestReversalFor(d, refund, toReverseMinor);
  else requestRefundAttempt(d, refund);
  d.notify(ids.notice.refundStarted(s.id, refund.number), "customer", "refund_started", {
    amountMinor,
    reason,
  });
}

function requestReversal(
  d: Draft,
  amountMinor: number,
  reason: TransferReversal["reason"],
  forWhat: Pick<TransferReversal, "forRefund" | "forDisputeId">,
): number {
  const s = d.state;
  const transfer = createdTransfer(s);
  if (!transfer?.transferId) throw new Error(`held payment ${s.id}: a reversal needs a created transfer`);
  const number = s.reversals.length + 1;
  const effectId = ids.reversal(s.id, number);
  d.set({
    reversals: [...s.reversals, { number, effectId, amountMinor, reason, status: "requested", ...forWhat }],
  });
  d.effect({
    ...d.addressed(effectId),
    kind: "reverse_transfer",
    reversal: number,
    transferId: transfer.transferId,
    amountMinor,
    currency: s.currency,
    reason,
  });
  return number;
}

function requestReversalFor(d: Draft, r: HeldRefund, amountMinor: number): void {
  const reversalNumber = requestReversal(d, amountMinor, "refund", { forRefund: r.number });
  d.updateRefund(r.number, { status: "reversing", reversalNumber });
}

function requestRefundAttempt(d: Draft, r: HeldRefund): void {
  const s = d.state;
  const current = s.refunds.find((x) => x.number === r.number) ?? r;
  const attempt = current.attempts + 1;
  if (!s.paymentIntentId)
    throw new Error(`held payment ${s.id}: a refund needs the PaymentIntent it refunds`);
  const { failureCode: _cleared, lookups: _restarted, ...rest } = current;
  d.set({
    refunds: s.refunds.map((x) =>
      x.number === r.number ? { ...rest, status: "requested", attempts: attempt } : x,
    ),
  });
  d.effect({
    ...d.addressed(ids.refund(s.id, r.number, attempt)),
    kind: "refund",
    refund: r.number,
    attempt,
    paymentIntentId: s.paymentIntentId,
    amountMinor: r.amountMinor,
    currency: s.currency,
    reason: r.reason,
  });
  d.timer({ kind: "refund_overdue", refund: r.number, attempt }, d.now + REFUND_OUTCOME_OVERDUE_MS);
}

function refundSucceeded(d: Draft, { refund, attempt, refundId }: InputOf<"refund_succeeded">): Step {
  const s = d.state;
  const r = s.refunds.find((x) => x.number === refund);
  if (!r || attempt < 1 || attempt > r.attempts)
    return ignore(s, "no_such_refund", `no attempt ${attempt} of refund ${refund}`);
  // Stripe's refunds go from pending to succeeded, and rarely on to failed; never back.
  // A success that is not the latest attempt's, or that comes after a failure, is stale.
  if (r.status !== "requested" || attempt !== r.attempts)
    return ignore(s, "refund_already_settled", `refund ${refund} is ${r.status}`);
  d.updateRefund(refund, { status: "succeeded", refundId, ledgerPosted: true });
  if (!r.ledgerPosted)
    d.post(
      heldRefunded({
        // After a success Stripe failed (its posting undone), the new one is the attempt's.
        id:
          (r.failedAfterSuccess ?? 0) > 0
            ? ids.ledger.refundedAgain(ids.refund(s.id, refund, attempt))
            : ids.ledger.refunded(s.id, refund),
        heldPaymentId: s.id,
        from: takenBackFrom(
          s,
          r.stage,
          r.amountMinor,
          r.sellerPartMinor,
          r.feePartMinor,
          r.platformFundedMinor,
        ),
        occurredAt: d.now,
        refs: { refundId },
      }),
    );
  if (d.state.status === "refunding" && refundableMinor(d.state) === 0 && !unfinishedRefund(d.state)) {
    d.moveTo("refunded", { endedAt: d.now });
    return d.done();
  }
  return unfreeze(d);
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
  // back on the platform's balance. Its posting is undone, so the books no longer say the
  // customer has it, and the refund waits like one that failed at once: asked again by the
  // admins' retry, or owed outside Stripe when Stripe cannot take it (a lost dispute). A
  // reversal of the seller's part that landed for it stays landed: that money is with the
  // platform too. (A payment stored before this kept such a posting: ledgerPosted stays.)
  const undo = after && r.ledgerPosted;
  d.updateRefund(refund, {
    status: "failed",
    failureCode,
    ...(undo ? { ledgerPosted: false, failedAfterSuccess: (r.failedAfterSuccess ?? 0) + 1 } : {}),
  });
  // A payment refunded in full no longer is: the customer does not have this refund's money.
  // It is `refunding` again until the refund ends (a retry lands, or it is owed outside Stripe).
  if (undo && s.status === "refunded") d.moveTo("refunding");
  if (undo)
    d.post(
      heldRefundFailed({
        id: ids.ledger.refundFailed(ids.refund(s.id, refund, attempt)),
        heldPaymentId: s.id,
        from: takenBackFrom(
          s,
          r.stage,
          r.amountMinor,
          r.sellerPartMinor,
          r.feePartMinor,
          r.platformFundedMinor,
        ),
        occurredAt: d.now,
        ...(r.refundId !== undefined ? { refs: { refundId: r.refundId } } : {}),
      }),
    );
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
  const data = { refund, attempt, amountMinor: r.amountMinor, failureCode };
  d.ticket(
    after
      ? ids.ticket.refundFailedAfterSuccess(s.id, refund, attempt)
      : ids.ticket.refundFailed(s.id, refund, attempt),
    "refund_failed",
    `refund ${refund} of ${r.amountMinor} ${s.currency} to ${s.customer.email} failed (${failureCode})${
      !after
        ? ""
        : undo
          ? " after Stripe had reported it succeeded; the money is back on the platform's balance and the ledger no longer shows it refunded"
          : " after Stripe had reported it succeeded; the ledger still shows it refunded (stored before such failures were undone)"
    }; retry it once the cause is fixed`,
  );
  d.notify(
    after
      ? ids.notice.refundFailedAfterSuccess(s.id, refund, attempt)
      : ids.notice.refundFailed(s.id, refund, attempt),
    "platform_admins",
    "refund_failed",
    data,
  );
  return d.done();
}

/** The held payment's names for its refund look-ups (kernel/refund-lookups.ts does the rest). */
const refundLookupRules: RefundLookupRules<Draft> = {
  askStripe: (d, refund, attempt, lookup) => {
    const s = d.state;
    if (!s.paymentIntentId)
      throw new Error(`held payment ${s.id}: a refund needs the PaymentIntent it refunds`);
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
  whose: (d) => `to ${d.state.customer.email}`,
  lossWaitNote: "not booked, the payment stays frozen",
  blockedNote: "the payment cannot release or refund again until it ends",
};

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

// ---------------------------------------------------------------- reversals

function transferReversed(d: Draft, { reversal, transferId }: InputOf<"transfer_reversed">): Step {
  const s = d.state;
  const rv = s.reversals.find((x) => x.number === reversal);
  if (!rv) return ignore(s, "no_such_reversal", `no reversal ${reversal} (of ${transferId})`);
  if (rv.status !== "requested")
    return ignore(s, "reversal_already_settled", `reversal ${reversal} is ${rv.status}`);
  d.updateReversal(reversal, { status: "reversed" });
  d.postAmount(heldTransferReversed, ids.ledger.transferReversed(rv.effectId), rv.amountMinor);
  const r = rv.forRefund === undefined ? undefined : d.state.refunds.find((x) => x.number === rv.forRefund);
  if (r?.status !== "reversing") return d.done();
  // A refund of the rest of a partial loss that the code before owed refunds reversed first:
  // Stripe would refuse it, so it is owed outside Stripe now that the seller's part is back.
  const lost = lostDispute(d.state);
  if (lost) return oweRefused(d, r, { kind: "dispute_lost", disputeId: lost.id });
  requestRefundAttempt(d, r);
  return d.done();
}

function reversalFailed(d: Draft, { reversal, failureCode }: InputOf<"transfer_reversal_failed">): Step {
  const s = d.state;
  const rv = s.reversals.find((x) => x.number === reversal);
  if (!rv) return ignore(s, "no_such_reversal", `no reversal ${reversal}`);
  if (rv.status !== "requested")
    return ignore(s, "reversal_already_settled", `reversal ${reversal} is ${rv.status}`);
  d.updateReversal(reversal, { status: "failed", failureCode });
  const owed = s.refunds.find((r) => r.number === rv.forRefund && r.status === "owed_outside_stripe");
  // An owed refund stays owed: only its seller part is still to come back.
  if (rv.forRefund !== undefined && !owed)
    d.updateRefund(rv.forRefund, { status: "reversal_failed", failureCode });
  if (rv.forRefund !== undefined && supersededByWaitingLoss(d, rv.forRefund)) return d.done();
  const what = owed
    ? `the seller still owes ${rv.amountMinor} ${s.currency} of refund ${rv.forRefund}, owed to the customer outside Stripe (retry the reversal once their balance covers it)`
    : rv.reason === "refund"
      ? `the refund ${rv.forRefund} waits (retry it once the seller's balance covers the reversal)`
      : `the seller still owes ${rv.amountMinor} ${s.currency} of lost dispute ${rv.forDisputeId} (retry the reversal once their balance covers it)`;
  d.ticket(
    ids.ticket.reversalFailed(s.id, reversal),
    "reversal_failed",
    `reversal ${reversal} of ${rv.amountMinor} ${s.currency} from seller ${s.seller.id} failed (${failureCode}); ${what}`,
  );
  d.notify(ids.notice.reversalFailed(s.id, reversal), "platform_admins", "reversal_failed", {
    reversal,
    amountMinor: rv.amountMinor,
    failureCode,
  });
  return d.done();
}

// ---------------------------------------------------------------- the release

/**
 * Releases the seller's share if it is due and nothing stands in the way: the payment is
 * held, the booking fulfilled and its window over, no admin hold, no open dispute, no
 * unfinished refund. A seller who cannot receive blocks it. Otherwise nothing happens.
 */
function releaseIfDue(d: Draft): Step {
  const s = d.state;
  const due =
    s.status === "held" &&
    s.fulfilment === "confirmed" &&
    s.releaseDueAt !== undefined &&
    d.now >= s.releaseDueAt &&
    s.adminHold === undefined &&
    !openDispute(s) &&
    !unfinishedRefund(s);
  if (!due) return d.done();
  return startRelease(d);
}

function startRelease(d: Draft): Step {
  // The seller was paid (and it is booked): nothing more to transfer.
  if (createdTransfer(d.state) !== undefined) return d.done();
  // A transfer that landed late and could not be booked (see `transferCreated`) paid the seller:
  // another would pay them twice. The release is blocked until a person sorts it out.
  if (unbookedTransfer(d.state) !== undefined) return blockOnLateTransfer(d);
  if (!d.state.sellerCanReceive) return block(d, "the seller's account cannot receive transfers");
  const s = d.state;
  if (!s.releaseStarted) {
    // Fee and seller's share leave the hold together: it is zero once the release starts.
    d.postAmount(heldFeeEarned, ids.ledger.feeEarned(s.id), feeNetMinor(s));
    d.postAmount(heldSellerPayable, ids.ledger.sellerPayable(s.id), sellerNetMinor(s));
    d.set({ releaseStarted: true });
  }
  return newTransferAttempt(d);
}

function resumeRelease(d: Draft): Step {
  d.set({ transferFailures: 0 });
  return startRelease(d);
}

function newTransferAttempt(d: Draft): Step {
  const s = d.state;
  const amountMinor = sellerNetMinor(s);
  if (amountMinor === 0) {
    // Refunds took all of the seller's share: nothing to transfer, the release is done.
    d.moveTo("released", { endedAt: d.now });
    return d.done();
  }
  if (!s.chargeId) throw new Error(`held payment ${s.id}: a release needs the charge it is funded by`);
  const number = s.transfers.length + 1;
  const effectId = ids.transfer(s.id, number);
  d.set({
    transfers: [...s.transfers, { number, effectId, amountMinor, status: "requested", requestedAt: d.now }],
  });
  d.effect({
    ...d.addressed(effectId),
    kind: "transfer",
    attempt: number,
    sellerId: s.seller.id,
    destinationAccountId: s.seller.connectedAccountId,
    sourceChargeId: s.chargeId,
    amountMinor,
    currency: s.currency,
    transferGroup: s.transferGroup,
  });
  d.moveTo("releasing");
  return d.done();
}

/**
 * The release cannot go: tell the seller (unless `tellSeller` is false: nothing for them to
 * do) and the admins, once per block (keyed by the version).
 */
function block(
  d: Draft,
  reason: string,
  kind: ReleaseBlockKind = "seller_cannot_receive",
  ticket?: { id: string; reason: HeldPaymentTicketReason; summary: string },
  tellSeller = true,
): Step {
  const s = d.state;
  d.moveTo("release_blocked", { blockedReason: reason, blockKind: kind });
  const t = ticket ?? {
    id: ids.ticket.releaseBlocked(s.id, s.version),
    reason: "release_blocked" as const,
    summary: `the release of held payment ${s.id} to seller ${s.seller.id} is blocked: ${reason}`,
  };
  d.ticket(t.id, t.reason, t.summary);
  if (tellSeller)
    d.notify(ids.notice.releaseBlocked(s.id, "seller", s.version), "seller", "release_blocked", { reason });
  d.notify(ids.notice.releaseBlocked(s.id, "admins", s.version), "platform_admins", "release_blocked", {
    reason,
  });
  return d.done();
}

/**
 * Whether a late transfer (an attempt susu had given up on, or not the latest) can be booked as
 * the seller's one payment: no other attempt paid them, the release is where a landing moves it
 * from, and it moved what a transfer still in flight would have: the share net of everything
 * given back, but of the losses still to book (booked after it, from the transfer, as they would
 * be had it landed in time) — and net of the refunds those losses superseded. Every attempt is
 * asked with every loss booked, so such a loss closed after the attempt was asked, and the
 * refunds it superseded counted then: the transfer was made net of them, as the loss's booking
 * takes it ({@link heldBackForSupersededMinor}). Anything else given back or lost since it was
 * asked (the books moved on as if it had not landed): a person sorts it out.
 */
function lateTransferBookable(s: HeldPayment, t: TransferAttempt): boolean {
  const waiting = new Set(
    s.disputes.filter((x) => x.status === "lost" && x.lossBooked !== true).map((x) => x.id),
  );
  const waitingSellerMinor = s.disputes
    .filter((x) => waiting.has(x.id))
    .reduce((sum, x) => sum + (x.sellerPartMinor ?? 0), 0);
  const supersededSellerMinor = s.refunds
    .filter((r) => r.supersededBy !== undefined && waiting.has(r.supersededBy))
    .reduce((sum, r) => sum + r.sellerPartMinor, 0);
  return (
    createdTransfer(s) === undefined &&
    (s.status === "releasing" || s.status === "release_blocked") &&
    t.amountMinor === sellerNetMinor(s) + waitingSellerMinor - supersededSellerMinor
  );
}

/**
 * A transfer landed late and could not be booked, and no other attempt will pay the seller
 * (none in flight, none booked): the release cannot go on — another transfer could pay them
 * twice — so it is blocked (`late_transfer_unbooked`) with its own ticket, and the seller and
 * the admins are told. Only a person lifts it (README "What does not work yet").
 */
function blockOnLateTransfer(d: Draft): Step {
  const s = d.state;
  const late = unbookedTransfer(s);
  if (late === undefined || (s.status === "release_blocked" && s.blockKind === "late_transfer_unbooked"))
    return d.done();
  const transferId = late.transferId ?? late.effectId;
  const reason = `transfer ${transferId} (attempt ${late.number}) landed late and could not be booked`;
  return block(
    d,
    reason,
    "late_transfer_unbooked",
    {
      id: ids.ticket.lateTransferUnbooked(s.id, transferId),
      reason: "release_blocked",
      summary: `the release of held payment ${s.id} to seller ${s.seller.id} is blocked: ${reason} (${formatMoney(money(late.amountMinor, s.currency))}, not in the books), and no other attempt will pay the seller; ${formatMoney(money(sellerNetMinor(s), s.currency))} is still set aside for them. Reconcile with the seller by hand: no command releases it`,
    },
    false,
  );
}

/** Whether a late transfer that could not be booked leaves the release with nothing to pay the seller: then it blocks. */
function lateTransferStopsRelease(s: HeldPayment): boolean {
  return (
    unbookedTransfer(s) !== undefined &&
    createdTransfer(s) === undefined &&
    transferInFlight(s) === undefined &&
    (s.status === "releasing" || s.status === "release_blocked")
  );
}

function transferCreated(d: Draft, { attempt, transferId }: InputOf<"transfer_created">): Step {
  const s = d.state;
  const t = s.transfers.find((x) => x.number === attempt);
  if (!t) return ignore(s, "no_such_transfer", `no transfer attempt ${attempt}`);
  if (t.status === "created")
    return ignore(s, "transfer_already_created", `attempt ${attempt} already created`);
  const latest = s.transfers[s.transfers.length - 1];
  // The latest attempt, still in flight, with none booked: the seller's payment, booked below —
  // also when an earlier attempt landed late and could not be booked (that one stays the
  // flagged extra, with its ticket).
  if (t.status === "failed" || latest !== t || createdTransfer(s) !== undefined) {
    // An attempt susu had given up on paid the seller after all: never ignore money.
    const bookable = lateTransferBookable(s, t);
    d.updateTransfer(attempt, { status: "created", transferId, ...(bookable ? {} : { unbooked: true }) });
    const amount = formatMoney(money(t.amountMinor, s.currency));
    d.ticket(
      ids.ticket.lateTransfer(s.id, transferId),
      "unexpected_money",
      `transfer ${transferId} (attempt ${attempt}, ${amount}) to seller ${s.seller.id} was created after susu recorded it as ${t.status}; ${
        bookable
          ? "it is booked as the seller's payment; check the seller was not paid twice"
          : "it could not be booked (the seller was paid twice, or the books moved on since it was asked): the books do not show this money paid to the seller; recover it from the seller or reconcile it by hand"
      }`,
    );
    d.notify(ids.notice.lateTransfer(s.id, transferId), "platform_admins", "unexpected_money", {
      transferId,
      attempt,
      amountMinor: t.amountMinor,
      booked: bookable ? "yes" : "no",
    });
    // Paid twice, or for other than what is set aside for them now: the ticket asks a person
    // to check, the books keep what they had. No other attempt is asked for (startRelease): an
    // attempt still in flight may still land and be booked; with none, the release blocks.
    if (!bookable) return lateTransferStopsRelease(d.state) ? blockOnLateTransfer(d) : d.done();
    // Their one payment (a look-up missed it, so it was written off): booked as any landed
    // transfer is, below. Any other attempt still in flight is written off in turn: should it
    // land too, its success is late and flagged, never booked. One of unknown outcome may have
    // landed already: it is looked up once, so that a second payment is heard (late, flagged,
    // with its ticket) even should its webhook never come; not found, it stays written off
    // (`transferNotFound` ignores an attempt no longer unknown).
    writeOffOtherAttempts(d.state.transfers, {
      writeOff: (other, patch) => d.updateTransfer(other.number, patch),
      lookUp: (other) => requestTransferLookup(d, other),
    });
  } else d.updateTransfer(attempt, { status: "created", transferId });
  d.set({ transferFailures: 0 });
  // An admin's hold, put on while the transfer's outcome was unknown (or after it was written
  // off), could not stop it: the money reached the seller, and a released payment has nothing
  // left to hold. It is lifted with the release (the audit log keeps who held it and why).
  if (d.state.adminHold !== undefined) {
    const { adminHold: _moot, ...unheld } = d.state;
    d.state = unheld;
  }
  d.postAmount(heldTransferred, ids.ledger.transferred(t.effectId), t.amountMinor);
  d.moveTo("released", { endedAt: d.now });
  d.notify(ids.notice.payoutSent(s.id), "seller", "payout_sent", { amountMinor: t.amountMinor, transferId });
  return bookPendingLosses(d);
}

function transferFailed(d: Draft, input: InputOf<"transfer_failed">): Step {
  const { attempt, failureCode } = input;
  const s = d.state;
  const t = s.transfers.find((x) => x.number === attempt);
  if (!t) return ignore(s, "no_such_transfer", `no transfer attempt ${attempt}`);
  // Written off while still asked for (another attempt landed late and was booked), its answer
  // says it may have landed after all: looked up once, as one of unknown outcome is when
  // written off — a second payment is heard even should its webhook never come.
  if (mayHaveLandedAfterWriteOff(t, failureCode)) {
    requestTransferLookup(d, t);
    return d.done();
  }
  if (t.status !== "requested" && t.status !== "unknown")
    return ignore(s, "transfer_not_pending", `attempt ${attempt} is ${t.status}`);
  if (t.status === "unknown") {
    // The same uncertain answer again says nothing new; a definite failure says no money
    // moved (the block stays for a person to release).
    if (classifyFailure("transfer", failureCode) === "outcome_unknown")
      return ignore(s, "transfer_not_pending", `attempt ${attempt}'s outcome is still unknown`);
    d.updateTransfer(attempt, {
      status: "failed",
      failureCode,
      failureMessage: input.failureMessage ?? failureCode,
    });
    if (lateTransferStopsRelease(d.state)) blockOnLateTransfer(d);
    return bookPendingLosses(d);
  }
  const failureMessage = input.failureMessage ?? failureCode;
  d.updateTransfer(attempt, { status: "failed", failureCode, failureMessage });
  const failures = s.transferFailures + 1;
  d.set({ transferFailures: failures });
  const failureClass = classifyFailure("transfer", failureCode);
  if (failureClass === "outcome_unknown") {
    // Stripe may have made it: another attempt under a new key could pay twice. A person checks.
    d.updateTransfer(attempt, { status: "unknown" });
    block(
      d,
      `whether transfer attempt ${attempt} moved money is unknown (${failureCode})`,
      "transfer_outcome_unknown",
      {
        id: ids.ticket.transferOutcomeUnknown(s.id, attempt),
        reason: "transfer_outcome_unknown",
        summary: `transfer attempt ${attempt} (${t.effectId}) of held payment ${s.id} failed with ${failureCode}: check Stripe before releasing again`,
      },
    );
    return bookPendingLosses(d);
  }
  // A transfer landed late and could not be booked: no other attempt may be asked (it could pay
  // the seller twice), so a retry would do nothing — the release blocks now instead.
  if (lateTransferStopsRelease(d.state)) {
    blockOnLateTransfer(d);
    return bookPendingLosses(d);
  }
  const decision = retryOrPark(
    {
      itemId: t.effectId,
      attempts: failures - 1,
      failure: { code: failureCode, message: failureMessage, retryable: failureClass === "retryable" },
      ticket: {
        id: ids.ticket.transferParked(s.id, attempt),
        reason: "effect_parked",
        subject: `release transfer ${t.effectId}`,
      },
    },
    { policy: d.ctx.policy.transferRetry, now: d.now },
  );
  if (decision.action === "retry") {
    d.timer({ kind: "retry_transfer", attempt: attempt + 1 }, decision.at);
    return bookPendingLosses(d);
  }
  block(d, `the transfer was parked: ${decision.note}`, "transfer_parked", {
    id: decision.ticket.id,
    reason: "transfer_parked",
    summary: decision.ticket.summary,
  });
  return bookPendingLosses(d);
}

/**
 * An admin's look-up found no transfer made by an attempt of unknown outcome: it moved no
 * money, so it is written off, and the release the admin asked for goes on once nothing
 * else is in its way (another attempt still being looked up, a hold, a dispute). An attempt
 * written off already (another landed late and was booked, which looked it up once) is
 * ignored: it stays written off, and nothing is retried or released again.
 */
function transferNotFound(d: Draft, { attempt }: InputOf<"transfer_not_found">): Step {
  const s = d.state;
  const t = s.transfers.find((x) => x.number === attempt);
  if (!t) return ignore(s, "no_such_transfer", `no transfer attempt ${attempt}`);
  if (t.status !== "unknown" || (t.lookups ?? 0) === 0)
    return ignore(s, "transfer_not_pending", `attempt ${attempt} is ${t.status}, not being looked up`);
  d.updateTransfer(attempt, { status: "failed", failureCode: t.failureCode ?? "unknown" });
  if (lateTransferStopsRelease(d.state)) blockOnLateTransfer(d);
  // No transfer in flight any more: a loss that waited for this outcome is booked from what was
  // set aside before the release goes on, so the next attempt is net of it (and a loss that
  // took everything ends the payment).
  if (!transferInFlight(d.state)) {
    postPendingLosses(d);
    if (chargedBackIfNothingLeft(d)) return d.done();
  }
  const after = d.state;
  if (
    after.status === "release_blocked" &&
    after.blockKind === "transfer_outcome_unknown" &&
    nothingInTheWay(after)
  )
    return resumeRelease(d);
  return bookPendingLosses(d);
}

// ---------------------------------------------------------------- timers

function onTimer(d: Draft, timer: HeldPaymentTimer): Step {
  const s = d.state;
  switch (timer.kind) {
    case "checkout_expired":
      return checkoutBackstop(d);
    case "checkout_recheck":
      return checkoutRecheck(d, timer.ask);
    case "release_due":
      if (s.status !== "held" || s.fulfilment !== "confirmed")
        return ignore(s, "timer_no_longer_due", `the payment is ${s.status}`);
      if (openDispute(s)) return ignore(s, "release_frozen", `dispute ${openDispute(s)?.id} is open`);
      if (s.adminHold)
        return ignore(s, "release_on_hold", `held by ${s.adminHold.by}: ${s.adminHold.reason}`);
      if (unfinishedRefund(s)) return ignore(s, "refund_in_flight", "a refund is unfinished");
      // The scheduler's word that the window is over stands, whatever the clocks say.
      return startRelease(d);
    case "refund_overdue":
      return refundOverdue(d, refundLookupRules, timer.refund, timer.attempt, timer.lookup ?? 1);
    case "retry_transfer": {
      const last = s.transfers[s.transfers.length - 1];
      if (s.status !== "releasing" || last?.status !== "failed" || timer.attempt !== s.transfers.length + 1)
        return ignore(s, "timer_no_longer_due", `transfer attempt ${timer.attempt} is no longer due`);
      const dispute = openDispute(s);
      // A dispute opened while the failed transfer was in flight: the retry waits for it to close.
      if (dispute) {
        d.moveTo("release_blocked", {
          blockedReason: `frozen by dispute ${dispute.id}`,
          blockKind: "frozen",
        });
        return d.done();
      }
      return startRelease(d);
    }
  }
}

// ---------------------------------------------------------------- the seller's account

function sellerReady(d: Draft): Step {
  const s = d.state;
  const unblocks =
    s.status === "release_blocked" &&
    (s.blockKind === "seller_cannot_receive" || s.blockKind === "transfer_parked") &&
    nothingInTheWay({ ...s, sellerCanReceive: true });
  if (s.sellerCanReceive && !unblocks)
    return ignore(s, "readiness_unchanged", "the seller could already receive");
  d.set({ sellerCanReceive: true });
  return unblocks ? resumeRelease(d) : d.done();
}

function sellerNotReady(d: Draft, _input: InputOf<"seller_account_not_ready">): Step {
  if (!d.state.sellerCanReceive)
    return ignore(d.state, "readiness_unchanged", "the seller already could not receive");
  d.set({ sellerCanReceive: false });
  return d.done();
}

// ---------------------------------------------------------------- disputes

/** The held payment's answers to disputes (kernel/disputes.ts does the rest): the seller and the admins are told, a release waiting to retry its transfer freezes, a loss divides like a refund. */
const disputeRules: DisputeRules<Draft, Step> = {
  noun: "payment",
  ticket: (d, dispute, due) => ({
    id: ids.ticket.dispute(d.state.id, dispute.id),
    summary: `the charge of held payment ${d.state.id} is disputed (${dispute.id}, ${dispute.reason})${
      due !== undefined ? `; evidence due by ${due}` : ""
    }; the release is frozen until it closes`,
  }),
  tell: (d, template, disputeId, data) => {
    const notice = template === "dispute_opened" ? ids.notice.disputeOpened : ids.notice.disputeClosed;
    d.notify(notice(d.state.id, "seller", disputeId), "seller", template, data);
    d.notify(notice(d.state.id, "admins", disputeId), "platform_admins", template, data);
  },
  opened: (d, dispute) => {
    // A release waiting to retry its transfer is frozen too.
    if (d.state.status === "releasing" && !transferInFlight(d.state))
      d.moveTo("release_blocked", { blockedReason: `frozen by dispute ${dispute.id}`, blockKind: "frozen" });
  },
  beforeLoss: (d, disputeId) => {
    const next = supersedeUnmovedRefunds(d.state, disputeId);
    if (next !== d.state) d.set({ refunds: next.refunds });
  },
  // A refund at Stripe, or reversing the seller's part first: whether it reaches the customer is not known yet.
  lossWaits: (d) => d.state.refunds.some((r) => r.status === "requested" || r.status === "reversing"),
  refundableMinor: (d) => refundableMinor(d.state),
  owedLeftMinor: (d) => owedLeftMinor(paymentOwed(d.state)),
  owedPaidMinor: (d) => owedPaidNotTakenMinor(d.state),
  lossParts: (d, lostMinor, disputeId) =>
    partsRecord(
      offStepFromHeldBack(
        d.state,
        splitNow(d.state, lostMinor),
        lostMinor,
        heldBackForSupersededMinor(d.state, disputeId),
      ),
    ),
  // The notice says what the closure did to the release, read from the state after it.
  won: (d, tellClosed) => {
    const before = d.state;
    return unfreeze(d).andThen(() => {
      tellClosed(releaseAfterWon(before, d.state));
      return d.done();
    });
  },
  lost: (d, disputeId) => {
    settleOwedAfterLoss(d, disputeId, owedLossRules);
    // With the transfer in flight, where the rest's money is taken from is not known yet.
    if (transferInFlight(d.state)) d.updateDispute(disputeId, { owedRestWaits: true });
    else {
      moveSupersededMoney(d, disputeId);
      oweWhatTheLossLeft(d, disputeId);
    }
    return bookPendingLosses(d);
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
      customer: s.customer.name === undefined ? s.customer.email : `${s.customer.name} <${s.customer.email}>`,
      what: `held payment ${s.id}, booking ${s.clientReference}`,
      succeededRefunds: s.refunds.filter((r) => r.status === "succeeded").map((r) => r.number),
      recordAt: `/v1/held-payments/${s.id}/owed-recoveries`,
    };
  },
  postTakenFromOwed: (d, disputeId, refundNumber, takenMinor) =>
    d.post(
      heldDisputeLost({
        id: ids.ledger.disputeLostFromOwed(d.state.id, disputeId, refundNumber),
        heldPaymentId: d.state.id,
        from: { stage: "holding", amount: money(0, d.state.currency) },
        fromOwed: money(takenMinor, d.state.currency),
        occurredAt: d.now,
        refs: { disputeId },
      }),
    ),
};

const STAGE_ORDER: readonly HeldRefund["stage"][] = ["holding", "earmarked", "transferred"];

/**
 * The refunds the dispute `disputeId` superseded that were asked before the release went as
 * far as it has now kept their money where their stage left it: the release set aside and
 * transferred the seller's share net of them, and earned the fee net of them. Now that they
 * count nowhere, their money moves to where the loss (and what is owed beyond it) takes money
 * from at the payment's stage (`held_refund_superseded`): after the transfer, their seller's
 * parts are held back in the hold, their fee parts in the fees. Not while a transfer is in
 * flight (where the money goes depends on its outcome): the loss's booking does it then.
 */
function moveSupersededMoney(d: Draft, disputeId: string): void {
  if (transferInFlight(d.state)) return;
  const to = stageOf(d.state);
  if (to === "holding") return;
  for (const r of d.state.refunds) {
    if (r.supersededBy !== disputeId) continue;
    const from = r.supersededMoneyAt ?? r.stage;
    if (from === "transferred" || STAGE_ORDER.indexOf(from) >= STAGE_ORDER.indexOf(to)) continue;
    d.updateRefund(r.number, { supersededMoneyAt: to });
    // After the transfer, the hold keeps the seller's part a holding refund left there, and
    // the fees the fee part an earmarked one left there: only the rest moves.
    const movingMinor =
      to === "earmarked" ? r.amountMinor : from === "holding" ? r.feePartMinor : r.sellerPartMinor;
    if (movingMinor === 0) continue;
    d.post(
      heldRefundSuperseded({
        id: ids.ledger.refundSuperseded(d.state.id, r.number, to),
        heldPaymentId: d.state.id,
        from,
        to,
        sellerPart: money(r.sellerPartMinor, d.state.currency),
        feePart: money(r.feePartMinor, d.state.currency),
        occurredAt: d.now,
        refs: { disputeId },
      }),
    );
  }
}

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
 * (`charge_disputed`), so it is not asked of Stripe: a new refund (a new number), for the same
 * reason, is owed outside Stripe at once (see {@link oweOutsideStripe}).
 */
function oweWhatTheLossLeft(d: Draft, disputeId: string): void {
  const s = d.state;
  const owed = owedAfterSupersededRefunds(s.refunds, s.disputes, disputeId, refundableMinor(s));
  if (owed === undefined) return;
  // What reversals for the superseded refunds brought back beyond the loss's seller part is
  // with the platform already: the rest's seller part is reversed only beyond it.
  const sellerPartMinor = s.disputes.find((x) => x.id === disputeId)?.sellerPartMinor ?? 0;
  const coveredMinor = Math.max(0, heldBackForSupersededMinor(s, disputeId) - sellerPartMinor);
  const refund: HeldRefund = {
    number: s.refunds.length + 1,
    amountMinor: owed.restMinor,
    ...partsRecord(offStepFromHeldBack(s, splitNow(s, owed.restMinor), owed.restMinor, coveredMinor)),
    stage: stageOf(s),
    reason: owed.last.reason,
    full: owed.restMinor === refundableMinor(s),
    status: "requested",
    attempts: 0,
    ledgerPosted: false,
  };
  d.set({ refunds: [...s.refunds, refund] });
  oweOutsideStripe(
    d,
    refund,
    { kind: "dispute_lost", disputeId },
    Math.max(0, refund.sellerPartMinor - coveredMinor),
  );
}

/**
 * Refund `r` never reached the customer and never can at Stripe (`cause`: the charge was
 * charged back by a lost dispute, or its card can no longer take money): it is owed to them
 * outside Stripe. Booked at once from where its
 * money is (`held_owed_to_customer`), so it counts as given back and nothing of it is released
 * to the seller; after the release its seller part (`toReverseMinor`, what the platform does
 * not hold yet) is reversed from the seller's transfer. The admins get a ticket and a notice
 * naming the amount, the currency and the customer to pay by other means.
 */
function oweOutsideStripe(d: Draft, r: HeldRefund, cause: OwedCause, toReverseMinor: number): void {
  const s = d.state;
  d.updateRefund(r.number, { status: "owed_outside_stripe", ledgerPosted: true });
  d.post(
    heldOwedToCustomer({
      id: ids.ledger.owedToCustomer(s.id, r.number),
      heldPaymentId: s.id,
      from: takenBackFrom(
        s,
        r.stage,
        r.amountMinor,
        r.sellerPartMinor,
        r.feePartMinor,
        r.platformFundedMinor,
      ),
      occurredAt: d.now,
      refs: owedCauseRefs(cause),
    }),
  );
  if (r.stage === "transferred" && toReverseMinor > 0) {
    const reversalNumber = requestReversal(d, toReverseMinor, "refund", { forRefund: r.number });
    d.updateRefund(r.number, { reversalNumber });
  }
  const amount = formatMoney(money(r.amountMinor, s.currency));
  const customer =
    s.customer.name === undefined ? s.customer.email : `${s.customer.name} <${s.customer.email}>`;
  d.ticket(
    ids.ticket.refundOwed(s.id, r.number),
    "refund_owed",
    `${amount} is owed to customer ${customer} (refund ${r.number} of held payment ${s.id}, booking ${s.clientReference}): ${owedCauseSummary(cause, s.chargeId)}; pay it by other means and record it (POST /v1/held-payments/${s.id}/owed-payments), which closes this ticket once nothing is left owed. It is booked in ${heldAccounts.owedToCustomer(s.id)} and is not released to the seller`,
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
 * card that can no longer take money): owed outside Stripe now (its seller part reversed after
 * the release unless a reversal for it landed), and the payment ends when nothing is left
 * (`charged_back` after a lost dispute, else `refunded` when it was refunding), or goes on as
 * a refund's end lets it.
 */
function oweRefused(d: Draft, r: HeldRefund, cause: OwedCause): Step {
  const landedMinor = d.state.reversals
    .filter((rv) => rv.forRefund === r.number && rv.status === "reversed")
    .reduce((sum, rv) => sum + rv.amountMinor, 0);
  oweOutsideStripe(d, r, cause, Math.max(0, r.sellerPartMinor - landedMinor));
  takeUncountedLossesFromOwed(d, r.number, owedLossRules);
  if (chargedBackIfNothingLeft(d)) return d.done();
  const s = d.state;
  if (
    cause.kind === "refund_unreachable" &&
    s.status === "refunding" &&
    refundableMinor(s) === 0 &&
    !unfinishedRefund(s) &&
    !transferInFlight(s)
  ) {
    d.moveTo("refunded", { endedAt: d.now });
    return d.done();
  }
  return unfreeze(d);
}

/**
 * Something that stopped the release is gone (a dispute closed, a refund finished): a
 * release the dispute froze goes on — or blocks on the seller's account, if that is what
 * now stands in its way — and a release that came due meanwhile starts. A release blocked
 * on the seller's account goes on too when the account was reported ready while the
 * dispute or the refund still stood in the way (that report could not resume it then, and
 * Stripe may not report the account again).
 */
function unfreeze(d: Draft): Step {
  const s = d.state;
  if (s.status !== "release_blocked") return releaseIfDue(d);
  const causeGone =
    s.blockKind === "frozen" || (s.blockKind === "seller_cannot_receive" && s.sellerCanReceive);
  if (!causeGone || openDispute(s)) return d.done();
  if (nothingInTheWay(s)) return resumeRelease(d);
  if (!s.sellerCanReceive) return block(d, "the seller's account cannot receive transfers");
  return d.done();
}

/**
 * What a won dispute's closure did to the release, for its notice (`before`: the payment as
 * the closure found it; `after`: as it left it). `release`: `started` (the transfer is asked
 * for now), `under_way` (a transfer asked for before goes on), `due` (nothing is released now:
 * the release goes on `releaseDueAt`, as planned), `waits` (something else still holds it:
 * `waitsFor`), `done` (released before the dispute: nothing changes), `none` (nothing is left
 * to release: refunded, charged back, or refunds took the seller's whole share).
 */
function releaseAfterWon(before: HeldPayment, after: HeldPayment): Record<string, string> {
  if (after.transfers.length > before.transfers.length) return { release: "started" };
  switch (after.status) {
    case "releasing":
      return { release: "under_way" };
    case "released":
      return { release: before.status === "released" ? "done" : "none" };
    case "held":
    case "release_blocked": {
      const waitsFor = releaseWaitsFor(after);
      if (waitsFor !== undefined) return { release: "waits", waitsFor };
      return after.releaseDueAt === undefined
        ? { release: "waits", waitsFor: "fulfilment" }
        : { release: "due", releaseDueAt: isoString(after.releaseDueAt) };
    }
    default:
      return { release: "none" };
  }
}

/** What still holds a release back that has not started, first what blocks it; undefined: only its date. */
function releaseWaitsFor(s: HeldPayment): string | undefined {
  if (s.status === "release_blocked" && s.blockKind !== "frozen")
    return s.blockKind === "seller_cannot_receive" ? "seller_account" : "transfer";
  if (s.adminHold !== undefined) return "admin_hold";
  if (openDispute(s) !== undefined) return "dispute";
  if (unfinishedRefund(s) !== undefined) return "refund";
  if (transferInFlight(s) !== undefined) return "transfer";
  if (s.fulfilment !== "confirmed") return "fulfilment";
  if (!s.sellerCanReceive) return "seller_account";
  return undefined;
}

/**
 * Books the losses of lost disputes in the ledger — once no transfer is in flight, since
 * where the money is depends on whether it landed. After the release the seller's part is
 * booked against the seller and reversed from their transfer. What a loss closed while the
 * transfer was in flight left owed to the customer (`owedRestWaits`) is owed first, as it
 * would have been at its closure. A loss that took everything left ends the payment.
 */
function bookPendingLosses(d: Draft): Step {
  if (transferInFlight(d.state)) return d.done();
  const booked = postPendingLosses(d);
  // With nothing booked (a loss of nothing is booked when it closes), a payment it left nothing
  // to give back still ends (its refund superseded and owed outside Stripe).
  if (chargedBackIfNothingLeft(d) || !booked) return d.done();
  return unfreeze(d);
}

/**
 * The postings of {@link bookPendingLosses}, with no transfer in flight: the rests owed that
 * waited, then each lost dispute's loss not booked yet. Whether a loss was booked.
 */
function postPendingLosses(d: Draft): boolean {
  // The rests owed of losses closed while the transfer was in flight, now that its outcome is known.
  for (const x of d.state.disputes.filter((y) => y.owedRestWaits === true)) {
    // Its parts were divided with the transfer in flight: the part of a step given to the fee
    // comes out of the seller's held-back money instead if the transfer landed.
    const { owedRestWaits: _known, sellerPartMinor, feePartMinor, platformFundedMinor, ...rest } = x;
    const split = {
      sellerPartMinor: sellerPartMinor ?? 0,
      feePartMinor: feePartMinor ?? 0,
      platformFundedMinor: platformFundedMinor ?? 0,
    };
    const parts = offStepFromHeldBack(
      d.state,
      split,
      x.lostMinor ?? 0,
      heldBackForSupersededMinor(d.state, x.id),
    );
    const closed = { ...rest, ...partsRecord(parts) };
    d.set({ disputes: d.state.disputes.map((y) => (y.id === x.id ? closed : y)) });
    moveSupersededMoney(d, x.id);
    oweWhatTheLossLeft(d, x.id);
  }
  const pending = d.state.disputes.filter((x) => x.status === "lost" && !x.lossBooked);
  for (const x of pending) {
    moveSupersededMoney(d, x.id);
    const s = d.state;
    const stage = stageOf(s);
    const lost = x.lostMinor ?? 0;
    d.post(
      heldDisputeLost({
        id: ids.ledger.disputeLost(s.id, x.id),
        heldPaymentId: s.id,
        from: takenBackFrom(
          s,
          stage,
          lost,
          x.sellerPartMinor ?? 0,
          x.feePartMinor ?? 0,
          x.platformFundedMinor,
        ),
        ...((x.owedTakenMinor ?? 0) > 0 ? { fromOwed: money(x.owedTakenMinor ?? 0, s.currency) } : {}),
        ...((x.overpaidMinor ?? 0) > 0
          ? { fromOwedByCustomer: money(x.overpaidMinor ?? 0, s.currency) }
          : {}),
        occurredAt: d.now,
        refs: { disputeId: x.id },
      }),
    );
    d.updateDispute(x.id, { lossBooked: true });
    // What reversals for the refunds it superseded brought back is with the platform already.
    const toReverseMinor = lossReversalMinor(s, x.id, x.sellerPartMinor ?? 0);
    if (stage === "transferred" && toReverseMinor > 0) {
      const reversalNumber = requestReversal(d, toReverseMinor, "dispute_lost", {
        forDisputeId: x.id,
      });
      d.updateDispute(x.id, { reversalNumber });
    }
  }
  return pending.length > 0;
}

/**
 * Ends the payment `charged_back` when a lost dispute left nothing to give back, and no refund
 * is left to finish — also a payment being refunded: the refund that made it `refunding`
 * never reached the customer, the loss superseded it (and what it asked beyond the loss is
 * owed outside Stripe). Not while the seller's transfer is in flight: its outcome moves the
 * payment first (`released`), and the losses are booked then. Whether it moved.
 */
function chargedBackIfNothingLeft(d: Draft): boolean {
  const s = d.state;
  if (
    transferInFlight(s) !== undefined ||
    refundableMinor(s) !== 0 ||
    lostDispute(s) === undefined ||
    s.status === "refunded" ||
    s.status === "charged_back" ||
    (s.status === "refunding" && unfinishedRefund(s))
  )
    return false;
  d.moveTo("charged_back", { endedAt: d.now });
  return true;
}
