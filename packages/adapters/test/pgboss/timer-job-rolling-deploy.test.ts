// Timer jobs across a rolling deploy: a process of another release may fetch a job this one
// stored, and this one a job a newer release stored. A timer must never be applied as another
// one: a release that cannot tell what a job says refuses it (the job fails and pg-boss runs it
// again, on a process that can), and what it does not know of a job it can read is kept in the
// job it sends for a retry.

import { describe, expect, it } from "vitest";
import { z } from "zod";
import { parseTimerJob, timerJobData, timerJobOf } from "../../src/pgboss/timer-job.js";

/**
 * How schedulers of the release before refund look-ups (find_refund) read a held payment's or a
 * marketplace charge's `refund_overdue` timer: its refund and attempt, any other field dropped
 * (zod's default), so `lookup` was lost. Their parser refused a kind it did not know.
 */
const beforeLookups = z.object({
  timerId: z.string().min(1),
  aggregate: z.enum(["held_payment", "marketplace_charge"]),
  aggregateId: z.string().min(1),
  timer: z.discriminatedUnion("kind", [
    z.object({
      kind: z.literal("refund_overdue"),
      refund: z.number().int().positive(),
      attempt: z.number().int().positive(),
    }),
  ]),
  attempts: z.number().int().nonnegative().optional(),
});

const stored = (data: unknown): unknown => JSON.parse(JSON.stringify(data));

describe("timer jobs in a rolling deploy", () => {
  for (const aggregate of ["held_payment", "marketplace_charge"] as const) {
    const scheduled = (lookup?: number) => ({
      id: `x_1:timer:refund_overdue:1:2${lookup === undefined ? "" : `:lookup:${lookup}`}`,
      aggregate,
      aggregateId: "x_1",
      at: 5,
      timer: {
        kind: "refund_overdue" as const,
        refund: 1,
        attempt: 2,
        ...(lookup === undefined ? {} : { lookup }),
      },
    });

    it(`${aggregate}: a look-up after the first is refused by a release before look-ups, not read as the first`, () => {
      const later = stored(timerJobData(timerJobOf(scheduled(3))));
      expect(beforeLookups.safeParse(later).success).toBe(false);
      // This release reads it back as it was scheduled.
      expect(parseTimerJob(later)).toEqual(timerJobOf(scheduled(3)));
      // The first (no look-up number) is the timer that release knew.
      const first = stored(timerJobData(timerJobOf(scheduled())));
      expect(beforeLookups.safeParse(first).success).toBe(true);
      expect(parseTimerJob(first)).toEqual(timerJobOf(scheduled()));
    });

    it(`${aggregate}: a look-up stored as the release before this one stored it is still read with its number`, () => {
      const job = timerJobOf(scheduled(4));
      expect(parseTimerJob(stored({ ...job, dueAt: 5 }))).toEqual(job);
    });
  }

  it("a field of the timer this release does not know makes the job unreadable (a newer release's), never a timer without it", () => {
    const job = {
      timerId: "hp_1:timer:refund_overdue:1:2",
      aggregate: "held_payment",
      aggregateId: "hp_1",
      timer: { kind: "refund_overdue", refund: 1, attempt: 2, lookup: 2, since: 7 },
    };
    expect(parseTimerJob(job)).toBeUndefined();
    expect(
      parseTimerJob({
        timerId: "r1:timer:retry_debit:ben:2",
        aggregate: "round",
        aggregateId: "r1",
        timer: { kind: "retry_debit", memberId: "ben", attempt: 2, mandate: "new" },
      }),
    ).toBeUndefined();
  });

  it("a field of the job this release does not know is kept in the job a retry sends", () => {
    const job = {
      timerId: "r1:timer:retry_debit:ben:2",
      aggregate: "round" as const,
      aggregateId: "r1",
      timer: { kind: "retry_debit" as const, memberId: "ben", attempt: 2 },
      attempts: 1,
    };
    const parsed = parseTimerJob({ ...job, roundId: "r1", dueAt: 5, traceId: "t-1" });
    expect(parsed).toMatchObject(job);
    if (parsed === undefined) throw new Error("unreadable");
    // What the retry sends (PgBossTimerScheduler.scheduleRetry): the job with its new count.
    expect(timerJobData({ ...parsed, attempts: 2 })).toMatchObject({ ...job, attempts: 2, traceId: "t-1" });
  });
});
