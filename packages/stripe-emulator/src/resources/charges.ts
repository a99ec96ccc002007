import type Stripe from "stripe";
import type { Engine } from "../core/engine.js";
import { asCharge, toSettlement } from "../core/fx.js";
import { newId, randomToken } from "../core/ids.js";
import { feeFor } from "../core/money.js";
import { MAIN_CLOCK } from "../core/scheduler.js";
import { stringKey } from "../core/store.js";
import { invalidRequest, resourceMissing, validationFailure } from "../http/errors.js";
import { REFUND_CREATE } from "../http/known-params.js";
import {
  applyMetadata,
  child,
  isParams,
  matchesRange,
  optBool,
  optEnum,
  optInt,
  optNullableString,
  optString,
} from "../http/params.js";
import { listOf, pageRequest } from "../http/render.js";
import type { Router } from "../http/router.js";
import { capturedAmount, createApplicationFee, refundFeeWithCharge } from "./application-fees.js";
import type { ChargeMeta } from "./charge-meta.js";
import type { PaymentMethodRecord } from "./payment-methods.js";
import { reverseTransfer } from "./transfers.js";

export interface RefundMeta {
  /** Transfer reversal to make when a pending refund completes (`reverse_transfer`). */
  reverseTransfer?: boolean;
  /** Application fee refund to make with it (`refund_application_fee`). */
  refundApplicationFee?: boolean;
}

/** An asynchronous refund test card's refund reaches its final status. */
export const REFUND_ASYNC_TASK = "refund.async_outcome";

const SUCCESS_OUTCOME: Stripe.Charge.Outcome = {
  advice_code: null,
  network_advice_code: null,
  network_decline_code: null,
  network_status: "approved_by_network",
  reason: null,
  risk_level: "normal",
  risk_score: 32,
  seller_message: "Payment complete.",
  type: "authorized",
};

export function declinedOutcome(declineCode: string): Stripe.Charge.Outcome {
  const blocked = declineCode === "fraudulent";
  return {
    advice_code: null,
    network_advice_code: null,
    network_decline_code: null,
    network_status: blocked ? "not_sent_to_network" : "declined_by_network",
    reason: blocked ? "highest_risk_level" : declineCode,
    risk_level: blocked ? "highest" : "normal",
    risk_score: blocked ? 95 : 32,
    seller_message: blocked
      ? "Stripe blocked this payment as too risky."
      : "The bank did not return any further details with this decline.",
    type: blocked ? "blocked" : "issuer_declined",
  };
}

/** A new charge for one attempt of a PaymentIntent, in `pending` until the caller decides. */
export function buildCharge(
  engine: Engine,
  owner: string,
  pi: Stripe.PaymentIntent,
  pm: PaymentMethodRecord,
  mandate: string | null,
): Stripe.Charge {
  const isCard = pm.obj.type === "card";
  const id = newId(isCard ? "ch" : "py");
  const card = pm.obj.card;
  const details: Stripe.Charge.PaymentMethodDetails =
    isCard && card
      ? {
          type: "card",
          card: {
            amount_authorized: pi.amount,
            authorization_code: null,
            brand: card.brand,
            checks: card.checks,
            country: card.country,
            exp_month: card.exp_month,
            exp_year: card.exp_year,
            fingerprint: card.fingerprint ?? null,
            funding: card.funding,
            installments: null,
            last4: card.last4,
            mandate: null,
            network: card.brand,
            network_transaction_id: randomToken(15),
            regulated_status: card.regulated_status,
            three_d_secure: null,
            transaction_link_id: null,
            wallet: null,
          },
        }
      : {
          type: "au_becs_debit",
          au_becs_debit: {
            bsb_number: pm.obj.au_becs_debit?.bsb_number ?? null,
            fingerprint: pm.obj.au_becs_debit?.fingerprint ?? null,
            last4: pm.obj.au_becs_debit?.last4 ?? null,
            ...(mandate ? { mandate } : {}),
          },
        };
  const charge: Stripe.Charge = {
    id,
    object: "charge",
    amount: pi.amount,
    amount_captured: 0,
    amount_refunded: 0,
    application: null,
    application_fee: null,
    application_fee_amount: pi.application_fee_amount,
    balance_transaction: null,
    billing_details: pm.obj.billing_details,
    calculated_statement_descriptor: pi.statement_descriptor ?? "SUSU EMULATOR",
    captured: false,
    created: engine.now(),
    currency: pi.currency,
    customer: typeof pi.customer === "string" ? pi.customer : null,
    description: pi.description,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: null,
    failure_message: null,
    fraud_details: {},
    livemode: false,
    metadata: { ...pi.metadata },
    on_behalf_of: typeof pi.on_behalf_of === "string" ? pi.on_behalf_of : null,
    outcome: null,
    paid: false,
    payment_intent: pi.id,
    payment_method: pm.obj.id,
    payment_method_details: details,
    receipt_email: pi.receipt_email,
    receipt_number: null,
    receipt_url: `${engine.baseUrl}/_emulator/receipts/${id}`,
    refunded: false,
    review: null,
    shipping: null,
    source: null,
    source_transfer: null,
    statement_descriptor: pi.statement_descriptor,
    statement_descriptor_suffix: null,
    status: "pending",
    transfer_data: pi.transfer_data
      ? {
          amount: pi.transfer_data.amount ?? null,
          destination: pi.transfer_data.destination,
        }
      : null,
    transfer_group: pi.transfer_group,
  };
  engine.store.insert<Stripe.Charge, ChargeMeta>("charge", owner, charge, {
    paymentMethodType: isCard ? "card" : "au_becs_debit",
    bypassPending: pm.meta.card?.bypassPending ?? false,
    ...(pm.meta.card?.refund ? { refundBehaviour: pm.meta.card.refund } : {}),
  });
  return charge;
}

