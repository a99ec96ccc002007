// `npm run db:backup -- --out FILE`: a consistent backup of susu's database (DATABASE_URL,
// or the embedded PostgreSQL on its data folder, as db:migrate resolves it) into FILE.
// Exits 0 when written, 2 on bad arguments, 1 on a failure (no FILE is left behind).
import { existsSync } from "node:fs";
import { parseBackupArgs } from "../src/backup/command-args.js";
import { takeBackup } from "../src/backup/take-backup.js";
import { redactConnectionString } from "../src/db/connection-string.js";
import { resolveDatabaseUrl } from "../src/db/database-url.js";

const command = parseBackupArgs(process.argv.slice(2));
if (command.isErr()) {
  console.error(command.error);
  process.exit(2);
}
const { outPath } = command.value;
if (existsSync(outPath)) {
  console.error(`${outPath} already exists: choose a new file name (a backup never overwrites another).`);
  process.exit(2);
}

const database = await resolveDatabaseUrl();
try {
  const taken = await takeBackup(database.connectionString, outPath);
  const rows = taken.manifest.tables.reduce((sum, t) => sum + t.rows, 0);
  console.log(
    `Backed up ${database.source} database ${redactConnectionString(database.connectionString)} ` +
      `as of ${taken.manifest.snapshotAt}: ${taken.manifest.tables.length} table(s), ${rows} row(s), ` +
      `${taken.manifest.migrations.length} migration(s), ${taken.bytes} byte(s) in ${outPath}.`,
  );
  console.log(`After restoring it, catch up on Stripe: npm run stripe:catch-up -- --backup ${outPath}`);
} catch (error) {
  console.error(`backup failed: ${error instanceof Error ? error.message : String(error)}`);
  console.error("Nothing was written. Check that the database is reachable and the folder is writable.");
  process.exitCode = 1;
} finally {
  await database.close();
}
// The embedded server's package exits the process from its own exit hook with status 0,
// which would hide a failure: leave with ours.
process.exit(Number(process.exitCode ?? 0));
