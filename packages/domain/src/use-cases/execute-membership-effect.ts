import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import { type PaymentObjectFact, refundFact } from "../facts/payment-fact.js";
import type { PlanEffect, SubscriptionEffect } from "../membership/membership-effect.js";
import type { SubscriptionSnapshot } from "../membership/subscription-input.js";
import { money } from "../money/index.js";
import type { BillingGateway } from "../ports/billing-gateway.js";
import type { OutboxEffect } from "../ports/outbox-effect.js";
import type { GatewayError, PaymentReferences, RefundOutcome } from "../ports/payment-gateway.js";

/** The membership effects that call the billing gateway (notices and postings are shared). */
export type BillingEffect =
  | PlanEffect
  | Extract<
      SubscriptionEffect,
      {
        readonly kind:
          | "create_subscription"
          | "create_subscription_checkout"
          | "expire_subscription_checkout"
          | "change_subscription_price"
          | "cancel_subscription"
          | "set_subscription_payment_method"
          | "void_subscription_invoice"
          | "refund_subscription_invoice";
      }
    >;

/** Whether an effect is one {@link executeBillingEffect} carries out. */
export function isBillingEffect(effect: OutboxEffect): effect is BillingEffect {
  return (
    "aggregate" in effect &&
    (effect.aggregate === "plan" || effect.aggregate === "subscription") &&
    (effect.kind === "create_plan_price" ||
      effect.kind === "update_plan_product" ||
      effect.kind === "create_subscription" ||
      effect.kind === "create_subscription_checkout" ||
      effect.kind === "expire_subscription_checkout" ||
      effect.kind === "change_subscription_price" ||
      effect.kind === "cancel_subscription" ||
      effect.kind === "set_subscription_payment_method" ||
      effect.kind === "void_subscription_invoice" ||
      effect.kind === "refund_subscription_invoice")
  );
}

/** How a billing call failed, for the dispatcher: a definite refusal is parked (a ticket), anything else retried. */
export interface BillingFailure {
  readonly code: string;
  readonly message: string;
  readonly retry: boolean;
  /** Refused for good by the provider: its key is spent (see `EffectFailure.refused`). */
  readonly refused?: boolean;
}

const failed = (e: GatewayError): BillingFailure =>
  e.type === "gateway_definite"
    ? { code: e.code, message: e.message, retry: false, refused: true }
    : { code: e.code, message: e.message, retry: true };

/**
 * Carries out a plan's or a subscription's Stripe call with the effect id as its
 * idempotency key, and answers the facts the answer reports. A refusal to start a
 * subscription is a fact the subscription hears (it expires), and so are a refusal to change
 * its price (the pending change is dropped and the person told) and a refusal to charge it on
 * another card (the card change is dropped and the person told); other definite refusals
 * are parked for an operator. Without a billing gateway (a deployment that wired none) the
 * effect is parked too.
 */