/** Whether the charge was paid by card (`charge`/`refund` transactions) or another method (`payment`/…). */
export function isCardCharge(engine: Engine, chargeId: string): boolean {
  const record = engine.store.record<Stripe.Charge, ChargeMeta>(chargeId);
  return (record?.meta.paymentMethodType ?? "card") === "card";
}

/**
 * The charge's money lands: a balance transaction net of Stripe's fee, pending until the
 * availability delay (at once for `pm_card_bypassPending`). Cards get a `charge`, other methods
 * a `payment`; a BECS debit gets its (pending) transaction when it is submitted, with
 * `availableAt` after the expected settlement.
 */
export function fundCharge(
  engine: Engine,
  owner: string,
  charge: Stripe.Charge,
  amount = charge.amount,
  availableAt?: number,
): void {
  const record = engine.store.record<Stripe.Charge, ChargeMeta>(charge.id)!;
  const type = record.meta.paymentMethodType ?? "card";
  const rule = type === "card" ? engine.options.fees.card : engine.options.fees.au_becs_debit;
  const at =
    availableAt ??
    (record.meta.bypassPending ? engine.now() : engine.now() + engine.options.availabilityDelaySeconds);
  // In another currency than the account's, the money lands converted (`exchange_rate`).
  const settled = toSettlement(engine, owner, amount, charge.currency);
  const stripeFee = feeFor(rule, settled.amount, settled.currency);
  // A direct charge on a connected account pays the platform's application fee out of its own funds.
  const applicationFee =
    owner !== engine.platform
      ? toSettlement(engine, owner, charge.application_fee_amount ?? 0, charge.currency, settled.exchangeRate)
          .amount
      : 0;
  const txn = engine.ledger.create({
    owner,
    amount: settled.amount,
    currency: settled.currency,
    exchangeRate: settled.exchangeRate,
    fee: stripeFee + applicationFee,
    applicationFee,
    type: type === "card" ? "charge" : "payment",
    reportingCategory: "charge",
    source: charge.id,
    description: charge.description,
    availability: { kind: "at", at },
  });
  charge.balance_transaction = txn.id;
  if (charge.status !== "pending") engine.ledger.chargeFunded(charge.id, txn.available_on);
  if (applicationFee > 0) {
    charge.application_fee = createApplicationFee(engine, {
      amount: applicationFee,
      currency: settled.currency,
      account: owner,
      charge: charge.id,
      originatingTransaction: null,
      availableOn: txn.available_on,
    }).id;
  }
}

export function succeedCharge(engine: Engine, owner: string, charge: Stripe.Charge, capture: boolean): void {
  charge.status = "succeeded";
  charge.paid = true;
  charge.outcome = SUCCESS_OUTCOME;
  if (capture) {
    charge.captured = true;
    charge.amount_captured = charge.amount;
    if (typeof charge.balance_transaction === "string") {
      // A bank debit's pending transaction exists since submission: its funds follow the settlement.
      const availableOn = engine.now() + engine.options.availabilityDelaySeconds;
      const txn = engine.ledger.reschedule(charge.balance_transaction, availableOn);
      engine.ledger.chargeFunded(charge.id, txn?.available_on ?? availableOn);
    } else {
      fundCharge(engine, owner, charge);
    }
  }
}

