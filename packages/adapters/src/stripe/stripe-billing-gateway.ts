// Stripe Billing for memberships: a plan's product and prices, a person's subscription.
// Every call that creates or changes something passes the outbox effect's id as its
// Idempotency-Key (`stripeIdempotencyKey`), so a retried effect never subscribes or
// charges twice. Stripe keeps a key for 24 hours only: a subscription, a price and a refund
// are first looked for by their `effect_id` metadata (`findMadeByEffect`, shared with the
// payment gateway), so a retry after that (a parked effect requeued the next day after a lost
// answer) answers what the first call made.
import type {
  BillingGateway,
  GatewayError,
  PaymentReferences,
  RefundOutcome,
  SubscriptionSnapshot,
} from "@susu/domain";
import { errAsync, okAsync, ResultAsync } from "neverthrow";
import Stripe from "stripe";
import { expireCheckoutSessionAt } from "./checkout-expiry.js";
import { EFFECT_ID_METADATA_KEY, findMadeByEffect, pageAfter } from "./made-by-effect.js";
import { createStripeClient, type StripeClientConfig } from "./stripe-client.js";
import { classifyStripeError } from "./stripe-errors.js";
import { idOf, refundOutcomeOf, unexpectedAnswer } from "./stripe-mappings.js";
import { stripeIdempotencyKey } from "./stripe-payment-gateway.js";

/** The metadata keys of what memberships create at Stripe: the subscription, the plan, the person. */
export const BILLING_METADATA_KEYS = {
  subscriptionId: "susu_subscription_id",
  /** On a refund susu made of a membership invoice's payment: the invoice. */
  invoiceId: "susu_invoice_id",
  planId: "plan_id",
  personId: "person_id",
  effectId: EFFECT_ID_METADATA_KEY,
} as const;

/** Stripe metadata naming a membership's (or a plan's) objects. */
export function billingMetadata(references: PaymentReferences, effectId: string): Stripe.MetadataParam {
  return {
    ...(references.subscriptionId !== undefined
      ? { [BILLING_METADATA_KEYS.subscriptionId]: references.subscriptionId }
      : {}),
    ...(references.invoiceId !== undefined
      ? { [BILLING_METADATA_KEYS.invoiceId]: references.invoiceId }
      : {}),
    ...(references.planId !== undefined ? { [BILLING_METADATA_KEYS.planId]: references.planId } : {}),
    ...(references.personId !== undefined ? { [BILLING_METADATA_KEYS.personId]: references.personId } : {}),
    [BILLING_METADATA_KEYS.effectId]: effectId,
  };
}

/** The metadata of an object several effects may create alike (a plan's product): no effect id. */
function billingReferencesMetadata(references: PaymentReferences): Stripe.MetadataParam {
  const { [BILLING_METADATA_KEYS.effectId]: _effect, ...rest } = billingMetadata(references, "");
  return rest;
}

/** The references a membership's Stripe object carries in its metadata (none: not susu's). */
export function billingReferences(metadata: Stripe.Metadata | null | undefined): PaymentReferences {
  const subscriptionId = metadata?.[BILLING_METADATA_KEYS.subscriptionId];
  const planId = metadata?.[BILLING_METADATA_KEYS.planId];
  const invoiceId = metadata?.[BILLING_METADATA_KEYS.invoiceId];
  return {
    ...(subscriptionId ? { subscriptionId } : {}),
    ...(invoiceId ? { invoiceId } : {}),
    ...(planId ? { planId } : {}),
  };
}

const STATUSES: readonly SubscriptionSnapshot["status"][] = [
  "incomplete",
  "incomplete_expired",
  "trialing",
  "active",
  "past_due",
  "canceled",
  "unpaid",
  "paused",
];

/**
 * A Stripe subscription as susu's snapshot: `observedAt` is Stripe's time of the event that
 * carried it (seconds), absent for an API answer. The period end is the item's (Stripe's
 * current API keeps periods on items).
 */
