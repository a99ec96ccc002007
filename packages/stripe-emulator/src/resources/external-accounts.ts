import type Stripe from "stripe";
import type { Engine } from "../core/engine.js";
import { newId } from "../core/ids.js";
import { invalidParam, invalidRequest, permissionError, resourceMissing } from "../http/errors.js";
import {
  applyMetadata,
  child,
  isParams,
  optBool,
  optEnum,
  optNullableString,
  optString,
  type Params,
  reqString,
} from "../http/params.js";
import type { Router } from "../http/router.js";
import type { AccountMeta } from "./account-meta.js";

// A connected account's bank accounts (Stripe's external accounts), listed on the account
// object as `external_accounts`. Payouts go to the default one of their currency; a payout
// that fails sets it `errored` (Stripe: payouts to it stop until its details are updated).

/** The account number onboarding gives a new account: Stripe's AU test number whose payouts succeed. */
export const ONBOARDING_ACCOUNT_NUMBER = "000123456";

function accountRecord(engine: Engine, id: string) {
  const record = engine.store.find<Stripe.Account, AccountMeta>("account", id, engine.platform);
  return record && !record.meta.deleted ? record : undefined;
}

function listOfAccount(account: Stripe.Account): Stripe.ApiList<Stripe.BankAccount> {
  account.external_accounts ??= {
    object: "list",
    data: [],
    has_more: false,
    url: `/v1/accounts/${account.id}/external_accounts`,
  };
  return account.external_accounts as Stripe.ApiList<Stripe.BankAccount>;
}

/** The account's bank accounts, newest first. */
export function bankAccountsOf(account: Stripe.Account): Stripe.BankAccount[] {
  return listOfAccount(account).data;
}

/** The bank account payouts in `currency` go to, if the account has one in that currency. */
export function defaultBankAccount(
  account: Stripe.Account,
  currency: string,
): Stripe.BankAccount | undefined {
  return bankAccountsOf(account).find((b) => b.currency === currency && b.default_for_currency === true);
}

/** The account number a bank account was given (the emulator's record: Stripe shows only `last4`). */
export function accountNumberOf(meta: AccountMeta, bankAccountId: string): string | undefined {
  return meta.bankAccountNumbers?.[bankAccountId];
}

/**
 * Adds a bank account from an `external_account[…]` dictionary. It becomes its currency's
 * default when the account has none in that currency, or when `makeDefault`; with `replace`
 * (the `external_account` of `POST /v1/accounts[/:id]`) the old default of the currency is
 * deleted, as Stripe documents for that parameter.
 */
export function addBankAccount(
  engine: Engine,
  account: Stripe.Account,
  meta: AccountMeta,
  params: Params,
  options: { readonly replace: boolean; readonly makeDefault: boolean; readonly parent: string },
): Stripe.BankAccount {
  const p = options.parent;
  const object = optString(params, "object", p);
  if (object !== undefined && object !== "bank_account")
    throw invalidParam(`${p}[object]`, "Only bank accounts are supported by the emulator");
  const number = reqString(params, "account_number", p);
  if (!/^[0-9]{4,17}$/.test(number)) throw invalidParam(`${p}[account_number]`, "Invalid account number");
  const country = (optString(params, "country", p) ?? account.country ?? "AU").toUpperCase();
  const currency = (optString(params, "currency", p) ?? account.default_currency ?? "aud").toLowerCase();
  const existing = defaultBankAccount(account, currency);
  const isDefault = existing === undefined || options.replace || options.makeDefault;
  const bank: Stripe.BankAccount = {
    id: newId("ba"),
    object: "bank_account",
    account: account.id,
    account_holder_name: optNullableString(params, "account_holder_name", p) ?? null,
    account_holder_type: optEnum(params, "account_holder_type", ["individual", "company"], p) ?? null,
    account_type: null,
    available_payout_methods: ["standard"],
    bank_name: "STRIPE TEST BANK",
    country,
    currency,
    default_for_currency: isDefault,
    fingerprint: `emu${number}`,
    last4: number.slice(-4),
    metadata: applyMetadata({}, params, "metadata"),
    routing_number: optString(params, "routing_number", p) ?? null,
    status: "new",
  };
  meta.bankAccountNumbers = { ...meta.bankAccountNumbers, [bank.id]: number };
  const list = listOfAccount(account);
  if (isDefault && existing !== undefined) {
    if (options.replace) {
      list.data = list.data.filter((b) => b.id !== existing.id);
      engine.emit("account.external_account.deleted", { ...existing, deleted: true }, account.id);
    } else {
      existing.default_for_currency = false;
      engine.emit("account.external_account.updated", existing, account.id, {
        previous: { default_for_currency: true },
      });
    }
  }
  list.data = [bank, ...list.data];
  engine.emit("account.external_account.created", bank, account.id);
  return bank;
}

