// A named statement's plan as the pool runs it: prepared once, then executed with a custom
// plan (planned with its parameters) or the generic plan (planned without them), which is
// what a connection with plan_cache_mode = force_generic_plan uses on every run (and `auto`
// after five runs, when the generic plan's estimate is no costlier).
import type { NamedStatement, PrismaClient } from "../../src/db/prisma-client.js";

/** How the prepared statement is planned: with its parameters, or once without them. */
export type PlanMode = "force_custom_plan" | "force_generic_plan";

/** Both modes, custom first: for tests that prove a plan good in each. */
export const PLAN_MODES: readonly PlanMode[] = ["force_custom_plan", "force_generic_plan"];

/** A statement's parameter as an SQL literal for EXECUTE (its type is the one PREPARE inferred). */
function literal(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  if (typeof value === "boolean") return value ? "TRUE" : "FALSE";
  const quote = (text: string) => `'${text.replaceAll("'", "''")}'`;
  if (value instanceof Date) return quote(value.toISOString());
  if (typeof value === "string") return quote(value);
  if (Array.isArray(value) && value.every((v) => typeof v === "string"))
    return quote(`{${value.map((v) => `"${v.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`).join(",")}}`);
  throw new TypeError(`no SQL literal for parameter ${JSON.stringify(value)}`);
}

let prepared = 0;

/**
 * `EXPLAIN (ANALYZE, BUFFERS)` of `statement` PREPAREd without parameter types (inferred by
 * the server, as node-postgres's named statements leave them) and EXECUTEd under `mode`, after
 * `first` (`SET LOCAL`s, locks), in a transaction rolled back afterwards (ANALYZE runs it): the
 * plan's lines. A generic plan shows the parameters (`$1`) where a custom one shows values.
 */
export async function explainPrepared(
  prisma: PrismaClient,
  statement: NamedStatement,
  mode: PlanMode,
  first: readonly string[] = [],
): Promise<string> {
  prepared += 1;
  const name = `explained_${prepared}`;
  const rollback = new Error("rollback");
  let plan: string | undefined;
  await prisma
    .$transaction(async (tx) => {
      await tx.$executeRawUnsafe(`SET LOCAL plan_cache_mode = ${mode}`);
      for (const statement of first) await tx.$executeRawUnsafe(statement);
      await tx.$executeRawUnsafe(`PREPARE ${name} AS ${statement.text}`);
      const rows = await tx.$queryRawUnsafe<{ "QUERY PLAN": string }[]>(
        `EXPLAIN (ANALYZE, BUFFERS) EXECUTE ${name}(${statement.values.map(literal).join(", ")})`,
      );
      // A prepared statement outlives the transaction: the connection goes back to the pool.
      await tx.$executeRawUnsafe(`DEALLOCATE ${name}`);
      plan = rows.map((row) => row["QUERY PLAN"]).join("\n");
      throw rollback;
    })
    .catch((error: unknown) => {
      if (error !== rollback) throw error;
    });
  if (plan === undefined) throw new Error(`no plan for ${statement.name}`);
  return plan;
}

/** The buffers (shared hit + read) of a text plan's first Buffers line: the whole statement's. */
export function buffersOf(plan: string): number {
  const buffers = /Buffers: shared(?: hit=(\d+))?(?: read=(\d+))?/.exec(plan);
  return Number(buffers?.[1] ?? 0) + Number(buffers?.[2] ?? 0);
}
