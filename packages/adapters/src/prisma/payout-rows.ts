// The `payouts` table: recorded payouts of connected accounts (a projection of Stripe's
// payout.* events, see the domain's `mergePayout`). Plain SQL like the rest of the commit
// path; a row is only ever replaced by a status further along, decided in the statement
// itself so that two writers racing on one payout keep the furthest status.
import {
  isCurrencyCode,
  PAYOUT_REQUEST_STATUSES,
  PAYOUT_STATUSES,
  type PayableAccount,
  type PayoutPause,
  type PayoutPauseChange,
  type PayoutRecord,
  type PayoutRequest,
  type PayoutRequestStatus,
  type PayoutStatus,
  payoutPauseKey,
  payoutPauseScopeOf,
  type StorageError,
  storageError,
} from "@susu/domain";
import { err, ok, type Result } from "neverthrow";
import type { NamedStatement, StatementRunner } from "../db/prisma-client.js";
import { toDate } from "./conversions.js";

/** How far along a status is, in SQL (the domain's order: failed and canceled are both last). */
const RANK = (column: string) =>
  `CASE ${column} WHEN 'pending' THEN 0 WHEN 'in_transit' THEN 1 WHEN 'paid' THEN 2 ELSE 3 END`;

// A new payout is inserted; a known one is replaced only by a status of a higher rank.
const PAYOUT_UPSERT_SQL = `
  INSERT INTO payouts (id, account_id, person_id, amount_minor, currency, status, arrival_date,
                       automatic, failure_code, failure_message, created_at, updated_at)
  VALUES ($1, $2, $3, $4::bigint, $5, $6::payout_status, $7::timestamptz, $8, $9, $10,
          $11::timestamptz, $12::timestamptz)
  ON CONFLICT (id) DO UPDATE SET
    status = excluded.status,
    arrival_date = excluded.arrival_date,
    failure_code = excluded.failure_code,
    failure_message = excluded.failure_message,
    updated_at = excluded.updated_at
  WHERE ${RANK("excluded.status")} > ${RANK("payouts.status")}`;

/** Writes recorded payouts in the open transaction, by id (a fixed lock order). */
export async function writePayouts(tx: StatementRunner, payouts: readonly PayoutRecord[]): Promise<void> {
  const sorted = [...payouts].sort((a, b) =>
    a.payoutId < b.payoutId ? -1 : a.payoutId > b.payoutId ? 1 : 0,
  );
  for (const p of sorted)
    await tx({
      name: "susu_payout_upsert",
      text: PAYOUT_UPSERT_SQL,
      values: [
        p.payoutId,
        p.accountId,
        p.personId,
        String(p.amountMinor),
        p.currency,
        p.status,
        toDate(p.arrivalDate).toISOString(),
        p.automatic,
        p.failureCode ?? null,
        p.failureMessage ?? null,
        toDate(p.createdAt).toISOString(),
        toDate(p.updatedAt).toISOString(),
      ],
    });
}

const PAYOUT_COLUMNS = `id, account_id, person_id, amount_minor::text AS amount_minor, currency,
  status::text AS status, arrival_date, automatic, failure_code, failure_message, created_at, updated_at`;

/** A `payouts` row as the statements below read it. */
export interface PayoutRow {
  readonly id: string;
  readonly account_id: string;
  readonly person_id: string;
  readonly amount_minor: string;
  readonly currency: string;
  readonly status: string;
  readonly arrival_date: Date;
  readonly automatic: boolean;
  readonly failure_code: string | null;
  readonly failure_message: string | null;
  readonly created_at: Date;
  readonly updated_at: Date;
}

export const PAYOUT_BY_ID: (id: string) => NamedStatement = (id) => ({
  name: "susu_payout_by_id",
  text: `SELECT ${PAYOUT_COLUMNS} FROM payouts WHERE id = $1`,
  values: [id],
});

/**
 * A person's payouts, newest first by (created_at, id), `limit + 1` rows to know whether
 * more follow; after the cursor payout's own (created_at, id), of that person only (a
 * cursor that is not theirs reads nothing).
 */
export function payoutsOfPerson(query: {
  readonly personId: string;
  readonly limit: number;
  readonly startingAfter?: string;
}): NamedStatement {
  if (query.startingAfter === undefined)
    return {
      name: "susu_payouts_of_person",
      text: `SELECT ${PAYOUT_COLUMNS} FROM payouts WHERE person_id = $1
              ORDER BY created_at DESC, id DESC LIMIT $2::int`,
      values: [query.personId, query.limit + 1],
    };
  return {
    name: "susu_payouts_of_person_after",
    text: `SELECT ${PAYOUT_COLUMNS} FROM payouts
            WHERE person_id = $1
              AND (created_at, id) < (SELECT c.created_at, c.id FROM payouts c WHERE c.id = $3 AND c.person_id = $1)
            ORDER BY created_at DESC, id DESC LIMIT $2::int`,
    values: [query.personId, query.limit + 1, query.startingAfter],
  };
}

