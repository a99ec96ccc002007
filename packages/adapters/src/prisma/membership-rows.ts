// How plans and subscriptions are stored: the whole aggregate in `snapshot`, the columns
// and a plan's `plan_prices` rows projected from it in the same transaction (see the
// conventions at the top of schema.prisma).
import { type Plan, type Subscription, storageError, type VersionedChange } from "@susu/domain";
import type { StatementRunner } from "../db/prisma-client.js";
import { toDate } from "./conversions.js";
import { parsePlanSnapshot, parseSubscriptionSnapshot } from "./snapshots.js";
import { StorageRefusal } from "./storage-errors.js";
import { iso, isUniqueViolationOf, storedVersion, writeVersionedRow } from "./versioned-row.js";

const PLAN_COLUMNS = "name, status, trial_days, entitlements, snapshot, version, updated_at";
const PLAN_VALUES = "$2, $3::plan_status, $4::int, $5::jsonb, $6::jsonb, $7::int, $8::timestamptz";
const PLAN_INSERT_SQL = `
  INSERT INTO plans (id, ${PLAN_COLUMNS}, created_at) VALUES ($1, ${PLAN_VALUES}, $9::timestamptz)`;
const PLAN_UPDATE_SQL = `
  UPDATE plans SET (${PLAN_COLUMNS}) = ROW(${PLAN_VALUES}) WHERE id = $1 AND version = $9::int
  RETURNING 1 AS updated`;
const PLAN_PRICES_DELETE_SQL = "DELETE FROM plan_prices WHERE plan_id = $1";
const PLAN_PRICES_INSERT_SQL = `
  INSERT INTO plan_prices (plan_id, key, currency, interval, amount_minor, revision, stripe_price_id)
  SELECT $1, r.key, r.currency, r.interval, r.amount_minor, r.revision, r.stripe_price_id
    FROM jsonb_to_recordset($2::jsonb)
      AS r(key text, currency text, interval text, amount_minor bigint, revision int, stripe_price_id text)`;

/** Stores a plan (version checked) and rewrites its prices' rows from its snapshot. */
export async function writePlan(
  tx: StatementRunner,
  change: VersionedChange<Plan>,
  at: number,
): Promise<void> {
  const plan = change.state;
  const checked = parsePlanSnapshot(plan);
  if (checked.isErr())
    throw new StorageRefusal(storageError.refused(`commit refused plan ${plan.id}: ${checked.error}`));
  const version = storedVersion(change);
  const values = [
    plan.id,
    plan.name,
    plan.status,
    plan.trialDays,
    JSON.stringify(plan.entitlements),
    JSON.stringify({ ...plan, version }),
    version,
    iso(toDate(at)),
  ];
  await writeVersionedRow(tx, {
    aggregate: "plan",
    table: "plans",
    id: plan.id,
    expectedVersion: change.expectedVersion,
    insert: {
      name: "susu_plan_insert",
      text: PLAN_INSERT_SQL,
      values: [...values, iso(toDate(plan.createdAt))],
    },
    update: { name: "susu_plan_update", text: PLAN_UPDATE_SQL, values },
  });
  await tx({ name: "susu_plan_prices_delete", text: PLAN_PRICES_DELETE_SQL, values: [plan.id] });
  const rows = plan.prices.map((p) => ({
    key: p.key,
    currency: p.currency,
    interval: p.interval,
    amount_minor: p.amountMinor,
    revision: p.revision,
    stripe_price_id: p.stripePriceId ?? null,
  }));
  if (rows.length > 0)
    await tx({
      name: "susu_plan_prices_insert",
      text: PLAN_PRICES_INSERT_SQL,
      values: [plan.id, JSON.stringify(rows)],
    });
}

const SUBSCRIPTION_COLUMNS = `person_id, plan_id, status, stripe_customer_id, stripe_subscription_id, stripe_price_id,
  currency, amount_minor, cancel_at_period_end, current_period_end, ended_at, snapshot, version, updated_at`;
const SUBSCRIPTION_VALUES = `$2, $3, $4::subscription_status, $5, $6, $7, $8, $9::bigint, $10::boolean,
  $11::timestamptz, $12::timestamptz, $13::jsonb, $14::int, $15::timestamptz`;
const SUBSCRIPTION_INSERT_SQL = `
  INSERT INTO subscriptions (id, ${SUBSCRIPTION_COLUMNS}, created_at)
  VALUES ($1, ${SUBSCRIPTION_VALUES}, $16::timestamptz)`;
const SUBSCRIPTION_UPDATE_SQL = `
  UPDATE subscriptions SET (${SUBSCRIPTION_COLUMNS}) = ROW(${SUBSCRIPTION_VALUES})
   WHERE id = $1 AND version = $16::int
  RETURNING 1 AS updated`;

/** The unique key of a Stripe subscription: one membership per Stripe subscription. */
export const STRIPE_SUBSCRIPTION_KEY = "subscriptions_stripe_subscription_id_key";

/** The partial unique key of a person's current membership: one at a time. */
export const ONE_CURRENT_MEMBERSHIP_KEY = "subscriptions_one_current_per_person_key";

/**
 * Stores a subscription (version checked); a Stripe subscription another holds, or a second
 * current membership of the person, is `duplicate`.
 */
export async function writeSubscription(
  tx: StatementRunner,
  change: VersionedChange<Subscription>,
  at: number,
): Promise<void> {
  const s = change.state;
  const checked = parseSubscriptionSnapshot(s);
  if (checked.isErr())
    throw new StorageRefusal(storageError.refused(`commit refused subscription ${s.id}: ${checked.error}`));
  const version = storedVersion(change);
  const instant = (t: number | undefined) => (t === undefined ? null : iso(toDate(t)));
  const values = [
    s.id,
    s.personId,
    s.price.planId,
    s.status,
    s.stripeCustomerId,
    s.stripeSubscriptionId ?? null,
    s.price.stripePriceId,
    s.price.currency,
    String(s.price.amountMinor),
    s.cancelAtPeriodEnd,
    instant(s.currentPeriodEnd),
    instant(s.endedAt),
    JSON.stringify({ ...s, version }),
    version,
    iso(toDate(at)),
  ];
  await writeVersionedRow(tx, {
    aggregate: "subscription",
    table: "subscriptions",
    id: s.id,
    expectedVersion: change.expectedVersion,
    insert: {
      name: "susu_subscription_insert",
      text: SUBSCRIPTION_INSERT_SQL,
      values: [...values, iso(toDate(s.createdAt))],
    },
    update: { name: "susu_subscription_update", text: SUBSCRIPTION_UPDATE_SQL, values },
    refusal: (error) =>
      isUniqueViolationOf(error, STRIPE_SUBSCRIPTION_KEY)
        ? new StorageRefusal(
            storageError.duplicate(
              `commit refused subscription ${s.id}: ${s.stripeSubscriptionId} is another subscription's (unique constraint ${STRIPE_SUBSCRIPTION_KEY})`,
            ),
          )
        : isUniqueViolationOf(error, ONE_CURRENT_MEMBERSHIP_KEY)
          ? new StorageRefusal(
              storageError.duplicate(
                `commit refused subscription ${s.id}: person ${s.personId} holds another current membership (unique constraint ${ONE_CURRENT_MEMBERSHIP_KEY})`,
              ),
            )
          : undefined,
  });
}
