import {
  type FactError,
  type FeeRefundSeen,
  type GatewayError,
  type PaymentReader,
  type PaymentReferences,
  type UseCaseDeps,
  useCases,
} from "@susu/domain";
import { errAsync, okAsync, ResultAsync } from "neverthrow";
import type Stripe from "stripe";
import { type StripeEventTranslation, translateStripeEventWith } from "../stripe/event-translator.js";
import type { InvoiceReferences } from "../stripe/invoice-payment-lookup.js";

/**
 * The Stripe reads the processor makes: the references of a disputed payment, and the
 * current state of accounts and mandates (`StripePaymentGateway` has all three).
 */
export interface WebhookGateway extends PaymentReader {
  getPaymentReferences(ids: {
    readonly paymentIntentId?: string;
    readonly chargeId?: string;
  }): ResultAsync<PaymentReferences | undefined, GatewayError>;
  /**
   * Every refund of an application fee, oldest first, for an `application_fee.refunded`
   * whose fee lists only its newest (`has_more`). Without it, the listed ones are read.
   */
  listApplicationFeeRefunds?(feeId: string): ResultAsync<readonly FeeRefundSeen[], GatewayError>;
  /**
   * The membership invoice a payment with no susu metadata paid (a refund made outside susu,
   * a dispute of a Stripe Billing charge). Without it, such news is ignored as not susu's.
   */
  getInvoiceReferences?(ids: {
    readonly paymentIntentId?: string;
    readonly chargeId?: string;
  }): ResultAsync<InvoiceReferences, GatewayError>;
}

/**
 * Where failed card charges are recorded for the API's payment-attempt limiter
 * (`PrismaPaymentAttemptStore.record`): once per charge, however often Stripe reports it.
 */
export interface PaymentFailureRecorder {
  record(bucket: string, eventKey: string, atMs: number, keepMs: number): Promise<void>;
}

/** The bucket of a card fingerprint's failed charges; the API's limiter reads it (`CARD_FAILED_BUCKET_PREFIX`). */
export function cardFailureBucket(fingerprint: string): string {
  return `card_failed:${fingerprint}`;
}

/** How long a failed charge is remembered: the longest window the API's limiter may look back over. */
export const CARD_FAILURE_KEEP_MS = 7 * 24 * 3_600_000;

/** What processing an event needs. */
export interface WebhookContext {
  readonly deps: UseCaseDeps;
  readonly gateway: WebhookGateway;
  /** Records failed card charges for the payment-attempt limits; none: not recorded. */
  readonly paymentFailures?: PaymentFailureRecorder;
}

/**
 * A `charge.failed` of a card: its fingerprint's failure, recorded before the event is
 * applied (a failed recording fails the event, which is retried). Other events: nothing.
 */
function recordCardFailure(event: Stripe.Event, ctx: WebhookContext): ResultAsync<void, WebhookFailure> {
  if (event.type !== "charge.failed" || ctx.paymentFailures === undefined) return okAsync(undefined);
  const charge = event.data.object;
  const fingerprint = charge.payment_method_details?.card?.fingerprint;
  if (typeof fingerprint !== "string" || fingerprint === "") return okAsync(undefined);
  return ResultAsync.fromPromise(
    ctx.paymentFailures.record(
      cardFailureBucket(fingerprint),
      charge.id,
      event.created * 1000,
      CARD_FAILURE_KEEP_MS,
    ),
    (error): WebhookFailure => ({
      code: "card_failure_not_recorded",
      message: `charge ${charge.id}'s failure was not recorded: ${error instanceof Error ? error.message : String(error)}`,
      retryable: true,
    }),
  );
}

/** What an event did: applied (`processed`), or nothing to do (`ignored`, with why). */
export type WebhookOutcome =
  | { readonly status: "processed"; readonly outcome: string }
  | { readonly status: "ignored"; readonly reason: string };

