// The plans of the claims the scheduler runs in a loop beside the outbox's and the webhook
// inbox's (their own plan tests: outbox-claims.prisma.test.ts, claim-walk.test.ts): the
// stuck-work sweep, and the dead-worker release's search and release. Each is a named statement
// on the pool, so a connection may plan it without its parameters (the generic plan: every run
// on the scheduler's connections, SUSU_DB_PLAN_CACHE_MODE) or with them: proven in both modes on
// 100,000 done effects and 50,000 finished events, by what it reads (buffers, not time).
import { describe, expect, it } from "vitest";
import { deliveriesClaimStatement } from "../../src/notify/delivery-worker.js";
import { outboxSweepStatement } from "../../src/prisma/stuck-work.js";
import {
  claimersWithoutLivenessStatement,
  releaseClaimsStatement,
} from "../../src/prisma/worker-liveness.js";
import { buffersOf, explainPrepared, PLAN_MODES } from "../support/prepared-plan.js";
import { useTestDatabase } from "../support/test-database.js";

const db = useTestDatabase();

/** The plan's rows out (its top node's) and buffers; no table scanned whole. */
function readOf(plan: string, mode: string) {
  expect(/\$\d/.test(plan), `${mode}: a generic plan shows its parameters`).toBe(
    mode === "force_generic_plan",
  );
  expect(plan, mode).not.toMatch(/Seq Scan on (outbox_effects|webhook_events)/);
  return { rows: Number(/rows=(\d+) loops=1\)/.exec(plan)?.[1]), buffers: buffersOf(plan) };
}

