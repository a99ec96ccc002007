import { describe, expect, it } from "vitest";
import { WEBHOOK_CLAIM_FIRST, WEBHOOK_CLAIM_SQL } from "../../src/webhooks/inbox.js";
import { useTestDatabase } from "../support/index.js";
import { buffersOf, explainPrepared, PLAN_MODES } from "../support/prepared-plan.js";

const db = useTestDatabase();

interface PlanNode {
  readonly "Node Type": string;
  readonly "Relation Name"?: string;
  readonly "Index Name"?: string;
  readonly Plans?: readonly PlanNode[];
}

function nodesOf(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(nodesOf)];
}

describe("the claim's plan", () => {
  it("with 100,000 finished events, 2,000 due and 500 held, claims through the partial indexes, not a scan of the table", async () => {
    // Finished rows (processed or ignored at ingest), as a busy inbox accumulates them.
    await db.prisma.$executeRawUnsafe(`
      INSERT INTO webhook_events (id, type, livemode, stripe_created_at, payload, status, attempts,
                                  next_attempt_at, received_at, processed_at, ordering_key, outcome)
      SELECT 'evt_done_' || g, 'payment_intent.succeeded', false, now() - interval '1 day', '{}'::jsonb,
             CASE WHEN g % 3 = 0 THEN 'ignored' ELSE 'processed' END::webhook_event_status, 0,
             now() - interval '1 day', now() - interval '1 day', now() - interval '1 day',
             'round:r' || (g % 5000), 'done'
      FROM generate_series(1, 100000) g`);
    // Due events over 200 keys, a quarter of the keys held by a live claim.
    await db.prisma.$executeRawUnsafe(`
      INSERT INTO webhook_events (id, type, livemode, stripe_created_at, payload, status, attempts,
                                  next_attempt_at, received_at, ordering_key, claimed_by, claimed_until)
      SELECT 'evt_due_' || g, 'payment_intent.succeeded', false, now() - make_interval(secs => g), '{}'::jsonb,
             'received', 0, now() - interval '1 minute', now(), 'round:due' || (g % 200),
             CASE WHEN g <= 500 AND g % 200 < 50 THEN 'live' END,
             CASE WHEN g <= 500 AND g % 200 < 50 THEN now() + interval '5 minutes' END
      FROM generate_series(1, 2000) g`);
    await db.prisma.$executeRawUnsafe("ANALYZE webhook_events");

    const now = new Date();
    const until = new Date(now.getTime() + 300_000);
    // ANALYZE runs the claim: the plan is the one a processor gets, and the claim is checked below.
    const rows = await db.prisma.$queryRawUnsafe<
      { "QUERY PLAN": [{ Plan: PlanNode; "Execution Time": number }] }[]
    >(`EXPLAIN (ANALYZE, FORMAT JSON) ${WEBHOOK_CLAIM_SQL}`, now, "plan-test", until, 100);
    const plan = rows[0]!["QUERY PLAN"][0];
    const nodes = nodesOf(plan.Plan);
    const scans = nodes.filter((n) => n["Relation Name"] === "webhook_events");
    console.info(
      "claim plan:",
      scans.map((n) => `${n["Node Type"]}${n["Index Name"] ? ` on ${n["Index Name"]}` : ""}`),
      `${plan["Execution Time"].toFixed(1)} ms`,
    );
    expect(scans.some((n) => n["Node Type"] === "Seq Scan")).toBe(false);
    const indexes = new Set(scans.map((n) => n["Index Name"]));
    expect(indexes).toContain("webhook_events_due_idx");
    expect(indexes).toContain("webhook_events_claimed_key_idx");
    // Generous on a loaded machine; a scan of the 100,000 finished rows is what it rules out.
    expect(plan["Execution Time"]).toBeLessThan(250);
    // 100 claimed, none of a key held live.
    const claimed = await db.prisma.webhookEvent.findMany({ where: { claimedBy: "plan-test" } });
    expect(claimed).toHaveLength(100);
    const held = new Set(
      (await db.prisma.webhookEvent.findMany({ where: { claimedBy: "live" } })).map((r) => r.orderingKey),
    );
    expect(claimed.some((r) => held.has(r.orderingKey))).toBe(false);
  });
});

