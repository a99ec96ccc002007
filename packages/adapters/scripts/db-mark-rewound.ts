// `npm run db:mark-rewound -- [--reason TEXT]`: after the database (DATABASE_URL, or the
// embedded PostgreSQL on its data folder, as db:migrate resolves it) was rewound by anything
// but `npm run db:restore` — a point-in-time recovery, a volume snapshot, a pg_restore of a
// dump — writes the audit line a restore leaves, so that effects the rewound aggregates decide
// again never count as new (the payment gateway then looks at Stripe for what an earlier
// attempt made instead of trusting an idempotency key Stripe may have forgotten). Run it with
// the api and scheduler stopped, before they start on the rewound database. Exits 0 when
// written, 2 on bad arguments, 1 on failure.
import { parseArgs } from "node:util";
import { markDatabaseRewound } from "../src/backup/restore-backup.js";
import { redactConnectionString } from "../src/db/connection-string.js";
import { resolveDatabaseUrl } from "../src/db/database-url.js";

let reason = "rewound by other means than db:restore";
try {
  const { values } = parseArgs({ options: { reason: { type: "string" } }, strict: true });
  if (values.reason !== undefined && values.reason.trim() !== "") reason = values.reason;
} catch (error) {
  console.error(
    `${error instanceof Error ? error.message : String(error)}\nusage: npm run db:mark-rewound -- [--reason TEXT]`,
  );
  process.exit(2);
}

const database = await resolveDatabaseUrl();
try {
  const at = await markDatabaseRewound(database.connectionString, reason);
  console.log(
    `Marked ${database.source} database ${redactConnectionString(database.connectionString)} as rewound: ` +
      `outbox effects appended from now on count as created no later than ${at.toISOString()}.`,
  );
} catch (error) {
  console.error(`mark-rewound failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await database.close();
}
// The embedded server's package exits the process from its own exit hook with status 0,
// which would hide a failure: leave with ours.
process.exit(Number(process.exitCode ?? 0));
