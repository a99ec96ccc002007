// `npm run db:restore -- --from FILE [--force]`: restores a backup of `npm run db:backup`
// into an empty database (DATABASE_URL, or the embedded PostgreSQL on its data folder, as
// db:migrate resolves it); --force drops what it holds first. Stop the api and scheduler
// first, start them after. Exits 0 when restored, 2 on bad arguments, 1 on a refusal or
// failure (the data load is one transaction: nothing of it stays behind).
import { parseRestoreArgs } from "../src/backup/command-args.js";
import { restoreBackup } from "../src/backup/restore-backup.js";
import { redactConnectionString } from "../src/db/connection-string.js";
import { resolveDatabaseUrl } from "../src/db/database-url.js";

const command = parseRestoreArgs(process.argv.slice(2));
if (command.isErr()) {
  console.error(command.error);
  process.exit(2);
}
const { fromPath, force } = command.value;

const database = await resolveDatabaseUrl();
try {
  const target = `${database.source} database ${redactConnectionString(database.connectionString)}`;
  console.log(`Restoring ${fromPath} into ${target}`);
  const restored = await restoreBackup(database.connectionString, fromPath, {
    force,
    progress: (line) => console.log(line),
  });
  console.log(
    `Restored ${restored.rows} row(s) as of ${restored.manifest.snapshotAt}; every table's rows match the backup's.`,
  );
  if (restored.appliedAfter.length > 0)
    console.log(
      `Applied ${restored.appliedAfter.length} newer migration(s): ${restored.appliedAfter.join(", ")}`,
    );
  console.log(
    "Next: npm run stripe:catch-up -- --backup " +
      `${fromPath} (puts Stripe's events since the backup in the inbox), then start the scheduler.`,
  );
} catch (error) {
  const code = (error as { code?: unknown }).code;
  console.error(
    `restore failed${typeof code === "string" ? ` (${code})` : ""}: ${error instanceof Error ? error.message : String(error)}`,
  );
  process.exitCode = 1;
} finally {
  await database.close();
}
// The embedded server's package exits the process from its own exit hook with status 0,
// which would hide a failure: leave with ours.
process.exit(Number(process.exitCode ?? 0));
