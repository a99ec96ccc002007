// The operators' lists and replays of parked work (GET /v1/operations/outbox,
// /v1/operations/webhook-events, the replay-all routes) through the partial indexes on the
// open rows: done effects and finished events are kept for ever, so a walk of the table's
// history grows with it. The plans asked for are those of the statements the calls really
// send (recorded on the pool, then explained with the same text and parameters), both as
// planned for their values and as a prepared statement's generic plan.
import { beforeAll, describe, expect, it } from "vitest";
import { poolOf } from "../../src/db/prisma-client.js";
import { PrismaStore } from "../../src/prisma/index.js";
import { PrismaWebhookInbox } from "../../src/webhooks/inbox.js";
import { useTestDatabase } from "../support/index.js";
import { type SentStatement, statementTextsSentDuring } from "../support/statement-spy.js";

const db = useTestDatabase();
const T = Date.UTC(2026, 0, 6);

interface PlanNode {
  readonly "Node Type": string;
  readonly "Relation Name"?: string;
  readonly "Index Name"?: string;
  readonly Plans?: readonly PlanNode[];
}

const nodesOf = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodesOf)];

/** How `statement` reads `table`: its sequential scans and the indexes it reads, for its values and generically. */
async function scansOf(statement: SentStatement, table: string) {
  const pool = poolOf(db.prisma);
  if (pool === undefined) throw new Error("the test client has a pool");
  const explain = async (options: string, values: readonly unknown[]) => {
    const { rows } = await pool.query<{ "QUERY PLAN": [{ Plan: PlanNode }] }>({
      text: `EXPLAIN (${options}) ${statement.text}`,
      values: [...values],
    });
    const nodes = nodesOf(rows[0]!["QUERY PLAN"][0].Plan);
    return {
      seqScans: nodes.filter((n) => n["Node Type"] === "Seq Scan" && n["Relation Name"] === table).length,
      indexes: [...new Set(nodes.flatMap((n) => n["Index Name"] ?? []))].sort(),
    };
  };
  return {
    custom: await explain("FORMAT JSON", statement.values),
    // What a prepared statement may settle on after its first executions.
    generic: await explain("FORMAT JSON, GENERIC_PLAN", []),
  };
}

/** The statements on `table` that `work` sends. */
async function sentOn(table: string, work: () => Promise<unknown>): Promise<readonly SentStatement[]> {
  const { sent } = await statementTextsSentDuring(db.prisma, work);
  const on = sent.filter((s) => s.text.includes(table));
  expect(on.length).toBeGreaterThan(0);
  return on;
}

/**
 * Every statement `work` sends on `table` reads it through `partial` (or its primary key, to
 * find a cursor's row by id), never by a scan of the table or another index.
 */
async function expectThrough(table: string, partial: string, work: () => Promise<unknown>) {
  for (const statement of await sentOn(table, work)) {
    const { custom, generic } = await scansOf(statement, table);
    for (const [form, plan] of [
      ["custom", custom],
      ["generic", generic],
    ] as const) {
      const what = `${form} plan of ${statement.text}`;
      expect(plan.seqScans, what).toBe(0);
      expect(plan.indexes, what).toContain(partial);
      expect(
        plan.indexes.filter((i) => i !== partial && i !== `${table}_pkey`),
        what,
      ).toEqual([]);
    }
  }
}

