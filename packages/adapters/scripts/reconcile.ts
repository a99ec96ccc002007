// `npm run reconcile -- --from 2026-12-01 --to 2026-12-02 [--csv out.csv]` (or `--day
// 2026-12-01`, a whole UTC day that is over): pulls Stripe's balance transactions of the
// period, compares them with susu's ledger, stores the report (as `operator:command`), and,
// as the scheduler's run does, opens, notes or resolves the period's differences ticket and
// tells the admins (queued in the delivery log for the scheduler to send; SUSU_ADMIN_EMAILS,
// SUSU_SMTP_URL and the other admin-notice variables as the scheduler reads them), then
// prints a summary and writes the differences as CSV. PostgreSQL is DATABASE_URL, or the
// embedded one on its data folder; Stripe is STRIPE_SECRET_KEY at STRIPE_API_URL (Stripe
// itself when unset), or, with neither set, the emulator of `npm start` on
// http://127.0.0.1:12111 (SUSU_EMULATOR_PORT). Exits 0 without differences, 1 with
// differences, 2 on bad arguments or a failure.
import { writeFileSync } from "node:fs";
import { SystemClock } from "../src/clock/system-clock.js";
import { resolveDatabaseUrl } from "../src/db/database-url.js";
import { createPrismaClient } from "../src/db/prisma-client.js";
import { adminNoticeNotifierOf, readAdminNoticeEnv } from "../src/notify/admin-notice-env.js";
import { parseReconcileArgs } from "../src/reconciliation/command-args.js";
import { operatorRanBy, reconcileAndTell } from "../src/reconciliation/reconcile-and-tell.js";
import { reconciliationCsv, reconciliationSummary } from "../src/reconciliation/report-format.js";
import {
  createStripeClient,
  stripeAddressOf,
  stripeEndpointOf,
  stripeSettingsFromEnv,
} from "../src/stripe/stripe-client.js";
import { PrismaSupportDesk } from "../src/support/prisma-support-desk.js";

const command = parseReconcileArgs(process.argv.slice(2));
if (command.isErr()) {
  console.error(command.error);
  process.exit(2);
}
const { period, csvPath } = command.value;
let adminNotice: ReturnType<typeof readAdminNoticeEnv>;
try {
  adminNotice = readAdminNoticeEnv(process.env);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(2);
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
const prisma = createPrismaClient(database.connectionString, { maxConnections: 4 });
try {
  const clock = new SystemClock();
  const run = await reconcileAndTell(
    {
      prisma,
      stripe,
      desk: new PrismaSupportDesk(prisma, clock),
      notifier: adminNoticeNotifierOf(adminNotice, prisma, clock),
      clock,
    },
    period,
    operatorRanBy("command"),
  );
  process.stdout.write(reconciliationSummary(run.report));
  console.log(`\nStored as report ${run.stored.id}.`);
  console.log(
    `Compared with the period's last run: ${run.change}` +
      (run.ticketId !== undefined ? `; ticket ${run.ticketId}` : "") +
      (run.noticeId !== undefined ? `; the admins told (${run.noticeId}).` : "; nothing sent."),
  );
  if (csvPath !== undefined) {
    writeFileSync(csvPath, reconciliationCsv(run.report));
    console.log(`Wrote ${run.report.differences.length} difference(s) to ${csvPath}.`);
  }
  process.exitCode = run.report.differences.length === 0 ? 0 : 1;
} catch (error) {
  console.error(
    `reconciliation failed (Stripe at ${stripeWhere}): ${error instanceof Error ? error.message : String(error)}`,
  );
  process.exitCode = 2;
} finally {
  await prisma.$disconnect();
  await database.close();
}
// The embedded server's package exits the process from its own exit hook with status 0,
// which would hide a failure: leave with ours.
process.exit(Number(process.exitCode ?? 0));
