import {
  debitFact,
  type FeeRefundSeen,
  type GatewayError,
  type PaymentFact,
  type PaymentReferences,
  refundFact,
} from "@susu/domain";
import { okAsync, type ResultAsync } from "neverthrow";
import type Stripe from "stripe";
import {
  type FeeRefundFactWithoutRefs,
  isApplicationFeeEvent,
  translateApplicationFeeEvent,
} from "./application-fee-events.js";
import { translateMembershipEvent } from "./billing-event-translator.js";
import type { InvoiceReferences } from "./invoice-payment-lookup.js";
import { metadataToReferences } from "./payment-metadata.js";
import { isPaymentMethodEvent, paymentMethodFact } from "./payment-method-events.js";
import { billingReferences } from "./stripe-billing-gateway.js";
import {
  connectedAccountStatus,
  debitOutcomeOf,
  idOf,
  mandateStatusOf,
  refundOutcomeOf,
  reportedPayoutOf,
} from "./stripe-mappings.js";

/**
 * What a verified Stripe event means for susu. Pure data: the domain's router
 * (`useCases.applyPaymentFact`) decides which aggregate it concerns.
 *
 * - `fact`: what happened, in the domain's words ({@link PaymentFact}); payment facts carry
 *   the references susu wrote in the object's metadata.
 * - `dispute_needs_references`: a dispute names only its charge and PaymentIntent, which
 *   carry the metadata; look the PaymentIntent's references up (e.g. with
 *   `StripePaymentGateway.getPaymentReferences`) and finish with {@link completeDispute}.
 * - `ignored`: a known event that needs no action, with why (kept for the audit log).
 * - `not_handled`: an event type no susu flow understands; store and acknowledge it.
 */
export type StripeEventTranslation =
  | { readonly kind: "fact"; readonly fact: PaymentFact }
  | {
      readonly kind: "dispute_needs_references";
      readonly disputeId: string;
      readonly chargeId: string;
      /** `undefined` when the dispute names no PaymentIntent: look the charge up instead. */
      readonly paymentIntentId?: string;
      /** The fact, once the references are found. */
      readonly disputeFact: DisputeFactWithoutRefs;
    }
  | {
      /**
       * A refund of a charge whose objects carry no susu metadata (made in Stripe's dashboard):
       * it may be a membership invoice's charge (Stripe Billing's PaymentIntents carry none).
       * Resolve its payment to the invoice and subscription (`getInvoiceReferences`) and finish
       * with {@link completeChargeOfInvoice}.
       */
      readonly kind: "charge_needs_invoice";
      readonly eventType: string;
      readonly paymentIntentId?: string;
      readonly chargeId?: string;
      readonly chargeFact: InvoiceChargeFactWithoutRefs;
    }
  | {
      /** `application_fee.refunded`: the fee's charge carries the references (see application-fee-events.ts). */
      readonly kind: "fee_refund_needs_references";
      readonly chargeId: string;
      readonly feeId: string;
      readonly moreFeeRefunds: boolean;
      readonly feeRefundFact: FeeRefundFactWithoutRefs;
    }
  | { readonly kind: "ignored"; readonly eventType: string; readonly reason: string }
  | { readonly kind: "not_handled"; readonly eventType: string; readonly reason: string };

type EventOf<T extends string> = Extract<Stripe.Event, { type: T }>;

/** A dispute's fact before the disputed payment's references are known. */
export type DisputeFactWithoutRefs = DistributiveOmit<
  Extract<PaymentFact, { kind: "dispute_opened" | "dispute_updated" | "dispute_closed" }>,
  "refs"
>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A membership invoice's charge refunded outside susu, or disputed: the fact before the invoice is known. */
export type InvoiceChargeFactWithoutRefs =
  | DistributiveOmit<Extract<PaymentFact, { kind: "membership_charge_refunded" }>, "refs">
  | DisputeFactWithoutRefs;

