import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import type { SubscriptionSnapshot } from "../membership/subscription-input.js";
import type { BillingGateway } from "../ports/billing-gateway.js";
import { type GatewayError, gatewayError, type RefundOutcome } from "../ports/payment-gateway.js";

type Call = { readonly method: string; readonly idempotencyKey: string } & Record<string, unknown>;

/**
 * Stripe Billing in memory, for domain tests: answers each call as Stripe would answer
 * its API (events are the test's to deliver), the same answer again for the same
 * idempotency key, and records every call. `refuseNext` makes the next call a definite
 * refusal (or `retryable` a passing fault); `refundsPending` makes refunds answer `pending`
 * (their outcome is the test's event to deliver).
 */
export class FakeBillingGateway implements BillingGateway {
  readonly calls: Call[] = [];
  readonly #answers = new Map<string, unknown>();
  readonly #subscriptions = new Map<string, SubscriptionSnapshot>();
  #next = 0;
  #refusal: GatewayError | undefined;
  #ignoreChange = false;
  /** Refunds answer `pending` (Stripe has not finished them) instead of `succeeded`. */
  refundsPending = false;
  /** What a void answers: `void`, or what Stripe answers otherwise (`paid`, `payment_processing`). */
  voidInvoiceStatus = "void";

  /** The next call fails with this error. */
  refuseNext(code: string, type: GatewayError["type"] = "gateway_definite"): void {
    this.#refusal = gatewayError(type, code, `refused: ${code}`);
  }

  /**
   * The next price change is answered with the subscription as it was: Stripe neither made
   * the change nor holds it (no pending update).
   */
  ignoreNextChange(): void {
    this.#ignoreChange = true;
  }

  /** The Stripe subscription as the fake holds it. */
  subscription(id: string): SubscriptionSnapshot | undefined {
    return this.#subscriptions.get(id);
  }

  #call<T>(call: Call, answer: () => T): ResultAsync<T, GatewayError> {
    this.calls.push(call);
    const refusal = this.#refusal;
    if (refusal) {
      this.#refusal = undefined;
      return errAsync(refusal);
    }
    const key = `${call.method}:${call.idempotencyKey}`;
    if (!this.#answers.has(key)) this.#answers.set(key, answer());
    return okAsync(this.#answers.get(key) as T);
  }

  #id(prefix: string): string {
    this.#next += 1;
    return `${prefix}_${this.#next}`;
  }

  createPlanPrice(input: Parameters<BillingGateway["createPlanPrice"]>[0]) {
    return this.#call({ method: "createPlanPrice", ...input }, () => ({ priceId: this.#id("price") }));
  }

  updatePlanProduct(input: Parameters<BillingGateway["updatePlanProduct"]>[0]) {
    return this.#call({ method: "updatePlanProduct", ...input }, () => undefined);
  }

  createSubscription(input: Parameters<BillingGateway["createSubscription"]>[0]) {
    return this.#call({ method: "createSubscription", ...input }, () => {
      const snapshot: SubscriptionSnapshot = {
        stripeSubscriptionId: this.#id("sub"),
        status: input.trialDays > 0 ? "trialing" : "active",
        stripePriceId: input.priceId,
        cancelAtPeriodEnd: false,
      };
      this.#subscriptions.set(snapshot.stripeSubscriptionId, snapshot);
      return snapshot;
    });
  }

  /** The subscription `createSubscription` made under the key, as the fake holds it now. */
  findSubscription(input: Parameters<BillingGateway["findSubscription"]>[0]) {
    this.calls.push({ method: "findSubscription", ...input });
    const made = this.#answers.get(`createSubscription:${input.idempotencyKey}`) as
      | SubscriptionSnapshot
      | undefined;
    return okAsync<SubscriptionSnapshot | undefined, GatewayError>(
      made === undefined ? undefined : this.#subscriptions.get(made.stripeSubscriptionId),
    );
  }

  createSubscriptionCheckout(input: Parameters<BillingGateway["createSubscriptionCheckout"]>[0]) {
    return this.#call({ method: "createSubscriptionCheckout", ...input }, () => {
      const sessionId = this.#id("cs");
      return { sessionId, url: `https://checkout.fake/${sessionId}` };
    });
  }

  expireCheckoutSession(input: Parameters<BillingGateway["expireCheckoutSession"]>[0]) {
    return this.#call({ method: "expireCheckoutSession", ...input }, () => ({ status: "expired" as const }));
  }

  #update(subscriptionId: string, patch: Partial<SubscriptionSnapshot>): SubscriptionSnapshot {
    const now = this.#subscriptions.get(subscriptionId);
    if (!now) throw new Error(`no subscription ${subscriptionId}`);
    const next = { ...now, ...patch };
    this.#subscriptions.set(subscriptionId, next);
    return next;
  }

  changeSubscriptionPrice(input: Parameters<BillingGateway["changeSubscriptionPrice"]>[0]) {
    if (!this.#subscriptions.has(input.subscriptionId))
      return errAsync(
        gatewayError("gateway_definite", "resource_missing", `no subscription ${input.subscriptionId}`),
      );
    const ignored = this.#ignoreChange;
    this.#ignoreChange = false;
    return this.#call({ method: "changeSubscriptionPrice", ...input }, () =>
      this.#update(input.subscriptionId, ignored ? {} : { stripePriceId: input.priceId }),
    );
  }

  setSubscriptionPaymentMethod(input: Parameters<BillingGateway["setSubscriptionPaymentMethod"]>[0]) {
    if (!this.#subscriptions.has(input.subscriptionId))
      return errAsync(
        gatewayError("gateway_definite", "resource_missing", `no subscription ${input.subscriptionId}`),
      );
    return this.#call({ method: "setSubscriptionPaymentMethod", ...input }, () =>
      this.#update(input.subscriptionId, { defaultPaymentMethodId: input.paymentMethodId }),
    );
  }

  voidInvoice(input: Parameters<BillingGateway["voidInvoice"]>[0]) {
    const status = this.voidInvoiceStatus;
    return this.#call({ method: "voidInvoice", ...input }, () => ({ status }));
  }

  cancelSubscription(input: Parameters<BillingGateway["cancelSubscription"]>[0]) {
    if (!this.#subscriptions.has(input.subscriptionId))
      return errAsync(
        gatewayError("gateway_definite", "resource_missing", `no subscription ${input.subscriptionId}`),
      );
    return this.#call({ method: "cancelSubscription", ...input }, () =>
      this.#update(
        input.subscriptionId,
        input.mode === "now"
          ? { status: "canceled", cancellationReason: "cancellation_requested" }
          : { cancelAtPeriodEnd: input.mode === "at_period_end" },
      ),
    );
  }

  /**
   * Refunds the invoice's one payment at once (`re_<n>`; no amount: the membership takes what
   * the invoice collected; `pending` while {@link refundsPending}), the same refund for the same key.
   */
  refundInvoicePayments(input: Parameters<BillingGateway["refundInvoicePayments"]>[0]) {
    return this.#call({ method: "refundInvoicePayments", ...input }, (): readonly RefundOutcome[] => [
      { refundId: this.#id("re"), status: this.refundsPending ? "pending" : "succeeded" },
    ]);
  }
}
