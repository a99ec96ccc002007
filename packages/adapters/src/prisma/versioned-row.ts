// How every aggregate's row is written: inserted when new, else updated only at the version
// it was loaded at (check and write in one statement), a lost race being the aggregate's
// version conflict. Shared by the changeset writer and the memberships' rows.
import type { VersionedChange } from "@susu/domain";
import type { StatementRunner } from "../db/prisma-client.js";
import {
  classifyDatabaseError,
  StorageRefusal,
  type VersionedAggregate,
  versionConflictOn,
} from "./storage-errors.js";

type Tx = StatementRunner;

/** The stored version of a change: 0 for a new aggregate, one more than the version it was loaded at otherwise. */
export function storedVersion(change: VersionedChange<unknown>): number {
  return change.expectedVersion === undefined ? 0 : change.expectedVersion + 1;
}

const conflict = (aggregate: VersionedAggregate, id: string) =>
  new StorageRefusal(versionConflictOn(aggregate, id));

/** True when `error` is the unique violation of `table`'s primary key: the row was there already. */
function isPrimaryKeyViolation(error: unknown, table: string): boolean {
  return isUniqueViolationOf(error, `${table}_pkey`);
}

/** True when `error` is the unique violation of the constraint (or unique index) `name`. */
export function isUniqueViolationOf(error: unknown, name: string): boolean {
  const failure = classifyDatabaseError(error);
  return failure.kind === "unique_violation" && failure.constraint === name;
}

/**
 * Stores an aggregate's row: inserted when new, else updated only where the version is
 * the one it was loaded at — check and write in one statement, so a concurrent writer of
 * the same row waits for our commit, re-reads the version and updates nothing. Either
 * race lost (the id stored first by someone else, or the version moved on) is the
 * aggregate's version conflict; `refusal` names any other key the row may collide on.
 */
export async function writeVersionedRow(
  tx: Tx,
  row: {
    readonly aggregate: VersionedAggregate;
    readonly table: string;
    readonly id: string;
    readonly expectedVersion: number | undefined;
    readonly insert: { readonly name: string; readonly text: string; readonly values: readonly unknown[] };
    readonly update: { readonly name: string; readonly text: string; readonly values: readonly unknown[] };
    readonly refusal?: (error: unknown) => StorageRefusal | undefined;
  },
): Promise<void> {
  try {
    if (row.expectedVersion === undefined) {
      await tx({ ...row.insert, values: [...row.insert.values] });
      return;
    }
    const { rowCount } = await tx({ ...row.update, values: [...row.update.values, row.expectedVersion] });
    if (rowCount !== 1) throw conflict(row.aggregate, row.id);
  } catch (error) {
    if (isPrimaryKeyViolation(error, row.table)) throw conflict(row.aggregate, row.id);
    throw row.refusal?.(error) ?? error;
  }
}

// Parameters travel as text with explicit casts, so the same statement runs prepared on the
// pool and through Prisma's raw query, with no driver-specific type mapping.
export const iso = (date: Date | null): string | null => (date === null ? null : date.toISOString());
