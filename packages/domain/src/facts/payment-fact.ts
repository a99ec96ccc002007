import type { MemberId } from "../group/ids.js";
import type { InvoiceReport, SubscriptionSnapshot } from "../membership/subscription-input.js";
import type { ReportedPayout } from "../payout/payout.js";
import type {
  ConnectedAccountStatus,
  DebitOutcome,
  MandateStatus,
  PaymentReferences,
  RefundOutcome,
} from "../ports/payment-gateway.js";

/**
 * One refund of an application fee as the provider lists it: its id, amount and currency
 * (upper case). The fee's currency need not be the charge's: Stripe may keep a platform's fee
 * in another currency (converted), and its refunds are in that currency.
 */
export interface FeeRefundSeen {
  readonly feeRefundId: string;
  readonly amountMinor: number;
  readonly currency: string;
}

/**
 * What the payment provider told susu, in the domain's words: by webhook, or as the
 * answer to an effect. One type for both, so a debit's success means the same thing
 * whether the dispatcher heard it from the API answer or a webhook brought it days later.
 *
 * Facts about a payment carry the {@link PaymentReferences} susu wrote on it (Stripe
 * metadata): they say which aggregate the fact concerns. {@link applyPaymentFact} (the
 * one router) reads them; the translator at the edge only reads the provider's objects.
 *
 * Facts about people's Stripe objects (a connected account, a mandate, a debit set-up)
 * carry the object's id only: the router finds the person who owns it.
 */
