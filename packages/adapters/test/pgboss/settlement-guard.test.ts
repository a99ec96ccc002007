// pg-boss 10 records a job's end after its handler without awaiting the call: a database
// away at that moment made the rejection unhandled, and Node ended the scheduler.

import pg from "pg";
import type PgBoss from "pg-boss";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guardJobSettlement } from "../../src/pgboss/index.js";
import { createTestDatabase, startTestBoss, type TestDatabase } from "../support/index.js";

describe("guardJobSettlement (real pg-boss, real PostgreSQL)", () => {
  let db: TestDatabase;
  let boss: PgBoss;
  let admin: pg.Client;

  const reported: string[] = [];

  beforeAll(async () => {
    // Before the PgBoss is made, as the scheduler does.
    guardJobSettlement((call, error) => reported.push(`${call}: ${String(error)}`));
    db = await createTestDatabase({ migrated: false });
    boss = await startTestBoss(db.connectionString);
    admin = new pg.Client({ connectionString: db.connectionString });
    await admin.connect();
  });
  afterAll(async () => {
    await admin.end();
    await boss.stop({ graceful: false, wait: true });
    await db.drop();
  });

  it("a job whose end cannot be recorded is reported, not an unhandled rejection; an awaited call still fails", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      await boss.createQueue("guarded");
      await boss.send("guarded", { n: 1 });
      // The handler takes the job table away, so pg-boss's own `complete` after it fails.
      const worker = await boss.work("guarded", { pollingIntervalSeconds: 0.5 }, async () => {
        await admin.query("ALTER TABLE pgboss.job RENAME TO job_away");
      });
      for (let waited = 0; reported.length === 0 && waited < 10_000; waited += 50)
        await new Promise((resolve) => setTimeout(resolve, 50));
      await boss.offWork(worker);
      await admin.query("ALTER TABLE pgboss.job_away RENAME TO job");
      // A turn of the event loop for a rejection nobody handled to be reported.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(reported[0]).toMatch(/^complete: .*job/);
      expect(unhandled).toEqual([]);
      // A caller that awaits still sees the failure.
      await expect(boss.complete("guarded", "not-a-uuid")).rejects.toThrow();
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});
