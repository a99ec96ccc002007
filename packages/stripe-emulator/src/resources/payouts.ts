import type Stripe from "stripe";
import type { Engine } from "../core/engine.js";
import { newId } from "../core/ids.js";
import { parseCurrency } from "../core/money.js";
import { MAIN_CLOCK } from "../core/scheduler.js";
import { stringKey } from "../core/store.js";
import { invalidParam, invalidRequest, resourceMissing } from "../http/errors.js";
import { PAYOUT_CREATE } from "../http/known-params.js";
import {
  applyMetadata,
  child,
  isParams,
  matchesRange,
  optEnum,
  optInt,
  optString,
  type Params,
  paramName,
  reqInt,
  reqString,
} from "../http/params.js";
import { listOf, pageRequest } from "../http/render.js";
import type { Router } from "../http/router.js";
import type { AccountMeta } from "./account-meta.js";
import {
  accountNumberOf,
  addBankAccount,
  defaultBankAccount,
  markBankAccountErrored,
} from "./external-accounts.js";

const TRANSIT_TASK = "payout.in_transit";
const ARRIVAL_TASK = "payout.arrival";
const SCHEDULE_TASK = "payout.schedule";
const DAY = 86_400;

interface PayoutMeta {
  /** Failure decided by the destination's test account number or by the control endpoint. */
  failure?: { code: string; message: string };
}

/** Stripe's Connect test bank account numbers (BSB 110000) and the payout failure each causes. */
export const PAYOUT_TEST_ACCOUNTS: Record<string, { code: string; message: string }> = {
  "111111116": {
    code: "no_account",
    message:
      "The bank account details on file are probably incorrect. No bank account could be located with those details.",
  },
  "111111113": { code: "account_closed", message: "The bank account has been closed." },
  "222222227": { code: "insufficient_funds", message: "The bank account has insufficient funds." },
  "333333335": {
    code: "debit_not_authorized",
    message: "Debit transactions are not approved on the bank account.",
  },
  "444444440": {
    code: "invalid_currency",
    message: "The bank account could not accept the payout's currency.",
  },
};

const FAILURE_MESSAGES: Record<string, string> = {
  ...Object.fromEntries(Object.values(PAYOUT_TEST_ACCOUNTS).map((f) => [f.code, f.message])),
  could_not_process: "The bank could not process this payout.",
  account_frozen: "The bank account has been frozen.",
  bank_account_restricted:
    "The bank account has restrictions on either the type or number of payouts allowed.",
  declined: "The bank has declined this payout.",
  invalid_account_number: "The routing number seems correct, but the account number is invalid.",
};

/** The payout settings of an account, as `settings.payouts.schedule` shows them. */
function defaultSchedule(engine: Engine): Stripe.Account.Settings.Payouts.Schedule {
  return { delay_days: Math.ceil(engine.options.availabilityDelaySeconds / DAY), interval: "manual" };
}

/** Stripe's `settings` of a new account, with the emulator's default (manual) payout schedule. */
export function defaultSettings(engine: Engine): Stripe.Account.Settings {
  return {
    branding: { icon: null, logo: null, primary_color: null, secondary_color: null },
    card_payments: {
      decline_on: { avs_failure: false, cvc_failure: false },
      statement_descriptor_prefix: null,
      statement_descriptor_prefix_kana: null,
      statement_descriptor_prefix_kanji: null,
    },
    dashboard: { display_name: null, timezone: "Etc/UTC" },
    payments: {
      statement_descriptor: null,
      statement_descriptor_kana: null,
      statement_descriptor_kanji: null,
    },
    payouts: { debit_negative_balances: true, schedule: defaultSchedule(engine), statement_descriptor: null },
  } as Stripe.Account.Settings;
}

const WEEKDAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

/**
 * `settings[payouts]` and `external_account[…]` of `POST /v1/accounts[/:id]`: the schedule is
 * stored on the account and (re)starts its automatic payouts; the bank account becomes its
 * currency's default, replacing (deleting) the old default, as Stripe documents; its number
 * decides, like Stripe's test numbers, whether payouts to it fail.
 */
