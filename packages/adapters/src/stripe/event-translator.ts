import type {
  ConnectedAccountStatus,
  GatewayError,
  MandateStatus,
  PaymentReferences,
  RoundInput,
} from "@susu/domain";
import { okAsync, type ResultAsync } from "neverthrow";
import type Stripe from "stripe";
import { metadataToReferences } from "./payment-metadata.js";
import { connectedAccountStatus, idOf, mandateStatusOf, paymentFailureCode } from "./stripe-mappings.js";

/**
 * What a verified Stripe event means for susu. Pure data: the webhook worker decides
 * which use case runs it.
 *
 * - `round_input`: a fact for one round (from the object's `group_id` / `round_id` /
 *   `member_id` / `attempt` metadata, written by {@link StripePaymentGateway}).
 * - `dispute_needs_references`: a dispute names only its charge and PaymentIntent, which
 *   carry the metadata; look the PaymentIntent's references up (e.g. with
 *   `StripePaymentGateway.getPaymentReferences`) and finish with {@link completeDispute}.
 * - `payout_readiness`: a connected account's ability to receive, for the members and
 *   rounds that pay into it.
 * - `account_deauthorized`: the account disconnected from the platform; it cannot receive.
 * - `mandate_status`: a BECS mandate changed (inactive after a permanent failure or a revocation).
 * - `debit_setup`: a member's BECS set-up finished, with the payment method and mandate to store.
 * - `ignored`: a known event that needs no action, with why (kept for the audit log).
 * - `not_handled`: an event type no susu flow understands; store and acknowledge it.
 */
export type StripeEventTranslation =
  | {
      readonly kind: "round_input";
      readonly groupId: string;
      readonly roundId: string;
      readonly input: RoundInput;
    }
  | {
      readonly kind: "dispute_needs_references";
      readonly disputeId: string;
      readonly chargeId: string;
      /** `undefined` when the dispute names no PaymentIntent: look the charge up instead. */
      readonly paymentIntentId?: string;
      readonly amountMinor: number;
    }
  | {
      readonly kind: "payout_readiness";
      readonly accountId: string;
      /** Transfers can be made to the account and it can pay them out to its bank. */
      readonly canReceive: boolean;
      readonly status: ConnectedAccountStatus;
    }
  | { readonly kind: "account_deauthorized"; readonly accountId: string }
  | { readonly kind: "mandate_status"; readonly mandate: MandateStatus }
  | {
      readonly kind: "debit_setup";
      readonly setupIntentId: string;
      readonly customerId?: string;
      readonly references?: PaymentReferences;
      readonly outcome:
        | { readonly status: "succeeded"; readonly paymentMethodId: string; readonly mandateId: string }
        | { readonly status: "failed"; readonly failureCode: string };
    }
  | { readonly kind: "ignored"; readonly eventType: string; readonly reason: string }
  | { readonly kind: "not_handled"; readonly eventType: string; readonly reason: string };

type EventOf<T extends string> = Extract<Stripe.Event, { type: T }>;

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

const NOT_FROM_A_ROUND = "the object carries no round references (not created by a round effect)";

type RoundRefs = { readonly groupId: string; readonly roundId: string; readonly memberId: string };

function roundRefs(metadata: Stripe.Metadata | null | undefined): RoundRefs | undefined {
  const refs = metadataToReferences(metadata);
  if (refs?.groupId === undefined || refs.roundId === undefined || refs.memberId === undefined)
    return undefined;
  return { groupId: refs.groupId, roundId: refs.roundId, memberId: refs.memberId };
}

