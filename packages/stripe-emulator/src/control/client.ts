import type Stripe from "stripe";
import type { WebhookChaos } from "../core/options.js";
import type { Fault, FaultSpec } from "../http/faults.js";
import type { CheckoutCompletion } from "../resources/checkout.js";
import type { Delivery, FlushResult } from "../webhooks/dispatcher.js";

export class EmulatorControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "EmulatorControlError";
  }
}

/**
 * A typed client for the emulator's `/_emulator/…` control endpoints, usable against an
 * emulator in this process or another one (e.g. the CLI).
 */
export class EmulatorControl {
  readonly baseUrl: string;

  constructor(baseUrl: string) {
    this.baseUrl = baseUrl.replace(/\/$/, "");
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.baseUrl}/_emulator${path}`, {
      method,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    const value = text === "" ? null : (JSON.parse(text) as unknown);
    if (!response.ok) {
      const message =
        (value as { error?: { message?: string } } | null)?.error?.message ?? response.statusText;
      throw new EmulatorControlError(response.status, message);
    }
    return value as T;
  }

  /** The emulator clock, Unix seconds. */
  async now(): Promise<number> {
    return (await this.call<{ now: number }>("GET", "/clock")).now;
  }

  /** Moves the clock forward, settling what falls due in timestamp order. */
  advanceClock(seconds: number): Promise<{ now: number; tasksRun: number }> {
    return this.call("POST", "/clock/advance", { seconds });
  }

  advanceClockTo(timestamp: number): Promise<{ now: number; tasksRun: number }> {
    return this.call("POST", "/clock/advance", { to: timestamp });
  }

  /** Forgets every object, event, key and fault; the clock restarts at the real time. */
  async reset(): Promise<void> {
    await this.call("POST", "/reset");
  }

  injectFault(spec: FaultSpec): Promise<Fault> {
    return this.call("POST", "/faults", spec);
  }

  async injectFaults(specs: FaultSpec[]): Promise<Fault[]> {
    const out: Fault[] = [];
    for (const spec of specs) out.push(await this.injectFault(spec));
    return out;
  }

  async listFaults(): Promise<Fault[]> {
    return (await this.call<{ data: Fault[] }>("GET", "/faults")).data;
  }

  async clearFaults(): Promise<void> {
    await this.call("DELETE", "/faults");
  }

  /** Seeded webhook chaos (duplicates, reordering, late deliveries); `null` turns it off. */
  async setWebhookChaos(chaos: WebhookChaos | null): Promise<void> {
    await this.call("POST", "/webhooks/chaos", chaos ?? {});
  }

  /** Waits until every queued delivery has been attempted (late ones included). */
  flushWebhooks(): Promise<FlushResult> {
    return this.call("POST", "/webhooks/flush");
  }

  /** Retries deliveries that wait for their backoff now, then waits for them like `flushWebhooks`. */
  async deliverPendingWebhooks(): Promise<FlushResult> {
    await this.call("POST", "/webhooks/retry");
    return this.flushWebhooks();
  }

  async webhookDeliveries(): Promise<Delivery[]> {
    return (await this.call<{ data: Delivery[] }>("GET", "/webhooks/deliveries")).data;
  }

  /** The endpoint made from `webhookUrl` at startup, with its signing secret. */
  configuredWebhookEndpoint(): Promise<{ id: string; url: string; secret: string } | null> {
    return this.call("GET", "/webhooks/endpoint");
  }

  completeAccountOnboarding(accountId: string): Promise<Stripe.Account> {
    return this.call("POST", `/accounts/${accountId}/complete_onboarding`);
  }

  /** Stripe disables the account for overdue requirements: no charges, payouts or transfers. */
  restrictAccount(accountId: string, fields?: string[]): Promise<Stripe.Account> {
    return this.call("POST", `/accounts/${accountId}/restrict`, fields ? { fields } : {});
  }

  /** Only the `transfers` capability goes inactive, so transfers to the account fail. */
  disableTransfers(accountId: string): Promise<Stripe.Account> {
    return this.call("POST", `/accounts/${accountId}/disable_transfers`);
  }

  deauthorizeAccount(accountId: string): Promise<Stripe.Account> {
    return this.call("POST", `/accounts/${accountId}/deauthorize`);
  }

  forceDispute(
    chargeId: string,
    options: { reason?: string; inquiry?: boolean } = {},
  ): Promise<Stripe.Dispute> {
    return this.call("POST", `/charges/${chargeId}/dispute`, options);
  }

  resolveDispute(disputeId: string, outcome: "won" | "lost"): Promise<Stripe.Dispute> {
    return this.call("POST", `/disputes/${disputeId}/resolve`, { outcome });
  }

  /** The bank returns a payout (`failure_code` defaults to `could_not_process`). */
  failPayout(payoutId: string, code?: string): Promise<Stripe.Payout> {
    return this.call("POST", `/payouts/${payoutId}/fail`, code ? { code } : {});
  }

  authenticatePaymentIntent(paymentIntentId: string, succeed = true): Promise<Stripe.PaymentIntent> {
    return this.call("POST", `/payment_intents/${paymentIntentId}/authenticate`, { succeed });
  }

  /** The customer cancels their BECS mandate with the bank. */
  revokeMandate(mandateId: string): Promise<Stripe.Mandate> {
    return this.call("POST", `/mandates/${mandateId}/revoke`);
  }

  /**
   * A card network updates a saved card (new expiry, reissued number), as Stripe's card
   * account updater does on its own: `payment_method.automatically_updated`.
   */
  updateCardFromNetwork(
    paymentMethodId: string,
    update: { exp_month?: number; exp_year?: number; last4?: string },
  ): Promise<Stripe.PaymentMethod> {
    return this.call("POST", `/payment_methods/${paymentMethodId}/network_update`, update);
  }

  /** Emulator extension: credits an account's available balance directly. */
  topUp(input: { amount: number; currency?: string; account?: string }): Promise<Stripe.BalanceTransaction> {
    return this.call("POST", "/balance/top_up", input);
  }

  completeCheckoutSession(
    sessionId: string,
    input: CheckoutCompletion = {},
  ): Promise<Stripe.Checkout.Session> {
    return this.call("POST", `/checkout/sessions/${sessionId}/complete`, input);
  }

  /** Follows an account link as the user would (completing onboarding unless `abandon`). */
  async visitAccountLink(url: string, action: "complete" | "abandon" = "complete"): Promise<string | null> {
    const response = await fetch(`${url}?action=${action}`, { redirect: "manual" });
    return response.headers.get("location");
  }
}
