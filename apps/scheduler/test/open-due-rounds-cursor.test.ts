// The due-round cron's resume point is shared through PostgreSQL: a run that stops at its
// budget is continued by the next run on any scheduler, or after a restart, not started over
// from the most overdue groups (which, when more groups than a run's budget wait for their
// members, would leave the groups due after them waiting for ever).
import { PrismaStore } from "@susu/adapters";
import { startTestBoss, useTestDatabase } from "@susu/adapters/testing";
import { type Group, type UseCaseDeps, useCaseDepsOn } from "@susu/domain";
import { anActiveGroup, aReadyPerson, ManualClock, SequentialIds } from "@susu/domain/testing";
import type PgBoss from "pg-boss";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  dueRoundsResumeIn,
  OPEN_DUE_ROUNDS_QUEUE,
  scheduleOpenDueRounds,
} from "../src/jobs/open-due-rounds.js";
import { createLogger } from "../src/logger.js";

const db = useTestDatabase();
const log = createLogger("silent", "open-due-rounds-cursor-test");

async function saveDueGroup(deps: UseCaseDeps, now: number, id: string, dueAgoMs: number, ready: boolean) {
  const group: Group = anActiveGroup({ id, memberIds: [`${id}_a`, `${id}_b`], startsAt: now - dueAgoMs });
  const [first, second] = group.members.map((m) => m.id);
  if (first === undefined || second === undefined) throw new Error("two members expected");
  (
    await deps.uow.commit({
      people: [aReadyPerson(first), aReadyPerson(second, { mandateActive: ready })].map((state) => ({
        state,
        expectedVersion: undefined,
      })),
      groups: [{ state: group, expectedVersion: undefined }],
      rounds: [],
      outbox: [],
      audit: [],
    })
  )._unsafeUnwrap();
}

describe("the due-round cron's resume point (PostgreSQL + pg-boss)", () => {
  const bosses: PgBoss[] = [];
  afterEach(async () => {
    for (const b of bosses.splice(0)) await b.stop({ graceful: false, wait: true });
  });

  it("a run that stopped at its budget is continued by another scheduler (or this one restarted), not restarted from the head", async () => {
    const now = Date.UTC(2025, 11, 1, 9);
    const clock = new ManualClock(now);
    const store = new PrismaStore(db.prisma);
    const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    // Four groups waiting for their members, the most overdue; a ready one due after them.
    for (let i = 0; i < 4; i++) await saveDueGroup(deps, now, `grp_c_stuck_${i}`, 5 * 3_600_000 - i, false);
    await saveDueGroup(deps, now, "grp_c_ready", 3_600_000, true);

    /** One scheduler process: its pg-boss, the cron's worker with a budget of 2 groups a run. */
    async function scheduler(): Promise<PgBoss> {
      const boss = await startTestBoss(db.connectionString);
      bosses.push(boss);
      await scheduleOpenDueRounds(boss, deps, log, "* * * * *", undefined, {
        resume: dueRoundsResumeIn(db.prisma),
        pageSize: 2,
        maxGroups: 2,
      });
      return boss;
    }
    async function runOn(boss: PgBoss): Promise<void> {
      const id = await boss.send(OPEN_DUE_ROUNDS_QUEUE, {});
      await vi.waitFor(
        async () => expect((await boss.getJobById(OPEN_DUE_ROUNDS_QUEUE, id ?? ""))?.state).toBe("completed"),
        { timeout: 20_000, interval: 100 },
      );
    }

    // Scheduler A's run sees the two most overdue groups and stops at its budget.
    const a = await scheduler();
    await runOn(a);
    expect((await store.getGroup("grp_c_ready"))._unsafeUnwrap()?.currentRoundId).toBeUndefined();
    // A is gone (a deploy, or the next cron job went to another scheduler): B's run goes on after
    // the last group A saw, then the next run (B's, or C's after B restarts) reaches the ready group.
    await a.stop({ graceful: false, wait: true });
    const b = await scheduler();
    await runOn(b);
    await b.stop({ graceful: false, wait: true });
    const c = await scheduler();
    clock.advance(60_000);
    await runOn(c);
    expect((await store.getGroup("grp_c_ready"))._unsafeUnwrap()?.currentRoundId).toBeDefined();
    // That run reached the end: the next starts from the most overdue again (no row kept).
    expect(await db.prisma.schedulerCursor.count()).toBe(0);
  });
});
