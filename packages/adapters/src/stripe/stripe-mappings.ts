import type {
  AccountBalance,
  ConnectedAccountStatus,
  DebitOutcome,
  GatewayError,
  MandateStatus,
  Money,
  PaymentStatus,
  PayoutDestination,
  PayoutSchedule,
  PayoutStatus,
  RefundOutcome,
  ReportedPayout,
} from "@susu/domain";
import { isCurrencyCode, money } from "@susu/domain";
import { err, ok, type Result } from "neverthrow";
import type Stripe from "stripe";

// Pure mappings from Stripe objects to the domain's types, shared by the gateway (API
// answers) and the event translator (webhook payloads), so both read Stripe the same way.

/** The id of an expandable field, whether Stripe sent the id or the expanded object. */
export function idOf(value: string | { readonly id: string } | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  return typeof value === "string" ? value : value.id;
}

/** An answer this code does not understand: reported as outcome unknown, so the flow re-reads or waits. */
export function unexpectedAnswer(code: string, message: string): GatewayError {
  return { type: "gateway_outcome_unknown", code, message };
}

/**
 * A destination charge's transfer to the connected account (the charge's `transfer`), when
 * the PaymentIntent's charge is expanded (the gateway's answers; a webhook's is an id).
 */
export function destinationTransferOf(pi: Stripe.PaymentIntent): { readonly transferId?: string } {
  const charge = pi.latest_charge;
  if (charge === null || typeof charge === "string") return {};
  const transferId = idOf(charge.transfer);
  return transferId !== undefined ? { transferId } : {};
}

/** The client secret of a PaymentIntent that waits for the customer, or an unexpected answer. */
function waitingForCustomer(pi: Stripe.PaymentIntent): Result<DebitOutcome, GatewayError> {
  return pi.client_secret === null || pi.client_secret === ""
    ? err(unexpectedAnswer("missing_client_secret", `PaymentIntent ${pi.id} has no client secret`))
    : ok({ status: "requires_action", paymentIntentId: pi.id, clientSecret: pi.client_secret });
}

/**
 * A PaymentIntent's status as the domain's payment outcome (a round's debit, a marketplace
 * card payment), for the gateway's answers and the webhooks alike. A PaymentIntent that
 * waits for the customer — to authenticate (`requires_action`), or to give a card for the
 * first time (`requires_payment_method` with no failed attempt) — is `requires_action` with
 * its client secret (for a round's off-session debit the domain reads that as a failure).
 * Statuses a confirmed payment cannot be in are reported as outcome unknown, so the flow
 * re-reads or waits for the webhook rather than deciding on a state it does not understand.
 */
export function debitOutcomeOf(pi: Stripe.PaymentIntent): Result<DebitOutcome, GatewayError> {
  switch (pi.status) {
    case "processing":
      return ok({ status: "processing", paymentIntentId: pi.id });
    case "succeeded": {
      const chargeId = idOf(pi.latest_charge);
      if (chargeId === undefined)
        return err(
          unexpectedAnswer("missing_latest_charge", `PaymentIntent ${pi.id} succeeded with no charge`),
        );
      return ok({ status: "succeeded", paymentIntentId: pi.id, chargeId, ...destinationTransferOf(pi) });
    }
    case "requires_payment_method":
      if (pi.last_payment_error === null || pi.last_payment_error === undefined)
        return waitingForCustomer(pi);
      return ok({ status: "failed", paymentIntentId: pi.id, failureCode: paymentFailureCode(pi) });
    case "canceled":
      return ok({
        status: "failed",
        paymentIntentId: pi.id,
        failureCode: pi.cancellation_reason ? `canceled_${pi.cancellation_reason}` : "canceled",
      });
    case "requires_action":
      // Off session nobody can authenticate: the round hears this as a failed debit.
      return waitingForCustomer(pi);
    default:
      // requires_capture / requires_confirmation cannot follow an automatic-capture
      // confirmation; a status newer than this code is not guessed at either.
      return err(
        unexpectedAnswer(
          "unexpected_payment_intent_status",
          `PaymentIntent ${pi.id} is ${pi.status} after confirmation`,
        ),
      );
  }
}