/** `payment_intent.*` */
export type PaymentIntentEvent = EventOf<`payment_intent.${string}`>;
/** `charge.*`, including `charge.refund.updated` and `charge.dispute.*` */
export type ChargeEvent = EventOf<`charge.${string}`>;
/** `refund.*` */
export type RefundEvent = EventOf<`refund.${string}`>;
/** `transfer.*` */
export type TransferEvent = EventOf<`transfer.${string}`>;
/** `account.*` and `capability.updated` */
export type ConnectEvent = EventOf<`account.${string}` | "capability.updated">;
/** `mandate.updated` and `setup_intent.*` */
export type DebitSetupEvent = EventOf<"mandate.updated" | `setup_intent.${string}`>;
/** `payout.*` */
export type PayoutEvent = EventOf<`payout.${string}`>;
/** `checkout.session.*` */
export type CheckoutEvent = EventOf<`checkout.session.${string}`>;
/** `customer.subscription.*` and `invoice.*` */
export type BillingEvent = EventOf<`customer.subscription.${string}` | `invoice.${string}`>;

const ignored = (eventType: string, reason: string): StripeEventTranslation => ({
  kind: "ignored",
  eventType,
  reason,
});

const notHandled = (eventType: string, reason: string): StripeEventTranslation => ({
  kind: "not_handled",
  eventType,
  reason,
});

/**
 * The arm of an exhaustive switch that the types say cannot be reached. At run time it can:
 * Stripe adds event types before this SDK version knows them. Those are not errors.
 */
function newerThanThisCode(event: never): StripeEventTranslation {
  const type = (event as { readonly type: string }).type;
  return notHandled(type, "event type newer than this code");
}

const NOT_FROM_SUSU = "the object carries no susu references (not created by a susu effect)";

function fact(f: PaymentFact): StripeEventTranslation {
  return { kind: "fact", fact: f };
}

/**
 * Translates a verified event (`stripe.webhooks.constructEvent`) into what it means for
 * susu. Pure: no I/O, no clock. The one fact that needs a lookup, a dispute, comes back
 * as `dispute_needs_references` unless the event's dispute has its PaymentIntent expanded.
 */
export function translateStripeEvent(event: Stripe.Event): StripeEventTranslation {
  if (isPaymentIntentEvent(event)) return translatePaymentIntentEvent(event);
  if (isChargeEvent(event)) return translateChargeEvent(event);
  if (isRefundEvent(event)) return translateRefundEvent(event);
  if (isTransferEvent(event)) return translateTransferEvent(event);
  if (isConnectEvent(event)) return translateConnectEvent(event);
  if (isDebitSetupEvent(event)) return translateDebitSetupEvent(event);
  if (isCheckoutEvent(event)) return translateCheckoutEvent(event);
  if (isPayoutEvent(event)) return translatePayoutEvent(event);
  if (isBillingEvent(event)) return translateBillingEvent(event);
  if (isApplicationFeeEvent(event)) return translateApplicationFeeEvent(event);
  if (isPaymentMethodEvent(event)) {
    const meant = paymentMethodFact(event);
    return "fact" in meant ? fact(meant.fact) : ignored(event.type, meant.ignored);
  }
  return notHandled(event.type, "no susu flow listens to this event type");
}

function isPaymentIntentEvent(event: Stripe.Event): event is PaymentIntentEvent {
  return event.type.startsWith("payment_intent.");
}
function isChargeEvent(event: Stripe.Event): event is ChargeEvent {
  return event.type.startsWith("charge.");
}
function isRefundEvent(event: Stripe.Event): event is RefundEvent {
  return event.type.startsWith("refund.");
}
function isTransferEvent(event: Stripe.Event): event is TransferEvent {
  return event.type.startsWith("transfer.");
}
function isConnectEvent(event: Stripe.Event): event is ConnectEvent {
  return event.type.startsWith("account.") || event.type === "capability.updated";
}
function isDebitSetupEvent(event: Stripe.Event): event is DebitSetupEvent {
  return event.type === "mandate.updated" || event.type.startsWith("setup_intent.");
}
function isCheckoutEvent(event: Stripe.Event): event is CheckoutEvent {
  return event.type.startsWith("checkout.session.");
}
function isPayoutEvent(event: Stripe.Event): event is PayoutEvent {
  return event.type.startsWith("payout.");
}
function isBillingEvent(event: Stripe.Event): event is BillingEvent {
  return event.type.startsWith("customer.subscription.") || event.type.startsWith("invoice.");
}

