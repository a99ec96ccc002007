// `npm run stripe:catch-up -- (--since INSTANT | --backup FILE [--margin-minutes N])`: after
// a restore, stores Stripe's events since the backup (platform and susu's connected
// accounts) in the webhook inbox, where the scheduler's processor applies them; events
// the inbox has are skipped. PostgreSQL is DATABASE_URL or the embedded one; Stripe is
// STRIPE_SECRET_KEY at STRIPE_API_URL (Stripe itself when unset), or, with neither set, the
// emulator of `npm start` on http://127.0.0.1:12111 (SUSU_EMULATOR_PORT). Exits 0 when
// caught up, 2 on bad arguments, 1 on a failure (run it again: it is idempotent).
import { parseCatchUpArgs } from "../src/backup/command-args.js";
import { readBackupManifest } from "../src/backup/restore-backup.js";
import { catchUpStripeEvents, knownConnectedAccounts } from "../src/backup/stripe-catch-up.js";
import { resolveDatabaseUrl } from "../src/db/database-url.js";
import { createPrismaClient } from "../src/db/prisma-client.js";
import {
  createStripeClient,
  stripeAddressOf,
  stripeEndpointOf,
  stripeSettingsFromEnv,
} from "../src/stripe/stripe-client.js";
import { PrismaWebhookInbox } from "../src/webhooks/inbox.js";

const command = parseCatchUpArgs(process.argv.slice(2));
if (command.isErr()) {
  console.error(command.error);
  process.exit(2);
}
let since: number;
if (command.value.kind === "since") since = command.value.since;
else {
  try {
    const manifest = await readBackupManifest(command.value.backupPath);
    since = Date.parse(manifest.snapshotAt) - command.value.marginMinutes * 60_000;
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(2);
  }
}

const { secretKey, apiUrl } = stripeSettingsFromEnv(process.env);
/** The Stripe called, named when a call fails (an operator may have meant another port or Stripe itself). */
const stripeWhere = stripeAddressOf(apiUrl);
const stripe = createStripeClient({
  secretKey: secretKey ?? "sk_test_emulator",
  ...stripeEndpointOf(apiUrl),
  timeoutMs: 30_000,
  maxNetworkRetries: 2,
});

const database = await resolveDatabaseUrl();
const prisma = createPrismaClient(database.connectionString, { maxConnections: 2 });
try {
  const report = await catchUpStripeEvents(stripe, new PrismaWebhookInbox(prisma), {
    since,
    connectedAccounts: await knownConnectedAccounts(prisma),
  });
  console.log(
    `Listed ${report.listed} Stripe event(s) since ${new Date(since).toISOString()} ` +
      `(platform and ${report.accounts} connected account(s)): ${report.stored} stored for processing, ` +
      `${report.duplicates} already in the inbox.`,
  );
} catch (error) {
  console.error(
    `catch-up failed (Stripe at ${stripeWhere}): ${error instanceof Error ? error.message : String(error)}`,
  );
  console.error("Nothing is lost: run the command again (events already stored are skipped).");
  process.exitCode = 1;
} finally {
  await prisma.$disconnect();
  await database.close();
}
// The embedded server's package exits the process from its own exit hook with status 0,
// which would hide a failure: leave with ours.
process.exit(Number(process.exitCode ?? 0));