export function failCharge(
  engine: Engine,
  charge: Stripe.Charge,
  code: string,
  message: string,
  outcome: Stripe.Charge.Outcome,
): void {
  charge.status = "failed";
  charge.paid = false;
  charge.failure_code = code;
  charge.failure_message = message;
  charge.outcome = outcome;
  charge.amount_captured = 0;
  const delay = engine.options.availabilityDelaySeconds;
  engine.ledger.chargeFailed(charge.id, engine.now(), engine.now() + delay, engine.platform);
  const record = engine.store.record<Stripe.Charge>(charge.id);
  const txnId = charge.balance_transaction;
  if (record && typeof txnId === "string") {
    // A failed bank debit gives back what its pending `payment` transaction credited (and its fee).
    const original = engine.store.record<Stripe.BalanceTransaction>(txnId)!.obj;
    const failure = engine.ledger.create({
      owner: record.owner,
      amount: -original.amount,
      currency: original.currency,
      fee: -original.fee,
      type: "payment_failure_refund",
      reportingCategory: "payment_failure_refund",
      source: charge.id,
      description: `Payment failure refund for ${charge.id}`,
      availability:
        original.status === "pending" ? { kind: "at", at: original.available_on } : { kind: "now" },
    });
    charge.failure_balance_transaction = failure.id;
    // Nothing was collected, so the platform's fee on it goes back to the connected account.
    if (typeof charge.application_fee === "string") refundFeeWithCharge(engine, charge, charge.amount, true);
  }
}

// ---------------------------------------------------------------------------------------------
// Refunds

function refundObject(
  engine: Engine,
  charge: Stripe.Charge,
  amount: number,
  reason: Stripe.Refund.Reason | null,
  metadata: Record<string, string>,
): Stripe.Refund {
  return {
    id: newId("re"),
    object: "refund",
    amount,
    balance_transaction: null,
    charge: charge.id,
    created: engine.now(),
    currency: charge.currency,
    customer: typeof charge.customer === "string" ? charge.customer : null,
    customer_account: null,
    destination_details: { type: charge.payment_method_details?.type ?? "card" },
    metadata,
    payment_intent: typeof charge.payment_intent === "string" ? charge.payment_intent : null,
    payment_method: charge.payment_method,
    reason,
    receipt_number: null,
    source_transfer_reversal: null,
    status: "pending",
    transfer_reversal: null,
  };
}

function settleRefund(
  engine: Engine,
  owner: string,
  refund: Stripe.Refund,
  charge: Stripe.Charge,
  meta: RefundMeta,
): void {
  const settled = asCharge(engine, owner, charge, refund.amount);
  const txn = engine.ledger.create({
    owner,
    amount: -settled.amount,
    currency: settled.currency,
    exchangeRate: settled.exchangeRate,
    type: isCardCharge(engine, charge.id) ? "refund" : "payment_refund",
    reportingCategory: "refund",
    source: refund.id,
    availability: { kind: "now" },
  });
  refund.balance_transaction = txn.id;
  refund.status = "succeeded";
  delete refund.pending_reason;
  if (meta.reverseTransfer && typeof charge.transfer === "string") {
    // Reversed in proportion to the part of the charge refunded: of what was captured, which
    // is what the transfer was made of (a partial capture transfers less than the charge).
    const transfer = engine.store.record<Stripe.Transfer>(charge.transfer)?.obj;
    if (transfer) {
      const share = Math.round((refund.amount * transfer.amount) / capturedAmount(charge));
      const reversible = transfer.amount - transfer.amount_reversed;
      if (share > 0 && reversible > 0) {
        const reversal = reverseTransfer(engine, transfer.id, Math.min(share, reversible), {}, refund.id);
        refund.transfer_reversal = reversal.id;
      }
    }
  }
  if (meta.refundApplicationFee) refundFeeWithCharge(engine, charge, refund.amount);
}