export function executeBillingEffect(
  billing: BillingGateway | undefined,
  effect: BillingEffect,
): ResultAsync<readonly PaymentObjectFact[], BillingFailure> {
  if (billing === undefined)
    return errAsync({ code: "billing_not_configured", message: "no billing gateway is wired", retry: false });
  const subscriptionRefs = { subscriptionId: effect.aggregateId };
  const snapshotFact = (snapshot: SubscriptionSnapshot): readonly PaymentObjectFact[] => [
    { kind: "subscription_changed", refs: subscriptionRefs, snapshot },
  ];
  const startRefused = (e: GatewayError): ResultAsync<readonly PaymentObjectFact[], BillingFailure> =>
    e.type === "gateway_definite"
      ? okAsync([
          {
            kind: "subscription_start_refused",
            refs: subscriptionRefs,
            failureCode: e.code,
            failureMessage: e.message,
          },
        ])
      : errAsync(failed(e));
  switch (effect.kind) {
    case "create_plan_price":
      return billing
        .createPlanPrice({
          idempotencyKey: effect.id,
          productId: effect.productId,
          productName: effect.productName,
          amount: money(effect.amountMinor, effect.currency),
          interval: effect.interval,
          references: { planId: effect.aggregateId },
        })
        .map(({ priceId }): readonly PaymentObjectFact[] => [
          {
            kind: "plan_price_created",
            refs: { planId: effect.aggregateId },
            key: effect.key,
            revision: effect.revision,
            priceId,
          },
        ])
        .mapErr(failed);
    case "update_plan_product":
      return billing
        .updatePlanProduct({
          idempotencyKey: effect.id,
          productId: effect.productId,
          name: effect.name,
          active: effect.active,
        })
        .map((): readonly PaymentObjectFact[] => [])
        .mapErr(failed);
    case "create_subscription":
      return billing
        .createSubscription({
          idempotencyKey: effect.id,
          customerId: effect.stripeCustomerId,
          priceId: effect.stripePriceId,
          paymentMethodId: effect.paymentMethodId,
          trialDays: effect.trialDays,
          references: { subscriptionId: effect.aggregateId, personId: effect.metadata.personId },
        })
        .map(snapshotFact)
        .orElse(startRefused);
    case "create_subscription_checkout":
      return billing
        .createSubscriptionCheckout({
          idempotencyKey: effect.id,
          customerId: effect.stripeCustomerId,
          priceId: effect.stripePriceId,
          trialDays: effect.trialDays,
          successUrl: effect.successUrl,
          cancelUrl: effect.cancelUrl,
          references: { subscriptionId: effect.aggregateId, personId: effect.metadata.personId },
        })
        .map(({ sessionId, url }): readonly PaymentObjectFact[] => [
          { kind: "subscription_checkout_created", refs: subscriptionRefs, sessionId, url },
        ])
        .orElse(startRefused);
    case "expire_subscription_checkout":
      // Nothing to report: a page paid before it could be expired starts a subscription,
      // and that subscription's own events tell the (canceled) membership.
      return billing
        .expireCheckoutSession({ idempotencyKey: effect.id, sessionId: effect.sessionId })
        .map((): readonly PaymentObjectFact[] => [])
        .mapErr(failed);
    case "change_subscription_price":
      return billing
        .changeSubscriptionPrice({
          idempotencyKey: effect.id,
          subscriptionId: effect.stripeSubscriptionId,
          priceId: effect.stripePriceId,
          prorationBehavior: effect.prorationBehavior,
        })
        .map((snapshot) =>
          // Stripe's answer shows the change neither made (its price) nor held until its invoice
          // is paid (a pending update to it): it never took effect, and no later news of it will
          // come. Refused, as a definite error is: the pending change is dropped, the person told.
          changeTookEffect(snapshot, effect.stripePriceId)
            ? snapshotFact(snapshot)
            : [
                ...snapshotFact(snapshot),
                {
                  kind: "subscription_change_refused",
                  refs: subscriptionRefs,
                  changeId: effect.id,
                  failureCode: "change_not_made",
                  failureMessage: `Stripe's answer to ${effect.id} shows price ${snapshot.stripePriceId}, not ${effect.stripePriceId}, and no pending update to it`,
                } satisfies PaymentObjectFact,
              ],
        )
        .orElse((e) =>
          e.type === "gateway_definite"
            ? okAsync<readonly PaymentObjectFact[], BillingFailure>([
                {
                  kind: "subscription_change_refused",
                  refs: subscriptionRefs,
                  changeId: effect.id,
                  failureCode: e.code,
                  failureMessage: e.message,
                },
              ])
            : errAsync(failed(e)),
        );
    case "cancel_subscription":
      return billing
        .cancelSubscription({
          idempotencyKey: effect.id,
          subscriptionId: effect.stripeSubscriptionId,
          mode: effect.mode,
        })
        .map(snapshotFact)
        .mapErr(failed);
    case "set_subscription_payment_method":
      // Stripe's answer is its view of the subscription, naming the method it now charges.
      return (
        billing
          .setSubscriptionPaymentMethod({
            idempotencyKey: effect.id,
            subscriptionId: effect.stripeSubscriptionId,
            paymentMethodId: effect.paymentMethodId,
          })
          .map(snapshotFact)
          // A definite refusal is the membership's news (the card change is dropped and the
          // person told), not an effect parked for an operator.
          .orElse((e) =>
            e.type === "gateway_definite"
              ? okAsync<readonly PaymentObjectFact[], BillingFailure>([
                  {
                    kind: "subscription_payment_method_refused",
                    refs: subscriptionRefs,
                    changeId: effect.id,
                    paymentMethodId: effect.paymentMethodId,
                    failureCode: e.code,
                    failureMessage: e.message,
                  },
                ])
              : errAsync(failed(e)),
          )
      );
    case "void_subscription_invoice":
      // The answer goes to the membership: a void Stripe could not make while the invoice's
      // debit is processing waits for the debit (an invoice paid before the void is refunded
      // as its news comes).
      return billing
        .voidInvoice({ idempotencyKey: effect.id, invoiceId: effect.stripeInvoiceId })
        .map(({ status }): readonly PaymentObjectFact[] => [
          {
            kind: "invoice_void_answered",
            refs: { subscriptionId: effect.aggregateId, invoiceId: effect.stripeInvoiceId },
            voidId: effect.id,
            status,
          },
        ])
        .mapErr(failed);
    case "refund_subscription_invoice": {
      // The refunds' references name the membership and the invoice, so their events
      // (a pending refund's outcome, a refund failed later) come back to it.
      const refs = { subscriptionId: effect.aggregateId, invoiceId: effect.stripeInvoiceId };
      return billing
        .refundInvoicePayments({
          idempotencyKey: effect.id,
          invoiceId: effect.stripeInvoiceId,
          references: refs,
        })
        .map((outcomes) => invoiceRefundFacts(refs, outcomes))
        .orElse((e) =>
          e.type === "gateway_definite"
            ? okAsync<readonly PaymentObjectFact[], BillingFailure>([
                { kind: "refund_failed", refs, failureCode: e.code },
              ])
            : errAsync(failed(e)),
        );
    }
  }
}