export function subscriptionSnapshotOf(
  sub: Stripe.Subscription,
  eventCreatedSeconds?: number,
): SubscriptionSnapshot | undefined {
  const status = STATUSES.find((x) => x === sub.status);
  if (status === undefined) return undefined;
  const item = sub.items.data[0];
  const ms = (s: number | null | undefined) => (s === null || s === undefined ? undefined : s * 1000);
  const periodEnd = ms(item?.current_period_end);
  const trialEnd = ms(sub.trial_end);
  const endedAt = ms(sub.ended_at);
  const reason = sub.cancellation_details?.reason ?? undefined;
  const priceId = idOf(item?.price);
  const paymentMethodId = idOf(sub.default_payment_method);
  const pending = sub.pending_update;
  const pendingPriceId = idOf(pending?.subscription_items?.[0]?.price);
  const pendingInvoiceId = idOf(sub.latest_invoice ?? undefined);
  const pendingUpdate =
    pending === null || pending === undefined
      ? undefined
      : {
          ...(pendingPriceId !== undefined ? { stripePriceId: pendingPriceId } : {}),
          expiresAt: pending.expires_at * 1000,
          ...(pendingInvoiceId !== undefined ? { invoiceId: pendingInvoiceId } : {}),
        };
  return {
    stripeSubscriptionId: sub.id,
    status,
    ...(priceId !== undefined ? { stripePriceId: priceId } : {}),
    cancelAtPeriodEnd: sub.cancel_at_period_end,
    ...(paymentMethodId !== undefined ? { defaultPaymentMethodId: paymentMethodId } : {}),
    ...(periodEnd !== undefined ? { currentPeriodEnd: periodEnd } : {}),
    ...(trialEnd !== undefined ? { trialEnd } : {}),
    ...(endedAt !== undefined ? { endedAt } : {}),
    ...(reason !== undefined ? { cancellationReason: reason } : {}),
    ...(eventCreatedSeconds !== undefined ? { observedAt: eventCreatedSeconds * 1000 } : {}),
    ...(pendingUpdate !== undefined ? { pendingUpdate } : {}),
  };
}

function snapshotOrUnknown(sub: Stripe.Subscription): ResultAsync<SubscriptionSnapshot, GatewayError> {
  const snapshot = subscriptionSnapshotOf(sub);
  return snapshot
    ? okAsync(snapshot)
    : errAsync(unexpectedAnswer("unknown_subscription_status", `subscription ${sub.id} is ${sub.status}`));
}

/** The billing gateway on Stripe's SDK (or the emulator behind it). */
export class StripeBillingGateway implements BillingGateway {
  readonly stripe: Stripe;

  constructor(client: Stripe | StripeClientConfig) {
    this.stripe = client instanceof Stripe ? client : createStripeClient(client);
  }

