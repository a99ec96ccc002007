import type Stripe from "stripe";
import { newId } from "./ids.js";
import { MAIN_CLOCK, type Scheduler } from "./scheduler.js";
import type { ObjectStore } from "./store.js";

export const BT_AVAILABLE_TASK = "balance_transaction.available";

/** When a balance transaction's funds become available. */
export type Availability =
  | { kind: "now" }
  | { kind: "at"; at: number }
  /** With the funds of a charge (a transfer's `source_transaction`, a destination charge's transfer). */
  | { kind: "with_charge"; chargeId: string };

export interface BalanceTransactionInput {
  owner: string;
  amount: number;
  currency: string;
  fee?: number;
  feeDescription?: string;
  /** Set when the amount was converted from the charge's currency. */
  exchangeRate?: number | null;
  /** Part of `fee` that is the platform's application fee (direct charges). */
  applicationFee?: number;
  type: Stripe.BalanceTransaction.Type;
  reportingCategory: string;
  source: string | null;
  description?: string | null;
  availability: Availability;
}

interface BalanceTransactionMeta {
  /** The charge whose funds this waits for, when it is linked. */
  waitsFor?: string;
}

export interface Amounts {
  available: number;
  pending: number;
}

export interface LedgerSnapshot {
  balances: Array<[string, Array<[string, Amounts]>]>;
  waiting: Array<[string, string[]]>;
}

/**
 * Balance transactions and the balances they add up to. Each account's balance per currency
 * is the sum of the nets of its transactions, split by status; `pending` becomes `available`
 * at `available_on` on the emulator clock.
 */
export class Ledger {
  private readonly balances = new Map<string, Map<string, Amounts>>();
  /** Transactions waiting for a charge whose own transaction does not exist yet (BECS in flight). */
  private readonly waiting = new Map<string, string[]>();

  constructor(
    private readonly store: ObjectStore,
    private readonly scheduler: Scheduler,
  ) {}

  private now(): number {
    return this.scheduler.now(MAIN_CLOCK);
  }

  amounts(owner: string, currency: string): Amounts {
    let perCurrency = this.balances.get(owner);
    if (!perCurrency) {
      perCurrency = new Map();
      this.balances.set(owner, perCurrency);
    }
    let amounts = perCurrency.get(currency);
    if (!amounts) {
      amounts = { available: 0, pending: 0 };
      perCurrency.set(currency, amounts);
    }
    return amounts;
  }

  currencies(owner: string): string[] {
    return [...(this.balances.get(owner)?.keys() ?? [])];
  }

  create(input: BalanceTransactionInput): Stripe.BalanceTransaction {
    const now = this.now();
    const fee = input.fee ?? 0;
    let availableOn = now;
    let pending = false;
    let waitsFor: string | undefined;
    if (input.availability.kind === "at" && input.availability.at > now) {
      availableOn = input.availability.at;
      pending = true;
    } else if (input.availability.kind === "with_charge") {
      const chargeTxn = this.chargeTransaction(input.availability.chargeId);
      if (chargeTxn) {
        availableOn = chargeTxn.available_on;
        pending = chargeTxn.status === "pending";
      } else {
        pending = true;
        waitsFor = input.availability.chargeId;
      }
    }
    const txn: Stripe.BalanceTransaction = {
      id: newId("txn"),
      object: "balance_transaction",
      amount: input.amount,
      available_on: availableOn,
      balance_type: "payments",
      created: now,
      currency: input.currency,
      description: input.description ?? null,
      exchange_rate: input.exchangeRate ?? null,
      fee,
      fee_details: feeDetails(input, fee),
      net: input.amount - fee,
      reporting_category: input.reportingCategory,
      source: input.source,
      status: pending ? "pending" : "available",
      type: input.type,
    };
    const meta: BalanceTransactionMeta = waitsFor ? { waitsFor } : {};
    this.store.insert("balance_transaction", input.owner, txn, meta);
    const amounts = this.amounts(input.owner, input.currency);
    if (pending) {
      amounts.pending += txn.net;
      if (waitsFor) {
        const list = this.waiting.get(waitsFor) ?? [];
        list.push(txn.id);
        this.waiting.set(waitsFor, list);
      } else {
        this.scheduler.schedule(MAIN_CLOCK, availableOn, BT_AVAILABLE_TASK, txn.id);
      }
    } else {
      amounts.available += txn.net;
    }
    return txn;
  }