/**
 * A PaymentIntent as the domain's {@link PaymentStatus}: how a checkout's payment is judged
 * (read again when the session's event is routed, never the session's own status). A
 * customer-present payment that waits for the customer is `unpaid`; one whose last attempt
 * failed (a delayed method returned by the bank) or that was cancelled is `failed`.
 */
export function paymentStatusOf(pi: Stripe.PaymentIntent): Result<PaymentStatus, GatewayError> {
  switch (pi.status) {
    case "processing":
      return ok({ status: "processing", paymentIntentId: pi.id });
    case "succeeded": {
      const chargeId = idOf(pi.latest_charge);
      if (chargeId === undefined)
        return err(
          unexpectedAnswer("missing_latest_charge", `PaymentIntent ${pi.id} succeeded with no charge`),
        );
      const currency = pi.currency.toUpperCase();
      if (!isCurrencyCode(currency))
        return err(unexpectedAnswer("unexpected_currency", `PaymentIntent ${pi.id} is in ${pi.currency}`));
      const amountMinor = pi.amount_received > 0 ? pi.amount_received : pi.amount;
      return ok({
        status: "succeeded",
        paymentIntentId: pi.id,
        chargeId,
        amount: money(amountMinor, currency),
        ...destinationTransferOf(pi),
      });
    }
    case "requires_payment_method":
      return ok(
        pi.last_payment_error
          ? { status: "failed", paymentIntentId: pi.id, failureCode: paymentFailureCode(pi) }
          : { status: "unpaid", paymentIntentId: pi.id, reason: "waiting for a payment method" },
      );
    case "requires_action":
    case "requires_confirmation":
      return ok({
        status: "unpaid",
        paymentIntentId: pi.id,
        reason: `waiting for the customer (${pi.status})`,
      });
    case "canceled":
      return ok({
        status: "failed",
        paymentIntentId: pi.id,
        failureCode: pi.cancellation_reason ? `canceled_${pi.cancellation_reason}` : "canceled",
      });
    default:
      return err(
        unexpectedAnswer("unexpected_payment_intent_status", `PaymentIntent ${pi.id} is ${pi.status}`),
      );
  }
}

/** The most specific failure code Stripe gives for a failed payment attempt. */
export function paymentFailureCode(pi: Stripe.PaymentIntent): string {
  const error = pi.last_payment_error;
  // For BECS the bank's reason is in `code` (account_closed, …); for cards `decline_code` is finer.
  const declineCode = error?.decline_code;
  const code = error?.code;
  if (declineCode !== undefined && declineCode !== "") return declineCode;
  return code !== undefined && code !== "" ? code : "payment_failed";
}

/** Stripe's mandate status as the domain's; `undefined` for a status newer than this code. */
export function mandateStatusOf(status: Stripe.Mandate.Status): MandateStatus["status"] | undefined {
  switch (status) {
    case "active":
      return "active";
    case "inactive":
      return "inactive";
    case "pending":
      return "pending";
    default:
      return undefined;
  }
}

/**
 * Each currency's default external account (bank account or debit card) and whether Stripe
 * still pays out to it: after a payout to it fails, its `status` is `errored` and Stripe sends
 * no payout to it until the details are updated. Currencies this code does not know are left out.
 */
export function payoutDestinationsOf(
  externalAccounts: readonly (Stripe.BankAccount | Stripe.Card)[],
): PayoutDestination[] {
  return externalAccounts.flatMap((external) => {
    const currency = (external.currency ?? "").toUpperCase();
    if (external.default_for_currency !== true || !isCurrencyCode(currency)) return [];
    return [
      {
        destinationId: external.id,
        currency,
        status: external.status === "errored" ? ("errored" as const) : ("usable" as const),
      },
    ];
  });
}