export type PaymentFact =
  // debits (a member's contribution, attempt N)
  | { readonly kind: "debit_processing"; readonly refs: PaymentReferences; readonly paymentIntentId: string }
  | {
      readonly kind: "debit_succeeded";
      readonly refs: PaymentReferences;
      readonly paymentIntentId: string;
      readonly chargeId: string;
      /** A destination charge's transfer to the connected account, when the provider's answer names it. */
      readonly transferId?: string;
    }
  | {
      readonly kind: "debit_failed";
      readonly refs: PaymentReferences;
      readonly paymentIntentId?: string;
      readonly failureCode: string;
    }
  | {
      /**
       * The payment waits for the customer, on session (a new card to confirm, 3-D Secure to
       * pass); `clientSecret` is what the client needs to do it.
       */
      readonly kind: "payment_requires_action";
      readonly refs: PaymentReferences;
      readonly paymentIntentId: string;
      readonly clientSecret: string;
    }
  // refunds of a payment
  // (`amountMinor`: the refund's amount, carried where it matters: a membership invoice's
  // refunds, one per payment, are posted by what they returned)
  | {
      readonly kind: "refund_succeeded";
      readonly refs: PaymentReferences;
      readonly refundId: string;
      readonly amountMinor?: number;
    }
  | {
      readonly kind: "refund_failed";
      readonly refs: PaymentReferences;
      readonly refundId?: string;
      readonly failureCode: string;
      readonly amountMinor?: number;
    }
  | {
      /**
       * Look-up `lookup` of a refund attempt (by its idempotency key, the refund's `effect_id`)
       * found it had not ended at the provider: still pending (`refundId`), or no refund made
       * by it. Only an effect's answer (`find_refund`), never a webhook.
       */
      readonly kind: "refund_not_ended";
      readonly refs: PaymentReferences;
      readonly lookup: number;
      readonly refundId?: string;
    }
  // transfers to a connected account (refs name the member whose charge funds it)
  | { readonly kind: "transfer_created"; readonly refs: PaymentReferences; readonly transferId: string }
  | {
      readonly kind: "transfer_failed";
      readonly refs: PaymentReferences;
      readonly failureCode: string;
      /** Stripe's words for it, when it said more than the code. */
      readonly failureMessage?: string;
    }
  | {
      /**
       * The provider refunded (part of) a destination charge's application fee to the
       * connected account (`application_fee.refunded`): every fee refund the fee lists,
       * oldest first, with its amount (two refunds close together may both be new to susu).
       * The refs are the charge's payment's (the fee's originating charge).
       */
      readonly kind: "application_fee_refunded";
      readonly refs: PaymentReferences;
      readonly feeRefunds: readonly FeeRefundSeen[];
    }
  | {
      /** A look-up of a transfer attempt (by its idempotency key) found nothing at the provider: it moved no money. */
      readonly kind: "transfer_not_found";
      readonly refs: PaymentReferences;
    }
  | {
      readonly kind: "transfer_reversed";
      readonly refs: PaymentReferences;
      readonly transferId: string;
      /** This reversal's amount (not the transfer's total reversed so far). */
      readonly amountMinor: number;
    }
  | {
      /** The provider refused a reversal (the connected account's balance does not cover it, …). */
      readonly kind: "transfer_reversal_failed";
      readonly refs: PaymentReferences;
      readonly transferId: string;
      readonly failureCode: string;
    }
  // disputes of a payment
  | {
      readonly kind: "dispute_opened";
      readonly refs: PaymentReferences;
      readonly disputeId: string;
      /** The disputed payment (PaymentIntent), when the provider names it. */
      readonly paymentIntentId?: string;
      readonly amountMinor: number;
      /** When evidence is due at the provider (epoch ms), when it says. */
      readonly evidenceDueBy?: number;
      /** The provider's reason (`fraudulent`, `product_not_received`, …), when it says. */
      readonly reason?: string;
      /** The provider's status of the dispute when it opened (`needs_response`, …), when it says. */
      readonly status?: string;
    }
  | {
      /** The provider's view of an open dispute changed (evidence submitted, under review, …). */
      readonly kind: "dispute_updated";
      readonly refs: PaymentReferences;
      readonly disputeId: string;
      readonly paymentIntentId?: string;
      readonly status: string;
      readonly evidenceDueBy?: number;
    }
  | {
      readonly kind: "dispute_closed";
      readonly refs: PaymentReferences;
      readonly disputeId: string;
      readonly paymentIntentId?: string;
      /** `won`: the funds come back; `lost`: the disputed amount is gone for good. */
      readonly outcome: "won" | "lost";
      readonly amountMinor: number;
    }
  // hosted checkouts (a held-funds payment's page)
  | {
      /** The provider opened a checkout page (the answer to the effect that asked for it). */
      readonly kind: "checkout_session_created";
      readonly refs: PaymentReferences;
      readonly sessionId: string;
      readonly url: string;
    }
  | {
      /**
       * The customer finished a checkout (or its delayed payment settled or failed). Whether
       * it was paid is judged by its payment, read again when routed, never by the session.
       */
      readonly kind: "checkout_payment_changed";
      readonly refs: PaymentReferences;
      readonly sessionId: string;
      readonly paymentIntentId: string;
    }
  | {
      /** The checkout page expired unpaid. */
      readonly kind: "checkout_expired";
      readonly refs: PaymentReferences;
      readonly sessionId: string;
    }
  // memberships (Stripe Billing): refs name the plan or the subscription when Stripe's
  // metadata carried them; a subscription's news also names its Stripe subscription
  | {
      /** A plan's price exists at the provider (the answer to the effect that asked for it). */
      readonly kind: "plan_price_created";
      readonly refs: PaymentReferences;
      readonly key: string;
      readonly revision: number;
      readonly priceId: string;
    }
  | {
      /** The Stripe subscription as an event or an answer showed it (created, updated, deleted). */
      readonly kind: "subscription_changed";
      readonly refs: PaymentReferences;
      readonly snapshot: SubscriptionSnapshot;
    }
  | {
      /** The provider refused for good to start a subscription. */
      readonly kind: "subscription_start_refused";
      readonly refs: PaymentReferences;
      readonly failureCode: string;
      readonly failureMessage: string;
    }
  | {
      /**
       * The provider refused for good to change a subscription's price (the change call's
       * definite error): `changeId` is the change's effect id.
       */
      readonly kind: "subscription_change_refused";
      readonly refs: PaymentReferences;
      readonly changeId: string;
      readonly failureCode: string;
      readonly failureMessage: string;
    }
  | {
      /**
       * The provider refused for good to charge a subscription on another payment method (the
       * `set_subscription_payment_method` call's definite error): `changeId` is the change's
       * effect id (`<s>:payment-method:<n>`), `paymentMethodId` the method asked for.
       */
      readonly kind: "subscription_payment_method_refused";
      readonly refs: PaymentReferences;
      readonly changeId: string;
      readonly paymentMethodId: string;
      readonly failureCode: string;
      readonly failureMessage: string;
    }
  | {
      /** A Checkout page (subscription mode) was opened for a membership. */
      readonly kind: "subscription_checkout_created";
      readonly refs: PaymentReferences;
      readonly sessionId: string;
      readonly url: string;
    }
  | {
      readonly kind: "subscription_trial_will_end";
      readonly refs: PaymentReferences;
      readonly stripeSubscriptionId: string;
      readonly trialEnd: number;
    }
  | {
      readonly kind: "invoice_paid";
      readonly refs: PaymentReferences;
      readonly stripeSubscriptionId: string;
      readonly invoice: InvoiceReport;
      readonly paidAt: number;
    }
  | {
      readonly kind: "invoice_payment_failed";
      readonly refs: PaymentReferences;
      readonly stripeSubscriptionId: string;
      readonly invoice: InvoiceReport;
      readonly attemptCount: number;
      /** When the provider retries; absent: no retry is left. */
      readonly nextPaymentAttemptAt?: number;
    }
  | {
      /** An invoice's payment waits for the person (3-D Secure): `invoice.payment_action_required`, or its PaymentIntent's `requires_action`. */
      readonly kind: "invoice_payment_action_required";
      readonly refs: PaymentReferences;
      readonly stripeSubscriptionId: string;
      readonly invoice: InvoiceReport;
    }
  | {
      /**
       * Every refund susu's refund of a membership invoice made (the refund call's answer: one
       * per payment, pending ones too), so the membership knows which outcomes it waits for.
       * The refs name the membership and the invoice.
       */
      readonly kind: "invoice_refunds_made";
      readonly refs: PaymentReferences;
      readonly refundIds: readonly string[];
    }
  | {
      /**
       * A refund of a membership invoice's charge made outside susu (Stripe's dashboard: it
       * carries no susu metadata), its payment resolved to the invoice through the provider's
       * invoice payments: the refs name the subscription and the invoice. A pending refund is
       * no news.
       */
      readonly kind: "membership_charge_refunded";
      readonly refs: PaymentReferences;
      readonly refundId: string;
      readonly amountMinor: number;
      readonly outcome: "succeeded" | "failed";
      readonly failureCode?: string;
    }
  | {
      /**
       * Stripe's answer to susu's void of a membership invoice (the void effect's answer):
       * `voidId` is the effect id, `status` the invoice's status after the call (`void`, or
       * one it had already: `paid`), or `payment_processing` (its bank debit is in flight, so
       * it was not voided). The refs name the subscription and the invoice.
       */
      readonly kind: "invoice_void_answered";
      readonly refs: PaymentReferences;
      readonly voidId: string;
      readonly status: string;
    }
  | {
      readonly kind: "invoice_marked_uncollectible";
      readonly refs: PaymentReferences;
      readonly stripeSubscriptionId: string;
      readonly invoice: InvoiceReport;
    }
  | {
      /** An invoice voided at Stripe (`invoice.voided`): no longer owed, its page no longer payable. */
      readonly kind: "invoice_voided";
      readonly refs: PaymentReferences;
      readonly stripeSubscriptionId: string;
      readonly invoice: InvoiceReport;
    }
  // people's Stripe objects
  | {
      /** A connected account changed; whether it can receive is read again when routed (order-safe). */
      readonly kind: "payout_account_changed";
      readonly accountId: string;
      /** The account as the provider reported it in this fact (possibly stale by the time it is routed). */
      readonly reported: ConnectedAccountStatus;
    }
  | { readonly kind: "payout_account_disconnected"; readonly accountId: string }
  | {
      /**
       * A payout from a connected account to its bank changed (created, in transit, paid,
       * failed, canceled): recorded for the account's person, in any order of arrival.
       */
      readonly kind: "payout_changed";
      readonly payout: ReportedPayout;
    }
  | {
      /** A mandate changed; its status is read again when routed (order-safe). */
      readonly kind: "mandate_changed";
      readonly mandate: MandateStatus;
    }
  | {
      readonly kind: "debit_setup_succeeded";
      readonly setupIntentId: string;
      readonly customerId?: string;
      readonly refs?: PaymentReferences;
      readonly paymentMethodId: string;
      readonly mandateId: string;
    }
  | {
      /**
       * A payment method was attached, detached, or updated by the card network: what it is
       * now is read again when routed (order-safe).
       */
      readonly kind: "payment_method_changed";
      readonly paymentMethodId: string;
      /** The customer the event named (the method's, or the one it was detached from), when it named one. */
      readonly customerId?: string;
    }
  | {
      readonly kind: "debit_setup_failed";
      readonly setupIntentId: string;
      readonly customerId?: string;
      readonly refs?: PaymentReferences;
      readonly failureCode: string;
    };