/**
 * Payouts whose outcome may still change at Stripe (pending, in transit, or paid on or after
 * `paidSince`), by id after the cursor: the (status, arrival_date) index finds them without
 * reading the paid payouts of the past.
 */
export function payoutsToRecheck(query: {
  readonly paidSince: number;
  readonly limit: number;
  readonly startingAfter?: string;
}): NamedStatement {
  return {
    name: "susu_payouts_to_recheck",
    text: `SELECT ${PAYOUT_COLUMNS} FROM payouts
            WHERE (status IN ('pending', 'in_transit') OR (status = 'paid' AND arrival_date >= $1::timestamptz))
              AND id > $2
            ORDER BY id LIMIT $3::int`,
    values: [toDate(query.paidSince).toISOString(), query.startingAfter ?? "", query.limit],
  };
}

/** People whose connected account can pay out, by person id after the cursor. */
export function payableAccounts(query: {
  readonly limit: number;
  readonly startingAfter?: string;
}): NamedStatement {
  return {
    name: "susu_payable_accounts",
    text: `SELECT id AS person_id, connected_account_id FROM people
            WHERE connected_account_id IS NOT NULL AND payouts_enabled AND id > $1
            ORDER BY id LIMIT $2::int`,
    values: [query.startingAfter ?? "", query.limit],
  };
}

/** A row of {@link payableAccounts}. */
export interface PayableAccountRow {
  readonly person_id: string;
  readonly connected_account_id: string;
}

export function loadPayableAccount(row: PayableAccountRow): PayableAccount {
  return { personId: row.person_id, connectedAccountId: row.connected_account_id };
}

const isStatus = (s: string): s is PayoutStatus => (PAYOUT_STATUSES as readonly string[]).includes(s);

/** A stored payout; a row that breaks the domain's shape is corrupted storage. */
export function loadPayout(row: PayoutRow): Result<PayoutRecord, StorageError> {
  const amountMinor = Number(row.amount_minor);
  const currency = row.currency;
  if (!isStatus(row.status) || !isCurrencyCode(currency) || !Number.isSafeInteger(amountMinor))
    return err(
      storageError.refused(`stored payout ${row.id} cannot be loaded: bad status, currency or amount`),
    );
  return ok({
    payoutId: row.id,
    accountId: row.account_id,
    personId: row.person_id,
    amountMinor,
    currency,
    status: row.status,
    arrivalDate: row.arrival_date.getTime(),
    automatic: row.automatic,
    ...(row.failure_code !== null ? { failureCode: row.failure_code } : {}),
    ...(row.failure_message !== null ? { failureMessage: row.failure_message } : {}),
    createdAt: row.created_at.getTime(),
    updatedAt: row.updated_at.getTime(),
  });
}

// ─── Payout requests ──────────────────────────────────────────────────────────

/** How far along a request's status is, in SQL (the domain's `payoutRequestMoves` order). */
const REQUEST_RANK = (column: string) =>
  `CASE ${column} WHEN 'asked' THEN 0 WHEN 'not_made' THEN 1 ELSE 2 END`;

// A new request is inserted; a known one is replaced only by a status of a higher rank (so
// another run recording `asked` under a key an earlier run used changes nothing).
const PAYOUT_REQUEST_UPSERT_SQL = `
  INSERT INTO payout_requests (key, account_id, person_id, amount_minor, currency, run_id, status,
                               payout_id, asked_at, updated_at)
  VALUES ($1, $2, $3, $4::bigint, $5, $6, $7::payout_request_status, $8, $9::timestamptz, $10::timestamptz)
  ON CONFLICT (key) DO UPDATE SET
    status = excluded.status,
    payout_id = excluded.payout_id,
    updated_at = excluded.updated_at
  WHERE ${REQUEST_RANK("excluded.status")} > ${REQUEST_RANK("payout_requests.status")}`;

/** Writes payout requests in the open transaction, by key (a fixed lock order). */
export async function writePayoutRequests(
  tx: StatementRunner,
  requests: readonly PayoutRequest[],
): Promise<void> {
  const sorted = [...requests].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const r of sorted)
    await tx({
      name: "susu_payout_request_upsert",
      text: PAYOUT_REQUEST_UPSERT_SQL,
      values: [
        r.key,
        r.accountId,
        r.personId,
        String(r.amountMinor),
        r.currency,
        r.runId ?? null,
        r.status,
        r.payoutId ?? null,
        toDate(r.askedAt).toISOString(),
        toDate(r.updatedAt).toISOString(),
      ],
    });
}