/**
 * A connected account's readiness, from the account object (also the payload of
 * `account.updated`). Its payout destinations when the object lists its external accounts
 * (`externalAccounts` overrides that list, when the object held only its first page).
 */
export function connectedAccountStatus(
  account: Stripe.Account,
  externalAccounts?: readonly (Stripe.BankAccount | Stripe.Card)[],
): ConnectedAccountStatus {
  const listed = externalAccounts ?? account.external_accounts?.data;
  const requirements = account.requirements;
  const due = [...new Set([...(requirements?.past_due ?? []), ...(requirements?.currently_due ?? [])])];
  const disabledReason = requirements?.disabled_reason ?? undefined;
  return {
    accountId: account.id,
    detailsSubmitted: account.details_submitted ?? false,
    chargesEnabled: account.charges_enabled ?? false,
    payoutsEnabled: account.payouts_enabled ?? false,
    transfersActive: account.capabilities?.transfers === "active",
    requirementsDue: due,
    ...(disabledReason !== undefined ? { disabledReason } : {}),
    ...(listed !== undefined ? { payoutDestinations: payoutDestinationsOf(listed) } : {}),
    ...payoutIntervalOf(account),
  };
}

/**
 * The account's payout schedule at Stripe (`settings.payouts.schedule.interval`), when the
 * object shows it and it is one the domain knows: an account keeps the schedule it was created
 * with whatever susu's setting says later, and only a manual one is paid out by susu.
 */
function payoutIntervalOf(account: Stripe.Account): { payoutInterval?: PayoutSchedule["interval"] } {
  const interval = account.settings?.payouts?.schedule?.interval;
  return interval === "manual" || interval === "daily" || interval === "weekly" || interval === "monthly"
    ? { payoutInterval: interval }
    : {};
}

/**
 * A refund's status as the domain's refund outcome. A cancelled refund (Stripe cancels one
 * that waited on a debit that then failed) is a failure: nothing came in, nothing goes back.
 */
export function refundOutcomeOf(refund: Stripe.Refund): RefundOutcome {
  switch (refund.status) {
    case "succeeded":
      return { refundId: refund.id, status: "succeeded" };
    case "failed":
      return { refundId: refund.id, status: "failed", failureCode: refund.failure_reason ?? "refund_failed" };
    case "canceled":
      return { refundId: refund.id, status: "failed", failureCode: "canceled" };
    default:
      // pending, requires_action, or a status newer than this code: the refund webhook says how it ends.
      return { refundId: refund.id, status: "pending" };
  }
}

const PAYOUT_STATUS: Readonly<Record<string, PayoutStatus>> = {
  pending: "pending",
  in_transit: "in_transit",
  paid: "paid",
  failed: "failed",
  canceled: "canceled",
};

/**
 * A connected account's payout as the domain records it (`accountId`: the account it left,
 * the event's `account`). `undefined` for a status or currency this code does not know.
 */
export function reportedPayoutOf(payout: Stripe.Payout, accountId: string): ReportedPayout | undefined {
  const status = PAYOUT_STATUS[payout.status];
  const currency = payout.currency.toUpperCase();
  if (status === undefined || !isCurrencyCode(currency)) return undefined;
  return {
    payoutId: payout.id,
    accountId,
    amountMinor: payout.amount,
    currency,
    status,
    arrivalDate: payout.arrival_date * 1000,
    automatic: payout.automatic,
    ...(payout.failure_code !== null ? { failureCode: payout.failure_code } : {}),
    ...(payout.failure_message !== null ? { failureMessage: payout.failure_message } : {}),
    createdAt: payout.created * 1000,
  };
}

/** A Stripe balance per currency (currencies this code does not know are left out). */
export function accountBalanceOf(balance: Stripe.Balance): AccountBalance {
  const amounts = (list: readonly { amount: number; currency: string }[]): Money[] =>
    list.flatMap((a) => {
      const currency = a.currency.toUpperCase();
      return isCurrencyCode(currency) ? [money(a.amount, currency)] : [];
    });
  return { available: amounts(balance.available), pending: amounts(balance.pending) };
}
