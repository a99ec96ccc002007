import { describe, expect, it } from "vitest";
import { WEBHOOK_CLAIM_SQL } from "../../src/webhooks/inbox.js";
import { useTestDatabase } from "../support/index.js";

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
