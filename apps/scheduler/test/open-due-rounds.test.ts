// The due-round cron on real PostgreSQL when some due groups cannot open their round: a
// group whose member's mandate went inactive between rounds stays due (members_not_ready)
// until the member sets up a new debit, and must not hold back groups due after it. The
// dispatcher's Stripe is the emulator through the SDK and the adapter gateway (a waiting
// round's notices ask nothing of it); its other ports are the scheduler's: pg-boss timers, and
// the ledger and the support desk in PostgreSQL.
import {
  PgBossTimerScheduler,
  PrismaLedgerStore,
  PrismaStore,
  PrismaSupportDesk,
  TIMER_QUEUE,
} from "@susu/adapters";
import { startTestBoss, useTestDatabase } from "@susu/adapters/testing";
import { type EffectPorts, type Group, type UseCaseDeps, useCaseDepsOn, useCases } from "@susu/domain";
import {
  anActiveGroup,
  aReadyPerson,
  ManualClock,
  RecordingNotifier,
  SequentialIds,
} from "@susu/domain/testing";
import type PgBoss from "pg-boss";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dueRoundsResumeIn, openDueRounds } from "../src/jobs/open-due-rounds.js";
import { createLogger } from "../src/logger.js";
import { createSchedulerMetrics } from "../src/metrics.js";
import { parseScrape } from "./prometheus.js";
import { type EmulatorGateway, startEmulatorGateway } from "./support/emulator.js";

const db = useTestDatabase();
const log = createLogger("silent", "open-due-rounds-test");

