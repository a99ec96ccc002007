import { err, ok, type Result } from "neverthrow";
import type { Decision } from "../kernel/decision.js";
import { ignore } from "../kernel/decision.js";
import { textLength } from "../kernel/text.js";
import { type CurrencyCode, checkChargeAmount, isCurrencyCode, money } from "../money/index.js";
import type { Instant } from "../shared/time.js";
import { type Entitlements, isEntitlements } from "./entitlements.js";
import { type MembershipError, membershipError } from "./membership.errors.js";
import { PLAN_AGGREGATE, type PlanEffect } from "./membership-effect.js";
import { planIds } from "./membership-ids.js";
import { PLAN_INTERVALS, type PlanInterval } from "./plan-interval.js";

export { PLAN_INTERVALS, type PlanInterval } from "./plan-interval.js";

/** Longest plan name and description. */
export const PLAN_TEXT_MAX_CHARS = 200;
/** Most prices a plan offers (currencies × intervals). */
export const PLAN_PRICES_MAX = 40;
/** Longest trial (Stripe allows up to two years). */
export const TRIAL_DAYS_MAX = 730;

/**
 * One price of a plan: an amount per month or year in one currency. Stripe prices cannot
 * change amount, so a new amount is a new revision (a new Stripe price); people already on
 * the old one keep it until they change plan.
 */
export interface PlanPrice {
  /** `<currency>_<interval>` (see `planIds.priceKey`): one price per currency and interval. */
  readonly key: string;
  readonly currency: CurrencyCode;
  readonly interval: PlanInterval;
  readonly amountMinor: number;
  readonly revision: number;
  /** The Stripe price of this revision, once created. */
  readonly stripePriceId?: string;
}

/** A membership plan, managed by the platform's admins. */
export interface Plan {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly entitlements: Entitlements;
  /** Days of trial before the first payment; 0: none. */
  readonly trialDays: number;
  readonly status: "active" | "archived";
  readonly prices: readonly PlanPrice[];
  readonly createdAt: Instant;
  readonly updatedAt: Instant;
  readonly version: number;
}

/** A price as an admin asks for it. */
export interface PlanPriceTerms {
  readonly currency: string;
  readonly interval: string;
  readonly amountMinor: number;
}

/** What an admin sets on a new plan. */
export interface PlanTerms {
  readonly name: string;
  readonly description?: string;
  readonly entitlements: Entitlements;
  readonly trialDays?: number;
  readonly prices: readonly PlanPriceTerms[];
}

/** What a plan hears: an admin's change, or Stripe's answer to a price it asked for. */
export type PlanInput =
  /** An admin created the plan (as the audit log names it; again, it is ignored). */
  | { readonly type: "create" }
  | {
      readonly type: "update";
      readonly name?: string;
      readonly description?: string;
      readonly entitlements?: Entitlements;
      readonly trialDays?: number;
      /** Prices to add or re-price (by currency and interval); the others stay. */
      readonly prices?: readonly PlanPriceTerms[];
    }
  | { readonly type: "archive" }
  | {
      readonly type: "price_created";
      readonly key: string;
      readonly revision: number;
      readonly stripePriceId: string;
    };

/** Why a plan ignored an input. */
export const PLAN_IGNORED_CODES = [
  "already_created",
  "no_such_price_revision",
  "price_already_recorded",
  "already_archived",
] as const;
export type PlanIgnoredCode = (typeof PLAN_IGNORED_CODES)[number];

export type PlanDecision = Decision<Plan, PlanEffect, PlanIgnoredCode>;

function checkText(name: string, description: string): Result<void, MembershipError> {
  if (name.trim().length === 0 || textLength(name) > PLAN_TEXT_MAX_CHARS)
    return err(membershipError("invalid_plan", `a plan's name is 1–${PLAN_TEXT_MAX_CHARS} characters`));
  if (textLength(description) > PLAN_TEXT_MAX_CHARS)
    return err(membershipError("invalid_plan", `a description is at most ${PLAN_TEXT_MAX_CHARS} characters`));
  return ok(undefined);
}

function checkTrial(days: number): Result<void, MembershipError> {
  return Number.isSafeInteger(days) && days >= 0 && days <= TRIAL_DAYS_MAX
    ? ok(undefined)
    : err(membershipError("invalid_trial_days", `trial days are a whole number from 0 to ${TRIAL_DAYS_MAX}`));
}

/** Checks price terms: a known currency, a chargeable amount, month or year, one per currency and interval. */
function checkPrices(
  terms: readonly PlanPriceTerms[],
): Result<readonly Omit<PlanPrice, "revision">[], MembershipError> {
  if (terms.length > PLAN_PRICES_MAX)
    return err(membershipError("invalid_price", `at most ${PLAN_PRICES_MAX} prices`));
  const out: Omit<PlanPrice, "revision">[] = [];
  for (const t of terms) {
    if (!isCurrencyCode(t.currency))
      return err(membershipError("invalid_price", `unknown currency ${JSON.stringify(t.currency)}`));
    if (!(PLAN_INTERVALS as readonly string[]).includes(t.interval))
      return err(membershipError("invalid_price", "interval is month or year"));
    if (!Number.isSafeInteger(t.amountMinor))
      return err(membershipError("invalid_price", "amountMinor is a whole number of minor units"));
    const amount = checkChargeAmount(money(Math.max(0, t.amountMinor), t.currency));
    if (t.amountMinor < 0 || amount.isErr())
      return err(
        membershipError(
          "invalid_price",
          `${t.amountMinor} is not a chargeable amount of ${t.currency}${amount.isErr() ? ` (${amount.error.message})` : ""}`,
        ),
      );
    const interval = t.interval as PlanInterval;
    const key = planIds.priceKey(t.currency, interval);
    if (out.some((p) => p.key === key))
      return err(membershipError("invalid_price", `two prices in ${t.currency} per ${interval}`));
    out.push({ key, currency: t.currency, interval, amountMinor: t.amountMinor });
  }
  return ok(out);
}

