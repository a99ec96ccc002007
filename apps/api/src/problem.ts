import { randomUUID } from "node:crypto";
import type { GatewayError, UseCaseError } from "@susu/domain";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";
import type { READINESS_GAPS } from "./http/problem-response.js";

/** An RFC 9457 problem document with susu's stable `code`. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly errors?: readonly { readonly path: string; readonly message: string }[];
  /** On a 5xx: the id under which the cause is logged, for the client to quote. */
  readonly requestId?: string;
  /** `members_not_ready`: who is not ready and what each lacks (`mandate`, `payout_account`). */
  readonly notReady?: readonly {
    readonly memberId: string;
    /** Typed by the document's list, so a gap the domain adds fails to compile until it is documented. */
    readonly lacks: readonly (typeof READINESS_GAPS)[number][];
  }[];
  /** `payment_method_in_use`: the group whose running round relies on the method. */
  readonly groupId?: string;
}

const PROBLEM_BASE = "https://susu.dev/problems/";

/** Every API error code with its HTTP status. One exhaustive map: the edge decides HTTP, nothing else does. */
export function statusOf(error: UseCaseError): ContentfulStatusCode {
  switch (error.type) {
    case "not_found":
    case "payment_method_not_found":
    case "member_not_found":
    case "contribution_not_found":
    case "swap_not_found":
    // A membership's plan, or the person subscribing.
    case "plan_not_found":
    case "person_not_found":
      return 404;
    case "not_admin":
    case "member_removal_not_allowed":
    // What the person's membership (or the default without one) does not include.
    case "not_entitled":
      return 403;
    case "version_conflict":
    case "duplicate":
    case "group_not_forming":
    case "group_not_active":
    case "group_not_paused":
    case "member_exists":
    case "member_owes_contributions":
    case "member_awaiting_payout":
    case "member_is_current_recipient":
    case "round_in_progress":
    // Closing a group while members who paid into its rotation are owed their pot.
    case "rotation_in_progress":
    case "no_round_due":
    case "contribution_not_retryable":
    case "round_not_blocked":
    case "round_not_cancellable":
    case "deadline_not_extendable":
    case "payout_partially_sent":
    case "payout_in_flight":
    case "swap_not_allowed":
    case "too_few_members":
    case "too_many_members":
    case "members_not_ready":
    case "no_debit_mandate":
    case "no_payout_account":
    case "payouts_not_enabled":
    case "payouts_not_manual":
    case "payouts_paused":
    case "payout_account_gone":
    // A held payment's command refused for its state, or a reused client reference.
    case "payment_not_captured":
    case "payment_ended":
    case "fulfilment_already_reported":
    case "not_holdable":
    case "already_on_hold":
    case "not_on_hold":
    case "release_in_flight":
    case "transfer_landed_late":
    case "refund_in_flight":
    case "payment_disputed":
    case "charge_disputed":
    case "nothing_to_refund":
    case "no_failed_refund":
    case "seller_cannot_receive":
    case "seller_not_onboarded":
    case "client_reference_reused":
    // A marketplace charge's command refused for its state, or a customer who cannot be charged.
    case "charge_ended":
    case "transfers_pending":
    case "no_blocked_transfer":
    case "no_failed_reversal":
    case "customer_not_onboarded":
    // A membership's command refused for its state (or its plan's).
    case "plan_archived":
    case "price_not_available":
    case "subscription_ended":
    case "subscription_not_started":
    case "same_price":
    case "change_pending":
    case "no_change_pending":
    case "currency_change_not_allowed":
    case "not_canceling":
    case "already_canceling":
    case "already_subscribed":
    // A saved payment method a running round relies on, or a replacement that cannot take over.
    case "payment_method_in_use":
    case "replacement_not_usable":
    // The card the person's current membership is charged on, and no other unexpired card to move it to.
    case "payment_method_bills_membership":
    // A card past its expiry: it can neither start a membership nor become the default card.
    case "payment_method_expired":
    // Money owed outside Stripe: none is left to record paid, or this payment is recorded already.
    case "nothing_owed":
    case "duplicate_owed_payment":
    // Money a customer owes back (they got it twice): none is left to recover, or this recovery is recorded already.
    case "nothing_owed_back":
    case "duplicate_owed_recovery":
      return 409;
    case "storage_unavailable":
    // News of a membership invoice's charge before its payment (a webhook's fact, retried).
    case "invoice_not_paid_yet":
      return 503;
    case "storage_refused":
      return 500;
    case "invalid_group":
    case "invalid_time_zone":
    case "currency_not_supported":
    case "invalid_person":
    case "invalid_payout_order":
    case "invalid_round":
    case "invalid_reassignment":
    case "invalid_deadline":
    case "currency_mismatch":
    case "unknown_currency":
    case "invalid_amount":
    case "too_many_decimals":
    case "amount_out_of_range":
    case "overflow":
    case "invalid_ratios":
    case "amount_below_minimum":
    case "amount_too_large":
    case "amount_invalid_step":
    // A new held payment's terms.
    case "unsupported_currency":
    case "currency_not_settled":
    case "invalid_fee":
    case "invalid_dispute_window":
    case "invalid_held_payment":
    case "invalid_refund_amount":
    case "seller_not_found":
    // A new marketplace charge's terms.
    case "invalid_split":
    case "invalid_marketplace_charge":
    case "customer_not_found":
    // A new plan's or subscription's terms.
    case "invalid_plan":
    case "invalid_price":
    case "invalid_entitlements":
    case "invalid_trial_days":
    case "invalid_subscription":
    // A payment of money owed outside Stripe: more than is left, or not positive, or no reference.
    case "amount_exceeds_owed":
    case "invalid_owed_payment":
    // A recovery of money a customer owes back: more than is left, or not positive, or no reference.
    case "amount_exceeds_owed_back":
    case "invalid_owed_recovery":
      return 422;
  }
}

