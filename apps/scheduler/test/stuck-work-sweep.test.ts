// The stuck-work sweep as the scheduler runs it, on real PostgreSQL: a dead worker's expired
// lease is cleared, the dispatcher woken, the log and the counter told; a live lease is left.
import { PrismaStore } from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { describe, expect, it, vi } from "vitest";
import { startStuckWorkSweep } from "../src/jobs/stuck-work-sweep.js";
import { createLogger } from "../src/logger.js";
import { createSchedulerMetrics } from "../src/metrics.js";
import { emptyChangeset, FIXTURE_DAY, timerEffect } from "./support/outbox-fixtures.js";

const db = useTestDatabase();
const T = FIXTURE_DAY;
const empty = emptyChangeset;
const timer = timerEffect;

describe("the stuck-work sweep job", () => {
  it("resumes a dead worker's expired claims (wakes the dispatcher, logs, counts) and leaves live ones", async () => {
    const store = new PrismaStore(db.prisma);
    (await store.commit({ ...empty, outbox: [timer("dead"), timer("live")] }))._unsafeUnwrap();
    (await store.claimDue("ghost", T, 60_000, 1))._unsafeUnwrap();
    (await store.claimDue("alive", T + 30_000, 60_000, 1))._unsafeUnwrap();
    const warnings: unknown[] = [];
    const log = createLogger("silent", "sweep-test");
    vi.spyOn(log, "warn").mockImplementation(((fields: unknown) => warnings.push(fields)) as never);
    const metrics = createSchedulerMetrics({ defaultMetrics: false });
    let woken = 0;
    const sweep = startStuckWorkSweep(db.prisma, {
      intervalMs: 50,
      now: () => T + 61_000,
      bossSchema: false,
      log,
      metrics,
      onOutboxResumed: () => {
        woken += 1;
      },
    });
    await vi.waitFor(() => expect(woken).toBe(1), { timeout: 5_000 });
    // Later sweeps find nothing more.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await sweep.stop();
    expect(woken).toBe(1);
    expect(warnings).toEqual([{ count: 1, workers: ["ghost"], effects: ["dead"] }]);
    const text = await metrics.metrics.registry.metrics();
    expect(text).toContain('susu_stuck_work_total{what="outbox_lease_expired"} 1');
    const rows = await db.prisma.outboxEffect.findMany({
      orderBy: { id: "asc" },
      select: { id: true, claimedBy: true },
    });
    expect(rows).toEqual([
      { id: "dead", claimedBy: null },
      { id: "live", claimedBy: "alive" },
    ]);
  });
});