export function applyPayoutParams(
  engine: Engine,
  account: Stripe.Account,
  meta: AccountMeta,
  params: Params,
): void {
  const external = child(params, "external_account");
  if (external && isParams(external))
    addBankAccount(engine, account, meta, external, {
      replace: true,
      makeDefault: true,
      parent: "external_account",
    });
  const settings = child(params, "settings");
  const payouts = settings && isParams(settings) ? child(settings, "payouts", "settings") : undefined;
  if (!payouts || !isParams(payouts)) return;
  account.settings ??= defaultSettings(engine);
  const current = account.settings.payouts ?? {
    debit_negative_balances: true,
    schedule: defaultSchedule(engine),
    statement_descriptor: null,
  };
  const p = "settings[payouts]";
  const descriptor = optString(payouts, "statement_descriptor", p);
  if (descriptor !== undefined) current.statement_descriptor = descriptor || null;
  const debit = optString(payouts, "debit_negative_balances", p);
  if (debit !== undefined) current.debit_negative_balances = debit === "true";
  const schedule = child(payouts, "schedule", p);
  if (schedule && isParams(schedule)) {
    const s = paramName(p, "schedule");
    const interval = optEnum(schedule, "interval", ["manual", "daily", "weekly", "monthly"], s);
    const next: Stripe.Account.Settings.Payouts.Schedule = { ...current.schedule };
    if (interval) next.interval = interval;
    const delay = optString(schedule, "delay_days", s);
    if (delay !== undefined) {
      const days = delay === "minimum" ? defaultSchedule(engine).delay_days : Number(delay);
      if (!Number.isInteger(days) || days < 0)
        throw invalidParam(paramName(s, "delay_days"), "Invalid integer");
      next.delay_days = days;
    }
    const weekly = optEnum(schedule, "weekly_anchor", WEEKDAYS as [string, ...string[]], s);
    if (weekly) next.weekly_anchor = weekly;
    const monthly = optInt(schedule, "monthly_anchor", s);
    if (monthly !== undefined) {
      if (monthly < 1 || monthly > 31)
        throw invalidParam(paramName(s, "monthly_anchor"), "Invalid monthly_anchor");
      next.monthly_anchor = monthly;
    }
    if (next.interval === "weekly") next.weekly_anchor ??= "monday";
    else delete next.weekly_anchor;
    if (next.interval === "monthly") next.monthly_anchor ??= 1;
    else delete next.monthly_anchor;
    current.schedule = next;
    engine.scheduler.cancel(SCHEDULE_TASK, account.id);
    if (next.interval !== "manual") {
      engine.scheduler.schedule(MAIN_CLOCK, nextMidnight(engine.now()), SCHEDULE_TASK, account.id);
    }
  }
  account.settings.payouts = current;
}

function nextMidnight(now: number): number {
  return (Math.floor(now / DAY) + 1) * DAY;
}

/** Whether an automatic payout is due on the (UTC) day starting at `at`. */
function payoutDay(schedule: Stripe.Account.Settings.Payouts.Schedule, at: number): boolean {
  const date = new Date(at * 1000);
  if (schedule.interval === "daily") return true;
  if (schedule.interval === "weekly")
    return WEEKDAYS[date.getUTCDay()] === (schedule.weekly_anchor ?? "monday");
  if (schedule.interval === "monthly") {
    const lastDay = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 0)).getUTCDate();
    return date.getUTCDate() === Math.min(schedule.monthly_anchor ?? 1, lastDay);
  }
  return false;
}

function accountRecord(engine: Engine, id: string) {
  return engine.store.find<Stripe.Account, AccountMeta>("account", id, engine.platform);
}

/**
 * The bank account a payout in `currency` goes to: the account's default for the currency, or
 * (an account with none in it) an id the emulator makes up, as before it kept bank accounts.
 */
function bankAccountId(engine: Engine, owner: string, currency: string): string {
  if (owner === engine.platform) return "ba_1EmulatorPlatformBank00";
  const record = accountRecord(engine, owner);
  if (!record) return "ba_unknown";
  const bank = defaultBankAccount(record.obj, currency);
  if (bank) return bank.id;
  record.meta.bankAccountId ??= newId("ba");
  return record.meta.bankAccountId;
}

