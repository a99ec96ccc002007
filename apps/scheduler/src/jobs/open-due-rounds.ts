import type { PrismaClient } from "@susu/adapters";
import { type DueGroupCursor, dueGroupCursor, type UseCaseDeps, useCases } from "@susu/domain";
import type PgBoss from "pg-boss";
import type { Logger } from "../logger.js";
import { type SchedulerMetrics, timedJob } from "../metrics.js";

/** The pg-boss queue (and cron) that opens rounds that are due. */
export const OPEN_DUE_ROUNDS_QUEUE = "open-due-rounds";

/** Due groups one read returns. */
export const DUE_ROUNDS_PAGE = 100;
/**
 * Most due groups one run looks at (each is one `startRound`: a few reads, and a write when
 * it opens or its members are told). A run that reaches it stops there and the next run
 * resumes after the last group it saw ({@link DueRoundsResume}), so every due group is still
 * looked at within a few runs, however many wait for their members.
 */
export const DUE_ROUNDS_PER_RUN = 5_000;

/**
 * Where the next run starts: after the last group a run that ran out of its budget saw, or
 * from the most overdue group (undefined). Read when a run starts, written when it ends.
 */
export interface DueRoundsResume {
  load(): Promise<DueGroupCursor | undefined>;
  save(after: DueGroupCursor | undefined): Promise<void>;
}

/** The job's row in `scheduler_cursors`. */
export const DUE_ROUNDS_CURSOR = "open_due_rounds";

/**
 * The resume point kept in PostgreSQL (`scheduler_cursors`, row {@link DUE_ROUNDS_CURSOR}):
 * shared by every scheduler and kept across restarts, so the run after one that stopped at
 * its budget goes on after it whichever scheduler runs it. It used to be kept in each
 * process: with several schedulers (pg-boss hands each cron job to any of them) or after a
 * restart, runs started over from the most overdue groups, and with more due groups waiting
 * for their members than a run's budget, the groups due after them could wait for ever.
 * Writes only when the point changes (none a minute while every run reaches the end).
 */
export function dueRoundsResumeIn(prisma: PrismaClient): DueRoundsResume {
  let known: "unknown" | "none" | "some" = "unknown";
  return {
    async load() {
      const row = await prisma.schedulerCursor.findUnique({ where: { name: DUE_ROUNDS_CURSOR } });
      const c = row?.cursor as { nextRoundAt?: unknown; groupId?: unknown } | null | undefined;
      // A row this code did not write (another release's shape) is as good as none.
      const after =
        typeof c?.nextRoundAt === "number" && typeof c.groupId === "string"
          ? { nextRoundAt: c.nextRoundAt, groupId: c.groupId }
          : undefined;
      known = row === null ? "none" : "some";
      return after;
    },
    async save(after) {
      if (after === undefined) {
        if (known !== "none") await prisma.schedulerCursor.deleteMany({ where: { name: DUE_ROUNDS_CURSOR } });
        known = "none";
        return;
      }
      const cursor = { nextRoundAt: after.nextRoundAt, groupId: after.groupId };
      await prisma.schedulerCursor.upsert({
        where: { name: DUE_ROUNDS_CURSOR },
        create: { name: DUE_ROUNDS_CURSOR, cursor, updatedAt: new Date() },
        update: { cursor, updatedAt: new Date() },
      });
      known = "some";
    },
  };
}

/** What one run did. */
export interface DueRoundsRun {
  /** Rounds it opened. */
  readonly opened: number;
  /** Due groups whose round waits for members not ready (they and the admins were told). */
  readonly waiting: number;
  /** Due groups it could not open for another reason (logged as errors). */
  readonly failed: number;
  /** Due groups it looked at. */
  readonly seen: number;
  /** Whether it reached the last due group (false: it stopped at its budget; the next run resumes). */
  readonly complete: boolean;
}

/** Options of {@link openDueRounds}. */
export interface OpenDueRoundsOptions {
  /** Most due groups looked at in this run (default {@link DUE_ROUNDS_PER_RUN}). */
  readonly maxGroups?: number;
  /** Where to start, saved when the run ends (default: from the most overdue, forgotten after). */
  readonly resume?: DueRoundsResume;
}

// Refusals that only mean someone else got there first, or the group changed since it was read.
const SKIPPED = new Set(["round_in_progress", "no_round_due", "version_conflict", "group_not_active"]);