/** Responds with a problem document. */
export function problem(
  c: Context,
  status: ContentfulStatusCode,
  code: string,
  detail: string,
  extra?: Partial<Problem>,
): Response {
  const body: Problem = {
    type: `${PROBLEM_BASE}${code}`,
    title: code.replaceAll("_", " "),
    status,
    code,
    detail,
    ...extra,
  };
  return c.body(JSON.stringify(body), status, { "content-type": "application/problem+json" });
}

/** What a 5xx says when the caller gives no safe detail of its own. */
const SERVER_DETAIL: Partial<Record<number, string>> = {
  500: "something went wrong on our side",
  502: "an upstream service refused the request",
  503: "a service we depend on is unavailable for a moment; retry the request",
};

/** The request's id (the `requestId` middleware's), or a new one outside it. */
function requestIdOf(c: Context): string {
  const id: unknown = c.get("requestId");
  return typeof id === "string" ? id : randomUUID();
}

/**
 * Responds with a 5xx problem: the stable code, a detail written for clients (`detail`, or
 * a generic one) and the request id; the cause (a database code, a provider's message, an
 * exception) goes to the log under that id and never into the response, where it would
 * show internals to any caller.
 */
export function serverProblem(
  c: Context,
  status: ContentfulStatusCode,
  code: string,
  cause: string,
  detail?: string,
): Response {
  const requestId = requestIdOf(c);
  console.error(
    JSON.stringify({
      level: "error",
      service: "susu-api",
      msg: "request failed",
      requestId,
      status,
      code,
      cause,
      method: c.req.method,
      path: c.req.path,
    }),
  );
  const told = detail ?? SERVER_DETAIL[status] ?? SERVER_DETAIL[500];
  return problem(c, status, code, `${told} (request id ${requestId})`, { requestId });
}

/** Responds with the problem for a use case's error; a 5xx keeps its cause in the log. */
export function useCaseProblem(c: Context, error: UseCaseError): Response {
  const status = statusOf(error);
  if (status >= 500) return serverProblem(c, status, error.code, error.message);
  // Who is not ready, as data: a client shows each member what they still have to set up.
  const extra =
    error.type === "members_not_ready"
      ? { notReady: error.notReady }
      : error.type === "payment_method_in_use"
        ? { groupId: error.groupId }
        : undefined;
  return problem(c, status, error.code, error.message, extra);
}

/** Responds with the problem for input that failed validation. */
export function validationProblem(c: Context, error: ZodError): Response {
  return problem(c, 400, "invalid_request", "the request does not match the schema", {
    errors: error.issues.map((i) => ({ path: i.path.join("."), message: i.message })),
  });
}

/** Responds with the problem for a use case that also called the payment provider. */
export function providerProblem(c: Context, error: UseCaseError | GatewayError): Response {
  switch (error.type) {
    case "gateway_retryable":
    case "gateway_outcome_unknown":
      // Safe to repeat: the call is idempotent, so the client retries the same request.
      return serverProblem(
        c,
        503,
        error.code,
        error.message,
        "the payment provider did not answer in time; repeating the request is safe",
      );
    case "gateway_definite":
      return serverProblem(c, 502, error.code, error.message, "the payment provider refused the request");
    default:
      return useCaseProblem(c, error);
  }
}