export function createRefund(
  engine: Engine,
  owner: string,
  charge: Stripe.Charge,
  input: {
    amount?: number | undefined;
    reason: Stripe.Refund.Reason | null;
    metadata: Record<string, string>;
    reverseTransfer: boolean;
    refundApplicationFee?: boolean;
  },
): Stripe.Refund {
  if (charge.status === "failed") {
    throw invalidRequest(`Charge ${charge.id} has failed and cannot be refunded.`, {
      code: "charge_not_refundable",
      param: "charge",
    });
  }
  if (charge.status === "succeeded" && !charge.captured) {
    throw invalidRequest(
      `Charge ${charge.id} has not been captured; cancel its PaymentIntent to release the authorization.`,
      { code: "charge_not_refundable", param: "charge" },
    );
  }
  if (charge.disputed) {
    const dispute = engine.store.indexed<Stripe.Dispute>("dispute", owner, "charge", charge.id)[0]?.obj;
    if (dispute && !dispute.status.startsWith("warning") && dispute.status !== "won") {
      throw invalidRequest(`Charge ${charge.id} has been charged back; cannot issue a refund.`, {
        code: "charge_disputed",
        param: "charge",
      });
    }
  }
  const remaining = charge.amount - charge.amount_refunded;
  if (remaining <= 0) {
    throw invalidRequest(`Charge ${charge.id} has already been refunded.`, {
      code: "charge_already_refunded",
      param: "charge",
    });
  }
  const amount = input.amount ?? remaining;
  if (amount <= 0)
    throw validationFailure("Invalid positive integer", {
      param: "amount",
      code: "parameter_invalid_integer",
    });
  if (amount > remaining) {
    throw invalidRequest(
      `Refund amount (${amount}) is greater than unrefunded amount on charge (${remaining})`,
      { param: "amount", code: "amount_too_large" },
    );
  }
  const refund = refundObject(engine, charge, amount, input.reason, input.metadata);
  const refundMeta: RefundMeta = {
    reverseTransfer: input.reverseTransfer,
    refundApplicationFee: input.refundApplicationFee ?? false,
  };
  engine.store.insert<Stripe.Refund, RefundMeta>("refund", owner, refund, refundMeta);
  const previous = { amount_refunded: charge.amount_refunded, refunded: charge.refunded };
  charge.amount_refunded += amount;
  charge.refunded = charge.amount_refunded === charge.amount;
  if (charge.status === "pending") {
    // BECS still in flight: the refund waits for the debit's outcome.
    refund.pending_reason = "charge_pending";
    const chargeRecord = engine.store.record<Stripe.Charge, ChargeMeta>(charge.id);
    if (chargeRecord) {
      chargeRecord.meta.pendingRefunds ??= [];
      chargeRecord.meta.pendingRefunds.push(refund.id);
    }
    engine.emit("refund.created", refund, owner);
    return refund;
  }
  settleRefund(engine, owner, refund, charge, refundMeta);
  const behaviour = engine.store.record<Stripe.Charge, ChargeMeta>(charge.id)?.meta.refundBehaviour;
  if (behaviour) {
    if (behaviour === "pending") {
      refund.status = "pending";
      refund.pending_reason = "processing";
    }
    engine.scheduler.schedule(
      MAIN_CLOCK,
      engine.now() + engine.options.asyncRefundDelaySeconds,
      REFUND_ASYNC_TASK,
      refund.id,
    );
  }
  engine.emit("refund.created", refund, owner);
  engine.emit("charge.refunded", charge, owner, { previous });
  return refund;
}

/**
 * The later outcome of a refund of Stripe's asynchronous refund test cards: a pending refund
 * succeeds; a "succeeded" one fails, and its money comes back to the balance (`refund_failure`).
 */
function asyncRefundOutcome(engine: Engine, refundId: string): void {
  const record = engine.store.record<Stripe.Refund, RefundMeta>(refundId);
  if (record?.type !== "refund") return;
  const refund = record.obj;
  const owner = record.owner;
  const charge = engine.store.record<Stripe.Charge, ChargeMeta>(refund.charge as string);
  if (!charge) return;
  if (refund.status === "pending") {
    refund.status = "succeeded";
    delete refund.pending_reason;
    engine.emit("refund.updated", refund, owner, { previous: { status: "pending" } });
    engine.emit("charge.refund.updated", refund, owner, { previous: { status: "pending" } });
    return;
  }
  if (refund.status !== "succeeded") return;
  const original = engine.store.record<Stripe.BalanceTransaction>(refund.balance_transaction as string)?.obj;
  const txn = engine.ledger.create({
    owner,
    amount: -(original?.amount ?? -refund.amount),
    currency: original?.currency ?? refund.currency,
    type: (charge.meta.paymentMethodType ?? "card") === "card" ? "refund_failure" : "payment_failure_refund",
    reportingCategory: "refund_failure",
    source: refund.id,
    description: `Refund failure for ${charge.id}`,
    availability: { kind: "now" },
  });
  refund.status = "failed";
  refund.failure_reason = "expired_or_canceled_card";
  refund.failure_balance_transaction = txn.id;
  charge.obj.amount_refunded -= refund.amount;
  charge.obj.refunded = false;
  const previous = { status: "succeeded" };
  engine.emit("refund.updated", refund, owner, { previous });
  engine.emit("charge.refund.updated", refund, owner, { previous });
  engine.emit("refund.failed", refund, owner, { previous });
}

/** The debit behind pending refunds succeeded: they go through. */
function takePendingRefunds(
  engine: Engine,
  chargeId: string,
): Array<{ obj: Stripe.Refund; meta: RefundMeta }> {
  const charge = engine.store.record<Stripe.Charge, ChargeMeta>(chargeId);
  const ids = charge?.meta.pendingRefunds ?? [];
  if (charge) delete charge.meta.pendingRefunds;
  return ids
    .map((id) => engine.store.record<Stripe.Refund, RefundMeta>(id))
    .filter((r): r is NonNullable<typeof r> => r?.obj.status === "pending");
}

export function completePendingRefunds(engine: Engine, owner: string, charge: Stripe.Charge): void {
  for (const record of takePendingRefunds(engine, charge.id)) {
    const refund = record.obj;
    settleRefund(engine, owner, refund, charge, record.meta);
    engine.emit("refund.updated", refund, owner, { previous: { status: "pending" } });
    engine.emit("charge.refund.updated", refund, owner, { previous: { status: "pending" } });
    engine.emit("charge.refunded", charge, owner);
  }
}