/**
 * Opens every round that is due. Reads the due groups a page at a time, most overdue first,
 * each page after the last group of the one before (a keyset cursor), until a short page or
 * the run's budget: a group whose round cannot open (its members are not ready) stays due
 * but never hides the groups due after it. Safe to run from several schedulers at once:
 * opening a round records it on the group with a version check, so a second opener gets
 * `round_in_progress` (or loses the race) and moves on; the notices to a waiting round's
 * members have stable ids, so two schedulers queue them once.
 */
export async function openDueRounds(
  deps: UseCaseDeps,
  log: Logger,
  pageSize = DUE_ROUNDS_PAGE,
  options: OpenDueRoundsOptions = {},
): Promise<DueRoundsRun> {
  const maxGroups = options.maxGroups ?? DUE_ROUNDS_PER_RUN;
  const now = deps.clock.now();
  let after = await options.resume?.load();
  let opened = 0;
  let waiting = 0;
  let failed = 0;
  let seen = 0;
  let complete = false;
  while (seen < maxGroups) {
    const limit = Math.min(pageSize, maxGroups - seen);
    const due = await deps.groups.findGroupsDueForRound(now, limit, after);
    if (due.isErr()) throw new Error(`finding due groups failed: ${due.error.code}`);
    for (const group of due.value) {
      const started = await useCases.startRound(deps, group.id, "scheduler");
      if (started.isOk()) {
        opened += 1;
        log.info({ groupId: group.id, roundId: started.value.state.id }, "round opened");
      } else if (started.error.type === "members_not_ready") {
        // The round waits for its members; startRound told them and the admins what is missing.
        waiting += 1;
        log.warn(
          { groupId: group.id, code: started.error.code, notReady: started.error.notReady },
          "round due, but members are not ready (told)",
        );
      } else if (!SKIPPED.has(started.error.code)) {
        failed += 1;
        log.error(
          { groupId: group.id, code: started.error.code, detail: started.error.message },
          "could not open round",
        );
      }
    }
    seen += due.value.length;
    const last = due.value.at(-1);
    if (due.value.length < limit || last === undefined) {
      complete = true;
      break;
    }
    after = dueGroupCursor(last);
  }
  await options.resume?.save(complete ? undefined : after);
  if (!complete)
    log.warn(
      { seen, resumeAfter: after },
      "due-round run stopped at its budget; the next run resumes after it",
    );
  return { opened, waiting, failed, seen, complete };
}

/**
 * The outcome label of a run: `opened` when it opened any round, else `waiting` (due rounds
 * wait for their members) or `none_due`. Groups that could not open for another reason are
 * counted in `susu_due_rounds_total{outcome="failed"}` (alert `SusuDueRoundsFailing`).
 */
export function dueRoundsOutcome(run: DueRoundsRun): string {
  if (run.opened > 0) return "opened";
  if (run.waiting > 0) return "waiting";
  return "none_due";
}

/**
 * Schedules the cron and works its queue; each run resumes where the last one stopped, from
 * `options.resume` (in production {@link dueRoundsResumeIn}, shared by every scheduler).
 */
export async function scheduleOpenDueRounds(
  boss: PgBoss,
  deps: UseCaseDeps,
  log: Logger,
  cron: string,
  metrics: SchedulerMetrics | undefined,
  options: { readonly resume: DueRoundsResume; readonly pageSize?: number; readonly maxGroups?: number },
): Promise<void> {
  await boss.createQueue(OPEN_DUE_ROUNDS_QUEUE, { name: OPEN_DUE_ROUNDS_QUEUE, policy: "singleton" });
  await boss.schedule(OPEN_DUE_ROUNDS_QUEUE, cron);
  const { resume } = options;
  await boss.work(OPEN_DUE_ROUNDS_QUEUE, async () => {
    // Counted as job `open_due_rounds` (`dueRoundsOutcome`, `crashed` when it throws); the
    // groups by outcome in `susu_due_rounds_total`.
    await timedJob(
      metrics,
      "open_due_rounds",
      async () => {
        const run = await openDueRounds(deps, log, options.pageSize ?? DUE_ROUNDS_PAGE, {
          resume,
          ...(options.maxGroups !== undefined ? { maxGroups: options.maxGroups } : {}),
        });
        metrics?.dueRounds(run);
        return run;
      },
      dueRoundsOutcome,
    );
  });
}
