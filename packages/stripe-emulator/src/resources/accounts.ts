import type Stripe from "stripe";
import type { Engine } from "../core/engine.js";
import { newId, randomToken } from "../core/ids.js";
import { invalidParam, invalidRequest, permissionError, resourceMissing } from "../http/errors.js";
import { ACCOUNT_CREATE, ACCOUNT_LINK_CREATE, ACCOUNT_UPDATE } from "../http/known-params.js";
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
import { listOf, pageRequest } from "../http/render.js";
import type { Router } from "../http/router.js";
import type { AccountMeta } from "./account-meta.js";
import { addBankAccount, defaultBankAccount, ONBOARDING_ACCOUNT_NUMBER } from "./external-accounts.js";
import { applyPayoutParams, defaultSettings } from "./payouts.js";

export type { AccountMeta } from "./account-meta.js";

interface AccountLinkMeta {
  token: string;
  account: string;
  refreshUrl: string;
  returnUrl: string;
  used: boolean;
}

const ONBOARDING_FIELDS = [
  "business_profile.mcc",
  "business_profile.url",
  "business_type",
  "external_account",
  "individual.address.city",
  "individual.address.line1",
  "individual.address.postal_code",
  "individual.dob.day",
  "individual.dob.month",
  "individual.dob.year",
  "individual.email",
  "individual.first_name",
  "individual.last_name",
  "individual.phone",
  "tos_acceptance.date",
  "tos_acceptance.ip",
];

type CapabilityName = keyof Stripe.Account.Capabilities;
type CapabilityStatus = "active" | "inactive" | "pending";

export function getAccount(engine: Engine, id: string, param = "account"): Stripe.Account {
  const record = engine.store.find<Stripe.Account, AccountMeta>("account", id, engine.platform);
  if (!record || record.meta.deleted) throw resourceMissing("account", id, param);
  return record.obj;
}

export function findAccount(engine: Engine, id: string): Stripe.Account | undefined {
  const record = engine.store.find<Stripe.Account, AccountMeta>("account", id, engine.platform);
  return record && !record.meta.deleted ? record.obj : undefined;
}

export function capabilityStatus(account: Stripe.Account, name: CapabilityName): string | undefined {
  return account.capabilities?.[name];
}

function requirements(
  fields: string[],
  disabledReason: Stripe.Account.Requirements.DisabledReason | null,
): Stripe.Account.Requirements {
  return {
    alternatives: [],
    current_deadline: null,
    currently_due: [...fields],
    disabled_reason: disabledReason,
    errors: [],
    eventually_due: [...fields],
    past_due: [...fields],
    pending_verification: [],
  };
}

function futureRequirements(): Stripe.Account.FutureRequirements {
  return {
    alternatives: [],
    current_deadline: null,
    currently_due: [],
    disabled_reason: null,
    errors: [],
    eventually_due: [],
    past_due: [],
    pending_verification: [],
  };
}

/** The `capability` object Stripe returns for one entry of `account.capabilities`. */
function capabilityObject(engine: Engine, account: Stripe.Account, name: string): Stripe.Capability {
  const status = (account.capabilities as Record<string, string> | undefined)?.[name] ?? "unrequested";
  const due = status === "active" ? [] : (account.requirements?.currently_due ?? []);
  return {
    id: name,
    object: "capability",
    account: account.id,
    requested: status !== "unrequested",
    requested_at: status !== "unrequested" ? (account.created ?? engine.now()) : null,
    requirements: {
      alternatives: [],
      current_deadline: null,
      currently_due: due,
      disabled_reason: status === "active" ? null : "requirements.fields_needed",
      errors: [],
      eventually_due: due,
      past_due: due,
      pending_verification: [],
    },
    status: status as Stripe.Capability.Status,
  };
}

/**
 * Moves an account to a new state and tells the platform: `account.updated` with the changed
 * fields, and `capability.updated` for each capability whose status changed.
 */