/** Pays `amount` of the available balance out to the account's bank account. */
export function createPayout(
  engine: Engine,
  owner: string,
  input: {
    amount: number;
    currency: string;
    automatic: boolean;
    description: string | null;
    metadata: Record<string, string>;
    method: "standard" | "instant";
    statementDescriptor: string | null;
  },
): Stripe.Payout {
  const account = owner === engine.platform ? undefined : accountRecord(engine, owner);
  if (account && !account.obj.payouts_enabled) {
    throw invalidRequest("Payouts are not enabled for this account: it has requirements past due.", {
      code: "payouts_not_allowed",
    });
  }
  if (engine.ledger.amounts(owner, input.currency).available < input.amount) {
    throw invalidRequest(
      "You have insufficient funds in your Stripe account for this transfer. Your card balance is too low. You can use the /v1/balance endpoint to view your Stripe balance (for more details, see stripe.com/docs/api#balance).",
      { code: "balance_insufficient", param: "amount" },
    );
  }
  const id = newId("po");
  const txn = engine.ledger.create({
    owner,
    amount: -input.amount,
    currency: input.currency,
    type: "payout",
    reportingCategory: "payout",
    source: id,
    description: input.description ?? "STRIPE PAYOUT",
    availability: { kind: "now" },
  });
  const now = engine.now();
  const instant = input.method === "instant";
  const payout: Stripe.Payout = {
    id,
    object: "payout",
    amount: input.amount,
    application_fee: null,
    application_fee_amount: null,
    arrival_date: instant ? now : now + engine.options.payoutArrivalSeconds,
    automatic: input.automatic,
    balance_transaction: txn.id,
    created: now,
    currency: input.currency,
    description: input.description ?? "STRIPE PAYOUT",
    destination: bankAccountId(engine, owner, input.currency),
    failure_balance_transaction: null,
    failure_code: null,
    failure_message: null,
    livemode: false,
    metadata: input.metadata,
    method: input.method,
    original_payout: null,
    payout_method: null,
    reconciliation_status: input.automatic ? "in_progress" : "not_applicable",
    reversed_by: null,
    source_type: "card",
    statement_descriptor: input.statementDescriptor,
    status: "pending",
    trace_id: null,
    type: "bank_account",
  };
  const number = account ? accountNumberOf(account.meta, payout.destination as string) : undefined;
  const failure = number ? PAYOUT_TEST_ACCOUNTS[number] : undefined;
  engine.store.insert<Stripe.Payout, PayoutMeta>("payout", owner, payout, failure ? { failure } : {});
  engine.emit("payout.created", payout, owner);
  const transitAt = instant
    ? now
    : Math.min(now + engine.options.payoutInTransitSeconds, payout.arrival_date);
  engine.scheduler.schedule(MAIN_CLOCK, transitAt, TRANSIT_TASK, id);
  engine.scheduler.schedule(MAIN_CLOCK, payout.arrival_date, ARRIVAL_TASK, id);
  return payout;
}

function setStatus(
  engine: Engine,
  owner: string,
  payout: Stripe.Payout,
  status: Stripe.Payout["status"],
  /** Other fields that changed with the status, as they were (the event's previous_attributes). */
  before: Partial<Stripe.Payout> = {},
): void {
  const previous = { ...before, status: payout.status };
  payout.status = status;
  engine.emit("payout.updated", payout, owner, { previous });
}

function inTransit(engine: Engine, id: string): void {
  const record = engine.store.record<Stripe.Payout>(id);
  if (record?.obj.status !== "pending") return;
  setStatus(engine, record.owner, record.obj, "in_transit");
}

function arrive(engine: Engine, id: string): void {
  const record = engine.store.record<Stripe.Payout, PayoutMeta>(id);
  if (!record || (record.obj.status !== "in_transit" && record.obj.status !== "pending")) return;
  if (record.meta.failure) {
    failPayout(engine, id, record.meta.failure.code);
    return;
  }
  setStatus(engine, record.owner, record.obj, "paid");
  engine.emit("payout.paid", record.obj, record.owner);
}

/** The bank returns the payout: its amount comes back to the balance (`payout_failure`). */
export function failPayout(engine: Engine, id: string, code = "could_not_process"): Stripe.Payout {
  const record = engine.store.record<Stripe.Payout, PayoutMeta>(id);
  if (record?.type !== "payout") throw resourceMissing("payout", id);
  const payout = record.obj;
  if (payout.status === "failed" || payout.status === "canceled") {
    throw invalidRequest(`Payout ${id} is already ${payout.status}.`);
  }
  engine.scheduler.cancel(TRANSIT_TASK, id);
  engine.scheduler.cancel(ARRIVAL_TASK, id);
  const txn = engine.ledger.create({
    owner: record.owner,
    amount: payout.amount,
    currency: payout.currency,
    type: "payout_failure",
    reportingCategory: "payout_reversal",
    source: id,
    description: `Payout failure for ${id}`,
    availability: { kind: "now" },
  });
  const before = {
    failure_balance_transaction: payout.failure_balance_transaction,
    failure_code: payout.failure_code,
    failure_message: payout.failure_message,
  };
  payout.failure_balance_transaction = txn.id;
  payout.failure_code = code;
  payout.failure_message = FAILURE_MESSAGES[code] ?? "The payout failed.";
  setStatus(engine, record.owner, payout, "failed", before);
  engine.emit("payout.failed", payout, record.owner);
  // Stripe: the bank account a payout failed into is `errored`; nothing more is paid to it
  // until its details are updated.
  if (record.owner !== engine.platform && typeof payout.destination === "string")
    markBankAccountErrored(engine, record.owner, payout.destination);
  return payout;
}