/**
 * Payments (a round's debits, a marketplace charge's card payment): the PaymentIntent's
 * state changes are payment facts, read with the same mapping as the gateway's answers
 * (`debitOutcomeOf`), so both say the same thing — including a payment that waits for the
 * customer (`requires_action`, with its client secret).
 */
export function translatePaymentIntentEvent(event: PaymentIntentEvent): StripeEventTranslation {
  const pi = event.data.object;
  const refs = metadataToReferences(pi.metadata);
  switch (event.type) {
    case "payment_intent.processing":
    case "payment_intent.succeeded":
    case "payment_intent.payment_failed":
    case "payment_intent.requires_action":
    case "payment_intent.canceled": {
      // susu never cancels a debit; if someone does (dashboard), the money will not come.
      if (!refs) return ignored(event.type, NOT_FROM_SUSU);
      const outcome = debitOutcomeOf(pi);
      if (outcome.isErr()) return notHandled(event.type, outcome.error.message);
      return fact(debitFact(refs, outcome.value));
    }
    case "payment_intent.created":
      return ignored(event.type, "the gateway's answer already reported the new debit");
    case "payment_intent.amount_capturable_updated":
    case "payment_intent.partially_funded":
      return ignored(event.type, "susu captures at once and charges in full: no flow sees this state");
    default:
      return newerThanThisCode(event);
  }
}

/** Charges: refunds reported on the charge, and disputes. Payment outcomes come from payment_intent.*. */
export function translateChargeEvent(event: ChargeEvent): StripeEventTranslation {
  switch (event.type) {
    case "charge.refund.updated":
      return refundEventFact(event.type, event.data.object);
    case "charge.dispute.created":
    case "charge.dispute.updated":
    case "charge.dispute.closed": {
      const dispute = event.data.object;
      const chargeId = idOf(dispute.charge);
      if (chargeId === undefined) return notHandled(event.type, `dispute ${dispute.id} names no charge`);
      const disputeFact = disputeFactOf(event.type, dispute);
      const pi = dispute.payment_intent;
      const pending = {
        kind: "dispute_needs_references" as const,
        disputeId: dispute.id,
        chargeId,
        ...(typeof pi === "string" ? { paymentIntentId: pi } : {}),
        disputeFact,
      };
      // Expanded (e.g. an event re-fetched with expand[]): the metadata is here already.
      if (pi !== null && typeof pi !== "string")
        return completeDispute(pending, metadataToReferences(pi.metadata));
      return pending;
    }
    case "charge.dispute.funds_withdrawn":
    case "charge.dispute.funds_reinstated":
      // The money follows the dispute: withdrawn when it opens, reinstated when it is won,
      // which the created and closed events already say.
      return ignored(event.type, "the dispute's opening and closing carry its money");
    case "charge.succeeded":
    case "charge.failed":
    case "charge.pending":
    case "charge.captured":
    case "charge.expired":
    case "charge.updated":
      return ignored(event.type, "payment_intent.* events carry the payment's outcome");
    case "charge.refunded":
      return ignored(event.type, "refund events carry each refund's outcome");
    default:
      return newerThanThisCode(event);
  }
}

/** Refunds, as `refund.*` reports them (Stripe also sends `charge.refund.updated` for the same change). */
export function translateRefundEvent(event: RefundEvent): StripeEventTranslation {
  switch (event.type) {
    case "refund.created":
    case "refund.updated":
    case "refund.failed":
      return refundEventFact(event.type, event.data.object);
    default:
      return newerThanThisCode(event);
  }
}

