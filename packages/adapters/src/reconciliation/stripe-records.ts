// Pulls what Stripe booked for a period into `stripe_balance_transactions`, through the
// official SDK: every balance transaction of the platform account created in the period
// (auto-paginated, `created[gte]`/`created[lt]`, the source expanded for its amount,
// currency and metadata), then the transfers and payouts created in the period, whose
// balance transactions are fetched too if the first list did not have them. Rows are
// upserted by Stripe's id, so pulling a period again is a no-op apart from what changed
// at Stripe (a pending transaction that became available, a payout that failed).
//
// A membership invoice's charge names nothing of susu's (Stripe Billing writes no metadata on
// its PaymentIntents and charges, and since API version 2025-03-31 neither names its invoice):
// a charge whose metadata, and its PaymentIntent's, name no susu object is looked up once
// through its PaymentIntent's invoice payment (`invoiceReferencesOf`), and stored with the
// invoice when that invoice's subscription is a susu membership; so is a refund made outside
// susu (Stripe's dashboard) of such a charge. susu's refunds of an invoice name it in their
// metadata. So one more call per PaymentIntent of a membership (or of nobody's) in the period,
// none for what susu's metadata already names.
import type Stripe from "stripe";
import type { PrismaClient } from "../db/prisma-client.js";
import { invoiceReferencesOf } from "../stripe/invoice-payment-lookup.js";
import { METADATA_KEYS } from "../stripe/payment-metadata.js";
import { BILLING_METADATA_KEYS } from "../stripe/stripe-billing-gateway.js";
import type { StripeBalanceRecord } from "./stripe-items.js";

/** Stripe's `created` is in seconds; a period's bounds are epoch ms. */
const seconds = (ms: number): number => Math.ceil(ms / 1000);

type Source = Exclude<Stripe.BalanceTransaction["source"], string | null>;

interface SourceFacts {
  readonly object: string;
  readonly amount: number | null;
  readonly currency: string | null;
  readonly metadata: Stripe.Metadata | null;
  readonly status: string | null;
  /** For a charge: what a partial capture left uncaptured. */
  readonly uncapturedAmount?: number;
  /** A reversal's transfer; a charge's or a refund's PaymentIntent. */
  readonly transferId?: string;
  readonly paymentIntentId?: string;
}

const idOf = (value: string | { readonly id: string } | null | undefined): string | undefined =>
  value === null || value === undefined ? undefined : typeof value === "string" ? value : value.id;

function factsOf(source: Source): SourceFacts {
  const s = source as unknown as Record<string, unknown> & { object: string };
  const metadata = (s.metadata as Stripe.Metadata | undefined) ?? null;
  const amount = typeof s.amount === "number" ? s.amount : null;
  const currency = typeof s.currency === "string" ? s.currency : null;
  const status = typeof s.status === "string" ? s.status : null;
  switch (s.object) {
    case "charge": {
      const charge = source as Stripe.Charge;
      const paymentIntentId = idOf(charge.payment_intent);
      return {
        object: "charge",
        // A charge's own transaction is for what was authorised; a partial capture's
        // `payment_reversal` gives back the rest (see #recordOf).
        amount: charge.amount,
        uncapturedAmount: charge.captured ? charge.amount - charge.amount_captured : 0,
        currency,
        metadata,
        status,
        ...(paymentIntentId !== undefined ? { paymentIntentId } : {}),
      };
    }
    case "refund": {
      const paymentIntentId = idOf((source as Stripe.Refund).payment_intent);
      return {
        object: "refund",
        amount,
        currency,
        metadata,
        status,
        ...(paymentIntentId ? { paymentIntentId } : {}),
      };
    }
    case "transfer_reversal": {
      const transferId = idOf((source as Stripe.TransferReversal).transfer);
      return { object: s.object, amount, currency, metadata, status, ...(transferId ? { transferId } : {}) };
    }
    case "transfer": {
      const t = source as Stripe.Transfer;
      return { object: "transfer", amount, currency, metadata, status: t.reversed ? "reversed" : "created" };
    }
    default:
      return { object: s.object, amount, currency, metadata, status };
  }
}

const susuRefs = (metadata: Stripe.Metadata | null | undefined) => ({
  effectId: metadata?.[METADATA_KEYS.effectId] || null,
  heldPaymentId: metadata?.[METADATA_KEYS.heldPaymentId] || null,
  groupId: metadata?.[METADATA_KEYS.groupId] || null,
  roundId: metadata?.[METADATA_KEYS.roundId] || null,
});

const marketplaceRefs = (metadata: Stripe.Metadata | null | undefined) => ({
  marketplaceChargeId: metadata?.[METADATA_KEYS.marketplaceChargeId] || null,
  sellerId: metadata?.[METADATA_KEYS.sellerId] || null,
});