function roundInput(refs: RoundRefs, input: RoundInput): StripeEventTranslation {
  return { kind: "round_input", groupId: refs.groupId, roundId: refs.roundId, input };
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
  if (isBillingEvent(event)) return translateBillingEvent(event);
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
function isBillingEvent(event: Stripe.Event): event is BillingEvent {
  return event.type.startsWith("customer.subscription.") || event.type.startsWith("invoice.");
}

/** BECS debits: the PaymentIntent's state changes are the round's debit facts. */
export function translatePaymentIntentEvent(event: PaymentIntentEvent): StripeEventTranslation {
  const pi = event.data.object;
  const refs = roundRefs(pi.metadata);
  const attempt = metadataToReferences(pi.metadata)?.attempt;
  const debit = refs !== undefined && attempt !== undefined ? { refs, attempt } : undefined;
  switch (event.type) {
    case "payment_intent.processing":
      if (!debit) return ignored(event.type, NOT_FROM_A_ROUND);
      return roundInput(debit.refs, {
        type: "debit_processing",
        memberId: debit.refs.memberId,
        attempt: debit.attempt,
        paymentIntentId: pi.id,
      });
    case "payment_intent.succeeded": {
      if (!debit) return ignored(event.type, NOT_FROM_A_ROUND);
      const chargeId = idOf(pi.latest_charge);
      if (chargeId === undefined)
        return notHandled(event.type, `PaymentIntent ${pi.id} succeeded with no charge`);
      return roundInput(debit.refs, {
        type: "debit_succeeded",
        memberId: debit.refs.memberId,
        attempt: debit.attempt,
        paymentIntentId: pi.id,
        chargeId,
      });
    }
    case "payment_intent.payment_failed":
      if (!debit) return ignored(event.type, NOT_FROM_A_ROUND);
      return roundInput(debit.refs, {
        type: "debit_failed",
        memberId: debit.refs.memberId,
        attempt: debit.attempt,
        paymentIntentId: pi.id,
        failureCode: paymentFailureCode(pi),
      });
    case "payment_intent.canceled":
      // susu never cancels a debit; if someone does (dashboard), the money will not come.
      if (!debit) return ignored(event.type, NOT_FROM_A_ROUND);
      return roundInput(debit.refs, {
        type: "debit_failed",
        memberId: debit.refs.memberId,
        attempt: debit.attempt,
        paymentIntentId: pi.id,
        failureCode: pi.cancellation_reason ? `canceled_${pi.cancellation_reason}` : "canceled",
      });
    case "payment_intent.created":
      return ignored(event.type, "the gateway's answer already reported the new debit");
    case "payment_intent.requires_action":
    case "payment_intent.amount_capturable_updated":
    case "payment_intent.partially_funded":
      return ignored(event.type, "only card flows see this state; rounds debit off session by BECS");
    default:
      return newerThanThisCode(event);
  }
}

/** Charges: refunds reported on the charge, and disputes. Payment outcomes come from payment_intent.*. */
export function translateChargeEvent(event: ChargeEvent): StripeEventTranslation {
  switch (event.type) {
    case "charge.refund.updated":
      return refundFact(event.type, event.data.object);
    case "charge.dispute.created": {
      const dispute = event.data.object;
      const chargeId = idOf(dispute.charge);
      if (chargeId === undefined) return notHandled(event.type, `dispute ${dispute.id} names no charge`);
      const pi = dispute.payment_intent;
      if (pi !== null && typeof pi !== "string") {
        // Expanded (e.g. an event re-fetched with expand[]): the metadata is here already.
        return completeDispute(
          { kind: "dispute_needs_references", disputeId: dispute.id, chargeId, amountMinor: dispute.amount },
          metadataToReferences(pi.metadata),
        );
      }
      return {
        kind: "dispute_needs_references",
        disputeId: dispute.id,
        chargeId,
        ...(pi !== null ? { paymentIntentId: pi } : {}),
        amountMinor: dispute.amount,
      };
    }
    case "charge.dispute.updated":
    case "charge.dispute.closed":
    case "charge.dispute.funds_withdrawn":
    case "charge.dispute.funds_reinstated":
      // BECS disputes are final when opened (the loss is recorded then); card dispute
      // outcomes belong to the booking flows, which do not exist yet.
      return ignored(event.type, "rounds act on a dispute when it opens");
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
      return refundFact(event.type, event.data.object);
    default:
      return newerThanThisCode(event);
  }
}

function refundFact(eventType: string, refund: Stripe.Refund): StripeEventTranslation {
  const refs = roundRefs(refund.metadata);
  if (!refs) return ignored(eventType, NOT_FROM_A_ROUND);
  switch (refund.status) {
    case "succeeded":
      return roundInput(refs, { type: "refund_succeeded", memberId: refs.memberId, refundId: refund.id });
    case "failed":
      return roundInput(refs, {
        type: "refund_failed",
        memberId: refs.memberId,
        failureCode: refund.failure_reason ?? "refund_failed",
      });
    case "canceled":
      // Cancelled by Stripe when the debit it waited for failed: nothing came in, nothing goes back.
      return roundInput(refs, { type: "refund_failed", memberId: refs.memberId, failureCode: "canceled" });
    default:
      return ignored(eventType, `refund ${refund.id} is still ${refund.status ?? "unknown"}`);
  }
}

/** Payout transfers. Stripe has no `transfer.failed`: a refused transfer is an API error. */
export function translateTransferEvent(event: TransferEvent): StripeEventTranslation {
  const transfer = event.data.object;
  const refs = roundRefs(transfer.metadata);
  switch (event.type) {
    case "transfer.created": {
      const attempt = metadataToReferences(transfer.metadata)?.attempt;
      if (!refs || attempt === undefined) return ignored(event.type, NOT_FROM_A_ROUND);
      return roundInput(refs, {
        type: "transfer_created",
        sourceMemberId: refs.memberId,
        attempt,
        transferId: transfer.id,
      });
    }
    case "transfer.reversed": {
      if (!refs) return ignored(event.type, NOT_FROM_A_ROUND);
      // The event's transfer shows the total reversed so far; this reversal is the change.
      const before = event.data.previous_attributes?.amount_reversed ?? 0;
      const amountMinor = transfer.amount_reversed - before;
      if (amountMinor <= 0) return ignored(event.type, `transfer ${transfer.id} shows no new reversal`);
      return roundInput(refs, {
        type: "transfer_reversed",
        sourceMemberId: refs.memberId,
        transferId: transfer.id,
        amountMinor,
      });
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
      const status = connectedAccountStatus(event.data.object);
      return {
        kind: "payout_readiness",
        accountId: status.accountId,
        canReceive: status.transfersActive && status.payoutsEnabled,
        status,
      };
    }
    case "account.application.deauthorized": {
      // The object is the application; the account that left is the event's `account`.
      if (event.account === undefined) return notHandled(event.type, "no account on a deauthorization event");
      return { kind: "account_deauthorized", accountId: event.account };
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
      return { kind: "mandate_status", mandate: { mandateId: mandate.id, status, paymentMethodId } };
    }
    case "setup_intent.succeeded": {
      const si = event.data.object;
      const paymentMethodId = idOf(si.payment_method);
      const mandateId = idOf(si.mandate);
      if (paymentMethodId === undefined || mandateId === undefined)
        return ignored(event.type, `SetupIntent ${si.id} set up no mandate (not a BECS set-up)`);
      return debitSetup(si, { status: "succeeded", paymentMethodId, mandateId });
    }
    case "setup_intent.setup_failed": {
      const si = event.data.object;
      const error = si.last_setup_error;
      const failureCode = [error?.decline_code, error?.code].find((c) => c !== undefined && c !== "");
      return debitSetup(si, { status: "failed", failureCode: failureCode ?? "setup_failed" });
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

function debitSetup(
  si: Stripe.SetupIntent,
  outcome: Extract<StripeEventTranslation, { kind: "debit_setup" }>["outcome"],
): StripeEventTranslation {
  const customerId = idOf(si.customer);
  const references = metadataToReferences(si.metadata);
  return {
    kind: "debit_setup",
    setupIntentId: si.id,
    ...(customerId !== undefined ? { customerId } : {}),
    ...(references !== undefined ? { references } : {}),
    outcome,
  };
}

/** Checkout: the booking and marketplace flows that will use it are not in the domain yet. */
export function translateCheckoutEvent(event: CheckoutEvent): StripeEventTranslation {
  switch (event.type) {
    case "checkout.session.completed":
    case "checkout.session.async_payment_succeeded":
    case "checkout.session.async_payment_failed":
    case "checkout.session.expired":
      return ignored(event.type, "no checkout flow in the domain yet");
    default:
      return newerThanThisCode(event);
  }
}

/** Subscriptions and invoices: not in the domain yet. */
export function translateBillingEvent(event: BillingEvent): StripeEventTranslation {
  switch (event.type) {
    case "customer.subscription.created":
    case "customer.subscription.updated":
    case "customer.subscription.deleted":
    case "customer.subscription.paused":
    case "customer.subscription.resumed":
    case "customer.subscription.trial_will_end":
    case "customer.subscription.pending_update_applied":
    case "customer.subscription.pending_update_expired":
    case "invoice.created":
    case "invoice.deleted":
    case "invoice.finalization_failed":
    case "invoice.finalized":
    case "invoice.marked_uncollectible":
    case "invoice.overdue":
    case "invoice.overpaid":
    case "invoice.paid":
    case "invoice.payment_action_required":
    case "invoice.payment_attempt_required":
    case "invoice.payment_failed":
    case "invoice.payment_succeeded":
    case "invoice.sent":
    case "invoice.upcoming":
    case "invoice.updated":
    case "invoice.voided":
    case "invoice.will_be_due":
      return ignored(event.type, "no subscription flow in the domain yet");
    default:
      return newerThanThisCode(event);
  }
}

/**
 * Finishes a dispute translation with the references of the disputed payment. Without
 * round references (a payment not made by a round) the dispute is ignored for rounds.
 */
export function completeDispute(
  pending: Extract<StripeEventTranslation, { kind: "dispute_needs_references" }>,
  references: PaymentReferences | undefined,
): StripeEventTranslation {
  if (
    references?.groupId === undefined ||
    references.roundId === undefined ||
    references.memberId === undefined
  )
    return ignored("charge.dispute.created", NOT_FROM_A_ROUND);
  return roundInput(
    { groupId: references.groupId, roundId: references.roundId, memberId: references.memberId },
    {
      type: "dispute_opened",
      memberId: references.memberId,
      disputeId: pending.disputeId,
      amountMinor: pending.amountMinor,
    },
  );
}

/** Finds the references of a payment by PaymentIntent or charge (see `StripePaymentGateway.getPaymentReferences`). */
export type PaymentReferencesLookup = (ids: {
  readonly paymentIntentId?: string;
  readonly chargeId: string;
}) => ResultAsync<PaymentReferences | undefined, GatewayError>;

/**
 * {@link translateStripeEvent}, then the one lookup a dispute needs. The rest stays pure;
 * a failed lookup is the gateway's error, so the webhook worker retries the event later.
 */
export function translateStripeEventWith(
  event: Stripe.Event,
  lookup: PaymentReferencesLookup,
): ResultAsync<StripeEventTranslation, GatewayError> {
  const translation = translateStripeEvent(event);
  if (translation.kind !== "dispute_needs_references") return okAsync(translation);
  return lookup({
    chargeId: translation.chargeId,
    ...(translation.paymentIntentId !== undefined ? { paymentIntentId: translation.paymentIntentId } : {}),
  }).map((references) => completeDispute(translation, references));
}