function refundEventFact(eventType: string, refund: Stripe.Refund): StripeEventTranslation {
  const payment = metadataToReferences(refund.metadata);
  const membership = payment === undefined ? membershipRefundReferences(refund.metadata) : undefined;
  const refs = payment ?? membership;
  if (!refs) return refundOutsideSusu(eventType, refund);
  // A membership invoice's refunds carry their amounts: one per payment, they add up to what
  // the invoice collected, which is how the membership knows every payment's refund ended.
  const outcome = refundOutcomeOf(refund);
  const f = refundFact(refs, membership !== undefined ? { ...outcome, amountMinor: refund.amount } : outcome);
  return f === undefined
    ? ignored(eventType, `refund ${refund.id} is still ${refund.status ?? "unknown"}`)
    : fact(f);
}

/**
 * A refund susu did not make (no metadata: Stripe's dashboard, support): a membership invoice's
 * charge may be what it refunded, which only Stripe's invoice payments can tell. A pending
 * refund is no news yet; one that names no payment cannot be resolved.
 */
function refundOutsideSusu(eventType: string, refund: Stripe.Refund): StripeEventTranslation {
  const outcome = refundOutcomeOf(refund);
  if (outcome.status === "pending")
    return ignored(
      eventType,
      `refund ${refund.id} is still ${refund.status ?? "unknown"} (${NOT_FROM_SUSU})`,
    );
  const paymentIntentId = idOf(refund.payment_intent);
  const chargeId = idOf(refund.charge);
  if (paymentIntentId === undefined && chargeId === undefined)
    return ignored(eventType, `${NOT_FROM_SUSU}, and refund ${refund.id} names no payment`);
  return {
    kind: "charge_needs_invoice",
    eventType,
    ...(paymentIntentId !== undefined ? { paymentIntentId } : {}),
    ...(chargeId !== undefined ? { chargeId } : {}),
    chargeFact: {
      kind: "membership_charge_refunded",
      refundId: refund.id,
      amountMinor: refund.amount,
      outcome: outcome.status,
      ...(outcome.status === "failed" ? { failureCode: outcome.failureCode ?? "refund_failed" } : {}),
    },
  };
}

/** A refund susu made of a membership invoice's payment names the membership and the invoice. */
function membershipRefundReferences(
  metadata: Stripe.Metadata | null | undefined,
): PaymentReferences | undefined {
  const refs = billingReferences(metadata);
  return refs.subscriptionId !== undefined && refs.invoiceId !== undefined
    ? { subscriptionId: refs.subscriptionId, invoiceId: refs.invoiceId }
    : undefined;
}

/** Payout transfers. Stripe has no `transfer.failed`: a refused transfer is an API error. */
export function translateTransferEvent(event: TransferEvent): StripeEventTranslation {
  const transfer = event.data.object;
  const refs = metadataToReferences(transfer.metadata);
  switch (event.type) {
    case "transfer.created":
      if (!refs) return ignored(event.type, NOT_FROM_SUSU);
      return fact({ kind: "transfer_created", refs, transferId: transfer.id });
    case "transfer.reversed": {
      if (!refs) return ignored(event.type, NOT_FROM_SUSU);
      // The event's transfer is as it was when this reversal was made: its newest reversal
      // (Stripe lists them newest first) is this one. Stripe documents previous_attributes
      // for *.updated events only, so it is a fallback, never the source.
      const newest = transfer.reversals?.data?.[0];
      const before = event.data.previous_attributes?.amount_reversed;
      const amountMinor =
        newest !== undefined ? newest.amount : before !== undefined ? transfer.amount_reversed - before : 0;
      if (amountMinor <= 0) return ignored(event.type, `transfer ${transfer.id} shows no new reversal`);
      return fact({ kind: "transfer_reversed", refs, transferId: transfer.id, amountMinor });
    }
    case "transfer.updated":
      return ignored(event.type, "metadata or description changes do not move money");
    default:
      return newerThanThisCode(event);
  }
}