const PAYOUT_REQUEST_COLUMNS = `key, account_id, person_id, amount_minor::text AS amount_minor, currency, run_id,
  status::text AS status, payout_id, asked_at, updated_at`;

/** A `payout_requests` row as the statements below read it. */
export interface PayoutRequestRow {
  readonly key: string;
  readonly account_id: string;
  readonly person_id: string;
  readonly amount_minor: string;
  readonly currency: string;
  readonly run_id: string | null;
  readonly status: string;
  readonly payout_id: string | null;
  readonly asked_at: Date;
  readonly updated_at: Date;
}

export const PAYOUT_REQUEST_BY_KEY: (key: string) => NamedStatement = (key) => ({
  name: "susu_payout_request_by_key",
  text: `SELECT ${PAYOUT_REQUEST_COLUMNS} FROM payout_requests WHERE key = $1`,
  values: [key],
});

/** Requests whose outcome susu does not know (`asked`), by key after the cursor, through the (status, key) index. */
export function payoutRequestsToResolve(query: {
  readonly limit: number;
  readonly startingAfter?: string;
}): NamedStatement {
  return {
    name: "susu_payout_requests_to_resolve",
    text: `SELECT ${PAYOUT_REQUEST_COLUMNS} FROM payout_requests
            WHERE status = 'asked' AND key > $1
            ORDER BY key LIMIT $2::int`,
    values: [query.startingAfter ?? "", query.limit],
  };
}

const isRequestStatus = (s: string): s is PayoutRequestStatus =>
  (PAYOUT_REQUEST_STATUSES as readonly string[]).includes(s);

/** A stored payout request; a row that breaks the domain's shape is corrupted storage. */
export function loadPayoutRequest(row: PayoutRequestRow): Result<PayoutRequest, StorageError> {
  const amountMinor = Number(row.amount_minor);
  const currency = row.currency;
  if (!isRequestStatus(row.status) || !isCurrencyCode(currency) || !Number.isSafeInteger(amountMinor))
    return err(
      storageError.refused(
        `stored payout request ${row.key} cannot be loaded: bad status, currency or amount`,
      ),
    );
  return ok({
    key: row.key,
    accountId: row.account_id,
    personId: row.person_id,
    amountMinor,
    currency,
    ...(row.run_id !== null ? { runId: row.run_id } : {}),
    status: row.status,
    ...(row.payout_id !== null ? { payoutId: row.payout_id } : {}),
    askedAt: row.asked_at.getTime(),
    updatedAt: row.updated_at.getTime(),
  });
}

// ─── Payout pauses: one row per scope in force (`platform`, `person:<id>`); resuming deletes it.

const PAYOUT_PAUSE_UPSERT_SQL = `
  INSERT INTO payout_pauses (scope, reason, paused_by, paused_at)
  VALUES ($1, $2, $3, $4::timestamptz)
  ON CONFLICT (scope) DO UPDATE SET
    reason = excluded.reason,
    paused_by = excluded.paused_by,
    paused_at = excluded.paused_at`;

/** Sets or clears payout pauses in the open transaction, by scope (a fixed lock order). */
export async function writePayoutPauses(
  tx: StatementRunner,
  changes: readonly PayoutPauseChange[],
): Promise<void> {
  const keyed = changes.map((c) => ({ key: payoutPauseKey(c.scope), pause: c.pause }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const { key, pause } of keyed)
    await tx(
      pause === undefined
        ? {
            name: "susu_payout_pause_delete",
            text: "DELETE FROM payout_pauses WHERE scope = $1",
            values: [key],
          }
        : {
            name: "susu_payout_pause_upsert",
            text: PAYOUT_PAUSE_UPSERT_SQL,
            values: [key, pause.reason, pause.pausedBy, toDate(pause.pausedAt).toISOString()],
          },
    );
}

/** A `payout_pauses` row as {@link PAYOUT_PAUSES} reads it. */
export interface PayoutPauseRow {
  readonly scope: string;
  readonly reason: string;
  readonly paused_by: string;
  readonly paused_at: Date;
}

export const PAYOUT_PAUSES: NamedStatement = {
  name: "susu_payout_pauses",
  text: "SELECT scope, reason, paused_by, paused_at FROM payout_pauses ORDER BY scope",
  values: [],
};

/** A stored payout pause; a row whose scope no pause makes is corrupted storage. */
export function loadPayoutPause(row: PayoutPauseRow): Result<PayoutPause, StorageError> {
  const scope = payoutPauseScopeOf(row.scope);
  if (scope === undefined)
    return err(storageError.refused(`stored payout pause ${row.scope} cannot be loaded: bad scope`));
  return ok({ scope, reason: row.reason, pausedBy: row.paused_by, pausedAt: row.paused_at.getTime() });
}