  #call<T>(request: () => Promise<T>): ResultAsync<T, GatewayError> {
    return ResultAsync.fromPromise((async () => request())(), classifyStripeError);
  }

  createPlanPrice(input: Parameters<BillingGateway["createPlanPrice"]>[0]) {
    const key = stripeIdempotencyKey(input.idempotencyKey);
    // The product's id is susu's: creating it again is refused as existing, which is the
    // answer wanted (no price creates a second product). Its key is this effect's own
    // (`<effect>:product`), so a retry of the effect replays its answer, while another
    // effect (a later price, after a rename) sends other parameters under another key and
    // is told the product exists, never `idempotency_error` for a key reused with new ones.
    const product = this.#call(() =>
      this.stripe.products.create(
        {
          id: input.productId,
          name: input.productName,
          metadata: billingReferencesMetadata(input.references),
        },
        { idempotencyKey: stripeIdempotencyKey(`${input.idempotencyKey}:product`) },
      ),
    )
      .map(() => undefined)
      .orElse((e) => (e.code === "resource_already_exists" ? okAsync(undefined) : errAsync(e)));
    // A price this effect made already (its key forgotten by Stripe after 24 hours) is the
    // answer: a second one would leave the first, never recorded, offered on the product.
    const made = () =>
      findMadeByEffect(
        (after) => this.stripe.prices.list({ product: input.productId, limit: 100, ...pageAfter(after) }),
        key,
      );
    return product.andThen(() =>
      made().andThen((existing) =>
        existing !== undefined
          ? okAsync({ priceId: existing.id })
          : this.#call(() =>
              this.stripe.prices.create(
                {
                  product: input.productId,
                  currency: input.amount.currency.toLowerCase(),
                  unit_amount: input.amount.amountMinor,
                  recurring: { interval: input.interval },
                  metadata: billingMetadata(input.references, key),
                },
                { idempotencyKey: key },
              ),
            ).map((price) => ({ priceId: price.id })),
      ),
    );
  }

  updatePlanProduct(input: Parameters<BillingGateway["updatePlanProduct"]>[0]) {
    return this.#call(() =>
      this.stripe.products.update(
        input.productId,
        { name: input.name, active: input.active },
        { idempotencyKey: stripeIdempotencyKey(input.idempotencyKey) },
      ),
    ).map(() => undefined);
  }

  createSubscription(input: Parameters<BillingGateway["createSubscription"]>[0]) {
    const key = stripeIdempotencyKey(input.idempotencyKey);
    // Creating a subscription charges its first invoice: the one an earlier run of this
    // effect made is looked for first (Stripe forgets the key after 24 hours, and a parked
    // effect can be requeued later than that), and answered as it stands now.
    return this.#subscriptionMadeBy(input.customerId, key)
      .andThen((existing) =>
        existing !== undefined
          ? okAsync(existing)
          : this.#call(() =>
              this.stripe.subscriptions.create(
                {
                  customer: input.customerId,
                  items: [{ price: input.priceId }],
                  default_payment_method: input.paymentMethodId,
                  // The method was saved for use off session: the first invoice is charged at once;
                  // a decline or 3-D Secure leaves the subscription incomplete, and the invoice's
                  // events (payment_failed, payment_action_required) tell the person what to do.
                  payment_behavior: "allow_incomplete",
                  ...(input.trialDays > 0 ? { trial_period_days: input.trialDays } : {}),
                  metadata: billingMetadata(input.references, key),
                },
                { idempotencyKey: key },
              ),
            ),
      )
      .andThen(snapshotOrUnknown);
  }

  findSubscription(
    input: Parameters<BillingGateway["findSubscription"]>[0],
  ): ResultAsync<SubscriptionSnapshot | undefined, GatewayError> {
    return this.#subscriptionMadeBy(input.customerId, stripeIdempotencyKey(input.idempotencyKey)).andThen(
      (found) => (found === undefined ? okAsync(undefined) : snapshotOrUnknown(found)),
    );
  }

  /**
   * The subscription made under `key` (its `effect_id` metadata) among every one of the
   * customer's, ended ones included (`status=all`: one the first call made may have expired
   * unpaid, or been canceled, since).
   */
  #subscriptionMadeBy(
    customerId: string,
    key: string,
  ): ResultAsync<Stripe.Subscription | undefined, GatewayError> {
    return findMadeByEffect(
      (after) =>
        this.stripe.subscriptions.list({
          customer: customerId,
          status: "all",
          limit: 100,
          ...pageAfter(after),
        }),
      key,
    );
  }

  createSubscriptionCheckout(input: Parameters<BillingGateway["createSubscriptionCheckout"]>[0]) {
    const key = stripeIdempotencyKey(input.idempotencyKey);
    const metadata = billingMetadata(input.references, key);
    return this.#call(() =>
      this.stripe.checkout.sessions.create(
        {
          mode: "subscription",
          customer: input.customerId,
          line_items: [{ price: input.priceId, quantity: 1 }],
          success_url: input.successUrl,
          cancel_url: input.cancelUrl,
          metadata,
          subscription_data: {
            metadata,
            ...(input.trialDays > 0 ? { trial_period_days: input.trialDays } : {}),
          },
        },
        { idempotencyKey: key },
      ),
    ).andThen((session) =>
      session.url === null
        ? errAsync(unexpectedAnswer("missing_checkout_url", `Checkout Session ${session.id} has no url`))
        : okAsync({ sessionId: session.id, url: session.url }),
    );
  }

  expireCheckoutSession(
    input: Parameters<BillingGateway["expireCheckoutSession"]>[0],
  ): ResultAsync<{ readonly status: "expired" | "complete" }, GatewayError> {
    const key = stripeIdempotencyKey(input.idempotencyKey);
    const ended = (
      session: Stripe.Checkout.Session,
    ): ResultAsync<{ readonly status: "expired" | "complete" }, GatewayError> =>
      session.status === "expired"
        ? okAsync({ status: "expired" as const })
        : session.status === "complete"
          ? okAsync({ status: "complete" as const })
          : errAsync(
              unexpectedAnswer(
                "checkout_not_expired",
                `Checkout Session ${session.id} is ${session.status ?? "of no status"}`,
              ),
            );
    return expireCheckoutSessionAt(
      this.stripe,
      (request) => this.#call(request),
      input.sessionId,
      key,
      ended,
    );
  }

  changeSubscriptionPrice(input: Parameters<BillingGateway["changeSubscriptionPrice"]>[0]) {
    const key = stripeIdempotencyKey(input.idempotencyKey);
    return this.#call(async () => {
      const sub = await this.stripe.subscriptions.retrieve(input.subscriptionId);
      const item = sub.items.data[0];
      if (item === undefined) throw new Error(`subscription ${sub.id} has no item`);
      // A pending update: Stripe makes the change only once its invoice (the proration, with
      // always_invoice, or a new interval's period) is paid. Unpaid, the subscription stays as
      // it was, the change in `pending_update` until it expires (its invoice voided); the
      // default, allow_incomplete, would make it whatever the payment does. A change that
      // invoices nothing (a downgrade's credit, create_prorations, none) is made at once.
      return this.stripe.subscriptions.update(
        input.subscriptionId,
        {
          items: [{ id: item.id, price: input.priceId }],
          proration_behavior: input.prorationBehavior,
          payment_behavior: "pending_if_incomplete",
        },
        { idempotencyKey: key },
      );
    }).andThen(snapshotOrUnknown);
  }

  setSubscriptionPaymentMethod(input: Parameters<BillingGateway["setSubscriptionPaymentMethod"]>[0]) {
    // The subscription's own default_payment_method: Stripe charges it before the customer's
    // invoice_settings.default_payment_method, for renewals and for an open invoice's retries.
    return this.#call(() =>
      this.stripe.subscriptions.update(
        input.subscriptionId,
        { default_payment_method: input.paymentMethodId },
        { idempotencyKey: stripeIdempotencyKey(input.idempotencyKey) },
      ),
    ).andThen(snapshotOrUnknown);
  }

  voidInvoice(
    input: Parameters<BillingGateway["voidInvoice"]>[0],
  ): ResultAsync<{ readonly status: string }, GatewayError> {
    // Stripe voids only an open or uncollectible invoice: one paid meanwhile (its payment is
    // refunded as its news comes) or void already is refused, and read back for its status.
    // One whose payment is a bank debit in flight cannot be voided until the debit ends: it is
    // answered `payment_processing`, not refused (its success is news that refunds it; after a
    // failure the membership voids it under a new key).
    return this.#call(() =>
      this.stripe.invoices.voidInvoice(
        input.invoiceId,
        {},
        { idempotencyKey: stripeIdempotencyKey(input.idempotencyKey) },
      ),
    )
      .map((invoice) => ({ status: invoice.status ?? "void" }))
      .orElse((e) =>
        e.type === "gateway_definite" && e.code !== "resource_missing"
          ? this.#call(() =>
              this.stripe.invoices.retrieve(input.invoiceId, { expand: ["payments"] }),
            ).andThen((invoice) => {
              if (invoice.status !== "open" && invoice.status !== "uncollectible")
                return okAsync({ status: invoice.status ?? "unknown" });
              return this.#processingPayment(invoice).andThen((processing) =>
                processing
                  ? okAsync({ status: "payment_processing" })
                  : errAsync<{ readonly status: string }, GatewayError>(e),
              );
            })
          : errAsync(e),
      );
  }

  /** Whether one of the invoice's open payments is a PaymentIntent still `processing` (a bank debit in flight). */
  #processingPayment(invoice: Stripe.Invoice): ResultAsync<boolean, GatewayError> {
    const intents = (invoice.payments?.data ?? [])
      .filter((p) => p.status === "open")
      .flatMap((p) => {
        const pi = p.payment.payment_intent;
        const id = typeof pi === "string" ? pi : pi?.id;
        return id === undefined ? [] : [id];
      });
    return ResultAsync.combine(
      intents.map((id) => this.#call(() => this.stripe.paymentIntents.retrieve(id))),
    ).map((pis) => pis.some((pi) => pi.status === "processing"));
  }

  cancelSubscription(input: Parameters<BillingGateway["cancelSubscription"]>[0]) {
    const key = stripeIdempotencyKey(input.idempotencyKey);
    return this.#call(() =>
      input.mode === "now"
        ? this.stripe.subscriptions.cancel(input.subscriptionId, {}, { idempotencyKey: key })
        : this.stripe.subscriptions.update(
            input.subscriptionId,
            { cancel_at_period_end: input.mode === "at_period_end" },
            { idempotencyKey: key },
          ),
    ).andThen(snapshotOrUnknown);
  }

  refundInvoicePayments(
    input: Parameters<BillingGateway["refundInvoicePayments"]>[0],
  ): ResultAsync<readonly RefundOutcome[], GatewayError> {
    // Stripe's current API names an invoice's PaymentIntents only in its invoice payments
    // (`payments`, included when expanded); only settled (`paid`) ones are refunded.
    return this.#call(() => this.stripe.invoices.retrieve(input.invoiceId, { expand: ["payments"] })).andThen(
      (invoice) => {
        const intents = (invoice.payments?.data ?? [])
          .filter((p) => p.status === "paid")
          .flatMap((p) => {
            const id = idOf(p.payment.payment_intent ?? undefined);
            return id === undefined ? [] : [id];
          });
        if (intents.length === 0)
          return errAsync<readonly RefundOutcome[], GatewayError>({
            type: "gateway_retryable",
            code: "invoice_payment_not_settled",
            message: `invoice ${input.invoiceId} has no settled payment to refund yet (${invoice.status ?? "no status"})`,
          });
        return ResultAsync.combine(
          intents.map((pi) => this.#refundPayment(pi, `${input.idempotencyKey}:${pi}`, input.references)),
        ).map((outcomes): readonly RefundOutcome[] => outcomes.flat());
      },
    );
  }

  /**
   * Refunds one PaymentIntent in full under `effectKey`: a refund it made already (found by
   * its metadata, so a key Stripe no longer remembers makes no second one) is answered as
   * it stands; a payment refunded already by someone else is answered by each of its refunds
   * that succeeded (oldest first, each with its own amount: Stripe may fail any of them later)
   * once none of its refunds is still in flight, and is a retryable `refund_pending_elsewhere`
   * until then.
   */
  #refundPayment(
    paymentIntentId: string,
    effectKey: string,
    references: PaymentReferences,
  ): ResultAsync<readonly RefundOutcome[], GatewayError> {
    const key = stripeIdempotencyKey(effectKey);
    return findMadeByEffect(
      (after) =>
        this.stripe.refunds.list({ payment_intent: paymentIntentId, limit: 100, ...pageAfter(after) }),
      key,
    ).andThen((mine) => {
      if (mine !== undefined) return okAsync([invoiceRefundOutcome(mine)]);
      return this.#call(() =>
        this.stripe.refunds.create(
          { payment_intent: paymentIntentId, metadata: billingMetadata(references, key) },
          { idempotencyKey: key },
        ),
      )
        .map((refund) => [invoiceRefundOutcome(refund)])
        .orElse((e) => {
          if (e.code !== "charge_already_refunded") return errAsync(e);
          // Refunded by someone else (the dashboard, support), perhaps since the list above:
          // the payment's refunds are listed again. While any is still pending, nothing is
          // answered: a pending refund carries none of susu's metadata, so its outcome would
          // never reach the membership, and money still in flight is not money back. Retried
          // until every one has settled (or parked with a ticket). Then the refunds that
          // succeeded answer for ours, each by its id with its own amount (several partial
          // ones may refund it, and Stripe may fail any one of them later: the membership
          // must know each to reverse just that one); failed or canceled ones count nothing.
          // Stripe lists the newest first: they are answered oldest first.
          return this.#call(() =>
            this.stripe.refunds.list({ payment_intent: paymentIntentId, limit: 100 }),
          ).andThen((now) => {
            const pending = now.data.some((r) => r.status === "pending" || r.status === "requires_action");
            const succeeded = now.data.filter((r) => r.status === "succeeded").reverse();
            if (!pending && succeeded.length > 0) return okAsync(succeeded.map(invoiceRefundOutcome));
            return errAsync<readonly RefundOutcome[], GatewayError>({
              type: "gateway_retryable",
              code: "refund_pending_elsewhere",
              message: `payment ${paymentIntentId} is refunded already by a refund not yet settled; retried until it is`,
            });
          });
        });
    });
  }
}

/** A refund of one of an invoice's payments, with its amount (the membership adds them up). */
function invoiceRefundOutcome(refund: Stripe.Refund): RefundOutcome {
  return { ...refundOutcomeOf(refund), amountMinor: refund.amount };
}