/** Connected (payout) accounts. */
export function translateConnectEvent(event: ConnectEvent): StripeEventTranslation {
  switch (event.type) {
    case "account.updated": {
      const reported = connectedAccountStatus(event.data.object);
      return fact({ kind: "payout_account_changed", accountId: reported.accountId, reported });
    }
    case "account.application.deauthorized": {
      // The object is the application; the account that left is the event's `account`.
      if (event.account === undefined) return notHandled(event.type, "no account on a deauthorization event");
      return fact({ kind: "payout_account_disconnected", accountId: event.account });
    }
    case "capability.updated":
      return ignored(event.type, "account.updated reports the same change with the whole account");
    case "account.application.authorized":
    case "account.external_account.created":
    case "account.external_account.deleted":
    case "account.external_account.updated":
      return ignored(event.type, "readiness is read from account.updated");
    default:
      return newerThanThisCode(event);
  }
}

/** BECS set-up and mandates. */
export function translateDebitSetupEvent(event: DebitSetupEvent): StripeEventTranslation {
  switch (event.type) {
    case "mandate.updated": {
      const mandate = event.data.object;
      const status = mandateStatusOf(mandate.status);
      const paymentMethodId = idOf(mandate.payment_method);
      if (status === undefined || paymentMethodId === undefined)
        return notHandled(event.type, `mandate ${mandate.id} is ${mandate.status}`);
      return fact({ kind: "mandate_changed", mandate: { mandateId: mandate.id, status, paymentMethodId } });
    }
    case "setup_intent.succeeded": {
      const si = event.data.object;
      const paymentMethodId = idOf(si.payment_method);
      const mandateId = idOf(si.mandate);
      if (paymentMethodId === undefined || mandateId === undefined)
        return ignored(event.type, `SetupIntent ${si.id} set up no mandate (not a BECS set-up)`);
      return fact({ kind: "debit_setup_succeeded", ...setupOf(si), paymentMethodId, mandateId });
    }
    case "setup_intent.setup_failed": {
      const si = event.data.object;
      const error = si.last_setup_error;
      const failureCode = [error?.decline_code, error?.code].find((c) => c !== undefined && c !== "");
      return fact({ kind: "debit_setup_failed", ...setupOf(si), failureCode: failureCode ?? "setup_failed" });
    }
    case "setup_intent.created":
      return ignored(event.type, "the gateway's answer already reported the new set-up");
    case "setup_intent.requires_action":
    case "setup_intent.canceled":
      return ignored(event.type, "the member finishes or restarts the set-up in the app");
    default:
      return newerThanThisCode(event);
  }
}

/** What every set-up fact says of its SetupIntent. */
function setupOf(si: Stripe.SetupIntent): {
  readonly setupIntentId: string;
  readonly customerId?: string;
  readonly refs?: PaymentReferences;
} {
  const customerId = idOf(si.customer);
  const refs = metadataToReferences(si.metadata);
  return {
    setupIntentId: si.id,
    ...(customerId !== undefined ? { customerId } : {}),
    ...(refs !== undefined ? { refs } : {}),
  };
}

/**
 * Checkout sessions (held-funds payments). A completed session, and the later outcome of a
 * delayed method, say only that its payment changed: whether it was paid is judged by the
 * PaymentIntent, read again when the fact is routed.
 */
export function translateCheckoutEvent(event: CheckoutEvent): StripeEventTranslation {
  switch (event.type) {
    case "checkout.session.completed":
    case "checkout.session.async_payment_succeeded":
    case "checkout.session.async_payment_failed": {
      const session = event.data.object;
      const refs = metadataToReferences(session.metadata);
      if (refs === undefined) return ignored(event.type, NOT_FROM_SUSU);
      const paymentIntentId = idOf(session.payment_intent);
      if (paymentIntentId === undefined)
        return ignored(event.type, `checkout ${session.id} has no payment (mode ${session.mode})`);
      return fact({ kind: "checkout_payment_changed", refs, sessionId: session.id, paymentIntentId });
    }
    case "checkout.session.expired": {
      const session = event.data.object;
      const refs = metadataToReferences(session.metadata);
      if (refs === undefined) return ignored(event.type, NOT_FROM_SUSU);
      // A membership's page (subscription mode) names its subscription: the expiry ends it.
      const { subscriptionId } = billingReferences(session.metadata);
      return fact({
        kind: "checkout_expired",
        refs: subscriptionId !== undefined ? { ...refs, subscriptionId } : refs,
        sessionId: session.id,
      });
    }
    default:
      return newerThanThisCode(event);
  }
}

