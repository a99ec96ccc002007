// The claim's work on a big inbox follows what it returns, not the backlog: 50,000 finished
// events and 5,000 due ones over 500 keys (some leased, some failed and waiting for their
// retry, some with no key), the claim explained (ANALYZE, BUFFERS) in a transaction rolled
// back. Buffers, not time: a count that a loaded machine does not change.
import { describe, expect, it } from "vitest";
import { WEBHOOK_CLAIM_SQL } from "../../src/webhooks/inbox.js";
import { useTestDatabase } from "../support/index.js";

const db = useTestDatabase();

interface PlanNode {
  readonly "Node Type": string;
  readonly "Subplan Name"?: string;
  readonly "Relation Name"?: string;
  readonly "Index Name"?: string;
  readonly "Index Cond"?: string;
  readonly Filter?: string;
  readonly "Actual Rows": number;
  readonly "Shared Hit Blocks": number;
  readonly "Shared Read Blocks": number;
  readonly Plans?: readonly PlanNode[];
}

type Explained = { "QUERY PLAN": [{ Plan: PlanNode }] }[];

const nodesOf = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodesOf)];
const buffers = (node: PlanNode) => node["Shared Hit Blocks"] + node["Shared Read Blocks"];

const LIMIT = 100;
// The walk's reads for 100 claims here: the 100 rows, the ~50 it passes (25 leased, 25 of a
// leased key), their locks, the index pages. Reading every due row's
// heap tuple (the claim sorting the whole backlog, as before its index was on its order)
// was 4,966.
const DUE_WALK_MAX_BUFFERS = 1_000;

/** Runs `work` in a transaction that is rolled back (EXPLAIN ANALYZE runs the claim's UPDATE). */
async function rolledBack<T>(
  work: (tx: Parameters<Parameters<typeof db.prisma.$transaction>[0]>[0]) => Promise<T>,
) {
  let result: T | undefined;
  await db.prisma
    .$transaction(async (tx) => {
      result = await work(tx);
      throw new Error("rollback");
    })
    .catch((error: Error) => {
      if (error.message !== "rollback") throw error;
    });
  return result as T;
}