/**
 * A chargeback opened on a charge whose refunds are still `pending`: Stripe fails them with
 * `charge_for_pending_refund_disputed` (the customer's bank gives the money back instead). A
 * refund that already took its money (an asynchronous card refund) gives it back with a
 * `refund_failure` transaction; one still waiting for a bank debit (`charge_pending`) took
 * nothing. The charge's `amount_refunded` goes back down, so the dispute takes what they would
 * have refunded. Returns the refunds failed, for the caller to announce after the dispute.
 */
function failPendingRefundsOnDispute(engine: Engine, owner: string, charge: Stripe.Charge): Stripe.Refund[] {
  const failed: Stripe.Refund[] = [];
  const chargeRecord = engine.store.record<Stripe.Charge, ChargeMeta>(charge.id);
  for (const record of engine.store.indexed<Stripe.Refund>("refund", owner, "charge", charge.id)) {
    const refund = record.obj;
    if (refund.status !== "pending") continue;
    if (typeof refund.balance_transaction === "string") {
      const original = engine.store.record<Stripe.BalanceTransaction>(refund.balance_transaction)?.obj;
      const txn = engine.ledger.create({
        owner,
        amount: -(original?.amount ?? -refund.amount),
        currency: original?.currency ?? refund.currency,
        type: isCardCharge(engine, charge.id) ? "refund_failure" : "payment_failure_refund",
        reportingCategory: "refund_failure",
        source: refund.id,
        description: `Refund failure for ${charge.id}`,
        availability: { kind: "now" },
      });
      refund.failure_balance_transaction = txn.id;
    }
    refund.status = "failed";
    refund.failure_reason = "charge_for_pending_refund_disputed";
    delete refund.pending_reason;
    charge.amount_refunded -= refund.amount;
    charge.refunded = false;
    failed.push(refund);
  }
  if (chargeRecord?.meta.pendingRefunds) {
    const waiting = chargeRecord.meta.pendingRefunds.filter((id) => !failed.some((r) => r.id === id));
    if (waiting.length > 0) chargeRecord.meta.pendingRefunds = waiting;
    else delete chargeRecord.meta.pendingRefunds;
  }
  return failed;
}

/** The debit failed: there is nothing to give back, so pending refunds are cancelled. */
export function cancelPendingRefunds(engine: Engine, owner: string, charge: Stripe.Charge): void {
  for (const record of takePendingRefunds(engine, charge.id)) {
    const refund = record.obj;
    refund.status = "canceled";
    delete refund.pending_reason;
    charge.amount_refunded -= refund.amount;
    charge.refunded = false;
    engine.emit("refund.updated", refund, owner, { previous: { status: "pending" } });
    engine.emit("charge.refund.updated", refund, owner, { previous: { status: "pending" } });
  }
}

// ---------------------------------------------------------------------------------------------
// Disputes

export interface DisputeMeta {
  /** Bank debits cannot be challenged: the dispute is final when it is opened. */
  final: boolean;
}

/** `evidence_details.due_by` passes. */
const DISPUTE_DUE_TASK = "dispute.due";

/**
 * The response window closed: the dispute is `past_due`; a chargeback nobody answered is lost
 * (`charge.dispute.closed`), an unanswered inquiry stays open.
 */
function disputeDue(engine: Engine, id: string): void {
  const record = engine.store.record<Stripe.Dispute, DisputeMeta>(id);
  if (record?.type !== "dispute") return;
  const dispute = record.obj;
  if (dispute.status !== "needs_response" && dispute.status !== "warning_needs_response") return;
  dispute.evidence_details.past_due = true;
  engine.emit("charge.dispute.updated", dispute, record.owner, {
    previous: { evidence_details: { past_due: false } },
  });
  if (dispute.status === "needs_response") resolveDispute(engine, id, "lost");
}

function emptyEvidence(): Stripe.Dispute.Evidence {
  return {
    access_activity_log: null,
    billing_address: null,
    cancellation_policy: null,
    cancellation_policy_disclosure: null,
    cancellation_rebuttal: null,
    customer_communication: null,
    customer_email_address: null,
    customer_name: null,
    customer_purchase_ip: null,
    customer_signature: null,
    duplicate_charge_documentation: null,
    duplicate_charge_explanation: null,
    duplicate_charge_id: null,
    enhanced_evidence: {},
    product_description: null,
    receipt: null,
    refund_policy: null,
    refund_policy_disclosure: null,
    refund_refusal_explanation: null,
    service_date: null,
    service_documentation: null,
    shipping_address: null,
    shipping_carrier: null,
    shipping_date: null,
    shipping_documentation: null,
    shipping_tracking_number: null,
    uncategorized_file: null,
    uncategorized_text: null,
  };
}

/**
 * Opens a dispute on a succeeded charge: the amount plus the dispute fee leave the balance at
 * once (except for inquiries). BECS disputes cannot be challenged, so they are opened lost.
 */