// As the processor runs it: its named statement after the claim transaction's settings, with
// its parameters' values and without them (the generic plan of the scheduler's connections).
for (const mode of PLAN_MODES)
  describe(`the claim after a burst of events, on costs that favour scanning the table (${mode})`, () => {
    const explainClaim = async () => {
      const text = await explainPrepared(
        db.prisma,
        {
          name: "webhook_claim",
          text: WEBHOOK_CLAIM_SQL,
          values: [new Date(), "burst-test", new Date(Date.now() + 300_000), 50],
        },
        mode,
        // Costs that make scanning the table, or the index by bitmap, look cheaper than the
        // walk (as statistics taken on a small inbox can: a fresh deployment's, which autovacuum
        // replaces a minute or more later, and a generic plan made before keeps), then the
        // claim transaction's own settings, which must hold it to its indexes.
        ["SET LOCAL random_page_cost = 1000", "SET LOCAL cpu_index_tuple_cost = 5", ...WEBHOOK_CLAIM_FIRST],
      );
      return { text, buffers: buffersOf(text) };
    };

    it("walks the due index and the leased keys' index, reading past the processed events' stale entries once, never the whole table", async () => {
      await db.prisma.$executeRawUnsafe("TRUNCATE webhook_events");
      // 5,000 events received, claimed and processed, as the processor writes them (by
      // id: no scan of the partial indexes, which would mark their stale entries itself).
      // Each leaves entries in webhook_events_due_idx and webhook_events_claimed_key_idx that
      // only a vacuum removes.
      await db.prisma.$executeRawUnsafe(`
        INSERT INTO webhook_events (id, type, livemode, stripe_created_at, payload, status, attempts,
                                    next_attempt_at, received_at, ordering_key)
        SELECT 'evt_burst_' || g, 'checkout.session.completed', false, now() - interval '1 hour' + g * interval '1 ms',
               '{"object":"event"}'::jsonb, 'received', 0, now() - interval '1 hour', now() - interval '1 hour',
               'held_payment:hp_' || g
        FROM generate_series(1, 5000) g`);
      await db.prisma.$transaction(async (tx) => {
        await tx.$executeRawUnsafe("SET LOCAL enable_indexscan = off");
        await tx.$executeRawUnsafe("SET LOCAL enable_bitmapscan = off");
        await tx.$executeRawUnsafe(
          "UPDATE webhook_events SET claimed_by = 'w', claimed_until = now() + interval '5 minutes' WHERE status = 'received'",
        );
        await tx.$executeRawUnsafe(
          "UPDATE webhook_events SET status = 'processed', claimed_by = NULL, claimed_until = NULL, processed_at = now() WHERE status = 'received'",
        );
      });
      // One event due now.
      await db.prisma.$executeRawUnsafe(`
        INSERT INTO webhook_events (id, type, livemode, stripe_created_at, payload, status, attempts,
                                    next_attempt_at, received_at, ordering_key)
        VALUES ('evt_burst_new', 'checkout.session.completed', false, now(), '{"object":"event"}'::jsonb,
                'received', 0, now() - interval '1 second', now(), 'held_payment:hp_new')`);

      const first = await explainClaim();
      const second = await explainClaim();
      console.info(`webhook claim after a burst (${mode}): ${first.buffers} then ${second.buffers} buffers`);
      expect(second.text).toMatch(/rows=1 loops=1\)/);
      expect(second.text).toContain("Index Scan using webhook_events_due_idx");
      expect(second.text).toContain("webhook_events_claimed_key_idx");
      // Without the claim's settings the planner scanned the table (972 buffers on every claim
      // here). An index scan marks the stale entries on its first visit and later claims step
      // over them: 11,208 then 342 buffers here.
      expect(second.text).not.toMatch(/Seq Scan on webhook_events|Bitmap Heap Scan on webhook_events/);
      expect(second.buffers).toBeLessThan(first.buffers / 10);
    });
  });
