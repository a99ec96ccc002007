// The `saved_payment_methods` table: people's saved cards and BECS accounts (the domain's
// `SavedPaymentMethod`), versioned like aggregates. Plain SQL like the rest of the commit path.
import {
  type RemovedBy,
  type SavedPaymentMethod,
  type StorageError,
  storageError,
  type VersionedChange,
} from "@susu/domain";
import { err, ok, type Result } from "neverthrow";
import type { NamedStatement, StatementRunner } from "../db/prisma-client.js";
import { toDate } from "./conversions.js";
import { StorageRefusal } from "./storage-errors.js";
import { writeVersionedRow } from "./versioned-row.js";

const COLUMNS = `id, person_id, customer_id, type, card_brand, exp_month, exp_year, bsb_number, last4,
  mandate_id, mandate_status, is_default, created_at, updated_at, removed_at, removed_by, version`;

const INSERT_SQL = `INSERT INTO saved_payment_methods (${COLUMNS})
  VALUES ($1, $2, $3, $4, $5, $6::int, $7::int, $8, $9, $10, $11, $12::boolean, $13::timestamptz,
          $14::timestamptz, $15::timestamptz, $16, $17::int)`;

// The version check and the write in one statement ($18: the version it was loaded at).
const UPDATE_SQL = `UPDATE saved_payment_methods SET
    person_id = $2, customer_id = $3, type = $4, card_brand = $5, exp_month = $6::int, exp_year = $7::int,
    bsb_number = $8, last4 = $9, mandate_id = $10, mandate_status = $11, is_default = $12::boolean,
    created_at = $13::timestamptz, updated_at = $14::timestamptz, removed_at = $15::timestamptz,
    removed_by = $16, version = $17::int
  WHERE id = $1 AND version = $18::int`;

const iso = (at: number | undefined): string | null => (at === undefined ? null : toDate(at).toISOString());

/** Refuses, before it reaches a CHECK, a method no loader would read back. */
function assertStorable(m: SavedPaymentMethod): void {
  const problem = problemOf(m);
  if (problem !== undefined)
    throw new StorageRefusal(storageError.refused(`commit refused payment method ${m.id}: ${problem}`));
}

function problemOf(m: SavedPaymentMethod): string | undefined {
  if (m.type === "card" && m.card === undefined) return "a card without its details";
  if (m.type === "au_becs_debit" && m.bankAccount === undefined) return "a BECS method without its account";
  if (m.card !== undefined && m.bankAccount !== undefined) return "both a card and an account";
  const last4 = m.card?.last4 ?? m.bankAccount?.last4 ?? "";
  if (!/^[0-9]{4}$/.test(last4)) return "last four digits must be four digits";
  if (m.removal !== undefined && m.isDefault) return "a removed method cannot be the default";
  if (![m.createdAt, m.updatedAt, m.removal?.at ?? 0].every(Number.isSafeInteger))
    return "a time is not an instant";
  return undefined;
}

/** Writes saved methods in the open transaction, by id (a fixed lock order), each with its version check. */
export async function writePaymentMethods(
  tx: StatementRunner,
  changes: readonly VersionedChange<SavedPaymentMethod>[],
): Promise<void> {
  const sorted = [...changes].sort((a, b) =>
    a.state.id < b.state.id ? -1 : a.state.id > b.state.id ? 1 : 0,
  );
  for (const change of sorted) {
    const m = change.state;
    assertStorable(m);
    const version = change.expectedVersion === undefined ? 0 : change.expectedVersion + 1;
    const values = [
      m.id,
      m.personId,
      m.customerId,
      m.type,
      m.card?.brand ?? null,
      m.card?.expMonth ?? null,
      m.card?.expYear ?? null,
      m.bankAccount?.bsbNumber ?? null,
      m.card?.last4 ?? m.bankAccount?.last4 ?? null,
      m.mandate?.mandateId ?? null,
      m.mandate?.status ?? null,
      m.isDefault,
      iso(m.createdAt),
      iso(m.updatedAt),
      iso(m.removal?.at),
      m.removal?.by ?? null,
      version,
    ];
    await writeVersionedRow(tx, {
      aggregate: "payment_method",
      table: "saved_payment_methods",
      id: m.id,
      expectedVersion: change.expectedVersion,
      insert: { name: "susu_payment_method_insert", text: INSERT_SQL, values },
      update: { name: "susu_payment_method_update", text: UPDATE_SQL, values },
    });
  }
}

