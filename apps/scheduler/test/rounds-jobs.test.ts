// The scheduler's round jobs on real PostgreSQL: the due-round cron, pg-boss timers,
// and the outbox dispatcher loop carrying a round from open to paid out, Stripe being the
// emulator reached through the SDK and the adapter gateway (its events applied as the
// webhook processor applies them).
import {
  deterministicUuid,
  PgBossTimerScheduler,
  PrismaLedgerStore,
  PrismaStore,
  PrismaSupportDesk,
  TIMER_QUEUE,
} from "@susu/adapters";
import { startTestBoss, useTestDatabase } from "@susu/adapters/testing";
import {
  DAY_MS,
  type EffectPorts,
  type Group,
  type Person,
  type UseCaseDeps,
  useCaseDepsOn,
  useCases,
} from "@susu/domain";
import { anActiveGroup, ManualClock, peopleOf, RecordingNotifier, SequentialIds } from "@susu/domain/testing";
import type PgBoss from "pg-boss";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDueRounds } from "../src/jobs/open-due-rounds.js";
import { startOutboxDispatcher } from "../src/jobs/outbox-dispatcher.js";
import { workTimers } from "../src/jobs/timers.js";
import { createLogger } from "../src/logger.js";
import { createSchedulerMetrics } from "../src/metrics.js";
import { parseScrape } from "./prometheus.js";
import { type EmulatorGateway, PlatformEvents, startEmulatorGateway } from "./support/emulator.js";
import { emulatorMember } from "./support/real-scheduler.js";

const db = useTestDatabase();
const log = createLogger("silent", "rounds-jobs-test");
const metrics = createSchedulerMetrics({ defaultMetrics: false });
const scrape = async () => parseScrape(await metrics.metrics.text());

/** The group's members as onboarded people, stored with it (members are people). */
const newPeople = (group: Group) => peopleOf(group).map((state) => ({ state, expectedVersion: undefined }));