describe("the operators' lists and replays of open work, on a long history", () => {
  beforeAll(async () => {
    // 20,000 done effects and finished events, as history accumulates them, then a few hundred
    // of each open status.
    await db.prisma.$executeRawUnsafe(
      `
      INSERT INTO outbox_effects (id, aggregate_type, aggregate_id, kind, payload, status, attempts,
                                  available_at, created_at, completed_at, last_error)
      SELECT s.status || ':' || n, 'round', 'round_' || (n % 500), 'schedule_timer',
             jsonb_build_object('id', s.status || ':' || n, 'kind', 'schedule_timer'),
             s.status::outbox_status, CASE WHEN s.status = 'parked' THEN 12 ELSE 0 END,
             $1::timestamptz, $1::timestamptz, CASE WHEN s.status = 'done' THEN $1::timestamptz END,
             CASE WHEN s.status = 'parked' THEN 'card_declined' END
        FROM (VALUES ('done', 20000), ('pending', 300), ('parked', 300), ('dismissed', 300)) AS s(status, count),
             generate_series(1, s.count) AS n
       ORDER BY s.status <> 'done', n`,
      new Date(T),
    );
    await db.prisma.$executeRawUnsafe(
      `
      INSERT INTO webhook_events (id, type, livemode, stripe_created_at, payload, status, attempts,
                                  next_attempt_at, received_at, processed_at, outcome, last_error)
      SELECT 'evt_' || s.status || '_' || n, 'payment_intent.succeeded', false, $1::timestamptz, '{}'::jsonb,
             s.status::webhook_event_status, 0, $1::timestamptz, $1::timestamptz + make_interval(secs => n / 3),
             CASE WHEN s.status IN ('processed', 'ignored') THEN $1::timestamptz END,
             CASE WHEN s.status IN ('processed', 'ignored') THEN 'done' END,
             CASE WHEN s.status IN ('failed', 'parked') THEN 'boom' END
        FROM (VALUES ('processed', 15000), ('ignored', 5000), ('received', 300), ('failed', 300), ('parked', 300))
               AS s(status, count),
             generate_series(1, s.count) AS n`,
      new Date(T),
    );
    await db.prisma.$executeRawUnsafe("ANALYZE outbox_effects");
    await db.prisma.$executeRawUnsafe("ANALYZE webhook_events");
  });

  const store = () => new PrismaStore(db.prisma, { clock: { now: () => T } });
  const inbox = () => new PrismaWebhookInbox(db.prisma, { now: () => T });

  it("lists parked, pending and dismissed effects through their partial indexes, a first page and one after a cursor", async () => {
    for (const [status, index] of [
      ["parked", "outbox_effects_parked_idx"],
      ["pending", "outbox_effects_due_idx"],
      ["dismissed", "outbox_effects_dismissed_idx"],
    ] as const) {
      await expectThrough("outbox_effects", index, async () =>
        (await store().listOutbox({ status, limit: 10 }))._unsafeUnwrap(),
      );
      await expectThrough("outbox_effects", index, async () =>
        (await store().listOutbox({ status, limit: 10, startingAfter: `${status}:5` }))._unsafeUnwrap(),
      );
    }
  });

  it("lists parked events through webhook_events_parked_idx, a first page and one after a cursor", async () => {
    await expectThrough("webhook_events", "webhook_events_parked_idx", async () =>
      (await inbox().listEvents({ status: "parked", limit: 10 }))._unsafeUnwrap(),
    );
    await expectThrough("webhook_events", "webhook_events_parked_idx", async () =>
      (
        await inbox().listEvents({ status: "parked", limit: 10, startingAfter: "evt_parked_5" })
      )._unsafeUnwrap(),
    );
  });

  it("lists received and failed events through a partial index on the due rows, never a scan", async () => {
    const { rows } = await poolOf(db.prisma)!.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = 'webhook_events'::regclass
          AND pg_get_expr(i.indpred, i.indrelid) LIKE '%received%failed%'`,
    );
    const due = rows.map((r) => r.name);
    expect(due.length).toBeGreaterThan(0);
    for (const status of ["received", "failed"] as const)
      for (const startingAfter of [undefined, `evt_${status}_5`])
        for (const statement of await sentOn("webhook_events", async () =>
          (
            await inbox().listEvents({ status, limit: 10, ...(startingAfter ? { startingAfter } : {}) })
          )._unsafeUnwrap(),
        )) {
          const { custom, generic } = await scansOf(statement, "webhook_events");
          for (const plan of [custom, generic]) {
            expect(plan.seqScans, statement.text).toBe(0);
            expect(
              plan.indexes.filter((i) => !due.includes(i) && i !== "webhook_events_pkey"),
              statement.text,
            ).toEqual([]);
          }
        }
  });

  it("replays every parked effect and event through the parked indexes", async () => {
    // EXPLAIN does not run them: these replays are only planned (their statements are recorded
    // as they run here, on the same rows).
    await expectThrough("outbox_effects", "outbox_effects_parked_idx", async () =>
      expect((await store().requeueAllParked(T + 1))._unsafeUnwrap()).toBe(300),
    );
    await expectThrough("webhook_events", "webhook_events_parked_idx", async () =>
      expect((await inbox().requeueAllParked())._unsafeUnwrap()).toBe(300),
    );
  });
});