/** Whether metadata names an object susu made (an effect, a held payment, a marketplace charge). */
const namesSusuObject = (metadata: Stripe.Metadata | null | undefined): boolean =>
  [METADATA_KEYS.effectId, METADATA_KEYS.heldPaymentId, METADATA_KEYS.marketplaceChargeId].some(
    (key) => (metadata?.[key] ?? "") !== "",
  );

/** What a pull did. */
export interface PullResult {
  /** Balance transactions stored (inserted or refreshed). */
  readonly balanceTransactions: number;
  /** Transfers and payouts created in the period. */
  readonly transfers: number;
  readonly payouts: number;
}

/** Pulls Stripe's records of the platform account into PostgreSQL (see the top of this file). */
export class StripeRecordsPuller {
  readonly #stripe: Stripe;
  readonly #prisma: PrismaClient;
  readonly #now: () => number;
  readonly #transfers = new Map<string, Stripe.Transfer>();
  readonly #intents = new Map<string, Stripe.PaymentIntent>();
  readonly #charges = new Map<string, Stripe.Charge>();
  readonly #fees = new Map<string, Stripe.ApplicationFee>();
  readonly #people = new Map<string, string | null>();
  readonly #invoices = new Map<string, string | null>();

  constructor(stripe: Stripe, prisma: PrismaClient, now: () => number = Date.now) {
    this.#stripe = stripe;
    this.#prisma = prisma;
    this.#now = now;
  }