export function updateAccountState(
  engine: Engine,
  account: Stripe.Account,
  change: (account: Stripe.Account) => void,
): void {
  const before = JSON.parse(JSON.stringify(account)) as Stripe.Account;
  change(account);
  const previous: Record<string, unknown> = {};
  for (const key of Object.keys(account) as Array<keyof Stripe.Account>) {
    if (JSON.stringify(before[key]) !== JSON.stringify(account[key])) previous[key] = before[key] ?? null;
  }
  if (Object.keys(previous).length === 0) return;
  engine.emit("account.updated", account, account.id, { previous });
  const oldCaps = (before.capabilities ?? {}) as Record<string, string>;
  const newCaps = (account.capabilities ?? {}) as Record<string, string>;
  for (const name of Object.keys(newCaps)) {
    if (oldCaps[name] !== newCaps[name]) {
      engine.emit("capability.updated", capabilityObject(engine, account, name), account.id, {
        previous: { status: oldCaps[name] ?? "unrequested" },
      });
    }
  }
}

function setCapabilities(account: Stripe.Account, status: CapabilityStatus): void {
  const caps = (account.capabilities ?? {}) as Record<string, string>;
  for (const name of Object.keys(caps)) caps[name] = status;
  account.capabilities = caps as Stripe.Account.Capabilities;
}

/**
 * What a finished onboarding does: everything due is provided (a bank account in the account's
 * default currency too, Stripe's AU test number whose payouts succeed, unless it has one) and
 * every capability is active.
 */
export function completeOnboarding(engine: Engine, account: Stripe.Account): void {
  const record = engine.store.record<Stripe.Account, AccountMeta>(account.id);
  const currency = account.default_currency ?? "aud";
  if (record && defaultBankAccount(account, currency) === undefined)
    addBankAccount(
      engine,
      account,
      record.meta,
      { account_number: ONBOARDING_ACCOUNT_NUMBER, routing_number: "110000", currency },
      { replace: false, makeDefault: true, parent: "external_account" },
    );
  updateAccountState(engine, account, (a) => {
    a.details_submitted = true;
    a.charges_enabled = true;
    a.payouts_enabled = true;
    a.requirements = requirements([], null);
    a.future_requirements = futureRequirements();
    a.tos_acceptance = { date: engine.now(), ip: "127.0.0.1", user_agent: "susu-stripe-emulator" };
    setCapabilities(a, "active");
  });
}

/** Stripe disabling an account for overdue requirements (e.g. a failed identity check). */
export function restrictAccount(engine: Engine, account: Stripe.Account, fields: string[]): void {
  updateAccountState(engine, account, (a) => {
    a.charges_enabled = false;
    a.payouts_enabled = false;
    a.requirements = requirements(fields, "requirements.past_due");
    a.requirements.current_deadline = engine.now();
    setCapabilities(a, "inactive");
  });
}

/** Only the transfers capability is lost, so transfers to the account fail. */
export function disableTransfers(engine: Engine, account: Stripe.Account): void {
  updateAccountState(engine, account, (a) => {
    const caps = (a.capabilities ?? {}) as Record<string, string>;
    caps.transfers = "inactive";
    a.capabilities = caps as Stripe.Account.Capabilities;
    a.payouts_enabled = false;
  });
}

function applyAccountParams(account: Stripe.Account, params: Params): void {
  const email = optNullableString(params, "email");
  if (email !== undefined) account.email = email;
  const profile = child(params, "business_profile");
  if (profile) {
    const current = account.business_profile ?? emptyProfile();
    account.business_profile = {
      ...current,
      name: optNullableString(profile, "name", "business_profile") ?? current.name,
      url: optNullableString(profile, "url", "business_profile") ?? current.url,
      mcc: optNullableString(profile, "mcc", "business_profile") ?? current.mcc,
      support_email: optNullableString(profile, "support_email", "business_profile") ?? current.support_email,
    };
  }
  const businessType = optEnum(params, "business_type", [
    "company",
    "government_entity",
    "individual",
    "non_profit",
  ]);
  if (businessType !== undefined) account.business_type = businessType;
  account.metadata = applyMetadata(account.metadata ?? {}, params);
  const caps = child(params, "capabilities");
  if (caps) {
    const current = (account.capabilities ?? {}) as Record<string, string>;
    for (const [name, value] of Object.entries(caps)) {
      if (!isParams(value)) throw invalidParam(`capabilities[${name}]`, "Invalid capability");
      const requested = optBool(value, "requested", `capabilities[${name}]`);
      if (requested === true && current[name] === undefined) {
        current[name] = account.details_submitted ? "active" : "inactive";
      } else if (requested === false) {
        delete current[name];
      }
    }
    account.capabilities = current as Stripe.Account.Capabilities;
  }
}