/** Automatic payouts: on each payout day of the schedule, the whole available balance per currency. */
function runSchedule(engine: Engine, accountId: string): void {
  const record = accountRecord(engine, accountId);
  const schedule = record?.obj.settings?.payouts?.schedule;
  if (!record || record.meta.deleted || !schedule || schedule.interval === "manual") return;
  if (payoutDay(schedule, engine.now()) && record.obj.payouts_enabled) {
    for (const currency of engine.ledger.currencies(accountId)) {
      const available = engine.ledger.amounts(accountId, currency).available;
      if (available <= 0) continue;
      // Stripe stops scheduled payouts to an errored bank account until it is updated.
      if (defaultBankAccount(record.obj, currency)?.status === "errored") continue;
      createPayout(engine, accountId, {
        amount: available,
        currency,
        automatic: true,
        description: null,
        metadata: {},
        method: "standard",
        statementDescriptor: record.obj.settings?.payouts?.statement_descriptor ?? null,
      });
    }
  }
  engine.scheduler.schedule(MAIN_CLOCK, engine.now() + DAY, SCHEDULE_TASK, accountId);
}

export function registerPayouts(router: Router, engine: Engine): void {
  engine.store.defineIndex<Stripe.Payout>(
    "payout",
    "destination",
    stringKey((p) => p.destination),
  );
  engine.onTask(TRANSIT_TASK, (ref) => inTransit(engine, ref));
  engine.onTask(ARRIVAL_TASK, (ref) => arrive(engine, ref));
  engine.onTask(SCHEDULE_TASK, (ref) => runSchedule(engine, ref));

  router.post(
    "/v1/payouts",
    (req) => {
      const amount = reqInt(req.params, "amount");
      if (amount <= 0) throw invalidParam("amount", "Invalid positive integer", "parameter_invalid_integer");
      const destination = optString(req.params, "destination");
      const currency = parseCurrency(reqString(req.params, "currency"));
      if (destination && destination !== bankAccountId(engine, req.account, currency)) {
        throw resourceMissing("external_account", destination, "destination");
      }
      return createPayout(engine, req.account, {
        amount,
        currency,
        automatic: false,
        description: optString(req.params, "description") || null,
        metadata: applyMetadata({}, req.params),
        method: optEnum(req.params, "method", ["standard", "instant"]) ?? "standard",
        statementDescriptor: optString(req.params, "statement_descriptor") || null,
      });
    },
    PAYOUT_CREATE,
  );

  const getPayout = (id: string, account: string): Stripe.Payout =>
    engine.store.get<Stripe.Payout>("payout", id, account, "payout").obj;

  router.get("/v1/payouts/:id", (req) => getPayout(req.pathParams.id!, req.account));

  router.post("/v1/payouts/:id", (req) => {
    const payout = getPayout(req.pathParams.id!, req.account);
    const previous = { metadata: payout.metadata };
    payout.metadata = applyMetadata(payout.metadata ?? {}, req.params);
    engine.emit("payout.updated", payout, req.account, { previous });
    return payout;
  });

  router.post("/v1/payouts/:id/cancel", (req) => {
    const payout = getPayout(req.pathParams.id!, req.account);
    if (payout.status !== "pending") {
      throw invalidRequest(
        `Payouts can only be canceled while they are pending. This payout is ${payout.status}.`,
        {
          code: "payout_not_cancelable",
        },
      );
    }
    engine.scheduler.cancel(TRANSIT_TASK, payout.id);
    engine.scheduler.cancel(ARRIVAL_TASK, payout.id);
    // Stripe names the returning transaction on the payout, as for a failure.
    const txn = engine.ledger.create({
      owner: req.account,
      amount: payout.amount,
      currency: payout.currency,
      type: "payout_cancel",
      reportingCategory: "payout_reversal",
      source: payout.id,
      availability: { kind: "now" },
    });
    const before = { failure_balance_transaction: payout.failure_balance_transaction };
    payout.failure_balance_transaction = txn.id;
    setStatus(engine, req.account, payout, "canceled", before);
    engine.emit("payout.canceled", payout, req.account);
    return payout;
  });

  router.get("/v1/payouts", (req) => {
    const status = optString(req.params, "status");
    const destination = optString(req.params, "destination");
    const page = engine.store.page<Stripe.Payout>(
      "payout",
      req.account,
      pageRequest(req.params),
      (r) =>
        (status === undefined || r.obj.status === status) &&
        (destination === undefined || r.obj.destination === destination) &&
        matchesRange(r.obj.created, req.params, "created") &&
        matchesRange(r.obj.arrival_date, req.params, "arrival_date"),
      [["destination", destination]],
    );
    return listOf("/v1/payouts", page);
  });
}