export function openDispute(
  engine: Engine,
  chargeId: string,
  reason: string,
  options: { inquiry?: boolean } = {},
): Stripe.Dispute {
  const record = engine.store.record<Stripe.Charge, ChargeMeta>(chargeId);
  if (record?.type !== "charge") throw resourceMissing("charge", chargeId, "charge");
  const charge = record.obj;
  if (charge.status !== "succeeded") {
    throw invalidRequest(`Charge ${chargeId} has not succeeded and cannot be disputed.`, { param: "charge" });
  }
  if (charge.disputed) throw invalidRequest(`Charge ${chargeId} is already disputed.`, { param: "charge" });
  if (!charge.captured) {
    // An authorisation moved no money: only what was captured can be charged back.
    throw invalidRequest(`Charge ${chargeId} has not been captured and cannot be disputed.`, {
      param: "charge",
    });
  }
  const isBecs = record.meta.paymentMethodType === "au_becs_debit";
  const inquiry = options.inquiry === true && !isBecs;
  // A chargeback fails the refunds still pending (an inquiry withdraws nothing: they go on).
  const failedRefunds = inquiry ? [] : failPendingRefundsOnDispute(engine, record.owner, charge);
  // What was captured and not refunded: `amount_refunded` counts a partial capture's released rest.
  const amount = charge.amount - charge.amount_refunded;
  const id = newId("du");
  const txns: Stripe.BalanceTransaction[] = [];
  if (!inquiry) {
    const settled = asCharge(engine, record.owner, charge, amount);
    txns.push(
      engine.ledger.create({
        owner: record.owner,
        amount: -settled.amount,
        currency: settled.currency,
        exchangeRate: settled.exchangeRate,
        fee: engine.options.fees.dispute,
        feeDescription: "Dispute fee",
        type: "adjustment",
        reportingCategory: "dispute",
        source: id,
        description: `Chargeback withdrawal for ${charge.id}`,
        availability: { kind: "now" },
      }),
    );
  }
  const card = charge.payment_method_details?.card;
  const dispute: Stripe.Dispute = {
    id,
    object: "dispute",
    amount,
    balance_transactions: txns,
    charge: charge.id,
    created: engine.now(),
    currency: charge.currency,
    enhanced_eligibility_types: [],
    evidence: emptyEvidence(),
    evidence_details: {
      due_by: isBecs ? null : engine.now() + 7 * 86_400,
      enhanced_eligibility: {},
      has_evidence: false,
      past_due: false,
      submission_count: 0,
    },
    is_charge_refundable: inquiry,
    livemode: false,
    metadata: {},
    payment_intent: typeof charge.payment_intent === "string" ? charge.payment_intent : null,
    payment_method_details: card
      ? {
          type: "card",
          card: {
            brand: card.brand ?? "visa",
            case_type: inquiry ? "inquiry" : "chargeback",
            network: card.network ?? "visa",
            network_reason_code: null,
          },
        }
      : { type: "au_becs_debit" as Stripe.Dispute.PaymentMethodDetails.Type },
    reason,
    status: isBecs ? "lost" : inquiry ? "warning_needs_response" : "needs_response",
  };
  engine.store.insert<Stripe.Dispute, DisputeMeta>("dispute", record.owner, dispute, { final: isBecs });
  if (dispute.evidence_details.due_by !== null) {
    engine.scheduler.schedule(MAIN_CLOCK, dispute.evidence_details.due_by, DISPUTE_DUE_TASK, id);
  }
  charge.disputed = true;
  engine.emit("charge.dispute.created", dispute, record.owner);
  if (!inquiry) engine.emit("charge.dispute.funds_withdrawn", dispute, record.owner);
  if (isBecs) engine.emit("charge.dispute.closed", dispute, record.owner);
  for (const refund of failedRefunds) {
    const previous = { status: "pending" };
    engine.emit("refund.updated", refund, record.owner, { previous });
    engine.emit("charge.refund.updated", refund, record.owner, { previous });
    engine.emit("refund.failed", refund, record.owner, { previous });
  }
  return dispute;
}

/** The card network's decision on a dispute. */
export function resolveDispute(engine: Engine, disputeId: string, outcome: "won" | "lost"): Stripe.Dispute {
  const record = engine.store.record<Stripe.Dispute, DisputeMeta>(disputeId);
  if (record?.type !== "dispute") throw resourceMissing("dispute", disputeId);
  const dispute = record.obj;
  if (["won", "lost", "warning_closed"].includes(dispute.status)) {
    throw invalidRequest(`Dispute ${dispute.id} is already closed (${dispute.status}).`, {
      code: "dispute_already_closed",
    });
  }
  const previous = { status: dispute.status };
  const inquiry = dispute.status.startsWith("warning");
  if (inquiry) {
    dispute.status = "warning_closed";
  } else if (outcome === "won") {
    dispute.status = "won";
    const charge = engine.store.record<Stripe.Charge>(dispute.charge as string)?.obj;
    const settled = charge
      ? asCharge(engine, record.owner, charge, dispute.amount)
      : { amount: dispute.amount, currency: dispute.currency, exchangeRate: null };
    const txn = engine.ledger.create({
      owner: record.owner,
      amount: settled.amount,
      currency: settled.currency,
      exchangeRate: settled.exchangeRate,
      type: "adjustment",
      reportingCategory: "dispute_reversal",
      source: dispute.id,
      description: `Chargeback reversal for ${String(dispute.charge)}`,
      availability: { kind: "now" },
    });
    dispute.balance_transactions.push(txn);
    engine.emit("charge.dispute.funds_reinstated", dispute, record.owner);
  } else {
    dispute.status = "lost";
  }
  dispute.is_charge_refundable = false;
  engine.emit("charge.dispute.closed", dispute, record.owner, { previous });
  return dispute;
}