describe("round jobs (PostgreSQL + pg-boss)", () => {
  let boss: PgBoss;
  let store: PrismaStore;
  let deps: UseCaseDeps;
  let ports: EffectPorts;
  let stripeSide: EmulatorGateway;
  let events: PlatformEvents;
  // pg-boss compares start_after with the database's now(), so the domain clock runs on real
  // time here (and the emulator's starts there too; both move on together).
  const clock = new ManualClock(Date.now());
  /** grp_due's members: real customers with BECS mandates and connected accounts at the emulator. */
  const members: Person[] = [];

  beforeAll(async () => {
    boss = await startTestBoss(db.connectionString);
    await PgBossTimerScheduler.prepare(boss);
    store = new PrismaStore(db.prisma);
    deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    stripeSide = await startEmulatorGateway({ startTimeMs: clock.now(), clock });
    for (const m of ["ana", "ben", "cy"]) members.push(await emulatorMember(stripeSide, m, clock.now()));
    events = new PlatformEvents(stripeSide.stripe);
    await events.skipExisting();
    ports = {
      gateway: stripeSide.gateway,
      notifier: new RecordingNotifier(),
      desk: new PrismaSupportDesk(db.prisma, clock),
      timers: new PgBossTimerScheduler(boss),
      ledger: new PrismaLedgerStore(db.prisma),
    };
    await workTimers(boss, deps, ports.desk, log, { metrics });
  });
  afterAll(async () => {
    await boss.stop({ graceful: false, wait: true });
    await stripeSide?.emulator.stop();
  });

  it("opens due rounds once, even with two openers racing", async () => {
    const group = anActiveGroup({ id: "grp_due", startsAt: clock.now() - 1_000 });
    (
      await deps.uow.commit({
        people: members.map((state) => ({ state, expectedVersion: undefined })),
        groups: [{ state: group, expectedVersion: undefined }],
        rounds: [],
        outbox: [],
        audit: [],
      })
    )._unsafeUnwrap();
    const runs = await Promise.all([openDueRounds(deps, log), openDueRounds(deps, log)]);
    expect(runs.reduce((sum, run) => sum + run.opened, 0)).toBe(1);
    expect((await openDueRounds(deps, log)).opened).toBe(0);
    const rounds = (await store.listRoundsOfGroup("grp_due"))._unsafeUnwrap();
    expect(rounds.map((r) => r.status)).toEqual(["collecting"]);
    // The audit log says who opened it: the scheduler, not a member.
    const opened = await db.prisma.auditLogEntry.findFirstOrThrow({
      where: { aggregateId: rounds[0]?.id ?? "", action: "open" },
    });
    expect(opened.actor).toBe("scheduler");
  });

  it("the dispatcher loop submits debits and schedules the deadline as a pg-boss job; settled debits pay the pot out", async () => {
    const [round] = (await store.listRoundsOfGroup("grp_due"))._unsafeUnwrap();
    if (!round) throw new Error("no round");
    const { stripe, emulator, gateway } = stripeSide;
    const debits = async () =>
      (await stripe.paymentIntents.list({ limit: 100 })).data.filter(
        (pi) => pi.metadata?.round_id === round.id,
      );
    const loop = startOutboxDispatcher(deps, ports, store, { workerId: "w1", intervalMs: 50, log, metrics });
    try {
      await expect.poll(async () => (await debits()).length, { timeout: 10_000 }).toBe(3);
      await expect
        .poll(() => boss.getQueueSize("round-timer", { before: "completed" }), { timeout: 10_000 })
        .toBeGreaterThan(0);
      // Each member's BECS debit of the contribution is in flight at the bank.
      expect((await debits()).map((pi) => [pi.status, pi.amount, pi.currency])).toEqual(
        Array.from({ length: 3 }, () => ["processing", 100_00, "aud"]),
      );
      // The bank settles the debits; Stripe's webhooks report them.
      clock.advance(3 * DAY_MS);
      await emulator.control.advanceClock((3 * DAY_MS) / 1000 + 1);
      await expect
        .poll(
          async () => {
            await events.deliver({ deps, gateway });
            return (await store.getRound(round.id))._unsafeUnwrap()?.status;
          },
          { timeout: 15_000 },
        )
        .toBe("paid_out");
    } finally {
      await loop.stop();
    }
    expect((await debits()).map((pi) => pi.status)).toEqual(["succeeded", "succeeded", "succeeded"]);
    // The pot went to ana's connected account, one transfer per contribution.
    const ana = members[0]?.payout?.connectedAccountId ?? "";
    const transfers = (await stripe.transfers.list({ limit: 100 })).data;
    expect(transfers).toHaveLength(3);
    expect(transfers.map((t) => t.destination)).toEqual([ana, ana, ana]);
    expect((await store.getGroup("grp_due"))._unsafeUnwrap()?.rotation.receivedMemberIds).toEqual(["ana"]);
    // Every effect the dispatcher ran is counted by kind and outcome.
    const scraped = await scrape();
    const settled = (kind: string) =>
      scraped.value("susu_outbox_effects_settled_total", { kind, outcome: "completed" });
    expect(settled("collect_contribution")).toBe(3);
    expect(settled("transfer")).toBe(3);
    expect(scraped.value("susu_outbox_effects_settled_total", { kind: "transfer", outcome: "parked" })).toBe(
      0,
    );
    // Nothing for a person to look at: no ticket in support_tickets.
    expect(await db.prisma.supportTicket.count()).toBe(0);
    expect(
      scraped.value("susu_scheduler_job_runs_total", { task: "outbox_pass", outcome: "worked" }),
    ).toBeGreaterThan(0);
  });

  it("a due round timer job reaches its round (a missed deadline starts the refunds)", async () => {
    const group = anActiveGroup({ id: "grp_late", startsAt: clock.now() - 1_000, memberIds: ["dan", "eve"] });
    (
      await deps.uow.commit({
        people: newPeople(group),
        groups: [{ state: group, expectedVersion: undefined }],
        rounds: [],
        outbox: [],
        audit: [],
      })
    )._unsafeUnwrap();
    const opened = (await useCases.startRound(deps, "grp_late", "scheduler"))._unsafeUnwrap().state;
    // The debits were asked for but never dispatched; the deadline fires now through pg-boss.
    (
      await ports.timers.schedule({
        id: `${opened.id}:timer:test_deadline`,
        aggregate: "round",
        aggregateId: opened.id,
        at: Date.now() - 1,
        timer: { kind: "collection_deadline" },
      })
    )._unsafeUnwrap();
    await expect
      .poll(async () => (await store.getRound(opened.id))._unsafeUnwrap()?.status, { timeout: 15_000 })
      .toBe("refunding");
    // The round waits for the outcome of the debits already asked for (they may still be
    // created by the outbox) before it can cancel: nothing is refunded that was not paid.
    const stored = (await store.getRound(opened.id))._unsafeUnwrap();
    expect(stored?.contributions.map((c) => c.status)).toEqual(["awaiting_debit", "awaiting_debit"]);
    // The timer is counted as a job by its kind, once applied.
    await expect
      .poll(
        async () =>
          (await scrape()).value("susu_scheduler_job_runs_total", {
            task: "round_timer.collection_deadline",
            outcome: "applied",
          }),
        { timeout: 5_000 },
      )
      .toBeGreaterThan(0);
  });

  it("a timer job an older release sent ({ timerId, roundId, timer }) still reaches its round", async () => {
    const group = anActiveGroup({
      id: "grp_old_job",
      startsAt: clock.now() - 1_000,
      memberIds: ["fay", "gus"],
    });
    (
      await deps.uow.commit({
        people: newPeople(group),
        groups: [{ state: group, expectedVersion: undefined }],
        rounds: [],
        outbox: [],
        audit: [],
      })
    )._unsafeUnwrap();
    const opened = (await useCases.startRound(deps, "grp_old_job", "scheduler"))._unsafeUnwrap().state;
    const timerId = `${opened.id}:timer:old_deadline`;
    await boss.send(
      TIMER_QUEUE,
      { timerId, roundId: opened.id, timer: { kind: "collection_deadline" } },
      { id: deterministicUuid(timerId) },
    );
    await expect
      .poll(async () => (await store.getRound(opened.id))._unsafeUnwrap()?.status, { timeout: 15_000 })
      .toBe("refunding");
  });
});
