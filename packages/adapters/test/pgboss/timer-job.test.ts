import { describe, expect, it } from "vitest";
import { firedTimerOf, parseTimerJob, timerJobData, timerJobOf } from "../../src/pgboss/timer-job.js";

describe("timer jobs", () => {
  it("keep the deadline extension a deadline or grace timer was armed at (a stale one is told apart by it)", () => {
    for (const kind of ["collection_deadline", "grace_end"] as const) {
      const job = {
        timerId: `r1:timer:${kind}:v3`,
        aggregate: "round" as const,
        aggregateId: "r1",
        timer: { kind, extension: 2 },
      };
      expect(parseTimerJob(job)).toEqual(job);
      expect(parseTimerJob({ ...job, timer: { kind } })).toEqual({ ...job, timer: { kind } });
      expect(parseTimerJob({ ...job, timer: { kind, extension: -1 } })).toBeUndefined();
    }
  });

  it("carry the scheduled timer without its time, and give it back as the fired timer", () => {
    const timer = {
      id: "r1:timer:retry_debit:ben:2",
      aggregate: "round" as const,
      aggregateId: "r1",
      at: 1_000,
      timer: { kind: "retry_debit" as const, memberId: "ben", attempt: 2 },
    };
    const job = timerJobOf(timer);
    expect(job).toEqual({
      timerId: timer.id,
      aggregate: "round",
      aggregateId: "r1",
      timer: timer.timer,
    });
    expect(firedTimerOf({ ...job, attempts: 3 })).toEqual({
      id: timer.id,
      aggregate: "round",
      aggregateId: "r1",
      timer: timer.timer,
    });
    // Stored with the field the release before reads; read back without it.
    expect(timerJobData(job)).toEqual({ ...job, roundId: "r1" });
    expect(parseTimerJob(timerJobData(job))).toEqual(job);
  });

  it("carry a membership refund's deadline, and refuse one without its invoice", () => {
    const timer = {
      id: "mbr_1:invoice:in_1:refund:overdue",
      aggregate: "subscription" as const,
      aggregateId: "mbr_1",
      at: 1_000,
      timer: { kind: "refund_overdue" as const, invoiceId: "in_1" },
    };
    const job = timerJobOf(timer);
    expect(parseTimerJob(timerJobData(job))).toEqual(job);
    expect(firedTimerOf(job)).toEqual({
      id: timer.id,
      aggregate: "subscription",
      aggregateId: "mbr_1",
      timer: timer.timer,
    });
    expect(parseTimerJob({ ...job, timer: { kind: "refund_overdue" } })).toBeUndefined();
  });

  it("read the shape before aggregate references as a round's timer", () => {
    expect(
      parseTimerJob({
        timerId: "r1:timer:payout_due:v4",
        roundId: "r1",
        timer: { kind: "payout_due" },
        attempts: 2,
      }),
    ).toEqual({
      timerId: "r1:timer:payout_due:v4",
      aggregate: "round",
      aggregateId: "r1",
      timer: { kind: "payout_due" },
      attempts: 2,
    });
  });
});
