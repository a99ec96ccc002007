// The audit line a restore (or `db:mark-rewound`) leaves, and where it waits when the
// restored database's audit_log cannot take it yet.
import type pg from "pg";

/**
 * The audit line a restore leaves: its `occurred_at` is the instant before which no outbox
 * effect appended since may have been first sent (the outbox claim caps `created_at` at the
 * earliest such line).
 */
export const RESTORE_AUDIT = {
  aggregateType: "database",
  aggregateId: "outbox",
  action: "restored",
} as const;

/**
 * Where a restore keeps its line when the backup's audit_log is older than the columns the
 * line is written with (`actor`, `detail`, `outcome`: migration
 * 20261122014714_align_storage_with_domain). Outside the schemas a backup holds; dropped
 * once the line is in audit_log.
 */
export const PENDING_RESTORE_SCHEMA = "susu_restore";

const LINE_COLUMNS = [
  "occurred_at",
  "aggregate_type",
  "aggregate_id",
  "action",
  "outcome",
  "detail",
  "actor",
];

/**
 * The line's time: the newest outbox `created_at` the database holds (on the use cases'
 * clock), or `$1` when it holds none. Effects sent after the snapshot are lost with the
 * database; the restored aggregates decide them again under the same ids, appended as new
 * rows, and Stripe may have forgotten their keys by then.
 */
const LINE_AT_SQL = "SELECT COALESCE(max(created_at), $1::timestamptz) AS at FROM outbox_effects";

/** Whether audit_log has every column the line is written with. */
async function auditLogTakesLine(client: pg.ClientBase): Promise<boolean> {
  const { rows } = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name = 'audit_log' AND column_name = ANY($1::text[])`,
    [LINE_COLUMNS],
  );
  return rows[0]?.n === LINE_COLUMNS.length;
}

async function insertLines(client: pg.ClientBase, from: string, values: unknown[]): Promise<void> {
  await client.query(
    `INSERT INTO audit_log (occurred_at, aggregate_type, aggregate_id, action, outcome, detail, actor)
     SELECT at, '${RESTORE_AUDIT.aggregateType}', '${RESTORE_AUDIT.aggregateId}', '${RESTORE_AUDIT.action}',
            'applied', detail, actor
       FROM ${from}`,
    values,
  );
}

/**
 * Writes the restore line in the caller's transaction. When audit_log cannot take it (a
 * backup older than its columns), the line, dated now as it would have been, goes to
 * {@link PENDING_RESTORE_SCHEMA} in the same transaction, so the restored rows never commit
 * without it; {@link writePendingRestoreLines} moves it to audit_log once the migrations
 * have made the columns. Answers where the line went.
 */
export async function writeRestoreLine(
  client: pg.ClientBase,
  fallbackAt: string,
  actor: string,
  detail: string,
): Promise<"audit_log" | "pending"> {
  if (await auditLogTakesLine(client)) {
    await insertLines(
      client,
      `(${LINE_AT_SQL}) AS line, (SELECT $2::text AS detail, $3::text AS actor) AS d`,
      [fallbackAt, detail, actor],
    );
    return "audit_log";
  }
  const schema = client.escapeIdentifier(PENDING_RESTORE_SCHEMA);
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${schema}.pending_line (at timestamptz NOT NULL, actor text NOT NULL, detail text NOT NULL)`,
  );
  await client.query(
    `INSERT INTO ${schema}.pending_line (at, actor, detail) SELECT at, $2, $3 FROM (${LINE_AT_SQL}) AS line`,
    [fallbackAt, actor, detail],
  );
  return "pending";
}

/**
 * Moves the lines a restore left pending ({@link writeRestoreLine}) into audit_log and drops
 * {@link PENDING_RESTORE_SCHEMA}, in one transaction, once audit_log has the line's columns;
 * does nothing otherwise. Run by `applyMigrations` after every run, also one that failed part
 * way (the migrations applied before the failure may have made the columns). Answers how
 * many lines were moved.
 */
export async function writePendingRestoreLines(client: pg.ClientBase): Promise<number> {
  const { rows } = await client.query<{ pending: boolean }>("SELECT to_regclass($1) IS NOT NULL AS pending", [
    `${client.escapeIdentifier(PENDING_RESTORE_SCHEMA)}.pending_line`,
  ]);
  if (rows[0]?.pending !== true || !(await auditLogTakesLine(client))) return 0;
  const schema = client.escapeIdentifier(PENDING_RESTORE_SCHEMA);
  await client.query("BEGIN");
  try {
    const { rows: pending } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${schema}.pending_line`,
    );
    await insertLines(client, `${schema}.pending_line`, []);
    await client.query(`DROP SCHEMA ${schema} CASCADE`);
    await client.query("COMMIT");
    return pending[0]?.n ?? 0;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}
