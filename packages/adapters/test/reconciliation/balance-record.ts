// A Stripe balance transaction as the puller stores it, for reconciliation tests: one builder,
// so a new field of StripeBalanceRecord needs one default here, not one in every test file.
import type { StripeBalanceRecord } from "../../src/reconciliation/stripe-items.js";

/**
 * An available AUD charge of nothing, at time 0, without fee, presentment or any link to a
 * susu object; `overrides` say what the test cares about.
 */
export function balanceRecord(overrides: Partial<StripeBalanceRecord> = {}): StripeBalanceRecord {
  return {
    id: "txn_1",
    type: "charge",
    reportingCategory: "charge",
    status: "available",
    sourceId: null,
    sourceObject: null,
    amountMinor: 0,
    currency: "AUD",
    feeMinor: 0,
    netMinor: 0,
    exchangeRate: null,
    created: 0,
    availableOn: 0,
    presentmentMinor: null,
    presentmentCurrency: null,
    effectId: null,
    heldPaymentId: null,
    groupId: null,
    roundId: null,
    marketplaceChargeId: null,
    sellerId: null,
    membershipInvoiceId: null,
    membershipLookupFailure: null,
    transferId: null,
    transferEffectId: null,
    sourceStatus: null,
    ...overrides,
  };
}