function applyEvidence(dispute: Stripe.Dispute, evidence: Record<string, unknown>): void {
  const target = dispute.evidence as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(evidence)) {
    if (key in target && typeof value === "string") target[key] = value === "" ? null : value;
  }
  dispute.evidence_details.has_evidence = true;
}

// ---------------------------------------------------------------------------------------------
// Routes

export function registerCharges(router: Router, engine: Engine): void {
  engine.store.defineIndex<Stripe.Charge>(
    "charge",
    "customer",
    stringKey((c) => c.customer),
  );
  engine.store.defineIndex<Stripe.Charge>(
    "charge",
    "payment_intent",
    stringKey((c) => c.payment_intent),
  );
  engine.store.defineIndex<Stripe.Charge>(
    "charge",
    "transfer_group",
    stringKey((c) => c.transfer_group),
  );
  engine.store.defineIndex<Stripe.Refund>(
    "refund",
    "charge",
    stringKey((r) => r.charge),
  );
  engine.store.defineIndex<Stripe.Refund>(
    "refund",
    "payment_intent",
    stringKey((r) => r.payment_intent),
  );
  engine.store.defineIndex<Stripe.Dispute>(
    "dispute",
    "charge",
    stringKey((d) => d.charge),
  );
  engine.store.defineIndex<Stripe.Dispute>(
    "dispute",
    "payment_intent",
    stringKey((d) => d.payment_intent),
  );
  engine.onTask(REFUND_ASYNC_TASK, (ref) => asyncRefundOutcome(engine, ref));
  engine.onTask(DISPUTE_DUE_TASK, (ref) => disputeDue(engine, ref));

  router.get(
    "/v1/charges/:id",
    (req) => engine.store.get<Stripe.Charge>("charge", req.pathParams.id!, req.account, "charge").obj,
  );

  router.post("/v1/charges/:id", (req) => {
    const charge = engine.store.get<Stripe.Charge>("charge", req.pathParams.id!, req.account, "charge").obj;
    const previous = { description: charge.description, metadata: charge.metadata };
    const description = optNullableString(req.params, "description");
    if (description !== undefined) charge.description = description;
    charge.metadata = applyMetadata(charge.metadata, req.params);
    const group = optString(req.params, "transfer_group");
    if (group !== undefined) charge.transfer_group = group || null;
    engine.emit("charge.updated", charge, req.account, { previous });
    return charge;
  });

  router.get("/v1/charges", (req) => {
    const customer = optString(req.params, "customer");
    const pi = optString(req.params, "payment_intent");
    const group = optString(req.params, "transfer_group");
    const page = engine.store.page<Stripe.Charge>(
      "charge",
      req.account,
      pageRequest(req.params),
      (r) =>
        (customer === undefined || r.obj.customer === customer) &&
        (pi === undefined || r.obj.payment_intent === pi) &&
        (group === undefined || r.obj.transfer_group === group) &&
        matchesRange(r.obj.created, req.params, "created"),
      [
        ["customer", customer],
        ["payment_intent", pi],
        ["transfer_group", group],
      ],
    );
    return listOf("/v1/charges", page);
  });

  router.post(
    "/v1/refunds",
    (req) => {
      const chargeId = optString(req.params, "charge");
      const piId = optString(req.params, "payment_intent");
      let charge: Stripe.Charge;
      if (chargeId) {
        charge = engine.store.get<Stripe.Charge>("charge", chargeId, req.account, "charge", "charge").obj;
      } else if (piId) {
        const pi = engine.store.get<Stripe.PaymentIntent>(
          "payment_intent",
          piId,
          req.account,
          "payment_intent",
          "payment_intent",
        ).obj;
        const latest = typeof pi.latest_charge === "string" ? pi.latest_charge : null;
        const candidate = latest ? engine.store.record<Stripe.Charge>(latest)?.obj : undefined;
        if (!candidate || (pi.status !== "succeeded" && pi.status !== "processing")) {
          throw invalidRequest(`This PaymentIntent (${pi.id}) does not have a successful charge to refund.`, {
            code: "charge_not_refundable",
            param: "payment_intent",
          });
        }
        charge = candidate;
      } else {
        throw validationFailure(
          "One of the following params should be provided for this request: payment_intent or charge.",
          {
            code: "parameter_missing",
          },
        );
      }
      return createRefund(engine, req.account, charge, {
        amount: optInt(req.params, "amount"),
        reason: optEnum(req.params, "reason", ["duplicate", "fraudulent", "requested_by_customer"]) ?? null,
        metadata: applyMetadata({}, req.params),
        reverseTransfer: optBool(req.params, "reverse_transfer") ?? false,
        refundApplicationFee: optBool(req.params, "refund_application_fee") ?? false,
      });
    },
    REFUND_CREATE,
  );

  router.get(
    "/v1/refunds/:id",
    (req) => engine.store.get<Stripe.Refund>("refund", req.pathParams.id!, req.account, "refund").obj,
  );

  router.post("/v1/refunds/:id", (req) => {
    const refund = engine.store.get<Stripe.Refund>("refund", req.pathParams.id!, req.account, "refund").obj;
    const previous = { metadata: refund.metadata };
    refund.metadata = applyMetadata(refund.metadata ?? {}, req.params);
    engine.emit("refund.updated", refund, req.account, { previous });
    return refund;
  });

  router.post("/v1/refunds/:id/cancel", (req) => {
    const refund = engine.store.get<Stripe.Refund>("refund", req.pathParams.id!, req.account, "refund").obj;
    if (refund.status !== "requires_action") {
      throw invalidRequest(`Refund ${refund.id} cannot be canceled because its status is ${refund.status}.`, {
        code: "refund_cannot_be_canceled",
      });
    }
    return refund;
  });

  router.get("/v1/refunds", (req) => {
    const chargeId = optString(req.params, "charge");
    const piId = optString(req.params, "payment_intent");
    const page = engine.store.page<Stripe.Refund>(
      "refund",
      req.account,
      pageRequest(req.params),
      (r) =>
        (chargeId === undefined || r.obj.charge === chargeId) &&
        (piId === undefined || r.obj.payment_intent === piId) &&
        matchesRange(r.obj.created, req.params, "created"),
      [
        ["charge", chargeId],
        ["payment_intent", piId],
      ],
    );
    return listOf("/v1/refunds", page);
  });

  router.get(
    "/v1/disputes/:id",
    (req) => engine.store.get<Stripe.Dispute>("dispute", req.pathParams.id!, req.account, "dispute").obj,
  );

  router.post("/v1/disputes/:id", (req) => {
    const record = engine.store.get<Stripe.Dispute, DisputeMeta>(
      "dispute",
      req.pathParams.id!,
      req.account,
      "dispute",
    );
    const dispute = record.obj;
    if (record.meta.final || ["won", "lost", "warning_closed"].includes(dispute.status)) {
      throw invalidRequest(`This dispute is already closed.`, { code: "dispute_already_closed" });
    }
    const previous = {
      evidence: { ...dispute.evidence },
      metadata: dispute.metadata,
      status: dispute.status,
    };
    const evidence = child(req.params, "evidence");
    if (evidence && isParams(evidence)) applyEvidence(dispute, evidence);
    dispute.metadata = applyMetadata(dispute.metadata, req.params);
    const submit = optBool(req.params, "submit") ?? true;
    if (submit && evidence) {
      dispute.evidence_details.submission_count++;
      dispute.status = dispute.status.startsWith("warning") ? "warning_under_review" : "under_review";
    }
    engine.emit("charge.dispute.updated", dispute, req.account, { previous });
    // Stripe's test evidence strings decide the outcome as soon as evidence is submitted.
    const text = dispute.evidence.uncategorized_text;
    if (submit && text === "winning_evidence") resolveDispute(engine, dispute.id, "won");
    if (submit && text === "losing_evidence") resolveDispute(engine, dispute.id, "lost");
    return dispute;
  });

  router.post("/v1/disputes/:id/close", (req) => {
    const record = engine.store.get<Stripe.Dispute, DisputeMeta>(
      "dispute",
      req.pathParams.id!,
      req.account,
      "dispute",
    );
    if (record.meta.final || record.obj.status === "lost") return record.obj;
    return resolveDispute(engine, record.obj.id, "lost");
  });

  router.get("/v1/disputes", (req) => {
    const chargeId = optString(req.params, "charge");
    const piId = optString(req.params, "payment_intent");
    const page = engine.store.page<Stripe.Dispute>(
      "dispute",
      req.account,
      pageRequest(req.params),
      (r) =>
        (chargeId === undefined || r.obj.charge === chargeId) &&
        (piId === undefined || r.obj.payment_intent === piId) &&
        matchesRange(r.obj.created, req.params, "created"),
      [
        ["charge", chargeId],
        ["payment_intent", piId],
      ],
    );
    return listOf("/v1/disputes", page);
  });
}