function emptyProfile(): Stripe.Account.BusinessProfile {
  return {
    mcc: null,
    minority_owned_business_designation: null,
    name: null,
    support_address: null,
    support_email: null,
    support_phone: null,
    support_url: null,
    url: null,
  };
}

export function registerAccounts(router: Router, engine: Engine): void {
  const platformOnly = (onPlatform: boolean) => {
    if (!onPlatform) {
      throw permissionError("This application does not have the required permissions for this endpoint.");
    }
  };

  router.post(
    "/v1/accounts",
    (req) => {
      platformOnly(req.onPlatform);
      const type = optEnum(req.params, "type", ["custom", "express", "standard"]) ?? "standard";
      const country = (optString(req.params, "country") ?? "AU").toUpperCase();
      const id = newId("acct", 16);
      const account: Stripe.Account = {
        id,
        object: "account",
        business_profile: emptyProfile(),
        business_type: null,
        capabilities: {},
        charges_enabled: false,
        controller: { is_controller: true, type: "application" },
        country,
        created: engine.now(),
        default_currency: optString(req.params, "default_currency") ?? (country === "AU" ? "aud" : "usd"),
        details_submitted: false,
        email: null,
        external_accounts: {
          object: "list",
          data: [],
          has_more: false,
          url: `/v1/accounts/${id}/external_accounts`,
        },
        future_requirements: futureRequirements(),
        metadata: {},
        payouts_enabled: false,
        requirements: requirements(ONBOARDING_FIELDS, "requirements.past_due"),
        settings: defaultSettings(engine),
        tos_acceptance: { date: null, ip: null, user_agent: null },
        type,
      };
      applyAccountParams(account, req.params);
      const meta: AccountMeta = {};
      applyPayoutParams(engine, account, meta, req.params);
      engine.store.insert<Stripe.Account, AccountMeta>("account", engine.platform, account, meta);
      return account;
    },
    ACCOUNT_CREATE,
  );

  router.get("/v1/accounts/:id", (req) => {
    if (!req.onPlatform && req.pathParams.id !== req.account) platformOnly(false);
    return getAccount(engine, req.pathParams.id!, "id");
  });

  router.get("/v1/account", (req) => {
    if (!req.onPlatform) return getAccount(engine, req.account, "id");
    return platformAccount(engine);
  });

  router.post(
    "/v1/accounts/:id",
    (req) => {
      platformOnly(req.onPlatform);
      const account = getAccount(engine, req.pathParams.id!, "id");
      const meta = engine.store.record<Stripe.Account, AccountMeta>(account.id)!.meta;
      updateAccountState(engine, account, (a) => {
        applyAccountParams(a, req.params);
        applyPayoutParams(engine, a, meta, req.params);
      });
      return account;
    },
    ACCOUNT_UPDATE,
  );

  router.delete("/v1/accounts/:id", (req) => {
    platformOnly(req.onPlatform);
    const id = req.pathParams.id!;
    const record = engine.store.find<Stripe.Account, AccountMeta>("account", id, engine.platform);
    if (!record || record.meta.deleted) throw resourceMissing("account", id);
    record.meta.deleted = true;
    return { id, object: "account", deleted: true } satisfies Stripe.DeletedAccount;
  });

  router.get("/v1/accounts", (req) => {
    platformOnly(req.onPlatform);
    const page = engine.store.page<Stripe.Account, AccountMeta>(
      "account",
      engine.platform,
      pageRequest(req.params),
      (r) => !r.meta.deleted,
    );
    return listOf("/v1/accounts", page);
  });

  router.get("/v1/accounts/:id/capabilities", (req) => {
    const account = getAccount(engine, req.pathParams.id!, "id");
    const data = Object.keys(account.capabilities ?? {}).map((name) =>
      capabilityObject(engine, account, name),
    );
    return listOf(`/v1/accounts/${account.id}/capabilities`, { data, has_more: false });
  });

  router.get("/v1/accounts/:id/capabilities/:cap", (req) => {
    const account = getAccount(engine, req.pathParams.id!, "id");
    const name = req.pathParams.cap!;
    if (!(name in (account.capabilities ?? {}))) throw resourceMissing("capability", name, "capability");
    return capabilityObject(engine, account, name);
  });

  router.post("/v1/accounts/:id/capabilities/:cap", (req) => {
    platformOnly(req.onPlatform);
    const account = getAccount(engine, req.pathParams.id!, "id");
    const name = req.pathParams.cap!;
    const requested = optBool(req.params, "requested");
    updateAccountState(engine, account, (a) =>
      applyAccountParams(a, { capabilities: { [name]: { requested: String(requested ?? true) } } }),
    );
    return capabilityObject(engine, account, name);
  });

  router.post("/v1/accounts/:id/login_links", (req) => {
    const account = getAccount(engine, req.pathParams.id!, "id");
    if (account.type !== "express") {
      throw invalidRequest("Login links can only be created for Express accounts.", { param: "account" });
    }
    return {
      object: "login_link",
      created: engine.now(),
      url: `${engine.baseUrl}/_emulator/express_dashboard/${account.id}`,
    } satisfies Stripe.LoginLink;
  });

  router.post(
    "/v1/account_links",
    (req) => {
      platformOnly(req.onPlatform);
      const accountId = reqString(req.params, "account");
      getAccount(engine, accountId, "account");
      if (!optEnum(req.params, "type", ["account_onboarding", "account_update"]))
        reqString(req.params, "type");
      const refreshUrl = reqString(req.params, "refresh_url");
      const returnUrl = reqString(req.params, "return_url");
      const token = randomToken(24);
      const link: Stripe.AccountLink = {
        object: "account_link",
        created: engine.now(),
        expires_at: engine.now() + engine.options.accountLinkTtlSeconds,
        url: `${engine.baseUrl}/_emulator/account_links/${token}`,
      };
      // Stored under the token so the onboarding page can find it; account links have no id.
      engine.store.insert<{ id: string; link: Stripe.AccountLink }, AccountLinkMeta>(
        "account_link",
        engine.platform,
        { id: `alink_${token}`, link },
        { token, account: accountId, refreshUrl, returnUrl, used: false },
      );
      return link;
    },
    ACCOUNT_LINK_CREATE,
  );
}