  /** Runs when a transaction's `available_on` arrives. */
  makeAvailable(txnId: string): void {
    const record = this.store.record<Stripe.BalanceTransaction>(txnId);
    if (record?.obj.status !== "pending") return;
    const txn = record.obj;
    txn.status = "available";
    const amounts = this.amounts(record.owner, txn.currency);
    amounts.pending -= txn.net;
    amounts.available += txn.net;
  }

  /**
   * A charge's own transaction now exists: the transactions that waited for it follow its
   * `available_on`.
   */
  chargeFunded(chargeId: string, availableOn: number): void {
    const ids = this.waiting.get(chargeId);
    if (!ids) return;
    this.waiting.delete(chargeId);
    for (const id of ids) this.releaseAt(id, availableOn);
  }

  /**
   * The charge failed: Stripe still pays what was transferred against it and debits the
   * platform, so the waiting transactions settle on their own schedule instead.
   */
  chargeFailed(
    chargeId: string,
    platformAvailableOn: number,
    connectedAvailableOn: number,
    platform: string,
  ): void {
    const ids = this.waiting.get(chargeId);
    if (!ids) return;
    this.waiting.delete(chargeId);
    for (const id of ids) {
      const record = this.store.record(id);
      if (!record) continue;
      this.releaseAt(id, record.owner === platform ? platformAvailableOn : connectedAvailableOn);
    }
  }

  /** Moves a pending transaction's `available_on` (a bank debit settled later or earlier than expected). */
  reschedule(txnId: string, availableOn: number): Stripe.BalanceTransaction | undefined {
    const record = this.store.record<Stripe.BalanceTransaction>(txnId);
    if (record?.obj.status !== "pending") return record?.obj;
    this.scheduler.cancel(BT_AVAILABLE_TASK, txnId);
    this.releaseAt(txnId, availableOn);
    return record.obj;
  }

  private releaseAt(txnId: string, availableOn: number): void {
    const record = this.store.record<Stripe.BalanceTransaction, BalanceTransactionMeta>(txnId);
    if (!record) return;
    delete record.meta.waitsFor;
    record.obj.available_on = availableOn;
    if (availableOn <= this.now()) this.makeAvailable(txnId);
    else this.scheduler.schedule(MAIN_CLOCK, availableOn, BT_AVAILABLE_TASK, txnId);
  }

  /** The charge's own transaction, once its outcome is known (a bank debit in flight has none yet). */
  private chargeTransaction(chargeId: string): Stripe.BalanceTransaction | undefined {
    const charge = this.store.record<Stripe.Charge>(chargeId);
    if (charge?.obj.status === "pending") return undefined;
    const txnId = charge?.obj.balance_transaction;
    if (typeof txnId !== "string") return undefined;
    return this.store.record<Stripe.BalanceTransaction>(txnId)?.obj;
  }

  clear(): void {
    this.balances.clear();
    this.waiting.clear();
  }

  snapshot(): LedgerSnapshot {
    return {
      balances: [...this.balances.entries()].map(([owner, m]) => [owner, [...m.entries()]]),
      waiting: [...this.waiting.entries()],
    };
  }

  restore(snapshot: LedgerSnapshot): void {
    this.clear();
    for (const [owner, entries] of snapshot.balances) this.balances.set(owner, new Map(entries));
    for (const [charge, ids] of snapshot.waiting) this.waiting.set(charge, ids);
  }
}

function feeDetails(input: BalanceTransactionInput, fee: number): Stripe.BalanceTransaction.FeeDetail[] {
  const applicationFee = input.applicationFee ?? 0;
  const stripeFee = fee - applicationFee;
  const details: Stripe.BalanceTransaction.FeeDetail[] = [];
  if (applicationFee > 0) {
    details.push({
      amount: applicationFee,
      application: "ca_emulator",
      currency: input.currency,
      description: "Application fee",
      type: "application_fee",
    });
  }
  if (stripeFee !== 0) {
    details.push({
      amount: stripeFee,
      application: null,
      currency: input.currency,
      description: input.feeDescription ?? "Stripe processing fees",
      type: "stripe_fee",
    });
  }
  return details;
}