/**
 * Whether Stripe's answer to a price change shows it made (the subscription on `priceId`) or
 * held until its invoice is paid (a pending update naming that price, or naming none).
 */
function changeTookEffect(snapshot: SubscriptionSnapshot, priceId: string): boolean {
  if (snapshot.stripePriceId === priceId) return true;
  const update = snapshot.pendingUpdate;
  return update !== undefined && (update.stripePriceId === undefined || update.stripePriceId === priceId);
}

/**
 * Whether an earlier try of a `create_subscription` no longer wanted made the subscription
 * at the provider (found by the effect's key, read only): its view, as a create's answer
 * would report it, or nothing when none was made. Without a billing gateway the effect is
 * parked, as any billing effect.
 */
export function findSubscriptionMade(
  billing: BillingGateway | undefined,
  effect: Extract<BillingEffect, { readonly kind: "create_subscription" }>,
): ResultAsync<readonly PaymentObjectFact[], BillingFailure> {
  if (billing === undefined) return executeBillingEffect(billing, effect);
  return billing
    .findSubscription({ idempotencyKey: effect.id, customerId: effect.stripeCustomerId })
    .map((found): readonly PaymentObjectFact[] =>
      found === undefined
        ? []
        : [{ kind: "subscription_changed", refs: { subscriptionId: effect.aggregateId }, snapshot: found }],
    )
    .mapErr(failed);
}

/**
 * What an invoice's refunds say: first every refund made (pending ones too: the membership
 * waits for each to end, whatever they add up to), then one fact per refund that ended (with
 * its amount), nothing for a pending one (its event says how it ends).
 */
function invoiceRefundFacts(
  refs: PaymentReferences,
  outcomes: readonly RefundOutcome[],
): readonly PaymentObjectFact[] {
  const made: PaymentObjectFact = {
    kind: "invoice_refunds_made",
    refs,
    refundIds: outcomes.map((o) => o.refundId),
  };
  return [
    made,
    ...outcomes.flatMap((o) => {
      const f = refundFact(refs, o);
      return f === undefined ? [] : [f];
    }),
  ];
}
