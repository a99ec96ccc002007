/**
 * Stripe's test payment methods and bank numbers, and what the emulator does with each.
 * Sources: Stripe's testing page (cards) and its BECS Direct Debit guide (bank accounts).
 */

export interface CardDecline {
  code: string;
  declineCode: string;
  message: string;
}

export interface CardBehaviour {
  brand: string;
  last4: string;
  country: string;
  funding: "credit" | "debit";
  /** Declined when charged (and when set up, unless `attachable`). */
  decline?: CardDecline;
  /** Can be saved to a customer even though charges decline (`pm_card_chargeCustomerFail`). */
  attachable?: boolean;
  /** A dispute is opened right after the charge succeeds. */
  dispute?: { reason: string; inquiry?: boolean };
  /** Funds are available at once instead of after the availability delay. */
  bypassPending?: boolean;
  /** On-session confirmation needs 3D Secure; off-session charges are declined. */
  requiresAction?: boolean;
  /**
   * Refunds change status after `asyncRefundDelaySeconds`: `fail` begins `succeeded` and then
   * fails (`expired_or_canceled_card`), `pending` begins `pending` and then succeeds.
   */
  refund?: "fail" | "pending";
}

const visa = { brand: "visa", last4: "4242", country: "US", funding: "credit" } as const;
const generic: CardDecline = {
  code: "card_declined",
  declineCode: "generic_decline",
  message: "Your card was declined.",
};

const CARDS: Record<string, CardBehaviour> = {
  visa,
  visa_debit: { brand: "visa", last4: "5556", country: "US", funding: "debit" },
  mastercard: { brand: "mastercard", last4: "4444", country: "US", funding: "credit" },
  amex: { brand: "amex", last4: "0005", country: "US", funding: "credit" },
  au: { brand: "visa", last4: "0006", country: "AU", funding: "credit" },
  chargeDeclined: { ...visa, last4: "0002", decline: generic },
  chargeDeclinedInsufficientFunds: {
    ...visa,
    last4: "9995",
    decline: {
      code: "card_declined",
      declineCode: "insufficient_funds",
      message: "Your card has insufficient funds.",
    },
  },
  chargeDeclinedLostCard: {
    ...visa,
    last4: "9987",
    decline: { code: "card_declined", declineCode: "lost_card", message: "Your card was declined." },
  },
  chargeDeclinedStolenCard: {
    ...visa,
    last4: "9979",
    decline: { code: "card_declined", declineCode: "stolen_card", message: "Your card was declined." },
  },
  chargeDeclinedExpiredCard: {
    ...visa,
    last4: "0069",
    decline: { code: "expired_card", declineCode: "expired_card", message: "Your card has expired." },
  },
  chargeDeclinedIncorrectCvc: {
    ...visa,
    last4: "0127",
    decline: {
      code: "incorrect_cvc",
      declineCode: "incorrect_cvc",
      message: "Your card's security code is incorrect.",
    },
  },
  chargeDeclinedProcessingError: {
    ...visa,
    last4: "0119",
    decline: {
      code: "processing_error",
      declineCode: "processing_error",
      message: "An error occurred while processing your card. Try again in a little bit.",
    },
  },
  chargeDeclinedFraudulent: {
    ...visa,
    last4: "0019",
    decline: { code: "card_declined", declineCode: "fraudulent", message: "Your card was declined." },
  },
  chargeCustomerFail: { ...visa, last4: "0341", decline: generic, attachable: true },
  createDispute: { ...visa, last4: "0259", dispute: { reason: "fraudulent" } },
  createDisputeProductNotReceived: { ...visa, last4: "2685", dispute: { reason: "product_not_received" } },
  createDisputeInquiry: { ...visa, last4: "1976", dispute: { reason: "fraudulent", inquiry: true } },
  bypassPending: { ...visa, last4: "0077", bypassPending: true },
  bypassPendingInternational: { ...visa, last4: "0278", country: "GB", bypassPending: true },
  authenticationRequired: { ...visa, last4: "3184", requiresAction: true },
  threeDSecure2Required: { ...visa, last4: "3220", requiresAction: true },
  refundFail: { ...visa, last4: "5126", refund: "fail" },
  // Stripe documents the number only; `pm_card_refundPending` is the emulator's name for it.
  refundPending: { ...visa, last4: "7726", refund: "pending" },
};

