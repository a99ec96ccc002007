/**
 * What a payment or transfer failure means for the next step:
 * - `retryable`: a new attempt later may succeed (insufficient funds, processing error);
 * - `permanent`: retrying cannot help until a person acts (account closed, mandate revoked);
 * - `outcome_unknown`: we cannot tell whether money moved; wait for the webhook or re-read.
 */
export type FailureClass = "retryable" | "permanent" | "outcome_unknown";

/** The payment rails whose failure codes susu classifies. */
export type FailureRail = "becs_debit" | "card" | "transfer";

const BECS: Readonly<Record<string, FailureClass>> = {
  insufficient_funds: "retryable",
  processing_error: "retryable",
  refer_to_customer: "retryable",
  bank_account_restricted: "permanent",
  account_closed: "permanent",
  no_account: "permanent",
  debit_not_authorized: "permanent",
  invalid_account_number: "permanent",
  branch_does_not_exist: "permanent",
  mandate_revoked: "permanent",
  payment_method_microdeposit_verification_failed: "permanent",
  account_frozen: "permanent",
  bank_ownership_changed: "permanent",
};

const CARD: Readonly<Record<string, FailureClass>> = {
  insufficient_funds: "retryable",
  processing_error: "retryable",
  issuer_not_available: "retryable",
  try_again_later: "retryable",
  card_velocity_exceeded: "retryable",
  authentication_required: "permanent",
  card_declined: "permanent",
  generic_decline: "permanent",
  do_not_honor: "permanent",
  expired_card: "permanent",
  incorrect_cvc: "permanent",
  incorrect_number: "permanent",
  lost_card: "permanent",
  stolen_card: "permanent",
  fraudulent: "permanent",
  pickup_card: "permanent",
  card_not_supported: "permanent",
  currency_not_supported: "permanent",
};

const TRANSFER: Readonly<Record<string, FailureClass>> = {
  balance_insufficient: "retryable",
  rate_limit: "retryable",
  lock_timeout: "retryable",
  api_connection_error: "outcome_unknown",
  api_error: "outcome_unknown",
  // The outbox dropped a transfer whose earlier try failed unheard (kernel/late-transfers.ts).
  earlier_try_unheard: "outcome_unknown",
  insufficient_capabilities_for_transfer: "permanent",
  account_invalid: "permanent",
  transfers_not_allowed: "permanent",
  account_closed: "permanent",
  no_account: "permanent",
};

const TABLES: Readonly<Record<FailureRail, Readonly<Record<string, FailureClass>>>> = {
  becs_debit: BECS,
  card: CARD,
  transfer: TRANSFER,
};

/**
 * Classifies a Stripe failure code (`last_payment_error.code`, `decline_code`, or an API
 * error code) for a rail. Unknown codes on debits are treated as permanent, so a person
 * looks at them instead of susu retrying blindly; unknown transfer codes are
 * `outcome_unknown`, so the flow re-reads Stripe before acting.
 */
export function classifyFailure(rail: FailureRail, code: string | null | undefined): FailureClass {
  if (code === null || code === undefined || code === "")
    return rail === "transfer" ? "outcome_unknown" : "permanent";
  return TABLES[rail][code] ?? (rail === "transfer" ? "outcome_unknown" : "permanent");
}

/**
 * Codes with which the provider says an object cannot be read at all: deleted, or
 * disconnected from the platform. Such an account cannot be paid, such a mandate not
 * debited — an answer, not a passing fault.
 */
const GONE_CODES: ReadonlySet<string> = new Set(["resource_missing", "account_invalid", "permission_denied"]);

/** Whether a definite refusal to read an object means the object is gone for the platform. */
export function isGoneCode(code: string): boolean {
  return GONE_CODES.has(code);
}
