// The reconciliation store on PostgreSQL: a period's ledger transactions are read through an
// index on occurred_at, so a run costs what its period holds, not what the whole ledger does.
import { debitInitiated, money } from "@susu/domain";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrismaLedgerStore } from "../../src/prisma/index.js";
import { PrismaReconciliationStore } from "../../src/reconciliation/prisma-reconciliation-store.js";
import type { ReconciliationReport } from "../../src/reconciliation/report-format.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";

const DAY = 86_400_000;
const T = Date.UTC(2026, 0, 6);

describe("PrismaReconciliationStore.ledgerTransactions", () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
    const ledger = new PrismaLedgerStore(db.prisma);
    // One transaction a day over five days, posted out of time order.
    for (const day of [3, 0, 4, 1, 2]) {
      const tx = debitInitiated({
        id: `tx_day_${day}`,
        roundId: `r${day}`,
        memberId: "ana",
        amount: money(100, "AUD"),
        occurredAt: T + day * DAY + 1,
      })._unsafeUnwrap();
      (await ledger.post(tx))._unsafeUnwrap();
    }
  });
  afterAll(async () => {
    await db.drop();
  });

  it("reads the period's transactions only, oldest first", async () => {
    const store = new PrismaReconciliationStore(db.prisma);
    const read = await store.ledgerTransactions(T + DAY, T + 3 * DAY);
    expect(read.map((tx) => tx.id)).toEqual(["tx_day_1", "tx_day_2"]);
  });

  it("finds the period's rows through an index, not a scan of the whole ledger", async () => {
    // The statement Prisma sends for the store's findMany (its predicate and order). With a
    // handful of rows a sequential scan is cheapest; forbid it to see whether an index can
    // serve the query at all.
    const plan = await db.prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SET LOCAL enable_seqscan = off`;
      const lines = await tx.$queryRawUnsafe<{ "QUERY PLAN": string }[]>(
        `EXPLAIN SELECT id, kind, occurred_at, refs, round_id, created_at FROM ledger_transactions
          WHERE occurred_at >= $1 AND occurred_at < $2 ORDER BY occurred_at ASC, id ASC`,
        new Date(T + DAY),
        new Date(T + 3 * DAY),
      );
      return lines.map((line) => line["QUERY PLAN"]).join("\n");
    });
    expect(plan).toContain("ledger_transactions_occurred_at_idx");
    expect(plan).not.toContain("Seq Scan");
  });
});

describe("PrismaReconciliationStore.reportedPeriods", () => {
  let db: TestDatabase;
  // Only the period matters here: the rest of a report is stored as it is given.
  const report = (from: number) =>
    ({ from, to: from + DAY, matched: 0, differences: [] }) as unknown as ReconciliationReport;

  beforeAll(async () => {
    db = await createTestDatabase();
    const store = new PrismaReconciliationStore(db.prisma);
    const save = (id: string, from: number, ranBy: string, at: number) =>
      store.saveReport(id, report(from), ranBy, at);
    // Day 1 reconciled twice by the scheduler, day 2 once, day 3 by an admin only, day 0 before the range.
    await save("r0", T, "scheduler", T + 1 * DAY);
    await save("r1a", T + DAY, "scheduler", T + 2 * DAY);
    await save("r1b", T + DAY, "scheduler", T + 5 * DAY);
    await save("r2", T + 2 * DAY, "scheduler", T + 3 * DAY);
    await save("r3", T + 3 * DAY, "admin:ops", T + 4 * DAY);
  });
  afterAll(async () => {
    await db.drop();
  });

  it("lists the runner's periods starting in the range, oldest first, each with its newest report's time", async () => {
    const store = new PrismaReconciliationStore(db.prisma);
    expect(await store.reportedPeriods("scheduler", T + DAY, T + 4 * DAY)).toEqual([
      { from: T + DAY, to: T + 2 * DAY, lastRunAt: T + 5 * DAY },
      { from: T + 2 * DAY, to: T + 3 * DAY, lastRunAt: T + 3 * DAY },
    ]);
    expect(await store.reportedPeriods("scheduler", T + 3 * DAY, T + 9 * DAY)).toEqual([]);
  });
});

describe("PrismaReconciliationStore.latestToldReportOf", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it("is the period's last stored report even when runs share a millisecond and the later id sorts first", async () => {
    const store = new PrismaReconciliationStore(db.prisma);
    const report = (n: number) =>
      ({ from: T, to: T + DAY, matched: n, differences: [] }) as unknown as ReconciliationReport;
    // Ids made at random sort either way; the clock says the same time three times, then earlier.
    await store.saveReport("rep_c", report(1), "scheduler", T + DAY);
    await store.saveReport("rep_b", report(2), "scheduler", T + DAY);
    const third = await store.saveReport("rep_a", report(3), "scheduler", T + DAY);
    const fourth = await store.saveReport("rep_0", report(4), "scheduler", T + DAY - 60_000);
    expect(third.createdAt).toBe(T + DAY + 2);
    expect(fourth.createdAt).toBe(T + DAY + 3);
    expect((await store.latestToldReportOf(T, T + DAY))?.id).toBe("rep_0");
  });

  it("is the newest of the scheduler's and operators' runs of the period; the old command's, which told nobody, and other periods' are not", async () => {
    const store = new PrismaReconciliationStore(db.prisma);
    const report = (from: number, to: number) =>
      ({ from, to, matched: 0, differences: [] }) as unknown as ReconciliationReport;
    const P = T + 10 * DAY;
    expect(await store.latestToldReportOf(P, P + DAY)).toBeUndefined();
    await store.saveReport("told_1", report(P, P + DAY), "scheduler", P + DAY);
    await store.saveReport("told_2", report(P, P + DAY), "operator:ops_ana", P + DAY);
    expect((await store.latestToldReportOf(P, P + DAY))?.id).toBe("told_2");
    // Stored later, all of them: a report of an earlier release's command, another period's.
    await store.saveReport("silent", report(P, P + DAY), "command", P + 2 * DAY);
    await store.saveReport("longer", report(P, P + 2 * DAY), "operator:command", P + 2 * DAY);
    expect((await store.latestToldReportOf(P, P + DAY))?.id).toBe("told_2");
    // Whoever stored one before, a report is stored later than it (one millisecond on a tie).
    const next = await store.saveReport("told_3", report(P, P + DAY), "scheduler", P + 2 * DAY);
    expect(next.createdAt).toBe(P + 2 * DAY + 1);
    expect((await store.latestToldReportOf(P, P + DAY))?.id).toBe("told_3");
  });
});