describe("the claim on a big inbox", () => {
  it("walks webhook_events_due_idx in claim order and stops at its limit; the live leases' keys are read once and hashed", async () => {
    // 55,000 events in Stripe order; every 11th is due (5,000), the rest finished, so the
    // due rows are spread over the table's pages as in an inbox that has run for a while.
    // A due row's key is one of 500 (10 rows each), every 97th has none. Keys 1–50 are held
    // by a live lease: on their oldest row for keys 1–25 (being processed), on their second
    // for keys 26–50 (so their oldest rows, due and unleased, must be passed too). Rows 51–60
    // are leased by a processor whose lease ran out (claimable; one of them has no key).
    // Every 7th of the 2,000 oldest failed, two thirds of those waiting for their retry. Stripe's clock has one-second steps and deliveries
    // come together, so stripe_created_at and received_at tie and the id decides.
    await db.prisma.$executeRawUnsafe(`
      INSERT INTO webhook_events (id, type, livemode, stripe_created_at, payload, status, attempts,
                                  next_attempt_at, received_at, processed_at, outcome, ordering_key,
                                  claimed_by, claimed_until)
      SELECT 'evt_' || md5(g::text), 'payment_intent.succeeded', false,
             now() - interval '1 day' + make_interval(secs => g / 33), jsonb_build_object('pad', repeat('x', 1000)),
             CASE WHEN due AND d % 7 = 3 AND d < 2000 THEN 'failed'
                  WHEN due THEN 'received' WHEN g % 3 = 0 THEN 'ignored' ELSE 'processed' END::webhook_event_status,
             CASE WHEN due AND d % 7 = 3 AND d < 2000 THEN 1 ELSE 0 END,
             CASE WHEN due AND d % 7 = 3 AND d < 2000 AND d % 3 > 0 THEN now() + interval '10 minutes'
                  ELSE now() - interval '1 day' END,
             now() - interval '1 day' + make_interval(secs => g / 22), CASE WHEN NOT due THEN now() END,
             CASE WHEN NOT due THEN 'done' END,
             CASE WHEN due AND d % 97 = 60 THEN NULL WHEN due THEN 'round:k' || (d % 500) ELSE 'round:f' || (g % 5000) END,
             CASE WHEN due AND (d <= 25 OR d BETWEEN 526 AND 550) THEN 'live'
                  WHEN due AND d BETWEEN 51 AND 60 THEN 'dead' END,
             CASE WHEN due AND (d <= 25 OR d BETWEEN 526 AND 550) THEN now() + interval '5 minutes'
                  WHEN due AND d BETWEEN 51 AND 60 THEN now() - interval '1 minute' END
        FROM generate_series(1, 55000) AS g,
             LATERAL (SELECT g % 11 = 0 AS due, g / 11 AS d) AS x`);
    await db.prisma.$executeRawUnsafe("ANALYZE webhook_events");
    const [counts] = await db.prisma.$queryRawUnsafe<{ due: bigint; waiting: bigint; live: bigint }[]>(
      `SELECT count(*) FILTER (WHERE status IN ('received', 'failed')) AS due,
              count(*) FILTER (WHERE status = 'failed' AND next_attempt_at > now()) AS waiting,
              count(*) FILTER (WHERE claimed_until > now()) AS live
         FROM webhook_events`,
    );
    expect(counts).toEqual({ due: 5000n, waiting: 190n, live: 50n });

    // What the claim must hand out, written as the rule reads (no index needed).
    const expected = (
      await db.prisma.$queryRawUnsafe<{ id: string }[]>(
        `SELECT e.id FROM webhook_events e
          WHERE e.status IN ('received', 'failed') AND e.next_attempt_at <= now()
            AND (e.claimed_until IS NULL OR e.claimed_until <= now())
            AND NOT EXISTS (SELECT 1 FROM webhook_events h
                             WHERE h.claimed_until > now() AND h.ordering_key = e.ordering_key)
          ORDER BY e.stripe_created_at, e.received_at, e.id LIMIT ${LIMIT}`,
      )
    ).map((r) => r.id);
    expect(expected).toHaveLength(LIMIT);

    const now = new Date();
    const until = new Date(now.getTime() + 300_000);
    // As the processor's named statement may be planned: with its parameters (a custom
    // plan) and without them (the generic plan a prepared statement switches to).
    for (const mode of ["force_custom_plan", "force_generic_plan"] as const) {
      const { plan, claimed } = await rolledBack(async (tx) => {
        await tx.$executeRawUnsafe(`SET LOCAL plan_cache_mode = ${mode}`);
        await tx.$executeRawUnsafe(
          `PREPARE claim_walk(timestamptz, text, timestamptz, bigint) AS ${WEBHOOK_CLAIM_SQL}`,
        );
        const rows = await tx.$queryRawUnsafe<Explained>(
          `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE claim_walk('${now.toISOString()}', 'walk', '${until.toISOString()}', ${LIMIT})`,
        );
        await tx.$executeRawUnsafe("DEALLOCATE claim_walk");
        const claimed = await tx.$queryRawUnsafe<{ id: string }[]>(
          "SELECT id FROM webhook_events WHERE claimed_by = 'walk' ORDER BY stripe_created_at, received_at, id",
        );
        return { plan: rows[0]!["QUERY PLAN"][0].Plan, claimed: claimed.map((r) => r.id) };
      });
      expect(claimed, mode).toEqual(expected);

      const due = nodesOf(plan).find((n) => n["Subplan Name"] === "CTE due");
      if (due === undefined) throw new Error(`${mode}: no CTE due in the plan`);
      const inDue = nodesOf(due);
      const read = buffers(due);
      console.info(`claim walk (${mode}): ${read} buffers for ${LIMIT} events`);
      // The rows come out of the index in ORDER BY order: nothing is sorted, nothing scanned whole.
      expect(
        inDue.map((n) => n["Node Type"]).filter((t) => t === "Sort" || t === "Seq Scan"),
        mode,
      ).toEqual([]);
      const walk = inDue.find((n) => n["Index Name"] === "webhook_events_due_idx");
      expect(walk?.["Node Type"], mode).toBe("Index Scan");
      // The retry's wait is checked in the index; the live keys are one hashed set, read once.
      expect(walk?.["Index Cond"], mode).toMatch(/next_attempt_at <=/);
      expect(walk?.Filter, mode).toMatch(/hashed SubPlan/);
      const leases = inDue.find((n) => n["Index Name"] === "webhook_events_claimed_key_idx");
      // 50 live leases, one of them on a row with no key (row 545): not in the set.
      expect(leases?.["Actual Rows"], mode).toBe(49);
      expect(read, mode).toBeLessThan(DUE_WALK_MAX_BUFFERS);
    }
  });
});
