// A Stripe balance transaction as the puller stores it, for reconciliation tests: one builder,
// so a new field of StripeBalanceRecord needs one default here, not one in every test file;
// and one way to store a period's ledger postings and balance transactions on PostgreSQL.
import type { LedgerTransaction } from "@susu/domain";
import { PrismaLedgerStore } from "../../src/prisma/index.js";
import type { StripeBalanceRecord } from "../../src/reconciliation/stripe-items.js";
import type { useTestDatabase } from "../support/index.js";

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

/** Ledger postings and Stripe's balance transactions, stored as the ledger and the puller store them. */
export async function store(
  prisma: ReturnType<typeof useTestDatabase>["prisma"],
  postings: readonly LedgerTransaction[],
  stripe: readonly StripeBalanceRecord[],
  pulledAt: number,
): Promise<void> {
  const ledger = new PrismaLedgerStore(prisma);
  for (const tx of postings) (await ledger.post(tx))._unsafeUnwrap();
  for (const r of stripe)
    await prisma.stripeBalanceTransaction.create({
      data: {
        ...r,
        amountMinor: BigInt(r.amountMinor),
        feeMinor: BigInt(r.feeMinor),
        netMinor: BigInt(r.netMinor),
        presentmentMinor: r.presentmentMinor === null ? null : BigInt(r.presentmentMinor),
        created: new Date(r.created),
        availableOn: new Date(r.availableOn),
        pulledAt: new Date(pulledAt),
      },
    });
}