/**
 * Payouts of connected accounts to their banks, delivered to the platform's Connect
 * endpoint with the account in `event.account`. Every change is the payout as it now
 * stands; the router records it for the account's person, its status only moving forward.
 * The platform's own payouts (no `account`) are not a person's.
 */
export function translatePayoutEvent(event: PayoutEvent): StripeEventTranslation {
  switch (event.type) {
    case "payout.created":
    case "payout.updated":
    case "payout.paid":
    case "payout.failed":
    case "payout.canceled": {
      if (event.account === undefined) return ignored(event.type, "a payout of the platform's own balance");
      const payout = reportedPayoutOf(event.data.object, event.account);
      if (payout === undefined)
        return notHandled(event.type, `payout ${event.data.object.id} has an unknown status or currency`);
      return fact({ kind: "payout_changed", payout });
    }
    case "payout.reconciliation_completed":
      return ignored(event.type, "reconciliation compares the balance transactions a payout settled");
    default:
      return newerThanThisCode(event);
  }
}

/**
 * Subscriptions and invoices (memberships): the subscription's changes, its trial ending,
 * and its invoices paid, failed, waiting for the person or uncollectible
 * (`billing-event-translator.ts`); other billing events need no action.
 */
export function translateBillingEvent(event: BillingEvent): StripeEventTranslation {
  const translated = translateMembershipEvent(event);
  return translated.kind === "fact" ? fact(translated.fact) : ignored(event.type, translated.reason);
}

/** What a dispute event says, before the disputed payment's references are known. */
function disputeFactOf(
  type: "charge.dispute.created" | "charge.dispute.updated" | "charge.dispute.closed",
  dispute: Stripe.Dispute,
): DisputeFactWithoutRefs {
  const dueBy = dispute.evidence_details?.due_by;
  const evidenceDueBy = dueBy !== null && dueBy !== undefined ? { evidenceDueBy: dueBy * 1000 } : {};
  // The disputed payment: what a held payment reads first when the dispute overtook its checkout's news.
  const paymentIntentId = idOf(dispute.payment_intent);
  const payment = paymentIntentId !== undefined ? { paymentIntentId } : {};
  switch (type) {
    case "charge.dispute.created":
      return {
        kind: "dispute_opened",
        disputeId: dispute.id,
        ...payment,
        amountMinor: dispute.amount,
        ...evidenceDueBy,
        reason: dispute.reason,
        status: dispute.status,
      };
    case "charge.dispute.updated":
      return {
        kind: "dispute_updated",
        disputeId: dispute.id,
        ...payment,
        status: dispute.status,
        ...evidenceDueBy,
      };
    case "charge.dispute.closed":
      // Only `lost` takes the money; a won dispute, a closed inquiry (`warning_closed`) or a
      // prevented one leaves it with the platform.
      return {
        kind: "dispute_closed",
        disputeId: dispute.id,
        ...payment,
        outcome: dispute.status === "lost" ? "lost" : "won",
        amountMinor: dispute.amount,
      };
  }
}

const DISPUTE_EVENT_TYPE = {
  dispute_opened: "charge.dispute.created",
  dispute_updated: "charge.dispute.updated",
  dispute_closed: "charge.dispute.closed",
} as const;

/**
 * Finishes a dispute translation with the references of the disputed payment. A payment
 * susu did not make (no references) is ignored.
 */
export function completeDispute(
  pending: Extract<StripeEventTranslation, { kind: "dispute_needs_references" }>,
  references: PaymentReferences | undefined,
): StripeEventTranslation {
  if (references === undefined) return ignored(DISPUTE_EVENT_TYPE[pending.disputeFact.kind], NOT_FROM_SUSU);
  return fact({ ...pending.disputeFact, refs: references });
}