/**
 * The onboarding page behind an account link: a visit plays the user finishing onboarding
 * and redirects to `return_url`; a used or expired link redirects to `refresh_url`.
 */
export function visitAccountLink(
  engine: Engine,
  token: string,
  action: "complete" | "abandon",
): string | null {
  const record = engine.store.record<{ id: string; link: Stripe.AccountLink }, AccountLinkMeta>(
    `alink_${token}`,
  );
  if (!record) return null;
  const meta = record.meta;
  if (meta.used || engine.now() > record.obj.link.expires_at) return meta.refreshUrl;
  meta.used = true;
  const account = findAccount(engine, meta.account);
  if (account && action === "complete") completeOnboarding(engine, account);
  engine.changed();
  return meta.returnUrl;
}

function platformAccount(engine: Engine): Stripe.Account {
  return {
    id: engine.platform,
    object: "account",
    business_profile: { ...emptyProfile(), name: "susu emulator platform" },
    business_type: "company",
    capabilities: { card_payments: "active", transfers: "active", au_becs_debit_payments: "active" },
    charges_enabled: true,
    country: "AU",
    created: engine.options.startTime,
    default_currency: engine.options.settlementCurrency,
    details_submitted: true,
    email: null,
    metadata: {},
    payouts_enabled: true,
    requirements: { ...requirements([], null) },
    settings: defaultSettings(engine),
    type: "standard",
  };
}