/** Stores `group` due `dueAgoMs` before `now`, its second member's mandate `mandateActive`. */
async function saveDueGroup(
  deps: UseCaseDeps,
  now: number,
  id: string,
  dueAgoMs: number,
  mandateActive: boolean,
) {
  const group: Group = anActiveGroup({ id, memberIds: [`${id}_a`, `${id}_b`], startsAt: now - dueAgoMs });
  const [first, second] = group.members.map((m) => m.id);
  if (first === undefined || second === undefined) throw new Error("two members expected");
  (
    await deps.uow.commit({
      people: [aReadyPerson(first), aReadyPerson(second, { mandateActive })].map((state) => ({
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

describe("open-due-rounds (PostgreSQL)", () => {
  let stripeSide: EmulatorGateway;
  let boss: PgBoss;
  beforeAll(async () => {
    stripeSide = await startEmulatorGateway({ startTimeMs: Date.UTC(2026, 0, 1, 9) });
    boss = await startTestBoss(db.connectionString);
    await PgBossTimerScheduler.prepare(boss);
  });
  afterAll(async () => {
    await boss?.stop({ graceful: false, wait: true });
    await stripeSide?.emulator.stop();
  });

  it("opens a ready group's round even when more groups than one pass reads are due before it but not ready", async () => {
    const now = Date.UTC(2026, 5, 1, 9);
    const clock = new ManualClock(now);
    const store = new PrismaStore(db.prisma);
    const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    /** A group due `dueAgoMs` ago whose second member's mandate is `mandateActive`. */
    const save = async (id: string, dueAgoMs: number, mandateActive: boolean) => {
      const group: Group = anActiveGroup({
        id,
        memberIds: [`${id}_a`, `${id}_b`],
        startsAt: now - dueAgoMs,
      });
      const [first, second] = group.members.map((m) => m.id);
      if (first === undefined || second === undefined) throw new Error("two members expected");
      (
        await deps.uow.commit({
          people: [aReadyPerson(first), aReadyPerson(second, { mandateActive })].map((state) => ({
            state,
            expectedVersion: undefined,
          })),
          groups: [{ state: group, expectedVersion: undefined }],
          rounds: [],
          outbox: [],
          audit: [],
        })
      )._unsafeUnwrap();
    };
    // Two groups due for a day whose member revoked the mandate (they wait for that member),
    // and one ready group due for an hour.
    await save("grp_stuck_1", 24 * 3_600_000, false);
    await save("grp_stuck_2", 24 * 3_600_000 - 1, false);
    await save("grp_ready", 3_600_000, true);

    // Each pass reads two due groups: the cron runs every minute, again and again.
    for (let pass = 0; pass < 3; pass++) {
      await openDueRounds(deps, log, 2);
      clock.advance(60_000);
    }

    const ready = (await store.getGroup("grp_ready"))._unsafeUnwrap();
    expect(ready?.currentRoundId).toBeDefined();
    expect((await store.listRoundsOfGroup("grp_ready"))._unsafeUnwrap().map((r) => r.status)).toEqual([
      "collecting",
    ]);
    // The groups waiting for their member still wait.
    expect((await store.getGroup("grp_stuck_1"))._unsafeUnwrap()?.currentRoundId).toBeUndefined();
  });

  it("tells a waiting round's member what they lack and the group's admins, once however often the cron runs", async () => {
    // The tests share a database: each runs before the groups of the tests above are due.
    const now = Date.UTC(2026, 0, 1, 9);
    const clock = new ManualClock(now);
    const store = new PrismaStore(db.prisma);
    const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    await saveDueGroup(deps, now, "grp_wait", 3_600_000, false);
    const notifier = new RecordingNotifier();
    const ports: EffectPorts = {
      gateway: stripeSide.gateway,
      notifier,
      desk: new PrismaSupportDesk(db.prisma, clock),
      timers: new PgBossTimerScheduler(boss, clock),
      ledger: new PrismaLedgerStore(db.prisma, { clock }),
    };
    const waitingIds = async () =>
      (
        await db.prisma.outboxEffect.findMany({
          where: { id: { startsWith: "round_grp_wait_" } },
          orderBy: { id: "asc" },
        })
      ).map((row) => row.id);
    // Two cron runs a minute apart, each followed by a dispatcher pass.
    for (let run = 0; run < 2; run++) {
      const result = await openDueRounds(deps, log);
      expect(result).toEqual({ opened: 0, waiting: 1, failed: 0, seen: 1, complete: true });
      (await useCases.dispatchOutbox(deps, ports, store, { workerId: "w1" }))._unsafeUnwrap();
      clock.advance(60_000);
    }
    const roundId = "round_grp_wait_r1_s0";
    expect(await waitingIds()).toEqual([
      `${roundId}:notify:round_waiting_for_members:admins:${useCases.membersNotReadyKey([{ memberId: "grp_wait_b", lacks: ["mandate"] }])}`,
      `${roundId}:notify:round_waiting_for_you:grp_wait_b:mandate`,
    ]);
    // The member who lacks the mandate, and the admin (the group's first member), each once.
    // (The groups of the test above, still waiting, were told too: their notices are theirs.)
    const sent = notifier.sent.filter((n) => n.groupId === "grp_wait");
    expect(sent.map((n) => [n.template, n.personIds, n.groupId])).toEqual([
      ["round_waiting_for_you", ["grp_wait_b"], "grp_wait"],
      ["round_waiting_for_members", ["grp_wait_a"], "grp_wait"],
    ]);
    expect(sent[0]?.data).toMatchObject({
      roundId,
      lacks: "an active direct debit mandate",
      debitSetupPath: "/v1/people/grp_wait_b/debit-setup",
    });
    expect(sent[1]?.data).toMatchObject({
      notReady: "GRP_WAIT_B (grp_wait_b) needs an active direct debit mandate",
    });
    // No audit line a minute for a round that keeps waiting.
    expect(
      await db.prisma.auditLogEntry.count({ where: { aggregateId: { in: ["grp_wait", roundId] } } }),
    ).toBe(0);
    // Notices alone: no timer scheduled for the waiting round (the one pg-boss job is the ready
    // round's deadline, opened by the first test and dispatched by these passes), nothing posted
    // to the ledger, no ticket opened.
    const timerJobs = await db.prisma.$queryRaw<{ aggregate_id: string; timer: string }[]>`
      SELECT data->>'aggregateId' AS aggregate_id, data->'timer'->>'kind' AS timer FROM pgboss.job
      WHERE name = ${TIMER_QUEUE} ORDER BY 1, 2`;
    expect(timerJobs).toEqual([{ aggregate_id: "round_grp_ready_r1_s0", timer: "collection_deadline" }]);
    expect(await db.prisma.ledgerTransaction.count()).toBe(0);
    expect(await db.prisma.supportTicket.count()).toBe(0);
  });

  it("a run stops at its budget and the next resumes after the last group it saw, then starts over", async () => {
    const now = Date.UTC(2025, 11, 1, 9);
    const clock = new ManualClock(now);
    const store = new PrismaStore(db.prisma);
    const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    for (const [i, id] of ["grp_b_stuck_1", "grp_b_stuck_2", "grp_b_stuck_3"].entries())
      await saveDueGroup(deps, now, id, 3 * 3_600_000 - i, false);
    await saveDueGroup(deps, now, "grp_b_ready", 3_600_000, true);
    const metrics = createSchedulerMetrics({ defaultMetrics: false });
    const resume = dueRoundsResumeIn(db.prisma);
    const first = await openDueRounds(deps, log, 2, { maxGroups: 2, resume });
    expect(first).toMatchObject({ opened: 0, waiting: 2, seen: 2, complete: false });
    expect((await resume.load())?.groupId).toBe("grp_b_stuck_2");
    metrics.dueRounds(first);
    clock.advance(60_000);
    const second = await openDueRounds(deps, log, 2, { maxGroups: 2, resume });
    expect(second).toMatchObject({ opened: 1, waiting: 1, seen: 2 });
    metrics.dueRounds(second);
    expect((await store.getGroup("grp_b_ready"))._unsafeUnwrap()?.currentRoundId).toBeDefined();
    // The third run reaches the end of the due groups (a short page): the next starts from the most overdue.
    clock.advance(60_000);
    const third = await openDueRounds(deps, log, 2, { maxGroups: 2, resume });
    expect(third).toMatchObject({ opened: 0, waiting: 0, seen: 0, complete: true });
    expect(await resume.load()).toBeUndefined();
    expect((await openDueRounds(deps, log, 2, { maxGroups: 2, resume })).seen).toBe(2);
    const scraped = parseScrape(await metrics.metrics.text());
    expect(scraped.value("susu_due_rounds_total", { outcome: "opened" })).toBe(1);
    expect(scraped.value("susu_due_rounds_total", { outcome: "waiting" })).toBe(3);
    expect(scraped.value("susu_due_rounds_total", { outcome: "failed" })).toBe(0);
  });
});
