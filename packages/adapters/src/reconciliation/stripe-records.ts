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
// metadata. A look-up Stripe refuses for good (a 4xx: a restricted key without read access to
// invoice payments, one bad payment) is stored on the row (`membership_lookup_failure`) and
// reported as `membership_lookup_failed`, so one payment does not stop every later day; one that
// may succeed later (rate limited, 5xx, no answer: past the SDK's own retries) fails the pull, and
// the period stays due.
//
// What that costs: for a membership's charge, its PaymentIntent (for its metadata) and its
// invoice payment, two calls; for a refund made outside susu, the same unless its charge's were
// fetched in this pull. An invoice found before is reused from the rows already stored for the
// same charge or refund (or, for a refund, its charge), so pulling a period again (every run pulls
// its period first) asks Stripe nothing more for those; the remaining look-ups run
// {@link LOOKUP_CONCURRENCY} at a time. None for what susu's metadata already names.
import type { GatewayError } from "@susu/domain";
import type Stripe from "stripe";
import type { PrismaClient } from "../db/prisma-client.js";
import { mapConcurrently } from "../map-concurrently.js";
import { invoiceReferencesOf } from "../stripe/invoice-payment-lookup.js";
import { METADATA_KEYS } from "../stripe/payment-metadata.js";
import { BILLING_METADATA_KEYS } from "../stripe/stripe-billing-gateway.js";
import { classifyStripeError } from "../stripe/stripe-errors.js";
import type { StripeBalanceRecord } from "./stripe-items.js";

/** Stripe's `created` is in seconds; a period's bounds are epoch ms. */
const seconds = (ms: number): number => Math.ceil(ms / 1000);

/** How many balance transactions a pull resolves at once (their look-ups at Stripe, in parallel). */
export const LOOKUP_CONCURRENCY = 4;

/** The membership invoice of a payment, or why Stripe refused to say (see the top of this file). */
interface InvoiceLookup {
  readonly invoiceId: string | null;
  readonly failure: string | null;
}

/** What a row stored before says of a charge or a refund whose membership invoice was found. */
interface KnownInvoice {
  readonly membershipInvoiceId: string;
  readonly effectId: string | null;
  readonly heldPaymentId: string | null;
  readonly groupId: string | null;
  readonly roundId: string | null;
  readonly marketplaceChargeId: string | null;
  readonly sellerId: string | null;
}

type Source = Exclude<Stripe.BalanceTransaction["source"], string | null>;