/** One of the fact kinds of {@link PaymentFact}. */
export type PaymentFactKind = PaymentFact["kind"];

/** The facts that name the payment they are about, through its references. */
export type PaymentObjectFact = Extract<PaymentFact, { readonly refs: PaymentReferences }>;

/** A debit's outcome (from the provider's answer or its webhook) as a fact. */
export function debitFact(refs: PaymentReferences, outcome: DebitOutcome): PaymentObjectFact {
  switch (outcome.status) {
    case "processing":
      return { kind: "debit_processing", refs, paymentIntentId: outcome.paymentIntentId };
    case "succeeded":
      return {
        kind: "debit_succeeded",
        refs,
        paymentIntentId: outcome.paymentIntentId,
        chargeId: outcome.chargeId,
        ...(outcome.transferId !== undefined ? { transferId: outcome.transferId } : {}),
      };
    case "requires_action":
      return {
        kind: "payment_requires_action",
        refs,
        paymentIntentId: outcome.paymentIntentId,
        clientSecret: outcome.clientSecret,
      };
    case "failed":
      return {
        kind: "debit_failed",
        refs,
        paymentIntentId: outcome.paymentIntentId,
        failureCode: outcome.failureCode,
      };
  }
}

/**
 * A refund's outcome as a fact; `undefined` while it is still pending (a refund of a
 * debit that is still processing waits for it; its webhook reports how it ends).
 */
