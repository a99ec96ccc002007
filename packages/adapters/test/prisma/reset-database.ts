import type { PrismaClient } from "../../src/db/prisma-client.js";

// Every table, children before the parents their foreign keys point at.
const TABLES = [
  "payout_transfers",
  "refunds",
  "disputes",
  "contribution_attempts",
  "contributions",
  "rounds",
  "members",
  "groups",
  "held_payments",
  "marketplace_charge_sellers",
  "marketplace_charges",
  "subscriptions",
  "plan_prices",
  "plans",
  "payouts",
  "payout_requests",
  "payout_pauses",
  "saved_payment_methods",
  "people",
  "ledger_postings",
  "ledger_transactions",
  "ledger_accounts",
  "outbox_effects",
  "webhook_events",
  "support_tickets",
  "audit_log",
  "idempotency_keys",
  "rate_limits",
  "stripe_balance_transactions",
  "reconciliation_reports",
  "scheduler_cursors",
  "payment_attempts",
  "notification_deliveries",
  "notifications",
  "notification_endpoints",
  "admin_alerts",
] as const;

// Their triggers refuse DELETE: the ledger and the audit log are append-only.
const APPEND_ONLY = ["ledger_postings", "ledger_transactions", "audit_log"] as const;

const list = (names: readonly string[]) => names.map((n) => `'${n}'`).join(", ");

// One statement (a DO block), so the triggers are off only inside its transaction: no
// other session can see them off. DELETE, not TRUNCATE: for a few rows in each of these tables
// it is an order of magnitude faster (TRUNCATE makes new files for every table).
const RESET = `
DO $$
DECLARE
  t text;
BEGIN
  IF EXISTS (SELECT 1 FROM pg_tables
              WHERE schemaname = 'public' AND tablename NOT IN (${list(TABLES)}, '_prisma_migrations')) THEN
    RAISE EXCEPTION 'resetDatabase: a table is missing from its list (test/prisma/reset-database.ts)';
  END IF;
  FOREACH t IN ARRAY ARRAY[${list(APPEND_ONLY)}] LOOP
    EXECUTE format('ALTER TABLE %I DISABLE TRIGGER USER', t);
  END LOOP;
  FOREACH t IN ARRAY ARRAY[${list(TABLES)}] LOOP
    EXECUTE format('DELETE FROM %I', t);
  END LOOP;
  FOREACH t IN ARRAY ARRAY[${list(APPEND_ONLY)}] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE TRIGGER USER', t);
  END LOOP;
END $$`;

/**
 * Empties every table of a test database, so one database serves a whole test file (a
 * new database per test costs ~0.3–0.5 s). The table owner — the role that ran the
 * migrations — may switch the append-only triggers off for this without being a superuser.
 */
export async function resetDatabase(prisma: PrismaClient): Promise<void> {
  await prisma.$executeRawUnsafe(RESET);
}