/**
 * Finishes a translation of a charge's news (a refund outside susu, a dispute of a payment
 * with no susu metadata) with the invoice its payment paid: `refs` name a susu membership and
 * the invoice, or `unresolved` says why none does (not an invoice's payment, or not a
 * membership of susu's), which the audit keeps.
 */
export function completeChargeOfInvoice(
  pending: {
    readonly eventType: string;
    readonly chargeFact: InvoiceChargeFactWithoutRefs;
  },
  found: InvoiceReferences,
): StripeEventTranslation {
  if ("unresolved" in found) return ignored(pending.eventType, `${NOT_FROM_SUSU}; ${found.unresolved}`);
  return fact({ ...pending.chargeFact, refs: found.refs });
}

/** Resolves a payment to its invoice (see `StripePaymentGateway.getInvoiceReferences`). */
export type InvoiceReferencesLookup = (ids: {
  readonly paymentIntentId?: string;
  readonly chargeId?: string;
}) => ResultAsync<InvoiceReferences, GatewayError>;

/** Finds the references of a payment by PaymentIntent or charge (see `StripePaymentGateway.getPaymentReferences`). */
export type PaymentReferencesLookup = (ids: {
  readonly paymentIntentId?: string;
  readonly chargeId: string;
}) => ResultAsync<PaymentReferences | undefined, GatewayError>;

/** Every refund of an application fee, oldest first (see `StripePaymentGateway.listApplicationFeeRefunds`). */
export type FeeRefundsLookup = (feeId: string) => ResultAsync<readonly FeeRefundSeen[], GatewayError>;

/**
 * {@link translateStripeEvent}, then the lookups a dispute or a fee refund needs: the
 * payment's references, and — when the event's fee lists only its newest refunds
 * (`has_more`) — all of the fee's refunds. The rest stays pure; a failed lookup is the
 * gateway's error, so the webhook worker retries the event later.
 */
export function translateStripeEventWith(
  event: Stripe.Event,
  lookup: PaymentReferencesLookup,
  listFeeRefunds?: FeeRefundsLookup,
  findInvoice?: InvoiceReferencesLookup,
): ResultAsync<StripeEventTranslation, GatewayError> {
  const translation = translateStripeEvent(event);
  if (translation.kind === "charge_needs_invoice") {
    if (findInvoice === undefined)
      return okAsync(ignored(event.type, `${NOT_FROM_SUSU} (no invoice lookup to resolve its payment)`));
    return findInvoice({
      ...(translation.paymentIntentId !== undefined ? { paymentIntentId: translation.paymentIntentId } : {}),
      ...(translation.chargeId !== undefined ? { chargeId: translation.chargeId } : {}),
    }).map((found) => completeChargeOfInvoice(translation, found));
  }
  if (translation.kind === "fee_refund_needs_references") {
    const feeRefunds: ResultAsync<readonly FeeRefundSeen[], GatewayError> =
      translation.moreFeeRefunds && listFeeRefunds !== undefined
        ? listFeeRefunds(translation.feeId)
        : okAsync(translation.feeRefundFact.feeRefunds);
    return feeRefunds.andThen((all) =>
      lookup({ chargeId: translation.chargeId }).map((refs) =>
        refs === undefined
          ? ignored(event.type, NOT_FROM_SUSU)
          : fact({ ...translation.feeRefundFact, feeRefunds: all, refs }),
      ),
    );
  }
  if (translation.kind !== "dispute_needs_references") return okAsync(translation);
  const ids = {
    chargeId: translation.chargeId,
    ...(translation.paymentIntentId !== undefined ? { paymentIntentId: translation.paymentIntentId } : {}),
  };
  return lookup(ids).andThen((references) =>
    // A payment with no susu metadata may be a membership invoice's (Stripe Billing's charges
    // carry none): its invoice payment says.
    references === undefined && findInvoice !== undefined
      ? findInvoice(ids).map((found) =>
          completeChargeOfInvoice(
            {
              eventType: DISPUTE_EVENT_TYPE[translation.disputeFact.kind],
              chargeFact: translation.disputeFact,
            },
            found,
          ),
        )
      : okAsync(completeDispute(translation, references)),
  );
}
