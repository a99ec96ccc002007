// What a backup covers, read from PostgreSQL's catalog: every table of susu's schema
// (`public`) and of pg-boss's (`pgboss`: the timers live there), and how a table's
// content is summed so that a restore can prove it has the same rows.
import type pg from "pg";

/** The schemas a backup holds. */
export const BACKUP_SCHEMAS = ["public", "pgboss"] as const;

/** pg-boss's schema name, as apps/scheduler configures it. */
export const PGBOSS_SCHEMA = "pgboss";

/** Settings that make values print the same in every session (COPY text and digests). */
export const STABLE_TEXT_SETTINGS = [
  "SET LOCAL TIME ZONE 'UTC'",
  "SET LOCAL DateStyle = 'ISO, YMD'",
  "SET LOCAL IntervalStyle = 'postgres'",
  "SET LOCAL extra_float_digits = 3",
  "SET LOCAL bytea_output = 'hex'",
] as const;

/** A table found in the catalog. */
export interface CatalogTable {
  readonly schema: string;
  readonly name: string;
  readonly columns: readonly string[];
}

/** `"schema"."name"`, quoted. */
export function qualified(client: pg.ClientBase, schema: string, name: string): string {
  return `${client.escapeIdentifier(schema)}.${client.escapeIdentifier(name)}`;
}

/**
 * Plain and partitioned tables of `schemas`, without partitions (their rows are read and
 * written through the partitioned parent), ordered by schema and name. Columns are the
 * stored ones in their table order (generated columns are computed again on restore).
 */
export async function listTables(
  client: pg.ClientBase,
  schemas: readonly string[] = BACKUP_SCHEMAS,
): Promise<CatalogTable[]> {
  const result = await client.query<{ schema: string; name: string; columns: string[] }>(
    `SELECT n.nspname AS schema, c.relname AS name,
            array_agg(a.attname::text ORDER BY a.attnum) AS columns
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                          AND a.attgenerated = ''
      WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
      GROUP BY n.nspname, c.relname
      ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"`,
    [schemas],
  );
  return result.rows;
}

/** Sequences of `schemas` and where they stand. */
export async function listSequences(
  client: pg.ClientBase,
  schemas: readonly string[] = BACKUP_SCHEMAS,
): Promise<{ schema: string; name: string; lastValue: string | null }[]> {
  const result = await client.query<{ schema: string; name: string; last_value: string | null }>(
    `SELECT schemaname AS schema, sequencename AS name, last_value::text AS last_value
       FROM pg_sequences WHERE schemaname = ANY($1::text[])
      ORDER BY schemaname COLLATE "C", sequencename COLLATE "C"`,
    [schemas],
  );
  return result.rows.map((r) => ({ schema: r.schema, name: r.name, lastValue: r.last_value }));
}

/** The select list of `columns`, quoted. */
export function columnList(client: pg.ClientBase, columns: readonly string[]): string {
  return columns.map((c) => client.escapeIdentifier(c)).join(", ");
}

/**
 * A table's row count and an order-independent digest of its rows: the sum, over rows,
 * of the first 60 bits of the MD5 of the row's text (the columns listed, as the session's
 * stable settings print them). Summing makes it independent of physical row order (which
 * a restore does not keep) and of collation; it is streamed, not held in memory.
 */
export async function tableDigest(
  client: pg.ClientBase,
  table: CatalogTable,
): Promise<{ rows: number; checksum: string }> {
  const row = `ROW(${columnList(client, table.columns)})::text`;
  const result = await client.query<{ rows: string; checksum: string }>(
    `SELECT count(*)::text AS rows,
            coalesce(sum(('x' || substr(md5(${row}), 1, 15))::bit(60)::bigint::numeric), 0)::text AS checksum
       FROM ${qualified(client, table.schema, table.name)}`,
  );
  const first = result.rows[0];
  return { rows: Number(first?.rows ?? 0), checksum: first?.checksum ?? "0" };
}