/**
 * A payout to `bankAccountId` failed: Stripe sets the bank account `errored` and pays nothing
 * more to it until its details are updated, and tells the platform
 * (`account.external_account.updated`).
 */
export function markBankAccountErrored(engine: Engine, accountId: string, bankAccountId: string): void {
  const record = accountRecord(engine, accountId);
  const bank = record && bankAccountsOf(record.obj).find((b) => b.id === bankAccountId);
  if (!bank || bank.status === "errored") return;
  const previous = { status: bank.status };
  bank.status = "errored";
  engine.emit("account.external_account.updated", bank, accountId, { previous });
}

export function registerExternalAccounts(router: Router, engine: Engine): void {
  const accountOf = (req: { onPlatform: boolean; account: string; pathParams: Record<string, string> }) => {
    const id = req.pathParams.id!;
    if (!req.onPlatform && id !== req.account)
      throw permissionError("This application does not have the required permissions for this endpoint.");
    const record = accountRecord(engine, id);
    if (!record) throw resourceMissing("account", id, "id");
    return record;
  };
  const bankOf = (account: Stripe.Account, id: string): Stripe.BankAccount => {
    const bank = bankAccountsOf(account).find((b) => b.id === id);
    if (!bank) throw resourceMissing("external_account", id, "id");
    return bank;
  };

  router.get("/v1/accounts/:id/external_accounts", (req) => {
    const { obj } = accountOf(req);
    const object = optEnum(req.params, "object", ["bank_account", "card"]);
    const data = object === "card" ? [] : bankAccountsOf(obj);
    return {
      object: "list",
      data,
      has_more: false,
      url: `/v1/accounts/${obj.id}/external_accounts`,
    } satisfies Stripe.ApiList<Stripe.BankAccount>;
  });

  router.get("/v1/accounts/:id/external_accounts/:ba", (req) =>
    bankOf(accountOf(req).obj, req.pathParams.ba!),
  );

  router.post("/v1/accounts/:id/external_accounts", (req) => {
    const { obj, meta } = accountOf(req);
    const external = child(req.params, "external_account");
    if (!external || !isParams(external)) {
      if (typeof req.params.external_account === "string")
        throw invalidRequest("The emulator takes a bank account's details, not a token.", {
          param: "external_account",
        });
      throw invalidParam("external_account", "Missing required param: external_account.");
    }
    const makeDefault = optBool(req.params, "default_for_currency") ?? false;
    return addBankAccount(
      engine,
      obj,
      meta,
      { ...external, metadata: req.params.metadata ?? "" },
      {
        replace: false,
        makeDefault,
        parent: "external_account",
      },
    );
  });

  router.post("/v1/accounts/:id/external_accounts/:ba", (req) => {
    const { obj } = accountOf(req);
    const bank = bankOf(obj, req.pathParams.ba!);
    const previous: Record<string, unknown> = {};
    const holder = optNullableString(req.params, "account_holder_name");
    if (holder !== undefined) {
      previous.account_holder_name = bank.account_holder_name;
      bank.account_holder_name = holder;
    }
    if (req.params.metadata !== undefined) {
      previous.metadata = bank.metadata;
      bank.metadata = applyMetadata(bank.metadata ?? {}, req.params);
    }
    if (optBool(req.params, "default_for_currency") === true && bank.default_for_currency !== true) {
      const old = defaultBankAccount(obj, bank.currency);
      if (old) {
        old.default_for_currency = false;
        engine.emit("account.external_account.updated", old, obj.id, {
          previous: { default_for_currency: true },
        });
      }
      previous.default_for_currency = false;
      bank.default_for_currency = true;
    }
    // Stripe: an update, even one that changes nothing, re-enables a disabled bank account.
    if (bank.status === "errored") {
      previous.status = bank.status;
      bank.status = "new";
    }
    if (Object.keys(previous).length > 0)
      engine.emit("account.external_account.updated", bank, obj.id, { previous });
    return bank;
  });

  router.delete("/v1/accounts/:id/external_accounts/:ba", (req) => {
    const { obj } = accountOf(req);
    const bank = bankOf(obj, req.pathParams.ba!);
    if (bank.default_for_currency === true)
      throw invalidRequest(
        "You cannot delete the default bank account for a currency. Make another bank account the default first.",
        { param: "id" },
      );
    listOfAccount(obj).data = bankAccountsOf(obj).filter((b) => b.id !== bank.id);
    engine.emit("account.external_account.deleted", { ...bank, deleted: true }, obj.id);
    return { id: bank.id, object: "bank_account", deleted: true };
  });
}
