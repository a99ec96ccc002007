import PgBoss from "pg-boss";

/**
 * A started pg-boss on `connectionString` (schema `pgboss`) for a test: no supervision or
 * cron (the test drives time), its error events swallowed (a test that takes the database
 * away sees them as failed calls). The caller stops it.
 */
export async function startTestBoss(connectionString: string): Promise<PgBoss> {
  const boss = new PgBoss({ connectionString, schema: "pgboss", supervise: false, schedule: false });
  boss.on("error", () => undefined);
  await boss.start();
  return boss;
}