function priceEffect(plan: Plan, price: PlanPrice): PlanEffect {
  return {
    kind: "create_plan_price",
    id: planIds.price(plan.id, price.key, price.revision),
    aggregate: PLAN_AGGREGATE,
    aggregateId: plan.id,
    productId: planIds.product(plan.id),
    productName: plan.name,
    key: price.key,
    revision: price.revision,
    currency: price.currency,
    interval: price.interval,
    amountMinor: price.amountMinor,
  };
}

/** A new plan and the Stripe prices it asks for (its product is created with the first). */
export function createPlan(
  id: string,
  terms: PlanTerms,
  now: Instant,
): Result<{ readonly state: Plan; readonly effects: readonly PlanEffect[] }, MembershipError> {
  const description = terms.description ?? "";
  const trialDays = terms.trialDays ?? 0;
  const text = checkText(terms.name, description);
  if (text.isErr()) return err(text.error);
  if (!isEntitlements(terms.entitlements))
    return err(membershipError("invalid_entitlements", "entitlements are malformed"));
  const trial = checkTrial(trialDays);
  if (trial.isErr()) return err(trial.error);
  const prices = checkPrices(terms.prices);
  if (prices.isErr()) return err(prices.error);
  if (prices.value.length === 0)
    return err(membershipError("invalid_price", "a plan needs at least one price"));
  const state: Plan = {
    id,
    name: terms.name,
    description,
    entitlements: terms.entitlements,
    trialDays,
    status: "active",
    prices: prices.value.map((p) => ({ ...p, revision: 1 })),
    createdAt: now,
    updatedAt: now,
    version: 0,
  };
  return ok({ state, effects: state.prices.map((p) => priceEffect(state, p)) });
}

/** The price a person can subscribe to now, in a currency and interval; `undefined` if none is ready. */
export function availablePrice(plan: Plan, currency: string, interval: string): PlanPrice | undefined {
  if (plan.status !== "active") return undefined;
  const price = plan.prices.find((p) => p.currency === currency && p.interval === interval);
  return price?.stripePriceId !== undefined ? price : undefined;
}

/** An admin's change, Stripe's answer about a price, or the plan's archiving. */
export function decidePlan(
  plan: Plan,
  input: PlanInput,
  ctx: { readonly now: Instant },
): Result<PlanDecision, MembershipError> {
  switch (input.type) {
    case "create":
      return ignore(plan, "already_created", `plan ${plan.id} exists`);
    case "price_created": {
      const price = plan.prices.find((p) => p.key === input.key && p.revision === input.revision);
      if (!price)
        return ignore(
          plan,
          "no_such_price_revision",
          `${input.key} r${input.revision} is not the plan's price`,
        );
      if (price.stripePriceId !== undefined)
        return ignore(
          plan,
          "price_already_recorded",
          `${input.key} r${input.revision} is ${price.stripePriceId}`,
        );
      const prices = plan.prices.map((p) => (p === price ? { ...p, stripePriceId: input.stripePriceId } : p));
      return ok({ state: { ...plan, prices }, effects: [] });
    }
    case "archive": {
      if (plan.status === "archived") return ignore(plan, "already_archived", `plan ${plan.id} is archived`);
      const state: Plan = { ...plan, status: "archived", updatedAt: ctx.now };
      return ok({
        state,
        effects: [
          {
            kind: "update_plan_product",
            id: planIds.productUpdate(plan.id, plan.version + 1),
            aggregate: PLAN_AGGREGATE,
            aggregateId: plan.id,
            productId: planIds.product(plan.id),
            name: plan.name,
            active: false,
          },
        ],
      });
    }
    case "update": {
      if (plan.status === "archived")
        return err(membershipError("plan_archived", `plan ${plan.id} is archived`));
      const name = input.name ?? plan.name;
      const description = input.description ?? plan.description;
      const text = checkText(name, description);
      if (text.isErr()) return err(text.error);
      const entitlements = input.entitlements ?? plan.entitlements;
      if (!isEntitlements(entitlements))
        return err(membershipError("invalid_entitlements", "entitlements are malformed"));
      const trialDays = input.trialDays ?? plan.trialDays;
      const trial = checkTrial(trialDays);
      if (trial.isErr()) return err(trial.error);
      const asked = checkPrices(input.prices ?? []);
      if (asked.isErr()) return err(asked.error);
      const prices = [...plan.prices];
      const effects: PlanEffect[] = [];
      const next = { ...plan, name, description, entitlements, trialDays, updatedAt: ctx.now };
      for (const p of asked.value) {
        const at = prices.findIndex((q) => q.key === p.key);
        const current = at >= 0 ? prices[at] : undefined;
        if (current?.amountMinor === p.amountMinor) continue;
        const price: PlanPrice = { ...p, revision: (current?.revision ?? 0) + 1 };
        if (at >= 0) prices[at] = price;
        else prices.push(price);
        effects.push(priceEffect(next, price));
      }
      if (prices.length > PLAN_PRICES_MAX)
        return err(membershipError("invalid_price", `at most ${PLAN_PRICES_MAX} prices`));
      if (name !== plan.name)
        effects.push({
          kind: "update_plan_product",
          id: planIds.productUpdate(plan.id, plan.version + 1),
          aggregate: PLAN_AGGREGATE,
          aggregateId: plan.id,
          productId: planIds.product(plan.id),
          name,
          active: true,
        });
      return ok({ state: { ...next, prices }, effects });
    }
  }
}