const NUMBERS: Record<string, string> = {
  "4242424242424242": "visa",
  "4000056655665556": "visa_debit",
  "5555555555554444": "mastercard",
  "378282246310005": "amex",
  "4000000360000006": "au",
  "4000000000000002": "chargeDeclined",
  "4000000000009995": "chargeDeclinedInsufficientFunds",
  "4000000000009987": "chargeDeclinedLostCard",
  "4000000000009979": "chargeDeclinedStolenCard",
  "4000000000000069": "chargeDeclinedExpiredCard",
  "4000000000000127": "chargeDeclinedIncorrectCvc",
  "4000000000000119": "chargeDeclinedProcessingError",
  "4100000000000019": "chargeDeclinedFraudulent",
  "4000000000000341": "chargeCustomerFail",
  "4000000000000259": "createDispute",
  "4000000000002685": "createDisputeProductNotReceived",
  "4000000000001976": "createDisputeInquiry",
  "4000000000000077": "bypassPending",
  "4000003720000278": "bypassPendingInternational",
  "4000002760003184": "authenticationRequired",
  "4000000000003220": "threeDSecure2Required",
  "4000000000005126": "refundFail",
  "4000000000007726": "refundPending",
};

/** `pm_card_visa`, `tok_visa` → the behaviour; undefined for any other id. */
export function testCardForId(id: string): CardBehaviour | undefined {
  const match = /^(?:pm_card|tok)_(.+)$/.exec(id);
  return match ? CARDS[match[1]!] : undefined;
}

/** A card number from Stripe's testing page; any other valid-looking number behaves like 4242. */
export function testCardForNumber(number: string): CardBehaviour | undefined {
  const digits = number.replace(/[\s-]/g, "");
  if (!/^\d{13,19}$/.test(digits)) return undefined;
  const name = NUMBERS[digits];
  return name ? CARDS[name] : { ...visa, last4: digits.slice(-4) };
}

export const TEST_CARD_NAMES = Object.keys(CARDS);
export const TEST_CARD_NUMBERS = NUMBERS;

export interface BecsOutcome {
  succeeds: boolean;
  /** Settles `delayedSettlementExtraSeconds` after the normal delay ("after 3 minutes"). */
  delayed: boolean;
  failureCode?: string;
  failureMessage?: string;
  /** The mandate becomes inactive with the failure. */
  deactivatesMandate?: boolean;
  /** A dispute is opened as soon as the debit succeeds. */
  disputed?: boolean;
  /** Not one of Stripe's test numbers. */
  emulatorOnly?: boolean;
}

/** BSB 000-000 test account numbers. */
export const BECS_TEST_ACCOUNTS: Record<string, BecsOutcome> = {
  "000123456": { succeeds: true, delayed: false },
  "900123456": { succeeds: true, delayed: true },
  "111111113": {
    succeeds: false,
    delayed: false,
    failureCode: "account_closed",
    failureMessage: "The customer's bank account has been closed.",
    deactivatesMandate: true,
  },
  "111111116": {
    succeeds: false,
    delayed: false,
    failureCode: "no_account",
    failureMessage: "The customer's bank account could not be located.",
    deactivatesMandate: true,
  },
  "222222227": {
    succeeds: false,
    delayed: false,
    failureCode: "refer_to_customer",
    failureMessage:
      "The customer's bank could not process this debit; the customer should contact their bank.",
  },
  "922222227": {
    succeeds: false,
    delayed: true,
    failureCode: "refer_to_customer",
    failureMessage:
      "The customer's bank could not process this debit; the customer should contact their bank.",
  },
  "333333335": {
    succeeds: false,
    delayed: false,
    failureCode: "debit_not_authorized",
    failureMessage: "The customer has notified their bank that this payment was unauthorized.",
    deactivatesMandate: true,
  },
  "666666660": { succeeds: true, delayed: false, disputed: true },
  // Emulator extension: Stripe has no BECS test number for insufficient funds.
  "444444447": {
    succeeds: false,
    delayed: false,
    failureCode: "insufficient_funds",
    failureMessage: "The customer's account has insufficient funds to cover this payment.",
    emulatorOnly: true,
  },
};

/** Any account number outside the table succeeds, like 000123456. */
export function becsOutcome(accountNumber: string): BecsOutcome {
  return BECS_TEST_ACCOUNTS[accountNumber] ?? { succeeds: true, delayed: false };
}
