// The outbox's and the inbox's depth (the gauges every scrape reads) is counted through
// indexes on the open rows: done effects and finished events are never deleted, so a scan
// of either table grows with the history.
import { describe, expect, it } from "vitest";
import {
  OUTBOX_DEPTH_SQL,
  PrismaOperationsCounts,
  WEBHOOK_DEPTH_SQL,
} from "../../src/prisma/operations-counts.js";
import { useTestDatabase } from "../support/index.js";

const db = useTestDatabase();

/** The plan of `text`, with sequential scans forbidden (with a handful of rows one is cheapest). */
const plan = (text: string) =>
  db.prisma.$transaction(async (tx) => {
    await tx.$executeRaw`SET LOCAL enable_seqscan = off`;
    const lines = await tx.$queryRawUnsafe<{ "QUERY PLAN": string }[]>(`EXPLAIN ${text}`);
    return lines.map((line) => line["QUERY PLAN"]).join("\n");
  });

describe("open work through indexes", () => {
  it("counts the outbox's pending and parked effects without scanning the done ones", async () => {
    const found = await plan(OUTBOX_DEPTH_SQL);
    expect(found).not.toContain("Seq Scan");
    // Pending rows through either partial index on them.
    expect(found).toMatch(/outbox_effects_(due|pending_aggregate)_idx/);
    expect(found).toContain("outbox_effects_parked_idx");
  });

  it("counts the inbox's unfinished events without scanning the finished ones", async () => {
    const found = await plan(WEBHOOK_DEPTH_SQL);
    expect(found).not.toContain("Seq Scan");
    expect(found).toContain("webhook_events_due_idx");
    expect(found).toContain("webhook_events_parked_idx");
  });
});

describe("the depth gauges' counts", () => {
  const T = new Date(Date.UTC(2026, 0, 6));
  // The statements the gauges ran before they went through the partial indexes.
  const before = async () => {
    const rows = async (query: Promise<unknown>) =>
      ((await query) as { status: string; count: bigint }[])
        .map((r) => ({ status: r.status, count: Number(r.count) }))
        .sort((a, b) => a.status.localeCompare(b.status));
    return {
      outbox: await rows(
        db.prisma
          .$queryRaw`SELECT status::text AS status, count(*) AS count FROM outbox_effects WHERE status <> 'done' GROUP BY status`,
      ),
      webhooks: await rows(
        db.prisma
          .$queryRaw`SELECT status::text AS status, count(*) AS count FROM webhook_events WHERE status IN ('received', 'failed', 'parked') GROUP BY status`,
      ),
    };
  };
  const now = async () => {
    const counts = new PrismaOperationsCounts(db.prisma);
    const sorted = (rows: readonly { status: string; count: number }[]) =>
      [...rows].sort((a, b) => a.status.localeCompare(b.status));
    return {
      outbox: sorted(await counts.outboxByStatus()),
      webhooks: sorted(await counts.webhooksByStatus()),
    };
  };
  let n = 0;
  const add = async (outbox: readonly string[], webhooks: readonly string[]) => {
    for (const status of outbox) {
      n += 1;
      await db.prisma.outboxEffect.create({
        data: {
          id: `eff_${n}`,
          aggregateType: "round",
          aggregateId: "r1",
          kind: "noop",
          payload: { id: `eff_${n}`, kind: "noop" },
          status: status as "pending" | "done" | "parked",
          availableAt: T,
          createdAt: T,
        },
      });
    }
    for (const status of webhooks) {
      n += 1;
      await db.prisma.webhookEvent.create({
        data: {
          id: `evt_${n}`,
          type: "charge.succeeded",
          livemode: false,
          stripeCreatedAt: T,
          payload: {},
          status: status as "received" | "processed" | "ignored" | "failed" | "parked",
          nextAttemptAt: T,
          receivedAt: T,
        },
      });
    }
  };

  it("are what the whole-table counts were, with no row for a status that has none", async () => {
    await db.prisma.$executeRaw`DELETE FROM outbox_effects`;
    await db.prisma.$executeRaw`DELETE FROM webhook_events`;
    expect(await now()).toEqual(await before());
    expect((await now()).outbox).toEqual([]);
    await add(["done", "done"], ["processed", "ignored"]);
    expect(await now()).toEqual(await before());
    expect((await now()).webhooks).toEqual([]);
    await add(["parked"], ["parked", "failed"]);
    expect(await now()).toEqual(await before());
    await add(["pending", "pending", "done", "parked"], ["received", "received", "processed", "parked"]);
    const after = await now();
    expect(after).toEqual(await before());
    expect(after.outbox).toEqual([
      { status: "parked", count: 2 },
      { status: "pending", count: 2 },
    ]);
    expect(after.webhooks).toEqual([
      { status: "failed", count: 1 },
      { status: "parked", count: 2 },
      { status: "received", count: 2 },
    ]);
  });
});
