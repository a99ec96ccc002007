// `npm run db:migrate`: applies pending migrations to DATABASE_URL, or to the embedded
// PostgreSQL (started for the occasion, or the one already running on the data folder).
// Exits 0 when the database is up to date, 1 on a failure.
import { redactConnectionString } from "../src/db/connection-string.js";
import { resolveDatabaseUrl } from "../src/db/database-url.js";
import { applyMigrations } from "../src/db/migrations.js";

const database = await resolveDatabaseUrl();
try {
  const target = `${database.source} database ${redactConnectionString(database.connectionString)}`;
  const { applied } = await applyMigrations(database.connectionString);
  if (applied.length === 0) console.log(`${target}: no pending migration.`);
  else
    console.log(
      `${target}: applied ${applied.length} migration(s):\n${applied.map((n) => `  ${n}`).join("\n")}`,
    );
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
} finally {
  await database.close();
}
// The embedded server's package exits the process from its own exit hook with status 0,
// which would hide a failure: leave with ours.
process.exit(Number(process.exitCode ?? 0));