interface SourceFacts {
  readonly object: string;
  readonly amount: number | null;
  readonly currency: string | null;
  readonly metadata: Stripe.Metadata | null;
  readonly status: string | null;
  /** For a charge: what a partial capture left uncaptured. */
  readonly uncapturedAmount?: number;
  /** A reversal's transfer; a charge's or a refund's PaymentIntent; a refund's charge. */
  readonly transferId?: string;
  readonly paymentIntentId?: string;
  readonly chargeId?: string;
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
        // A charge's own transaction is for what was authorised; a partial capture's reversal
        // (reporting category `partial_capture_reversal`) gives back the rest (see #recordOf).
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
      const chargeId = idOf((source as Stripe.Refund).charge);
      return {
        object: "refund",
        amount,
        currency,
        metadata,
        status,
        ...(paymentIntentId ? { paymentIntentId } : {}),
        ...(chargeId ? { chargeId } : {}),
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
  readonly #intents = new Map<string, Promise<Stripe.PaymentIntent>>();
  readonly #charges = new Map<string, Stripe.Charge>();
  readonly #fees = new Map<string, Stripe.ApplicationFee>();
  readonly #people = new Map<string, string | null>();
  readonly #invoices = new Map<string, Promise<InvoiceLookup>>();
  /** Charges and refunds (by id) whose membership invoice a row stored before names. */
  #known = new Map<string, KnownInvoice>();

  constructor(stripe: Stripe, prisma: PrismaClient, now: () => number = Date.now) {
    this.#stripe = stripe;
    this.#prisma = prisma;
    this.#now = now;
  }

  /** Pulls the period [from, to) (epoch ms) and stores every balance transaction of it. */
  async pull(from: number, to: number): Promise<PullResult> {
    const created = { gte: seconds(from), lt: seconds(to) };
    const listed: Stripe.BalanceTransaction[] = [];
    for await (const bt of this.#stripe.balanceTransactions.list({
      created,
      limit: 100,
      expand: ["data.source"],
    }))
      listed.push(bt);
    this.#known = await this.#knownInvoices(listed);
    const records = await mapConcurrently(listed, LOOKUP_CONCURRENCY, (bt) => this.#recordOf(bt));
    const seen = new Set(listed.map((bt) => bt.id));
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

  /**
   * The membership invoices rows stored before name for the charges and refunds listed (or, for
   * a refund, its charge): found once, they need no look-up again.
   */
  async #knownInvoices(listed: readonly Stripe.BalanceTransaction[]): Promise<Map<string, KnownInvoice>> {
    const ids = new Set<string>();
    for (const bt of listed) {
      if (bt.source === null || typeof bt.source === "string") continue;
      const facts = factsOf(bt.source);
      if (facts.object !== "charge" && facts.object !== "refund") continue;
      ids.add(bt.source.id);
      if (facts.chargeId !== undefined) ids.add(facts.chargeId);
    }
    const known = new Map<string, KnownInvoice>();
    const all = [...ids];
    for (let i = 0; i < all.length; i += 1000) {
      const rows = await this.#prisma.stripeBalanceTransaction.findMany({
        where: { sourceId: { in: all.slice(i, i + 1000) }, membershipInvoiceId: { not: null } },
        select: {
          sourceId: true,
          membershipInvoiceId: true,
          effectId: true,
          heldPaymentId: true,
          groupId: true,
          roundId: true,
          marketplaceChargeId: true,
          sellerId: true,
        },
      });
      for (const { sourceId, membershipInvoiceId, ...refs } of rows)
        if (sourceId !== null && membershipInvoiceId !== null)
          known.set(sourceId, { membershipInvoiceId, ...refs });
    }
    return known;
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

  /** A PaymentIntent, fetched once per pull (concurrent asks share the one call). */
  #intent(id: string): Promise<Stripe.PaymentIntent> {
    const known = this.#intents.get(id);
    if (known !== undefined) return known;
    const pi = this.#stripe.paymentIntents.retrieve(id);
    this.#intents.set(id, pi);
    pi.catch(() => this.#intents.delete(id));
    return pi;
  }

  /**
   * The susu membership invoice a PaymentIntent paid, or null: it names a susu object of its
   * own (metadata), paid no invoice, or paid one of a subscription not susu's; or why Stripe
   * refused to say, for good. A failure that may pass (retryable, outcome unknown) throws.
   */
  #membershipInvoiceOfPayment(paymentIntentId: string): Promise<InvoiceLookup> {
    const known = this.#invoices.get(paymentIntentId);
    if (known !== undefined) return known;
    const lookup = this.#lookUpInvoice(paymentIntentId);
    this.#invoices.set(paymentIntentId, lookup);
    return lookup;
  }

  async #lookUpInvoice(paymentIntentId: string): Promise<InvoiceLookup> {
    let intent: Stripe.PaymentIntent;
    try {
      intent = await this.#intent(paymentIntentId);
    } catch (e) {
      return lookupFailed(paymentIntentId, classifyStripeError(e));
    }
    if (namesSusuObject(intent.metadata)) return { invoiceId: null, failure: null };
    const found = await invoiceReferencesOf(this.#stripe, { paymentIntentId });
    if (found.isErr()) return lookupFailed(paymentIntentId, found.error);
    return { invoiceId: "refs" in found.value ? (found.value.refs.invoiceId ?? null) : null, failure: null };
  }

  /**
   * The membership invoice of a balance transaction's source: the one susu's refund names; or,
   * for a charge or a refund that names no susu object, the one a row stored before names for
   * it (or, for a refund, its charge), else the one its PaymentIntent paid (see the top of this
   * file).
   */
  async #membershipInvoiceOf(
    source: SourceFacts | undefined,
    sourceId: string | null,
  ): Promise<InvoiceLookup> {
    const none = { invoiceId: null, failure: null };
    if (source === undefined || (source.object !== "charge" && source.object !== "refund")) return none;
    const named = source.object === "refund" ? source.metadata?.[BILLING_METADATA_KEYS.invoiceId] : undefined;
    if (named) return { invoiceId: named, failure: null };
    if (namesSusuObject(source.metadata) || source.paymentIntentId === undefined) return none;
    const stored =
      (sourceId !== null ? this.#known.get(sourceId) : undefined) ??
      (source.chargeId !== undefined ? this.#known.get(source.chargeId) : undefined);
    if (stored !== undefined) return { invoiceId: stored.membershipInvoiceId, failure: null };
    return this.#membershipInvoiceOfPayment(source.paymentIntentId);
  }

  async #recordOf(bt: Stripe.BalanceTransaction): Promise<StripeBalanceRecord> {
    const source = bt.source !== null && typeof bt.source !== "string" ? factsOf(bt.source) : undefined;
    const sourceId = idOf(bt.source) ?? null;
    let metadata = source?.metadata ?? null;
    // A charge made from a PaymentIntent carries its metadata on Stripe; if not, ask the
    // PaymentIntent, unless a row stored before already says what it named (a membership's).
    const stored = source?.object === "charge" && sourceId !== null ? this.#known.get(sourceId) : undefined;
    if (
      stored === undefined &&
      source?.object === "charge" &&
      !metadata?.[METADATA_KEYS.effectId] &&
      source.paymentIntentId
    )
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
              : stored !== undefined
                ? { marketplaceChargeId: stored.marketplaceChargeId, sellerId: stored.sellerId }
                : marketplaceRefs(metadata);
    const invoice = await this.#membershipInvoiceOf(source, sourceId);
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
      sourceId,
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
      ...(stored !== undefined
        ? {
            effectId: stored.effectId,
            heldPaymentId: stored.heldPaymentId,
            groupId: stored.groupId,
            roundId: stored.roundId,
          }
        : susuRefs(metadata)),
      ...marketplace,
      membershipInvoiceId: invoice.invoiceId,
      membershipLookupFailure: invoice.failure,
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

/**
 * A look-up Stripe refused for good (`gateway_definite`: a 4xx such as a key without the
 * permission, or an unknown payment) is kept as a failure on the row; any other (retryable,
 * outcome unknown: rate limited, 5xx, no answer) may succeed later and fails the pull.
 */
function lookupFailed(paymentIntentId: string, error: GatewayError): InvoiceLookup {
  const why = `the invoice of payment ${paymentIntentId} could not be looked up: ${error.code}: ${error.message}`;
  if (error.type !== "gateway_definite") throw new Error(why);
  return { invoiceId: null, failure: why };
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
    membershipLookupFailure: r.membershipLookupFailure,
    transferId: r.transferId,
    transferEffectId: r.transferEffectId,
    sourceStatus: r.sourceStatus,
    pulledAt,
  };
}