export function refundFact(refs: PaymentReferences, outcome: RefundOutcome): PaymentObjectFact | undefined {
  const amount = outcome.amountMinor !== undefined ? { amountMinor: outcome.amountMinor } : {};
  switch (outcome.status) {
    case "pending":
      return undefined;
    case "succeeded":
      return { kind: "refund_succeeded", refs, refundId: outcome.refundId, ...amount };
    case "failed":
      return {
        kind: "refund_failed",
        refs,
        refundId: outcome.refundId,
        failureCode: outcome.failureCode ?? "refund_failed",
        ...amount,
      };
  }
}

/**
 * The references of what a held payment's effect makes at the provider: the payment, and
 * the step's numbers (a transfer's attempt; a refund's number and attempt; a reversal's
 * number), so the facts about it find their step again.
 */
export function heldPaymentRefs(
  heldPaymentId: string,
  step: { readonly attempt?: number; readonly refund?: number; readonly reversal?: number } = {},
): PaymentReferences {
  return {
    heldPaymentId,
    ...(step.attempt !== undefined ? { attempt: step.attempt } : {}),
    ...(step.refund !== undefined ? { refund: step.refund } : {}),
    ...(step.reversal !== undefined ? { reversal: step.reversal } : {}),
  };
}

/**
 * The references of what a marketplace charge's effect makes at the provider: the charge,
 * and the step (a seller's transfer attempt; a refund's number and attempt; a reversal's
 * number), so the facts about it find their step again.
 */
export function marketplaceChargeRefs(
  marketplaceChargeId: string,
  step: {
    readonly sellerId?: string;
    readonly attempt?: number;
    readonly refund?: number;
    readonly reversal?: number;
  } = {},
): PaymentReferences {
  return {
    marketplaceChargeId,
    ...(step.sellerId !== undefined ? { sellerId: step.sellerId } : {}),
    ...(step.attempt !== undefined ? { attempt: step.attempt } : {}),
    ...(step.refund !== undefined ? { refund: step.refund } : {}),
    ...(step.reversal !== undefined ? { reversal: step.reversal } : {}),
  };
}

/** The references of a payment a round made for one member (and attempt, where it has one). */
export function roundPaymentRefs(
  groupId: string,
  roundId: string,
  memberId: MemberId,
  attempt?: number,
): PaymentReferences {
  return { groupId, roundId, memberId, ...(attempt !== undefined ? { attempt } : {}) };
}