  /** Pulls the period [from, to) (epoch ms) and stores every balance transaction of it. */
  async pull(from: number, to: number): Promise<PullResult> {
    const created = { gte: seconds(from), lt: seconds(to) };
    const records: StripeBalanceRecord[] = [];
    const seen = new Set<string>();
    for await (const bt of this.#stripe.balanceTransactions.list({
      created,
      limit: 100,
      expand: ["data.source"],
    })) {
      seen.add(bt.id);
      records.push(await this.#recordOf(bt));
    }
    // Transfers and payouts of the period whose balance transaction the list did not return.
    let transfers = 0;
    for await (const t of this.#stripe.transfers.list({ created, limit: 100 })) {
      transfers += 1;
      this.#transfers.set(t.id, t);
      await this.#addMissing(t.balance_transaction, seen, records);
    }
    let payouts = 0;
    for await (const p of this.#stripe.payouts.list({ created, limit: 100 })) {
      payouts += 1;
      await this.#addMissing(p.balance_transaction, seen, records);
      await this.#addMissing(p.failure_balance_transaction, seen, records);
    }
    await this.#store(records);
    return { balanceTransactions: records.length, transfers, payouts };
  }

  async #addMissing(
    txn: string | Stripe.BalanceTransaction | null | undefined,
    seen: Set<string>,
    records: StripeBalanceRecord[],
  ): Promise<void> {
    const id = idOf(txn);
    if (id === undefined || seen.has(id)) return;
    seen.add(id);
    const bt = await this.#stripe.balanceTransactions.retrieve(id, { expand: ["source"] });
    records.push(await this.#recordOf(bt));
  }

  async #transfer(id: string): Promise<Stripe.Transfer> {
    const known = this.#transfers.get(id);
    if (known !== undefined) return known;
    const t = await this.#stripe.transfers.retrieve(id);
    this.#transfers.set(id, t);
    return t;
  }

  async #charge(id: string): Promise<Stripe.Charge> {
    const known = this.#charges.get(id);
    if (known !== undefined) return known;
    const charge = await this.#stripe.charges.retrieve(id);
    this.#charges.set(id, charge);
    return charge;
  }

  /** The person whose connected account this is (a seller), if any. */
  async #personOfAccount(accountId: string | undefined): Promise<string | null> {
    if (accountId === undefined) return null;
    const known = this.#people.get(accountId);
    if (known !== undefined) return known;
    const person = await this.#prisma.person.findUnique({
      where: { connectedAccountId: accountId },
      select: { id: true },
    });
    this.#people.set(accountId, person?.id ?? null);
    return person?.id ?? null;
  }

  /** A platform charge's marketplace charge id: its metadata, or its PaymentIntent's. */
  async #marketplaceChargeOf(chargeId: string): Promise<string | null> {
    const charge = await this.#charge(chargeId);
    let metadata: Stripe.Metadata | null = charge.metadata;
    const intent = idOf(charge.payment_intent);
    if (!metadata?.[METADATA_KEYS.marketplaceChargeId] && intent !== undefined)
      metadata = (await this.#intent(intent)).metadata;
    return marketplaceRefs(metadata).marketplaceChargeId;
  }

  /**
   * A transfer's marketplace charge and seller: its own metadata, or, for a destination
   * charge's transfer (which Stripe makes without metadata), its charge's and the person
   * whose connected account it pays.
   */
  async #marketplaceOfTransfer(
    transfer: Stripe.Transfer,
  ): Promise<{ marketplaceChargeId: string | null; sellerId: string | null }> {
    const own = marketplaceRefs(transfer.metadata);
    if (own.marketplaceChargeId !== null)
      return { ...own, sellerId: own.sellerId ?? (await this.#personOfAccount(idOf(transfer.destination))) };
    const chargeId = idOf(transfer.source_transaction);
    if (chargeId === undefined || transfer.metadata?.[METADATA_KEYS.effectId]) return own;
    if (idOf((await this.#charge(chargeId)).transfer) !== transfer.id) return own;
    const marketplaceChargeId = await this.#marketplaceChargeOf(chargeId);
    return marketplaceChargeId === null
      ? own
      : { marketplaceChargeId, sellerId: await this.#personOfAccount(idOf(transfer.destination)) };
  }

  /**
   * An application fee of a destination charge: collected back from the seller's account out
   * of the transfer, so it is matched with that transfer (the two net to the seller's share).
   */
  async #marketplaceOfFee(
    fee: Stripe.ApplicationFee,
  ): Promise<{ marketplaceChargeId: string | null; sellerId: string | null }> {
    const chargeId = idOf(fee.originating_transaction);
    const marketplaceChargeId = chargeId === undefined ? null : await this.#marketplaceChargeOf(chargeId);
    return marketplaceChargeId === null
      ? { marketplaceChargeId: null, sellerId: null }
      : { marketplaceChargeId, sellerId: await this.#personOfAccount(idOf(fee.account)) };
  }

  /**
   * A refund of a destination charge's application fee (`application_fee_refund`, made with
   * the charge's refund): money the platform gives back to the seller's account, matched with
   * that seller's transfer as the fee it refunds is.
   */
  async #marketplaceOfFeeRefund(
    refund: Stripe.FeeRefund,
  ): Promise<{ marketplaceChargeId: string | null; sellerId: string | null }> {
    const feeId = idOf(refund.fee);
    if (feeId === undefined) return { marketplaceChargeId: null, sellerId: null };
    const fee = typeof refund.fee === "string" ? await this.#fee(feeId) : refund.fee;
    return this.#marketplaceOfFee(fee);
  }

  async #fee(id: string): Promise<Stripe.ApplicationFee> {
    const known = this.#fees.get(id);
    if (known !== undefined) return known;
    const fee = await this.#stripe.applicationFees.retrieve(id);
    this.#fees.set(id, fee);
    return fee;
  }

  async #intent(id: string): Promise<Stripe.PaymentIntent> {
    const known = this.#intents.get(id);
    if (known !== undefined) return known;
    const pi = await this.#stripe.paymentIntents.retrieve(id);
    this.#intents.set(id, pi);
    return pi;
  }

  /**
   * The susu membership invoice a PaymentIntent paid, or null: it names a susu object of its
   * own (metadata), paid no invoice, or paid one of a subscription not susu's.
   */
  async #membershipInvoiceOfPayment(paymentIntentId: string): Promise<string | null> {
    const known = this.#invoices.get(paymentIntentId);
    if (known !== undefined) return known;
    let invoiceId: string | null = null;
    if (!namesSusuObject((await this.#intent(paymentIntentId)).metadata)) {
      const found = await invoiceReferencesOf(this.#stripe, { paymentIntentId });
      if (found.isErr())
        throw new Error(
          `the invoice of payment ${paymentIntentId} could not be looked up: ${found.error.message}`,
        );
      invoiceId = "refs" in found.value ? (found.value.refs.invoiceId ?? null) : null;
    }
    this.#invoices.set(paymentIntentId, invoiceId);
    return invoiceId;
  }

  /**
   * The membership invoice of a balance transaction's source: the one susu's refund names; or,
   * for a charge or a refund that names no susu object, the one its PaymentIntent paid (see the
   * top of this file).
   */
  async #membershipInvoiceOf(source: SourceFacts | undefined): Promise<string | null> {
    if (source === undefined || (source.object !== "charge" && source.object !== "refund")) return null;
    const named = source.object === "refund" ? source.metadata?.[BILLING_METADATA_KEYS.invoiceId] : undefined;
    if (named) return named;
    if (namesSusuObject(source.metadata) || source.paymentIntentId === undefined) return null;
    return this.#membershipInvoiceOfPayment(source.paymentIntentId);
  }

  async #recordOf(bt: Stripe.BalanceTransaction): Promise<StripeBalanceRecord> {
    const source = bt.source !== null && typeof bt.source !== "string" ? factsOf(bt.source) : undefined;
    let metadata = source?.metadata ?? null;
    // A charge made from a PaymentIntent carries its metadata on Stripe; if not, ask the PaymentIntent.
    if (source?.object === "charge" && !metadata?.[METADATA_KEYS.effectId] && source.paymentIntentId)
      metadata = (await this.#intent(source.paymentIntentId)).metadata;
    const reversed = source?.transferId !== undefined ? await this.#transfer(source.transferId) : undefined;
    const marketplace =
      reversed !== undefined
        ? await this.#marketplaceOfTransfer(reversed)
        : source?.object === "transfer" && bt.source !== null && typeof bt.source !== "string"
          ? await this.#marketplaceOfTransfer(bt.source as Stripe.Transfer)
          : source?.object === "application_fee" && bt.source !== null && typeof bt.source !== "string"
            ? await this.#marketplaceOfFee(bt.source as Stripe.ApplicationFee)
            : source?.object === "fee_refund" && bt.source !== null && typeof bt.source !== "string"
              ? await this.#marketplaceOfFeeRefund(bt.source as Stripe.FeeRefund)
              : marketplaceRefs(metadata);
    // In the source's own currency the transaction's amount is the presentment amount. Converted,
    // it is the source's amount: a charge's transaction is for what was authorised, and a
    // partial capture's `payment_reversal` gives back the uncaptured rest (Stripe's reporting
    // categories), so the two sum to the capture.
    const sameCurrency =
      source?.currency != null && source.currency.toLowerCase() === bt.currency.toLowerCase();
    const presentmentAmount = sameCurrency
      ? Math.abs(bt.amount)
      : bt.type === "payment_reversal" && source?.object === "charge"
        ? (source.uncapturedAmount ?? null)
        : source?.amount;
    return {
      id: bt.id,
      type: bt.type,
      reportingCategory: bt.reporting_category,
      status: bt.status,
      sourceId: idOf(bt.source) ?? null,
      sourceObject: source?.object ?? null,
      amountMinor: bt.amount,
      currency: bt.currency.toUpperCase(),
      feeMinor: bt.fee,
      netMinor: bt.net,
      exchangeRate: bt.exchange_rate,
      created: bt.created * 1000,
      availableOn: bt.available_on * 1000,
      presentmentMinor: presentmentAmount != null && source?.currency != null ? presentmentAmount : null,
      presentmentCurrency:
        presentmentAmount != null && source?.currency != null ? source.currency.toUpperCase() : null,
      ...susuRefs(metadata),
      ...marketplace,
      membershipInvoiceId: await this.#membershipInvoiceOf(source),
      transferId: reversed?.id ?? null,
      transferEffectId: reversed?.metadata?.[METADATA_KEYS.effectId] || null,
      sourceStatus: source?.status ?? null,
    };
  }

  async #store(records: readonly StripeBalanceRecord[]): Promise<void> {
    const pulledAt = new Date(this.#now());
    for (let i = 0; i < records.length; i += 100) {
      const batch = records.slice(i, i + 100);
      await this.#prisma.$transaction(
        batch.map((r) => {
          const row = rowOf(r, pulledAt);
          return this.#prisma.stripeBalanceTransaction.upsert({
            where: { id: r.id },
            create: row,
            update: row,
          });
        }),
      );
    }
  }
}

function rowOf(r: StripeBalanceRecord, pulledAt: Date) {
  return {
    id: r.id,
    type: r.type,
    reportingCategory: r.reportingCategory,
    status: r.status,
    sourceId: r.sourceId,
    sourceObject: r.sourceObject,
    amountMinor: BigInt(r.amountMinor),
    currency: r.currency,
    feeMinor: BigInt(r.feeMinor),
    netMinor: BigInt(r.netMinor),
    exchangeRate: r.exchangeRate === null ? null : String(r.exchangeRate),
    presentmentMinor: r.presentmentMinor === null ? null : BigInt(r.presentmentMinor),
    presentmentCurrency: r.presentmentCurrency,
    created: new Date(r.created),
    availableOn: new Date(r.availableOn),
    effectId: r.effectId,
    heldPaymentId: r.heldPaymentId,
    groupId: r.groupId,
    roundId: r.roundId,
    marketplaceChargeId: r.marketplaceChargeId,
    sellerId: r.sellerId,
    membershipInvoiceId: r.membershipInvoiceId,
    transferId: r.transferId,
    transferEffectId: r.transferEffectId,
    sourceStatus: r.sourceStatus,
    pulledAt,
  };
}