/** Why processing an event failed, and whether trying again later can help. */
export interface WebhookFailure {
  readonly code: string;
  readonly message: string;
  /** `false`: the same event will fail the same way (the processor parks it at once). */
  readonly retryable: boolean;
  /** The group and round concerned, when known (for the support ticket). */
  readonly groupId?: string;
  readonly roundId?: string;
}

/**
 * Storage trouble, lost optimistic races, provider reads that may pass and news that came
 * before what it is about (`invoice_not_paid_yet`: a membership invoice's charge refunded or
 * disputed before its payment was heard) are retried; a refusal by the domain or the database
 * (an input or state it considers invalid) will be refused again, so retrying it only delays
 * the ticket.
 */
function failureOf(error: FactError, about: { groupId?: string; roundId?: string }): WebhookFailure {
  const retryable =
    error.type === "storage_unavailable" ||
    error.type === "version_conflict" ||
    error.type === "duplicate" ||
    error.type === "gateway_retryable" ||
    error.type === "gateway_outcome_unknown" ||
    error.type === "invoice_not_paid_yet";
  return { code: error.code, message: error.message, retryable, ...about };
}

function aboutOf(t: StripeEventTranslation): { groupId?: string; roundId?: string } {
  if (t.kind !== "fact" || !("refs" in t.fact) || t.fact.refs === undefined) return {};
  const { groupId, roundId } = t.fact.refs;
  return { ...(groupId !== undefined ? { groupId } : {}), ...(roundId !== undefined ? { roundId } : {}) };
}

function apply(
  ctx: WebhookContext,
  t: StripeEventTranslation,
  actor: string,
): ResultAsync<WebhookOutcome, WebhookFailure> {
  switch (t.kind) {
    case "fact":
      return useCases
        .applyPaymentFact(ctx.deps, { reader: ctx.gateway }, t.fact, actor)
        .map(
          (o): WebhookOutcome =>
            o.status === "applied"
              ? { status: "processed", outcome: o.detail }
              : { status: "ignored", reason: o.detail },
        )
        .mapErr((e) => failureOf(e, aboutOf(t)));
    case "dispute_needs_references":
      // translateStripeEventWith has already looked the references up; it only returns
      // this when the lookup was not made, which would be a bug in this module.
      return errAsync({
        code: "dispute_references_missing",
        message: `dispute ${t.disputeId} reached processing without its payment's references`,
        retryable: false,
      });
    case "charge_needs_invoice":
      return errAsync({
        code: "invoice_references_missing",
        message: `${t.eventType} reached processing without its payment's invoice`,
        retryable: false,
      });
    case "fee_refund_needs_references":
      return errAsync({
        code: "fee_refund_references_missing",
        message: `application fee ${t.feeId}'s refunds reached processing without its charge's references`,
        retryable: false,
      });
    case "ignored":
      return okAsync({ status: "ignored", reason: t.reason });
    case "not_handled":
      return okAsync({ status: "ignored", reason: `not handled: ${t.reason}` });
  }
}

/**
 * Applies one verified Stripe event to the domain: translates it into a payment fact
 * (looking up a disputed payment's references through the gateway) and hands the fact
 * to the domain's router, `useCases.applyPaymentFact` — the same code the in-memory
 * system runs — as actor `stripe:<event id>`.
 *
 * Safe to run twice and in any order (see `applyPaymentFact`). A round, group or person
 * that does not exist makes the event `ignored` (with why), not a failure: retrying
 * cannot make it appear.
 */
export function processWebhookEvent(
  event: Stripe.Event,
  ctx: WebhookContext,
): ResultAsync<WebhookOutcome, WebhookFailure> {
  const actor = `stripe:${event.id}`;
  return recordCardFailure(event, ctx)
    .andThen(() =>
      translateStripeEventWith(
        event,
        (ids) => ctx.gateway.getPaymentReferences(ids),
        ctx.gateway.listApplicationFeeRefunds?.bind(ctx.gateway),
        ctx.gateway.getInvoiceReferences?.bind(ctx.gateway),
      ).mapErr((e) => failureOf(e, {})),
    )
    .andThen((translation) => apply(ctx, translation, actor));
}