describe("the looped claims' plans on a big outbox and inbox", () => {
  it("sweep, dead claimers and their release read the pending rows only, with or without their parameters", async () => {
    // 100,000 effects done, and 3,000 pending: 300 leased live by `dead` (a worker that holds
    // no liveness lock), 200 whose lease by `gone` ran out, the rest free. 50,000 events
    // finished, 1,000 due: 100 leased live by `dead`, 50 whose lease by `gone` ran out.
    await db.prisma.$executeRawUnsafe(`
      INSERT INTO outbox_effects (id, aggregate_type, aggregate_id, kind, payload, status, available_at, created_at, completed_at)
      SELECT 'done:' || n, 'round', 'round_' || (n % 5000), 'schedule_timer',
             jsonb_build_object('id', 'done:' || n, 'kind', 'schedule_timer'), 'done',
             now() - interval '1 day', now() - interval '1 day', now() - interval '1 day'
        FROM generate_series(1, 100000) AS n`);
    await db.prisma.$executeRawUnsafe(`
      INSERT INTO outbox_effects (id, aggregate_type, aggregate_id, kind, payload, available_at, created_at,
                                  claimed_by, claimed_until)
      SELECT 'pending:' || n, 'round', 'big_' || (n % 1000), 'schedule_timer',
             jsonb_build_object('id', 'pending:' || n, 'kind', 'schedule_timer'), now() - interval '1 minute', now(),
             CASE WHEN n % 10 = 0 THEN 'dead' WHEN n % 15 = 1 THEN 'gone' END,
             CASE WHEN n % 10 = 0 THEN now() + interval '5 minutes' WHEN n % 15 = 1 THEN now() - interval '1 minute' END
        FROM generate_series(1, 3000) AS n`);
    await db.prisma.$executeRawUnsafe(`
      INSERT INTO webhook_events (id, type, livemode, stripe_created_at, payload, status, attempts,
                                  next_attempt_at, received_at, processed_at, ordering_key, outcome,
                                  claimed_by, claimed_until)
      SELECT 'evt_' || g, 'payment_intent.succeeded', false, now() - interval '1 day', '{}'::jsonb,
             CASE WHEN g > 50000 THEN 'received' WHEN g % 3 = 0 THEN 'ignored' ELSE 'processed' END::webhook_event_status, 0,
             now() - interval '1 day', now() - interval '1 day', CASE WHEN g <= 50000 THEN now() - interval '1 day' END,
             'round:r' || (g % 5000), CASE WHEN g <= 50000 THEN 'done' END,
             CASE WHEN g > 50000 AND g % 10 = 0 THEN 'dead' WHEN g > 50000 AND g % 20 = 1 THEN 'gone' END,
             CASE WHEN g > 50000 AND g % 10 = 0 THEN now() + interval '5 minutes'
                  WHEN g > 50000 AND g % 20 = 1 THEN now() - interval '1 minute' END
        FROM generate_series(1, 51000) AS g`);
    await db.prisma.$executeRawUnsafe("ANALYZE outbox_effects");
    await db.prisma.$executeRawUnsafe("ANALYZE webhook_events");
    const now = Date.now();

    for (const mode of PLAN_MODES) {
      const sweep = readOf(await explainPrepared(db.prisma, outboxSweepStatement(now), mode), mode);
      const claimers = readOf(
        await explainPrepared(db.prisma, claimersWithoutLivenessStatement(now), mode),
        mode,
      );
      const release = readOf(
        await explainPrepared(db.prisma, releaseClaimsStatement(["dead"], now), mode),
        mode,
      );
      console.info(`looped claims (${mode}): sweep`, sweep, "claimers", claimers, "release", release);
      // The 200 expired leases; one worker; its 300 effects and 100 events.
      expect([sweep.rows, claimers.rows, release.rows], mode).toEqual([200, 1, 400]);
      // Here (custom, generic): 1,505 and 810, 138 and 132, 3,844 and 3,943, most of them the
      // updates' (index entries, the rows by key); the tables are 3,320 and 926 pages.
      expect(sweep.buffers, mode).toBeLessThan(2_500);
      expect(claimers.buffers, mode).toBeLessThan(500);
      expect(release.buffers, mode).toBeLessThan(4_500);
    }
  });

  it("the notification deliveries' claim walks the due deliveries in order, with or without its parameters", async () => {
    // Sent through Prisma, unnamed: planned on every run, but generically on a connection that
    // forces it (the scheduler's). 50,000 deliveries sent, 2,000 due (50 under a live lease),
    // 1,000 waiting for their retry.
    await db.prisma.$executeRawUnsafe(`
      INSERT INTO notifications (id, template, aggregate_type, aggregate_id, person_ids, roles, data, created_at)
      VALUES ('ntf_plan', 'round_opened', 'round', 'round_plan', '{}', '{}', '{}'::jsonb, now())`);
    await db.prisma.$executeRawUnsafe(`
      INSERT INTO notification_deliveries (id, notification_id, channel, recipient, status, attempts, next_attempt_at,
                                           claimed_by, claimed_until, created_at, updated_at, sent_at)
      SELECT 'dlv_' || g, 'ntf_plan', 'email', 'p' || g || '@example.com',
             CASE WHEN g <= 50000 THEN 'sent' WHEN g <= 52000 THEN 'queued' ELSE 'retrying' END::notification_delivery_status,
             CASE WHEN g > 52000 THEN 1 ELSE 0 END,
             CASE WHEN g > 52000 THEN now() + interval '10 minutes' ELSE now() - make_interval(secs => 53000 - g) END,
             CASE WHEN g BETWEEN 50001 AND 50050 THEN 'other' END,
             CASE WHEN g BETWEEN 50001 AND 50050 THEN now() + interval '5 minutes' END,
             now() - interval '1 day', now() - interval '1 day', CASE WHEN g <= 50000 THEN now() - interval '1 day' END
        FROM generate_series(1, 53000) AS g`);
    await db.prisma.$executeRawUnsafe("ANALYZE notification_deliveries");
    const now = new Date();
    for (const mode of PLAN_MODES) {
      const plan = await explainPrepared(
        db.prisma,
        deliveriesClaimStatement("w", now, new Date(now.getTime() + 60_000), 20),
        mode,
      );
      const claim = readOf(plan, mode);
      console.info(`deliveries claim (${mode}):`, claim);
      expect(plan, mode).toContain("notification_deliveries_due_idx");
      // The 20 oldest due past the 50 leased; the walk reads them and the index, not the sent ones.
      expect(claim.rows, mode).toBe(20);
      expect(claim.buffers, mode).toBeLessThan(1_000);
    }
  });
});