/** A `saved_payment_methods` row as the statements below read it. */
export interface PaymentMethodRow {
  readonly id: string;
  readonly person_id: string;
  readonly customer_id: string;
  readonly type: string;
  readonly card_brand: string | null;
  readonly exp_month: number | null;
  readonly exp_year: number | null;
  readonly bsb_number: string | null;
  readonly last4: string;
  readonly mandate_id: string | null;
  readonly mandate_status: string | null;
  readonly is_default: boolean;
  readonly created_at: Date;
  readonly updated_at: Date;
  readonly removed_at: Date | null;
  readonly removed_by: string | null;
  readonly version: number;
}

export const PAYMENT_METHOD_BY_ID = (id: string): NamedStatement => ({
  name: "susu_payment_method_by_id",
  text: `SELECT ${COLUMNS} FROM saved_payment_methods WHERE id = $1`,
  values: [id],
});

/** A person's methods, oldest first, removed ones only when asked for. */
export const PAYMENT_METHODS_OF_PERSON = (personId: string, includeRemoved: boolean): NamedStatement => ({
  name: "susu_payment_methods_of_person",
  text: `SELECT ${COLUMNS} FROM saved_payment_methods
          WHERE person_id = $1 AND ($2::boolean OR removed_at IS NULL)
          ORDER BY created_at, id`,
  values: [personId, includeRemoved],
});

const MANDATE_STATUSES = ["active", "inactive", "pending"] as const;

/** A stored method; a row that breaks the domain's shape is corrupted storage. */
export function loadPaymentMethod(row: PaymentMethodRow): Result<SavedPaymentMethod, StorageError> {
  const bad = (why: string) =>
    err(storageError.refused(`stored payment method ${row.id} cannot be loaded: ${why}`));
  const mandateStatus = MANDATE_STATUSES.find((s) => s === row.mandate_status);
  if (row.mandate_id !== null && mandateStatus === undefined) return bad("bad mandate status");
  const removedBy: RemovedBy | undefined =
    row.removed_by === "person" ? "person" : row.removed_by === "provider" ? "provider" : undefined;
  if ((row.removed_at === null) !== (removedBy === undefined)) return bad("bad removal");
  const common = {
    id: row.id,
    personId: row.person_id,
    customerId: row.customer_id,
    ...(row.mandate_id !== null && mandateStatus !== undefined
      ? { mandate: { mandateId: row.mandate_id, status: mandateStatus } }
      : {}),
    isDefault: row.is_default,
    createdAt: row.created_at.getTime(),
    updatedAt: row.updated_at.getTime(),
    ...(row.removed_at !== null && removedBy !== undefined
      ? { removal: { at: row.removed_at.getTime(), by: removedBy } }
      : {}),
    version: row.version,
  };
  if (row.type === "card") {
    if (row.card_brand === null || row.exp_month === null || row.exp_year === null)
      return bad("a card without details");
    return ok({
      ...common,
      type: "card",
      card: { brand: row.card_brand, last4: row.last4, expMonth: row.exp_month, expYear: row.exp_year },
    });
  }
  if (row.type === "au_becs_debit") {
    if (row.bsb_number === null) return bad("a BECS account without its BSB");
    return ok({
      ...common,
      type: "au_becs_debit",
      bankAccount: { bsbNumber: row.bsb_number, last4: row.last4 },
    });
  }
  return bad(`unknown type ${row.type}`);
}
